import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { runTopology } from '../fabric/run.js';
import { pickBridge } from '../vswitch/inspect.js';
import { runOptions } from '../cli/flags.js';

export default class Fdb extends BaseCommand {
  static override summary = "Run a topology's scenario, then print one bridge's MAC table (ovs-appctl fdb/show style).";
  static override examples = ['<%= config.bin %> fdb topologies/two-hosts.yaml --bridge tor', '<%= config.bin %> fdb topologies/live-migration.yaml --bridge hv2.br0 --json'];
  static override args = { file: Args.string({ description: 'topology YAML file', required: true }) };
  static override flags = {
    bridge: Flags.string({ description: 'bridge path HOST.BRIDGE (or a switch name)', required: true }),
    until: Flags.string({ description: "simulated time to run first (default: the topology's duration)" }),
    seed: Flags.string({ description: 'seed (default: the topology\'s seed)' }),
    json: Flags.boolean({ description: 'print the entries as JSON' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Fdb);
    const { fabric } = runTopology(args.file, runOptions(flags.until, flags.seed));
    const br = pickBridge(fabric.ctx.bridges, flags.bridge);
    if (flags.json) {
      this.printJson({
        bridge: br.path,
        time_ns: fabric.sim.now,
        entries: br.macEntries().map((e) => ({ port: e.portName, ofport: e.port, vlan: e.vlan, mac: formatMacStr(e.mac), age_s: e.ageS })),
      });
    } else process.stdout.write(br.fdbShow());
  }
}

function formatMacStr(mac: number): string {
  return mac.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
}
