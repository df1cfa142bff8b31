import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { importFioFile } from '../../qos/file.adapter.js';
import { loadQosText } from '../../qos/file.js';
import { maxRuntimeFlag, parseMaxRuntime } from '../../cli/fio-job.js';

export default class QosImport extends BaseCommand {
  static override summary = 'Convert an fio job file into a QoS file (YAML on stdout).';
  static override description =
    'fio\'s INI syntax as fio reads it ([global], sections, include, ${VAR}, stonewall, wait_for, rate, bssplit, …).\n' +
    'Options with no effect on the modelled I/O are listed as ignored (stderr and a comment in the YAML); options that\n' +
    'would change the workload and that vfab does not model are refused at their line. `vfab qos run job.fio` runs\n' +
    'exactly what this prints.';
  static override examples = ['<%= config.bin %> qos import /usr/share/doc/fio/examples/fio-rand-RW.fio > rand-rw.qos.yaml'];
  static override args = { file: Args.string({ description: 'fio job file', required: true }) };
  static override flags = { 'max-runtime': maxRuntimeFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(QosImport);
    const cap = parseMaxRuntime(flags['max-runtime']);
    const imported = importFioFile(args.file, cap !== undefined ? { maxRuntimeNs: cap } : {});
    // what we print must load (a mistake the importer let through is reported here, not later)
    loadQosText(imported.yaml, `${args.file} (imported)`);
    for (const n of imported.notes) process.stderr.write(`note: ${n}\n`);
    process.stdout.write(imported.yaml);
  }
}
