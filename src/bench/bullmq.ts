/**
 * BullMQ overhead per point: a small sweep (two-hosts.yaml, 100 ms simulated, 12 points) through
 * Redis with one warm in-process BullMQ worker (a sandboxed child, as `vfab worker
 * --concurrency 1` runs it), minus the same points run inline in this process: what remains is
 * the queue's cost per point (adding the job, the worker's fetch and lock, IPC to the child, the
 * completion event, the submitter's look-up). A warm-up sweep first starts the child and
 * JIT-compiles both sides; each round then uses new seeds (jobs are keyed by point: a repeated
 * point would come back from Redis without running). Starts its own redis-server on a free
 * loopback port and kills it after; without redis-server the figure is null and
 * `bullmq_skipped` says why.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { BenchContext } from './main.js';
import { loadSweepText } from '../sweep/file.js';
import { runSweep, type Executor } from '../sweep/run.js';
import { runPoint } from '../sweep/point.js';
import { checkRedis, redisExecutor } from '../sweep/redis.adapter.js';
import { startWorker } from '../sweep/worker.adapter.js';
import { freePort } from './free-port.js';

export const keys = ['bullmq_overhead_ms_per_point', 'bullmq_skipped'];

const sweep = (seed: number): string => `base: ${join(process.cwd(), 'topologies', 'two-hosts.yaml')}
until: 100ms
parameters:
  links[0].delay: [10us, 20us, 30us, 40us, 50us, 60us]
seeds: ${seed}..${seed + 1}
metrics: { events: sim_events }
`;

async function startRedis(): Promise<{ url: string; proc: ChildProcess } | string> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
  const failed = new Promise<string>((r) => proc.once('error', (e) => r(`redis-server not started: ${e.message}`)));
  for (let i = 0; i < 50; i++) {
    const up = await Promise.race([checkRedis(url).then(() => true, () => false), failed]);
    if (typeof up === 'string') return up;
    if (up) return { url, proc };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  return 'redis-server did not answer within 5 s';
}

export async function run(ctx: BenchContext): Promise<Record<string, number | string | null>> {
  const redis = await startRedis();
  if (typeof redis === 'string') {
    ctx.log(`bullmq: skipped: ${redis}`);
    return { bullmq_overhead_ms_per_point: null, bullmq_skipped: redis };
  }
  const plan = (seed: number) => loadSweepText(sweep(seed), join(process.cwd(), 'bench.sweep.yaml'));
  const inline: Executor = { run: (task) => Promise.resolve(runPoint(task)), close: () => Promise.resolve() };
  const w = await startWorker({ url: redis.url, queue: 'bench', concurrency: 1, log: () => undefined });
  try {
    let seed = 1;
    await runSweep(plan(seed), { executor: await redisExecutor({ url: redis.url, queue: 'bench' }) });
    await runSweep(plan(seed), { executor: inline });
    const overhead = await ctx.median(3, async () => {
      const p = plan((seed += 2));
      const t0 = performance.now();
      await runSweep(p, { executor: inline });
      const local = performance.now() - t0;
      const executor = await redisExecutor({ url: redis.url, queue: 'bench' }); // connecting is once per sweep, not per point
      const t1 = performance.now();
      await runSweep(p, { executor });
      const remote = performance.now() - t1;
      ctx.log(`bullmq: ${p.points.length} points: inline ${local.toFixed(0)} ms, through BullMQ ${remote.toFixed(0)} ms`);
      return Math.round(((remote - local) / p.points.length) * 100) / 100;
    });
    return { bullmq_overhead_ms_per_point: overhead, bullmq_skipped: null };
  } finally {
    await w.close();
    redis.proc.kill('SIGKILL');
  }
}
