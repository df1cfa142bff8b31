/**
 * The frame-path shortcuts change no byte: a datagram whose checksum is completed from the
 * pattern's prefix sums (`fillLen`) equals the fully summed one for every size, fill and
 * address; slab-cut frames are zeroed, disjoint and aligned; the "valid" hint is identity-only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildUdp, buildUdpFilled, buildUdpStamped } from '../../src/wire/build.js';
import { fold, sumBytes } from '../../src/wire/checksum.js';
import { allocFrame, isUdpValid, markUdpValid } from '../../src/wire/frame-alloc.js';

describe('frame path', () => {
  it('buildUdpFilled with fillLen gives the same bytes as summing everything', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 65535 }),
        (len, fillBytes, srcIp, dstIp, port) => {
          const n = Math.min(len, fillBytes.length);
          const fill = (p: Uint8Array): void => p.set(fillBytes.subarray(0, n));
          const args = { srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp, dstIp, srcPort: port, dstPort: 9, payloadLen: len, ipId: 7 };
          const full = buildUdpFilled(args, fill);
          const fast = buildUdpFilled({ ...args, fillLen: n }, fill);
          expect([...fast]).toEqual([...full]);
          // and the checksum verifies (RFC 768: the sum over pseudo-header and datagram is 0xffff)
          const ulen = 8 + len;
          const pseudo = (srcIp >>> 16) + (srcIp & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) + 17 + ulen;
          expect(fold(sumBytes(fast, 34, 34 + ulen, pseudo))).toBe(0xffff);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('buildUdpStamped writes the bytes of buildUdp with the CBR stamp in the payload', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.record({ srcMac: fc.integer({ min: 0, max: 2 ** 48 - 1 }), dstMac: fc.integer({ min: 0, max: 2 ** 48 - 1 }), srcIp: fc.integer({ min: 0, max: 0xffffffff }), dstIp: fc.integer({ min: 0, max: 0xffffffff }), ipId: fc.integer({ min: 0, max: 0xffff }), srcPort: fc.integer({ min: 0, max: 65535 }), dstPort: fc.integer({ min: 0, max: 65535 }) }),
        (len, seq, sentNs, h) => {
          // The reference: the generic builder over an explicit payload (every byte summed).
          const payload = new Uint8Array(len);
          for (let i = 0; i < len; i++) payload[i] = i & 0xff;
          const dv = new DataView(payload.buffer);
          if (len >= 4) dv.setUint32(0, seq);
          if (len >= 12) dv.setBigUint64(4, BigInt(sentNs));
          const ref = buildUdp({ ...h, payload });
          const got = buildUdpStamped({ ...h, payloadLen: len, seq, sentNs });
          expect([...got]).toEqual([...ref]);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('slab frames are zeroed, 8-byte aligned and never overlap', () => {
    const frames = [60, 1042, 1514, 61, 9000, 20000, 7].map((n) => allocFrame(n));
    for (const f of frames) {
      expect(f.every((b) => b === 0)).toBe(true);
      expect(f.byteOffset % 8).toBe(0);
      f.fill(0xab);
    }
    for (const f of frames) expect(f.every((b) => b === 0xab)).toBe(true);
  });

  it('the valid hint holds for the same frame object only', () => {
    const f = allocFrame(64);
    markUdpValid(f, 0x1234);
    expect(isUdpValid(f, 0x1234)).toBe(true);
    expect(isUdpValid(f.slice(), 0x1234)).toBe(false);
    expect(isUdpValid(f, 0x1235)).toBe(false);
  });
});
