/**
 * Per-interval evaluation of one expectation metric, streamed as completions arrive.
 *
 * `burst:` and interval-extreme (`max_…` / `min_…`) expectations need the metric's value in each
 * timeline interval. Earlier code rebuilt an IOPS series from the disk timelines whatever the
 * metric was, so `burst: d write_iops …` or `burst: d bw …` silently compared IOPS (issue 10 #1).
 * Here the series is computed from the completions of the expectation's own window, for the very
 * metric it names, with the same per-interval formula as the steady form over that interval.
 *
 * Invariants: completions arrive in non-decreasing simulated time (the engine's clock); intervals
 * are `[i·I, (i+1)·I)` and only intervals wholly inside `[from, min(to, end))` count, as the
 * steady form's window does. Memory is O(1) in the run length: the current interval's
 * accumulators (plus one small histogram for percentile metrics) and the running answer.
 * An interval with no completion has rate 0 and no latency: a latency condition fails there
 * (a stretch is broken) and latency extremes skip it.
 */
import { compare, isLatencyMetric, type BaseMetric, type Op } from './expect.js';
import { LogHistogram } from './histogram.js';

export type SeriesMode = { kind: 'burst'; op: Op; value: number } | { kind: 'max' } | { kind: 'min' };

export interface SeriesResult {
  /** burst: longest stretch in ns and where it starts; max/min: the extreme (undefined = no interval had data). */
  longestNs: number;
  longestFromNs: number;
  extreme: number | undefined;
  /** Intervals evaluated (wholly inside the window). */
  intervals: number;
}

export class IntervalSeries {
  private cur = -1;
  private count = 0;
  private reads = 0;
  private bytes = 0;
  private readBytes = 0;
  private latSum = 0;
  private latMax = 0;
  private readonly hist: LogHistogram | undefined;
  private readonly pct: number;
  private run = 0;
  private runFrom = 0;
  private best = 0;
  private bestFrom = 0;
  private extreme: number | undefined;
  private intervals = 0;

  constructor(
    readonly intervalNs: number,
    readonly fromNs: number,
    readonly toNs: number,
    readonly metric: BaseMetric,
    readonly mode: SeriesMode,
  ) {
    this.pct = /^p/.test(metric) ? Number(metric.slice(1)) : 0;
    this.hist = this.pct > 0 ? new LogHistogram(4) : undefined;
  }

  /** One completion at `nowNs` (inside the window's [from, to)). */
  add(nowNs: number, dir: 0 | 1, bytes: number, latNs: number): void {
    const i = Math.floor(nowNs / this.intervalNs);
    if (i !== this.cur) {
      if (this.cur >= 0) this.close(this.cur);
      const gapFrom = this.cur >= 0 ? this.cur + 1 : Math.ceil(this.fromNs / this.intervalNs);
      this.empty(gapFrom, i);
      this.cur = i;
    }
    this.count++;
    if (dir === 0) {
      this.reads++;
      this.readBytes += bytes;
    }
    this.bytes += bytes;
    this.latSum += latNs;
    if (latNs > this.latMax) this.latMax = latNs;
    this.hist?.record(latNs);
  }

  /** Closes the series at the run's end and returns the answer. */
  finish(endNs: number): SeriesResult {
    const to = Math.min(this.toNs, endNs);
    const last = Math.floor(to / this.intervalNs); // first interval NOT wholly inside
    if (this.cur >= 0) {
      if (this.cur < last) this.close(this.cur);
      this.empty(this.cur + 1, last);
    } else this.empty(Math.ceil(this.fromNs / this.intervalNs), last);
    this.cur = Number.MAX_SAFE_INTEGER;
    return { longestNs: this.best * this.intervalNs, longestFromNs: this.bestFrom, extreme: this.extreme, intervals: this.intervals };
  }

  private inside(i: number): boolean {
    return i * this.intervalNs >= this.fromNs && (i + 1) * this.intervalNs <= this.toNs;
  }

  /** The metric over the current interval's accumulators (undefined: latency with no completion). */
  private value(): number | undefined {
    const secs = this.intervalNs / 1e9;
    switch (this.metric) {
      case 'iops':
        return this.count / secs;
      case 'read_iops':
        return this.reads / secs;
      case 'write_iops':
        return (this.count - this.reads) / secs;
      case 'bw':
        return this.bytes / secs;
      case 'read_bw':
        return this.readBytes / secs;
      case 'write_bw':
        return (this.bytes - this.readBytes) / secs;
      case 'lat_mean':
        return this.count ? this.latSum / this.count : undefined;
      case 'lat_max':
        return this.count ? this.latMax : undefined;
      default:
        return this.count ? this.hist!.percentile(this.pct) : undefined;
    }
  }

  private close(i: number): void {
    if (this.inside(i)) this.feed(i, this.value(), 1);
    this.count = this.reads = this.bytes = this.readBytes = this.latSum = this.latMax = 0;
    if (this.hist && this.hist.count > 0) this.hist.reset();
  }

  /** Feeds intervals [a, b) that saw no completion (in O(1), however many). */
  private empty(a: number, b: number): void {
    const lo = Math.max(a, Math.ceil(this.fromNs / this.intervalNs));
    const hi = Number.isFinite(this.toNs) ? Math.min(b, Math.floor(this.toNs / this.intervalNs)) : b;
    if (hi <= lo) return;
    const v = isLatencyMetric(this.metric) ? undefined : 0;
    this.feed(lo, v, hi - lo);
  }

  /** `n` consecutive intervals from index `i`, all with value `v`. */
  private feed(i: number, v: number | undefined, n: number): void {
    this.intervals += n;
    const m = this.mode;
    if (m.kind === 'burst') {
      if (v !== undefined && compare(v, m.op, m.value)) {
        if (this.run === 0) this.runFrom = i * this.intervalNs;
        this.run += n;
        if (this.run > this.best) {
          this.best = this.run;
          this.bestFrom = this.runFrom;
        }
      } else this.run = 0;
    } else if (v !== undefined) {
      if (this.extreme === undefined || (m.kind === 'max' ? v > this.extreme : v < this.extreme)) this.extreme = v;
    }
  }
}
