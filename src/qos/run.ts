/**
 * Runs a QoS model and shapes the results: fio-shaped JSON per job, a per-disk summary with
 * throttle statistics, per-interval timelines, and (for `qos test`) each expectation with the
 * measured value and a verdict. No I/O, no clock: the command layer renders and writes.
 */
import { QosEngine, type WindowSpec, type WindowStat } from './engine.js';
import { compare, isBandwidthMetric, isLatencyMetric, type Expectation } from './expect.js';
import { BugError } from '../errors.js';
import { fioJobJson, type FioJson, type FioLat } from './report.js';
import type { FioLogs } from './fio-logs.js';
import type { QosModel, PolicySpec, DiskData } from './model.js';
import type { TimelineRow } from './timeline.js';
import { formatSize } from '../util/units.js';

export interface DiskSummary {
  ios: number;
  bytes: number;
  iops: number;
  bw_bytes: number;
  lat_ns: { mean: number; p50: number; p99: number; p99_9: number; max: number };
  throttle:
    | { group: string; kind: string; throttled_ios: number; throttled_ns: number; mean_queue: number; max_queue: number }
    | undefined;
  backend: string;
}

export interface ExpectationResult {
  text: string;
  /** The metric evaluated (`write_iops`, `max_bw`; for `burst:` the per-interval metric). */
  metric: string;
  pass: boolean;
  expected: string;
  measured: string;
  /** The measured number in the metric's unit (ns, IOPS, bytes/s, or ns of burst). */
  value: number;
}

export interface QosResult {
  seed: number;
  simulated_ns: number;
  events: number;
  completed_ios: number;
  /** Bytes actually read from / written to disk images (0 in a data-less run). */
  data_bytes: number;
  fio: FioJson;
  disks: Record<string, DiskSummary>;
  backends: Record<string, { scheduler: string; served: number; utilisation: number; max_queue: number }>;
  timelines: { interval_ns: number; disks: Record<string, TimelineRow[]>; jobs: Record<string, TimelineRow[]> };
  expectations?: ExpectationResult[];
  passed?: boolean;
}

export interface RunQosOptions {
  expectations?: Expectation[];
  /** Data paths per disk (real I/O on images); see `QosModel.data`. */
  data?: ReadonlyMap<string, DiskData>;
  onProgress?: (nowNs: number, endNs: number) => void;
  /** fio per-I/O logs and json+ bins (`FioLogs`): filled during the run, bins added to `clat_ns`. */
  fioLogs?: FioLogs;
}

/** The measurement windows `exps` need (give them to the engine before it runs). */
export function expectationWindows(exps: readonly Expectation[], intervalNs: number): WindowSpec[] {
  return exps.map((e) => {
    const w: WindowSpec = { disk: e.target, fromNs: e.fromNs, toNs: e.toNs };
    if (e.burst) w.series = { intervalNs, metric: e.base, mode: { kind: 'burst', op: e.op, value: e.value } };
    else if (e.agg !== 'window') w.series = { intervalNs, metric: e.base, mode: { kind: e.agg } };
    return w;
  });
}

/** Runs `model` and returns the engine (for charts) and the result. */
export function runQos(model: QosModel, opts: RunQosOptions = {}): { engine: QosEngine; result: QosResult } {
  const exps = opts.expectations ?? [];
  const windows = expectationWindows(exps, model.intervalNs);
  const logs = opts.fioLogs;
  const engine = new QosEngine(model, { windows, ...(opts.data ? { data: opts.data } : {}), ...(logs ? { onIoComplete: (j, io, now, lat) => logs.record(j, io, now, lat) } : {}) });
  engine.run(opts.onProgress ? { onProgress: opts.onProgress } : {});
  const result = qosResult(engine, exps);
  if (logs) {
    logs.finish(engine.jobs);
    if (logs.jsonPlus) {
      result.fio.jobs.forEach((fj, i) => {
        (fj.read.clat_ns as FioLat & { bins?: Record<string, number> }).bins = logs.binsOf(i, 0);
        (fj.write.clat_ns as FioLat & { bins?: Record<string, number> }).bins = logs.binsOf(i, 1);
      });
    }
  }
  return { engine, result };
}

/**
 * The result of a finished engine (`engine.finish` ran): fio JSON, disks, devices, timelines and,
 * with `exps` (the expectations its windows were made from, in order), their verdicts.
 */
