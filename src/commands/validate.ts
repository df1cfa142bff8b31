import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { clip, UserError, UserErrors } from '../errors.js';
import { validateModel } from '../fabric/validate.js';
import { loadTopologyFilePartial } from '../topology/load.js';
import type { TopologyModel } from '../topology/model.js';
import { overlayWarnings } from '../topology/tunnels.js';

/** One problem as `--json` prints it. */
export interface ValidationProblem {
  file: string;
  line: number | null;
  col: number | null;
  code: string;
  message: string;
  where?: string;
  hint?: string;
}

function problem(file: string, e: UserError): ValidationProblem {
  return {
    file: e.location?.file ?? file,
    line: e.location?.line ?? null,
    col: e.location?.col ?? null,
    code: e.code,
    message: e.message,
    ...(e.where !== undefined ? { where: e.where } : {}),
    ...(e.hint !== undefined ? { hint: e.hint } : {}),
  };
}

export default class Validate extends BaseCommand {
  static override summary = 'Check a topology file: everything `run` checks (schema, references, features, flow tables), every problem as file:line:col.';
  static override description =
    'Exit status 0 when the topology is valid, 2 when it is not (every problem printed as file:line:col: message).\n' +
    'With --json: {valid: true, ...counts} or {valid: false, errors: [{file, line, col, code, message}]}, exit 2.';
  static override examples = ['<%= config.bin %> validate topologies/two-hosts.yaml', '<%= config.bin %> validate topologies/two-hosts.yaml --json'];
  static override args = { file: Args.string({ description: 'topology YAML file', required: true }) };
  static override flags = { json: Flags.boolean({ description: 'print a JSON object instead of text (also for an invalid file)' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Validate);
    let model: TopologyModel;
    let errors: UserError[];
    try {
      const partial = loadTopologyFilePartial(args.file);
      model = partial.model;
      errors = validateModel(model, partial.errors);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      if (!flags.json) throw e;
      errors = e instanceof UserErrors ? e.errors : [e];
      model = undefined as unknown as TopologyModel;
    }
    if (errors.length > 0) {
      if (!flags.json) throw errors.length === 1 ? errors[0]! : new UserErrors(errors);
      this.printJson({ file: args.file, valid: false, errors: errors.map((e) => problem(args.file, e)) });
      process.exitCode = 2;
      return;
    }
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
        `${args.file}: ok (topology ${clip(model.name, 200)}: ${counts.hosts} hosts, ${counts.bridges} bridges, ${counts.switches} switches, ${counts.vms} VMs, ${counts.links} links, ${counts.scenario_steps} scenario steps)\n`,
      );
    }
  }
}
