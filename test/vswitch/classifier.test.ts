import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Classifier, FlowCache, linearLookup, type ClsRule } from '../../src/vswitch/classifier.js';
import { KEY_WORDS } from '../../src/vswitch/fields.js';
import { TERM_MULT, termHash, termSeed } from '../../src/vswitch/subtable.js';

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

describe('tuple space search classifier on large tables', () => {
  /** Two exact-match words (in_port, nw_src) plus an optional nw_dst/16; 64 values each. */
  const bigRuleArb = fc.record({
    priority: fc.integer({ min: 0, max: 3 }),
    a: fc.integer({ min: 0, max: 63 }),
    b: fc.integer({ min: 0, max: 63 }),
    shape: fc.integer({ min: 0, max: 2 }),
  });
  function bigRule(id: number, r: { priority: number; a: number; b: number; shape: number }): R {
    const value = new Int32Array(KEY_WORDS);
    const mask = new Int32Array(KEY_WORDS);
    mask[0] = -1;
    value[0] = r.a;
    if (r.shape >= 1) {
      mask[7] = -1;
      value[7] = r.b << 20;
    }
    if (r.shape === 2) {
      mask[8] = 0xffff0000 | 0;
      value[8] = (r.a ^ r.b) << 16;
    }
    return { id, priority: r.priority, seq: 0, value, mask };
  }

  it('returns what a linear scan returns while tables grow and most rules are removed (property)', () => {
    fc.assert(
      fc.property(fc.array(bigRuleArb, { minLength: 50, maxLength: 400 }), fc.array(fc.nat(), { maxLength: 300 }), (rs, removals) => {
        const cls = new Classifier<R>();
        const rules = rs.map((r, i) => bigRule(i, r));
        for (const r of rules) cls.insert(r);
        const live = [...rules];
        const check = (): void => {
          for (const r of rules.slice(0, 60)) {
            const key = Int32Array.from(r.value);
            key[8] = key[8]! | 0x1234; // inside the /16
            expect(cls.lookup(key)?.id ?? null).toBe(linearLookup(live, key)?.id ?? null);
          }
        };
        check();
        for (const n of removals) {
          if (live.length === 0) break;
          const victim = live.splice(n % live.length, 1)[0]!;
          expect(cls.remove(victim)).toBe(true);
          expect(cls.remove(victim)).toBe(false);
        }
        expect(cls.size).toBe(live.length);
        check();
      }),
      { numRuns: 60 },
    );
  });

  it('tells apart rules whose masked values have the same 32-bit hash', () => {
    // termHash(v, seed) = (v ^ seed) · TERM_MULT mod 2^32, so for any (a, b) and a' there is a
    // b' with h(a) ^ h(b) === h(a') ^ h(b'): solve with the multiplier's inverse mod 2^32.
    let inv = TERM_MULT;
    for (let i = 0; i < 5; i++) inv = Math.imul(inv, 2 - Math.imul(TERM_MULT, inv));
    expect(Math.imul(inv, TERM_MULT)).toBe(1);
    const s0 = termSeed(0, -1);
    const s7 = termSeed(7, -1);
    const mk = (id: number, priority: number, a: number, b: number): R => {
      const value = new Int32Array(KEY_WORDS);
      const mask = new Int32Array(KEY_WORDS);
      mask[0] = -1;
      mask[7] = -1;
      value[0] = a;
      value[7] = b;
      return { id, priority, seq: 0, value, mask };
    };
    const h = termHash(1, s0) ^ termHash(2, s7);
    const colliding: R[] = [mk(0, 5, 1, 2)];
    for (let a = 3; a < 40; a++) {
      const b = Math.imul(h ^ termHash(a, s0), inv) ^ s7;
      expect(termHash(a, s0) ^ termHash(b, s7)).toBe(h);
      colliding.push(mk(a, a % 7, a, b));
    }
    // A key that collides with the only entry must not match it (the winner is verified).
    const one = new Classifier<R>();
    one.insert(colliding[0]!);
    const catchAll: R = { id: 99, priority: 0, seq: 0, value: new Int32Array(KEY_WORDS), mask: new Int32Array(KEY_WORDS) };
    one.insert(catchAll);
    expect(one.lookup(Int32Array.from(colliding[5]!.value))?.id).toBe(99);
    expect(one.lookup(Int32Array.from(colliding[0]!.value))?.id).toBe(0);

    const cls = new Classifier<R>();
    for (const r of colliding) cls.insert(r);
    const live = [...colliding];
    const probe = (): void => {
      for (const r of colliding) {
        expect(cls.lookup(Int32Array.from(r.value))?.id ?? null).toBe(linearLookup(live, r.value)?.id ?? null);
      }
    };
    probe();
    for (let i = 0; i < colliding.length; i += 3) {
      expect(cls.remove(colliding[i]!)).toBe(true);
      live.splice(live.indexOf(colliding[i]!), 1);
      probe();
    }
  });
});
