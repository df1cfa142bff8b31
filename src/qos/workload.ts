/**
 * Workloads in fio's vocabulary (fio HOWTO.rst, options.c): one `JobSpec` per job section, cloned
 * `numjobs` times. Parsers here turn fio's option strings (`bs=4k,64k`, `bssplit=4k/10:64k/90`,
 * `rate_iops=500,200`) into numbers and report problems as strings; the QoS file loader attaches
 * positions.
 */
import { parseSize, unitMessage } from '../util/units.js';

import { RW_MODES } from '../topology/storage-schema.js';
import type { JobLogSpec } from './fio-logs.js';

export { RW_MODES };
export type RwMode = (typeof RW_MODES)[number];

/** Block sizes for one direction: one size, or a weighted split. */
export interface BsChoice {
  sizes: number[];
  /** Cumulative weights, last = 1. */
  cum: number[];
  /**
   * `bssplit_order: fixed`: the sizes in this repeating order instead of a seeded draw. One cycle
   * is 100/g I/Os (g = gcd of the percentages): each size in list order, pct/g times in a row.
   */
  cycle?: number[];
}

export interface JobSpec {
  name: string;
  disk: string;
  rw: RwMode;
  /** Percentage of reads in a mixed workload (fio default 50). */
  rwmixread: number;
  /** [read, write]. */
  bs: [BsChoice, BsChoice];
  iodepth: number;
  numjobs: number;
  /** IOPS caps per direction (0 = none), fio's linear rate process. */
  rateIops: [number, number];
  /** Bandwidth caps per direction in bytes/s (0 = none; fio `rate`, which wins over `rate_iops`). */
  rateBps?: [number, number];
  /** fio per-I/O logs (write_lat_log, write_bw_log, write_iops_log, log_avg_msec, per_job_logs, log_offset). */
  logs?: JobLogSpec;
  /** Job names (every clone of each) that must finish before this job starts (fio `wait_for`, `stonewall`). */
  waitFor?: string[];
  /** Bytes of I/O (and the region touched); undefined = the disk's size. */
  size: number | undefined;
  offset: number;
  /** Stop after this many I/Os (0 = no limit). */
  numberIos: number;
  runtimeNs: number;
  timeBased: boolean;
  rampNs: number;
  thinktimeNs: number;
  startdelayNs: number;
}

export function defaultJob(name: string, disk: string): JobSpec {
  const four: BsChoice = { sizes: [4096], cum: [1] };
  return {
    name, disk, rw: 'read', rwmixread: 50, bs: [four, four], iodepth: 1, numjobs: 1, rateIops: [0, 0],
    size: undefined, offset: 0, numberIos: 0, runtimeNs: 0, timeBased: false, rampNs: 0, thinktimeNs: 0, startdelayNs: 0,
  };
}

export function isRandom(rw: RwMode): boolean {
  return rw === 'randread' || rw === 'randwrite' || rw === 'randrw';
}

/** Fraction of reads for a mode. */
export function readFraction(rw: RwMode, rwmixread: number): number {
  if (rw === 'read' || rw === 'randread') return 1;
  if (rw === 'write' || rw === 'randwrite') return 0;
  return rwmixread / 100;
}

function size(text: string): number | string {
  try {
    const v = parseSize(/^\d+$/.test(text.trim()) ? Number(text) : text.trim());
    return v > 0 ? v : `block size "${text}" must be more than 0`;
  } catch (e) {
    return unitMessage(e);
  }
}

/** fio `bs`: `4k` (both directions) or `4k,64k` (read, write). */
export function parseBs(text: string | number): [BsChoice, BsChoice] | string {
  const parts = String(text).split(',');
  if (parts.length > 2) return `bs "${text}": at most two sizes (read,write)`;
  const out: BsChoice[] = [];
  for (const p of parts) {
    const v = size(p);
    if (typeof v === 'string') return v;
    out.push({ sizes: [v], cum: [1] });
  }
  return [out[0]!, out[1] ?? out[0]!];
}

