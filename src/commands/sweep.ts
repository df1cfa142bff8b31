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
    'With --out DIR each point\'s result is cached (keyed by its resolved input, seed and vfab version): a rerun skips them.';
  static override examples = [
    '<%= config.bin %> sweep topologies/sweeps/migration-dirty-rate.sweep.yaml --out out/sweep',
    '<%= config.bin %> sweep topologies/sweeps/throttle-p99.sweep.yaml --jobs 2 --csv out/p99.csv',
  ];
  static override args = { file: Args.string({ description: 'sweep YAML file (*.sweep.yaml)', required: true }) };
  static override flags = {
    jobs: Flags.string({ description: 'worker threads (default: the core count)' }),
    out: Flags.string({ description: 'cache folder: one result file per point; a rerun skips points found there' }),
    force: Flags.boolean({ description: 'rerun points found in the --out cache' }),
    json: Flags.boolean({ description: 'print the results (rows and aggregates) as one JSON object' }),
    csv: Flags.string({ description: 'write one CSV row per point to this file' }),
    report: Flags.string({ description: 'write an HTML page with each metric plotted against each parameter (SVG)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Sweep);
    const jobs = flags.jobs === undefined ? availableParallelism() : Number(flags.jobs);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 1024) throw new UserError('CLI_BAD_FLAG', `expected a whole number from 1 to 1024, got "${flags.jobs}"`, { where: '--jobs' });
    const plan = loadSweepFile(args.file);
    if (flags.report !== undefined) checkOutputPath(flags.report, '--report');
    const bar = process.stderr.isTTY
      ? new cliProgress.SingleBar({ format: 'sweep [{bar}] {value}/{total} points | {failed} failed | ETA {eta_formatted}', hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic)
      : undefined;
    bar?.start(plan.points.length, 0, { failed: 0 });
    let result;
    try {
      result = await runSweep(plan, {
        executor: localPool(jobs),
        ...(flags.out !== undefined ? { outDir: flags.out } : {}),
        force: flags.force,
        ...(bar ? { onProgress: (p: { done: number; failed: number }) => { bar.update(p.done, { failed: p.failed }); } } : {}),
      });
    } finally {
      bar?.stop();
    }
    if (flags.csv !== undefined) writeFileSync(flags.csv, renderCsv(result));
    if (flags.report !== undefined) writeOutput(flags.report, renderSweepReport(plan, result), '--report');
    if (flags.json) this.printJson(result);
    else process.stdout.write(renderSweep(result));
    process.exitCode = result.passed === result.points ? 0 : 1;
  }
}
