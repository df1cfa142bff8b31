/**
 * The out-of-order queue hands back exactly the bytes that arrived, in order, whatever the
 * arrival order and overlaps: checked against a byte model in which the first copy of a byte
 * to arrive is the one kept (as the queue keeps what it holds and adds only the gaps). Each
 * segment carries its own byte value, so a piece taken from the wrong segment, a piece out of
 * order, a gap or an overlap in what `take` returns changes the bytes and fails the check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reassembly, sackRecentSwitch } from '../../src/tcp/buffers.js';

describe('TCP reassembly bytes', () => {
  it('take returns the first-arrived bytes above rcv_nxt, contiguous and in order (as the byte model)', () => {
    const seg = fc.record({ off: fc.integer({ min: 0, max: 300 }), len: fc.integer({ min: 1, max: 50 }), take: fc.boolean() });
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 60 }), (segs) => {
        const r = new Reassembly();
        const model = new Map<number, number>(); // offset -> byte, first arrival wins
        let rcvNxt = 0;
        segs.forEach((s, t) => {
          const off = rcvNxt + 1 + s.off; // always above rcv_nxt, as processData guarantees
          const data = new Uint8Array(s.len).fill((t % 255) + 1);
          let fresh = 0;
          for (let k = 0; k < s.len; k++) {
            if (!model.has(off + k)) {
              model.set(off + k, data[k]!);
              fresh++;
            }
          }
          expect(r.insert(off, data)).toBe(fresh);
          if (s.take) {
            // The in-order path: bytes up to the first block arrived, rcv_nxt moves to its start.
            const firstHeld = Math.min(...model.keys());
            rcvNxt = firstHeld;
            const pieces = r.take(rcvNxt);
            const got: number[] = [];
            for (const p of pieces) got.push(...p);
            const want: number[] = [];
            while (model.has(rcvNxt)) {
              want.push(model.get(rcvNxt)!);
              model.delete(rcvNxt);
              rcvNxt++;
            }
            expect(got).toEqual(want);
          }
          let held = 0;
          for (const k of model.keys()) if (k >= rcvNxt) held++;
          expect(r.bytes).toBe(held);
        });
      }),
      { numRuns: 500 },
    );
  });
});

describe('TCP reassembly SACK recency list', () => {
  it('reports the same blocks with the recency list on as with a full selection per ACK (list on == list off)', () => {
    const op = fc.record({ off: fc.integer({ min: 0, max: 400 }), len: fc.integer({ min: 1, max: 40 }), take: fc.boolean(), max: fc.integer({ min: 1, max: 4 }) });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), (ops) => {
        const on = new Reassembly();
        const off = new Reassembly();
        let rcvNxt = 0;
        const a = [0, 0, 0, 0, 0, 0, 0, 0];
        const b = [0, 0, 0, 0, 0, 0, 0, 0];
        try {
          for (const o of ops) {
            const data = new Uint8Array(o.len);
            on.insert(rcvNxt + 1 + o.off, data);
            off.insert(rcvNxt + 1 + o.off, data);
            if (o.take && !on.empty) {
              // Advance rcv_nxt into the first block (the in-order path) and hand it over.
              const pieces = on.take(rcvNxt + 1 + o.off);
              off.take(rcvNxt + 1 + o.off);
              if (pieces.length > 0) rcvNxt += 1 + o.off;
            }
            sackRecentSwitch.on = true;
            const na = on.sackBlocks(o.max, a);
            sackRecentSwitch.on = false;
            const nb = off.sackBlocks(o.max, b);
            sackRecentSwitch.on = true;
            expect(na).toBe(nb);
            expect(a.slice(0, 2 * na)).toEqual(b.slice(0, 2 * nb));
          }
        } finally {
          sackRecentSwitch.on = true;
        }
      }),
      { numRuns: 500 },
    );
  });
});
