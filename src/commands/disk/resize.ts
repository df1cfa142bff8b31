import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { openImage } from '../../block/api.js';
import { resizeImage } from '../../block/verbs.js';
import { formatArg, sizeArg } from '../../block/cli-args.js';
import { parsePrealloc } from '../../block/qcow2/prealloc.js';
import { RawLayer } from '../../block/raw.js';

export default class DiskResize extends BaseCommand {
  static override summary = 'Change the virtual size of an image (qemu-img resize).';
  static override description =
    'SIZE is absolute or relative (+1G, -512M). Shrinking needs --shrink (as in qemu-img, which exits 1\n' +
    'without it) and discards everything past the new end. qcow2 images with snapshots cannot be\n' +
    'resized. --preallocation=falloc|full grows a raw image with the new range allocated; a qcow2 image\n' +
    'grows with metadata|falloc|full laid out cluster for cluster as qemu-img 7.2 lays it out.';
  static override examples = ['<%= config.bin %> disk resize top.qcow2 +1G', '<%= config.bin %> disk resize --shrink top.qcow2 1G'];
  static override args = {
    file: Args.string({ description: 'image file', required: true }),
    size: Args.string({ description: 'new size, or +N / -N relative', required: true }),
  };
  static override flags = {
    help: Flags.help({ char: 'h', description: 'show this help' }),
    format: Flags.string({ char: 'f', description: 'image format (probed when absent)' }),
    shrink: Flags.boolean({ description: 'allow making the image smaller' }),
    preallocation: Flags.string({ description: 'off|metadata|falloc|full (qcow2), off|falloc|full (raw); growing only' }),
    quiet: Flags.boolean({ char: 'q', description: 'print nothing' }),
  };

  /** qemu-img's refusals that exit 1: the message on stderr, the image untouched. */
  private fail(msg: string): void {
    process.stderr.write(`vfab: ${msg}\n`);
    process.exitCode = 1;
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskResize);
    const pre = flags.preallocation === undefined ? 'off' : parsePrealloc(flags.preallocation);
    if (pre === undefined) {
      // qemu-img.c img_resize
      this.fail(`Invalid preallocation mode '${flags.preallocation}'`);
      return;
    }
    const fmt = formatArg(flags.format, '-f');
    const rel = /^[+-]/.test(args.size) ? args.size[0] : undefined;
    let size = sizeArg(rel ? args.size.slice(1) : args.size, 'SIZE');
    if (rel) {
      const c = openImage(args.file, { readOnly: true, noBacking: true, ...(fmt ? { format: fmt } : {}) });
      const cur = c.virtualSize;
      c.close();
      size = rel === '+' ? cur + size : cur - size;
      if (size < 0) throw new UserError('CLI_BAD_SIZE', 'New image size must be positive.', { where: 'SIZE' });
    }
    if (pre !== 'off') {
      // qemu-img.c img_resize: preallocation only grows; raw has no metadata to preallocate.
      const c = openImage(args.file, { readOnly: true, noBacking: true, ...(fmt ? { format: fmt } : {}) });
      const [cur, isRaw] = [c.virtualSize, c.layers[0] instanceof RawLayer];
      c.close();
      if (size <= cur) {
        this.fail('Preallocation can only be used for growing images');
        return;
      }
      if (isRaw && pre === 'metadata') {
        this.fail('Unsupported preallocation mode: metadata');
        return;
      }
    }
    if (flags.shrink && !flags.quiet) {
      process.stderr.write(
        "vfab: warning: Shrinking an image will delete all data beyond the shrunken image's end. Before performing such an operation, make sure there is no important data there.\n",
      );
    }
    const r = resizeImage(args.file, size, { shrink: flags.shrink, preallocation: pre, ...(fmt ? { format: fmt } : {}) });
    if (r === 'needs-shrink') {
      process.stderr.write('vfab: Use the --shrink option to perform a shrink operation.\n');
      process.exitCode = 1;
      return;
    }
    if (!flags.quiet) process.stdout.write('Image resized.\n');
  }
}