export function qosResult(engine: QosEngine, exps: readonly Expectation[] = []): QosResult {
  const model = engine.model;
  const end = engine.endNs;

  const disks: Record<string, DiskSummary> = {};
  for (const d of engine.disks) {
    const g = engine.groups.find((x) => x.members.includes(d.index));
    const secs = end / 1e9 || 1;
    const [p50, p99, p999] = d.hist.percentiles([50, 99, 99.9]);
    const st = g?.gate.stats[d.member];
    disks[d.spec.name] = {
      ios: d.ios,
      bytes: d.bytes,
      iops: round(d.ios / secs),
      bw_bytes: Math.round(d.bytes / secs),
      lat_ns: { mean: Math.round(d.hist.mean), p50: p50!, p99: p99!, p99_9: p999!, max: d.hist.max },
      throttle: g && st
        ? { group: g.name, kind: g.policy.kind, throttled_ios: st.throttled, throttled_ns: st.throttledNs, mean_queue: round(end ? st.queueNsSum / end : 0), max_queue: st.maxQueue }
        : undefined,
      backend: d.device.spec.name,
    };
  }
  const backends: QosResult['backends'] = {};
  for (const [name, b] of engine.devices) {
    backends[name] = { scheduler: b.scheduler, served: b.served, utilisation: round(end && b.spec.parallelism < 1 << 29 ? b.busyNsSum / (end * b.spec.parallelism) : 0), max_queue: b.maxQueued };
  }
  const jobs: Record<string, TimelineRow[]> = {};
  for (const j of engine.jobs) jobs[jobKey(j.name, j.clone, j.spec.numjobs)] = j.timeline.toRows();
  const dl: Record<string, TimelineRow[]> = {};
  for (const d of engine.disks) dl[d.spec.name] = d.timeline.toRows();

  const result: QosResult = {
    seed: model.seed,
    simulated_ns: end,
    events: engine.sim.eventsRun,
    completed_ios: engine.completed,
    data_bytes: engine.dataBytes,
    fio: {
      'fio version': 'fio-3.33 (vfab simulation)',
      timestamp: 0,
      timestamp_ms: 0,
      time: '',
      'global options': {},
      jobs: engine.jobs.map((j) => fioJobJson(j, end)),
    },
    disks,
    backends,
    timelines: { interval_ns: engine.disks[0]?.timeline.intervalNs ?? model.intervalNs, disks: dl, jobs },
  };
  if (exps.length > 0) {
    result.expectations = exps.map((e, i) => evaluateQosExpectation(e, engine.windows[i]!, engine, end));
    result.passed = result.expectations.every((r) => r.pass);
  }
  return result;
}

export function jobKey(name: string, clone: number, numjobs: number): string {
  return numjobs > 1 ? `${name}.${clone}` : name;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function formatValue(metric: string, v: number): string {
  if (isLatencyMetric(metric)) return formatNs(v);
  if (isBandwidthMetric(metric)) return `${formatSize(Math.round(v))}/s`;
  return `${Math.round(v * 10) / 10}`;
}

export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns >= 1e9) return `${+(ns / 1e9).toFixed(3)}s`;
  if (ns >= 1e6) return `${+(ns / 1e6).toFixed(3)}ms`;
  if (ns >= 1e3) return `${+(ns / 1e3).toFixed(3)}us`;
  return `${ns}ns`;
}

