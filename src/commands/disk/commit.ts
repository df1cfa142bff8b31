import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { commitImage, type CommitOptions } from '../../block/api.js';

export default class DiskCommit extends BaseCommand {
  static override summary = 'Merge an overlay into its backing file, then empty the overlay (qemu-img commit).';
  static override description =
    '-b BASE commits into an image deeper in the chain (everything above it is copied, deepest first)\n' +
    'and, as in qemu-img, implies -d; -d leaves the top image as it was; -p prints progress.';
  static override examples = ['<%= config.bin %> disk commit top.qcow2', '<%= config.bin %> disk commit -d -p top.qcow2'];
  static override args = { file: Args.string({ description: 'overlay image', required: true }) };
  static override flags = {
    help: Flags.help({ char: 'h', description: 'show this help' }),
    base: Flags.string({ char: 'b', description: 'image of the backing chain to commit into' }),
    'keep-top': Flags.boolean({ char: 'd', description: 'do not empty the top image' }),
    progress: Flags.boolean({ char: 'p', description: 'show progress as qemu-img does' }),
    quiet: Flags.boolean({ char: 'q', description: 'print nothing' }),
    json: Flags.boolean({ description: 'print what was committed as JSON' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskCommit);
    const opts: CommitOptions = { keepTop: flags['keep-top'] };
    if (flags.base !== undefined) opts.base = flags.base;
    if (flags.progress && !flags.quiet) opts.progress = (pct): void => void process.stdout.write(`    (${pct.toFixed(2)}/100%)\r`);
    const r = commitImage(args.file, undefined, opts);
    if (flags.progress && !flags.quiet) process.stdout.write('\n');
    if (flags.json) this.printJson(r);
    else if (!flags.quiet) process.stdout.write('Image committed.\n');
  }
}
