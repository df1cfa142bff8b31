/**
 * Readable chart axes: ticks on round numbers (1, 2, 5 × 10ⁿ, as R's `pretty` and d3's
 * `ticks` choose them) and value labels in the unit a reader expects — binary prefixes for
 * bytes (`300 MiB/s`, IEC 80000-13), SI prefixes for counts and bits (`10 Gbit/s`).
 */

/** The 1/2/5 × 10ⁿ step that gives about `count` intervals over [lo, hi]. */
export function niceStep(lo: number, hi: number, count = 5): number {
  const span = hi - lo;
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  const k = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
  return k * p;
}

/** Ticks at multiples of the nice step, covering [lo, hi] (domain end rounded out to a tick). */
export function niceTicks(lo: number, hi: number, count = 5): { ticks: number[]; lo: number; hi: number; step: number } {
  const step = niceStep(lo, hi, count);
  const a = Math.floor(lo / step + 1e-9) * step;
  const b = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; a + i * step <= b + step * 1e-9; i++) ticks.push(+(a + i * step).toPrecision(12));
  return { ticks, lo: a, hi: b === a ? a + step : b, step };
}

/** Byte-valued ticks: 1/2/5 steps in the binary unit the top of the axis uses (so `256 MiB`, not `268.4M`). */
export function niceByteTicks(lo: number, hi: number, count = 5): { ticks: number[]; lo: number; hi: number; step: number } {
  const unit = binaryUnit(Math.max(Math.abs(lo), Math.abs(hi)));
  const t = niceTicks(lo / unit.div, hi / unit.div, count);
  return { ticks: t.ticks.map((v) => v * unit.div), lo: t.lo * unit.div, hi: t.hi * unit.div, step: t.step * unit.div };
}

const BIN = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
function binaryUnit(v: number): { div: number; name: string } {
  let i = 0;
  while (i < BIN.length - 1 && v >= 1024 ** (i + 1)) i++;
  return { div: 1024 ** i, name: BIN[i]! };
}

/** Up to 3 significant digits, no trailing zeros. */
function sig(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return String(+v.toFixed(digits));
}

/** `300 MiB`, `1.5 GiB`, `512 B`. */
export function formatBytesBinary(v: number): string {
  const u = binaryUnit(Math.abs(v));
  return `${sig(v / u.div)} ${u.name}`;
}

/** SI prefix: `1.2k`, `3M`, `450`. */
export function formatSi(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e12) return `${sig(v / 1e12)}T`;
  if (a >= 1e9) return `${sig(v / 1e9)}G`;
  if (a >= 1e6) return `${sig(v / 1e6)}M`;
  if (a >= 1e3) return `${sig(v / 1e3)}k`;
  return sig(v);
}

/** `10 Gbit/s`, `2 Mbit/s` (decimal, as link rates are quoted). */
export function formatBitRate(bps: number): string {
  const a = Math.abs(bps);
  if (a >= 1e9) return `${sig(bps / 1e9)} Gbit/s`;
  if (a >= 1e6) return `${sig(bps / 1e6)} Mbit/s`;
  if (a >= 1e3) return `${sig(bps / 1e3)} kbit/s`;
  return `${sig(bps)} bit/s`;
}

/** `20 µs`, `1.5 ms`, `2 s`, `0`. */
export function formatDuration(ns: number): string {
  const a = Math.abs(ns);
  if (a === 0) return '0';
  if (a >= 1e9) return `${sig(ns / 1e9)} s`;
  if (a >= 1e6) return `${sig(ns / 1e6)} ms`;
  if (a >= 1e3) return `${sig(ns / 1e3)} µs`;
  return `${sig(ns)} ns`;
}
