/**
 * Expectations for network runs (`expect:` in a topology, checked by `vfab test`):
 *
 *   APP: METRIC OP VALUE [over [FROM, TO]]
 *
 * APP is a scenario app's name (`iperf1`, `rpc2`, `ping1`, `udp1` in scenario order, or its
 * `name:`). Metrics per app kind:
 * - iperf: `throughput` (receiver goodput, a rate such as `900Mbit`), `min_throughput` /
 *   `max_throughput` (over the report intervals), `retransmits`, `rtt` (mean smoothed RTT);
 * - rpc: `p50`, `p99`, `p99.9` … (any pNN), `lat_max`, `lat_mean` (durations), `completed`,
 *   `failed`, `rps`;
 * - ping: `loss` (percent), `received`, `rtt_avg`, `rtt_max`;
 * - udp: `loss` (percent), `throughput`.
 * `over [a, b]` (simulation time; `end` allowed) restricts iperf metrics to the report intervals
 * overlapping the window (bytes pro rata) and rpc metrics to requests completed inside it.
 * The tokenizer, comparison operators and `ExpectParseError` are the QoS expectations'
 * (`qos/expect.ts`), so both files read alike. Lines about VM disks (`vm1.vda: read_iops >= 400`,
 * `burst: …`, a bare storage metric) are QoS expectations measured in the run (`disk-io.ts`); the
 * list keeps its order and `evaluateNetExpectations` takes their verdicts from `storage`.
 */
import { errorMessage, UserError, UserErrors } from '../errors.js';
import type { IperfInterval } from '../guest/iperf.js';
import { pct } from '../guest/rpc.js';
import { compare, ExpectParseError, type Expectation, type Op } from '../qos/expect.js';
import type { ExpectationResult } from '../qos/run.js';
import { storageExpectations } from './disk-io.js';
import type { TopologyModel } from '../topology/model.js';
import { parseDuration, parseRate } from '../util/units.js';
import type { ScheduledApp } from './scenario.js';
import type { AppSummary, RunSummary } from './summary.js';

export interface NetExpectation {
  text: string;
  index: number;
  app: string;
  metric: string;
  op: Op;
  value: number;
  fromNs: number;
  toNs: number;
  /** A storage expectation (measured by the disk I/O feature), not an app's. */
  storage?: Expectation;
}

export interface NetExpectationResult {
  text: string;
  pass: boolean;
  expected: string;
  measured: string;
  value: number | null;
}

const OPS: Op[] = ['>=', '<=', '>', '<', '=='];
type Unit = 'rate' | 'time' | 'count' | 'percent';
const METRICS: Record<string, Record<string, Unit>> = {
  iperf: { throughput: 'rate', min_throughput: 'rate', max_throughput: 'rate', retransmits: 'count', rtt: 'time' },
  rpc: { lat_max: 'time', lat_mean: 'time', completed: 'count', failed: 'count', rps: 'count' },
  ping: { loss: 'percent', received: 'count', rtt_avg: 'time', rtt_max: 'time' },
  udp: { loss: 'percent', throughput: 'rate' },
};

function unitOf(kind: string, metric: string): Unit | undefined {
  if (kind === 'rpc' && /^p\d+(\.\d+)?$/.test(metric)) return 'time';
  return METRICS[kind]?.[metric];
}

function tokens(text: string): Array<{ s: string; at: number }> {
  const out: Array<{ s: string; at: number }> = [];
  const re = /(>=|<=|==|>|<|\[|\]|,|[^\s[\],<>=]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) out.push({ s: m[1]!, at: m.index });
  return out;
}

