/**
 * fio-shaped JSON (fio 3.x `--output-format=json`, stat.c `show_thread_status_json`): per job
 * `read` / `write` / `trim` sections with io_bytes, io_kbytes, bw_bytes, bw (KiB/s), iops,
 * runtime (ms), total_ios, and `slat_ns` / `clat_ns` / `lat_ns` objects {min, max, mean, stddev,
 * N} where `clat_ns.percentile` uses fio's default percentile list with fio's key format
 * ("99.990000"). Submission latency is 0 in the simulation, so lat = clat.
 */
import type { JobRun, DirStats } from './engine.js';
import { FIO_PERCENTILES, fioPercentileKey } from './histogram.js';

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
}

export interface FioJson {
  'fio version': string;
  timestamp: number;
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

function dir(st: DirStats | undefined, runtimeNs: number): FioDir {
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
  };
}

function fmtBs(sizes: number[]): string {
  return sizes.map((s) => (s % 1024 === 0 ? `${s / 1024}k` : String(s))).join(':');
}

export function fioJobJson(j: JobRun, endNs: number): FioJob {
  const s = j.spec;
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
    error: 0,
    'job options': opts,
    read: dir(j.stats[0], runtimeNs),
    write: dir(j.stats[1], runtimeNs),
    trim: dir(undefined, 0),
    job_runtime: Math.round(runtimeNs / 1e6),
    elapsed: Math.round((Math.min(last, endNs) - j.startNs) / 1e9),
  };
}
