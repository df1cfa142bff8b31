import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { rebaseImage } from '../../block/api.js';
import { formatArg } from '../../block/cli-args.js';

export default class DiskRebase extends BaseCommand {
  static override summary = 'Change or drop the backing file (qemu-img rebase).';
  static override description =
    'Safe mode (default) copies into the overlay every cluster whose content would otherwise change, so the\n' +
    'guest sees the same disk. -u only rewrites the pointer. -b "" removes the backing file.';
  static override examples = ['<%= config.bin %> disk rebase -b new-base.qcow2 -F qcow2 top.qcow2', '<%= config.bin %> disk rebase -b "" top.qcow2'];
  static override args = { file: Args.string({ description: 'overlay image', required: true }) };
  static override flags = {
    backing: Flags.string({ char: 'b', description: 'new backing file ("" for none)', required: true }),
    'backing-format': Flags.string({ char: 'F', description: 'format of the new backing file' }),
    unsafe: Flags.boolean({ char: 'u', description: 'rewrite the pointer only, copy nothing' }),
    json: Flags.boolean({ description: 'print what was copied as JSON' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskRebase);
    const nb = flags.backing === '' ? undefined : flags.backing;
    const fmt = formatArg(flags['backing-format'], '-F');
    if (nb !== undefined && fmt === undefined) {
      throw new UserError('CLI_BAD_FLAG', 'backing format must be specified', { where: '-F', hint: 'add -F qcow2 (or -F raw), as qemu-img requires' });
    }
    const r = rebaseImage(args.file, nb, { unsafe: flags.unsafe, ...(fmt ? { backingFormat: fmt } : {}) });
    if (flags.json) this.printJson(r);
  }
}
