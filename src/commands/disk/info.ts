import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { imageInfo, type ImageInfo } from '../../block/api.js';
import { formatArg, humanSize } from '../../block/cli-args.js';

function text(i: ImageInfo): string {
  const lines = [
    `image: ${i.filename}`,
    `file format: ${i.format}`,
    `virtual size: ${humanSize(i['virtual-size'])} (${i['virtual-size']} bytes)`,
    `disk size: ${humanSize(i['actual-size'])}`,
  ];
  if (i['cluster-size'] !== undefined) lines.push(`cluster_size: ${i['cluster-size']}`);
  if (i['backing-filename'] !== undefined) {
    lines.push(`backing file: ${i['backing-filename']} (actual path: ${i['full-backing-filename']})`);
    if (i['backing-filename-format']) lines.push(`backing file format: ${i['backing-filename-format']}`);
  }
  if (i.snapshots) {
    lines.push('Snapshot list:', 'ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT');
    for (const s of i.snapshots) lines.push(snapshotLine(s));
  }
  const fs = i['format-specific'];
  if (fs) {
    lines.push('Format specific information:');
    lines.push(`    compat: ${fs.data.compat}`, `    compression type: ${fs.data['compression-type']}`, `    lazy refcounts: ${fs.data['lazy-refcounts']}`);
    if (fs.data.bitmaps) {
      // qapi/qapi-visit human dump (block/qapi.c bdrv_image_info_specific_dump): lists as [N]:.
      lines.push('    bitmaps:');
      fs.data.bitmaps.forEach((b, i) => {
        lines.push(`        [${i}]:`, '            flags:');
        b.flags.forEach((f, k) => lines.push(`                [${k}]: ${f}`));
        lines.push(`            name: ${b.name}`, `            granularity: ${b.granularity}`);
      });
    }
    lines.push(`    refcount bits: ${fs.data['refcount-bits']}`);
    if (fs.data['data-file'] !== undefined) lines.push(`    data file: ${fs.data['data-file']}`);
    if (fs.data['data-file-raw'] !== undefined) lines.push(`    data file raw: ${fs.data['data-file-raw']}`);
    lines.push(`    corrupt: ${fs.data.corrupt}`, `    extended l2: ${fs.data['extended-l2']}`);
  }
  return lines.join('\n');
}

export function snapshotLine(s: { id: string; name: string; 'vm-state-size': number; 'date-sec': number; 'vm-clock-sec': number; 'vm-clock-nsec': number }): string {
  const d = new Date(s['date-sec'] * 1000).toISOString().replace('T', ' ').slice(0, 19);
  const secs = s['vm-clock-sec'];
  const clock = `${String(Math.floor(secs / 3600)).padStart(2, '0')}:${String(Math.floor(secs / 60) % 60).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}.${String(Math.floor(s['vm-clock-nsec'] / 1e6)).padStart(3, '0')}`;
  return `${s.id.padEnd(10)}${s.name.padEnd(18)}${humanSize(s['vm-state-size']).padStart(7)} ${d} ${clock}`;
}

export default class DiskInfo extends BaseCommand {
  static override summary = 'Show an image: format, sizes, backing file, snapshots (qemu-img info).';
  static override examples = ['<%= config.bin %> disk info top.qcow2 --backing-chain', '<%= config.bin %> disk info base.qcow2 --json'];
  static override args = { file: Args.string({ description: 'image file', required: true }) };
  static override flags = {
    'backing-chain': Flags.boolean({ description: 'also show every backing image' }),
    format: Flags.string({ char: 'f', description: 'image format (probed when absent)' }),
    'force-share': Flags.boolean({ char: 'U', description: 'open even if a writer holds the lock' }),
    json: Flags.boolean({ description: 'JSON like qemu-img info --output=json (an array with --backing-chain)' }),
    output: Flags.string({ description: 'qemu-img info --output: human (default) or json', options: ['human', 'json'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskInfo);
    const fmt = formatArg(flags.format, '-f');
    const infos = imageInfo(args.file, { backingChain: flags['backing-chain'], forceShare: flags['force-share'], ...(fmt ? { format: fmt } : {}) });
    if (flags.json || flags.output === 'json') this.printJson(flags['backing-chain'] ? infos : infos[0]);
    else process.stdout.write(`${infos.map(text).join('\n\n')}\n`);
  }
}
