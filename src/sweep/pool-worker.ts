/**
 * The worker-thread entry of the local pool (tinypool loads dist/sweep/pool-worker.js): one
 * point per call, a fresh run each time (runs share no state: every object is built per run).
 */
import { runPoint, type PointResult, type PointTask } from './point.js';
import { vfabVersion } from './version.js';

export default function run(task: PointTask): PointResult {
  if (task.version !== vfabVersion()) {
    return { metrics: {}, verdict: 'error', failures: [], error: `worker runs vfab ${vfabVersion()}, the sweep was planned by ${task.version}` };
  }
  return runPoint(task);
}
