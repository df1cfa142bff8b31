/**
 * The receive filter compares the destination MAC as two integers (16 + 32 bits) and caches the
 * device MAC split the same way. It must decide exactly as the float formula it replaced (kept
 * below as the reference) for every mode, table, VLAN set and MAC, including a MAC that changes
 * between frames (CTRL_MAC_ADDR_SET) and destinations that differ from it in one byte only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CTRL_RX, CTRL_VLAN } from '../../src/vnic/control.js';
import { RxFilter } from '../../src/vnic/rx-filter.js';

function referenceCheck(
  m: { promisc: boolean; nobcast: boolean; nomulti: boolean; nouni: boolean; alluni: boolean; table: number[]; vlans: Set<number>; vlanFiltering: boolean },
  f: Uint8Array,
  mac: number,
): string | null {
  if (m.promisc) return null;
  if (f.length >= 16 && f[12] === 0x81 && f[13] === 0x00) {
    const vid = ((f[14]! << 8) | f[15]!) & 0xfff;
    if (m.vlanFiltering && !m.vlans.has(vid)) return 'vlan-filter';
  }
  const dst = f[0]! * 2 ** 40 + f[1]! * 2 ** 32 + (((f[2]! << 24) | (f[3]! << 16) | (f[4]! << 8) | f[5]!) >>> 0);
  if ((f[0]! & 1) !== 0) {
    if (dst === 0xffffffffffff) return m.nobcast ? 'rx-filter' : null;
    return m.nomulti ? 'rx-filter' : null;
  }
  if (m.nouni) return 'rx-filter';
  if (m.alluni || dst === mac || m.table.includes(dst)) return null;
  return 'rx-filter';
}

function macBytes(m: number): number[] {
  const b: number[] = [];
  for (let i = 0; i < 6; i++) b.push(Math.floor(m / 2 ** (8 * (5 - i))) & 0xff);
  return b;
}

function tableSet(uni: number[]): Uint8Array {
  const d: number[] = [uni.length, 0, 0, 0];
  for (const m of uni) d.push(...macBytes(m));
  d.push(0, 0, 0, 0);
  return new Uint8Array(d);
}

const mac48 = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  fc.constantFrom(0xffffffffffff, 0x020000000001, 0x020000000002, 0x010000000001, 0x0000ffffffff, 0x000100000000),
);

describe('virtio-net receive filter', () => {
  it('decides as the float-MAC reference for any mode, table, VLAN set, MAC and frame', () => {
    fc.assert(
      fc.property(
        fc.record({
          promisc: fc.boolean(),
          nobcast: fc.boolean(),
          nomulti: fc.boolean(),
          nouni: fc.boolean(),
          alluni: fc.boolean(),
          table: fc.array(mac48, { maxLength: 4 }),
          vlans: fc.array(fc.integer({ min: 0, max: 4095 }), { maxLength: 4 }),
          vlanFiltering: fc.boolean(),
        }),
        fc.array(
          fc.record({
            mac: mac48,
            // A destination near the MAC (one byte flipped) as often as an unrelated one.
            dst: fc.oneof(mac48, fc.constant(-1), fc.integer({ min: 0, max: 5 })),
            tagged: fc.boolean(),
            vid: fc.integer({ min: 0, max: 4095 }),
            len: fc.integer({ min: 14, max: 64 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        (mode, frames) => {
          const filter = new RxFilter(mode.vlanFiltering);
          filter.rxMode(CTRL_RX.PROMISC, new Uint8Array([mode.promisc ? 1 : 0]), true);
          filter.rxMode(CTRL_RX.NOBCAST, new Uint8Array([mode.nobcast ? 1 : 0]), true);
          filter.rxMode(CTRL_RX.NOMULTI, new Uint8Array([mode.nomulti ? 1 : 0]), true);
          filter.rxMode(CTRL_RX.NOUNI, new Uint8Array([mode.nouni ? 1 : 0]), true);
          filter.rxMode(CTRL_RX.ALLUNI, new Uint8Array([mode.alluni ? 1 : 0]), true);
          filter.macTableSet(tableSet(mode.table));
          for (const v of mode.vlans) filter.vlan(CTRL_VLAN.ADD, new Uint8Array([v & 0xff, v >> 8]));
          const ref = { ...mode, vlans: new Set(mode.vlans) };
          for (const fr of frames) {
            const f = new Uint8Array(fr.len);
            let dst = fr.dst;
            if (dst === -1) dst = fr.mac;
            else if (dst < 6) {
              const b = macBytes(fr.mac);
              b[dst] = b[dst]! ^ 0x10;
              dst = b.reduce((a, x) => a * 256 + x, 0);
            }
            f.set(macBytes(dst), 0);
            if (fr.tagged && fr.len >= 16) {
              f[12] = 0x81;
              f[13] = 0x00;
              f[14] = fr.vid >> 8;
              f[15] = fr.vid & 0xff;
            }
            expect(filter.check(f, fr.mac)).toBe(referenceCheck(ref, f, fr.mac));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
