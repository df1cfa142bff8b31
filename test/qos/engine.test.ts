import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { QosEngine } from '../../src/qos/engine.js';
import { LogHistogram, FIO_PERCENTILES, fioPercentileKey } from '../../src/qos/histogram.js';
import { Timeline } from '../../src/qos/timeline.js';
import { ServiceTime } from '../../src/qos/service-time.js';
import { defaultJob, parseBs, parseBssplit, parseRateIops, type JobSpec } from '../../src/qos/workload.js';
import { runQos } from '../../src/qos/run.js';
import { Prng } from '../../src/sim/prng.js';
import type { QosModel } from '../../src/qos/model.js';
import { readQemuLimits } from '../../src/block/throttle/qemu-config.js';

const S = 1e9;
const MS = 1e6;
const ssd = { name: 'ssd', parallelism: 4, service: { kind: 'fixed' as const, ns: 1 * MS }, bandwidth: 0 };

function model(jobs: JobSpec[], extra: Partial<QosModel> = {}): QosModel {
  return {
    seed: 3,
    durationNs: 0,
    intervalNs: S,
    backends: [ssd],
    disks: [{ name: 'vda', size: 1 << 30, backend: 'ssd', policy: undefined }],
    groups: [],
    jobs,
    ...extra,
  };
}
const job = (o: Partial<JobSpec> = {}): JobSpec => ({ ...defaultJob('j', 'vda'), ...o });

describe('streaming latency histogram', () => {
  it('keeps every value within 1/128 of its bucket (bounded relative error)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 44 }), (v) => {
        const h = new LogHistogram();
        const i = h.index(v);
        expect(h.lowerBound(i)).toBeLessThanOrEqual(v);
        expect(v - h.lowerBound(i)).toBeLessThanOrEqual(Math.max(0, h.lowerBound(i) / 128));
        expect(Math.abs(h.valueOf(i) - v)).toBeLessThanOrEqual(Math.max(0.5, v / 128));
      }),
      { numRuns: 2000 },
    );
  });

  it('reports percentiles of a known distribution within 1 %', () => {
    const h = new LogHistogram();
    for (let v = 1; v <= 100_000; v++) h.record(v * 1000);
    expect(h.percentile(50) / 50_000_000).toBeCloseTo(1, 2);
    expect(h.percentile(99) / 99_000_000).toBeCloseTo(1, 2);
    expect(h.percentile(100)).toBe(100_000_000);
    expect(h.percentiles([1, 50, 99.99]).map((v) => Math.round(v / 1e6))).toEqual([1, 50, 100]);
    expect(h.mean).toBeCloseTo(50_000_500, 0);
  });

  it('uses fio\'s default percentile list and key format', () => {
    expect(FIO_PERCENTILES.map(fioPercentileKey)).toEqual(['1.000000', '5.000000', '10.000000', '20.000000', '30.000000', '40.000000', '50.000000', '60.000000', '70.000000', '80.000000', '90.000000', '95.000000', '99.000000', '99.500000', '99.900000', '99.950000', '99.990000']);
  });
});

describe('timelines', () => {
  it('merge neighbouring rows and double the interval instead of growing past maxRows', () => {
    const t = new Timeline(MS, true, 8);
    for (let i = 0; i < 100; i++) t.add(i * MS + 1, 0, 4096, 1000);
    expect(t.rows).toBeLessThanOrEqual(8);
    expect(t.intervalNs).toBe(16 * MS);
    const rows = t.toRows();
    expect(rows.reduce((a, r) => a + r.reads, 0)).toBe(100);
    expect(rows[0]!.iops).toBeCloseTo(1000, 6);
  });
});

describe('service times', () => {
  it('draws lognormal service times whose p50 and p99 match the configuration', () => {
    const s = new ServiceTime({ kind: 'lognormal', p50Ns: 200_000, p99Ns: 2_000_000 });
    const h = new LogHistogram();
    const prng = new Prng(1);
    for (let i = 0; i < 200_000; i++) h.record(s.sample(prng));
    expect(h.percentile(50) / 200_000).toBeGreaterThan(0.97);
    expect(h.percentile(50) / 200_000).toBeLessThan(1.03);
    expect(h.percentile(99) / 2_000_000).toBeGreaterThan(0.93);
    expect(h.percentile(99) / 2_000_000).toBeLessThan(1.07);
  });

  it('interpolates a percentile table', () => {
    const s = new ServiceTime({ kind: 'table', points: [{ p: 50, ns: 100 }, { p: 90, ns: 500 }, { p: 100, ns: 1000 }] });
    expect(s.quantile(0.2)).toBe(100);
    expect(s.quantile(0.7)).toBe(300);
    expect(s.quantile(0.95)).toBe(750);
  });
});

