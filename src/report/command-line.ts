/**
 * The command line a report shows, quoted so it can be pasted into a POSIX shell. Built from the
 * arguments only (no paths of the node binary, no environment), so the same command gives the
 * same report bytes.
 */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(args: readonly string[]): string {
  return ['vfab', ...args].map(shellQuote).join(' ');
}

/** `vfab run FILE --seed N --until T`: what reproduces the run a summary describes. */
export function reproduceLine(file: string | undefined, seed: number, simulatedNs: number): string | undefined {
  if (file === undefined) return undefined;
  const until = simulatedNs % 1_000_000 === 0 ? `${simulatedNs / 1_000_000}ms` : `${simulatedNs}ns`;
  return commandLine(['run', file, '--seed', String(seed), '--until', until]);
}
