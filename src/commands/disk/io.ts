import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { openImage } from '../../block/api.js';
import { formatArg } from '../../block/cli-args.js';
import { runIoCommands } from '../../block/qemu-io.js';
import { UserError } from '../../errors.js';

export default class DiskIo extends BaseCommand {
  static override summary = 'Pattern I/O on an image, verified like qemu-io -c.';
  static override description =
    'Commands: read/aio_read [-P PAT] [-v] [-q] OFF LEN, write/aio_write [-P PAT] [-z [-u]] OFF LEN, readv/writev OFF LEN [LEN...],\n' +
    'discard OFF LEN, alloc OFF [LEN], map, length, info, flush/aio_flush. -c goes before or after FILE.\n' +
    'Exit 1 when a pattern check fails ("Pattern verification failed at offset N, M bytes"), as qemu-io.';
  static override examples = [
    "<%= config.bin %> disk io top.qcow2 -c 'write -P 0xab 0 64k' -c 'read -P 0xab 0 64k' -c 'discard 0 64k'",
  ];
  static override args = { file: Args.string({ description: 'image file', required: true }) };
  static override flags = {
    cmd: Flags.string({ char: 'c', description: 'a qemu-io command (repeatable)', multiple: true, multipleNonGreedy: true, required: true }),
    format: Flags.string({ char: 'f', description: 'image format (probed when absent)' }),
    'read-only': Flags.boolean({ char: 'r', description: 'open read-only' }),
    'force-share': Flags.boolean({ char: 'U', description: 'open read-only even if a writer holds the lock' }),
    json: Flags.boolean({ description: 'print {failed, lines} as JSON' }),
    // qemu-io -n / -t: host cache modes. vfab's I/O is synchronous and flushes on request, so the
    // mode changes nothing; it is checked as qemu-io checks it (block.c bdrv_parse_cache_mode).
    nocache: Flags.boolean({ char: 'n', description: 'qemu-io -n (cache=none): accepted, no effect in vfab' }),
    cache: Flags.string({ char: 't', description: 'qemu-io -t: none, writeback, writethrough, directsync, unsafe (accepted, no effect)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskIo);
    if (flags.cache !== undefined && !['none', 'off', 'writeback', 'writethrough', 'directsync', 'unsafe'].includes(flags.cache)) {
      throw new UserError('CLI_BAD_FLAG', `Invalid cache option: ${flags.cache}`, { where: '-t' });
    }
    const fmt = formatArg(flags.format, '-f');
    const readOnly = flags['read-only'] || flags['force-share'];
    const chain = openImage(args.file, { readOnly, forceShare: flags['force-share'], ...(fmt ? { format: fmt } : {}) });
    let result;
    try {
      result = runIoCommands(chain, flags.cmd);
      if (!readOnly) chain.flush();
    } finally {
      chain.close();
    }
    if (flags.json) this.printJson(result);
    else process.stdout.write(result.lines.length ? `${result.lines.join('\n')}\n` : '');
    if (result.failed) process.exitCode = 1;
  }
}
