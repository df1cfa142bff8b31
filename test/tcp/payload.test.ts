/**
 * The TCP fast paths agree with the plain ones: a range sum from an immutable chunk's prefix sums
 * equals RFC 1071 summing of the same bytes at the same offset parity, a send buffer of immutable
 * and ordinary chunks yields the same frame bytes and sum, and only the very frame (the same memory) a
 * TCP checksummed skips verification.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SendBuffer } from '../../src/tcp/buffers.js';
import { allocFrame, immutablePayload, isIntact, markIntact, zeroPayload } from '../../src/tcp/payload.js';
import { fold, sumBytes } from '../../src/wire/checksum.js';

/**
 * Chunk contents: random bytes, all zeros (an immutable all-zero region keeps no prefix sums),
 * or zeros but for the last byte (the zero scan must reach the end).
 */
const chunkBytes = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
  fc.integer({ min: 1, max: 300 }).map((n) => new Uint8Array(n)),
  fc.tuple(fc.integer({ min: 2, max: 300 }), fc.integer({ min: 1, max: 255 })).map(([n, v]) => {
    const u = new Uint8Array(n);
    u[n - 1] = v;
    return u;
  }),
);

describe('TCP payload fast paths', () => {
  it('copyOut of immutable chunks returns the RFC 1071 sum of the bytes it wrote (cache on == cache off)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ bytes: chunkBytes, imm: fc.boolean(), zero: fc.boolean() }), { minLength: 1, maxLength: 6 }),
        fc.nat(), fc.nat(),
        (chunks, a, b) => {
          const sb = new SendBuffer(1);
          const plain = new SendBuffer(1);
          for (const c of chunks) {
            const data = c.zero ? zeroPayload(c.bytes.length) : c.imm ? immutablePayload(Uint8Array.from(c.bytes)).subarray(1) : c.bytes;
            if (data.length === 0) continue;
            sb.push(data);
            plain.push(Uint8Array.from(data));
          }
          const total = sb.end - 1;
          if (total === 0) return;
          const from = 1 + (a % total);
          const len = 1 + (b % (sb.end - from));
          const f1 = allocFrame(len + 32);
          const f2 = new Uint8Array(len + 32);
          const s1 = sb.copyOut(from, len, f1, 32);
          const s2 = plain.copyOut(from, len, f2, 32);
          expect(Buffer.from(f1).equals(Buffer.from(f2))).toBe(true);
          expect(s2).toBe(-1);
          if (chunks.every((c) => c.imm || c.zero)) expect(fold(s1)).toBe(fold(sumBytes(f2, 32, 32 + len)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('skips verification only for the very frame marked with its checksum', () => {
    const f = allocFrame(100);
    f[50] = 7;
    markIntact(f, 0x1234);
    expect(isIntact(f, 0x1234)).toBe(true);
    expect(isIntact(Uint8Array.from(f), 0x1234)).toBe(false);
    expect(isIntact(f, 0x1235)).toBe(false);
    expect(isIntact(f.subarray(8), 0x1234)).toBe(false); // other memory in the same slab
    expect(isIntact(new Uint8Array(f.buffer, f.byteOffset, 100), 0x1234)).toBe(true); // the same memory
    // A slab frame keeps its mark however many frames are marked after it (a checksum-keyed
    // table lost it to the first collision, so a deep link queue meant re-verifying).
    for (let i = 0; i < 5000; i++) markIntact(allocFrame(100), 0x1234);
    expect(isIntact(f, 0x1234)).toBe(true);
    // Frames too large for a slab use the checksum-keyed table: a newer frame in the slot evicts.
    const big1 = allocFrame(20000);
    const big2 = allocFrame(20000);
    markIntact(big1, 0x1234);
    expect(isIntact(big1, 0x1234)).toBe(true);
    markIntact(big2, 0x5234);
    expect(isIntact(big1, 0x1234)).toBe(false);
    expect(isIntact(big2, 0x5234)).toBe(true);
  });

  it('a slab that left the recent ring loses its marks, and the slab reusing its stamp array starts unmarked', () => {
    // Start a fresh slab, then mark every unit of it: frames of 64 bytes fill one unit each.
    let first = allocFrame(64);
    while (first.byteOffset !== 0) first = allocFrame(64);
    const marked: Uint8Array[] = [first];
    for (;;) {
      const f = allocFrame(64);
      if (f.buffer !== first.buffer) break;
      marked.push(f);
    }
    for (const f of marked) markIntact(f, 0x4321);
    expect(marked.every((f) => isIntact(f, 0x4321))).toBe(true);
    // 32 more slabs: the first leaves the ring, and the newest slab takes over its stamp array.
    const slabs = new Set<ArrayBufferLike>([first.buffer]);
    let last = first.buffer;
    while (slabs.size < 1 + 32) {
      const f = allocFrame(16 * 1024);
      slabs.add(f.buffer);
      last = f.buffer;
    }
    expect(marked.some((f) => isIntact(f, 0x4321))).toBe(false); // verified again, never trusted
    // Every unit of the newest slab is unmarked, though its stamp array held marks for every unit.
    for (let off = 0; off + 64 <= 256 * 1024; off += 64) expect(isIntact(new Uint8Array(last, off, 64), 0x4321)).toBe(false);
  });

  it('a slab a receiver looked up last loses its marks when it leaves the ring, though its stamp array now marks another slab', () => {
    let first = allocFrame(64);
    while (first.byteOffset !== 0) first = allocFrame(64);
    markIntact(first, 0x1234);
    // A newer slab, then a lookup of the older one (the receiver's cached slab).
    let f = allocFrame(16 * 1024);
    while (f.buffer === first.buffer) f = allocFrame(16 * 1024);
    expect(isIntact(first, 0x1234)).toBe(true);
    // 31 more slabs: the first leaves the ring and the newest takes over its stamp array; a frame
    // at the same place in the newest slab is marked with the same checksum.
    const slabs = new Set<ArrayBufferLike>([first.buffer, f.buffer]);
    let g = f;
    while (slabs.size < 1 + 32) {
      g = allocFrame(16 * 1024);
      slabs.add(g.buffer);
    }
    const twin = new Uint8Array(g.buffer, 0, 64);
    markIntact(twin, 0x1234);
    expect(isIntact(twin, 0x1234)).toBe(true);
    expect(isIntact(first, 0x1234)).toBe(false);
  });
});
