/**
 * VEB invariants under random VF configurations and random traffic (fast-check):
 * - a VF with a port VLAN only ever receives frames of its VLAN, untagged;
 * - a frame never comes back to the VF that sent it;
 * - a unicast frame is delivered at most once (to one VF or to the uplink, never both);
 * - every frame leaving by the uplink from a port-VLAN VF carries that VLAN with the VF's qos.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/sim/index.js';
import { makePf, wire, frame, BCAST } from './helpers.js';

const macOf = (i: number): number => 0x0200_0000_0100 + i;

describe('VEB properties', () => {
  it('keeps VLANs apart, never echoes, delivers unicast once and tags the uplink', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ vlan: fc.constantFrom(0, 10, 20), qos: fc.integer({ min: 0, max: 7 }) }), { minLength: 2, maxLength: 6 }),
        fc.array(fc.record({ from: fc.nat(), to: fc.oneof(fc.nat(), fc.constant(-1), fc.constant(-2)) }), { minLength: 1, maxLength: 40 }),
        (vfs, sends) => {
          const pf = makePf({ sim: new Simulation(1), model: 'generic', numVfs: vfs.length });
          vfs.forEach((v, i) => pf.configureVf(i, v.vlan ? { mac: macOf(i), vlan: v.vlan, qos: v.qos } : { mac: macOf(i) }));
          const w = wire(pf);
          const got: { at: number; f: Uint8Array }[] = [];
          pf.vfs.forEach((vf, i) => vf.setReceiver((f) => got.push({ at: i, f })));
          sends.forEach((s) => {
            const from = s.from % vfs.length;
            const dst = s.to === -1 ? BCAST : s.to === -2 ? 0x0200_0000_9999 : macOf(s.to % vfs.length);
            const before = { vf: got.length, up: w.got.length };
            pf.vf(from).transmit(frame(dst, macOf(from)));
            const delivered = got.slice(before.vf);
            const out = w.got.slice(before.up);
            for (const d of delivered) {
              expect(d.at).not.toBe(from);
              expect(vfs[d.at]!.vlan).toBe(vfs[from]!.vlan);
              expect((d.f[12]! << 8) | d.f[13]!).toBe(0x0800);
            }
            for (const o of out) {
              if (vfs[from]!.vlan) {
                expect((o[12]! << 8) | o[13]!).toBe(0x8100);
                expect((o[14]! << 8) | o[15]!).toBe((vfs[from]!.qos << 13) | vfs[from]!.vlan);
              } else expect((o[12]! << 8) | o[13]!).toBe(0x0800);
            }
            if (dst !== BCAST) expect(delivered.length + out.length).toBeLessThanOrEqual(1);
            if (dst !== BCAST && s.to >= 0 && s.to % vfs.length !== from && vfs[s.to % vfs.length]!.vlan === vfs[from]!.vlan) {
              expect(delivered.map((d) => d.at)).toEqual([s.to % vfs.length]);
              expect(out).toHaveLength(0);
            }
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
