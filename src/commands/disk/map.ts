import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { openImage } from '../../block/api.js';
import { formatArg } from '../../block/cli-args.js';

export default class DiskMap extends BaseCommand {
  static override summary = 'Show which layer of the chain holds each extent (qemu-img map).';
  static override description =
    'JSON output has qemu-img\'s fields: start, length, depth (0 = top; holes report the bottom layer), present,\n' +
    'zero, data, offset (host offset in the layer holding the data). The human form lists data extents only.';
  static override examples = ['<%= config.bin %> disk map top.qcow2', '<%= config.bin %> disk map top.qcow2 --json'];
  static override args = { file: Args.string({ description: 'image file', required: true }) };
  static override flags = {
    format: Flags.string({ char: 'f', description: 'image format (probed when absent)' }),
    'force-share': Flags.boolean({ char: 'U', description: 'open even if a writer holds the lock' }),
    json: Flags.boolean({ description: 'qemu-img map --output=json' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskMap);
    const fmt = formatArg(flags.format, '-f');
    const chain = openImage(args.file, { readOnly: true, forceShare: flags['force-share'], ...(fmt ? { format: fmt } : {}) });
    try {
      const map = chain.allocationMap();
      if (flags.json) {
        this.printJson(map.map(({ file: _f, ...e }) => e));
        return;
      }
      const hex = (n: number): string => `0x${n.toString(16)}`;
      const out = [`${'Offset'.padEnd(20)}${'Length'.padEnd(20)}${'Mapped to'.padEnd(20)}File`];
      for (const e of map) if (e.data) out.push(`${hex(e.start).padEnd(20)}${hex(e.length).padEnd(20)}${hex(e.offset ?? 0).padEnd(20)}${e.file}`);
      process.stdout.write(`${out.join('\n')}\n`);
    } finally {
      chain.close();
    }
  }
}
