import { Args, Flags } from '@oclif/core';
import { runOptions } from '../cli/flags.js';
import { BaseCommand } from '../cli/base-command.js';
import { UserError } from '../errors.js';
import { Fabric } from '../fabric/fabric.js';
import { nicJson, nicText, sriovNics } from '../fabric/sriov.js';
import { loadTopology } from '../topology/load.js';
import { nearest } from '../util/yaml-source.js';

export default class Nic extends BaseCommand {
  static override summary = 'Show an SR-IOV physical function and its VFs like `ip -s link show`, after running the scenario.';
  static override description =
    'Runs the topology (same flags as `vfab run`), then prints the PF the way `ip -s link show PF` does\n' +
    '(vf N lines with MAC, vlan, qos, rates, spoof checking, link-state, trust, and per-VF statistics),\n' +
    'followed by the paths frames took (VEB, uplink, representors) and drops by reason.';
  static override examples = [
    '<%= config.bin %> nic topologies/sriov.yaml --nic hv1.pf0',
    '<%= config.bin %> nic topologies/sriov.yaml --nic hv1.pf1 --json',
    '<%= config.bin %> nic topologies/sriov.yaml --until 0s',
  ];
  static override args = { file: Args.string({ description: 'topology YAML file', required: true }) };
  static override flags = {
    nic: Flags.string({ description: 'PF path (host.pf, e.g. hv1.pf0); default: every PF' }),
    until: Flags.string({ description: 'simulated time to run first (default: the topology\'s duration; 0s = configuration only)' }),
    seed: Flags.string({ description: 'seed (default: the topology\'s seed, else 1)' }),
    json: Flags.boolean({ description: 'print one JSON object' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Nic);
    const { untilNs, seed } = runOptions(flags.until, flags.seed);
    const model = loadTopology(args.file);
    const fabric = new Fabric(model, seed !== undefined ? { seed } : {});
    try {
      fabric.run(untilNs !== undefined ? { untilNs } : {});
    } finally {
      fabric.close();
    }
    const nics = sriovNics(fabric.ctx);
    let selected = [...nics.values()];
    if (flags.nic !== undefined) {
      const pf = nics.get(flags.nic);
      if (!pf) {
        const near = nearest(flags.nic, [...nics.keys()]);
        const known = nics.size === 0 ? 'the topology declares no hosts.*.nics' : `known: ${[...nics.keys()].join(', ')}`;
        throw new UserError('CLI_UNKNOWN_NIC', `no SR-IOV NIC "${flags.nic}"${near ? ` (did you mean "${near}"?)` : ''}; ${known}`, { where: '--nic' });
      }
      selected = [pf];
    } else if (selected.length === 0) {
      throw new UserError('CLI_UNKNOWN_NIC', 'the topology declares no SR-IOV NICs (hosts.*.nics)', { where: args.file });
    }
    if (flags.json) {
      this.printJson({
        topology: model.name,
        seed: fabric.seed,
        simulated_ns: fabric.sim.now,
        nics: Object.fromEntries(selected.map((pf) => [pf.path, { ...nicJson(pf), ip_link_show: pf.ipLinkShow({ stats: true }) }])),
      });
      return;
    }
    const out: string[] = [];
    for (const pf of selected) {
      out.push(`# ${pf.path}: ip -s link show ${pf.name}`, pf.ipLinkShow({ stats: true }).trimEnd(), '', ...nicText(pf), '');
    }
    process.stdout.write(out.join('\n'));
  }
}
