/**
 * The exact-match cache's own LRU (flow-cache.ts) must behave exactly as the `lru-cache` map it
 * replaced: same answers, same hit/miss counts, same size, same entries evicted, for any sequence
 * of sets, gets and invalidations. The model below is the previous implementation, kept here as
 * the oracle.
 */
import fc from 'fast-check';
import { LRUCache } from 'lru-cache';
import { describe, expect, it } from 'vitest';
import { CACHE_WORDS, FlowCache, hashKey } from '../../src/vswitch/flow-cache.js';
import { KEY_WORDS } from '../../src/vswitch/fields.js';

/** flow-cache.ts before it had its own LRU: an lru-cache keyed by the hash. */
class LruModel<V extends object> {
  private lru: LRUCache<number, { key: Int32Array; gen: number; value: V }>;
  generation = 0;
  hits = 0;
  misses = 0;
  constructor(max: number) {
    this.lru = new LRUCache({ max });
  }
  get(key: Int32Array, hash: number): V | undefined {
    const e = this.lru.get(hash);
    if (e !== undefined && e.gen === this.generation && e.key.every((w, i) => w === key[i])) {
      this.hits++;
      return e.value;
    }
    this.misses++;
    return undefined;
  }
  set(key: Int32Array, value: V, hash: number): void {
    this.lru.set(hash, { key: key.slice(0, CACHE_WORDS), gen: this.generation, value });
  }
  clear(): void {
    this.lru.clear();
    this.generation++;
  }
  get size(): number {
    return this.lru.size;
  }
}

type Op = { k: 'get' | 'set'; key: number } | { k: 'invalidate' } | { k: 'clear' };

function keyOf(n: number): Int32Array {
  const k = new Int32Array(KEY_WORDS);
  k[0] = n & 3;
  k[7] = n >> 2;
  k[CACHE_WORDS - 1] = n & 1; // the last cached word is compared too
  return k;
}

/** Keys n and n + 8 share a hash: a collision is verified against the stored key, never trusted. */
function hashOf(n: number): number {
  return n & 7;
}

describe('flow cache LRU', () => {
  it('answers, counts, sizes and evicts exactly as lru-cache did', () => {
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 8, arbitrary: fc.record({ k: fc.constantFrom('get' as const, 'set' as const), key: fc.integer({ min: 0, max: 11 }) }) },
      { weight: 1, arbitrary: fc.constant({ k: 'invalidate' as const }) },
      { weight: 1, arbitrary: fc.constant({ k: 'clear' as const }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(opArb, { minLength: 20, maxLength: 200, size: "max" }), (max, ops) => {
        const c = new FlowCache<{ v: number }>(max);
        const m = new LruModel<{ v: number }>(max);
        ops.forEach((op, i) => {
          if (op.k === 'invalidate') {
            c.invalidate();
            m.generation++;
          } else if (op.k === 'clear') {
            c.clear();
            m.clear();
          } else if (op.k === 'set') {
            const v = { v: i };
            c.set(keyOf(op.key), v, hashOf(op.key));
            m.set(keyOf(op.key), v, hashOf(op.key));
          } else {
            expect(c.get(keyOf(op.key), hashOf(op.key))).toBe(m.get(keyOf(op.key), hashOf(op.key)));
          }
          expect(c.size).toBe(m.size);
        });
        expect([c.hits, c.misses, c.generation]).toEqual([m.hits, m.misses, m.generation]);
      }),
      { numRuns: 300 },
    );
  });

  it('does not keep the caller key buffer (a later write to it changes nothing)', () => {
    const c = new FlowCache<{ v: number }>(2);
    const k = keyOf(5);
    c.set(k, { v: 1 });
    const h = hashKey(k);
    k[0] = 99;
    expect(c.get(keyOf(5), h)?.v).toBe(1);
  });

  it('refuses a size below one', () => {
    expect(() => new FlowCache(0)).toThrow(/flow cache size 0/);
  });
});
