/**
 * I/O completions and throttle timers re-arm their event records (`Io.completeAt`, the engine's
 * `armTimer`) instead of taking a new one each time. That is only a saving: the same models give
 * the same results, the same event count and the same order of everything as with a new record
 * per event (reuse off), over random disks, throttles (QEMU buckets with bursts, shared groups,
 * Firecracker buckets), devices and workloads.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyLimits, OPS_TOTAL, BPS_TOTAL } from '../../src/block/throttle/qemu-config.js';
import { eventRecords } from '../../src/qos/io.js';
import type { QosModel, PolicySpec } from '../../src/qos/model.js';
import { runQos } from '../../src/qos/run.js';
import { defaultJob } from '../../src/qos/workload.js';

interface Shape {
  seed: number;
  disks: number;
  policy: 'none' | 'qemu' | 'qemu-burst' | 'bps' | 'firecracker';
  shared: boolean;
  iops: number;
  depth: number;
  parallelism: number;
  thinkUs: number;
  rw: 'randread' | 'randwrite' | 'randrw' | 'read';
}

function policy(s: Shape): PolicySpec | undefined {
  const l = emptyLimits();
  switch (s.policy) {
    case 'none':
      return undefined;
    case 'qemu':
      l.buckets[OPS_TOTAL]!.avg = s.iops;
      return { kind: 'qemu', limits: l };
    case 'qemu-burst':
      l.buckets[OPS_TOTAL]!.avg = s.iops;
      l.buckets[OPS_TOTAL]!.max = s.iops * 3;
      l.buckets[OPS_TOTAL]!.burstLength = 2;
      return { kind: 'qemu', limits: l };
    case 'bps':
      l.buckets[BPS_TOTAL]!.avg = s.iops * 4096;
      return { kind: 'qemu', limits: l };
    case 'firecracker':
      return { kind: 'firecracker', bandwidth: undefined, ops: { size: Math.max(1, Math.round(s.iops / 10)), oneTimeBurst: 0, refillTimeMs: 100 } };
  }
}

function model(s: Shape): QosModel {
  const p = policy(s);
  const disks = Array.from({ length: s.disks }, (_, i) => ({ name: `vm${i}.vda`, size: 1 << 30, backend: 'ssd', policy: s.shared ? undefined : p }));
  return {
    seed: s.seed,
    durationNs: 300e6,
    intervalNs: 100e6,
    backends: [{ name: 'ssd', parallelism: s.parallelism, service: { kind: 'lognormal', p50Ns: 50_000, p99Ns: 300_000 }, bandwidth: 0 }],
    disks,
    groups: s.shared && p ? [{ name: 'tg', members: disks.map((d) => d.name), policy: p }] : [],
    jobs: disks.map((d, i) => ({ ...defaultJob(`j${i}`, d.name), rw: s.rw, iodepth: s.depth, thinktimeNs: s.thinkUs * 1000, runtimeNs: 250e6, timeBased: true })),
  };
}

const shape = fc.record({
  seed: fc.integer({ min: 1, max: 1 << 30 }),
  disks: fc.integer({ min: 1, max: 4 }),
  policy: fc.constantFrom('none' as const, 'qemu' as const, 'qemu-burst' as const, 'bps' as const, 'firecracker' as const),
  shared: fc.boolean(),
  iops: fc.integer({ min: 200, max: 20_000 }),
  depth: fc.integer({ min: 1, max: 16 }),
  parallelism: fc.integer({ min: 1, max: 32 }),
  thinkUs: fc.constantFrom(0, 0, 50),
  rw: fc.constantFrom('randread' as const, 'randwrite' as const, 'randrw' as const, 'read' as const),
});

function result(s: Shape, reuse: boolean): string {
  eventRecords.reuse = reuse;
  try {
    return JSON.stringify(runQos(model(s)).result);
  } finally {
    eventRecords.reuse = true;
  }
}

describe('re-armed event records', () => {
  afterEach(() => {
    eventRecords.reuse = true;
  });

  it('reuse on == reuse off: the same results and event counts for random models', () => {
    fc.assert(
      fc.property(shape, (s) => {
        const on = result(s, true);
        expect((JSON.parse(on) as { completed_ios: number }).completed_ios).toBeGreaterThan(0);
        expect(on).toBe(result(s, false));
      }),
      { numRuns: 40 },
    );
  });
});
