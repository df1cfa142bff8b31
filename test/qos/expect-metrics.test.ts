/**
 * Every expectation metric in every form measures the metric it names (issue 10 #1, issue 17 #5).
 *
 * The oracle is independent of the engine's bookkeeping: every completion (time, disk, direction,
 * bytes, latency) is logged as it happens, and each metric is recomputed by brute force from the
 * log, per window and per timeline interval. Before the fix `burst:` and `max_/min_` read the
 * IOPS timeline whatever the metric (`burst: d write_iops …` compared total IOPS, `burst: d bw …`
 * compared IOPS with a byte rate), so these comparisons failed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadQosText } from '../../src/qos/file.js';
import { QosEngine } from '../../src/qos/engine.js';
import { LogHistogram } from '../../src/qos/histogram.js';
import { runQos } from '../../src/qos/run.js';
import { renderTest } from '../../src/qos/render.js';
import type { Io } from '../../src/qos/io.js';

interface Done {
  t: number;
  disk: string;
  dir: 0 | 1;
  bytes: number;
  lat: number;
}

const INTERVAL = 250_000_000;
const QOS = [
  'seed: 3',
  'interval: 250ms',
  'backends:',
  '  ssd: { parallelism: 4, service: { lognormal: { p50: 300us, p99: 4ms } } }',
  'disks:',
  '  vda: { size: 1GiB, backend: ssd, policy: { iops-total: 300, iops-total-max: 1200, iops-total-max-length: 1 } }',
  '  vdb: { size: 1GiB, backend: ssd, policy: { bps-write: 4MiB } }',
  'jobs:',
  '  mix: { disk: vda, rw: randrw, rwmixread: 70, bs: "4k,16k", iodepth: 8, runtime: 4s, time_based: 1 }',
  '  wr: { disk: vdb, rw: randwrite, bs: 64k, iodepth: 2, runtime: 3s, time_based: 1 }',
].join('\n');

const BASES = ['iops', 'read_iops', 'write_iops', 'bw', 'read_bw', 'write_bw', 'lat_mean', 'lat_max', 'p50', 'p99', 'p99.9'] as const;
type Base = (typeof BASES)[number];
const isLat = (m: Base): boolean => m === 'lat_mean' || m === 'lat_max' || m.startsWith('p');

/** The metric over a set of completions lasting `secs` (undefined: latency of nothing). */
function metricOf(m: Base, xs: Done[], secs: number, hist: () => LogHistogram): number | undefined {
  if (isLat(m) && xs.length === 0) return undefined;
  const sum = (f: (d: Done) => number): number => xs.reduce((a, d) => a + f(d), 0);
  switch (m) {
    case 'iops':
      return xs.length / secs;
    case 'read_iops':
      return xs.filter((d) => d.dir === 0).length / secs;
    case 'write_iops':
      return xs.filter((d) => d.dir === 1).length / secs;
    case 'bw':
      return sum((d) => d.bytes) / secs;
    case 'read_bw':
      return sum((d) => (d.dir === 0 ? d.bytes : 0)) / secs;
    case 'write_bw':
      return sum((d) => (d.dir === 1 ? d.bytes : 0)) / secs;
    case 'lat_mean':
      return sum((d) => d.lat) / xs.length;
    case 'lat_max':
      return Math.max(...xs.map((d) => d.lat));
    default: {
      const h = hist();
      for (const d of xs) h.record(d.lat);
      return h.percentile(Number(m.slice(1)));
    }
  }
}

/** Per-interval values of `m` for the intervals wholly inside [from, min(to, end)). */
function perInterval(log: Done[], m: Base, from: number, to: number, end: number): Array<number | undefined> {
  const stop = Math.min(to, end);
  const out: Array<number | undefined> = [];
  for (let t = Math.ceil(from / INTERVAL) * INTERVAL; t + INTERVAL <= stop; t += INTERVAL) {
    out.push(metricOf(m, log.filter((d) => d.t >= t && d.t < t + INTERVAL), INTERVAL / 1e9, () => new LogHistogram(4)));
  }
  return out;
}

function longest(vals: Array<number | undefined>, holds: (v: number) => boolean): number {
  let best = 0;
  let run = 0;
  for (const v of vals) {
    run = v !== undefined && holds(v) ? run + 1 : 0;
    best = Math.max(best, run);
  }
  return best * INTERVAL;
}

function fmt(m: Base, v: number): string {
  if (isLat(m)) return `${Math.max(1, Math.round(v))}ns`;
  if (m.endsWith('bw')) return `${Math.max(1, Math.round(v))}`;
  return `${Math.round(v * 10) / 10}`;
}

