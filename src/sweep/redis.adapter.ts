/**
 * Distributed sweeps on BullMQ/Redis: the submitter's executor and the connection helpers that
 * `vfab worker` shares. An adapter (it keeps wall-clock timers); `bullmq` and `ioredis` are
 * imported lazily so that commands which never touch Redis never load them.
 *
 * Design:
 * - one BullMQ job per point, job id `p-<input_hash>-<build>`: BullMQ ignores an add whose id
 *   exists, so a resumed submitter (or a second sweep sharing points) never queues a point twice,
 *   and a point finished while no submitter was listening is picked up from its completed job;
 * - at most `maxQueued` points are in Redis at once (jobs carry the whole resolved base text);
 * - results arrive through QueueEvents; a poll of the outstanding jobs every few seconds covers
 *   events missed during a reconnect;
 * - a result is accepted only from a worker of the submitter's version and build (the worker
 *   also refuses such jobs; this is the second lock on the same door);
 * - `interrupt()` (Ctrl-C) closes the connections and leaves pending runs unsettled: the jobs
 *   stay queued, workers finish them, and the next submit collects them.
 * Costs: one Redis round trip per point to look its job up, one to add it, one event.
 */
import type { Queue, QueueEvents } from 'bullmq';
import { UserError, errorMessage } from '../errors.js';
import type { Executor } from './run.js';
import type { PointResult, PointTask } from './point.js';
import type { PointJobData, PointJobResult } from './bullmq-processor.js';
import { vfabBuild, vfabVersion } from './version.js';

export const DEFAULT_QUEUE = 'vfab-sweep';
export const DEFAULT_MAX_QUEUED = 1000;
/** Attempts per point (a refused or crashed attempt is retried with back-off 1 s, 2 s, …). */
export const ATTEMPTS = 3;
/** Finished jobs stay in Redis for a week (up to these counts) so a late resume can collect them. */
const KEEP = { age: 7 * 24 * 3600 };
const KEEP_COMPLETED = { ...KEEP, count: 100_000 };
const KEEP_FAILED = { ...KEEP, count: 10_000 };
const POLL_MS = 3000;

export interface RedisConnectionOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: Record<string, never>;
  maxRetriesPerRequest: null;
}

/** `redis://[user:pass@]host[:port][/db]` (or `rediss://` for TLS) -> connection options. */
export function parseRedisUrl(url: string, where = '--redis'): RedisConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError('SWEEP_REDIS_URL', `expected a URL like redis://host:6379, got "${url}"`, { where });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UserError('SWEEP_REDIS_URL', `expected a redis:// or rediss:// URL, got "${url}"`, { where });
  if (u.hostname === '') throw new UserError('SWEEP_REDIS_URL', `no host in "${url}"`, { where });
  const port = u.port === '' ? 6379 : Number(u.port);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && !(Number.isInteger(db) && db >= 0)) throw new UserError('SWEEP_REDIS_URL', `the database in "${url}" must be a whole number (redis://host:6379/0)`, { where });
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ's workers and event readers block on Redis; they need unlimited retries per request
    maxRetriesPerRequest: null,
  };
}

/** Connects once without retrying: a Redis that refuses or does not answer is a user error now, not an endless reconnect loop. */
export async function checkRedis(url: string, where = '--redis'): Promise<RedisConnectionOptions> {
  const opts = parseRedisUrl(url, where);
  const { Redis } = await import('ioredis');
  const r = new Redis({ ...opts, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 5000, enableOfflineQueue: false });
  // the socket's error (ECONNREFUSED, ENOTFOUND) says more than connect()'s "Connection is closed"
  let cause: unknown;
  r.on('error', (e) => { cause ??= e; });
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    throw new UserError('SWEEP_REDIS_UNREACHABLE', `cannot reach Redis at ${url}: ${errorMessage(cause ?? e)}`, { where, hint: 'start redis-server there, or pass the URL of a running one' });
  } finally {
    r.disconnect();
  }
  return opts;
}

export function jobId(hash: string): string {
  return `p-${hash}-${vfabBuild()}`;
}

export interface RedisExecutorOptions {
  url: string;
  queue?: string;
  maxQueued?: number;
  /** Told once when no worker is listening on the queue yet (the sweep waits for one). */
  onNoWorkers?: (message: string) => void;
}

export interface RedisExecutor extends Executor {
  /** Stops listening, leaves the queued jobs to the workers; pending runs never settle. */
  interrupt(): Promise<void>;
}

interface Pending {
  id: string;
  data: PointJobData;
  resolve: (r: PointResult) => void;
}

