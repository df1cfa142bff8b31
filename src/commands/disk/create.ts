import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { createImage } from '../../block/api.js';
import { formatArg, parseOptions, sizeArg } from '../../block/cli-args.js';
import { parsePrealloc, type PreallocMode } from '../../block/qcow2/prealloc.js';

export default class DiskCreate extends BaseCommand {
  static override summary = 'Create a thin disk image (qemu-img create).';
  static override description =
    'qcow2 v3 (compat=1.1) by default, 64 KiB clusters, nothing allocated. With -b the image is an overlay:\n' +
    'unallocated clusters read from the backing file; -F names its format (required, as in qemu-img 7+).\n' +
    'Sizes take k, M, G, T suffixes (binary, like qemu-img). -o accepts cluster_size, refcount_bits,\n' +
    'backing_file, backing_fmt, compat (1.1 only), extended_l2=on|off (subclusters), preallocation=off|metadata|falloc|full\n(raw: off|falloc|full), laid out as qemu-img 7.2 lays it out.';
  static override examples = [
    '<%= config.bin %> disk create -f qcow2 base.qcow2 10G',
    '<%= config.bin %> disk create -f qcow2 -b base.qcow2 -F qcow2 top.qcow2',
    '<%= config.bin %> disk create -o cluster_size=4k small.qcow2 1G',
  ];
  static override args = {
    file: Args.string({ description: 'image file to create', required: true }),
    size: Args.string({ description: 'virtual size (default: the backing image size)' }),
  };
  static override flags = {
    format: Flags.string({ char: 'f', description: 'image format: qcow2 or raw', default: 'qcow2' }),
    backing: Flags.string({ char: 'b', description: 'backing file (relative names resolve against the new image\'s folder)' }),
    'backing-format': Flags.string({ char: 'F', description: 'format of the backing file' }),
    // Non-greedy: `-o cluster_size=4k FILE SIZE` (qemu-img's order) leaves FILE and SIZE to the arguments.
    options: Flags.string({ char: 'o', description: 'format options, comma separated name=value (repeatable)', multiple: true, multipleNonGreedy: true }),
    quiet: Flags.boolean({ char: 'q', description: 'print nothing' }),
    json: Flags.boolean({ description: 'print what was created as JSON' }),
  };

