import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { openImage } from '../../block/api.js';
import { benchStep, runBench } from '../../block/bench.adapter.js';
import { formatArg, sizeArg } from '../../block/cli-args.js';

export default class DiskBench extends BaseCommand {
  static override summary = 'Time COUNT requests on an image (qemu-img bench).';
  static override description =
    'Same meaning as qemu-img bench: -c requests of -s bytes from -o, -S bytes apart, wrapping at the end.\n' +
    '--pattern rand uses an odd stride (SIZE x 162013) that visits every block once, as the QEMU oracle kit does.\n' +
    'vfab\'s I/O is synchronous: -d is accepted but requests complete one at a time.';
  static override examples = ['<%= config.bin %> disk bench -c 100000 -s 4k --pattern rand top.qcow2', '<%= config.bin %> disk bench -w -c 20000 thin.qcow2 --json'];
  static override args = { file: Args.string({ description: 'image file', required: true }) };
  static override flags = {
    count: Flags.string({ char: 'c', description: 'number of requests', default: '75000' }),
    depth: Flags.string({ char: 'd', description: 'queue depth (accepted; vfab runs at depth 1)', default: '64' }),
    size: Flags.string({ char: 's', description: 'request size', default: '4k' }),
    step: Flags.string({ char: 'S', description: 'bytes between request starts' }),
    offset: Flags.string({ char: 'o', description: 'first offset', default: '0' }),
    write: Flags.boolean({ char: 'w', description: 'write instead of read' }),
    pattern: Flags.string({ description: 'access pattern: seq or rand', default: 'seq' }),
    format: Flags.string({ char: 'f', description: 'image format (probed when absent)' }),
    json: Flags.boolean({ description: 'print the figures as JSON' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskBench);
    if (flags.pattern !== 'seq' && flags.pattern !== 'rand') throw new UserError('CLI_BAD_FLAG', `--pattern must be seq or rand, got '${flags.pattern}'`, { where: '--pattern' });
    const pattern: 'seq' | 'rand' = flags.pattern;
    const count = Number(flags.count);
    if (!Number.isInteger(count) || count <= 0) throw new UserError('CLI_BAD_FLAG', `Invalid request count '${flags.count}'`, { where: '-c' });
    const depth = Number(flags.depth);
    if (!Number.isInteger(depth) || depth <= 0) throw new UserError('CLI_BAD_FLAG', `Invalid queue depth '${flags.depth}'`, { where: '-d' });
    const size = sizeArg(flags.size, '-s');
    if (size <= 0) throw new UserError('CLI_BAD_FLAG', 'Invalid buffer size 0', { where: '-s' });
    const step = flags.step !== undefined ? sizeArg(flags.step, '-S') : undefined;
    const offset = sizeArg(flags.offset, '-o');
    const fmt = formatArg(flags.format, '-f');
    const chain = openImage(args.file, { readOnly: !flags.write, ...(fmt ? { format: fmt } : {}) });
    try {
      if (offset + size > chain.virtualSize) throw new UserError('CLI_BAD_FLAG', `offset ${offset} + size ${size} is past the end of the image`, { where: '-o' });
      const opts = { count, size, write: flags.write, pattern, offset, depth, ...(step !== undefined ? { step } : {}) };
      if (!flags.json) {
        process.stdout.write(`Sending ${count} ${flags.write ? 'write' : 'read'} requests, ${size} bytes each, 1 in parallel (starting at offset ${offset}, step size ${benchStep(opts)})\n`);
      }
      const r = runBench(chain, opts);
      if (flags.json) this.printJson({ ...r, pattern: flags.pattern, write: flags.write, depth: 1 });
      else process.stdout.write(`Run completed in ${r.seconds.toFixed(3)} seconds (${Math.round(r.ops_per_s)} requests/s).\n`);
    } finally {
      chain.close();
    }
  }
}
