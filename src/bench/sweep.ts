/**
 * Sweep benchmarks: points per wall-clock second of a small sweep (two-hosts.yaml, 100 ms
 * simulated, 12 points) on the local worker-thread pool with 1 and with 2 workers; the ratio
 * 2w/1w is the parallel efficiency x2 (on a shared 2-core machine expect well under 2).
 * The BullMQ overhead per point is measured by src/bench/bullmq.ts.
 */
import { join } from 'node:path';
import type { BenchContext } from './main.js';
import { loadSweepText } from '../sweep/file.js';
import { localPool, runSweep } from '../sweep/run.js';

export const keys = ['sweep_points_per_s_1w', 'sweep_points_per_s_2w', 'sweep_parallel_efficiency'];

const SWEEP = `base: ${join(process.cwd(), 'topologies', 'two-hosts.yaml')}
until: 100ms
parameters:
  links[0].delay: [10us, 20us, 30us, 40us, 50us, 60us]
seeds: 1..2
metrics: { events: sim_events }
`;

async function rate(workers: number, ctx: BenchContext): Promise<number> {
  const plan = loadSweepText(SWEEP, join(process.cwd(), 'bench.sweep.yaml'));
  return ctx.median(3, async () => {
    const t0 = performance.now();
    await runSweep(plan, { executor: localPool(workers) });
    const s = (performance.now() - t0) / 1000;
    ctx.log(`sweep: ${plan.points.length} points, ${workers} worker(s): ${s.toFixed(2)} s`);
    return Math.round((plan.points.length / s) * 100) / 100;
  });
}

export async function run(ctx: BenchContext): Promise<Record<string, number | null>> {
  const one = await rate(1, ctx);
  const two = await rate(2, ctx);
  return {
    sweep_points_per_s_1w: one,
    sweep_points_per_s_2w: two,
    sweep_parallel_efficiency: Math.round((two / one / 2) * 1000) / 1000,
  };
}
