import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { amendImage } from '../../block/amend.js';
import { formatArg, parseOptions } from '../../block/cli-args.js';

export default class DiskAmend extends BaseCommand {
  static override summary = 'Change image options in place (qemu-img amend -o).';
  static override description = 'qcow2: compat=1.1 (upgrade from 0.10), lazy_refcounts=on|off, refcount_bits=1|2|4|8|16|32|64 (the refcount table and blocks are rebuilt; 16 only at compat=0.10).';
  static override examples = ['<%= config.bin %> disk amend -o lazy_refcounts=on vm.qcow2'];
  static override args = { file: Args.string({ description: 'image file', required: true }) };
  static override flags = {
    help: Flags.help({ char: 'h', description: 'show this help' }),
    options: Flags.string({ char: 'o', description: 'options: compat, lazy_refcounts, refcount_bits', multiple: true, multipleNonGreedy: true }),
    format: Flags.string({ char: 'f', description: 'image format (probed when absent)' }),
    progress: Flags.boolean({ char: 'p', description: 'accepted (amend of these options is instant)' }),
    quiet: Flags.boolean({ char: 'q', description: 'print nothing' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskAmend);
    const fmt = formatArg(flags.format, '-f');
    amendImage(args.file, parseOptions(flags.options), fmt ? { format: fmt } : {});
  }
}
