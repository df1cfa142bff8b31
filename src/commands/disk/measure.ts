import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { measureImage, type MeasureOptions } from '../../block/verbs.js';
import { formatArg, parseOptions, sizeArg } from '../../block/cli-args.js';
import { parsePrealloc } from '../../block/qcow2/prealloc.js';

export default class DiskMeasure extends BaseCommand {
  static override summary = 'Space an image needs in a given format (qemu-img measure).';
  static override description =
    'Either --size N (a new image) or FILE (convert it): "required size" (metadata plus the data clusters\n' +
    'the source holds) and "fully allocated size" (every cluster), with QEMU\'s formulas. The output\n' +
    'format is raw unless -O qcow2, as in qemu-img. --output=json prints qemu-img\'s JSON object.';
  static override examples = ['<%= config.bin %> disk measure --size 10G -O qcow2', '<%= config.bin %> disk measure -O qcow2 --output=json top.qcow2'];
  static override args = { file: Args.string({ description: 'image to measure' }) };
  static override flags = {
    help: Flags.help({ char: 'h', description: 'show this help' }),
    size: Flags.string({ description: 'virtual size of a new image' }),
    format: Flags.string({ char: 'f', description: 'source format (probed when absent)' }),
    'output-format': Flags.string({ char: 'O', description: 'target format: raw (default) or qcow2', default: 'raw' }),
    options: Flags.string({ char: 'o', description: 'target options: cluster_size, refcount_bits, extended_l2, preallocation, backing_file', multiple: true, multipleNonGreedy: true }),
    output: Flags.string({ description: 'human (default) or json', options: ['human', 'json'], default: 'human' }),
    'force-share': Flags.boolean({ char: 'U', description: 'open even if a writer holds the lock' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskMeasure);
    const opts: MeasureOptions = { outFormat: formatArg(flags['output-format'], '-O')!, forceShare: flags['force-share'] };
    const f = formatArg(flags.format, '-f');
    if (f) opts.srcFormat = f;
    if (flags.size !== undefined) opts.size = sizeArg(flags.size, '--size');
    // qemu-img.c img_measure parses -o against the output format's create options (plus the file
    // protocol's: preallocation), with qemu-img's words for the refusals.
    const known = opts.outFormat === 'raw' ? ['preallocation'] : ['cluster_size', 'refcount_bits', 'extended_l2', 'preallocation', 'backing_file', 'backing_fmt', 'compat'];
    for (const [k, v] of parseOptions(flags.options)) {
      if (!known.includes(k)) {
        throw new UserError('CLI_BAD_OPTION', `Invalid parameter '${k}'\nInvalid options for file format '${opts.outFormat}' (vfab knows ${known.join(', ')})`, { where: '-o' });
      }
      if (k === 'cluster_size') opts.clusterSize = sizeArg(v, '-o cluster_size');
      else if (k === 'refcount_bits') opts.refcountBits = Number(v);
      else if (k === 'extended_l2') {
        if (v !== 'on' && v !== 'off') throw new UserError('CLI_BAD_OPTION', "Parameter 'extended_l2' expects 'on' or 'off'\nInvalid options for file format 'qcow2'", { where: '-o extended_l2' });
        opts.extendedL2 = v === 'on';
      } else if (k === 'preallocation') {
        const m = parsePrealloc(v);
        if (m === undefined) throw new UserError('CLI_BAD_OPTION', `invalid parameter value: ${v}`, { where: '-o preallocation' });
        opts.preallocation = m;
      } else if (k === 'backing_file') opts.hasBacking = true;
      else if (k === 'compat' && v !== '1.1' && v !== 'v3') {
        throw new UserError('CLI_BAD_OPTION', `compat=${v}: vfab measures qcow2 version 3 (compat=1.1) only`, { where: '-o compat' });
      }
    }
    const r = measureImage(args.file, opts);
    if (flags.output === 'json') {
      // qemu-img prints QAPI JSON with 4-space indents, bitmaps first when present.
      const obj = r.bitmaps !== undefined ? { bitmaps: r.bitmaps, required: r.required, 'fully-allocated': r['fully-allocated'] } : r;
      process.stdout.write(`${JSON.stringify(obj, null, 4)}\n`);
      return;
    }
    let text = `required size: ${r.required}\nfully allocated size: ${r['fully-allocated']}\n`;
    if (r.bitmaps !== undefined) text += `bitmaps size: ${r.bitmaps}\n`;
    process.stdout.write(text);
  }
}
