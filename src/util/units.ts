/**
 * Unit-bearing values as users write them in topology and policy files.
 *
 * - durations: `20us`, `1.5ms`, `10s`, `2m`, `1h`, `500ns` → integer nanoseconds;
 * - bit rates: `10Gbit`, `100Mbit`, `1.5kbit`, `9600bit` (also `bps`, `Kbps`, `Mbps`, `Gbps`) → bits/s
 *   (decimal prefixes, as `tc` and link speeds use);
 * - sizes: `2GiB`, `64KiB`, `1.5MB`, and qemu-img's `64k`/`1M`/`2G`/`1T` (binary, as qemu-img means
 *   them), or a plain number of bytes → bytes.
 *
 * A bare number is accepted where the unit is unambiguous (sizes in bytes); for durations and rates
 * the unit is required, because `10` could mean anything.
 */

export class UnitError extends Error {
  constructor(
    message: string,
    readonly kind: 'duration' | 'rate' | 'size',
  ) {
    super(message);
  }
}

/**
 * The message of a unit error caught around a parse; anything else is an internal fault and is
 * rethrown, so a bug is never reported as the user's mistake (`catch (e)` never casts blindly).
 */
export function unitMessage(e: unknown): string {
  if (e instanceof UnitError) return e.message;
  throw e;
}

const DURATION: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const RATE: Record<string, number> = {
  bit: 1, bps: 1,
  kbit: 1e3, kbps: 1e3, Kbit: 1e3, Kbps: 1e3,
  mbit: 1e6, Mbit: 1e6, mbps: 1e6, Mbps: 1e6,
  gbit: 1e9, Gbit: 1e9, gbps: 1e9, Gbps: 1e9,
  tbit: 1e12, Tbit: 1e12, tbps: 1e12, Tbps: 1e12,
};
const SIZE: Record<string, number> = {
  '': 1, B: 1, b: 1,
  k: 1024, K: 1024, KiB: 1024, kiB: 1024, KB: 1000, kB: 1000,
  M: 1024 ** 2, MiB: 1024 ** 2, MB: 1e6,
  G: 1024 ** 3, GiB: 1024 ** 3, GB: 1e9,
  T: 1024 ** 4, TiB: 1024 ** 4, TB: 1e12,
  P: 1024 ** 5, PiB: 1024 ** 5, PB: 1e15,
};

const NUM_UNIT = /^\s*([0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*([A-Za-zµ]*)\s*$/;

function split(text: string): [number, string] | undefined {
  const m = NUM_UNIT.exec(text);
  if (!m) return undefined;
  return [Number(m[1]), m[2] ?? ''];
}

/** Parses `20us`-style durations into integer nanoseconds. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') throw new UnitError(`duration ${text} needs a unit (ns, us, ms, s, m, h), e.g. "${text}ms"`, 'duration');
  const p = split(text);
  const mult = p ? DURATION[p[1]] : undefined;
  if (!p || mult === undefined) {
    throw new UnitError(`"${text}" is not a duration; write a number and a unit: ns, us, ms, s, m, h (e.g. "20us", "1.5s")`, 'duration');
  }
  return Math.round(p[0] * mult);
}

/** Parses `10Gbit`-style rates into bits per second. */
export function parseRate(text: string | number): number {
  if (typeof text === 'number') throw new UnitError(`rate ${text} needs a unit (bit, kbit, Mbit, Gbit), e.g. "${text}Mbit"`, 'rate');
  const p = split(text);
  const mult = p ? RATE[p[1]] : undefined;
  if (!p || mult === undefined) {
    throw new UnitError(`"${text}" is not a bit rate; write a number and a unit: bit, kbit, Mbit, Gbit, Tbit (e.g. "10Gbit")`, 'rate');
  }
  return Math.round(p[0] * mult);
}

/** Parses sizes (`2GiB`, `64k`, `4096`) into bytes. */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isInteger(text) || text < 0) throw new UnitError(`size ${text} must be a whole number of bytes`, 'size');
    return text;
  }
  const p = split(text);
  const mult = p ? SIZE[p[1]] : undefined;
  if (!p || mult === undefined) {
    throw new UnitError(`"${text}" is not a size; write bytes or a number and a unit: k, M, G, T (binary, like qemu-img), KiB, MiB, GiB, KB, MB, GB`, 'size');
  }
  const bytes = p[0] * mult;
  if (!Number.isInteger(bytes)) throw new UnitError(`size "${text}" is not a whole number of bytes`, 'size');
  return bytes;
}

/** `1.5 GiB`, `64 KiB`, `512 B`. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