describe('fio option strings', () => {
  it('parse bs, bssplit and rate_iops as fio does', () => {
    expect(parseBs('4k,64k')).toEqual([{ sizes: [4096], cum: [1] }, { sizes: [65536], cum: [1] }]);
    const split = parseBssplit('4k/25:64k/75');
    expect(typeof split).not.toBe('string');
    expect((split as Exclude<typeof split, string>)[0]).toEqual({ sizes: [4096, 65536], cum: [0.25, 1] });
    expect(parseBssplit('4k/20:8k/20')).toMatch(/add up to 40, not 100/);
    expect(parseRateIops('500')).toEqual([500, 500]);
    expect(parseRateIops('500,')).toEqual([500, 0]);
    expect(parseRateIops('x')).toMatch(/non-negative/);
  });
});

describe('fio-style jobs in virtual time', () => {
  it('run a fixed number of I/Os at queue depth 1 back to back on a fixed-latency backend', () => {
    const e = new QosEngine(model([job({ numberIos: 100 })]));
    e.run();
    expect(e.completed).toBe(100);
    expect(e.jobs[0]!.lastCompletionNs).toBe(100 * MS);
    expect(e.jobs[0]!.stats[0].clat.percentile(99)).toBe(MS);
  });

  it('keep iodepth I/Os in flight and queue the excess at the backend (latency grows with the queue)', () => {
    const e = new QosEngine(model([job({ iodepth: 16, numberIos: 1600 })]));
    e.run();
    expect(e.jobs[0]!.lastCompletionNs).toBe(400 * MS); // 4 at a time, 1 ms each
    expect(e.jobs[0]!.stats[0].clat.percentile(50)).toBe(4 * MS);
  });

  it('stop after size bytes unless time_based, and run for runtime when time_based', () => {
    const a = new QosEngine(model([job({ size: 400 * 4096 })]));
    a.run();
    expect(a.completed).toBe(400);
    const b = new QosEngine(model([job({ size: 4 * 4096, runtimeNs: 2 * S, timeBased: true })]));
    b.run();
    expect(b.completed).toBe(2000);
  });

  it('pace I/Os with rate_iops (fio\'s linear rate process)', () => {
    const e = new QosEngine(model([job({ iodepth: 8, rateIops: [250, 250], runtimeNs: 4 * S, timeBased: true })]));
    e.run();
    expect(e.completed).toBeGreaterThanOrEqual(999);
    expect(e.completed).toBeLessThanOrEqual(1001);
  });

  it('wait thinktime after each completion before reusing the slot', () => {
    const e = new QosEngine(model([job({ thinktimeNs: 9 * MS, runtimeNs: 1 * S, timeBased: true })]));
    e.run();
    expect(e.completed).toBe(100); // 1 ms service + 9 ms think
  });

  it('leave ramp_time out of the statistics, start after startdelay, and clone numjobs', () => {
    const e = new QosEngine(model([job({ numjobs: 3, rampNs: 1 * S, runtimeNs: 1 * S, startdelayNs: 500 * MS, timeBased: true, rateIops: [100, 100] })]));
    e.run();
    expect(e.jobs).toHaveLength(3);
    for (const j of e.jobs) {
      expect(j.startNs).toBe(500 * MS);
      expect(j.stats[0].ios).toBeGreaterThanOrEqual(99);
      expect(j.stats[0].ios).toBeLessThanOrEqual(101);
    }
    expect(e.completed).toBeGreaterThanOrEqual(597);
  });

  it('mix reads and writes by rwmixread and sizes by bssplit', () => {
    const split = parseBssplit('4k/50:64k/50') as Exclude<ReturnType<typeof parseBssplit>, string>;
    const e = new QosEngine(model([job({ rw: 'randrw', rwmixread: 70, bs: split, numberIos: 20000, iodepth: 4 })], { backends: [{ ...ssd, service: { kind: 'fixed', ns: 10_000 } }] }));
    e.run();
    const [r, w] = e.jobs[0]!.stats;
    expect(r.ios / 20000).toBeCloseTo(0.7, 1);
    const avg = (r.bytes + w.bytes) / 20000;
    expect(avg / ((4096 + 65536) / 2)).toBeCloseTo(1, 1);
  });

  it('apply a bandwidth ceiling at the backend', () => {
    const e = new QosEngine(model([job({ bs: parseBs('1M') as never, iodepth: 8, runtimeNs: 2 * S, timeBased: true })], { backends: [{ name: 'ssd', parallelism: 8, service: { kind: 'fixed', ns: 10_000 }, bandwidth: 100 * 2 ** 20 }] }));
    e.run();
    const rows = e.disks[0]!.timeline.toRows();
    for (const r of rows.slice(0, 2)) {
      expect(r.bw / 2 ** 20).toBeGreaterThan(98);
      expect(r.bw / 2 ** 20).toBeLessThanOrEqual(100.5);
    }
  });

  it('sum several jobs on one disk into the disk\'s timeline and histogram', () => {
    const e = new QosEngine(model([job({ numjobs: 2, rateIops: [100, 100], runtimeNs: 3 * S, timeBased: true }), { ...job({ rw: 'randwrite', rateIops: [50, 50], runtimeNs: 3 * S, timeBased: true }), name: 'w' }]));
    e.run();
    const d = e.disks[0]!;
    expect(d.sole).toBeUndefined();
    const rows = d.timeline.toRows();
    expect(rows.slice(0, 3).map((r) => [r.reads, r.writes])).toEqual([[200, 50], [200, 50], [200, 50]]);
    expect(d.hist.count).toBe(e.jobs.reduce((a, j) => a + j.stats[0].ios + j.stats[1].ios, 0));
    expect(d.hist.percentile(50)).toBe(MS);
  });

  it('are deterministic: the same model and seed give identical results', () => {
    const m = model([job({ rw: 'randrw', iodepth: 8, runtimeNs: 2 * S, timeBased: true })], { backends: [{ ...ssd, service: { kind: 'lognormal', p50Ns: 300_000, p99Ns: 3 * MS } }] });
    const a = JSON.stringify(runQos(m).result);
    const b = JSON.stringify(runQos(m).result);
    expect(a).toBe(b);
    const c = JSON.stringify(runQos({ ...m, seed: 4 }).result);
    expect(c).not.toBe(a);
  });

  it('keep memory flat: a long run touches the same number of objects (pooled I/Os, fixed histograms)', () => {
    const limits = readQemuLimits({ 'iops-total': 2000 }).limits;
    const m = model([job({ iodepth: 4, runtimeNs: 600 * S, timeBased: true })], { disks: [{ name: 'vda', size: 1 << 30, backend: 'ssd', policy: { kind: 'qemu', limits } }] });
    const e = new QosEngine(m);
    e.run();
    expect(e.completed).toBeGreaterThan(1_190_000);
    expect(e.jobs[0]!.free.length).toBe(4); // the same four I/O objects served 1.2 M requests
    expect(e.disks[0]!.timeline.rows).toBeLessThanOrEqual(601); // the last I/Os in flight complete just after 600 s
  });
});

describe('fio-shaped JSON', () => {
  it('has jobs[].read|write with io_bytes, bw, iops and clat_ns percentiles', () => {
    const { result } = runQos(model([job({ rw: 'randread', iodepth: 4, runtimeNs: 1 * S, timeBased: true })]));
    const j = result.fio.jobs[0]!;
    expect(j.jobname).toBe('j');
    expect(j.read.total_ios).toBe(4000);
    expect(j.read.io_bytes).toBe(4000 * 4096);
    expect(j.read.iops).toBeCloseTo(4000, 0);
    expect(j.read.bw).toBe(Math.round((4000 * 4096) / 1024));
    expect(Object.keys(j.read.clat_ns.percentile!)).toEqual(FIO_PERCENTILES.map(fioPercentileKey));
    expect(j.read.clat_ns.percentile!['99.000000']).toBe(MS);
    expect(j.read.clat_ns).toMatchObject({ min: MS, max: MS, mean: MS, N: 4000 });
    expect(j.write.total_ios).toBe(0);
    const rows = result.timelines.jobs['j']!;
    expect(rows.reduce((a, r) => a + r.reads, 0)).toBe(4000); // the last 4 complete at exactly 1 s: the second row
    expect(rows[0]!.iops).toBe(3996);
  });
});
