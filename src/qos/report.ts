/**
 * fio-shaped JSON (fio 3.x `--output-format=json`, stat.c `show_thread_status_json`): per job
 * `read` / `write` / `trim` sections with io_bytes, io_kbytes, bw_bytes, bw (KiB/s), iops,
 * runtime (ms), total_ios, and `slat_ns` / `clat_ns` / `lat_ns` objects {min, max, mean, stddev,
 * N} where `clat_ns.percentile` uses fio's default percentile list with fio's key format
 * ("99.990000"). Submission latency is 0 in the simulation, so lat = clat.
 */
import type { JobRun, DirStats } from './engine.js';
import { FIO_PERCENTILES, fioPercentileKey } from './histogram.js';
import type { TimelineRow } from './timeline.js';

export interface FioLat {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  N: number;
  percentile?: Record<string, number>;
}

export interface FioDir {
  io_bytes: number;
  io_kbytes: number;
  bw_bytes: number;
  bw: number;
  iops: number;
  runtime: number;
  total_ios: number;
  short_ios: number;
  drop_ios: number;
  slat_ns: FioLat;
  clat_ns: FioLat;
  lat_ns: FioLat;
  /** Per-interval samples of bandwidth (KiB/s) and IOPS over the job's timeline (fio samples every 500 ms). */
  bw_min: number;
  bw_max: number;
  bw_agg: number;
  bw_mean: number;
  bw_dev: number;
  bw_samples: number;
  iops_min: number;
  iops_max: number;
  iops_mean: number;
  iops_stddev: number;
  iops_samples: number;
}

export interface FioJob {
  jobname: string;
  groupid: number;
  error: number;
  'job options': Record<string, string>;
  read: FioDir;
  write: FioDir;
  trim: FioDir;
  job_runtime: number;
  elapsed: number;
  eta: number;
  sync: { total_ios: number; lat_ns: FioLat };
  usr_cpu: number;
  sys_cpu: number;
  ctx: number;
  majf: number;
  minf: number;
  iodepth_level: Record<string, number>;
  latency_ns: Record<string, number>;
  latency_us: Record<string, number>;
  latency_ms: Record<string, number>;
}

export interface FioJson {
  'fio version': string;
  timestamp: number;
  timestamp_ms: number;
  time: string;
  'global options': Record<string, string>;
  jobs: FioJob[];
}

function lat(st: DirStats | undefined, withPercentiles: boolean): FioLat {
  if (!st || st.ios === 0) return { min: 0, max: 0, mean: 0, stddev: 0, N: 0 };
  const h = st.clat;
  const out: FioLat = { min: h.min, max: h.max, mean: Math.round(h.mean * 1000) / 1000, stddev: Math.round(h.stddev * 1000) / 1000, N: h.count };
  if (withPercentiles) {
    const vals = h.percentiles(FIO_PERCENTILES);
    out.percentile = Object.fromEntries(FIO_PERCENTILES.map((p, i) => [fioPercentileKey(p), vals[i]!]));
  }
  return out;
}

function samples(xs: number[]): { min: number; max: number; mean: number; dev: number; n: number } {
  const n = xs.length;
  if (n === 0) return { min: 0, max: 0, mean: 0, dev: 0, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const dev = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (n - 1)) : 0;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { min: r(Math.min(...xs)), max: r(Math.max(...xs)), mean: r(mean), dev: r(dev), n };
}

function dir(st: DirStats | undefined, runtimeNs: number, rows: TimelineRow[] = [], d: 0 | 1 = 0): FioDir {
  const ios = st?.ios ?? 0;
  const bytes = st?.bytes ?? 0;
  const secs = runtimeNs / 1e9;
  return {
    io_bytes: bytes,
    io_kbytes: Math.floor(bytes / 1024),
    bw_bytes: secs > 0 ? Math.round(bytes / secs) : 0,
    bw: secs > 0 ? Math.round(bytes / 1024 / secs) : 0,
    iops: secs > 0 ? Math.round((ios / secs) * 1e6) / 1e6 : 0,
    runtime: ios ? Math.round(runtimeNs / 1e6) : 0,
    total_ios: ios,
    short_ios: 0,
    drop_ios: 0,
    slat_ns: { min: 0, max: 0, mean: 0, stddev: 0, N: 0 },
    clat_ns: lat(st, true),
    lat_ns: lat(st, false),
    ...sampleStats(ios ? rows : [], d),
  };
}

