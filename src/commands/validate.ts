import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { checkTopology } from '../fabric/fabric.js';
import { loadTopology } from '../topology/load.js';
import { overlayWarnings } from '../topology/tunnels.js';

export default class Validate extends BaseCommand {
  static override summary = 'Check a topology file: schema, references, duplicates; prints file:line:col for every problem.';
  static override description = 'Exit status 0 when the topology is valid, 2 when it is not (every problem printed as file:line:col: message).';
  static override examples = ['<%= config.bin %> validate topologies/two-hosts.yaml'];
  static override args = { file: Args.string({ description: 'topology YAML file', required: true }) };
  static override flags = { json: Flags.boolean({ description: 'print a JSON object instead of text' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Validate);
    const model = loadTopology(args.file);
    checkTopology(model);
    const warnings = overlayWarnings(model);
    const counts = {
      hosts: model.hosts.length,
      bridges: model.hosts.reduce((n, h) => n + h.bridges.length, 0),
      switches: model.switches.length,
      vms: model.vms.length,
      interfaces: model.vms.reduce((n, v) => n + v.interfaces.length, 0),
      links: model.links.length,
      ports: model.ports.size,
      scenario_steps: model.scenario.length,
    };
    if (flags.json) this.printJson({ file: args.file, topology: model.name, valid: true, ...counts, ...(warnings.length > 0 ? { warnings } : {}) });
    else {
      for (const w of warnings) process.stderr.write(`${w}\n`);
      process.stdout.write(
        `${args.file}: ok (topology ${model.name}: ${counts.hosts} hosts, ${counts.bridges} bridges, ${counts.switches} switches, ${counts.vms} VMs, ${counts.links} links, ${counts.scenario_steps} scenario steps)\n`,
      );
    }
  }
}
