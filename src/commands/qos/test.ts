import { Args, Flags } from '@oclif/core';
import cliProgress from 'cli-progress';
import { parseSeedFlag } from '../../cli/flags.js';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { loadJobOrQosFile, openDataPaths, writeCharts } from '../../qos/file.adapter.js';
import { maxRuntimeFlag, parseMaxRuntime } from '../../cli/fio-job.js';
import { runQos } from '../../qos/run.js';
import { qosCharts } from '../../qos/svg.js';
import { renderTest } from '../../qos/render.js';

export default class QosTest extends BaseCommand {
  static override summary = 'Run a QoS file and check its expectations: exit 0 when all hold, 1 when any fails, 2 when the file is malformed.';
  static override description =
    'Expectations (the file\'s expect: list) look like "vm1.vda: iops >= 450 over [10s, 60s]", "p99 <= 20ms",\n' +
    '"burst: vm1.vda iops >= 1800 for >= 9s". Failed ones are listed with the expected and measured values.';
  static override examples = ['<%= config.bin %> qos test topologies/qos-burst.qos.yaml', '<%= config.bin %> qos test policy.qos.yaml --json --svg out/charts'];
  static override args = { file: Args.string({ description: 'QoS YAML file, or an fio job file (.fio/.job/.ini) with an expect: list', required: true }) };
  static override flags = {
    json: Flags.boolean({ description: 'print one JSON object (verdict, expectations, fio-shaped jobs, timelines)' }),
    svg: Flags.string({ description: 'write SVG charts into this folder' }),
    'max-runtime': maxRuntimeFlag,
    seed: Flags.string({ description: 'seed for every random draw (default: the file\'s seed, else 1)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(QosTest);
    const qos = loadJobOrQosFile(args.file, parseMaxRuntime(flags['max-runtime']), (note) => process.stderr.write(`${note}\n`));
    if (flags.seed !== undefined) qos.model.seed = parseSeedFlag(flags.seed);
    if (qos.expectations.length === 0) {
      throw new UserError('QOS_NO_EXPECTATIONS', 'the file has no expectations to test; add an expect: list (or use `vfab qos run`)', { location: qos.source.locate([]) });
    }
    const bar = !flags.json && process.stdout.isTTY ? new cliProgress.SingleBar({ format: 'simulating [{bar}] {value}/{total} s', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
    bar?.start(1, 0);
    const images = openDataPaths(qos);
    let ran: ReturnType<typeof runQos>;
    try {
      ran = runQos(qos.model, {
        ...(images.data.size ? { data: images.data } : {}),
        expectations: qos.expectations.map((e) => e.exp),
        ...(bar ? { onProgress: (now: number, end: number) => { bar.setTotal(Math.round(end / 1e8) / 10); bar.update(Math.round(now / 1e8) / 10); } } : {}),
      });
    } finally {
      bar?.stop();
      images.close();
    }
    const { engine, result } = ran;
    const written = flags.svg !== undefined ? writeCharts(flags.svg, qosCharts(engine, qos.expectations.map((e) => e.exp))) : [];
    if (flags.json) this.printJson({ file: args.file, passed: result.passed, ...result });
    else {
      process.stdout.write(renderTest(args.file, result));
      for (const f of written) process.stdout.write(`wrote ${f}\n`);
    }
    process.exitCode = result.passed ? 0 : 1;
  }
}
