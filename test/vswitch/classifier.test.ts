import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Classifier, FlowCache, linearLookup, type ClsRule } from '../../src/vswitch/classifier.js';
import { KEY_WORDS } from '../../src/vswitch/fields.js';

interface R extends ClsRule {
  id: number;
}

/** A small universe so random keys actually hit random rules: 4 words, values 0..3. */
const WORDS = [0, 2, 5, 13];

const ruleArb = fc.record({
  priority: fc.integer({ min: 0, max: 5 }),
  fields: fc.array(fc.tuple(fc.constantFrom(...WORDS), fc.integer({ min: 0, max: 3 }), fc.constantFrom(0, 1, 2, 3)), { maxLength: 3 }),
});
const keyArb = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: WORDS.length, maxLength: WORDS.length });

function makeRule(id: number, r: { priority: number; fields: [number, number, number][] }): R {
  const value = new Int32Array(KEY_WORDS);
  const mask = new Int32Array(KEY_WORDS);
  for (const [w, v, m] of r.fields) {
    mask[w] = m;
    value[w] = v & m;
  }
  return { id, priority: r.priority, seq: 0, value, mask };
}

function makeKey(k: number[]): Int32Array {
  const key = new Int32Array(KEY_WORDS);
  WORDS.forEach((w, i) => (key[w] = k[i]!));
  return key;
}

describe('tuple space search classifier', () => {
  it('returns what a linear scan returns, on random rule sets, removals and packets (property)', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 10 }), fc.array(keyArb, { minLength: 1, maxLength: 30 }), (rs, removals, keys) => {
        const cls = new Classifier<R>();
        const rules = rs.map((r, i) => makeRule(i, r));
        for (const r of rules) cls.insert(r);
        const live = [...rules];
        for (const n of removals) {
          if (live.length === 0) break;
          const victim = live.splice(n % live.length, 1)[0]!;
          expect(cls.remove(victim)).toBe(true);
        }
        expect(cls.size).toBe(live.length);
        for (const k of keys) {
          const key = makeKey(k);
          expect(cls.lookup(key)?.id ?? null).toBe(linearLookup(live, key)?.id ?? null);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps subtables ordered by their best priority and drops empty ones', () => {
    const cls = new Classifier<R>();
    const hi = makeRule(1, { priority: 100, fields: [[0, 1, 3]] });
    cls.insert(hi);
    for (let i = 0; i < 10; i++) cls.insert(makeRule(10 + i, { priority: 5, fields: [[2, i & 3, 3], [5, 1, 1 + (i % 3)]] }));
    expect(cls.subtableCount).toBe(4);
    expect(cls.lookup(makeKey([1, 0, 0, 0]))?.id).toBe(1);
    cls.remove(hi);
    expect(cls.subtableCount).toBe(3);
    expect(cls.lookup(makeKey([1, 0, 0, 0]))?.id).not.toBe(1);
  });

  it('keeps the earlier rule on a priority tie, like the linear reference', () => {
    const cls = new Classifier<R>();
    const a = makeRule(1, { priority: 7, fields: [[0, 1, 3]] });
    const b = makeRule(2, { priority: 7, fields: [[2, 1, 3]] });
    cls.insert(a);
    cls.insert(b);
    expect(cls.lookup(makeKey([1, 1, 0, 0]))?.id).toBe(1);
  });
});

describe('exact-match flow cache', () => {
  it('hits on the same key, misses on another, and invalidates by generation', () => {
    const c = new FlowCache<{ v: number }>(4);
    const k1 = makeKey([1, 2, 3, 0]);
    const k2 = makeKey([1, 2, 3, 1]);
    c.set(k1, { v: 1 });
    expect(c.get(k1)?.v).toBe(1);
    expect(c.get(k2)).toBeUndefined();
    c.invalidate();
    expect(c.get(k1)).toBeUndefined();
    expect(c.hits).toBe(1);
    expect(c.misses).toBe(2);
  });

  it('is bounded (LRU)', () => {
    const c = new FlowCache<{ v: number }>(2);
    for (let i = 0; i < 5; i++) c.set(makeKey([i, 0, 0, 0]), { v: i });
    expect(c.size).toBe(2);
    expect(c.get(makeKey([0, 0, 0, 0]))).toBeUndefined();
    expect(c.get(makeKey([4, 0, 0, 0]))?.v).toBe(4);
  });
});
