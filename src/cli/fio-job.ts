/** The `--max-runtime` flag of `vfab qos run|test|import` for fio job files. */
import { Flags } from '@oclif/core';
import { UserError } from '../errors.js';
import { parseDuration, unitMessage } from '../util/units.js';

export const maxRuntimeFlag = Flags.string({ description: 'fio job files: cap every job\'s runtime and ramp_time (e.g. 2s); jobs without a runtime get this one' });

export function parseMaxRuntime(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  let ns: number;
  try {
    ns = parseDuration(text);
  } catch (e) {
    throw new UserError('CLI_BAD_FLAG', unitMessage(e), { where: '--max-runtime' });
  }
  if (ns <= 0) throw new UserError('CLI_BAD_FLAG', `--max-runtime must be more than 0, got "${text}"`, { where: '--max-runtime' });
  return ns;
}
