import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { convertImage, type ConvertOptions } from '../../block/verbs.js';
import { formatArg, parseOptions, sizeArg } from '../../block/cli-args.js';

export default class DiskConvert extends BaseCommand {
  static override summary = 'Copy an image into a new one, flattening its backing chain (qemu-img convert).';
  static override description =
    'The output is raw unless -O qcow2 (qemu-img\'s default). Without -B the whole chain is flattened; with\n' +
    '-B the output is an overlay of BACKING and regions unallocated in the source chain are left to it.\n' +
    '-S N (default 4k) leaves aligned all-zero runs of N bytes unwritten; -S 0 writes every byte.\n' +
    '-n writes into an existing image (zero regions are written as zeroes unless --target-is-zero).\n' +
    '-c (qcow2 only) writes every data cluster deflate-compressed, as qemu-img convert -c.';
  static override examples = [
    '<%= config.bin %> disk convert -O qcow2 top.qcow2 flat.qcow2',
    '<%= config.bin %> disk convert -f qcow2 -O raw top.qcow2 disk.raw',
    '<%= config.bin %> disk convert -O qcow2 -B base.qcow2 -F qcow2 top.qcow2 new-top.qcow2',
  ];
  static override args = {
    source: Args.string({ description: 'source image', required: true }),
    target: Args.string({ description: 'output image', required: true }),
  };
  static override flags = {
    help: Flags.help({ char: 'h', description: 'show this help' }),
    format: Flags.string({ char: 'f', description: 'source format (probed when absent)' }),
    'output-format': Flags.string({ char: 'O', description: 'output format: raw (default) or qcow2', default: 'raw' }),
    backing: Flags.string({ char: 'B', description: 'backing file of the output (qcow2 only)' }),
    'backing-format': Flags.string({ char: 'F', description: 'format of the -B backing file' }),
    options: Flags.string({ char: 'o', description: 'output format options: cluster_size, refcount_bits, extended_l2, data_file, data_file_raw, compat', multiple: true, multipleNonGreedy: true }),
    'no-create': Flags.boolean({ char: 'n', description: 'write into an existing target image' }),
    'target-is-zero': Flags.boolean({ description: 'with -n: the target already reads as zeros' }),
    sparse: Flags.string({ char: 'S', description: 'minimum run of zero bytes left unwritten (default 4k; 0 = fully allocated)' }),
    compress: Flags.boolean({ char: 'c', description: 'compressed output (qcow2, deflate)' }),
    progress: Flags.boolean({ char: 'p', description: 'show progress as qemu-img does' }),
    quiet: Flags.boolean({ char: 'q', description: 'print nothing' }),
    'dirty-bitmap': Flags.string({ description: 'vfab: copy only the extents dirty in this bitmap of the source (incremental backup; needs -B)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskConvert);
    const outFormat = formatArg(flags['output-format'], '-O')!;
    const srcFormat = formatArg(flags.format, '-f');
    const opts: ConvertOptions = { outFormat, noCreate: flags['no-create'], targetIsZero: flags['target-is-zero'], compress: flags.compress };
    if (srcFormat) opts.srcFormat = srcFormat;
    if (flags.backing !== undefined) {
      if (outFormat !== 'qcow2') throw new UserError('CLI_BAD_FLAG', `Backing file not supported for file format '${outFormat}'`, { where: '-B' });
      opts.backingFile = flags.backing;
      opts.backingFormat = formatArg(flags['backing-format'], '-F') ?? 'qcow2';
    }
    if (flags['dirty-bitmap'] !== undefined) opts.dirtyBitmap = flags['dirty-bitmap'];
    if (flags.sparse !== undefined) opts.sparseSize = sizeArg(flags.sparse, '-S');
    for (const [k, v] of parseOptions(flags.options)) {
      if (k === 'cluster_size') opts.clusterSize = sizeArg(v, '-o cluster_size');
      else if (k === 'refcount_bits') opts.refcountBits = Number(v);
      else if (k === 'extended_l2') {
        if (v !== 'on' && v !== 'off') throw new UserError('CLI_BAD_OPTION', "Parameter 'extended_l2' expects 'on' or 'off'", { where: '-o extended_l2' });
        opts.extendedL2 = v === 'on';
      } else if (k === 'data_file') opts.dataFile = v;
      else if (k === 'data_file_raw') {
        if (v !== 'on' && v !== 'off') throw new UserError('CLI_BAD_OPTION', "Parameter 'data_file_raw' expects 'on' or 'off'", { where: '-o data_file_raw' });
        opts.dataFileRaw = v === 'on';
      } else if (k === 'compat') {
        if (v !== '1.1' && v !== 'v3') throw new UserError('CLI_BAD_OPTION', `compat=${v}: vfab writes qcow2 version 3 (compat=1.1) only`, { where: '-o compat' });
      } else throw new UserError('CLI_BAD_OPTION', `Invalid parameter '${k}' (vfab knows cluster_size, refcount_bits, extended_l2, data_file, data_file_raw, compat)`, { where: '-o' });
    }
    if (outFormat === 'raw' && (opts.clusterSize !== undefined || opts.refcountBits !== undefined || opts.extendedL2 || opts.dataFile !== undefined)) {
      throw new UserError('CLI_BAD_OPTION', 'raw images take no cluster_size or refcount_bits', { where: '-o' });
    }
    // qemu-img.c qemu_progress_print: "    (NN.NN/100%)\r", every whole percent, then a newline.
    let last = -1;
    if (flags.progress && !flags.quiet) {
      opts.progress = (pct: number): void => {
        const whole = Math.floor(pct);
        if (whole === last && pct < 100) return;
        last = whole;
        process.stdout.write(`    (${pct.toFixed(2)}/100%)\r`);
      };
    }
    convertImage(args.source, args.target, opts);
    if (flags.progress && !flags.quiet) process.stdout.write('\n');
  }
}
