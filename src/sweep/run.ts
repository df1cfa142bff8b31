/**
 * Running a sweep: every point that is not already in the cache goes to an executor (the local
 * worker-thread pool, or BullMQ), results are written to the cache as they arrive, and the
 * rows come back in the sweep's own order whatever order points finished in. That order, and
 * results that depend only on the point's input, make the output byte-identical between
 * `--jobs 1`, `--jobs 8` and any set of remote workers.
 *
 * Cache: `<out>/points/<hash>.json`, hash = pointHash(resolved input, seed, run length, vfab
 * version). Written to a temporary name and renamed, so a killed sweep leaves whole files only;
 * a rerun reuses every file it finds (unless `force`).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
// The named export, not the default: command bundles are CommonJS and load this ES-only package
// with require() (Node >= 20.19), whose namespace esbuild would otherwise wrap as the default.
import { Tinypool } from 'tinypool';
import { errorMessage } from '../errors.js';
import type { SweepPlan, ParamValue } from './file.js';
import { pointHash, type PointResult, type PointTask } from './point.js';
import { vfabVersion, workerFile } from './version.js';
import { aggregateGroups, groupByCombo, type SweepAggregate } from './aggregate.js';

export { stats, type MetricStats, type SweepAggregate } from './aggregate.js';

export interface SweepRow {
  index: number;
  params: Record<string, ParamValue>;
  seed: number;
  metrics: Record<string, number | null>;
  verdict: PointResult['verdict'];
  failures: string[];
  error: string | null;
  vfab_version: string;
  input_hash: string;
}

export interface SweepResult {
  sweep: string;
  vfab_version: string;
  points: number;
  passed: number;
  failed: number;
  errors: number;
  rows: SweepRow[];
  aggregates: SweepAggregate[];
}

export interface SweepProgress {
  done: number;
  total: number;
  failed: number;
  cached: number;
}

/** Runs tasks somewhere and resolves each one's result (rejecting only when the runner itself broke). */
export interface Executor {
  run(task: PointTask, hash: string): Promise<PointResult>;
  close(): Promise<void>;
  /** Told the points to run before any `run` (BullMQ makes them one flow under an aggregating parent). */
  prepare?(sweep: SweepOutline): Promise<void>;
  /**
   * After every point settled: the sweep's aggregates if the executor computed them itself over
   * every point of the sweep (the BullMQ flow's parent), else undefined (the submitter aggregates).
   */
  aggregates?(): Promise<SweepAggregate[] | undefined>;
}

/** What an executor learns about a sweep before its points run. */
export interface SweepOutline {
  /** Identifies the whole sweep (all its points, whether cached or not) and this vfab. */
  key: string;
  /** Points in the sweep, cached or not. */
  total: number;
  metricNames: string[];
  /** The points to run, in sweep order. */
  todo: Array<{ hash: string; combo: number; params: Record<string, ParamValue> }>;
}

export interface RunSweepOptions {
  outDir?: string;
  force?: boolean;
  onProgress?: (p: SweepProgress) => void;
  executor: Executor;
}

export function taskOf(plan: SweepPlan, i: number): PointTask {
  const p = plan.points[i]!;
  return {
    kind: plan.kind,
    text: p.text,
    basePath: plan.basePath,
    seed: p.seed,
    untilNs: plan.untilNs,
    metrics: plan.metrics.map((m) => ({ name: m.name, segs: m.segs })),
    expects: plan.expects,
    version: vfabVersion(),
  };
}

export async function runSweep(plan: SweepPlan, opts: RunSweepOptions): Promise<SweepResult> {
  const version = vfabVersion();
  const dir = opts.outDir === undefined ? undefined : join(opts.outDir, 'points');
  if (dir !== undefined) mkdirSync(dir, { recursive: true });
  const results: Array<PointResult | undefined> = new Array<PointResult | undefined>(plan.points.length);
  const hashes = plan.points.map((_, i) => pointHash(taskOf(plan, i)));
  const progress: SweepProgress = { done: 0, total: plan.points.length, failed: 0, cached: 0 };
  const todo: number[] = [];
  hashes.forEach((h, i) => {
    const cached = dir !== undefined && !opts.force ? readCached(join(dir, `${h}.json`), h) : undefined;
    if (cached) {
      results[i] = cached;
      progress.done++;
      progress.cached++;
      if (cached.verdict !== 'pass') progress.failed++;
    } else todo.push(i);
  });
  opts.onProgress?.({ ...progress });
  let remoteAggregates: SweepAggregate[] | undefined;
  try {
    await opts.executor.prepare?.({
      key: createHash('sha256').update(JSON.stringify([version, hashes])).digest('hex').slice(0, 32),
      total: plan.points.length,
      metricNames: plan.metrics.map((m) => m.name),
      todo: todo.map((i) => ({ hash: hashes[i]!, combo: plan.points[i]!.combo, params: plan.points[i]!.params })),
    });
    await Promise.all(
      todo.map(async (i) => {
        let r: PointResult;
        try {
          r = await opts.executor.run(taskOf(plan, i), hashes[i]!);
        } catch (e) {
          // The worker died (crash, out of memory): the point is recorded, the sweep goes on.
          r = { metrics: Object.fromEntries(plan.metrics.map((m) => [m.name, null])), verdict: 'error', failures: [], error: `worker failed: ${errorMessage(e)}` };
        }
        results[i] = r;
        if (dir !== undefined && r.error === null) writeCached(join(dir, `${hashes[i]!}.json`), hashes[i]!, version, r);
        progress.done++;
        if (r.verdict !== 'pass') progress.failed++;
        opts.onProgress?.({ ...progress });
      }),
    );
    remoteAggregates = await opts.executor.aggregates?.();
  } finally {
    await opts.executor.close();
  }
  const rows: SweepRow[] = plan.points.map((p, i) => {
    const r = results[i]!;
    return { index: i, params: p.params, seed: p.seed, metrics: r.metrics, verdict: r.verdict, failures: r.failures, error: r.error, vfab_version: version, input_hash: hashes[i]! };
  });
  return {
    sweep: plan.file,
    vfab_version: version,
    points: rows.length,
    passed: rows.filter((r) => r.verdict === 'pass').length,
    failed: rows.filter((r) => r.verdict === 'fail').length,
    errors: rows.filter((r) => r.verdict === 'error').length,
    rows,
    aggregates: remoteAggregates ?? aggregate(plan, rows),
  };
}

function readCached(file: string, hash: string): PointResult | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as { hash?: string; result?: PointResult };
    return v.hash === hash && v.result ? v.result : undefined;
  } catch {
    return undefined; // a damaged entry is simply recomputed
  }
}

function writeCached(file: string, hash: string, version: string, result: PointResult): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ hash, vfab_version: version, result })}\n`);
  renameSync(tmp, file);
}

/** Per combination (points that differ only by seed): n, mean, min, max, p50, p95 of each metric. */
export function aggregate(plan: SweepPlan, rows: readonly SweepRow[]): SweepAggregate[] {
  return aggregateGroups(groupByCombo(plan.points.map((p, i) => ({ combo: p.combo, params: p.params, item: rows[i]! }))), plan.metrics.map((m) => m.name));
}

/** The local executor: a tinypool of worker threads running dist/sweep/pool-worker.js. */
export function localPool(jobs: number): Executor {
  const pool = new Tinypool({ filename: workerFile('pool-worker.js'), minThreads: 1, maxThreads: Math.max(1, jobs), isolateWorkers: false });
  return {
    run: (task) => pool.run(task) as Promise<PointResult>,
    close: () => pool.destroy(),
  };
}
