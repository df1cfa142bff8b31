/**
 * Per-interval timelines (`--interval`, default 1 s, down to 1 ms): completions, bytes and latency
 * per interval. Columns live in growable typed arrays; when a run would exceed `maxRows`
 * intervals, neighbouring rows are merged and the interval doubles, so memory stays bounded
 * however long the run (a merged row's p50/p99 is the larger of the two, an upper bound).
 */
import { LogHistogram } from './histogram.js';

export interface TimelineRow {
  /** Start of the interval, ns. */
  t: number;
  reads: number;
  writes: number;
  readBytes: number;
  writeBytes: number;
  /** IOPS and bandwidth (bytes/s) over the interval. */
  iops: number;
  bw: number;
  latMeanNs: number;
  latP50Ns: number;
  latP99Ns: number;
  latMaxNs: number;
}

const COLS = 9; // reads, writes, readBytes, writeBytes, latSum, latMax, p50, p99, latCount

export class Timeline {
  private data: Float64Array;
  rows = 0;
  private cur = -1;
  private readonly hist: LogHistogram | undefined;

  constructor(
    public intervalNs: number,
    readonly withLatency: boolean,
    readonly maxRows = 100_000,
  ) {
    this.data = new Float64Array(COLS * 64);
    this.hist = withLatency ? new LogHistogram(4) : undefined;
  }

  /** Records one completion at `nowNs` (monotonic). */
  add(nowNs: number, dir: 0 | 1, bytes: number, latNs: number): void {
    let row = Math.floor(nowNs / this.intervalNs);
    if (row !== this.cur) {
      this.close();
      while (row >= this.maxRows) {
        this.coarsen();
        row = Math.floor(nowNs / this.intervalNs);
      }
      this.ensure(row + 1);
      this.cur = row;
    }
    const o = row * COLS;
    const d = this.data;
    d[o + dir]! += 1;
    d[o + 2 + dir]! += bytes;
    if (this.hist) {
      d[o + 4]! += latNs;
      if (latNs > d[o + 5]!) d[o + 5] = latNs;
      d[o + 8]! += 1;
      this.hist.record(latNs);
    }
  }

  /** Extends the timeline with empty rows up to `endNs` and closes the open interval. */
  finish(endNs: number): void {
    this.close();
    this.cur = -1;
    const rows = Math.min(Math.ceil(endNs / this.intervalNs), this.maxRows);
    this.ensure(rows);
  }

  private close(): void {
    if (this.cur < 0 || !this.hist) return;
    const o = this.cur * COLS;
    if (this.hist.count > 0) {
      const [p50, p99] = this.hist.percentiles([50, 99]);
      this.data[o + 6] = Math.max(this.data[o + 6]!, p50!);
      this.data[o + 7] = Math.max(this.data[o + 7]!, p99!);
    }
    this.hist.reset();
  }

  private ensure(rows: number): void {
    if (rows * COLS > this.data.length) {
      let n = this.data.length;
      while (n < rows * COLS) n *= 2;
      const d = new Float64Array(n);
      d.set(this.data);
      this.data = d;
    }
    if (rows > this.rows) this.rows = rows;
  }

  private coarsen(): void {
    this.close();
    const d = this.data;
    const half = Math.ceil(this.rows / 2);
    for (let i = 0; i < half; i++) {
      const a = 2 * i * COLS;
      const b = (2 * i + 1) * COLS;
      const o = i * COLS;
      const hasB = 2 * i + 1 < this.rows;
      for (const c of [0, 1, 2, 3, 4, 8]) d[o + c] = d[a + c]! + (hasB ? d[b + c]! : 0);
      for (const c of [5, 6, 7]) d[o + c] = Math.max(d[a + c]!, hasB ? d[b + c]! : 0);
    }
    d.fill(0, half * COLS, this.rows * COLS);
    this.rows = half;
    this.cur = -1;
    this.intervalNs *= 2;
  }

  /** Completions in row `i` (both directions). */
  count(i: number): number {
    return this.data[i * COLS]! + this.data[i * COLS + 1]!;
  }

  row(i: number): TimelineRow {
    const d = this.data;
    const o = i * COLS;
    const n = d[o]! + d[o + 1]!;
    const secs = this.intervalNs / 1e9;
    return {
      t: i * this.intervalNs,
      reads: d[o]!,
      writes: d[o + 1]!,
      readBytes: d[o + 2]!,
      writeBytes: d[o + 3]!,
      iops: n / secs,
      bw: (d[o + 2]! + d[o + 3]!) / secs,
      latMeanNs: d[o + 8]! ? Math.round(d[o + 4]! / d[o + 8]!) : 0,
      latP50Ns: d[o + 6]!,
      latP99Ns: d[o + 7]!,
      latMaxNs: d[o + 5]!,
    };
  }

  toRows(): TimelineRow[] {
    const out: TimelineRow[] = [];
    for (let i = 0; i < this.rows; i++) out.push(this.row(i));
    return out;
  }
}
