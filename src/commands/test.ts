import { Args, Flags } from '@oclif/core';
import { runOptions } from '../cli/flags.js';
import { BaseCommand } from '../cli/base-command.js';
import { UserError } from '../errors.js';
import { evaluateNetExpectations, loadNetExpectations, renderNetTest } from '../fabric/expect.js';
import { storageVerdicts } from '../fabric/disk-io.js';
import { runTopologyAsync, toModel } from '../fabric/run.js';

export default class Test extends BaseCommand {
  static override summary = 'Run a topology and check its expect: list: exit 0 when all hold, 1 when any fails (with a table), 2 when the file is malformed.';
  static override description =
    'Expectations look like "iperf1: throughput >= 900Mbit over [1s, 5s]", "rpc1: p99 <= 5ms", "ping1: loss == 0".\n' +
    'App names are the scenario\'s (name:, else iperf1, rpc1, ping1, udp1 … in scenario order).';
  static override examples = ['<%= config.bin %> test topologies/tcp-incast.yaml', '<%= config.bin %> test topologies/tcp-migration.yaml --json --seed 3'];
  static override args = { file: Args.string({ description: 'topology YAML file with an expect: list', required: true }) };
  static override flags = {
    until: Flags.string({ description: 'simulated time to run (default: the topology\'s duration, else 10s)' }),
    seed: Flags.string({ description: 'seed (default: the topology\'s seed, else 1)' }),
    pcapng: Flags.string({ description: 'also write a pcapng of the captured ports' }),
    json: Flags.boolean({ description: 'print one JSON object: passed, expectations, and the run summary' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Test);
    const { untilNs, seed } = runOptions(flags.until, flags.seed);
    const model = toModel(args.file);
    const exps = loadNetExpectations(model);
    if (exps.length === 0) throw new UserError('TEST_NO_EXPECTATIONS', 'the topology has no expectations to test; add an expect: list (or use `vfab run`)', { location: model.source.locate([]) });
    const result = await runTopologyAsync(model, {
      closeOnExit: true,
      ...(untilNs !== undefined ? { untilNs } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(flags.pcapng !== undefined ? { pcapng: flags.pcapng } : {}),
    });
    const verdicts = evaluateNetExpectations(exps, result.summary, result.fabric.scenarioApps, storageVerdicts(result.fabric.ctx));
    const passed = verdicts.every((v) => v.pass);
    if (flags.json) this.printJson({ file: args.file, passed, expectations: verdicts, summary: result.summary });
    else process.stdout.write(renderNetTest(args.file, verdicts, result.summary.simulated_ns));
    process.exitCode = passed ? 0 : 1;
  }
}
