/**
 * oclif `command_not_found` hook: `vfab disk conver` → a did-you-mean naming the closest command,
 * and `vfab disk help VERB` → that verb's help (qemu-img users type `qemu-img help`-style words).
 * Exit 2 as for any user error.
 */
import type { Hook } from '@oclif/core';

/** Levenshtein distance (small strings: command ids). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest known id to `id`, if it is close enough to be a typo. */
export function closestCommand(id: string, ids: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const words = id.split(':');
  for (const c of ids) {
    // Compare with as many typed words as the command has: the rest are its arguments.
    const d = distance(words.slice(0, c.split(':').length).join(':'), c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

const hook: Hook.CommandNotFound = async function (opts) {
  const parts = opts.id.split(':');
  const helpAt = parts.indexOf('help');
  if (helpAt >= 0) {
    // `vfab disk help convert` → `vfab disk convert --help`.
    const target = [...parts.slice(0, helpAt), ...parts.slice(helpAt + 1), ...(opts.argv ?? [])].join(':');
    if (opts.config.findCommand(target)) {
      await opts.config.runCommand(target, ['--help']);
      return;
    }
  }
  const guess = closestCommand(opts.id, opts.config.commandIDs);
  const spoken = parts.slice(0, guess !== undefined ? guess.split(':').length : parts.length).join(' ');
  const hint = guess !== undefined ? ` Did you mean '${guess.split(':').join(' ')}'?` : '';
  process.stderr.write(`vfab: '${spoken}' is not a vfab command.${hint} (vfab --help lists them)\n`);
  process.exitCode = 2;
  this.exit(2);
};

export default hook;