/** Parses one expectation; `kinds` maps app names to their kind (for metric checks). */
export function parseNetExpectation(text: string, index: number, kinds: ReadonlyMap<string, string>): NetExpectation | ExpectParseError {
  const t = tokens(text);
  let i = 0;
  const fail = (msg: string, k = i): ExpectParseError => new ExpectParseError(msg, t[k]?.at ?? text.length);
  const head = t[i++];
  if (!head || !head.s.endsWith(':')) return fail('expected an app name and a colon, e.g. "iperf1: throughput >= 900Mbit"', 0);
  const app = head.s.slice(0, -1);
  const kind = kinds.get(app);
  if (kind === undefined) return fail(`no app named "${app}" in the scenario (apps: ${[...kinds.keys()].join(', ') || 'none'})`, 0);
  const mt = t[i++];
  if (!mt) return fail('expected a metric');
  const unit = unitOf(kind, mt.s);
  if (unit === undefined) {
    const names = Object.keys(METRICS[kind] ?? {}).concat(kind === 'rpc' ? ['p50', 'p99', 'p99.9'] : []);
    return fail(`"${mt.s}" is not a ${kind} metric; expected one of ${names.join(', ')}`, i - 1);
  }
  const ot = t[i++];
  if (!ot || !OPS.includes(ot.s as Op)) return fail('expected a comparison: >=, <=, >, <, ==', i - 1);
  const vt = t[i++];
  if (!vt) return fail('expected a value');
  let value: number;
  try {
    value = unit === 'rate' ? parseRate(vt.s) : unit === 'time' ? parseDuration(vt.s) : unit === 'percent' ? parsePercent(vt.s) : parseCount(vt.s);
  } catch (e) {
    return fail(errorMessage(e), i - 1);
  }
  let fromNs = 0;
  let toNs = Number.POSITIVE_INFINITY;
  if (t[i]?.s === 'over') {
    i++;
    if (t[i++]?.s !== '[') return fail('expected "[" after "over" (e.g. over [1s, 5s])', i - 1);
    try {
      fromNs = parseDuration(t[i++]?.s ?? '');
      if (t[i++]?.s !== ',') return fail('expected "," between the start and end of the window', i - 1);
      const z = t[i++]?.s ?? '';
      toNs = z === 'end' ? Number.POSITIVE_INFINITY : parseDuration(z);
    } catch (e) {
      return fail(errorMessage(e), i - 1);
    }
    if (t[i++]?.s !== ']') return fail('expected "]" to close the window', i - 1);
    if (!(toNs > fromNs)) return fail('the window must end after it starts');
    if (kind === 'ping' || kind === 'udp') return fail(`"over" windows apply to iperf and rpc apps`);
  }
  if (i < t.length) return fail(`unexpected "${t[i]!.s}"`);
  return { text, index, app, metric: mt.s, op: ot.s as Op, value, fromNs, toNs };
}

function parsePercent(s: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(s);
  if (!m) throw new Error(`"${s}" is not a percentage (e.g. 0, 0.5%)`);
  return Number(m[1]);
}

function parseCount(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKM]?)$/.exec(s);
  if (!m) throw new Error(`"${s}" is not a count (e.g. 10, 1.5k)`);
  return Number(m[1]) * (m[2] === 'M' ? 1e6 : m[2] ? 1e3 : 1);
}

/** The topology's `expect:` list, parsed and located (`file:line:col` of the failing entry). */
export function loadNetExpectations(model: TopologyModel): NetExpectation[] {
  const texts = (model.doc as { expect?: string[] }).expect ?? [];
  const kinds = new Map<string, string>();
  for (const s of model.scenario) {
    const a = s.action;
    if (a.kind === 'ping' || a.kind === 'udp' || a.kind === 'iperf' || a.kind === 'rpc') kinds.set(a.name, a.kind);
  }
  const out: NetExpectation[] = [];
  const errors: UserError[] = [];
  const storage = new Map(storageExpectations(model, errors).map((s) => [s.index, s.exp]));
  const storageLine = new Set(errors.map((e) => e.location?.line));
  texts.forEach((text, i) => {
    const st = storage.get(i);
    if (st) {
      out.push({ text, index: i, app: st.target ?? 'all', metric: st.metric, op: st.op, value: st.value, fromNs: st.fromNs, toNs: st.toNs, storage: st });
      return;
    }
    if (storageLine.has(model.source.locate(['expect', i]).line)) return;
    const e = parseNetExpectation(text, i, kinds);
    if (e instanceof ExpectParseError) errors.push(model.source.error('EXPECT_SYNTAX', ['expect', i], `${e.message} (at column ${e.col + 1} of "${text}")`));
    else out.push(e);
  });
  if (errors.length > 0) throw errors.length === 1 ? errors[0]! : new UserErrors(errors);
  return out;
}

/** Goodput (bit/s) of iperf intervals over [from, to), bytes counted pro rata of overlap. */
function windowRate(ivs: readonly IperfInterval[], from: number, to: number): { bps: number; min: number; max: number; retr: number; rtt: number } | null {
  let bytes = 0;
  let covered = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let retr = 0;
  let rttSum = 0;
  let rttN = 0;
  for (const iv of ivs) {
    const a = Math.max(from, iv.sim_start_ns);
    const b = Math.min(to, iv.sim_end_ns);
    if (b <= a) continue;
    const frac = (b - a) / (iv.sim_end_ns - iv.sim_start_ns);
    bytes += iv.sum.bytes * frac;
    covered += b - a;
    retr += iv.sum.retransmits * frac;
    min = Math.min(min, iv.sum.bits_per_second);
    max = Math.max(max, iv.sum.bits_per_second);
    for (const s of iv.streams) {
      if (s.rtt > 0) {
        rttSum += s.rtt * 1000;
        rttN++;
      }
    }
  }
  if (covered === 0) return null;
  return { bps: (bytes * 8 * 1e9) / covered, min, max, retr: Math.round(retr), rtt: rttN ? rttSum / rttN : 0 };
}

