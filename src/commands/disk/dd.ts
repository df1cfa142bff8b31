import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { ddImage, type DdOptions } from '../../block/dd.js';
import { formatArg, sizeArg } from '../../block/cli-args.js';

const SUFFIX_HELP = 'You may use k, M, G, T, P or E suffixes for\nkilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.';

/** qemu-img.c img_dd operands: `bs=`, `count=`, `skip=` take size suffixes (cvtnum); `if=`, `of=` names. */
export function parseDdOperands(ops: readonly string[]): { input?: string; output?: string; bs: number; count?: number; skip?: number } {
  const out: { input?: string; output?: string; bs: number; count?: number; skip?: number } = { bs: 512 };
  for (const op of ops) {
    const i = op.indexOf('=');
    const key = i < 0 ? op : op.slice(0, i);
    const val = i < 0 ? '' : op.slice(i + 1);
    const num = (what: string): number => {
      let v: number;
      try {
        v = /^[0-9]+$/.test(val) ? Number(val) : sizeArg(val, `${what}=`);
      } catch {
        v = NaN;
      }
      if (!Number.isSafeInteger(v) || v < 0) {
        if (what === 'bs') throw new UserError('CLI_BAD_OPTION', 'Invalid bs specified. Must be between 1 and 2147483647.', { where: 'bs=' });
        throw new UserError('CLI_BAD_OPTION', `Invalid ${what} specified. ${SUFFIX_HELP}`, { where: `${what}=` });
      }
      return v;
    };
    if (i < 0 || !['if', 'of', 'bs', 'count', 'skip'].includes(key)) throw new UserError('CLI_BAD_OPTION', `unrecognized operand ${key}`, { where: op });
    if (key === 'if') out.input = val;
    else if (key === 'of') out.output = val;
    else if (key === 'bs') out.bs = num('bs');
    else if (key === 'count') out.count = num('count');
    else out.skip = num('skip');
  }
  return out;
}

export default class DiskDd extends BaseCommand {
  static override summary = 'Copy a block range of an image into a new image (qemu-img dd).';
  static override description =
    'Operands as qemu-img dd: if=INPUT of=OUTPUT [bs=BYTES (default 512)] [count=BLOCKS] [skip=BLOCKS],\n' +
    'sizes with k/M/G/T suffixes. The output is created (raw unless -O qcow2) with QEMU\'s size rule:\n' +
    'the copy ends count×bs bytes into the input, so count counts from the start of the input, not from\n' +
    'skip (qemu-img 7.2 does the same). A skip past the end warns and makes an empty image.';
  static override examples = ['<%= config.bin %> disk dd if=vm.qcow2 of=part.raw bs=64k skip=16 count=32', '<%= config.bin %> disk dd -O qcow2 if=vm.qcow2 of=copy.qcow2 bs=1M'];
  static override strict = false;
  static override flags = {
    help: Flags.help({ char: 'h', description: 'show this help' }),
    format: Flags.string({ char: 'f', description: 'input format (probed when absent)' }),
    'output-format': Flags.string({ char: 'O', description: 'output format: raw (default) or qcow2', default: 'raw' }),
  };

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(DiskDd);
    const ops = parseDdOperands(argv as string[]);
    if (!ops.input || !ops.output) throw new UserError('CLI_BAD_OPTION', 'Must specify both input and output files', { where: ops.input ? 'of=' : 'if=' });
    const srcFormat = formatArg(flags.format, '-f');
    const o: DdOptions = { input: ops.input, output: ops.output, bs: ops.bs, outFormat: formatArg(flags['output-format'], '-O')! };
    if (ops.count !== undefined) o.count = ops.count;
    if (ops.skip !== undefined) o.skip = ops.skip;
    if (srcFormat) o.srcFormat = srcFormat;
    for (const w of ddImage(o)) process.stderr.write(`vfab: ${w}\n`);
  }
}
