/**
 * Expectations of a QoS test, one per line, parsed with positions:
 *
 *   [TARGET:] METRIC OP VALUE [over [FROM, TO]]
 *   burst: TARGET METRIC OP VALUE for OP DURATION
 *
 * TARGET is a disk (`vm1.vda`), a throttle group (its members together) or `all` (default). METRIC: `iops`, `read_iops`, `write_iops`,
 * `bw` / `read_bw` / `write_bw` (bytes/s: `100MiB/s`, `800M`), latency `pNN` (`p99`, `p99.9`), `lat_mean`, `lat_max`, and
 * per-interval extremes `max_M` / `min_M` of any of those (`max_iops`, `min_bw`, `max_p99`). OP: `>=`, `<=`, `>`, `<`, `==`. Latency values
 * take a unit (`20ms`), IOPS may use k/M (`1.8k`). Without `over`, the window is the whole run.
 * `burst:` measures the longest stretch of consecutive timeline intervals in which the metric
 * holds, and compares its length.
 *
 * Examples: `vm1.vda: iops >= 450 over [10s, 60s]`, `p99 <= 20ms`, `burst: vm1.vda iops >= 1800 for >= 9s`.
 */
import { parseDuration, parseSize, unitMessage } from '../util/units.js';

export type Op = '>=' | '<=' | '>' | '<' | '==';
/** A metric measured over a window or over one timeline interval. */
export type BaseMetric = 'iops' | 'read_iops' | 'write_iops' | 'bw' | 'read_bw' | 'write_bw' | 'lat_mean' | 'lat_max' | `p${string}`;
/** A base metric, or the largest / smallest per-interval value of one (`max_bw`, `min_p99`). */
export type Metric = BaseMetric | `max_${BaseMetric}` | `min_${BaseMetric}`;

export interface Expectation {
  text: string;
  target: string | undefined;
  /** The metric as written (`write_iops`, `max_bw`). */
  metric: Metric;
  /** The metric measured: per window (`window`), or per interval and then its extreme (`max`/`min`). */
  base: BaseMetric;
  agg: 'window' | 'max' | 'min';
  op: Op;
  value: number;
  /** Window [from, to) in ns; `to` = +inf for "until the end". */
  fromNs: number;
  toNs: number;
  burst: { op: Op; durationNs: number } | undefined;
}

export class ExpectParseError {
  constructor(
    readonly message: string,
    /** 0-based column in the expectation text. */
    readonly col: number,
  ) {}
}

interface Tok {
  s: string;
  at: number;
}

function tokenize(text: string): Tok[] {
  const toks: Tok[] = [];
  const re = /\s*(>=|<=|==|>|<|\[|\]|,|[^\s[\],<>=]+(?::(?=\s|$))?|[^\s]+)/gy;
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) {
    if (m[1] === undefined) break;
    toks.push({ s: m[1], at: m.index + m[0].length - m[1].length });
  }
  return toks;
}

/**
 * The base metrics. Every one of them is usable in every form: steady (over a window), `burst:`
 * (per interval, longest stretch) and interval extremes (`max_M` / `min_M`), so that no form
 * silently measures another metric than the one written (issue 10 #1, issue 17 #5).
 */
export const BASE_METRICS = ['iops', 'read_iops', 'write_iops', 'bw', 'read_bw', 'write_bw', 'lat_mean', 'lat_max'] as const;
const METRIC_HELP = 'iops, read_iops, write_iops, bw, read_bw, write_bw, pNN (e.g. p99), lat_mean, lat_max, or max_/min_ of any of them (max_iops, min_bw, max_p99)';

/** Splits `max_bw` into its aggregation and base metric; undefined when it is no metric. */
export function splitMetric(s: string): { base: BaseMetric; agg: 'window' | 'max' | 'min' } | undefined {
  const m = /^(max_|min_)?(.*)$/.exec(s)!;
  const base = m[2]!;
  if (!(BASE_METRICS as readonly string[]).includes(base) && !/^p\d+(\.\d+)?$/.test(base)) return undefined;
  return { base: base as BaseMetric, agg: m[1] === 'max_' ? 'max' : m[1] === 'min_' ? 'min' : 'window' };
}
const OPS: Op[] = ['>=', '<=', '>', '<', '=='];

/** Latency metrics (ns values with a time unit), including their `max_`/`min_` forms. */
export function isLatencyMetric(m: string): boolean {
  const b = m.replace(/^(max_|min_)/, '');
  return b === 'lat_mean' || b === 'lat_max' || /^p\d/.test(b);
}

