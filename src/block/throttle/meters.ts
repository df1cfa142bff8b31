/**
 * The meters a throttle group can use: QEMU's leaky buckets, a Firecracker token bucket pair, and
 * cgroup v2 `io.max`. Each is a plain value driven with explicit times.
 */
import type { Meter } from './group.js';
import { LeakyBuckets, type Direction } from './leaky-bucket.js';
import type { QemuLimits } from './qemu-config.js';
import { FirecrackerRateLimiter } from './token-bucket.js';

/** QEMU: checked before accounted; a timer's wake-up admits without re-checking. */
export class QemuMeter implements Meter {
  readonly recheckOnTimer = false;
  readonly buckets: LeakyBuckets;
  constructor(readonly limits: QemuLimits, nowNs = 0) {
    this.buckets = new LeakyBuckets(limits, nowNs);
  }
  wait(dir: Direction, _bytes: number, nowNs: number): number {
    return this.buckets.wait(dir, nowNs);
  }
  account(dir: Direction, bytes: number): void {
    this.buckets.account(dir, bytes);
  }
}

/** Firecracker's block-device rate limiter (bandwidth bucket in bytes, ops bucket in requests). */
export class FirecrackerMeter implements Meter {
  readonly recheckOnTimer = true;
  constructor(readonly limiter: FirecrackerRateLimiter) {}
  wait(_dir: Direction, bytes: number, nowNs: number): number {
    return this.limiter.wait(bytes, nowNs);
  }
  account(_dir: Direction, bytes: number, nowNs: number): void {
    this.limiter.consume(bytes, nowNs);
  }
}

export interface IoMaxLimits {
  rbps: number;
  wbps: number;
  riops: number;
  wiops: number;
}

/**
 * cgroup v2 `io.max` (blk-throttle). Linux meters each limit over time slices (`throtl_slice`,
 * 100 ms) and lets a group that was idle dispatch up to one slice's worth at once ("temporary
 * bursts are allowed", Documentation/admin-guide/cgroup-v2.rst). Modelled as one continuous token
 * bucket per limit holding one slice of credit, starting full; a request waits until its bucket
 * holds its size (a request larger than a slice waits for a full bucket and drives it negative).
 * This is a deliberate simplification of blk-throttle's slice bookkeeping (`tg_may_dispatch`).
 */
export class IoMaxMeter implements Meter {
  readonly recheckOnTimer = true;
  static readonly SLICE_NS = 100_000_000;
  private readonly rate: Float64Array; // rbps, wbps, riops, wiops
  private readonly tokens: Float64Array;
  private last = 0;
  constructor(readonly limits: IoMaxLimits, nowNs = 0) {
    this.rate = Float64Array.of(limits.rbps, limits.wbps, limits.riops, limits.wiops);
    this.tokens = this.rate.map((r) => (r * IoMaxMeter.SLICE_NS) / 1e9);
    this.last = nowNs;
  }
  private refill(nowNs: number): void {
    const dt = nowNs - this.last;
    if (dt <= 0) return;
    this.last = nowNs;
    for (let i = 0; i < 4; i++) {
      const r = this.rate[i]!;
      if (!r) continue;
      const cap = (r * IoMaxMeter.SLICE_NS) / 1e9;
      const t = this.tokens[i]! + (r * dt) / 1e9;
      this.tokens[i] = t > cap ? cap : t;
    }
  }
  private need(i: number, units: number): number {
    const r = this.rate[i]!;
    if (!r) return 0;
    const cap = (r * IoMaxMeter.SLICE_NS) / 1e9;
    const want = units < cap ? units : cap;
    const missing = want - this.tokens[i]!;
    return missing > 1e-9 ? Math.ceil((missing * 1e9) / r) : 0;
  }
  wait(dir: Direction, bytes: number, nowNs: number): number {
    this.refill(nowNs);
    const a = this.need(dir === 0 ? 0 : 1, bytes);
    const b = this.need(dir === 0 ? 2 : 3, 1);
    return a > b ? a : b;
  }
  account(dir: Direction, bytes: number, nowNs: number): void {
    this.refill(nowNs);
    const bi = dir === 0 ? 0 : 1;
    const oi = dir === 0 ? 2 : 3;
    if (this.rate[bi]) this.tokens[bi] = this.tokens[bi]! - bytes;
    if (this.rate[oi]) this.tokens[oi] = this.tokens[oi]! - 1;
  }
}

/** Parses one `io.max` line body: `rbps=1048576 wiops=120 riops=max` (MAJ:MIN optional). */
export function parseIoMax(text: string): IoMaxLimits | string {
  const out: IoMaxLimits = { rbps: 0, wbps: 0, riops: 0, wiops: 0 };
  const parts = text.trim().split(/\s+/).filter(Boolean);
  for (const [i, p] of parts.entries()) {
    if (i === 0 && /^\d+:\d+$/.test(p)) continue;
    const m = /^(rbps|wbps|riops|wiops)=(max|\d+)$/.exec(p);
    if (!m) return `"${p}" is not an io.max setting (rbps=, wbps=, riops=, wiops= followed by a number or "max")`;
    out[m[1] as keyof IoMaxLimits] = m[2] === 'max' ? 0 : Number(m[2]);
  }
  return out;
}