  /** qemu-img's refusals that exit 1 (not 2): the message on stderr, nothing created. */
  private fail(msg: string): void {
    process.stderr.write(`vfab: ${msg}\n`);
    process.exitCode = 1;
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskCreate);
    const format = formatArg(flags.format, '-f')!;
    const o = parseOptions(flags.options);
    let backing = flags.backing;
    let backingFormat = formatArg(flags['backing-format'], '-F');
    let clusterSize: number | undefined;
    let refcountBits: number | undefined;
    let extendedL2 = false;
    let preallocation: PreallocMode | undefined;
    let dataFile: string | undefined;
    let dataFileRaw = false;
    for (const [k, v] of o) {
      if (k === 'cluster_size') clusterSize = sizeArg(v, '-o cluster_size');
      else if (k === 'refcount_bits') refcountBits = Number(v);
      else if (k === 'extended_l2') {
        if (v !== 'on' && v !== 'off') throw new UserError('CLI_BAD_OPTION', "Parameter 'extended_l2' expects 'on' or 'off'", { where: '-o extended_l2' });
        extendedL2 = v === 'on';
      }
      else if (k === 'backing_file') backing = v;
      else if (k === 'data_file') dataFile = v;
      else if (k === 'data_file_raw') {
        if (v !== 'on' && v !== 'off') throw new UserError('CLI_BAD_OPTION', "Parameter 'data_file_raw' expects 'on' or 'off'", { where: '-o data_file_raw' });
        dataFileRaw = v === 'on';
      }
      else if (k === 'backing_fmt') backingFormat = formatArg(v, '-o backing_fmt');
      else if (k === 'compat') {
        // qcow2.c qcow2_co_create: this refusal comes first when a data file is asked for too.
        if ((v === '0.10' || v === 'v2') && o.has('data_file')) {
          throw new UserError('QCOW2_BAD_OPTION', `${args.file}: External data files are only supported with compatibility level 1.1 and above (use version=v3 or greater)`, { where: '-o compat' });
        }
        if (v !== '1.1' && v !== 'v3') throw new UserError('CLI_BAD_OPTION', `compat=${v}: vfab creates qcow2 version 3 (compat=1.1) only`, { where: '-o compat' });
      } else if (k === 'preallocation') {
        preallocation = parsePrealloc(v);
        // qapi's refusal, exit 1 as qemu-img (block/qcow2.c qcow2_co_create_opts via the qapi visitor).
        // raw goes through block/file-posix.c raw_co_create_opts (qapi_enum_parse): other words.
        if (preallocation === undefined) {
          this.fail(format === 'raw' ? `${args.file}: invalid parameter value: ${v}` : `${args.file}: Parameter 'preallocation' does not accept value '${v}'`);
          return;
        }
      } else throw new UserError('CLI_BAD_OPTION', `Invalid parameter '${k}' (vfab knows cluster_size, refcount_bits, extended_l2, backing_file, backing_fmt, compat, preallocation, data_file, data_file_raw)`, { where: '-o' });
    }
    if (format === 'raw' && (dataFile !== undefined || dataFileRaw)) {
      throw new UserError('CLI_BAD_OPTION', 'raw images take no data_file or data_file_raw', { where: '-o data_file' });
    }
    if (format === 'raw' && (clusterSize !== undefined || refcountBits !== undefined || extendedL2)) {
      throw new UserError('CLI_BAD_OPTION', 'raw images take no cluster_size, refcount_bits or extended_l2', { where: '-o' });
    }
    if (backing !== undefined && backingFormat === undefined) {
      throw new UserError('CLI_BAD_FLAG', 'Backing file specified without backing format', { where: '-F', hint: `add -F qcow2 (or -F raw), as qemu-img requires` });
    }
    // block/file-posix.c raw_co_create: raw knows no metadata to preallocate.
    if (format === 'raw' && preallocation === 'metadata') {
      this.fail(`${args.file}: Unsupported preallocation mode: metadata`);
      return;
    }
    const size = args.size !== undefined ? sizeArg(args.size, 'SIZE') : undefined;
    createImage(args.file, {
      format,
      ...(size !== undefined ? { size } : {}),
      ...(clusterSize !== undefined ? { clusterSize } : {}),
      ...(refcountBits !== undefined ? { refcountBits } : {}),
      ...(extendedL2 ? { extendedL2 } : {}),
      ...(backing !== undefined ? { backingFile: backing } : {}),
      ...(backingFormat !== undefined ? { backingFormat } : {}),
      ...(preallocation !== undefined ? { preallocation } : {}),
      ...(dataFile !== undefined ? { dataFile } : {}),
      ...(dataFileRaw ? { dataFileRaw } : {}),
    });
    if (flags.json) this.printJson({ filename: args.file, format, ...(backing !== undefined ? { 'backing-filename': backing } : {}) });
    else if (!flags.quiet) {
      const extra =
        (backing !== undefined ? ` backing_file=${backing} backing_fmt=${backingFormat}` : '') +
        (dataFile !== undefined ? ` data_file=${dataFile}` : '') +
        (dataFileRaw ? ' data_file_raw=on' : '');
      process.stdout.write(`Formatting '${args.file}', fmt=${format}${format === 'qcow2' ? ` cluster_size=${clusterSize ?? 65536}${extendedL2 ? ' extended_l2=on' : ''}` : ''}${preallocation !== undefined && preallocation !== 'off' ? ` preallocation=${preallocation}` : ''}${size !== undefined ? ` size=${size}` : ''}${extra}\n`);
    }
  }
}
