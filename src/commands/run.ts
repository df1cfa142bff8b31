import { Args, Flags } from '@oclif/core';
import { parseDurationFlag, runOptions } from '../cli/flags.js';
import { UserError } from '../errors.js';
import { BaseCommand } from '../cli/base-command.js';
import { runTopologyAsync } from '../fabric/run.js';
import { runProgress } from '../cli/run-progress.js';
import { loadAssets } from '../report/assets.adapter.js';
import { commandLine } from '../report/command-line.js';
import { checkOutputPath, writeOutput } from '../report/output.adapter.js';
import { buildRunReport } from '../report/run-report.js';

export default class Run extends BaseCommand {
  static override summary = 'Run a topology: build the fabric, play the scenario, print the summary, write traces.';
  static override description =
    'Deterministic: the same file and seed give the same summary and byte-identical traces.\n' +
    'Without --json a readable summary (apps, per-port counters, links, events) is printed.';
  static override examples = [
    '<%= config.bin %> run topologies/quickstart.yaml --pcapng out/quickstart.pcapng',
    '<%= config.bin %> run topologies/two-hosts.yaml --until 5s --seed 7 --json',
    '<%= config.bin %> run topologies/two-hosts.yaml --pcap-dir out/pcaps',
    '<%= config.bin %> run topologies/live-migration.yaml --report out/live-migration.html',
  ];
  static override args = { file: Args.string({ description: 'topology YAML file', required: true }) };
  static override flags = {
    until: Flags.string({ description: 'simulated time to run, e.g. 10s, 500ms (default: the topology\'s duration, else 10s)' }),
    seed: Flags.string({ description: 'seed for every random decision (default: the topology\'s seed, else 1)' }),
    'pcap-dir': Flags.string({ description: 'write one classic pcap per captured port into this folder' }),
    pcapng: Flags.string({ description: 'write one pcapng of all captured ports to this file' }),
    json: Flags.boolean({ description: 'print the summary as one JSON object' }),
    serve: Flags.boolean({ description: 'pace virtual time by the wall clock and keep ptcp: OpenFlow ports open for ovs-ofctl and controllers until --until' }),
    speed: Flags.string({ description: 'with --serve: virtual seconds per wall second (1 = real time, 0 = as fast as the controllers allow)', default: '1' }),
    'controller-quiet': Flags.string({ description: 'wall-clock silence that ends a controller\'s answer (docs/openflow.md), e.g. 10ms' }),
    report: Flags.string({ description: 'also write a self-contained HTML report (diagram, timeline, tables) to this file' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Run);
    const { untilNs, seed } = runOptions(flags.until, flags.seed);
    // Refuse a bad --report path before simulating anything.
    if (flags.report !== undefined) checkOutputPath(flags.report, '--report');
    // Ctrl-C stops the simulation at the current instant: the traces are closed and the summary so
    // far is printed, marked partial, with exit 130 (a second Ctrl-C exits at once).
    const stop = new AbortController();
    const onSigint = (): void => {
      if (stop.signal.aborted) process.exit(130);
      stop.abort();
    };
    process.on('SIGINT', onSigint);
    const progress = runProgress(!flags.json && process.stdout.isTTY);
    let result: Awaited<ReturnType<typeof runTopologyAsync>>;
    try {
      result = await runTopologyAsync(args.file, {
        closeOnExit: true,
        signal: stop.signal,
        sliceEvents: 20_000,
        summaryText: !flags.json,
        ...(progress ? { onProgress: (now: number, end: number, events: number) => { progress.update(now, end, events); } } : {}),
        ...(untilNs !== undefined ? { untilNs } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(flags.pcapng !== undefined ? { pcapng: flags.pcapng } : {}),
        ...(flags['pcap-dir'] !== undefined ? { pcapDir: flags['pcap-dir'] } : {}),
        openflow: {
          serve: flags.serve,
          speed: parseSpeedFlag(flags.speed),
          ...(flags['controller-quiet'] !== undefined ? { quietMs: parseDurationFlag('controller-quiet', flags['controller-quiet']) / 1e6 } : {}),
          ...(flags.serve ? { onListening: () => process.stderr.write('vfab: serving (OpenFlow ptcp: ports open); Ctrl-C to stop\n') } : {}),
          signal: stop.signal,
        },
      });
    } finally {
      progress?.stop();
    }
    if (flags.report !== undefined) {
      const html = await buildRunReport(result.summary, { command: commandLine(['run', ...this.argv]), assets: loadAssets(), model: result.fabric.model });
      writeOutput(flags.report, html, '--report');
    }
    if (flags.json) this.printJson(result.summary);
    else {
      process.stdout.write(result.text);
      if (flags.pcapng !== undefined) process.stdout.write(`wrote ${flags.pcapng}\n`);
      const pcaps = result.files.filter((f) => f !== flags.pcapng);
      if (pcaps.length > 0) process.stdout.write(`wrote ${pcaps.length} pcap files in ${flags['pcap-dir']}\n`);
      if (flags.report !== undefined) process.stdout.write(`wrote ${flags.report}\n`);
    }
    process.off('SIGINT', onSigint);
    if (result.summary.partial) process.exitCode = 130;
  }
}

function parseSpeedFlag(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(v) || !Number.isFinite(n)) throw new UserError('CLI_BAD_FLAG', `speed must be a number >= 0, got "${v}"`, { where: '--speed' });
  return n;
}
