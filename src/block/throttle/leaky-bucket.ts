/**
 * QEMU's "leaky bucket as a meter" (util/throttle.c, QEMU 7.2) as a plain value: time is passed in,
 * nothing reads a clock.
 *
 * - Each bucket has a `level` (work admitted and not yet leaked) draining at `avg` units/s
 *   (`throttle_leak_bucket`), computed lazily from the time since the previous leak
 *   (`throttle_do_leak`). With `burst_length > 1` a second `burst_level` drains at `max`/s.
 * - `throttle_compute_wait`: the bucket may hold `max × burst_length` units (or `avg/10` when no
 *   `max` is set: a 100 ms burst allowance); above that a request waits
 *   `(level − size) / avg`. During a long burst the burst level caps the rate at `max`: it may
 *   hold `max/10` units, above that wait `(burst_level − max/10) / max`.
 * - A request is checked BEFORE it is accounted (the check ignores its size), and the longest wait
 *   over the buckets that apply to its direction wins (`throttle_compute_wait_for`).
 * - `throttle_account`: bytes go to bps-total and bps-read|write, `units` to the ops buckets, where
 *   `units = bytes / iops-size` when iops-size is set and the request is larger, else 1.
 * Arithmetic is in doubles like QEMU's; waits are truncated to integer nanoseconds as QEMU's
 * `int64_t` conversion does.
 */
import { BPS_READ, BPS_TOTAL, BPS_WRITE, OPS_READ, OPS_TOTAL, OPS_WRITE, type QemuLimits } from './qemu-config.js';

/** 0 = read, 1 = write (QEMU's `is_write`). */
export type Direction = 0 | 1;
export const READ: Direction = 0;
export const WRITE: Direction = 1;

const NS = 1e9;
const TO_CHECK: ReadonlyArray<readonly number[]> = [
  [BPS_TOTAL, OPS_TOTAL, BPS_READ, OPS_READ],
  [BPS_TOTAL, OPS_TOTAL, BPS_WRITE, OPS_WRITE],
];

export class LeakyBuckets {
  readonly avg = new Float64Array(6);
  readonly max = new Float64Array(6);
  readonly burstLength = new Float64Array(6);
  readonly level = new Float64Array(6);
  readonly burstLevel = new Float64Array(6);
  readonly opSize: number;
  /** `ts->previous_leak`. */
  previousLeak: number;
  /**
   * Buckets with a limit (avg > 0), and per direction the ones `wait` checks: the others leak
   * nothing and never make a request wait, so the hot path skips them (limits are fixed once built).
   */
  private readonly active: Int32Array;
  private readonly checked: [Int32Array, Int32Array];

  constructor(cfg: QemuLimits, nowNs = 0) {
    cfg.buckets.forEach((b, i) => {
      this.avg[i] = b.avg;
      this.max[i] = b.max;
      this.burstLength[i] = b.burstLength;
    });
    this.opSize = cfg.iopsSize;
    this.previousLeak = nowNs;
    const limited = (i: number): boolean => this.avg[i]! !== 0;
    this.active = Int32Array.from([0, 1, 2, 3, 4, 5].filter(limited));
    this.checked = [Int32Array.from(TO_CHECK[0]!.filter(limited)), Int32Array.from(TO_CHECK[1]!.filter(limited))];
  }

  /** `throttle_do_leak`: drain every bucket for the time since the previous leak. */
  leak(nowNs: number): void {
    const delta = nowNs - this.previousLeak;
    this.previousLeak = nowNs;
    if (delta <= 0) return;
    const active = this.active;
    for (let k = 0; k < active.length; k++) {
      const i = active[k]!;
      const avg = this.avg[i]!;
      const l = this.level[i]! - (avg * delta) / NS;
      this.level[i] = l > 0 ? l : 0;
      if (this.burstLength[i]! > 1) {
        const b = this.burstLevel[i]! - (this.max[i]! * delta) / NS;
        this.burstLevel[i] = b > 0 ? b : 0;
      }
    }
  }

  /** `throttle_compute_wait` for bucket `i`, in ns (0 = may go now). */
  bucketWait(i: number): number {
    const avg = this.avg[i]!;
    if (avg === 0) return 0;
    const max = this.max[i]!;
    let bucketSize: number;
    let burstBucketSize: number;
    if (max === 0) {
      bucketSize = avg / 10;
      burstBucketSize = 0;
    } else {
      bucketSize = max * this.burstLength[i]!;
      burstBucketSize = max / 10;
    }
    let extra = this.level[i]! - bucketSize;
    if (extra > 0) return Math.trunc((extra * NS) / avg);
    if (this.burstLength[i]! > 1) {
      extra = this.burstLevel[i]! - burstBucketSize;
      if (extra > 0) return Math.trunc((extra * NS) / max);
    }
    return 0;
  }

  /** Leak to `nowNs`, then `throttle_compute_wait_for(direction)`: the longest wait, in ns. */
  wait(dir: Direction, nowNs: number): number {
    this.leak(nowNs);
    const idx = this.checked[dir];
    let w = 0;
    for (let k = 0; k < idx.length; k++) {
      const x = this.bucketWait(idx[k]!);
      if (x > w) w = x;
    }
    return w;
  }

  /** `throttle_account`: charge an admitted request of `bytes` in direction `dir`. */
  account(dir: Direction, bytes: number): void {
    const units = this.opSize && bytes > this.opSize ? bytes / this.opSize : 1;
    const bps = dir === 0 ? BPS_READ : BPS_WRITE;
    const ops = dir === 0 ? OPS_READ : OPS_WRITE;
    this.add(BPS_TOTAL, bytes);
    this.add(bps, bytes);
    this.add(OPS_TOTAL, units);
    this.add(ops, units);
  }

  private add(i: number, units: number): void {
    this.level[i] = this.level[i]! + units;
    if (this.burstLength[i]! > 1) this.burstLevel[i] = this.burstLevel[i]! + units;
  }
}
