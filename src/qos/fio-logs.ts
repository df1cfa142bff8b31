/**
 * fio's per-I/O logs and json+ latency bins, from a QoS run's completions.
 *
 * Logs (HOWTO "Log File Formats", fio 3.33 as observed on a null-engine run): one line per I/O,
 * `time_ms, value, ddir, bs, prio` (with `log_offset=1`: `time_ms, value, ddir, bs, offset, prio`).
 * Latency logs hold ns (`_lat`: submission to completion; `_clat` the same here; `_slat` empty, as
 * fio leaves it for engines without a submission latency), the IOPS log 1 per I/O, the bandwidth log `bytes·10⁶ / clat_ns`
 * (what fio prints per I/O). With `log_avg_msec=N` one line per direction per N ms window: the
 * mean latency, the window's IOPS, the window's KiB/s; bs and offset 0. File names as fio makes
 * them: `PREFIX_lat.J.log` with the job's 1-based number (`per_job_logs=0`: `PREFIX_lat.log`, all
 * jobs in one file).
 *
 * json+ bins: fio's log-linear plat buckets (stat.h FIO_IO_U_PLAT_BITS = 6, 29 groups of 64):
 * a value below 128 is its own bucket; above, the bucket keeps the top 7 bits, and `bins` is keyed
 * by the bucket's midpoint (stat.c plat_idx_to_val).
 *
 * Bounded: at most `maxLines` lines per log (a UserError names the job past that).
 */
import { UserError } from '../errors.js';
import type { JobRun } from './engine.js';
import type { Io } from './io.js';

const PLAT_BITS = 6;
const PLAT_VAL = 1 << PLAT_BITS;
const PLAT_NR = 29 * PLAT_VAL;

/** stat.c plat_val_to_idx. */
export function platIndex(ns: number): number {
  const v = Math.max(0, Math.floor(ns));
  const m = v === 0 ? 0 : v.toString(2).length - 1;
  if (m <= PLAT_BITS) return v;
  const errorBits = m - PLAT_BITS;
  const idx = ((errorBits + 1) << PLAT_BITS) + ((PLAT_VAL - 1) & Math.floor(v / 2 ** errorBits));
  return Math.min(idx, PLAT_NR - 1);
}

/** stat.c plat_idx_to_val: the bucket's midpoint. */
export function platValue(idx: number): number {
  if (idx < PLAT_VAL << 1) return idx;
  const errorBits = (idx >> PLAT_BITS) - 1;
  const base = 2 ** (errorBits + PLAT_BITS);
  return Math.floor(base + ((idx % PLAT_VAL) + 0.5) * 2 ** errorBits);
}

export interface JobLogSpec {
  lat?: string | undefined;
  bw?: string | undefined;
  iops?: string | undefined;
  avgMs: number;
  perJob: boolean;
  offset: boolean;
}

interface Window {
  start: number;
  n: [number, number];
  latSum: [number, number];
  bytes: [number, number];
}

export class FioLogs {
  /** File name → lines. */
  readonly files = new Map<string, string[]>();
  /** Per job index: [read, write] bins (bucket index → count). */
  readonly bins = new Map<number, [Map<number, number>, Map<number, number>]>();
  private readonly windows = new Map<number, Window>();

  constructor(
    private readonly specOf: (j: JobRun) => JobLogSpec | undefined,
    readonly jsonPlus: boolean,
    private readonly maxLines = 2_000_000,
  ) {}

  private push(name: string, line: string, job: JobRun): void {
    let f = this.files.get(name);
    if (!f) this.files.set(name, (f = []));
    if (f.length >= this.maxLines) throw new UserError('QOS_LOG_TOO_BIG', `job "${job.name}": log ${name} would exceed ${this.maxLines} lines; set log_avg_msec or a shorter runtime`);
    f.push(line);
  }

  /** An empty log: vfab has no submission latency, and fio leaves `_slat` empty when it measures none (sync and null engines). */
  private touch(name: string): void {
    if (!this.files.has(name)) this.files.set(name, []);
  }

  private name(prefix: string, kind: string, j: JobRun, spec: JobLogSpec): string {
    return spec.perJob ? `${prefix}_${kind}.${j.index + 1}.log` : `${prefix}_${kind}.log`;
  }

