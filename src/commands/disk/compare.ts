import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { compareImages } from '../../block/verbs.js';
import { formatArg } from '../../block/cli-args.js';

export default class DiskCompare extends BaseCommand {
  static override summary = 'Compare what two images read as (qemu-img compare).';
  static override description =
    'Exit 0 and "Images are identical." when both read the same (an extra tail of zeros in the larger one\n' +
    'only warns), exit 1 and "Content mismatch at offset N!" (N: the first differing 512-byte sector)\n' +
    'otherwise, exit 2 when an image cannot be read. -s (strict) also fails on different sizes or\n' +
    'allocation states.';
  static override examples = ['<%= config.bin %> disk compare flat.qcow2 top.qcow2', '<%= config.bin %> disk compare -s a.qcow2 b.qcow2'];
  static override args = {
    image1: Args.string({ description: 'first image', required: true }),
    image2: Args.string({ description: 'second image', required: true }),
  };
  static override flags = {
    help: Flags.help({ char: 'h', description: 'show this help' }),
    format1: Flags.string({ char: 'f', description: 'format of the first image' }),
    format2: Flags.string({ char: 'F', description: 'format of the second image' }),
    strict: Flags.boolean({ char: 's', description: 'strict: sizes and allocation must match too' }),
    'force-share': Flags.boolean({ char: 'U', description: 'open even if a writer holds the lock' }),
    quiet: Flags.boolean({ char: 'q', description: 'print nothing, only the exit code' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskCompare);
    const f1 = formatArg(flags.format1, '-f');
    const f2 = formatArg(flags.format2, '-F');
    const r = compareImages(args.image1, args.image2, {
      strict: flags.strict,
      forceShare: flags['force-share'],
      ...(f1 ? { formatA: f1 } : {}),
      ...(f2 ? { formatB: f2 } : {}),
    });
    if (!flags.quiet) process.stdout.write(r.lines.map((l) => `${l}\n`).join(''));
    process.exitCode = r.code;
  }
}
