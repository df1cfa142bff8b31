/**
 * The sandboxed BullMQ processor of `vfab worker` (BullMQ forks a child process that loads
 * dist/sweep/bullmq-processor.js and calls its default export once per job). Running points in a
 * child keeps the worker's own event loop free to renew job locks during a long point, and a
 * point that crashes its process takes down only that child.
 *
 * Two kinds of job: `point` (run one point) and `aggregate`, the parent of a sweep's BullMQ flow,
 * which BullMQ hands to a worker once every child has finished (or failed for good): it
 * aggregates its children's results across seeds with the submitter's own function, so the
 * aggregate in Redis is the one the submitter would have computed.
 *
 * A job planned by another vfab version or build is refused (the job fails with the reason; the
 * submitter records it as an error row): its result could differ from what the submitter's
 * own vfab would compute, and results of two builds must never mix.
 */
import { aggregateGroups, errorResult, type ComboGroup, type SweepAggregate } from './aggregate.js';
import type { ParamValue } from './file.js';
import { runPoint, type PointResult, type PointTask } from './point.js';
import { vfabBuild, vfabVersion } from './version.js';

/** What the submitter puts in a job. */
export interface PointJobData {
  task: PointTask;
  hash: string;
  build: string;
}

/** What a job returns: the result and the vfab that computed it. */
export interface PointJobResult {
  version: string;
  build: string;
  result: PointResult;
}

/** What the submitter puts in a flow's parent job. */
export interface AggregateJobData {
  kind: 'aggregate';
  version: string;
  build: string;
  metricNames: string[];
  /** The children's job ids grouped by parameter combination, in sweep order. */
  groups: Array<{ params: Record<string, ParamValue>; ids: string[] }>;
}

/** What the parent returns. `points` counts the children whose result or failure it found. */
export interface AggregateJobResult {
  version: string;
  build: string;
  points: number;
  aggregates: SweepAggregate[];
}

/** Checks a child's returned value and turns it into a point result (another build's result is an error row). */
export function acceptResult(id: string, value: unknown, metricNames: string[]): PointResult {
  const v = (typeof value === 'string' ? JSON.parse(value) : value) as Partial<PointJobResult> | null;
  if (v?.result && v.version === vfabVersion() && v.build === vfabBuild()) return v.result;
  const by = v ? `vfab ${v.version} (build ${v.build})` : 'nothing';
  return errorResult(metricNames, `point ${id}: result from ${by} discarded, the sweep runs vfab ${vfabVersion()} (build ${vfabBuild()})`);
}

/**
 * The parent's work: children values (completed) and ignored failures (failed for good), keyed
 * by job key `<prefix>:<queue>:<id>`, matched to the ids the submitter listed.
 */
export function aggregateChildren(data: AggregateJobData, values: Record<string, unknown>, failures: Record<string, string>): AggregateJobResult {
  const listed = new Set(data.groups.flatMap((g) => g.ids));
  const byId = new Map<string, PointResult>();
  const idOf = (key: string): string => key.slice(key.lastIndexOf(':') + 1);
  // other children (the submitter's seal) are not points
  for (const [key, v] of Object.entries(values)) {
    const id = idOf(key);
    if (!listed.has(id)) continue;
    let r: PointResult;
    try {
      r = acceptResult(id, v, data.metricNames);
    } catch {
      r = errorResult(data.metricNames, `point ${id}: its result is not JSON`);
    }
    byId.set(id, r);
  }
  for (const [key, why] of Object.entries(failures)) if (listed.has(idOf(key))) byId.set(idOf(key), errorResult(data.metricNames, `point ${idOf(key)} failed: ${why}`));
  let points = 0;
  const groups: Array<ComboGroup<PointResult>> = data.groups.map((g) => ({
    params: g.params,
    members: g.ids.flatMap((id) => {
      const r = byId.get(id);
      if (r) points++;
      return r ? [r] : [];
    }),
  }));
  return { version: vfabVersion(), build: vfabBuild(), points, aggregates: aggregateGroups(groups, data.metricNames) };
}

interface SandboxJob<T> {
  id?: string;
  name?: string;
  data: T;
  getChildrenValues?: () => Promise<Record<string, unknown>>;
  getIgnoredChildrenFailures?: () => Promise<Record<string, string>>;
}

/** The refusal message, or undefined when this vfab may run the job. */
export function refusal(data: Pick<PointJobData, 'build'> & { task: Pick<PointTask, 'version'> }, id: string | undefined): string | undefined {
  if (data.task.version === vfabVersion() && data.build === vfabBuild()) return undefined;
  return (
    `vfab worker refuses point ${id ?? '?'}: this worker runs vfab ${vfabVersion()} (build ${vfabBuild()}), ` +
    `the sweep was planned by vfab ${data.task.version} (build ${data.build}); run workers of the submitter's version`
  );
}

export default async function processJob(job: SandboxJob<PointJobData | AggregateJobData>): Promise<PointJobResult | AggregateJobResult> {
  if (job.name === 'aggregate') {
    const data = job.data as AggregateJobData;
    const why = refusal({ build: data.build, task: { version: data.version } }, job.id);
    if (why !== undefined) throw new Error(why);
    return aggregateChildren(data, (await job.getChildrenValues?.()) ?? {}, (await job.getIgnoredChildrenFailures?.()) ?? {});
  }
  return processPoint(job as SandboxJob<PointJobData>);
}

export function processPoint(job: { id?: string; data: PointJobData }): Promise<PointJobResult> {
  const why = refusal(job.data, job.id);
  if (why !== undefined) return Promise.reject(new Error(why));
  return Promise.resolve({ version: vfabVersion(), build: vfabBuild(), result: runPoint(job.data.task) });
}
