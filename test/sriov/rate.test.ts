import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Simulation, ms } from '../../src/sim/index.js';
import { TxShaper } from '../../src/sriov/index.js';
import { makePf, wire, frame, MAC } from './helpers.js';

const M0 = MAC('02:00:00:00:01:00');
const OUTSIDE = MAC('02:00:00:00:09:09');

describe('max_tx_rate', () => {
  it('paces a burst at the configured rate instead of dropping it', () => {
    const sim = new Simulation(1);
    const pf = makePf({ sim });
    pf.configureVf(0, { mac: M0, max_tx_rate: 10 }); // 10 Mbit/s
    const w = wire(pf);
    // 100 frames of 1250 bytes = 10,000 bits each = 1 ms each at 10 Mbit/s.
    for (let i = 0; i < 100; i++) expect(pf.vf(0).transmit(frame(OUTSIDE, M0, { len: 1250 }))).toBe(true);
    expect(w.got).toHaveLength(1);
    expect(pf.vf(0).txQueued).toBe(99);
    sim.run();
    expect(w.got).toHaveLength(100);
    expect(w.times[1]).toBe(ms(1));
    expect(w.times[99]).toBe(ms(99));
    expect(pf.vfCounters(0)).toMatchObject({ tx_packets: 100, tx_shaped: 99 });
  });

  it('drops only when the TX ring is full', () => {
    const sim = new Simulation(1);
    const pf = makePf({ sim, txRing: 8 });
    pf.configureVf(0, { mac: M0, max_tx_rate: 10 });
    const w = wire(pf);
    let accepted = 0;
    for (let i = 0; i < 20; i++) if (pf.vf(0).transmit(frame(OUTSIDE, M0, { len: 1250 }))) accepted++;
    sim.run();
    expect(accepted).toBe(9); // one on the wire at once, eight waiting
    expect(w.got).toHaveLength(9);
    expect(pf.vf(0).port.counters.drops['queue-full']).toBe(11);
  });

  it('releases waiting frames at once when the limit is removed', () => {
    const sim = new Simulation(1);
    const pf = makePf({ sim });
    pf.configureVf(0, { mac: M0, max_tx_rate: 10 });
    const w = wire(pf);
    for (let i = 0; i < 5; i++) pf.vf(0).transmit(frame(OUTSIDE, M0, { len: 1250 }));
    pf.configureVf(0, { max_tx_rate: 0 });
    expect(w.got).toHaveLength(5);
  });

  it('drops frames still waiting when the VF is disabled', () => {
    const sim = new Simulation(1);
    const pf = makePf({ sim });
    pf.configureVf(0, { mac: M0, max_tx_rate: 10 });
    const w = wire(pf);
    for (let i = 0; i < 5; i++) pf.vf(0).transmit(frame(OUTSIDE, M0, { len: 1250 }));
    pf.configureVf(0, { state: 'disable' });
    sim.run();
    expect(w.got).toHaveLength(1);
    expect(pf.vf(0).port.counters.drops['link-down']).toBe(4);
  });

  it('never lets more bytes out than the rate allows, over any window, in order (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.array(fc.record({ gapNs: fc.integer({ min: 0, max: 2_000_000 }), len: fc.integer({ min: 60, max: 9000 }) }), { minLength: 1, maxLength: 60 }),
        (rate, sends) => {
          const sim = new Simulation(1);
          const out: { t: number; len: number; id: number }[] = [];
          const shaper = new TxShaper(sim, (f) => out.push({ t: sim.now, len: f.length, id: f[0]! | (f[1]! << 8) }), 10_000);
          shaper.setRate(rate);
          let t = 0;
          sends.forEach((s, id) => {
            t += s.gapNs;
            sim.scheduleAt(t, () => {
              const f = new Uint8Array(s.len);
              f[0] = id & 0xff;
              f[1] = id >> 8;
              shaper.submit(f);
            });
          });
          sim.run();
          expect(out.map((o) => o.id)).toEqual(sends.map((_, i) => i));
          // Frame k may start only after frames i..k-1 had their time on the wire at `rate`.
          for (let i = 0; i < out.length; i++) {
            let bits = 0;
            for (let k = i + 1; k < out.length; k++) {
              bits += out[k - 1]!.len * 8;
              expect((out[k]!.t - out[i]!.t) * rate * 1e6).toBeGreaterThanOrEqual(bits * 1e9 - 1e6 * rate);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