function measure(e: NetExpectation, a: AppSummary, live: ScheduledApp | undefined, simNs: number): number | null {
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  const whole = e.fromNs === 0 && e.toNs === Number.POSITIVE_INFINITY;
  switch (a.app) {
    case 'ping':
      return e.metric === 'loss' ? num(a['loss_pct']) : e.metric === 'received' ? num(a['received']) : e.metric === 'rtt_avg' ? num(a['rtt_avg_ns']) : num(a['rtt_max_ns']);
    case 'udp':
      return e.metric === 'loss' ? num(a['loss_pct']) : num(a['throughput_bps']);
    case 'iperf': {
      const ivs = (a['intervals'] ?? []) as IperfInterval[];
      if (e.metric === 'throughput' && whole) return num(a['throughput_bps']);
      if (e.metric === 'retransmits' && whole) return num(a['retransmits']);
      const w = windowRate(ivs, e.fromNs, e.toNs);
      if (w === null) return null;
      return e.metric === 'throughput' ? w.bps : e.metric === 'min_throughput' ? w.min : e.metric === 'max_throughput' ? w.max : e.metric === 'retransmits' ? w.retr : w.rtt;
    }
    case 'rpc': {
      if (e.metric === 'completed' || e.metric === 'failed') {
        if (whole || live?.app === null || live === undefined) return num(a[e.metric]);
      }
      const lat = live?.app && 'latencies' in live.app ? live.app.latencies(e.fromNs, e.toNs) : [];
      if (e.metric === 'completed') return lat.length;
      if (e.metric === 'rps') return whole ? num(a['requests_per_s']) : (lat.length * 1e9) / Math.max(1, Math.min(e.toNs, simNs) - e.fromNs);
      if (e.metric === 'failed') return num(a['failed']);
      lat.sort((x, y) => x - y);
      if (lat.length === 0) return null;
      if (e.metric === 'lat_max') return lat[lat.length - 1]!;
      if (e.metric === 'lat_mean') return lat.reduce((x, y) => x + y, 0) / lat.length;
      return pct(lat, Number(e.metric.slice(1)));
    }
  }
}

function show(kind: string, metric: string, v: number): string {
  const u = unitOf(kind, metric);
  if (u === 'rate') return v >= 1e9 ? `${(v / 1e9).toFixed(3)} Gbit/s` : `${(v / 1e6).toFixed(2)} Mbit/s`;
  if (u === 'time') return v >= 1e6 ? `${(v / 1e6).toFixed(3)} ms` : `${(v / 1e3).toFixed(1)} us`;
  if (u === 'percent') return `${v}%`;
  return String(Math.round(v * 1000) / 1000);
}

/** Checks every expectation against a finished run. */
export function evaluateNetExpectations(exps: readonly NetExpectation[], summary: RunSummary, live: readonly ScheduledApp[], storage: ReadonlyMap<number, ExpectationResult> = new Map()): NetExpectationResult[] {
  return exps.map((e) => {
    if (e.storage) {
      const r = storage.get(e.index);
      if (!r) return { text: e.text, pass: false, expected: e.text, measured: 'no fio job ran (no storage results)', value: null };
      return { text: e.text, pass: r.pass, expected: r.expected, measured: r.measured, value: r.value };
    }
    const idx = summary.apps.findIndex((a) => a.name === e.app);
    const a = summary.apps[idx];
    const kind = a?.app ?? 'iperf';
    const v = a === undefined ? null : measure(e, a, live[idx], summary.simulated_ns);
    const expected = `${e.app} ${e.metric} ${e.op} ${show(kind, e.metric, e.value)}${e.fromNs > 0 || e.toNs !== Number.POSITIVE_INFINITY ? ` over [${e.fromNs / 1e9}s, ${e.toNs === Number.POSITIVE_INFINITY ? 'end' : `${e.toNs / 1e9}s`}]` : ''}`;
    if (v === null) return { text: e.text, pass: false, expected, measured: a && a['started'] === false ? 'app did not start' : 'no data in the window', value: null };
    return { text: e.text, pass: compare(v, e.op, e.value), expected, measured: show(kind, e.metric, v), value: v };
  });
}

/** The `vfab test` table: PASS/FAIL per expectation, then the failures with expected vs measured. */
export function renderNetTest(file: string, results: readonly NetExpectationResult[], simulatedNs: number): string {
  const rows = results.map((r) => [r.pass ? 'PASS' : 'FAIL', r.text, r.measured]);
  const head = ['', 'expectation', 'measured'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  const out = [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line), ''];
  const failed = results.filter((r) => !r.pass);
  if (failed.length === 0) out.push(`${file}: all ${results.length} expectations hold (${simulatedNs / 1e9} s simulated)`);
  else {
    out.push(`${file}: ${failed.length} of ${results.length} expectations failed:`);
    for (const f of failed) out.push(`  expected ${f.expected}, measured ${f.measured}`);
  }
  return `${out.join('\n')}\n`;
}