/** fio `bssplit`: `4k/10:64k/90` (both) or `4k/50:8k/50,64k/100` (read, write); weights are percentages. */
export function parseBssplit(text: string, order: 'random' | 'fixed' = 'random'): [BsChoice, BsChoice] | string {
  const dirs = text.split(',');
  if (dirs.length > 2) return `bssplit "${text}": at most two lists (read,write)`;
  const out: BsChoice[] = [];
  for (const d of dirs) {
    const sizes: number[] = [];
    const weights: number[] = [];
    for (const item of d.split(':')) {
      const m = /^\s*([^/]+)\/(\d+(?:\.\d+)?)\s*$/.exec(item);
      if (!m) return `bssplit entry "${item}" is not SIZE/PERCENT (e.g. 4k/50)`;
      const v = size(m[1]!);
      if (typeof v === 'string') return v;
      sizes.push(v);
      weights.push(Number(m[2]));
    }
    const total = weights.reduce((a, b) => a + b, 0);
    if (!(total > 0)) return `bssplit "${d}": the percentages add up to 0`;
    if (Math.abs(total - 100) > 1e-9) return `bssplit "${d}": the percentages add up to ${total}, not 100`;
    let acc = 0;
    const c: BsChoice = { sizes, cum: weights.map((w) => (acc += w / total)) };
    if (order === 'fixed') {
      if (weights.some((w) => !Number.isInteger(w))) return `bssplit "${d}": bssplit_order fixed needs whole percentages`;
      const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
      const g = weights.reduce((a, w) => gcd(a, w), 0);
      c.cycle = sizes.flatMap((sz, i) => new Array<number>(weights[i]! / g).fill(sz));
    }
    out.push(c);
  }
  return [out[0]!, out[1] ?? out[0]!];
}

/** fio `rate_iops`: `500` (each direction) or `500,200` (read, write; empty = none). */
export function parseRateIops(text: string | number): [number, number] | string {
  const parts = String(text).split(',');
  if (parts.length > 3) return `rate_iops "${text}": at most read,write,trim`;
  const nums = parts.map((p) => (p.trim() === '' ? 0 : Number(p)));
  if (nums.some((n) => !Number.isFinite(n) || n < 0)) return `rate_iops "${text}" must be non-negative numbers`;
  return parts.length === 1 ? [nums[0]!, nums[0]!] : [nums[0]!, nums[1]!];
}

/**
 * fio `bsrange`: `4k-16k` (both directions) or `…,…` (read, write), in bytes or with units. fio
 * (io_u.c get_next_buflen) draws `min + floor(max·u)`, aligns it down to a multiple of `min` and
 * caps it at `max`: sizes k·min (k = 1 … ⌈max/min⌉, the last capped at max), each with the share
 * of [0, max) that maps to it.
 */
export function parseBsrange(text: string): [BsChoice, BsChoice] | string {
  const dirs = text.split(',');
  if (dirs.length > 3) return `bsrange "${text}": at most read,write,trim ranges`;
  const out: BsChoice[] = [];
  for (const d of dirs.slice(0, 2)) {
    const m = /^\s*([^-]+?)\s*-\s*(.+?)\s*$/.exec(d);
    if (!m) return `bsrange "${d}" is not MIN-MAX (e.g. 4k-64k)`;
    const lo = size(m[1]!);
    const hi = size(m[2]!);
    if (typeof lo === 'string') return lo;
    if (typeof hi === 'string') return hi;
    if (lo > hi) return `bsrange "${d}": the minimum is above the maximum`;
    if (lo === hi) {
      out.push({ sizes: [lo], cum: [1] });
      continue;
    }
    const k = Math.ceil(hi / lo);
    if (k > 65536) return `bsrange "${d}" has more than 65536 block sizes`;
    const sizes: number[] = [];
    const cum: number[] = [];
    for (let i = 1; i <= k; i++) {
      const to = Math.min(i * lo, hi);
      sizes.push(to);
      cum.push(to / hi);
    }
    cum[cum.length - 1] = 1;
    out.push({ sizes, cum });
  }
  return [out[0]!, out[1] ?? out[0]!];
}

/** `rate` in a QoS file: bytes/s, `1MiB` (each direction) or `1MiB,500KiB` (read, write; empty = none). */
export function parseRateBps(text: string | number): [number, number] | string {
  const parts = String(text).split(',');
  if (parts.length > 3) return `rate "${text}": at most read,write,trim`;
  const nums: number[] = [];
  for (const p of parts) {
    if (p.trim() === '') {
      nums.push(0);
      continue;
    }
    try {
      nums.push(parseSize(p.trim().replace(/\s*\/\s*s$/, '')));
    } catch (e) {
      return `rate "${text}": ${unitMessage(e)}`;
    }
  }
  return parts.length === 1 ? [nums[0]!, nums[0]!] : [nums[0]!, nums[1]!];
}

/** Picks a block size from a choice with one uniform draw in [0, 1). */
/** The n-th size of a `bssplit_order: fixed` cycle (n counts I/Os of that direction from 0). */
export function cycleBs(c: BsChoice, n: number): number {
  return c.cycle![n % c.cycle!.length]!;
}

export function pickBs(c: BsChoice, u: number): number {
  if (c.sizes.length === 1) return c.sizes[0]!;
  for (let i = 0; i < c.cum.length; i++) if (u < c.cum[i]!) return c.sizes[i]!;
  return c.sizes[c.sizes.length - 1]!;
}
