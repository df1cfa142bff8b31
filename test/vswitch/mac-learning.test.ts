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
    t.learn(2, 0, 9, 1); // port 9: three entries, 2 is its LRU...
    t.learn(3, 0, 9, 2);
    t.learn(4, 0, 9, 3);
    t.learn(2, 0, 9, 4); // ...until refreshed: now 3 is
    t.learn(5, 0, 7, 5); // full: evict from port 9
    expect(t.lookup(3, 0, 6)).toBe(-1);
    expect(t.lookup(1, 0, 6)).toBe(7);
    expect(t.lookup(2, 0, 6)).toBe(9);
    expect(t.evictions).toBe(1);
    expect(t.size).toBe(4);
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