/** fio's bw_* / iops_* sample statistics, from the job's full timeline intervals. */
function sampleStats(rows: TimelineRow[], d: 0 | 1): Pick<FioDir, 'bw_min' | 'bw_max' | 'bw_agg' | 'bw_mean' | 'bw_dev' | 'bw_samples' | 'iops_min' | 'iops_max' | 'iops_mean' | 'iops_stddev' | 'iops_samples'> {
  const secs = rows.length > 1 ? (rows[1]!.t - rows[0]!.t) / 1e9 : 1;
  const bw = samples(rows.map((r) => (d ? r.writeBytes : r.readBytes) / 1024 / secs));
  const iops = samples(rows.map((r) => (d ? r.writes : r.reads) / secs));
  return {
    bw_min: Math.round(bw.min), bw_max: Math.round(bw.max), bw_agg: rows.length ? 100 : 0, bw_mean: bw.mean, bw_dev: bw.dev, bw_samples: bw.n,
    iops_min: Math.round(iops.min), iops_max: Math.round(iops.max), iops_mean: iops.mean, iops_stddev: iops.dev, iops_samples: iops.n,
  };
}

function fmtBs(sizes: number[]): string {
  return sizes.map((s) => (s % 1024 === 0 ? `${s / 1024}k` : String(s))).join(':');
}

/**
 * fio's latency_{ns,us,ms} maps: the percentage of I/Os whose completion latency falls in each
 * bucket (a key is the bucket's upper edge in that unit; `>=2000` catches the rest in ms).
 */
function buckets(j: JobRun, edges: number[], unit: number, last = false): Record<string, number> {
  const out: Record<string, number> = {};
  const total = j.stats[0].ios + j.stats[1].ios;
  let prev = unit === 1 ? 0 : unit; // the first us (ms) bucket starts where the ns (us) map ends
  for (const e of edges) {
    const hi = e * unit;
    let n = 0;
    for (const st of j.stats) n += st.clat.countBetween(prev, hi);
    out[String(e)] = total ? Math.round((n / total) * 1e4) / 100 : 0;
    prev = hi;
  }
  if (last) {
    let n = 0;
    for (const st of j.stats) n += st.clat.countBetween(prev, Number.POSITIVE_INFINITY);
    out['>=2000'] = total ? Math.round((n / total) * 1e4) / 100 : 0;
  }
  return out;
}

export function fioJobJson(j: JobRun, endNs: number): FioJob {
  const s = j.spec;
  // samples: the timeline intervals that lie wholly inside the job's measured period
  const lastIo = j.lastCompletionNs > 0 ? j.lastCompletionNs : endNs;
  const until = Number.isFinite(j.endNs) ? Math.min(j.endNs, endNs) : Math.min(lastIo, endNs);
  const rows = j.timeline.toRows().filter((r) => r.t >= j.statsFromNs && r.t + j.timeline.intervalNs <= until);
  const last = j.lastCompletionNs > 0 ? j.lastCompletionNs : endNs;
  const runtimeNs = Math.max(0, Math.min(last, endNs) - j.statsFromNs);
  const opts: Record<string, string> = { rw: s.rw, bs: `${fmtBs(s.bs[0].sizes)},${fmtBs(s.bs[1].sizes)}`, iodepth: String(s.iodepth), filename: s.disk };
  if (s.numjobs > 1) opts['numjobs'] = String(s.numjobs);
  if (s.rw === 'rw' || s.rw === 'readwrite' || s.rw === 'randrw') opts['rwmixread'] = String(s.rwmixread);
  if (s.rateIops[0] || s.rateIops[1]) opts['rate_iops'] = `${s.rateIops[0]},${s.rateIops[1]}`;
  if (s.runtimeNs) opts['runtime'] = `${s.runtimeNs / 1e9}`;
  if (s.timeBased) opts['time_based'] = '1';
  if (s.rampNs) opts['ramp_time'] = `${s.rampNs / 1e9}`;
  if (s.numberIos) opts['number_ios'] = String(s.numberIos);
  return {
    jobname: j.name,
    groupid: 0,
    error: j.error,
    'job options': opts,
    read: dir(j.stats[0], runtimeNs, rows, 0),
    write: dir(j.stats[1], runtimeNs, rows, 1),
    trim: dir(undefined, 0),
    sync: { total_ios: 0, lat_ns: { min: 0, max: 0, mean: 0, stddev: 0, N: 0 } },
    job_runtime: Math.round(runtimeNs / 1e6),
    usr_cpu: 0,
    sys_cpu: 0,
    ctx: 0,
    majf: 0,
    minf: 0,
    iodepth_level: { '1': s.iodepth === 1 ? 100 : 0, '2': s.iodepth === 2 ? 100 : 0, '4': s.iodepth >= 3 && s.iodepth <= 4 ? 100 : 0, '8': s.iodepth >= 5 && s.iodepth <= 8 ? 100 : 0, '16': s.iodepth >= 9 && s.iodepth <= 16 ? 100 : 0, '32': s.iodepth >= 17 && s.iodepth <= 32 ? 100 : 0, '>=64': s.iodepth > 32 ? 100 : 0 },
    latency_ns: buckets(j, [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000], 1),
    latency_us: buckets(j, [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000], 1e3),
    latency_ms: buckets(j, [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000, 2000], 1e6, true),
    eta: 0,
    elapsed: Math.round((Math.min(last, endNs) - j.startNs) / 1e9),
  };
}
