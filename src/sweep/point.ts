/**
 * One point of a sweep: load the resolved base text, run it with the point's seed through the
 * same library calls `vfab run --json` / `vfab qos run --json` use, pick the metrics out of the
 * JSON summary and check the expectations. Pure in its inputs: the same `PointTask` gives the
 * same `PointResult` on any machine, so where a point ran never shows in its result.
 */
import { createHash } from 'node:crypto';
import { dirname, isAbsolute, join } from 'node:path';
import { UserError, UserErrors, errorMessage } from '../errors.js';
import { runTopology } from '../fabric/run.js';
import { loadQosFileText, openDataPaths } from '../qos/file.adapter.js';
import { runQos } from '../qos/run.js';
import { readTextFile } from '../topology/file.adapter.js';
import { loadTopologyText, type TopologyModel } from '../topology/index.js';
import type { QosFile } from '../qos/file.js';
import { holds, type SweepExpect } from './expect.js';
import { lookup, type PathSeg } from './path.js';

export type BaseKind = 'topology' | 'qos';

/** Everything a worker needs for one point (structured-clone and JSON safe). */
export interface PointTask {
  kind: BaseKind;
  text: string;
  basePath: string;
  seed: number;
  untilNs: number | undefined;
  metrics: Array<{ name: string; segs: PathSeg[] }>;
  expects: SweepExpect[];
  /** The version of vfab that planned the sweep: a worker of another version refuses the task. */
  version: string;
}

export interface PointResult {
  /** Metric name -> value (null when the summary has no such number). */
  metrics: Record<string, number | null>;
  verdict: 'pass' | 'fail' | 'error';
  /** Failed expectations, or the error's message. */
  failures: string[];
  error: string | null;
}

/** The cache key of a point: hash of its resolved input, seed, run length and the vfab version. */
export function pointHash(task: Pick<PointTask, 'kind' | 'text' | 'seed' | 'untilNs' | 'version'>): string {
  return createHash('sha256')
    .update(JSON.stringify([task.kind, task.text, task.seed, task.untilNs ?? null, task.version]))
    .digest('hex')
    .slice(0, 32);
}

/** Loads the base text (topology or QoS) as the CLI would load the file at `basePath`. */
export function loadBase(kind: BaseKind, text: string, basePath: string): TopologyModel | QosFile {
  if (kind === 'qos') return loadQosFileText(text, basePath);
  const dir = dirname(basePath);
  return loadTopologyText(text, basePath, {
    readFile: (rel) => {
      const full = isAbsolute(rel) ? rel : join(dir, rel);
      return { text: readTextFile(full), file: full };
    },
  });
}

/** The JSON summary of one run (what `vfab run --json` / `vfab qos run --json` print). */
export function runSummary(task: Pick<PointTask, 'kind' | 'text' | 'basePath' | 'seed' | 'untilNs'>): unknown {
  if (task.kind === 'qos') {
    const qos = loadBase('qos', task.text, task.basePath) as QosFile;
    qos.model.seed = task.seed;
    const images = openDataPaths(qos);
    try {
      return JSON.parse(JSON.stringify(runQos(qos.model, images.data.size ? { data: images.data } : {}).result)) as unknown;
    } finally {
      images.close();
    }
  }
  const model = loadBase('topology', task.text, task.basePath) as TopologyModel;
  const { summary } = runTopology(model, { seed: task.seed, baseDir: dirname(task.basePath), ...(task.untilNs !== undefined ? { untilNs: task.untilNs } : {}) });
  return JSON.parse(JSON.stringify(summary)) as unknown;
}

/** Runs one point; every failure is recorded in the result, never thrown. */
export function runPoint(task: PointTask): PointResult {
  let summary: unknown;
  try {
    summary = runSummary(task);
  } catch (e) {
    const msg = e instanceof UserError || e instanceof UserErrors ? e.render() : errorMessage(e);
    return { metrics: Object.fromEntries(task.metrics.map((m) => [m.name, null])), verdict: 'error', failures: [], error: msg };
  }
  const metrics: Record<string, number | null> = {};
  for (const m of task.metrics) {
    const v = lookup(summary, m.segs);
    metrics[m.name] = typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'boolean' ? Number(v) : null;
  }
  const failures = task.expects.filter((e) => !holds(e, metrics[e.metric])).map((e) => `${e.text} (got ${metrics[e.metric] ?? 'nothing'})`);
  return { metrics, verdict: failures.length ? 'fail' : 'pass', failures, error: null };
}
