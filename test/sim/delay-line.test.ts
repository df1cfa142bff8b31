/**
 * A DelayLine must be indistinguishable from one `sim.schedule(delay, …)` per item: same order
 * against other events at the same nanosecond (several lines tie often), items pushed from inside
 * an output, and runs cut by `maxEvents` or `stop()`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DelayLine, Simulation } from '../../src/sim/index.js';

interface Plan {
  delays: number[];
  pushes: Array<{ at: number; line: number; tag: number }>;
  probes: number[];
  /** An output whose tag is odd pushes tag+1 into the next line, from inside the output. */
  chain: boolean;
}

function play(p: Plan, real: boolean, cut: { maxEvents?: number; stopAt?: number }): string[] {
  const sim = new Simulation(3);
  const log: string[] = [];
  const push: Array<(tag: number) => void> = [];
  p.delays.forEach((d, k) => {
    const out = (tag: number): void => {
      log.push(`${sim.now} line${k} ${tag}`);
      if (p.chain && (tag & 1) === 1 && tag < 40) push[(k + 1) % push.length]!(tag + 1);
    };
    if (real) {
      const line = new DelayLine<string>(sim, d, (item, tag) => out(tag + item.length));
      push.push((tag) => line.push('', tag, 0));
    } else push.push((tag) => sim.schedule(d, () => out(tag)));
  });
  for (const x of p.pushes) sim.scheduleAt(x.at, () => push[x.line % push.length]!(x.tag));
  for (const t of p.probes) sim.scheduleAt(t, () => log.push(`${sim.now} probe`));
  if (cut.stopAt !== undefined) sim.scheduleAt(cut.stopAt, () => sim.stop());
  for (let guard = 0; guard < 100_000; guard++) {
    const r = sim.run(cut.maxEvents !== undefined ? { maxEvents: cut.maxEvents } : {});
    log.push(`run ${r.reason} ${r.events} now=${sim.now} total=${sim.eventsRun}`);
    if (r.reason === 'idle') break;
  }
  return log;
}

const planArb: fc.Arbitrary<Plan> = fc.record({
  delays: fc.array(fc.constantFrom(0, 5, 10, 20), { minLength: 1, maxLength: 3 }),
  pushes: fc.array(fc.record({ at: fc.integer({ min: 0, max: 60 }), line: fc.nat(2), tag: fc.integer({ min: 0, max: 30 }) }), { maxLength: 40 }),
  probes: fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 20 }),
  chain: fc.boolean(),
});

describe('DelayLine', () => {
  it('gives the order and event count of one scheduled event per item', () => {
    fc.assert(fc.property(planArb, (p) => {
        expect(play(p, true, {})).toEqual(play(p, false, {}));
      }), { numRuns: 300 });
  });

  it('stops at the same event under maxEvents and stop(), and resumes in the same order', () => {
    fc.assert(
      fc.property(planArb, fc.integer({ min: 1, max: 5 }), fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }), (p, maxEvents, stopAt) => {
        const cut = { maxEvents, ...(stopAt !== undefined ? { stopAt } : {}) };
        expect(play(p, true, cut)).toEqual(play(p, false, cut));
      }),
      { numRuns: 200 },
    );
  });

  it('honours untilNs: an item due after the limit waits for the next run', () => {
    const sim = new Simulation(1);
    const out: number[] = [];
    const line = new DelayLine<number>(sim, 10, (x) => out.push(x));
    for (let i = 0; i < 3; i++) sim.scheduleAt(i, () => line.push(i, 0, 0));
    expect(sim.run({ untilNs: 11 })).toEqual({ events: 5, reason: 'until' });
    expect(out).toEqual([0, 1]);
    expect(line.length).toBe(1);
    sim.run();
    expect(out).toEqual([0, 1, 2]);
  });

  it('rejects a delay that is not a whole number of ns', () => {
    expect(() => new DelayLine(new Simulation(1), 1.5, () => {})).toThrow(/whole number/);
  });
});
