import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { openImage } from '../../block/api.js';
import { formatArg } from '../../block/cli-args.js';
import { formatMapHuman, formatMapJson } from '../../block/map-format.js';

export default class DiskMap extends BaseCommand {
  static override summary = 'Show which layer of the chain holds each extent (qemu-img map).';
  static override description =
    'JSON output has qemu-img\'s fields: start, length, depth (0 = top; holes report the bottom layer), present,\n' +
    'zero, data, offset (host offset in the layer file). The human form is qemu-img\'s: the extents holding\n' +
    'non-zero data, with the file name as qemu prints it (backing names relative to the overlay\'s directory).';
  static override examples = ['<%= config.bin %> disk map top.qcow2', '<%= config.bin %> disk map top.qcow2 --json'];
  static override args = { file: Args.string({ description: 'image file', required: true }) };
  static override flags = {
    format: Flags.string({ char: 'f', description: 'image format (probed when absent)' }),
    'force-share': Flags.boolean({ char: 'U', description: 'open even if a writer holds the lock' }),
    json: Flags.boolean({ description: 'qemu-img map --output=json' }),
    output: Flags.string({ description: 'qemu-img map --output: human (default) or json', options: ['human', 'json'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskMap);
    const fmt = formatArg(flags.format, '-f');
    const chain = openImage(args.file, { readOnly: true, forceShare: flags['force-share'], ...(fmt ? { format: fmt } : {}) });
    try {
      const map = chain.allocationMap();
      if (flags.output === 'json') {
        process.stdout.write(formatMapJson(map));
        return;
      }
      if (flags.json) {
        this.printJson(map.map(({ file: _f, ...e }) => e));
        return;
      }
      const comp = map.find((e) => e.compressed);
      if (comp) {
        // qemu-img.c dump_map_entry: human output needs host offsets; it prints the header and
        // the extents before the first compressed one, then fails with exit 1.
        process.stdout.write(formatMapHuman(map.slice(0, map.indexOf(comp))));
        process.stderr.write('qemu-img: File contains external, encrypted or compressed clusters.\n');
        process.exitCode = 1;
        return;
      }
      process.stdout.write(formatMapHuman(map));
    } finally {
      chain.close();
    }
  }
}
