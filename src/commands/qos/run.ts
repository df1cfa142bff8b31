import { Args, Flags } from '@oclif/core';
import cliProgress from 'cli-progress';
import { parseSeedFlag } from '../../cli/flags.js';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { loadJobOrQosFile, openDataPaths, writeCharts, writeFioLogs } from '../../qos/file.adapter.js';
import { FioLogs } from '../../qos/fio-logs.js';
import { maxRuntimeFlag, parseMaxRuntime } from '../../cli/fio-job.js';
import { runQos } from '../../qos/run.js';
import { qosCharts } from '../../qos/svg.js';
import { renderRun } from '../../qos/render.js';
import { parseDuration, unitMessage } from '../../util/units.js';
import { commandLine } from '../../report/command-line.js';
import { checkOutputPath, writeOutput } from '../../report/output.adapter.js';
import { buildQosReport } from '../../report/qos-report.adapter.js';

export default class QosRun extends BaseCommand {
  static override summary = 'Run a QoS file: fio-style jobs on throttled disks, in virtual time.';
  static override description =
    'Prints a per-disk and per-job summary, or with --json fio-shaped JSON (jobs[].read|write) plus per-disk\n' +
    'summaries, throttle statistics and per-interval timelines. --svg writes IOPS and latency charts.';
  static override examples = [
    '<%= config.bin %> qos run topologies/qos-noisy-neighbor.qos.yaml',
    '<%= config.bin %> qos run topologies/qos-burst.qos.yaml --json --interval 100ms --svg out/charts',
    '<%= config.bin %> qos run topologies/qos-noisy-neighbor.qos.yaml --report out/qos.html',
  ];
  static override args = { file: Args.string({ description: 'QoS YAML file, or an fio job file (.fio/.job/.ini)', required: true }) };
  static override flags = {
    json: Flags.boolean({ description: 'print one JSON object (fio-shaped jobs, disks, timelines)' }),
    'output-format': Flags.string({ options: ['normal', 'json', 'json+'], description: 'fio\'s spelling: json = --json; json+ adds fio\'s latency bins (clat_ns.bins)' }),
    interval: Flags.string({ description: 'timeline interval, 1ms or more (default: the file\'s, else 1s)' }),
    svg: Flags.string({ description: 'write SVG charts into this folder' }),
    'max-runtime': maxRuntimeFlag,
    seed: Flags.string({ description: 'seed for every random draw (default: the file\'s seed, else 1)' }),
    report: Flags.string({ description: 'write a self-contained HTML report (timeline with limits and thresholds, verdicts, tables); evaluates the file\'s expectations for it' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(QosRun);
    if (flags.report !== undefined) checkOutputPath(flags.report, '--report');
    const qos = loadJobOrQosFile(args.file, parseMaxRuntime(flags['max-runtime']), (note) => process.stderr.write(`${note}\n`));
    if (flags.seed !== undefined) qos.model.seed = parseSeedFlag(flags.seed);
    if (flags.interval !== undefined) qos.model.intervalNs = parseInterval(flags.interval);
    const bar = !flags.json && flags['output-format'] === undefined && process.stdout.isTTY ? new cliProgress.SingleBar({ format: 'simulating [{bar}] {value}/{total} s', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
    bar?.start(1, 0);
    const format = flags['output-format'] ?? (flags.json ? 'json' : 'normal');
    const json = format !== 'normal';
    const logs = format === 'json+' || qos.model.jobs.some((j) => j.logs) ? new FioLogs((j) => j.spec.logs, format === 'json+') : undefined;
    const images = openDataPaths(qos);
    let ran: ReturnType<typeof runQos>;
    try {
      ran = runQos(qos.model, {
        ...(images.data.size ? { data: images.data } : {}),
        ...(logs ? { fioLogs: logs } : {}),
        ...(flags.report !== undefined && qos.expectations.length > 0 ? { expectations: qos.expectations.map((e) => e.exp) } : {}),
        ...(bar ? { onProgress: (now: number, end: number) => { bar.setTotal(Math.round(end / 1e8) / 10); bar.update(Math.round(now / 1e8) / 10); } } : {}),
      });
    } finally {
      bar?.stop();
      images.close();
    }
    const { engine, result } = ran;
    const logFiles = logs ? writeFioLogs(logs) : [];
    const written = flags.svg !== undefined ? writeCharts(flags.svg, qosCharts(engine, qos.expectations.map((e) => e.exp))) : [];
    if (flags.report !== undefined) {
      writeOutput(flags.report, await buildQosReport(qos, engine, result, commandLine(['qos', 'run', ...this.argv])), '--report');
      written.push(flags.report);
    }
    if (json) this.printJson(result);
    else {
      process.stdout.write(renderRun(args.file, result));
      for (const f of logFiles) process.stdout.write(`wrote ${f}\n`);
      for (const f of written) process.stdout.write(`wrote ${f}\n`);
    }
  }
}

export function parseInterval(text: string): number {
  let ns: number;
  try {
    ns = parseDuration(text);
  } catch (e) {
    throw new UserError('CLI_BAD_FLAG', unitMessage(e), { where: '--interval' });
  }
  if (ns < 1_000_000) throw new UserError('CLI_BAD_FLAG', `interval must be at least 1ms, got "${text}"`, { where: '--interval' });
  return ns;
}
