import { availableParallelism } from 'node:os';
import { writeFileSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import cliProgress from 'cli-progress';
import { BaseCommand } from '../cli/base-command.js';
import { UserError } from '../errors.js';
import { loadSweepFile } from '../sweep/file.js';
import { localPool, runSweep } from '../sweep/run.js';
import { renderCsv, renderSweep } from '../sweep/render.js';
import { renderSweepReport } from '../sweep/plot.js';
import { checkOutputPath, writeOutput } from '../report/output.adapter.js';

export default class Sweep extends BaseCommand {
  static override summary = 'Run a parameter sweep: every point (parameters x seeds) a fresh deterministic run, on all cores.';
  static override description =
    'Exit 0 when every point meets the expectations, 1 when any fails or errors, 2 when the sweep file is malformed.\n' +
    'With --out DIR each point\'s result is cached (keyed by its resolved input, seed and vfab version): a rerun skips them.\n' +
    'With --redis URL the points become BullMQ jobs run by `vfab worker` processes on any machines; results are the same bytes as a local run. Ctrl-C leaves the jobs queued: the same command resumes.';
  static override examples = [
    '<%= config.bin %> sweep topologies/sweeps/migration-dirty-rate.sweep.yaml --out out/sweep',
    '<%= config.bin %> sweep topologies/sweeps/throttle-p99.sweep.yaml --jobs 2 --csv out/p99.csv',
    '<%= config.bin %> sweep topologies/sweeps/throttle-p99.sweep.yaml --redis redis://127.0.0.1:6379 --out out/p99',
  ];
  static override args = { file: Args.string({ description: 'sweep YAML file (*.sweep.yaml)', required: true }) };
  static override flags = {
    jobs: Flags.string({ description: 'worker threads (default: the core count)' }),
    out: Flags.string({ description: 'cache folder: one result file per point; a rerun skips points found there' }),
    force: Flags.boolean({ description: 'rerun points found in the --out cache' }),
    json: Flags.boolean({ description: 'print the results (rows and aggregates) as one JSON object' }),
    csv: Flags.string({ description: 'write one CSV row per point to this file' }),
    report: Flags.string({ description: 'write an HTML page with each metric plotted against each parameter (SVG)' }),
    redis: Flags.string({ description: 'run the points on `vfab worker` processes through this Redis (BullMQ), e.g. redis://127.0.0.1:6379' }),
    queue: Flags.string({ description: 'with --redis: the BullMQ queue name (the workers\' --queue)', default: 'vfab-sweep' }),
    'max-queued': Flags.string({ description: 'with --redis: most points in Redis at once (default 1000)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Sweep);
    const jobs = flags.jobs === undefined ? availableParallelism() : Number(flags.jobs);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 1024) throw new UserError('CLI_BAD_FLAG', `expected a whole number from 1 to 1024, got "${flags.jobs}"`, { where: '--jobs' });
    if (flags.redis !== undefined && flags.jobs !== undefined) throw new UserError('CLI_BAD_FLAG', 'with --redis the points run on `vfab worker` processes: set their --concurrency instead', { where: '--jobs' });
    if (flags.redis === undefined && flags['max-queued'] !== undefined) throw new UserError('CLI_BAD_FLAG', 'only applies with --redis', { where: '--max-queued' });
    const maxQueued = flags['max-queued'] === undefined ? undefined : Number(flags['max-queued']);
    if (maxQueued !== undefined && !(Number.isInteger(maxQueued) && maxQueued >= 1 && maxQueued <= 1_000_000)) throw new UserError('CLI_BAD_FLAG', `expected a whole number from 1 to 1000000, got "${flags['max-queued']}"`, { where: '--max-queued' });
    const plan = loadSweepFile(args.file);
    if (flags.report !== undefined) checkOutputPath(flags.report, '--report');
    const bar = process.stderr.isTTY
      ? new cliProgress.SingleBar({ format: 'sweep [{bar}] {value}/{total} points | {failed} failed | ETA {eta_formatted}', hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic)
      : undefined;
    bar?.start(plan.points.length, 0, { failed: 0 });
    // bullmq is loaded only for --redis (vfab's start-up stays free of it)
    const remote = flags.redis === undefined ? undefined : await (await import('../sweep/redis.adapter.js')).redisExecutor({ url: flags.redis, queue: flags.queue, ...(maxQueued !== undefined ? { maxQueued } : {}), onNoWorkers: (m) => process.stderr.write(`vfab sweep: ${m}\n`) });
    let done = 0;
    const onSigint = (): void => {
      // Ctrl-C: results so far are cached (--out) and the queued jobs stay in Redis; the same command resumes.
      bar?.stop();
      process.stderr.write(`vfab sweep: interrupted with ${done} of ${plan.points.length} points done; the queued points stay in Redis for the workers, run the same command again to collect them\n`);
      void remote!.interrupt().finally(() => process.exit(130));
    };
    if (remote) process.on('SIGINT', onSigint);
    let result;
    try {
      result = await runSweep(plan, {
        executor: remote ?? localPool(jobs),
        ...(flags.out !== undefined ? { outDir: flags.out } : {}),
        force: flags.force,
        onProgress: (p: { done: number; failed: number }) => {
          done = p.done;
          bar?.update(p.done, { failed: p.failed });
        },
      });
    } finally {
      bar?.stop();
      process.off('SIGINT', onSigint);
    }
    if (flags.csv !== undefined) writeFileSync(flags.csv, renderCsv(result));
    if (flags.report !== undefined) writeOutput(flags.report, renderSweepReport(plan, result), '--report');
    if (flags.json) this.printJson(result);
    else process.stdout.write(renderSweep(result));
    process.exitCode = result.passed === result.points ? 0 : 1;
  }
}
