/**
 * `vfab worker`: a BullMQ worker that runs sweep points from Redis until told to stop. An
 * adapter (wall-clock locks and timers live in BullMQ); `bullmq` is imported lazily.
 *
 * Each job runs in a sandboxed child process (dist/sweep/bullmq-processor.js), so this process's
 * event loop stays free to renew the job's lock however long a point computes. When a worker
 * dies (SIGKILL, machine lost) its lock expires after `lockMs`; any other worker's stalled-job
 * check then puts the job back in the queue and it runs again elsewhere. Stopping gracefully
 * (SIGINT/SIGTERM) finishes the points in hand and takes no new ones.
 */
import type { Worker } from 'bullmq';
import { errorMessage } from '../errors.js';
import { checkRedis, DEFAULT_QUEUE } from './redis.adapter.js';
import { vfabBuild, vfabVersion, workerFile } from './version.js';

export const DEFAULT_LOCK_MS = 30_000;

export interface WorkerOptions {
  url: string;
  queue?: string;
  concurrency: number;
  /** How long a job stays locked without its worker renewing the lock (and the stalled-check period). */
  lockMs?: number;
  log: (line: string) => void;
}

export interface RunningWorker {
  name: string;
  /** Graceful: finish the points in hand. `force`: abandon them (other workers take them over after the lock expires). */
  close(force?: boolean): Promise<void>;
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const connection = await checkRedis(opts.url);
  const queue = opts.queue ?? DEFAULT_QUEUE;
  const lockMs = opts.lockMs ?? DEFAULT_LOCK_MS;
  const { Worker: WorkerClass } = await import('bullmq');
  const name = `vfab-worker-${process.pid}`;
  const worker: Worker = new WorkerClass(queue, workerFile('bullmq-processor.js'), {
    connection,
    name,
    concurrency: opts.concurrency,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    // a point whose worker died twice is given up as failed (the submitter records why)
    maxStalledCount: 2,
    useWorkerThreads: false,
  });
  worker.on('error', (e) => opts.log(`redis: ${errorMessage(e)}`));
  worker.on('active', (job) => opts.log(`start ${job.id ?? '?'}`));
  worker.on('completed', (job) => opts.log(`done ${job.id ?? '?'}`));
  worker.on('failed', (job, e) => opts.log(`failed ${job?.id ?? '?'} (attempt ${job?.attemptsMade ?? '?'}): ${errorMessage(e)}`));
  await worker.waitUntilReady();
  opts.log(`${name}: vfab ${vfabVersion()} (build ${vfabBuild()}), queue "${queue}" on ${opts.url}, concurrency ${opts.concurrency}`);
  return {
    name,
    close: (force = false) => worker.close(force),
  };
}
