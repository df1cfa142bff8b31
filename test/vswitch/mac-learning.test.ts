import { describe, expect, it } from 'vitest';
import { MacTable } from '../../src/vswitch/mac-learning.js';

const S = 1_000_000_000;

describe('MAC learning table', () => {
  it('learns per (MAC, VLAN), moves, and ages out after the aging time since the last learn', () => {
    const t = new MacTable({ agingNs: 300 * S, maxEntries: 10 });
    expect(t.learn(0xa, 10, 1, 0).result).toBe('new');
    expect(t.lookup(0xa, 10, 0)).toBe(1);
    expect(t.lookup(0xa, 20, 0)).toBe(-1);
    expect(t.learn(0xa, 10, 2, 100 * S)).toEqual({ result: 'moved', from: 1 });
    expect(t.learn(0xa, 10, 2, 200 * S).result).toBe('refreshed');
    expect(t.lookup(0xa, 10, 499 * S)).toBe(2);
    expect(t.lookup(0xa, 10, 500 * S)).toBe(-1);
    expect(t.size).toBe(0);
  });

  it('evicts the least recently used entry of the port with the most entries when full', () => {
    const t = new MacTable({ agingNs: 300 * S, maxEntries: 4 });
    t.learn(1, 0, 7, 0); // port 7: one entry
    t.learn(2, 0, 9, 1 * S); // port 9: three entries, 2 is its LRU...
    t.learn(3, 0, 9, 2 * S);
    t.learn(4, 0, 9, 3 * S);
    t.learn(2, 0, 9, 4 * S); // ...until refreshed: now 3 is
    t.learn(5, 0, 7, 5 * S); // full: evict from port 9
    expect(t.lookup(3, 0, 6 * S)).toBe(-1);
    expect(t.lookup(1, 0, 6 * S)).toBe(7);
    expect(t.lookup(2, 0, 6 * S)).toBe(9);
    expect(t.evictions).toBe(1);
    expect(t.size).toBe(4);
  });

  it('moves an entry seen again on the same port in the LRU only once it is a whole second old (OVS)', () => {
    const t = new MacTable({ agingNs: 300 * S, maxEntries: 2 });
    t.learn(1, 0, 1, 0);
    t.learn(2, 0, 1, 0);
    t.learn(1, 0, 1, 999_000_000); // same second: not refreshed, 1 stays the LRU
    t.learn(3, 0, 2, 999_000_001);
    expect(t.lookup(1, 0, S)).toBe(-1);
    expect(t.lookup(2, 0, S)).toBe(1);
    t.learn(2, 0, 1, S + 5); // expiry always follows the last frame (ns precision)
    expect(t.lookup(2, 0, 301 * S + 4)).toBe(1);
    expect(t.lookup(2, 0, 301 * S + 5)).toBe(-1);
  });

  it('bumps its generation only on changes that can alter a forwarding decision', () => {
    const t = new MacTable({ agingNs: 300 * S, maxEntries: 4 });
    t.learn(1, 0, 1, 0);
    const g = t.generation;
    t.learn(1, 0, 1, 1);
    expect(t.generation).toBe(g);
    t.learn(1, 0, 2, 2);
    expect(t.generation).toBe(g + 1);
  });
});
