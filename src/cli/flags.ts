/**
 * Flag values shared by several commands, parsed once so every command words its errors alike
 * (`--until: "10" is not a duration …`, exit 2).
 */
import { UserError } from '../errors.js';
import { parseDuration, unitMessage } from '../util/units.js';

/** `--seed`: an unsigned 32-bit integer. */
export function parseSeedFlag(seed: string): number {
  if (!/^[0-9]+$/.test(seed) || Number(seed) > 0xffffffff) {
    throw new UserError('CLI_BAD_FLAG', `seed must be an integer 0..4294967295, got "${seed}"`, { where: '--seed' });
  }
  return Number(seed);
}

/** A duration flag such as `--until 5s`. */
export function parseDurationFlag(name: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (e) {
    throw new UserError('CLI_BAD_FLAG', unitMessage(e), { where: `--${name}` });
  }
}

/** `--until` and `--seed` as run options (absent flags leave the topology's own defaults). */
export function runOptions(until: string | undefined, seed: string | undefined): { untilNs?: number; seed?: number } {
  const out: { untilNs?: number; seed?: number } = {};
  if (until !== undefined) out.untilNs = parseDurationFlag('until', until);
  if (seed !== undefined) out.seed = parseSeedFlag(seed);
  return out;
}
