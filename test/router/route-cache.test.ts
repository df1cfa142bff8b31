/**
 * The route lookup cache (src/router/routes.ts): cache on ≡ cache off. Random tables (random
 * prefixes, lengths and ECMP next hops, high addresses included: the maps key by int32) are
 * queried with random destination sequences that repeat and collide; routes added between queries
 * must be seen at once (the cache is emptied on `add`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../src/router/routes.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const route = fc.record({ network: u32, prefixLength: fc.integer({ min: 0, max: 32 }), via: u32, iface: fc.integer({ min: 0, max: 7 }) });

/** The longest-prefix match by brute force over the routes added (the spec). */
function spec(routes: { network: number; prefixLength: number }[], dst: number): { network: number; prefixLength: number } | undefined {
  let best: { network: number; prefixLength: number } | undefined;
  for (const r of routes) {
    const m = r.prefixLength === 0 ? 0 : (0xffffffff << (32 - r.prefixLength)) >>> 0;
    if (((dst & m) >>> 0) === ((r.network & m) >>> 0) && (best === undefined || r.prefixLength > best.prefixLength)) best = r;
  }
  return best;
}

describe('RouteTable lookup cache', () => {
  it('cache on ≡ cache off ≡ brute-force longest prefix, with routes added between lookups', () => {
    // Later routes are more specific prefixes of destinations already looked up: each one
    // changes cached answers, which the cache must not keep.
    const later = fc.array(fc.record({ pick: fc.nat(), prefixLength: fc.integer({ min: 1, max: 32 }), via: u32, iface: fc.integer({ min: 0, max: 7 }) }), { maxLength: 10 });
    fc.assert(
      fc.property(fc.array(route, { maxLength: 30 }), later, fc.array(u32, { minLength: 1, maxLength: 40 }), fc.array(fc.nat(), { minLength: 20, maxLength: 200 }), (first, more, dsts, picks) => {
        const on = new RouteTable();
        const off = new RouteTable();
        off.cacheEnabled = false;
        const added: { network: number; prefixLength: number }[] = [];
        const add = (r: { network: number; prefixLength: number; via: number; iface: number }): void => {
          on.add(r.network, r.prefixLength, { via: r.via, iface: r.iface }, 'static');
          off.add(r.network, r.prefixLength, { via: r.via, iface: r.iface }, 'static');
          added.push(r);
        };
        // A default route, so every destination has a (cached) answer before more specific ones arrive.
        add({ network: 0, prefixLength: 0, via: 1, iface: 0 });
        first.forEach(add);
        picks.forEach((p, i) => {
          if (i % 5 === 4 && more.length > 0) {
            const m = more[(i / 5) % more.length | 0]!;
            add({ network: dsts[m.pick % dsts.length]!, prefixLength: m.prefixLength, via: m.via, iface: m.iface });
          }
          // Destinations inside added prefixes too, so most lookups find a route.
          const d = p % 3 === 0 && added.length > 0 ? (added[p % added.length]!.network ^ (p & 0xff)) >>> 0 : dsts[p % dsts.length]!;
          const a = on.lookup(d);
          const b = off.lookup(d);
          expect(a).toEqual(b);
          const want = spec(added, d);
          if (want === undefined) expect(a).toBeUndefined();
          else {
            expect(a?.prefixLength).toBe(want.prefixLength);
            const m = want.prefixLength === 0 ? 0 : (0xffffffff << (32 - want.prefixLength)) >>> 0;
            expect(a?.network).toBe((want.network & m) >>> 0);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('more destinations than cache slots: colliding destinations never share an answer', () => {
    const on = new RouteTable();
    const off = new RouteTable();
    off.cacheEnabled = false;
    for (const t of [on, off]) {
      for (let k = 0; k < 256; k++) t.add((0xc0000000 | (k << 16)) >>> 0, 16, { via: k, iface: k & 7 }, 'static');
      t.add(0, 0, { via: 999, iface: 0 }, 'static');
    }
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3000; i++) {
        const d = (0xc0000000 + Math.imul(i, 0x01000193) % 0x02000000) >>> 0;
        expect(on.lookup(d)).toEqual(off.lookup(d));
      }
    }
  });

  it('reports networks as unsigned addresses (int32 keys stay internal)', () => {
    const t = new RouteTable();
    t.add(0xc0000200, 24, { via: 0, iface: 0 }, 'connected');
    expect(t.lookup(0xc0000207)?.network).toBe(0xc0000200);
    expect(t.all().map((r) => r.network)).toEqual([0xc0000200]);
  });
});