/** Runs the QoS file with `exps`, logging every completion. */
function run(exps: string[]): { log: Done[]; result: ReturnType<typeof runQos>['result'] } {
  const log: Done[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(this) below
  const orig = QosEngine.prototype.ioComplete;
  vi.spyOn(QosEngine.prototype, 'ioComplete').mockImplementation(function (this: QosEngine, io: Io) {
    const now = this.sim.now;
    log.push({ t: now, disk: this.disks[io.disk]!.spec.name, dir: io.dir, bytes: io.bytes, lat: now - io.submitNs });
    orig.call(this, io);
  });
  const text = `${QOS}\nexpect:\n${exps.map((e) => `  - ${JSON.stringify(e)}`).join('\n')}\n`;
  const f = loadQosText(text, 'm.qos.yaml');
  const { result } = runQos(f.model, { expectations: f.expectations.map((e) => e.exp) });
  return { log, result };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('every metric in every expectation form measures that metric', () => {
  const targets: Array<[string, (d: Done) => boolean]> = [
    ['vda', (d) => d.disk === 'vda'],
    ['all', () => true],
    // a job target (issue 17 #4): job "mix" is vda's only job, so the oracle is vda's completions,
    // but the engine measures it through the job's own windows
    ['mix', (d) => d.disk === 'vda'],
  ];
  const windows: Array<[string, number, number]> = [
    ['', 0, Number.POSITIVE_INFINITY],
    [' over [500ms, 3s]', 500e6, 3e9],
  ];

  for (const [target, pick] of targets) {
    for (const [over, from, to] of windows) {
      it(`target ${target}${over || ' (whole run)'}`, () => {
        // pass 1: measure the series, to pick thresholds that split them (non-trivial bursts)
        const probe = run(['iops >= 0']);
        const end = probe.result.simulated_ns;
        const mine = probe.log.filter(pick).filter((d) => d.t >= from && d.t < to);
        const exps: string[] = [];
        const want: Array<{ metric: string; value: number | undefined; pass?: boolean }> = [];
        for (const m of BASES) {
          const secs = (Math.min(to, end) - from) / 1e9;
          // steady form
          exps.push(`${target}: ${m} >= ${isLat(m) ? "0ns" : "0"}${over}`);
          want.push({ metric: m, value: metricOf(m, mine, secs, () => new LogHistogram()) });
          // interval extremes
          const vals = perInterval(mine, m, from, to, end);
          const defined = vals.filter((v): v is number => v !== undefined);
          const z = isLat(m) ? "0ns" : "0";
          exps.push(`${target}: max_${m} >= ${z}${over}`, `${target}: min_${m} >= ${z}${over}`);
          want.push({ metric: `max_${m}`, value: defined.length ? Math.max(...defined) : undefined });
          want.push({ metric: `min_${m}`, value: defined.length ? Math.min(...defined) : undefined });
          // bursts, both directions, at a threshold between the series' values
          const sorted = [...defined].sort((a, b) => a - b);
          const mid = sorted[Math.floor(sorted.length / 2)] ?? 1;
          const thr = Number(fmt(m, mid).replace(/ns$/, ''));
          for (const op of ['>=', '<='] as const) {
            const dur = longest(vals, (v) => (op === '>=' ? v >= thr : v <= thr));
            exps.push(`burst: ${target} ${m} ${op} ${fmt(m, mid)} for >= 1s${over}`);
            want.push({ metric: m, value: dur, pass: dur >= 1e9 });
          }
        }
        const { result } = run(exps);
        expect(result.simulated_ns).toBe(end);
        const got = result.expectations!;
        expect(got).toHaveLength(want.length);
        got.forEach((g, i) => {
          const w = want[i]!;
          const ctx = `${g.text} -> ${g.measured}`;
          expect(g.metric, ctx).toBe(w.metric);
          if (w.value === undefined) expect(g.pass, ctx).toBe(false);
          else expect(g.value, ctx).toBeCloseTo(w.value, 6);
          if (w.pass !== undefined) expect(g.pass, ctx).toBe(w.pass);
        });
        // the bursts are not all trivially 0 or the whole window
        const bursts = got.filter((g) => g.text.startsWith('burst:')).map((g) => g.value);
        expect(new Set(bursts).size).toBeGreaterThan(2);
      });
    }
  }

  it('the report names the metric evaluated', () => {
    const { result } = run(['burst: vda write_iops >= 1 for >= 1s', 'vdb: max_bw <= 1k', 'vda: p99 >= 0ns']);
    const out = renderTest('m.qos.yaml', result);
    expect(out).toMatch(/PASS\s+burst: vda write_iops >= 1 for >= 1s\s+write_iops\s+\S+ \(longest stretch of write_iops >= 1 from /);
    expect(out).toMatch(/FAIL\s+vdb: max_bw <= 1k\s+max_bw\s+\S+/);
    expect(result.expectations!.map((e) => e.metric)).toEqual(['write_iops', 'max_bw', 'p99']);
  });

  it('a job target is labelled as a job, and a name that is both a job and a disk is refused', () => {
    const { result } = run(['mix: write_iops >= 0', 'burst: wr bw >= 1 for >= 1s']);
    expect(result.expectations!.map((e) => e.expected)).toEqual(['job mix: write_iops >= 0', 'job wr: bw >= 1 B/s for >= 1s']);
    const clash = QOS.replace('  wr: { disk: vdb', '  vda: { disk: vdb') + '\nexpect: ["vda: iops >= 1"]';
    expect(() => loadQosText(clash, 'c.qos.yaml')).toThrow(/"vda" is both a job and a disk/);
  });

  it('burst refuses max_/min_ metrics with a column', async () => {
    const { parseExpectation, ExpectParseError } = await import('../../src/qos/expect.js');
    const r = parseExpectation('burst: vda max_iops >= 5 for >= 1s');
    expect(r).toBeInstanceOf(ExpectParseError);
    expect((r as InstanceType<typeof ExpectParseError>).col).toBe(11);
  });
});