/** One expectation's verdict from its window `w` of a finished engine (run up to `end`). */
export function evaluateQosExpectation(e: Expectation, w: WindowStat, engine: QosEngine, end: number): ExpectationResult {
  const from = e.fromNs;
  const to = Math.min(e.toNs, end);
  const secs = Math.max(0, to - from) / 1e9;
  const isDisk = engine.model.disks.some((d) => d.name === e.target);
  const isGroup = !isDisk && engine.model.groups.some((g) => g.name === e.target);
  const label = e.target === undefined ? 'all disks' : isGroup ? `group ${e.target}` : !isDisk ? `job ${e.target}` : e.target;
  const window = e.toNs === Number.POSITIVE_INFINITY && e.fromNs === 0 ? '' : ` over [${formatNs(e.fromNs)}, ${Number.isFinite(e.toNs) ? formatNs(e.toNs) : 'end'}]`;
  const series = w.series?.finish(end);
  if (e.burst) {
    if (!series) throw new BugError('QOS_NO_SERIES', `burst expectation "${e.text}" has no interval series`);
    const dur = series.longestNs;
    const where = dur > 0 ? ` from ${formatNs(series.longestFromNs)} to ${formatNs(series.longestFromNs + dur)}` : '';
    return {
      text: e.text,
      metric: e.base,
      pass: compare(dur, e.burst.op, e.burst.durationNs),
      expected: `${label}: ${e.metric} ${e.op} ${formatValue(e.metric, e.value)} for ${e.burst.op} ${formatNs(e.burst.durationNs)}${window}`,
      measured: `${formatNs(dur)} (longest stretch of ${e.base} ${e.op} ${formatValue(e.metric, e.value)}${where})`,
      value: dur,
    };
  }
  let v: number;
  let noData = false;
  if (e.agg !== 'window') {
    if (!series) throw new BugError('QOS_NO_SERIES', `interval expectation "${e.text}" has no interval series`);
    noData = series.extreme === undefined;
    v = series.extreme ?? 0;
  } else {
    noData = isLatencyMetric(e.base) && w.count === 0;
    switch (e.base) {
      case 'iops':
        v = secs ? w.count / secs : 0;
        break;
      case 'read_iops':
        v = secs ? w.reads / secs : 0;
        break;
      case 'write_iops':
        v = secs ? (w.count - w.reads) / secs : 0;
        break;
      case 'bw':
        v = secs ? w.bytes / secs : 0;
        break;
      case 'read_bw':
        v = secs ? w.readBytes / secs : 0;
        break;
      case 'write_bw':
        v = secs ? (w.bytes - w.readBytes) / secs : 0;
        break;
      case 'lat_mean':
        v = w.hist.mean;
        break;
      case 'lat_max':
        v = w.hist.max;
        break;
      default:
        v = w.hist.percentile(Number(e.base.slice(1)));
    }
  }
  return {
    text: e.text,
    metric: e.metric,
    pass: !noData && compare(v, e.op, e.value),
    expected: `${label}: ${e.metric} ${e.op} ${formatValue(e.metric, e.value)}${window}`,
    measured: noData ? (e.agg === 'window' ? 'no I/O completed in the window' : 'no interval with I/O in the window') : formatValue(e.metric, v),
    value: v,
  };
}

/** IOPS and bytes/s limit lines a policy implies, for charts. */
export function policyLines(p: PolicySpec): Array<{ label: string; iops?: number; bps?: number; dashed: boolean }> {
  const out: Array<{ label: string; iops?: number; bps?: number; dashed: boolean }> = [];
  if (p.kind === 'qemu') {
    const names = ['bps-total', 'bps-read', 'bps-write', 'iops-total', 'iops-read', 'iops-write'];
    p.limits.buckets.forEach((b, i) => {
      if (!b.avg) return;
      const isOps = i >= 3;
      const put = (v: number, label: string, dashed: boolean): void => {
        out.push(isOps ? { label, iops: v, dashed } : { label, bps: v, dashed });
      };
      put(b.avg, names[i]!, false);
      if (b.max) put(b.max, `${names[i]}-max`, true);
    });
  } else if (p.kind === 'firecracker') {
    if (p.ops) out.push({ label: 'ops refill rate', iops: (p.ops.size * 1000) / p.ops.refillTimeMs, dashed: false });
    if (p.bandwidth) out.push({ label: 'bandwidth refill rate', bps: (p.bandwidth.size * 1000) / p.bandwidth.refillTimeMs, dashed: false });
  } else if (p.kind === 'io.max') {
    const l = p.limits;
    if (l.riops) out.push({ label: 'riops', iops: l.riops, dashed: false });
    if (l.wiops) out.push({ label: 'wiops', iops: l.wiops, dashed: false });
    if (l.rbps) out.push({ label: 'rbps', bps: l.rbps, dashed: false });
    if (l.wbps) out.push({ label: 'wbps', bps: l.wbps, dashed: false });
  } else {
    if (p.mclock.limit) out.push({ label: 'mclock limit', iops: p.mclock.limit, dashed: false });
    if (p.mclock.reservation) out.push({ label: 'mclock reservation', iops: p.mclock.reservation, dashed: true });
  }
  return out;
}
