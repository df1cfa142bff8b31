/**
 * Simulation core speed: events per second with empty handlers. 1M events scheduled at
 * pseudo-random times within 1 s (so the heap works), then run; the figure counts schedule +
 * run. Median of 5.
 */
import { Simulation } from '../sim/simulation.js';
import type { BenchContext } from './main.js';

export const keys = ['sim_events_per_s'];

const N = 1_000_000;

export async function run(ctx: BenchContext): Promise<Record<string, number>> {
  const noop = (): void => undefined;
  const once = (): number => {
    const sim = new Simulation(1);
    let x = 12345;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      sim.schedule(x % 1_000_000_000, noop);
    }
    const r = sim.run();
    const dt = (performance.now() - t0) / 1000;
    if (r.events !== N) throw new Error(`ran ${r.events} events, expected ${N}`);
    return N / dt;
  };
  once();
  const eps = await ctx.median(5, once);
  ctx.log(`sim ${(eps / 1e6).toFixed(2)} M events/s`);
  return { sim_events_per_s: Math.round(eps) };
}
