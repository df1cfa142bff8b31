/**
 * The base of every `vfab` command: maps errors to exit codes the way the design map promises.
 *
 * - `UserError` (bad topology, flow, image, flag): `place: message` on stderr, exit 2, no stack;
 * - oclif's own flag/argument errors: exit 2 as well (the flag at fault is in its message);
 * - anything else is a bug: a short message asking for a report, exit 1.
 *
 * Commands stay thin: parse flags, call one library function, render.
 */
import { Command, Errors } from '@oclif/core';
import { BugError, UserError } from '../errors.js';

export abstract class BaseCommand extends Command {
  // eslint-disable-next-line @typescript-eslint/require-await -- oclif's Command.catch is async; this override has nothing to await
  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (err instanceof UserError) {
      process.stderr.write(`${err.render()}\n`);
      process.exitCode = 2;
      return undefined;
    }
    // oclif's exit() and parse errors travel as errors too.
    if (err instanceof Errors.ExitError) throw err;
    if (err instanceof Errors.CLIError || (err as { oclif?: unknown }).oclif !== undefined) {
      const code = err.oclif?.exit;
      process.stderr.write(`vfab: ${err.message}\n`);
      process.exitCode = code === 0 ? 0 : 2;
      return undefined;
    }
    const detail = err instanceof BugError ? `${err.code}: ${err.message}` : (err.stack ?? String(err));
    process.stderr.write(
      `vfab: internal error (this is a bug in vfab, please report it with the command and input):\n${detail}\n`,
    );
    process.exitCode = 1;
    return undefined;
  }

  /** Prints one JSON value followed by a newline, stable key order as built. */
  protected printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }
}
