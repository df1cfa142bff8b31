/**
 * The per-flow source-port cache (src/tunnel/src-port.ts): cache on ≡ cache off. Every port it
 * returns equals `udpFlowSrcPort(innerHash(seed, frame))` computed fresh, over random sequences of
 * frames drawn from a small pool (so flows repeat, and slots collide and get overwritten), IPv4
 * five-tuples and non-IPv4 frames alike. The hash itself is pinned by the reference formula.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SourcePortCache, innerHash } from '../../src/tunnel/src-port.js';
import { flowHash } from '../../src/router/routes.js';
import { readU32 } from '../../src/wire/ipv4-frame.js';
import { udpFlowSrcPort } from '../../src/wire/vxlan.js';

/** Inner frames: IPv4 (TCP/UDP/other, random IHL) or anything else, 0–80 bytes. */
const frame = fc
  .tuple(fc.uint8Array({ minLength: 0, maxLength: 80 }), fc.constantFrom('ipv4-udp', 'ipv4-tcp', 'ipv4-other', 'raw'), fc.integer({ min: 0, max: 15 }))
  .map(([b, kind, ihl]) => {
    const f = b.slice();
    if (kind === 'raw' || f.length < 34) return f;
    f[12] = 0x08;
    f[13] = 0x00;
    f[14] = 0x40 | ihl;
    f[23] = kind === 'ipv4-udp' ? 17 : kind === 'ipv4-tcp' ? 6 : f[23]!;
    return f;
  });

/** The hash as tunnel-port.ts computed it before the cache (the reference). */
function referenceHash(seed: number, f: Uint8Array): number {
  if (f.length >= 34 && f[12] === 0x08 && f[13] === 0x00) {
    const ihl = (f[14]! & 0x0f) * 4;
    const proto = f[23]!;
    const l4 = 14 + ihl;
    const ports = (proto === 6 || proto === 17) && f.length >= l4 + 4;
    return flowHash(seed, readU32(f, 26), readU32(f, 30), proto, ports ? (f[l4]! << 8) | f[l4 + 1]! : 0, ports ? (f[l4 + 2]! << 8) | f[l4 + 3]! : 0);
  }
  return flowHash(seed, readU32(f, 0), readU32(f, 6), (f[4]! << 8) | f[5]!, (f[10]! << 8) | f[11]!, 0);
}

describe('SourcePortCache', () => {
  it('innerHash equals the reference five-tuple / MAC hash', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), frame, (seed, f) => {
        expect(innerHash(seed, f)).toBe(referenceHash(seed, f));
      }),
      { numRuns: 3000 },
    );
  });

  it('cache on ≡ cache off over repeating flows, collisions and overwrites', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(frame, { minLength: 1, maxLength: 200 }), fc.array(fc.nat(), { minLength: 1, maxLength: 600 }), (seed, pool, picks) => {
        const cache = new SourcePortCache(seed);
        for (const p of picks) {
          const f = pool[p % pool.length]!;
          expect(cache.portOf(f)).toBe(udpFlowSrcPort(referenceHash(seed, f)));
        }
        expect(cache.hits + cache.misses).toBe(picks.length);
      }),
      { numRuns: 300 },
    );
  });

  it('flows that differ in one key word only never share an answer (more flows than slots)', () => {
    const base = new Uint8Array(60);
    base[12] = 0x08;
    base[14] = 0x45;
    base[23] = 17;
    base.set([192, 0, 2, 1, 198, 51, 100, 2, 0x03, 0xe8, 0x00, 0x09], 26);
    // Word 0 = source address (26), 1 = destination (30), 2 = protocol (23), 3 = ports (34).
    for (const [at, proto] of [[29, 17], [33, 17], [23, 0], [37, 17], [35, 6]] as const) {
      const cache = new SourcePortCache(0x5eed);
      const pool = Array.from({ length: 200 }, (_, i) => {
        const f = base.slice();
        f[23] = proto;
        f[at] = i;
        return f;
      });
      for (let round = 0; round < 3; round++) {
        for (const f of pool) expect(cache.portOf(f)).toBe(udpFlowSrcPort(referenceHash(0x5eed, f)));
      }
    }
  });

  it('a repeated flow is a hit; a frame that differs in one key byte is not', () => {
    const f = new Uint8Array(60);
    f[12] = 0x08;
    f[14] = 0x45;
    f[23] = 17;
    f.set([10, 0, 0, 1, 10, 0, 0, 2], 26);
    f.set([0x03, 0xe8, 0x00, 0x09], 34);
    const cache = new SourcePortCache(7);
    const p = cache.portOf(f);
    expect(cache.portOf(f)).toBe(p);
    expect(cache.hits).toBe(1);
    const g = f.slice();
    g[37] = 0x0a; // another destination port: another flow
    expect(cache.portOf(g)).toBe(udpFlowSrcPort(referenceHash(7, g)));
    expect(cache.misses).toBe(2);
  });
});
