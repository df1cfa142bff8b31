/**
 * Distributed sweeps on BullMQ/Redis: the submitter's executor and the connection helpers that
 * `vfab worker` shares. An adapter (it keeps wall-clock timers); `bullmq` and `ioredis` are
 * imported lazily so that commands which never touch Redis never load them.
 *
 * Design:
 * - one BullMQ job per point, job id `p-<input_hash>-<build>`: BullMQ ignores an add whose id
 *   exists, so a resumed submitter (or a second sweep sharing points) never queues a point twice,
 *   and a point finished while no submitter was listening is picked up from its completed job;
 * - the points are the children of one BullMQ flow per sweep: a parent job `aggregate`
 *   (id `s-<sweep key>-<build>`) that a worker runs once every child has finished, aggregating
 *   across seeds with the submitter's own function (bullmq-processor.ts). Because points are
 *   added to the flow a window at a time (`maxQueued`), the parent also waits on a "seal" child
 *   in a queue no worker reads; the submitter completes the seal after adding its last point,
 *   and a resumed submitter (same sweep, same parent id) re-attaches to the flow and seals it.
 *   When the parent saw every point of the sweep, its aggregates are the ones the submitter
 *   reports (they equal what the submitter would compute, by construction); when some points
 *   came from the local cache, or a point could not join the flow (it belongs to another
 *   sweep's live flow), the submitter aggregates itself;
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
import type { Executor, SweepOutline } from './run.js';
import type { PointResult, PointTask } from './point.js';
import { acceptResult, type AggregateJobData, type AggregateJobResult, type PointJobData } from './bullmq-processor.js';
import { errorResult, type SweepAggregate } from './aggregate.js';
import { vfabBuild, vfabVersion } from './version.js';

export { acceptResult } from './bullmq-processor.js';

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
  const isClosed = (): boolean => closed;
  /** Wakes the wait for the flow's parent (set while aggregates() waits). */
  let parentWake: (() => void) | undefined;
  let parentEvent = false;
  /** The sweep's flow: its parent, its seal, whether points may still join it, how many points the sweep has. */
  let flow: { parentId: string; sealQueue: string; sealId: string; open: boolean; total: number; metricNames: string[] } | undefined;

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
    const opts = { jobId: p.id, attempts: ATTEMPTS, backoff: { type: 'exponential' as const, delay: 1000 }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED };
    if (flow?.open) {
      try {
        // a point that fails for good must not hold the parent forever: it is aggregated as an error
        await queue.add('point', p.data, { ...opts, parent: { id: flow.parentId, queue: queue.qualifiedName }, ignoreDependencyOnFailure: true });
        return;
      } catch {
        // the point is a child of another live sweep's flow (BullMQ refuses a second parent):
        // queue it plain; this sweep's parent then lacks it and the submitter aggregates
      }
    }
    await queue.add('point', p.data, opts);
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
    if (id === flow?.parentId) {
      parentEvent = true;
      parentWake?.();
    }
    const p = outstanding.get(id);
    if (p) settle(id, acceptResult(id, returnvalue, names(p)));
  });
  events.on('failed', ({ jobId: id }) => {
    if (id === flow?.parentId) {
      parentEvent = true;
      parentWake?.();
    }
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

  /** Creates the sweep's flow (parent + seal), or re-attaches to the one an earlier submit of the same sweep made. */
  const prepare = async (sweep: SweepOutline): Promise<void> => {
    if (sweep.todo.length === 0) return;
    const parentId = `s-${sweep.key}-${vfabBuild()}`;
    const sealQueue = `${name}-seal-${sweep.key}`;
    flow = { parentId, sealQueue, sealId: `seal-${sweep.key}`, open: false, total: sweep.total, metricNames: sweep.metricNames };
    const state = await queue.getJobState(parentId);
    if (state === 'unknown') {
      const groups = new Map<number, AggregateJobData['groups'][number]>();
      for (const t of sweep.todo) {
        const g = groups.get(t.combo) ?? { params: t.params, ids: [] };
        g.ids.push(jobId(t.hash));
        groups.set(t.combo, g);
      }
      const data: AggregateJobData = { kind: 'aggregate', version: vfabVersion(), build: vfabBuild(), metricNames: sweep.metricNames, groups: [...groups.values()] };
      const { FlowProducer } = await import('bullmq');
      const producer = new FlowProducer({ connection });
      producer.on('error', () => undefined);
      try {
        await producer.add({
          name: 'aggregate',
          queueName: name,
          data,
          opts: { jobId: parentId, attempts: ATTEMPTS, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED },
          children: [{ name: 'seal', queueName: sealQueue, data: {}, opts: { jobId: flow.sealId, removeOnComplete: true } }],
        });
      } finally {
        await producer.close();
      }
      flow.open = true;
    } else flow.open = state === 'waiting-children';
  };

  /** Completes the seal (if no earlier submit did), waits for the parent, and takes its aggregates if it saw every point. */
  const aggregates = async (): Promise<SweepAggregate[] | undefined> => {
    if (!flow || closed) return undefined;
    if (flow.open) await seal(flow.sealQueue, flow.sealId);
    for (;;) {
      // shut() (Ctrl-C) may have run while we waited
      if (isClosed()) return undefined;
      const state = await queue.getJobState(flow.parentId);
      if (state === 'completed' || state === 'failed' || state === 'unknown') break;
      if (parentEvent) {
        // the event came between the state read and now: read the state again
        parentEvent = false;
        continue;
      }
      // woken by the parent's completed/failed event; the timeout covers an event lost in a reconnect
      await new Promise<void>((r) => {
        const t = setTimeout(done, POLL_MS);
        function done(): void {
          clearTimeout(t);
          parentWake = undefined;
          r();
        }
        parentWake = done;
      });
    }
    const parent = await queue.getJob(flow.parentId);
    const v = parent?.returnvalue as AggregateJobResult | string | undefined;
    const r = (typeof v === 'string' ? JSON.parse(v) : v) as AggregateJobResult | undefined;
    if (!r || r.version !== vfabVersion() || r.build !== vfabBuild() || r.points !== flow.total) return undefined;
    return r.aggregates;
  };

  /** The submitter takes the seal job by hand (no worker reads its queue) and completes it. */
  const seal = async (sealQueue: string, sealId: string): Promise<void> => {
    const { Queue: Q, Worker } = await import('bullmq');
    const q = new Q(sealQueue, { connection });
    q.on('error', () => undefined);
    try {
      // an earlier submit of this sweep may have sealed it already (getNextJob would then wait)
      if ((await q.getJobState(sealId)) !== 'waiting') return;
      const w = new Worker(sealQueue, null, { connection });
      w.on('error', () => undefined);
      try {
        const token = `seal-${process.pid}`;
        const job = (await w.getNextJob(token)) as { moveToCompleted(v: unknown, token: string, fetchNext: boolean): Promise<unknown> } | undefined;
        // BullMQ stores this value as given and its parent JSON-parses it: a number is valid either way
        if (job) await job.moveToCompleted(1, token, false);
      } finally {
        await w.close();
      }
      // the seal's queue held only the seal: leave no keys behind
      await q.obliterate({ force: true }).catch(() => undefined);
    } finally {
      await q.close();
    }
  };

  const shut = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    clearInterval(poll);
    parentWake?.();
    await Promise.allSettled([events.close(), queue.close()]);
  };

  return {
    run(task: PointTask, hash: string): Promise<PointResult> {
      return new Promise<PointResult>((resolve) => {
        waiting.push({ id: jobId(hash), data: { task, hash, build: vfabBuild() }, resolve });
        pump();
      });
    },
    prepare,
    aggregates,
    close: shut,
    interrupt: shut,
  };
}
