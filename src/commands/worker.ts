import { availableParallelism } from 'node:os';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { UserError } from '../errors.js';

function whole(v: string | undefined, flag: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError('CLI_BAD_FLAG', `expected a whole number from ${min} to ${max}, got "${v}"`, { where: flag });
  return n;
}

export default class Worker extends BaseCommand {
  static override summary = 'Run sweep points from a Redis queue (BullMQ) for `vfab sweep --redis`, until stopped.';
  static override description =
    'Start any number of these, on any machines that reach the Redis server. Each point runs in a child process; a point ' +
    'whose worker dies is taken over by another worker once its lock expires (--lock-ms). Jobs planned by another vfab ' +
    'version or build are refused with a message, never run. SIGINT/SIGTERM: finish the points in hand, then exit 0; a ' +
    'second signal exits at once (other workers take the abandoned points over).';
  static override examples = ['<%= config.bin %> worker --redis redis://127.0.0.1:6379 --concurrency 2'];
  static override flags = {
    redis: Flags.string({ description: 'Redis URL: redis://[user:password@]host[:port][/db] (rediss:// for TLS)', required: true }),
    concurrency: Flags.string({ description: 'points run at once by this worker (default: the core count)' }),
    queue: Flags.string({ description: 'BullMQ queue name (the same as the submitter\'s --queue)', default: 'vfab-sweep' }),
    'lock-ms': Flags.string({ description: 'job lock time: a dead worker\'s points are retried elsewhere after this long', default: '30000' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Worker);
    const concurrency = whole(flags.concurrency, '--concurrency', 1, 1024, availableParallelism());
    const lockMs = whole(flags['lock-ms'], '--lock-ms', 1000, 3_600_000, 30_000);
    const { startWorker } = await import('../sweep/worker.adapter.js');
    const log = (line: string): void => { process.stderr.write(`vfab worker: ${line}\n`); };
    const w = await startWorker({ url: flags.redis, queue: flags.queue, concurrency, lockMs, log });
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (sig: string): void => {
        if (stopping) {
          log(`${sig} again: leaving the points in hand to other workers`);
          void w.close(true).finally(resolve);
          return;
        }
        stopping = true;
        log(`${sig}: finishing the points in hand (${sig} again to quit now)`);
        void w.close().finally(resolve);
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
    log('stopped');
  }
}
