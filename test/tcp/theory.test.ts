/**
 * TCP against theory:
 * - Mathis et al. 1997 ("The macroscopic behavior of the TCP congestion avoidance algorithm"):
 *   under random loss p, Reno-style congestion avoidance gives MSS/RTT × sqrt(3/2)/sqrt(p)
 *   (1.22/√p). Linux counts growth per segment acknowledged (RFC 3465 ABC), so delayed ACKs do
 *   not change the constant. The path is long (100 ms RTT) and fast (1 Gbit/s) so neither the
 *   queue nor the line rate matters; the result is averaged over two seeds.
 * - Jain's fairness index (Σx)²/(n·Σx²) of N equal flows through one bottleneck >= 0.95.
 */
import { describe, expect, it } from 'vitest';
import { startIperf } from '../../src/guest/index.js';
import { pair } from './helpers.js';

function nrThroughput(p: number, seed: number, durS: number): number {
  const t = pair({ rate: 1e9, delayNs: 50_000_000, queue: 1000, loss: p, seed });
  const app = startIperf(t.a, { dst: '10.0.0.2', durationNs: durS * 1e9, cc: 'newreno', intervalNs: 10e9 });
  t.sim.run({ untilNs: (durS + 5) * 1e9 });
  return app.result().throughput_bps;
}

describe('TCP vs theory', () => {
  for (const [p, dur] of [[0.01, 200], [0.001, 300]] as const) {
    it(`NewReno under ${p * 100}% random loss follows the Mathis formula within 20%`, () => {
      const mathis = ((1448 * 8) / 0.1) * (Math.sqrt(1.5) / Math.sqrt(p));
      const got = (nrThroughput(p, 1, dur) + nrThroughput(p, 2, dur)) / 2;
      expect(got / mathis).toBeGreaterThan(0.8);
      expect(got / mathis).toBeLessThan(1.2);
    }, 120_000);
  }

  for (const n of [4, 8]) {
    it(`${n} equal NewReno flows share a 100 Mbit/s bottleneck with Jain index >= 0.95`, () => {
      const t = pair({ rate: 100e6, delayNs: 5_000_000, queue: 100, seed: 4 });
      const app = startIperf(t.a, { dst: '10.0.0.2', durationNs: 20e9, parallel: n, cc: 'newreno', intervalNs: 5e9 });
      t.sim.run({ untilNs: 21e9 });
      const x = app.result().end.streams.map((s) => s.bytes_received);
      const jain = x.reduce((a, b) => a + b, 0) ** 2 / (x.length * x.reduce((a, b) => a + b * b, 0));
      expect(jain).toBeGreaterThanOrEqual(0.95);
      expect((x.reduce((a, b) => a + b, 0) * 8) / 20).toBeGreaterThan(85e6);
    }, 120_000);
  }
});
