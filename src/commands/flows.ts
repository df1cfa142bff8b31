import { Args, Flags } from '@oclif/core';
import { runOptions } from '../cli/flags.js';
import { BaseCommand } from '../cli/base-command.js';
import { runTopologyAsync } from '../fabric/run.js';
import { offloadableText } from '../sriov/offload.js';
import { tcOffloads } from '../fabric/tc-offload.js';
import { pickBridge } from '../vswitch/inspect.js';
import { UserError } from '../errors.js';
import { parseProtocols } from '../vswitch/flow-syntax.js';
import type { OfVersion } from '../vswitch/flow-syntax.js';

/** `-O` of the dump: the highest version listed, as ovs-ofctl negotiates. */
function parseDumpVersion(text: string | undefined): OfVersion | undefined {
  if (text === undefined) return undefined;
  const v = parseProtocols(text);
  if (v === null) throw new UserError('CLI_BAD_FLAG', `-O ${text}: expected OpenFlow10 … OpenFlow15, comma-separated`, { where: '--protocols' });
  return v;
}

export default class Flows extends BaseCommand {
  static override summary = "Run a topology's scenario, then print one bridge's flow table with counters (ovs-ofctl dump-flows style).";
  static override examples = [
    '<%= config.bin %> flows topologies/two-hosts.yaml --bridge hv1.br0',
    '<%= config.bin %> flows topologies/two-hosts.yaml --bridge tor --until 2s --json',
    '<%= config.bin %> flows topologies/ovs-groups.yaml --bridge hv1.br0 --groups --meters',
    '<%= config.bin %> flows topologies/two-hosts.yaml --bridge hv1.br0 --no-stats --names -O OpenFlow13',
  ];
  static override args = { file: Args.string({ description: 'topology YAML file', required: true }) };
  static override flags = {
    bridge: Flags.string({ description: 'bridge path HOST.BRIDGE (or a switch name)', required: true }),
    until: Flags.string({ description: "simulated time to run first (default: the topology's duration)" }),
    seed: Flags.string({ description: 'seed (default: the topology\'s seed)' }),
    json: Flags.boolean({ description: 'print the flows with counters as JSON' }),
    offload: Flags.boolean({ description: 'mark which flows a switchdev NIC could offload (TC-flower subset; a hint, see docs/sriov.md)' }),
    groups: Flags.boolean({ description: 'print the group table instead (ovs-ofctl dump-groups, then dump-group-stats)' }),
    meters: Flags.boolean({ description: 'print the meter table instead (ovs-ofctl dump-meters, then meter-stats)' }),
    'no-stats': Flags.boolean({ description: 'as ovs-ofctl --no-stats: leave out durations, counters and ages (and zero cookies and tables)' }),
    names: Flags.boolean({ description: 'as ovs-ofctl --names: print port names instead of OpenFlow port numbers' }),
    protocols: Flags.string({ char: 'O', description: "OpenFlow version of the dump, as ovs-ofctl -O (OpenFlow10 … OpenFlow15; default: the bridge's protocols)" }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Flows);
    const { fabric } = await runTopologyAsync(args.file, runOptions(flags.until, flags.seed));
    const br = pickBridge(fabric.ctx.bridges, flags.bridge);
    const version = parseDumpVersion(flags.protocols);
    const hint = (f: { match: string; actions: string }) => offloadableText(`${f.match},actions=${f.actions}`);
    if (flags.groups || flags.meters) {
      if (flags.groups) process.stdout.write(`${br.dumpGroups()}${br.dumpGroupStats()}`);
      if (flags.meters) process.stdout.write(`${br.dumpMeters()}${br.dumpMeterStats()}`);
      return;
    }
    if (flags.json) {
      // `match`/`actions` as the flow file wrote them; `ovs_match`/`ovs_actions` as dump-flows spells them.
      const canon = br.canonicalFlows(version);
      const flows = br.flowStats().map((f, i) => ({ ...f, ovs_match: canon[i]!.match, ovs_actions: canon[i]!.actions }));
      const tc = flags.offload ? tcOffloads(fabric.model, br) : [];
      this.printJson({ bridge: br.path, time_ns: fabric.sim.now, flows: flags.offload ? flows.map((f, i) => ({ ...f, offload: hint(f), ...(tc[i]!.offloaded || tc[i]!.reasons.length > 0 ? { tc_offload: { offloaded: tc[i]!.offloaded, reasons: tc[i]!.reasons, ...(tc[i]!.tc ? { tc: tc[i]!.tc } : {}) } } : {}) })) : flows });
    } else {
      process.stdout.write(br.dumpFlows({ ...(version !== undefined ? { version } : {}), noStats: flags['no-stats'], names: flags.names }));
      if (flags.offload) {
        const lines = br.flowStats().map((f) => {
          const v = hint(f);
          const rule = `table=${f.table},priority=${f.priority}${f.match ? `,${f.match}` : ''} actions=${f.actions}`;
          return ` offload=${v.offloadable ? 'yes' : 'no '} ${rule}${v.offloadable ? '' : `  (${v.reasons.join('; ')})`}`;
        });
        process.stdout.write(`hardware offload hint (TC flower subset):\n${lines.join('\n')}\n`);
        // Flows that end in a tunnel output: offloaded to the switchdev eswitch, in TC form.
        const tc = tcOffloads(fabric.model, br).filter((t) => t.offloaded || t.reasons.length > 0);
        if (tc.length > 0) {
          process.stdout.write('tunnel encapsulation offload (switchdev eswitch, tc filter show dev REP ingress):\n');
          for (const t of tc) process.stdout.write(t.offloaded ? ` offloaded ${t.rule}\n${t.tc}` : ` not offloaded ${t.rule}  (${t.reasons.join('; ')})\n`);
        }
      }
    }
  }
}
