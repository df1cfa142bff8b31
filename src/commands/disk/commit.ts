import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { commitImage } from '../../block/api.js';

export default class DiskCommit extends BaseCommand {
  static override summary = 'Merge an overlay into its backing file, then empty the overlay (qemu-img commit).';
  static override examples = ['<%= config.bin %> disk commit top.qcow2'];
  static override args = { file: Args.string({ description: 'overlay image', required: true }) };
  static override flags = { json: Flags.boolean({ description: 'print what was committed as JSON' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskCommit);
    const r = commitImage(args.file);
    if (flags.json) this.printJson(r);
    else process.stdout.write('Image committed.\n');
  }
}
