import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planPrecopy, transferNs, DEFAULT_MAX_DOWNTIME_NS } from '../../src/migration/precopy.js';
import { UserError } from '../../src/errors.js';
import { ms } from '../../src/sim/time.js';

// 8 Gbit/s = 1e9 bytes/s keeps the arithmetic readable: 1 byte = 1 ns.
const GBYTE_PER_S = 8e9;

describe('pre-copy model', () => {
  it('defaults max downtime to QEMU’s 300 ms', () => {
    expect(DEFAULT_MAX_DOWNTIME_NS).toBe(300_000_000);
  });

  it('converges after one round when the first pass dirties less than bandwidth × downtime', () => {
    // 1e9 B at 1e9 B/s = 1 s; 2e8 B/s dirty → 2e8 B pending < 3e8 threshold → stop-and-copy 200 ms.
    const p = planPrecopy({ memoryBytes: 1e9, dirtyRateBytesPerS: 2e8, bandwidthBitPerS: GBYTE_PER_S });
    expect(p.converged).toBe(true);
    expect(p.rounds).toEqual([{ round: 1, start_ns: 0, end_ns: 1e9, bytes: 1e9 }]);
    expect(p.threshold_bytes).toBe(3e8);
    expect(p.stop_copy).toEqual({ start_ns: 1e9, end_ns: 1.2e9, bytes: 2e8 });
    expect(p.downtime_ns).toBe(ms(200));
    expect(p.transferred_bytes).toBe(1.2e9);
    expect(p.end_ns).toBe(1.2e9);
    expect(p.failure).toBeNull();
  });

  it('sends what was dirtied during the previous round in each next round', () => {
    // 4e8 B/s: round 1 1e9 B (1 s) → 4e8 pending ≥ 3e8 → round 2 4e8 B (0.4 s) → 1.6e8 < 3e8.
    const p = planPrecopy({ memoryBytes: 1e9, dirtyRateBytesPerS: 4e8, bandwidthBitPerS: GBYTE_PER_S });
    expect(p.rounds.map((r) => [r.round, r.start_ns, r.end_ns, r.bytes])).toEqual([
      [1, 0, 1e9, 1e9],
      [2, 1e9, 1.4e9, 4e8],
    ]);
    expect(p.downtime_ns).toBe(ms(160));
    expect(p.transferred_bytes).toBe(1e9 + 4e8 + 1.6e8);
  });

  it('needs more rounds for a tighter downtime budget', () => {
    const p = planPrecopy({ memoryBytes: 1e9, dirtyRateBytesPerS: 4e8, bandwidthBitPerS: GBYTE_PER_S, maxDowntimeNs: ms(100) });
    expect(p.rounds.map((r) => r.bytes)).toEqual([1e9, 4e8, 1.6e8]);
    expect(p.downtime_ns).toBe(ms(64));
    expect(p.transferred_bytes).toBe(1e9 + 4e8 + 1.6e8 + 6.4e7);
    expect(p.end_ns).toBe(1e9 + 4e8 + 1.6e8 + 6.4e7);
  });

  it('reports "did not converge after N rounds" when max_iterations is hit, without pausing', () => {
    const p = planPrecopy({
      memoryBytes: 1e9,
      dirtyRateBytesPerS: 4e8,
      bandwidthBitPerS: GBYTE_PER_S,
      maxDowntimeNs: ms(100),
      maxIterations: 2,
    });
    expect(p.converged).toBe(false);
    expect(p.rounds).toHaveLength(2);
    expect(p.failure).toMatch(/^did not converge after 2 rounds: max_iterations 2 reached/);
    expect(p.downtime_ns).toBe(0);
    expect(p.stop_copy).toBeNull();
    expect(p.transferred_bytes).toBe(1.4e9);
    expect(p.end_ns).toBe(1.4e9);
  });

  it('gives up as soon as the dirty rate reaches the bandwidth (pending can never shrink)', () => {
    const p = planPrecopy({ memoryBytes: 2 ** 31, dirtyRateBytesPerS: 200 * 2 ** 20, bandwidthBitPerS: 1e9 });
    expect(p.converged).toBe(false);
    expect(p.rounds).toHaveLength(1);
    expect(p.failure).toBe('did not converge after 1 round: dirty rate 200 MiB/s ≥ migration bandwidth 119.2 MiB/s');
  });

  it('still completes a VM small enough to fit the downtime budget even with a huge dirty rate', () => {
    // Everything pending again after round 1, but 2e8 B < 3e8 B threshold.
    const p = planPrecopy({ memoryBytes: 2e8, dirtyRateBytesPerS: 5e9, bandwidthBitPerS: GBYTE_PER_S });
    expect(p.converged).toBe(true);
    expect(p.stop_copy!.bytes).toBe(2e8);
    expect(p.downtime_ns).toBe(ms(200));
  });

  it('pauses for zero time when the guest dirties nothing', () => {
    const p = planPrecopy({ memoryBytes: 1e9, dirtyRateBytesPerS: 0, bandwidthBitPerS: GBYTE_PER_S, maxDowntimeNs: 0 });
    expect(p.converged).toBe(true);
    expect(p.downtime_ns).toBe(0);
    expect(p.rounds).toHaveLength(1);
  });

  it('rounds transfer times up to whole nanoseconds', () => {
    expect(transferNs(1, 3e9)).toBe(3); // 2.67 ns → 3
    expect(transferNs(0, 1)).toBe(0);
  });

  it('rejects nonsense parameters with a UserError naming the field', () => {
    expect(() => planPrecopy({ memoryBytes: 0, dirtyRateBytesPerS: 0, bandwidthBitPerS: 1 })).toThrow(UserError);
    try {
      planPrecopy({ memoryBytes: 1, dirtyRateBytesPerS: 0, bandwidthBitPerS: 0 });
      expect.unreachable();
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      expect(e.where).toBe('bandwidth');
    }
    expect(() => planPrecopy({ memoryBytes: 1, dirtyRateBytesPerS: 0, bandwidthBitPerS: 1, maxIterations: 0 })).toThrow(/max_iterations/);
  });

  it('always ends, within the downtime budget when converged, with consistent byte counts (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 36 }),
        fc.integer({ min: 0, max: 2 ** 33 }),
        fc.integer({ min: 1e6, max: 1e11 }),
        fc.integer({ min: 0, max: 2e9 }),
        fc.integer({ min: 1, max: 50 }),
        (mem, dirty, bw, down, iters) => {
          const p = planPrecopy({ memoryBytes: mem, dirtyRateBytesPerS: dirty, bandwidthBitPerS: bw, maxDowntimeNs: down, maxIterations: iters });
          expect(p.rounds.length).toBeGreaterThanOrEqual(1);
          expect(p.rounds.length).toBeLessThanOrEqual(iters);
          expect(p.rounds[0]!.bytes).toBe(mem);
          let t = 0;
          let sum = 0;
          for (const r of p.rounds) {
            expect(r.start_ns).toBe(t);
            expect(r.bytes).toBeLessThanOrEqual(mem);
            t = r.end_ns;
            sum += r.bytes;
          }
          if (p.converged) {
            expect(p.downtime_ns).toBeLessThanOrEqual(down);
            expect(p.transferred_bytes).toBe(sum + p.stop_copy!.bytes);
            expect(p.end_ns).toBe(t + p.downtime_ns);
          } else {
            expect(p.failure).toMatch(/^did not converge after \d+ rounds?: /);
            expect(p.transferred_bytes).toBe(sum);
            expect(p.downtime_ns).toBe(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