  /** One completion (after ramp): `now` and `lat` in ns. */
  record(j: JobRun, io: Io, now: number, lat: number): void {
    if (this.jsonPlus) {
      let b = this.bins.get(j.index);
      if (!b) this.bins.set(j.index, (b = [new Map<number, number>(), new Map<number, number>()]));
      const idx = platIndex(lat);
      b[io.dir].set(idx, (b[io.dir].get(idx) ?? 0) + 1);
    }
    const spec = this.specOf(j);
    if (!spec || (spec.lat === undefined && spec.bw === undefined && spec.iops === undefined)) return;
    const tMs = Math.floor((now - j.startNs) / 1e6);
    if (spec.avgMs > 0) {
      this.windowed(j, spec, io, now, lat);
      return;
    }
    const tail = spec.offset ? `${io.bytes}, ${io.offset}, 0` : `${io.bytes}, 0`;
    if (spec.lat !== undefined) {
      this.push(this.name(spec.lat, 'lat', j, spec), `${tMs}, ${lat}, ${io.dir}, ${tail}`, j);
      this.push(this.name(spec.lat, 'clat', j, spec), `${tMs}, ${lat}, ${io.dir}, ${tail}`, j);
      this.touch(this.name(spec.lat, 'slat', j, spec));
    }
    if (spec.bw !== undefined) this.push(this.name(spec.bw, 'bw', j, spec), `${tMs}, ${lat > 0 ? Math.floor((io.bytes * 1e6) / lat) : 0}, ${io.dir}, ${tail}`, j);
    if (spec.iops !== undefined) this.push(this.name(spec.iops, 'iops', j, spec), `${tMs}, 1, ${io.dir}, ${tail}`, j);
  }

  private windowed(j: JobRun, spec: JobLogSpec, io: Io, now: number, lat: number): void {
    const winNs = spec.avgMs * 1e6;
    let w = this.windows.get(j.index);
    if (!w) this.windows.set(j.index, (w = { start: j.startNs, n: [0, 0], latSum: [0, 0], bytes: [0, 0] }));
    while (now >= w.start + winNs) this.flushWindow(j, spec, w, winNs);
    w.n[io.dir]++;
    w.latSum[io.dir] += lat;
    w.bytes[io.dir] += io.bytes;
  }

  private flushWindow(j: JobRun, spec: JobLogSpec, w: Window, winNs: number): void {
    const tMs = Math.floor((w.start + winNs - j.startNs) / 1e6);
    const tail = spec.offset ? '0, 0, 0' : '0, 0';
    for (const d of [0, 1] as const) {
      if (w.n[d] === 0) continue;
      if (spec.lat !== undefined) {
        const mean = Math.floor(w.latSum[d] / w.n[d]);
        this.push(this.name(spec.lat, 'lat', j, spec), `${tMs}, ${mean}, ${d}, ${tail}`, j);
        this.push(this.name(spec.lat, 'clat', j, spec), `${tMs}, ${mean}, ${d}, ${tail}`, j);
        this.touch(this.name(spec.lat, 'slat', j, spec));
      }
      if (spec.bw !== undefined) this.push(this.name(spec.bw, 'bw', j, spec), `${tMs}, ${Math.floor((w.bytes[d] / 1024) * (1000 / spec.avgMs))}, ${d}, ${tail}`, j);
      if (spec.iops !== undefined) this.push(this.name(spec.iops, 'iops', j, spec), `${tMs}, ${Math.floor(w.n[d] * (1000 / spec.avgMs))}, ${d}, ${tail}`, j);
    }
    w.start += winNs;
    w.n = [0, 0];
    w.latSum = [0, 0];
    w.bytes = [0, 0];
  }

  /** Flushes open windows (call once after the run). */
  finish(jobs: readonly JobRun[]): void {
    for (const j of jobs) {
      const w = this.windows.get(j.index);
      const spec = this.specOf(j);
      if (w && spec) this.flushWindow(j, spec, w, spec.avgMs * 1e6);
    }
  }

  /** json+ `bins` of a job direction: bucket midpoint (ns, as a string key) → count. */
  binsOf(job: number, dir: 0 | 1): Record<string, number> {
    const b = this.bins.get(job)?.[dir];
    const out: Record<string, number> = {};
    if (!b) return out;
    for (const idx of [...b.keys()].sort((x, y) => x - y)) out[String(platValue(idx))] = b.get(idx)!;
    return out;
  }
}
