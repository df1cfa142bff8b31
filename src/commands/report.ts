import { Args, Flags } from '@oclif/core';
import { existsSync } from 'node:fs';
import { BaseCommand } from '../cli/base-command.js';
import { UserError } from '../errors.js';
import { readTextFile } from '../topology/file.adapter.js';
import { loadTopology } from '../topology/load.js';
import type { TopologyModel } from '../topology/model.js';
import { loadAssets } from '../report/assets.adapter.js';
import { commandLine } from '../report/command-line.js';
import { checkOutputPath, writeOutput } from '../report/output.adapter.js';
import { parseSummary } from '../report/report.js';
import { buildRunReport, sameTopology } from '../report/run-report.js';

/** Summaries larger than this are refused (the examples' are well under 1 MiB). */
const MAX_SUMMARY_BYTES = 64 * 1024 * 1024;

export default class Report extends BaseCommand {
  static override summary = 'Turn a saved run summary (vfab run FILE --json) into a self-contained HTML report.';
  static override description =
    'The report holds the clickable topology diagram (when the topology file named in the summary is found and\n' +
    'unchanged), the timeline of the run, flow and MAC tables, and how to reproduce it. It opens offline.';
  static override examples = [
    '<%= config.bin %> run topologies/live-migration.yaml --json > out/lm.json && <%= config.bin %> report out/lm.json -o out/lm.html',
  ];
  static override args = { summary: Args.string({ description: 'run summary JSON (vfab run FILE --json)', required: true }) };
  static override flags = {
    output: Flags.string({ char: 'o', description: 'HTML file to write', required: true }),
    topology: Flags.string({ description: 'topology file to draw (default: the one named in the summary)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Report);
    checkOutputPath(flags.output, '--output');
    const text = readTextFile(args.summary);
    if (text.length > MAX_SUMMARY_BYTES) throw new UserError('REPORT_SUMMARY_TOO_BIG', `larger than ${MAX_SUMMARY_BYTES} bytes`, { where: args.summary });
    const summary = parseSummary(text, args.summary);
    let model: TopologyModel | undefined;
    if (flags.topology !== undefined) {
      model = loadTopology(flags.topology);
      if (!sameTopology(summary, model)) throw new UserError('REPORT_TOPOLOGY_MISMATCH', `this is not the topology the summary ran (topology_sha256 differs)`, { where: '--topology' });
    } else if (summary.topology_file !== undefined && existsSync(summary.topology_file)) {
      const m = loadTopology(summary.topology_file);
      if (sameTopology(summary, m)) model = m;
      else process.stderr.write(`vfab: ${summary.topology_file} changed since the run (topology_sha256 differs): the report has no diagram\n`);
    }
    const html = await buildRunReport(summary, { command: commandLine(this.argv.length ? ['report', ...this.argv] : ['report', args.summary]), assets: loadAssets(), ...(model ? { model } : {}) });
    writeOutput(flags.output, html, '--output');
    process.stdout.write(`wrote ${flags.output}\n`);
  }
}
