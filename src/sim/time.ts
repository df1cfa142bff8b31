/**
 * Simulated time: an integer count of nanoseconds since the start of the run.
 *
 * A JS number holds integers exactly up to 2^53 ns (about 104 days of simulated time), which is
 * far beyond any run vfab makes, and keeps arithmetic on the hot path free of BigInt. Build values
 * with the unit-named constructors so units never drift (ns-3's `Time`, Firecracker's lesson).
 */
export type SimTime = number & { readonly __simTime?: never };

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;

export const ns = (n: number): SimTime => Math.round(n);
export const us = (n: number): SimTime => Math.round(n * NS_PER_US);
export const ms = (n: number): SimTime => Math.round(n * NS_PER_MS);
export const seconds = (n: number): SimTime => Math.round(n * NS_PER_S);

/** Renders a time for humans: `1.250 s`, `35.000 ms`, `12 µs`, `800 ns`. */
export function formatTime(t: SimTime): string {
  if (t >= NS_PER_S) return `${(t / NS_PER_S).toFixed(3)} s`;
  if (t >= NS_PER_MS) return `${(t / NS_PER_MS).toFixed(3)} ms`;
  if (t >= NS_PER_US) return `${(t / NS_PER_US).toFixed(3)} µs`;
  return `${t} ns`;
}
