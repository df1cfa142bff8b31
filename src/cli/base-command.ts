/**
 * The base of every `vfab` command: maps errors to exit codes the way the design map promises.
 *
 * - `UserError` (bad topology, flow, image, flag): `place: message` on stderr, exit 2, no stack;
 * - oclif's own flag/argument errors: exit 2 as well (the flag at fault is in its message);
 * - anything else is a bug: a short message asking for a report, exit 1.
 *
 * Commands stay thin: parse flags, call one library function, render.
 */
import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { BugError, UserError } from '../errors.js';
import { parseSize, unitMessage } from '../util/units.js';
import { DEFAULT_MAX_INPUT_BYTES, setMaxInputBytes } from '../util/user-file.adapter.js';

export abstract class BaseCommand extends Command {
  /** Flags every command has. */
  static override baseFlags = {
    'max-input-size': Flags.string({
      description: `largest input file vfab reads (topology, flows, QoS, packets), e.g. 256MiB; env VFAB_MAX_INPUT_SIZE (default ${DEFAULT_MAX_INPUT_BYTES / 1048576}MiB)`,
      helpGroup: 'GLOBAL',
    }),
  };

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

  /**
   * No command reads standard input unless it is given `-` explicitly.
   *
   * Root cause (issue 10 #10): @oclif/core's parser (`lib/parser/parse.js`, `_args` → `tryStdin`)
   * fills every positional argument missing from argv by reading stdin whenever stdin is not a
   * TTY, with a 10 ms timeout. In a shell loop (`… | while read x; do vfab …; done`) or a CI
   * pipeline stdin is a pipe, so an omitted optional argument became the next line of the pipe
   * (`SIZE: Invalid size 'b'`), or not, depending on a 10 ms race. oclif's own switch for this is
   * `ignoreStdin` per argument; it is set here for every argument of every command, so a new
   * command cannot forget it. (Flags only read stdin with `allowStdin` and the value `-`.)
   */
  protected override async parse<F extends Interfaces.OutputFlags<Interfaces.FlagInput>, B extends Interfaces.OutputFlags<Interfaces.FlagInput>, A extends Interfaces.OutputArgs<Interfaces.ArgInput>>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    const input = (options ?? (this.ctor as unknown as Interfaces.Input<F, B, A>));
    const args = Object.fromEntries(Object.entries(input.args ?? {}).map(([k, a]) => [k, { ...a, ignoreStdin: true }]));
    // a command class's inherited statics (baseFlags) are not own properties: copy them by name
    const full = {
      ...input,
      flags: input.flags,
      baseFlags: input.baseFlags,
      enableJsonFlag: input.enableJsonFlag,
      strict: input.strict,
      args,
    } as Interfaces.Input<F, B, A>;
    const out = await super.parse(full, argv);
    const flag = (out.flags as Record<string, unknown>)['max-input-size'];
    const env = process.env['VFAB_MAX_INPUT_SIZE'];
    const limit = typeof flag === 'string' ? { v: flag, where: '--max-input-size' } : env ? { v: env, where: 'VFAB_MAX_INPUT_SIZE' } : undefined;
    if (limit) {
      let n: number;
      try {
        n = parseSize(limit.v);
      } catch (e) {
        throw new UserError('CLI_BAD_FLAG', unitMessage(e), { where: limit.where });
      }
      if (n < 1) throw new UserError('CLI_BAD_FLAG', `the input size limit must be at least 1 byte, got "${limit.v}"`, { where: limit.where });
      setMaxInputBytes(n);
    }
    return out;
  }

  /** Prints one JSON value followed by a newline, stable key order as built. */
  protected printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }
}
