/**
 * Streaming latency histograms with bounded relative error (log-linear buckets, as HdrHistogram
 * and fio's `plat` bins do): values below 2^subBits are exact; above, each power of two is split
 * into 2^subBits equal buckets, so a bucket's width is at most 2^-subBits of its value (subBits 7:
 * < 0.8 %). Memory is fixed at construction however many values are recorded.
 */
export class LogHistogram {
  readonly counts: Float64Array;
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  sum = 0;
  sumSq = 0;
  private readonly sub: number;
  private readonly subCount: number;
  private lo: number;
  private hi = -1;

  /** `subBits` sets the precision; values up to 2^maxBits (default 2^46 ns ≈ 19.5 h) are kept apart. */
  constructor(readonly subBits = 7, readonly maxBits = 46) {
    this.sub = subBits;
    this.subCount = 1 << subBits;
    this.counts = new Float64Array((maxBits - subBits + 2) << subBits);
    this.lo = this.counts.length;
  }

  /** Bucket index of a non-negative value. */
  index(v: number): number {
    if (v < 2147483648) {
      // the hot path: integer nanoseconds below ~2.1 s use 32-bit integer operations only
      const iv = v > 0 ? v | 0 : 0;
      if (iv < this.subCount) return iv;
      const shift = 31 - Math.clz32(iv) - this.sub;
      return ((shift + 1) << this.sub) + (iv >>> shift) - this.subCount;
    }
    const e = 63 - Math.clz32(Math.floor(v / 4294967296));
    const shift = e - this.sub;
    const i = ((shift + 1) << this.sub) + Math.floor(v / 2 ** shift) - this.subCount;
    return i < this.counts.length ? i : this.counts.length - 1;
  }

  /** Lowest value that falls in bucket `i`. */
  lowerBound(i: number): number {
    if (i < this.subCount) return i;
    const shift = (i >> this.sub) - 1;
    return ((i & (this.subCount - 1)) + this.subCount) * 2 ** shift;
  }

  /** Middle of bucket `i` (what percentiles report). */
  valueOf(i: number): number {
    if (i < this.subCount) return i;
    const shift = (i >> this.sub) - 1;
    return this.lowerBound(i) + (2 ** shift - 1) / 2;
  }

  record(v: number): void {
    const i = this.index(v);
    this.counts[i]! += 1;
    if (i < this.lo) this.lo = i;
    if (i > this.hi) this.hi = i;
    this.count++;
    this.sum += v;
    this.sumSq += v * v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  get mean(): number {
    return this.count ? this.sum / this.count : 0;
  }

  /** Sample standard deviation (fio's `stddev`). */
  get stddev(): number {
    if (this.count < 2) return 0;
    const m = this.sum / this.count;
    const v = (this.sumSq - this.count * m * m) / (this.count - 1);
    return v > 0 ? Math.sqrt(v) : 0;
  }

  /** The value at percentile `p` (0–100): the bucket holding the ceil(p% · N)-th value, clamped to [min, max]. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    if (p >= 100) return this.max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let acc = 0;
    for (let i = this.lo; i <= this.hi; i++) {
      acc += this.counts[i]!;
      if (acc >= rank) {
        const v = this.valueOf(i);
        return Math.round(v < this.min ? this.min : v > this.max ? this.max : v);
      }
    }
    return this.max;
  }

  /** Several percentiles in one pass (`ps` ascending). */
  percentiles(ps: readonly number[]): number[] {
    const out: number[] = [];
    if (this.count === 0) return ps.map(() => 0);
    let acc = 0;
    let i = this.lo;
    for (const p of ps) {
      if (p >= 100) {
        out.push(this.max);
        continue;
      }
      const rank = Math.max(1, Math.ceil((p / 100) * this.count));
      while (i <= this.hi && acc + this.counts[i]! < rank) acc += this.counts[i++]!;
      const v = i <= this.hi ? this.valueOf(i) : this.max;
      out.push(Math.round(v < this.min ? this.min : v > this.max ? this.max : v));
    }
    return out;
  }

  /** How many recorded values fall in [lo, hi) (bucket resolution). */
  countBetween(lo: number, hi: number): number {
    if (this.count === 0) return 0;
    const a = Math.max(this.lo, lo <= 0 ? 0 : this.index(lo));
    const b = Math.min(this.hi + 1, hi === Number.POSITIVE_INFINITY ? this.counts.length : this.index(hi));
    let n = 0;
    for (let i = a; i < b; i++) n += this.counts[i]!;
    return n;
  }

  /** Adds another histogram of the same shape into this one. */
  merge(o: LogHistogram): void {
    if (o.counts.length !== this.counts.length) throw new RangeError('histogram shapes differ');
    for (let i = o.lo; i <= o.hi; i++) this.counts[i]! += o.counts[i]!;
    if (o.lo < this.lo) this.lo = o.lo;
    if (o.hi > this.hi) this.hi = o.hi;
    this.count += o.count;
    this.sum += o.sum;
    this.sumSq += o.sumSq;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
  }

  /** Empties the histogram (clears only the buckets that were used). */
  reset(): void {
    if (this.hi >= this.lo) this.counts.fill(0, this.lo, this.hi + 1);
    this.lo = this.counts.length;
    this.hi = -1;
    this.count = 0;
    this.sum = 0;
    this.sumSq = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = 0;
  }

  /** Non-empty buckets as [lowerBound, count] pairs (fio's json+ `bins`, charts). */
  bins(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = this.lo; i <= this.hi; i++) if (this.counts[i]) out.push([this.lowerBound(i), this.counts[i]!]);
    return out;
  }
}

/** fio's default `percentile_list` (stat.c). */
export const FIO_PERCENTILES = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99] as const;

/** fio's key format for a percentile: `"99.990000"`. */
export function fioPercentileKey(p: number): string {
  return p.toFixed(6);
}
