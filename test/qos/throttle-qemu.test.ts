import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LeakyBuckets, READ, WRITE } from '../../src/block/throttle/leaky-bucket.js';
import { emptyLimits, readQemuLimits, validateQemuLimits, BPS_TOTAL, OPS_TOTAL, OPS_READ, OPS_WRITE } from '../../src/block/throttle/qemu-config.js';
import { replayQemu } from '../../src/qos/qemu-replay.js';

const MS = 1_000_000;
const limitsOf = (o: Record<string, unknown>) => {
  const r = readQemuLimits(o);
  expect(r.problems).toEqual([]);
  return r.limits;
};

/** Admission times (ns) of n back-to-back requests, each admitted as soon as it may go (aio, all queued). */
function admitAll(o: Record<string, unknown>, n: number, bytes = 4096, dir: 0 | 1 = WRITE): number[] {
  const c = replayQemu({ limits: limitsOf(o), requests: Array.from({ length: n }, () => ({ op: dir ? 'write' : 'read', bytes })), issue: 'aio', groupDisks: 1 });
  return c.completionNs;
}

describe('QEMU leaky bucket (util/throttle.c)', () => {
  it('lets avg/10 + 1 requests go at once when no max is set, then one every 1/avg', () => {
    const t = admitAll({ 'iops-total': 100 }, 30);
    expect(t.filter((x) => x === 0)).toHaveLength(11);
    expect(t[11]).toBe(10 * MS);
    expect(t[12]).toBe(20 * MS);
    expect(t[29]).toBe(190 * MS);
  });

  it('checks a request before accounting it, so the wait ignores its size', () => {
    const b = new LeakyBuckets(limitsOf({ 'bps-total': 1000 }));
    expect(b.wait(WRITE, 0)).toBe(0);
    b.account(WRITE, 1_000_000); // far larger than the bucket: still admitted
    expect(b.wait(WRITE, 0)).toBe(Math.trunc(((1_000_000 - 100) * 1e9) / 1000));
  });

  it('drains the level lazily at avg units per second', () => {
    const b = new LeakyBuckets(limitsOf({ 'iops-total': 100 }));
    for (let i = 0; i < 20; i++) b.account(READ, 512);
    expect(b.wait(READ, 0)).toBe(100 * MS); // level 20, bucket 10: (20-10)/100 s
    expect(b.wait(READ, 50 * MS)).toBe(50 * MS);
    expect(b.wait(READ, 100 * MS)).toBe(0);
    expect(b.level[OPS_TOTAL]).toBeCloseTo(10, 9);
  });

  it('bursts at max for about max*length/(max-avg) seconds, then falls back to avg (burst level caps the rate)', () => {
    // 100/500/2: the bucket holds 1000 ops; the level grows at 400/s during the burst
    const t = admitAll({ 'iops-total': 100, 'iops-total-max': 500, 'iops-total-max-length': 2 }, 1500);
    expect(t.filter((x) => x === 0)).toHaveLength(51); // burst level of max/10 = 50, plus the first
    const perSecond = [0, 0, 0, 0, 0];
    for (const x of t) perSecond[Math.floor(x / 1e9)]!++;
    expect(perSecond[1]).toBe(500); // during the burst: max per second
    expect(perSecond[3]).toBe(100); // after: avg per second
    // admitted - 100*t reaches 1000 ops at 2.37 s
    const switchAt = t.findIndex((x, i) => i > 0 && x - t[i - 1]! > 5 * MS);
    expect(t[switchAt]! / 1e9).toBeGreaterThan(2.3);
    expect(t[switchAt]! / 1e9).toBeLessThan(2.45);
  });

  it('counts a request larger than iops-size as size/iops-size (fractional) operations', () => {
    const b = new LeakyBuckets(limitsOf({ 'iops-total': 100, 'iops-size': 4096 }));
    b.account(WRITE, 32768);
    b.account(WRITE, 6144);
    b.account(WRITE, 512);
    expect(b.level[OPS_TOTAL]).toBeCloseTo(8 + 1.5 + 1, 12);
    expect(b.level[OPS_WRITE]).toBeCloseTo(10.5, 12);
    expect(b.level[BPS_TOTAL]).toBe(32768 + 6144 + 512);
  });

  it('charges the total bucket for both directions and read/write buckets for their own', () => {
    const b = new LeakyBuckets(limitsOf({ 'iops-read': 10, 'iops-write': 100 }));
    for (let i = 0; i < 3; i++) b.account(READ, 4096);
    expect(b.level[OPS_READ]).toBe(3);
    expect(b.level[OPS_WRITE]).toBe(0);
    expect(b.wait(READ, 0)).toBe(Math.trunc((2 * 1e9) / 10)); // 3 - 1 over the read bucket
    expect(b.wait(WRITE, 0)).toBe(0); // writes are not held back by reads
  });

  it('never admits more than bucket + avg*T (+1 checked-before-accounted) in any prefix, whatever the request pattern', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.array(fc.integer({ min: 0, max: 50 * MS }), { minLength: 1, maxLength: 300 }), (avg, gaps) => {
        const b = new LeakyBuckets(limitsOf({ 'iops-total': avg }));
        let now = 0;
        let admitted = 0;
        for (const g of gaps) {
          now += g;
          const w = b.wait(WRITE, now);
          now += w;
          if (w > 0) b.wait(WRITE, now);
          b.account(WRITE, 4096);
          admitted++;
          expect(admitted).toBeLessThanOrEqual(avg / 10 + (avg * now) / 1e9 + 1 + 1e-6);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('QEMU throttle limits: names and validation (throttle_is_valid)', () => {
  it('accepts QEMU, QMP and libvirt <iotune> names for the same limit', () => {
    const a = readQemuLimits({ 'iops-total': 100, 'iops-total-max': 500, 'iops-total-max-length': 2, 'bps-read': 1e6, 'iops-size': 8192 });
    const b = readQemuLimits({ iops: 100, iops_max: 500, iops_max_length: 2, bps_rd: 1e6, iops_size: 8192 });
    const c = readQemuLimits({ total_iops_sec: 100, total_iops_sec_max: 500, total_iops_sec_max_length: 2, read_bytes_sec: 1e6, size_iops_sec: 8192, group_name: 'gold' });
    const d = readQemuLimits({ 'x-iops-total': 100, 'x-iops-total-max': 500, 'x-iops-total-max-length': 2, 'throttling.bps-read': 1e6, 'limits.iops-size': 8192 });
    for (const r of [a, b, c, d]) expect(r.problems).toEqual([]);
    expect(b.limits).toEqual(a.limits);
    expect(c.limits).toEqual(a.limits);
    expect(d.limits).toEqual(a.limits);
    expect(c.group).toBe('gold');
  });

  it.each([
    [{ 'iops-total': 100, 'iops-read': 10 }, 'bps/iops/max total values and read/write values cannot be used at the same time'],
    [{ 'iops-total': 100, 'iops-total-max': 50 }, 'bps_max/iops_max cannot be lower than bps/iops'],
    [{ 'iops-total': 100, 'iops-total-max-length': 5 }, 'burst length set without burst rate'],
    [{ 'iops-total-max': 100 }, 'bps_max/iops_max require corresponding bps/iops values'],
    [{ 'bps-total': 100, 'iops-size': 4096 }, 'iops size requires an iops value to be set'],
    [{ 'iops-total': 100, 'iops-total-max': 200, 'iops-total-max-length': 0 }, 'the burst length cannot be 0'],
    [{ 'bps-write': 2e15 }, 'bps/iops/max values must be within [0, 1000000000000000]'],
  ])('rejects %j with QEMU\'s message', (input, message) => {
    const r = readQemuLimits(input);
    expect(r.problems.map((p) => p.message)).toEqual([message]);
  });

  it('names the key at fault so the loader can point at it', () => {
    const r = readQemuLimits({ total_iops_sec: 100, total_iops_sec_max: 50 });
    expect(r.problems[0]!.key).toBe('total_iops_sec_max');
    expect(readQemuLimits({ 'iops-totl': 5 }).problems[0]).toEqual({ key: 'iops-totl', message: 'unknown throttle limit "iops-totl"' });
  });

  it('accepts an empty configuration as valid (no limits)', () => {
    expect(validateQemuLimits(emptyLimits())).toBeUndefined();
  });
});