/** Bandwidth metrics (bytes/s), including their `max_`/`min_` forms. */
export function isBandwidthMetric(m: string): boolean {
  return /^(max_|min_)?(read_|write_)?bw$/.test(m);
}

export function parseExpectation(text: string): Expectation | ExpectParseError {
  const toks = tokenize(text);
  let i = 0;
  const end = text.length;
  const peek = (): Tok | undefined => toks[i];
  const fail = (msg: string, t: Tok | undefined = toks[i]): ExpectParseError => new ExpectParseError(msg, t ? t.at : end);
  let burst = false;
  let target: string | undefined;
  if (peek()?.s === 'burst:') {
    burst = true;
    i++;
    const t = toks[i++];
    if (!t) return fail('expected a disk name after "burst:"');
    target = t.s;
  } else if (peek()?.s.endsWith(':')) {
    target = toks[i++]!.s.slice(0, -1);
  }
  if (target === 'all') target = undefined;
  const mt = toks[i++];
  if (!mt) return fail(`expected a metric: ${METRIC_HELP}`);
  const metric = mt.s as Metric;
  const split = splitMetric(mt.s);
  if (!split) return fail(`unknown metric "${mt.s}"; expected ${METRIC_HELP}`, mt);
  if (/^p/.test(split.base) && !(Number(split.base.slice(1)) > 0 && Number(split.base.slice(1)) <= 100)) return fail(`percentile "${split.base}" must be between p0 and p100`, mt);
  if (burst && split.agg !== 'window') return fail(`"burst:" measures ${split.base} per interval already; write "burst: ${target ?? 'all'} ${split.base} …" (max_/min_ are for non-burst expectations)`, mt);
  const ot = toks[i++];
  if (!ot || !OPS.includes(ot.s as Op)) return fail('expected a comparison: >=, <=, >, <, ==', ot);
  const vt = toks[i++];
  if (!vt) return fail('expected a value');
  const value = parseValue(metric, vt.s);
  if (typeof value === 'string') return fail(value, vt);
  let fromNs = 0;
  let toNs = Number.POSITIVE_INFINITY;
  let b: Expectation['burst'];
  if (burst) {
    const ft = toks[i++];
    if (ft?.s !== 'for') return fail('expected "for >= DURATION" after a burst condition', ft);
    const bo = toks[i++];
    if (!bo || !OPS.includes(bo.s as Op)) return fail('expected a comparison: >=, <=, >, <, ==', bo);
    const dt = toks[i++];
    if (!dt) return fail('expected a duration such as 9s');
    const d = dur(dt.s);
    if (typeof d === 'string') return fail(d, dt);
    b = { op: bo.s as Op, durationNs: d };
  }
  if (peek()?.s === 'over') {
    i++;
    if (toks[i++]?.s !== '[') return fail('expected "[" after "over" (e.g. over [10s, 60s])', toks[i - 1]);
    const a = toks[i++];
    const fa = a ? dur(a.s) : 'expected a start time';
    if (typeof fa === 'string') return fail(fa, a);
    if (toks[i++]?.s !== ',') return fail('expected "," between the start and end of the window', toks[i - 1]);
    const z = toks[i++];
    const fz = z ? (z.s === 'end' ? Number.POSITIVE_INFINITY : dur(z.s)) : 'expected an end time';
    if (typeof fz === 'string') return fail(fz, z);
    if (toks[i++]?.s !== ']') return fail('expected "]" to close the window', toks[i - 1]);
    if (!(fz > fa)) return fail('the window must end after it starts', a);
    fromNs = fa;
    toNs = fz;
  }
  if (i < toks.length) return fail(`unexpected "${toks[i]!.s}"`);
  return { text, target, metric, base: split.base, agg: split.agg, op: ot.s as Op, value, fromNs, toNs, burst: b };
}

function dur(s: string): number | string {
  try {
    return parseDuration(s);
  } catch (e) {
    return unitMessage(e);
  }
}

function parseValue(metric: Metric, s: string): number | string {
  if (isLatencyMetric(metric)) return dur(s);
  if (isBandwidthMetric(metric)) {
    try {
      return parseSize(s.replace(/\/s$/, ''));
    } catch (e) {
      return unitMessage(e);
    }
  }
  const m = /^(\d+(?:\.\d+)?)([kKM]?)$/.exec(s);
  if (!m) return `"${s}" is not an IOPS figure (e.g. 450, 1.8k)`;
  return Number(m[1]) * (m[2] === 'M' ? 1e6 : m[2] ? 1e3 : 1);
}

export function compare(a: number, op: Op, b: number): boolean {
  switch (op) {
    case '>=':
      return a >= b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '<':
      return a < b;
    case '==':
      return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  }
}
