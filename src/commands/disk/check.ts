import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { UserError } from '../../errors.js';
import { checkImage } from '../../block/api.js';
import { formatArg } from '../../block/cli-args.js';

export default class DiskCheck extends BaseCommand {
  static override summary = 'Check an image\'s metadata for corruption and leaks (qemu-img check).';
  static override description =
    'Exit status as qemu-img check: 0 clean, 2 corruptions found, 3 only leaked clusters (wasted space, data\n' +
    'safe). -r leaks frees leaked clusters; -r all also raises refcounts that are too low.';
  static override examples = ['<%= config.bin %> disk check top.qcow2', '<%= config.bin %> disk check -r leaks top.qcow2 --json'];
  static override args = { file: Args.string({ description: 'image file', required: true }) };
  static override flags = {
    repair: Flags.string({ char: 'r', description: 'repair: leaks or all' }),
    format: Flags.string({ char: 'f', description: 'image format (probed when absent)' }),
    'force-share': Flags.boolean({ char: 'U', description: 'check even if a writer holds the lock (results may be inconsistent)' }),
    json: Flags.boolean({ description: 'qemu-img check --output=json' }),
    output: Flags.string({ description: 'qemu-img check --output: human (default) or json', options: ['human', 'json'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskCheck);
    if (flags.repair !== undefined && flags.repair !== 'leaks' && flags.repair !== 'all') {
      throw new UserError('CLI_BAD_FLAG', `Unknown option for -r: '${flags.repair}' (leaks or all)`, { where: '-r' });
    }
    const fmt = formatArg(flags.format, '-f');
    const r = checkImage(args.file, {
      ...(flags.repair ? { repair: flags.repair } : {}),
      ...(fmt ? { format: fmt } : {}),
      forceShare: flags['force-share'],
    });
    if (flags.json || flags.output === 'json') {
      // qemu-img.c collect_image_check: every count but check-errors is present only when non-zero.
      const opt = (k: string, v: number): Record<string, number> => (v !== 0 ? { [k]: v } : {});
      this.printJson({
        ...opt('image-end-offset', r.imageEndOffset),
        ...opt('total-clusters', r.totalClusters),
        'check-errors': r.checkErrors,
        ...opt('leaks', r.leaks),
        ...opt('corruptions', r.corruptions),
        ...opt('leaks-fixed', r.leaksFixed),
        ...opt('corruptions-fixed', r.corruptionsFixed),
        ...opt('allocated-clusters', r.allocatedClusters),
        filename: r.filename,
        format: r.format,
        ...opt('fragmented-clusters', r.fragmentedClusters),
        ...opt('compressed-clusters', r.compressedClusters),
      });
    } else {
      const out: string[] = [...r.messages];
      if (r.leaksFixed || r.corruptionsFixed) out.push(`The following inconsistencies were found and repaired:\n\n    ${r.leaksFixed} leaked clusters\n    ${r.corruptionsFixed} corruptions\n`);
      if (r.corruptions) out.push(`\n${r.corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.`);
      if (r.leaks) out.push(`\n${r.leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.`);
      if (!r.corruptions && !r.leaks && !r.checkErrors) out.push('No errors were found on the image.');
      // qemu-img.c dump_human_image_check: allocated over total, fragmented and compressed over allocated.
      const pct = (n: number, of: number): string => printf2(of === 0 ? 0 : (100 * n) / of);
      // Only when something is allocated (qemu-img.c: total_clusters != 0 && allocated_clusters != 0).
      if (r.totalClusters !== 0 && r.allocatedClusters !== 0) {
        out.push(
          `${r.allocatedClusters}/${r.totalClusters} = ${pct(r.allocatedClusters, r.totalClusters)}% allocated, ${pct(r.fragmentedClusters, r.allocatedClusters)}% fragmented, ${pct(r.compressedClusters, r.allocatedClusters)}% compressed clusters`,
        );
      }
      out.push(`Image end offset: ${r.imageEndOffset}`);
      process.stdout.write(`${out.join('\n')}\n`);
    }
    // qemu-img check: 2 corruptions, 1 check errors (not completed), 3 leaks only.
    if (r.corruptions) process.exitCode = 2;
    else if (r.checkErrors) process.exitCode = 1;
    else if (r.leaks) process.exitCode = 3;
  }
}

/** `%0.2f` as glibc prints it: an exact tie rounds to even (3.125 → 3.12), where toFixed rounds up. */
export function printf2(x: number): string {
  const t = x * 1000;
  if (Number.isInteger(t) && t % 10 === 5) {
    const down = Math.floor(t / 10);
    return ((down % 2 === 0 ? down : down + 1) / 100).toFixed(2);
  }
  return x.toFixed(2);
}
