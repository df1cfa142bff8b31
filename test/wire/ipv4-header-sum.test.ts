/**
 * `ipv4HeaderSumOk` (the receive-path header check of routers and tunnel endpoints) answers
 * exactly as the general `fold(sumBytes(…)) === 0xffff` it replaces: random bytes, offsets and
 * header lengths, and headers made valid by writing their checksum (which must verify).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { finish, fold, ipv4HeaderSumOk, sumBytes } from '../../src/wire/checksum.js';

describe('ipv4HeaderSumOk', () => {
  it('equals fold(sumBytes) === 0xffff on random bytes, offsets and lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 90 }), fc.nat(30), fc.integer({ min: 5, max: 15 }), (b, o, words) => {
        const ihl = words * 4;
        if (o + ihl > b.length) return;
        expect(ipv4HeaderSumOk(b, o, ihl)).toBe(fold(sumBytes(b, o, o + ihl)) === 0xffff);
      }),
      { numRuns: 5000 },
    );
  });

  it('accepts every header whose checksum field was written, and rejects it after a one-bit change', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 60, maxLength: 60 }), fc.nat(20), fc.integer({ min: 5, max: 15 }), fc.nat(), (raw, o, words, bit) => {
        const ihl = words * 4;
        const b = new Uint8Array(o + ihl);
        b.set(raw.subarray(0, ihl), o);
        b[o + 10] = 0;
        b[o + 11] = 0;
        const c = finish(sumBytes(b, o, o + ihl));
        b[o + 10] = c >>> 8;
        b[o + 11] = c & 0xff;
        expect(ipv4HeaderSumOk(b, o, ihl)).toBe(true);
        const i = o + (bit % (ihl * 8) >> 3);
        const before = b[i]!;
        b[i] = before ^ (1 << (bit & 7));
        // One's complement arithmetic has two zeros: flipping a word between 0x0000 and 0xffff is
        // the only change that keeps the sum; a one-bit flip never does that.
        expect(ipv4HeaderSumOk(b, o, ihl)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });
});
