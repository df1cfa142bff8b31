/**
 * QoS benchmarks: simulated I/Os per wall-clock second in a data-less run (16 disks sharing one
 * QEMU throttle group, a backend with a lognormal service time), and resident memory after an hour
 * of simulated I/O (streaming histograms and bounded timelines keep it flat).
 */
import type { BenchContext } from './main.js';
import { QosEngine } from '../qos/engine.js';
import { emptyLimits, OPS_TOTAL } from '../block/throttle/qemu-config.js';
import { defaultJob } from '../qos/workload.js';
import type { QosModel } from '../qos/model.js';

export const keys = ['qos_sim_ios_per_s', 'qos_sim_ios_per_s_throttled', 'qos_rss_mb_after_1h', 'qos_rss_mb_growth_1h', 'qos_heap_mb_growth_1h', 'qos_sim_1h_wall_s'];

/**
 * Simulated I/Os per second of CPU time (user + system of this process), so a loaded shared
 * machine does not halve the figure; the wall-clock rate is logged alongside.
 */
function rate(groupIops: number, ctx: BenchContext): Promise<number> {
  return ctx.median(5, () => {
    const e = new QosEngine(model(groupIops, 3e9));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    e.run();
    const c = process.cpuUsage(c0);
    const wall = (performance.now() - t0) / 1000;
    const cpu = (c.user + c.system) / 1e6;
    ctx.log(`qos: group ${groupIops} IOPS: ${e.completed} I/Os, ${(e.sim.eventsRun / e.completed).toFixed(2)} events per I/O, ${Math.round(e.completed / cpu)}/s CPU, ${Math.round(e.completed / wall)}/s wall`);
    return Math.round(e.completed / cpu);
  });
}

function model(groupIops: number, durationNs: number): QosModel {
  const limits = emptyLimits();
  limits.buckets[OPS_TOTAL]!.avg = groupIops;
  const disks = Array.from({ length: 16 }, (_, i) => ({ name: `vm${i}.vda`, size: 16 * 2 ** 30, backend: 'ssd', policy: undefined }));
  return {
    seed: 1,
    durationNs,
    intervalNs: 1e9,
    backends: [{ name: 'ssd', parallelism: 64, service: { kind: 'lognormal', p50Ns: 40_000, p99Ns: 200_000 }, bandwidth: 0 }],
    disks,
    groups: [{ name: 'tg0', members: disks.map((d) => d.name), policy: { kind: 'qemu', limits } }],
    jobs: disks.map((d, i) => ({ ...defaultJob(`job${i}`, d.name), rw: i % 2 ? 'randwrite' : 'randread', iodepth: 8, runtimeNs: durationNs, timeBased: true })),
  };
}

export async function run(ctx: BenchContext): Promise<Record<string, number | string | null>> {
  // the group checks and accounts every I/O; its limit sits above what the backend serves (~1.2M IOPS)
  const iosPerS = await rate(2_000_000, ctx);
  // the group's limit binds: QEMU arms one timer per throttled request
  const throttled = await rate(400_000, ctx);
  ctx.log(`qos: ${iosPerS} simulated I/Os per second`);
  (globalThis as { gc?: () => void }).gc?.();
  let rssStart = 0;
  let heapStart = 0;
  const t0 = performance.now();
  const e = new QosEngine(model(5_000, 3600e9));
  // memory once the run is set up and has run one simulated minute, against after the hour
  const gc = (globalThis as { gc?: () => void }).gc;
  e.run({
    onProgress: (now) => {
      if (now < 60e9 || rssStart !== 0) return;
      gc?.();
      const m = process.memoryUsage();
      rssStart = m.rss / 2 ** 20;
      heapStart = (m.heapUsed + m.arrayBuffers) / 2 ** 20;
    },
  });
  const wall = (performance.now() - t0) / 1000;
  gc?.();
  const rss = process.memoryUsage().rss / 2 ** 20;
  const heap = (process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers) / 2 ** 20; // JS heap + typed arrays
  ctx.log(`qos: 1 h simulated (${e.completed} I/Os) in ${wall.toFixed(1)} s, rss ${rss.toFixed(0)} MiB (${rssStart.toFixed(0)} MiB after the first simulated minute)`);
  return {
    qos_sim_ios_per_s: iosPerS,
    qos_sim_ios_per_s_throttled: throttled,
    qos_rss_mb_after_1h: Math.round(rss),
    qos_rss_mb_growth_1h: Math.round(rss - rssStart),
    qos_heap_mb_growth_1h: Math.round((heap - heapStart) * 10) / 10,
    qos_sim_1h_wall_s: Math.round(wall * 10) / 10,
  };
}
