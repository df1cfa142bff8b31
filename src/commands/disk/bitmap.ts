import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { bitmapExtents, bitmapVerb, type BitmapOp } from '../../block/bitmap-verb.js';
import { formatArg, sizeArg } from '../../block/cli-args.js';

const SIMPLE = new Set(['add', 'remove', 'clear', 'enable', 'disable']);

/** The operations in the order they were typed (qemu-img applies them in that order). */
export function opsInOrder(argv: readonly string[]): BitmapOp[] {
  const ops: BitmapOp[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(a);
    if (!m) continue;
    if (SIMPLE.has(m[1]!)) ops.push({ op: m[1] as 'add' });
    else if (m[1] === 'merge') ops.push({ op: 'merge', source: m[2] ?? argv[++i] ?? '' });
  }
  return ops;
}

export default class DiskBitmap extends BaseCommand {
  static override summary = 'Persistent dirty bitmaps of a qcow2 image (qemu-img bitmap).';
  static override description =
    'Operations run in the order given, as qemu-img runs them: --add (enabled unless --disable follows),\n' +
    '--remove, --clear, --enable, --disable, --merge SOURCE (from this image, or from -b FILE). Bitmaps\n' +
    'live in the qcow2 bitmaps extension, so QEMU reads them; enabled bitmaps record every write vfab\n' +
    'makes. --dump (a vfab addition) lists the dirty extents an incremental backup must copy.';
  static override examples = [
    '<%= config.bin %> disk bitmap --add vm.qcow2 since-full',
    '<%= config.bin %> disk bitmap --add -g 128k --disable vm.qcow2 frozen',
    '<%= config.bin %> disk bitmap --add --merge since-full -b vm.qcow2 a.qcow2 all',
    '<%= config.bin %> disk bitmap --dump --output=json vm.qcow2 since-full',
  ];
  static override args = {
    file: Args.string({ description: 'qcow2 image', required: true }),
    bitmap: Args.string({ description: 'bitmap name', required: true }),
  };
  static override flags = {
    help: Flags.help({ char: 'h', description: 'show this help' }),
    add: Flags.boolean({ description: 'create the bitmap (enabled)' }),
    remove: Flags.boolean({ description: 'delete the bitmap' }),
    clear: Flags.boolean({ description: 'clear every bit' }),
    enable: Flags.boolean({ description: 'record writes from now on (the auto flag)' }),
    disable: Flags.boolean({ description: 'stop recording writes' }),
    merge: Flags.string({ description: 'OR bitmap SOURCE into this one', multiple: true, multipleNonGreedy: true }),
    'source-file': Flags.string({ char: 'b', description: 'image holding the merge source' }),
    'source-format': Flags.string({ char: 'F', description: 'format of the -b image' }),
    granularity: Flags.string({ char: 'g', description: 'bytes per bit for --add (power of 2, at least 512)' }),
    format: Flags.string({ char: 'f', description: 'image format (probed when absent)' }),
    dump: Flags.boolean({ description: 'print the dirty extents (read-only)' }),
    output: Flags.string({ description: 'human or json (with --dump)', options: ['human', 'json'], default: 'human' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskBitmap);
    const fmt = formatArg(flags.format, '-f');
    if (flags.dump) {
      if (opsInOrder(this.argv).length > 0) throw new UserError('CLI_BAD_FLAG', '--dump cannot be combined with operations', { where: '--dump' });
      const ext = bitmapExtents(args.file, args.bitmap, fmt ? { format: fmt } : {});
      if (flags.output === 'json') {
        // One object per line, as qemu-img map --output=json prints extents.
        const lines = ext.map((e) => `{ "start": ${e.start}, "length": ${e.length}, "dirty": ${e.dirty}}`);
        process.stdout.write(`[${lines.join(',\n')}]\n`);
      } else {
        const col = (n: number): string => (n === 0 ? '0' : `0x${n.toString(16)}`).padEnd(16);
        const rows = ext.filter((e) => e.dirty).map((e) => `${col(e.start)}${col(e.length)}`.trimEnd());
        process.stdout.write([`${'Offset'.padEnd(16)}Length`, ...rows].join('\n') + '\n');
      }
      return;
    }
    const sfmt = formatArg(flags['source-format'], '-F');
    bitmapVerb(args.file, args.bitmap, opsInOrder(this.argv), {
      ...(fmt ? { format: fmt } : {}),
      ...(flags.granularity !== undefined ? { granularity: sizeArg(flags.granularity, '-g') } : {}),
      ...(flags['source-file'] !== undefined ? { sourceFile: flags['source-file'] } : {}),
      ...(sfmt ? { sourceFormat: sfmt } : {}),
    });
  }
}
