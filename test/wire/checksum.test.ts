import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { finish, fold, pseudoHeaderV4, pseudoHeaderV6, sumBytes } from '../../src/wire/checksum.js';
import { hex } from './hex.js';

function reference(b: Uint8Array, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  return s;
}

describe('Internet checksum', () => {
  it('matches the RFC 1071 §3 example (00 01 f2 03 f4 f5 f6 f7 sums to ddf2)', () => {
    expect(fold(sumBytes(hex('0001f203f4f5f6f7'), 0, 8))).toBe(0xddf2);
    expect(finish(sumBytes(hex('0001f203f4f5f6f7'), 0, 8))).toBe(0x220d);
  });

  it('the cached 16-bit view of the last buffer changes no sum: long runs of sums over a few shared buffers, their subarrays and a buffer rewritten between sums (property)', () => {
    const ops = fc.array(
      fc.record({ buf: fc.nat(2), view: fc.nat(), start: fc.nat(), len: fc.nat(), poke: fc.option(fc.tuple(fc.nat(), fc.nat(255))) }),
      { minLength: 1, maxLength: 300, size: 'max' },
    );
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 2048 }), { minLength: 3, maxLength: 3 }), ops, (bufs, steps) => {
        for (const st of steps) {
          const whole = bufs[st.buf]!;
          if (st.poke !== null) whole[st.poke[0] % whole.length] = st.poke[1];
          const off = st.view % whole.length;
          const b = whole.subarray(off);
          const start = b.length ? st.start % b.length : 0;
          const end = start + (st.len % (b.length - start + 1));
          expect(fold(sumBytes(b, start, end))).toBe(fold(reference(b, start, end)));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('folds to the same value on the fast (aligned, long) and byte paths, at any offset (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1600 }), fc.nat(), fc.nat(), fc.nat(0xffff), (b, x, y, init) => {
        const start = b.length ? x % b.length : 0;
        const end = start + (b.length - start ? y % (b.length - start + 1) : 0);
        expect(fold(sumBytes(b, start, end, init))).toBe(fold(reference(b, start, end) + init));
        const sub = b.subarray(1);
        expect(fold(sumBytes(sub, 0, sub.length))).toBe(fold(reference(sub, 0, sub.length)));
      }),
      { numRuns: 500 },
    );
  });

  it('builds IPv4 and IPv6 pseudo-header sums word by word', () => {
    expect(fold(pseudoHeaderV4(0xc0a80101, 0xc0a80102, 17, 12))).toBe(fold(0xc0a8 + 0x0101 + 0xc0a8 + 0x0102 + 17 + 12));
    expect(fold(pseudoHeaderV6([0xfe800000, 0, 0, 1], [0xfe800000, 0, 0, 2], 58, 12))).toBe(fold(0xfe80 * 2 + 1 + 2 + 58 + 12));
  });
});