/** Checks a returned value and turns it into a point result. */
export function acceptResult(id: string, value: unknown, metricNames: string[]): PointResult {
  const v = (typeof value === 'string' ? JSON.parse(value) : value) as Partial<PointJobResult> | null;
  if (v?.result && v.version === vfabVersion() && v.build === vfabBuild()) return v.result;
  const by = v ? `vfab ${v.version} (build ${v.build})` : 'nothing';
  return errorResult(metricNames, `point ${id}: result from ${by} discarded, the sweep runs vfab ${vfabVersion()} (build ${vfabBuild()})`);
}

function errorResult(metricNames: string[], error: string): PointResult {
  return { metrics: Object.fromEntries(metricNames.map((m) => [m, null])), verdict: 'error', failures: [], error };
}

export async function redisExecutor(opts: RedisExecutorOptions): Promise<RedisExecutor> {
  const connection = await checkRedis(opts.url);
  const name = opts.queue ?? DEFAULT_QUEUE;
  const maxQueued = opts.maxQueued ?? DEFAULT_MAX_QUEUED;
  const { Queue: QueueClass, QueueEvents: EventsClass } = await import('bullmq');
  const queue: Queue = new QueueClass(name, { connection });
  const events: QueueEvents = new EventsClass(name, { connection });
  queue.on('error', () => undefined); // ioredis reconnects by itself; a lost Redis shows as no progress
  events.on('error', () => undefined);
  await events.waitUntilReady();
  await queue.waitUntilReady();
  if (opts.onNoWorkers && (await queue.getWorkersCount()) === 0) {
    opts.onNoWorkers(`no vfab worker is connected to queue "${name}" on ${opts.url} yet: the points wait in Redis until one is (vfab worker --redis ${opts.url}${name === DEFAULT_QUEUE ? '' : ` --queue ${name}`})`);
  }

  const waiting: Pending[] = [];
  const outstanding = new Map<string, Pending>();
  let closed = false;

  const settle = (id: string, r: PointResult): void => {
    const p = outstanding.get(id);
    if (!p) return;
    outstanding.delete(id);
    p.resolve(r);
    pump();
  };
  const names = (p: Pending): string[] => p.data.task.metrics.map((m) => m.name);

  /** Looks at a point's job: settles it when finished; `fresh` failures (from an earlier sweep) are removed to be rerun. */
  const inspect = async (p: Pending, fresh: boolean): Promise<'settled' | 'running' | 'absent'> => {
    const state = await queue.getJobState(p.id);
    if (state === 'completed' || state === 'failed') {
      // read after the state: a job read before it finished has no return value yet
      const job = await queue.getJob(p.id);
      if (!job) return 'absent';
      if (state === 'completed') settle(p.id, acceptResult(p.id, job.returnvalue, names(p)));
      else if (fresh) {
        await job.remove();
        return 'absent';
      } else settle(p.id, errorResult(names(p), `point ${p.id} failed after ${job.attemptsMade} attempt(s): ${job.failedReason}`));
      return 'settled';
    }
    return state === 'unknown' ? 'absent' : 'running';
  };

  const submit = async (p: Pending): Promise<void> => {
    // a job left by an earlier submit: take its result, or rerun it if it failed (errors are not kept)
    if ((await inspect(p, true)) !== 'absent') return;
    await queue.add('point', p.data, { jobId: p.id, attempts: ATTEMPTS, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED });
  };

  const pump = (): void => {
    while (!closed && outstanding.size < maxQueued && waiting.length > 0) {
      const p = waiting.shift()!;
      if (outstanding.has(p.id)) {
        // the same point twice in one sweep (cannot happen: hashes differ) would share one job
        continue;
      }
      outstanding.set(p.id, p);
      submit(p).catch((e: unknown) => settle(p.id, errorResult(names(p), `point ${p.id}: could not queue it: ${errorMessage(e)}`)));
    }
  };

  events.on('completed', ({ jobId: id, returnvalue }) => {
    const p = outstanding.get(id);
    if (p) settle(id, acceptResult(id, returnvalue, names(p)));
  });
  events.on('failed', ({ jobId: id }) => {
    // also sent for attempts that will be retried: only a job in the failed set is finished
    const p = outstanding.get(id);
    if (p) void inspect(p, false).catch(() => undefined);
  });

  // Safety net for events lost while a connection was down, or a job someone removed.
  const poll = setInterval(() => {
    for (const p of [...outstanding.values()]) {
      void inspect(p, false).then(async (s) => {
        if (s === 'absent' && outstanding.has(p.id)) await submit(p);
      }).catch(() => undefined);
    }
  }, POLL_MS);
  poll.unref();

  const shut = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    clearInterval(poll);
    await Promise.allSettled([events.close(), queue.close()]);
  };

  return {
    run(task: PointTask, hash: string): Promise<PointResult> {
      return new Promise<PointResult>((resolve) => {
        waiting.push({ id: jobId(hash), data: { task, hash, build: vfabBuild() }, resolve });
        pump();
      });
    },
    close: shut,
    interrupt: shut,
  };
}
