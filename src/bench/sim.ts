/**
 * Simulation core speed: events per second with empty handlers, measured with the classic "hold"
 * model of event-queue benchmarks: 10,000 events pending at all times, each handler (otherwise
 * empty) schedules one new event a pseudo-random delay ahead, until 2M events have run. This
 * exercises schedule + pop + dispatch on a heap of realistic size. Median of 5.
 *
 * (With 1M events queued up front the figure drops several-fold: the heap no longer fits in the
 * CPU caches. A fabric rarely has more than a few thousand events pending.)
 */
import { Simulation } from '../sim/simulation.js';
import type { BenchContext } from './main.js';

export const keys = ['sim_events_per_s'];

const PENDING = 10_000;
const EVENTS = 2_000_000;

export async function run(ctx: BenchContext): Promise<Record<string, number>> {
  const once = (): number => {
    const sim = new Simulation(1);
    let x = 12345;
    let scheduled = 0;
    const handler = (): void => {
      if (scheduled < EVENTS) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        scheduled++;
        sim.schedule(x & 0xfffff, handler);
      }
    };
    for (let i = 0; i < PENDING; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      scheduled++;
      sim.schedule(x & 0xfffff, handler);
    }
    const t0 = performance.now();
    const r = sim.run();
    const dt = (performance.now() - t0) / 1000;
    if (r.events !== EVENTS) throw new Error(`ran ${r.events} events, expected ${EVENTS}`);
    return EVENTS / dt;
  };
  once();
  const eps = await ctx.median(5, once);
  ctx.log(`sim ${(eps / 1e6).toFixed(2)} M events/s`);
  return { sim_events_per_s: Math.round(eps) };
}
