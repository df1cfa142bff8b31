/**
 * The out-of-order queue reports SACK blocks as RFC 2018 §4 asks: disjoint blocks of what arrived
 * above rcv_nxt, the most recently changed first. Checked against a small model of intervals with
 * their last-touched time (cache on == cache off: the selection that replaced a per-ACK sort must
 * give the sort's order).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reassembly } from '../../src/tcp/buffers.js';

interface ModelBlock {
  start: number;
  end: number;
  t: number;
}

function modelInsert(blocks: ModelBlock[], off: number, end: number, t: number): ModelBlock[] {
  const inside = blocks.find((b) => b.start <= off && b.end >= end);
  if (inside) {
    inside.t = t; // a duplicate refreshes its block
    return blocks;
  }
  const touching = blocks.filter((b) => b.end >= off && b.start <= end);
  const rest = blocks.filter((b) => !touching.includes(b));
  const nb = { start: Math.min(off, ...touching.map((b) => b.start)), end: Math.max(end, ...touching.map((b) => b.end)), t };
  return [...rest, nb].sort((a, b) => a.start - b.start);
}

describe('TCP reassembly SACK blocks', () => {
  it('lists up to max disjoint blocks, most recently changed first (as the model)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ off: fc.integer({ min: 1, max: 400 }), len: fc.integer({ min: 1, max: 60 }) }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 4 }), (segs, max) => {
        const r = new Reassembly();
        let model: ModelBlock[] = [];
        segs.forEach((s, t) => {
          r.insert(s.off, new Uint8Array(s.len));
          model = modelInsert(model, s.off, s.off + s.len, t);
        });
        const out = [0, 0, 0, 0, 0, 0, 0, 0];
        const n = r.sackBlocks(max, out);
        const want = [...model].sort((a, b) => b.t - a.t).slice(0, max);
        expect(n).toBe(want.length);
        expect(out.slice(0, 2 * n)).toEqual(want.flatMap((b) => [b.start, b.end]));
        expect(r.count).toBe(model.length);
        expect(r.bytes).toBe(model.reduce((a, b) => a + b.end - b.start, 0));
      }),
      { numRuns: 500 },
    );
  });
});
