/**
 * The sandboxed BullMQ processor of `vfab worker` (BullMQ forks a child process that loads
 * dist/sweep/bullmq-processor.js and calls its default export once per job). Running points in a
 * child keeps the worker's own event loop free to renew job locks during a long point, and a
 * point that crashes its process takes down only that child.
 *
 * A job planned by another vfab version or build is refused (the job fails with the reason; the
 * submitter records it as an error row): its result could differ from what the submitter's
 * own vfab would compute, and results of two builds must never mix.
 */
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

/** The refusal message, or undefined when this vfab may run the job. */
export function refusal(data: Pick<PointJobData, 'build'> & { task: Pick<PointTask, 'version'> }, id: string | undefined): string | undefined {
  if (data.task.version === vfabVersion() && data.build === vfabBuild()) return undefined;
  return (
    `vfab worker refuses point ${id ?? '?'}: this worker runs vfab ${vfabVersion()} (build ${vfabBuild()}), ` +
    `the sweep was planned by vfab ${data.task.version} (build ${data.build}); run workers of the submitter's version`
  );
}

export default function processPoint(job: { id?: string; data: PointJobData }): Promise<PointJobResult> {
  const why = refusal(job.data, job.id);
  if (why !== undefined) return Promise.reject(new Error(why));
  return Promise.resolve({ version: vfabVersion(), build: vfabBuild(), result: runPoint(job.data.task) });
}
