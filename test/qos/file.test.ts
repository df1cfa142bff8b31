import { describe, expect, it } from 'vitest';
import { loadQosText } from '../../src/qos/file.js';
import { parseExpectation, ExpectParseError } from '../../src/qos/expect.js';
import { UserError, UserErrors } from '../../src/errors.js';
import { runQos } from '../../src/qos/run.js';
import { renderTest } from '../../src/qos/render.js';
import { qosCharts } from '../../src/qos/svg.js';

function errorsOf(text: string, opts: Parameters<typeof loadQosText>[2] = {}): string[] {
  try {
    loadQosText(text, 'p.qos.yaml', opts);
  } catch (e) {
    if (e instanceof UserErrors) return e.errors.map((x) => x.render());
    if (e instanceof UserError) return [e.render()];
    throw e;
  }
  return [];
}

const base = ['disks:', '  vda: { size: 1GiB, policy: { iops-total: 100 } }', 'jobs:', '  j: { disk: vda, rw: randread, runtime: 2s, time_based: 1 }'];

describe('expectations', () => {
  it('parse targets, metrics, units, windows and bursts', () => {
    expect(parseExpectation('vm1.vda: iops >= 450 over [10s, 60s]')).toMatchObject({ target: 'vm1.vda', metric: 'iops', op: '>=', value: 450, fromNs: 10e9, toNs: 60e9 });
    expect(parseExpectation('p99 <= 20ms')).toMatchObject({ target: undefined, metric: 'p99', op: '<=', value: 20e6, fromNs: 0, toNs: Infinity });
    expect(parseExpectation('vm2.vda: iops <= 1.5k')).toMatchObject({ value: 1500 });
    expect(parseExpectation('vm2.vda: bw >= 100MiB/s')).toMatchObject({ metric: 'bw', value: 100 * 2 ** 20 });
    expect(parseExpectation('burst: vm1.vda iops >= 1800 for >= 9s')).toMatchObject({ target: 'vm1.vda', value: 1800, burst: { op: '>=', durationNs: 9e9 } });
    expect(parseExpectation('vm1.vda: p99.9 < 5ms over [1s, end]')).toMatchObject({ metric: 'p99.9', toNs: Infinity, fromNs: 1e9 });
  });

  it.each([
    ['vm1.vda: iosp >= 5', 9, /unknown metric "iosp"/],
    ['vm1.vda: iops => 5', 14, /expected a comparison/],
    ['p99 <= 20', 7, /is not a duration/],
    ['iops >= 5 over [10s 60s]', 20, /expected ","/],
    ['burst: vm1.vda iops >= 1800 during 9s', 28, /expected "for >= DURATION"/],
    ['iops >= 5 over [6s, 2s]', 16, /must end after it starts/],
  ])('report "%s" at column %i', (text, col, msg) => {
    const r = parseExpectation(text);
    expect(r).toBeInstanceOf(ExpectParseError);
    expect((r as ExpectParseError).col).toBe(col);
    expect((r as ExpectParseError).message).toMatch(msg);
  });
});

describe('QoS files', () => {
  it('load standalone disks, groups, backends and jobs', () => {
    const f = loadQosText(
      [
        'seed: 5',
        'backends:',
        '  ssd: { parallelism: 16, service: { lognormal: { p50: 100us, p99: 1ms } }, bandwidth: 1GiB/s }',
        'disks:',
        '  a: { size: 1GiB, backend: ssd }',
        '  b: { size: 1GiB, backend: ssd, policy: { kind: mclock, reservation: 100, weight: 2 } }',
        'groups:',
        '  gold: { members: [a, b], policy: { total_iops_sec: 1000, total_iops_sec_max: 2000, total_iops_sec_max_length: 5 } }',
        'jobs:',
        '  j: { disk: a, rw: randrw, rwmixread: 70, bssplit: 4k/50:64k/50, iodepth: 8, rate_iops: "300,100", runtime: 30, time_based: 1, ramp_time: 2, thinktime: 50 }',
        'expect:',
        '  - "a: iops >= 100"',
      ].join('\n'),
    );
    expect(f.model.seed).toBe(5);
    expect(f.model.backends[0]).toEqual({ name: 'ssd', parallelism: 16, service: { kind: 'lognormal', p50Ns: 100_000, p99Ns: 1_000_000 }, bandwidth: 2 ** 30 });
    expect(f.model.groups[0]!.members).toEqual(['a', 'b']);
    const j = f.model.jobs[0]!;
    expect(j).toMatchObject({ rw: 'randrw', rwmixread: 70, iodepth: 8, rateIops: [300, 100], runtimeNs: 30e9, rampNs: 2e9, thinktimeNs: 50_000, timeBased: true });
    expect(f.expectations).toHaveLength(1);
  });

  it('take VM disks from the topology (vms.<vm>.disks.<name>)', () => {
    const f = loadQosText(['topology: t.yaml', 'disks:', '  vm1.vda: { policy: { iops-total: 50 } }', 'jobs:', '  j: { disk: vm2.vdb, number_ios: 10 }'].join('\n'), 'q.yaml', {
      loadTopology: () => ({ disks: new Map([['vm1.vda', { size: 2 ** 30 }], ['vm2.vdb', { size: 2 ** 31 }]]) }),
    });
    expect(f.model.disks.map((d) => [d.name, d.size, d.policy?.kind])).toEqual([['vm1.vda', 2 ** 30, 'qemu'], ['vm2.vdb', 2 ** 31, undefined]]);
  });

  it('report QEMU\'s validation message at the key at fault', () => {
    const text = ['disks:', '  vda:', '    size: 1GiB', '    policy: { iops-total: 100, iops-total-max: 50 }', 'jobs:', '  j: { disk: vda }'].join('\n');
    expect(errorsOf(text)).toEqual(['p.qos.yaml:4:48: bps_max/iops_max cannot be lower than bps/iops']);
  });

  it('report several mistakes at once, each with file:line:col and a did-you-mean', () => {
    const text = [
      'disks:',
      '  vda: { size: 1GiB, backend: sdd, policy: { iops-totl: 100 } }',
      'backends:',
      '  ssd: { parallelism: 4 }',
      'jobs:',
      '  j: { disk: vdx, rw: randread }',
      '  k: { disk: vda, rw: randred }',
      'expect:',
      '  - "vda: iops >= 5 over [1s 2s]"',
    ].join('\n');
    expect(errorsOf(text)).toEqual([
      'p.qos.yaml:7:23: "rw": expected one of "read", "write", "randread", "randwrite", "rw", "readwrite", "randrw", got "randred"',
    ]);
    const text2 = text.replace('rw: randred', 'rw: randread');
    expect(errorsOf(text2)).toEqual([
      'p.qos.yaml:2:31: no backend "sdd"; did you mean "ssd"?',
      'p.qos.yaml:2:46: unknown throttle limit "iops-totl"; did you mean "iops-total"?',
      'p.qos.yaml:6:14: no disk "vdx"; did you mean "vda"?',
      'p.qos.yaml:9:30: expected "," between the start and end of the window',
    ]);
  });

  it('reject a disk in two throttle groups and group limits on a disk with its own (an mclock group is another layer)', () => {
    const text = [
      'disks:',
      '  a: { size: 1GiB }',
      '  b: { size: 1GiB, policy: { iops-total: 5 } }',
      'groups:',
      '  g1: { members: [a, b], policy: { iops-total: 100 } }',
      '  g2: { members: [a], policy: { iops-total: 7 } }',
      '  g3: { members: [a], policy: { kind: mclock, weight: 1 } }',
      'jobs:',
      '  j: { disk: a }',
    ].join('\n');
    expect(errorsOf(text)).toEqual([
      'p.qos.yaml:5:22: disk "b" has its own throttle limits; a disk in a group takes the group\'s limits',
      'p.qos.yaml:6:19: disk "a" is already in group "g1" (QEMU puts a disk in one throttle group)',
      'p.qos.yaml:7:18: the members of an mclock group must share one declared backend (mClock schedules that backend\'s queue)',
    ]);
  });

  it('group disks that name the same libvirt group_name (one set of limits, shared)', () => {
    const text = [
      'disks:',
      '  a: { size: 1GiB, policy: { total_iops_sec: 100, group_name: gold } }',
      '  b: { size: 1GiB, policy: { total_iops_sec: 100, group_name: gold } }',
      '  c: { size: 1GiB, policy: { iops: 100, group: silver } }',
      'jobs:',
      '  j: { disk: a }',
    ].join('\n');
    const f = loadQosText(text);
    expect(f.model.groups.map((g) => [g.name, g.members])).toEqual([['gold', ['a', 'b']], ['silver', ['c']]]);
    expect(f.model.disks.every((d) => d.policy === undefined)).toBe(true);
    expect(errorsOf(text.replace('total_iops_sec: 100, group_name: gold } }\n  c', 'total_iops_sec: 200, group_name: gold } }\n  c'))).toEqual([
      'p.qos.yaml:3:28: disk "b" gives group "gold" other limits than disk "a" (QEMU keeps one set of limits per group)',
    ]);
  });

  it('accept a throttle group as an expectation target (its members together)', () => {
    const text = [
      'disks:',
      '  a: { size: 1GiB }',
      '  b: { size: 1GiB }',
      'groups:',
      '  gold: { members: [a, b], policy: { iops-total: 200 } }',
      'jobs:',
      '  ja: { disk: a, rw: randread, iodepth: 8, runtime: 5s, time_based: 1 }',
      '  jb: { disk: b, rw: randread, iodepth: 8, runtime: 5s, time_based: 1 }',
      'expect:',
      '  - "gold: iops >= 199 over [1s, 5s]"',
      '  - "gold: iops <= 201 over [1s, 5s]"',
      '  - "a: iops >= 99 over [1s, 5s]"',
      '  - "burst: gold iops >= 195 for >= 4s"',
      '  - "glod: iops >= 1"',
    ].join('\n');
    expect(errorsOf(text)).toEqual(['p.qos.yaml:14:5: expectation names no disk, group or job "glod"; did you mean "gold"?']);
    const f = loadQosText(text.split('\n').slice(0, -1).join('\n'), 'p.qos.yaml');
    const { result } = runQos(f.model, { expectations: f.expectations.map((e) => e.exp) });
    expect(result.expectations!.map((e) => [e.pass, e.measured])).toEqual([[true, '200'], [true, '200'], [true, '100'], [true, '5s (longest stretch of iops >= 195 from 0ns to 5s)']]);
    expect(result.expectations![0]!.expected).toBe('group gold: iops >= 199 over [1s, 5s]');
  });

  it('reject a job whose offset or block size does not fit its disk', () => {
    const text = ['disks:', '  vda: { size: 1M }', 'jobs:', '  j: { disk: vda, offset: 2M }', '  k: { disk: vda, bs: 4M }'].join('\n');
    expect(errorsOf(text)).toEqual([
      'p.qos.yaml:4:27: offset 2097152 is not inside disk "vda" (1048576 bytes)',
      'p.qos.yaml:5:23: a block is larger than the region of disk "vda" it can address',
    ]);
  });

  it('check firecracker and io.max policies', () => {
    const fcText = [...base.slice(0, 1), '  vda: { size: 1GiB, policy: { kind: firecracker, ops: { size: 100, refill_time: 0 } } }', ...base.slice(2)].join('\n');
    expect(errorsOf(fcText)).toEqual(['p.qos.yaml:2:82: "refill_time" must be a whole number of milliseconds > 0']);
    const io = [...base.slice(0, 1), '  vda: { size: 1GiB, policy: { kind: io.max, line: "8:0 wiops=fast" } }', ...base.slice(2)].join('\n');
    expect(errorsOf(io)[0]).toMatch(/^p\.qos\.yaml:2:52: "wiops=fast" is not an io.max setting/);
    const ok = loadQosText([...base.slice(0, 1), '  vda: { size: 1GiB, policy: { kind: io.max, line: "8:0 wiops=120 rbps=max" } }', ...base.slice(2)].join('\n'));
    expect(ok.model.disks[0]!.policy).toEqual({ kind: 'io.max', limits: { rbps: 0, wbps: 0, riops: 0, wiops: 120 } });
  });
});

describe('a QoS test run end to end (library)', () => {
  const text = [...base, 'expect:', '  - "vda: iops >= 95 over [1s, 2s]"', '  - "vda: iops <= 105 over [1s, 2s]"', '  - "vda: p99 <= 11ms"'].join('\n');

  it('measures each expectation and gives a verdict with a readable failure table', () => {
    const f = loadQosText(text, 'p.qos.yaml');
    const { result, engine } = runQos(f.model, { expectations: f.expectations.map((e) => e.exp) });
    expect(result.expectations!.map((e) => e.pass)).toEqual([true, true, true]);
    expect(result.passed).toBe(true);
    // flip one expectation: the disk is limited to 100 IOPS, so it cannot stay under 50
    const g = loadQosText(text.replace('iops <= 105', 'iops <= 50'), 'p.qos.yaml');
    const r2 = runQos(g.model, { expectations: g.expectations.map((e) => e.exp) }).result;
    expect(r2.passed).toBe(false);
    const out = renderTest('p.qos.yaml', r2);
    expect(out).toContain('p.qos.yaml: 1 of 3 expectations failed:');
    expect(out).toMatch(/expected\s+metric\s+measured\n-+\s+-+\s+-+\nvda: iops <= 50 over \[1s, 2s\]\s+iops\s+100\n/);
    // charts: well-formed SVG with the limit line and one series per disk
    const charts = qosCharts(engine);
    expect(Object.keys(charts).sort()).toEqual(['iops.svg', 'latency.svg']);
    const svg = charts['iops.svg']!;
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('vda iops-total 100');
    expect(svg.match(/class="series"/g)).toHaveLength(1);
    expect(svg.match(/class="limit"/g)).toHaveLength(1);
    // tags balance (a cheap well-formedness check)
    const opens = (svg.match(/<(?!\/|\?|!)[a-z]+[^>]*[^/]>/g) ?? []).length;
    const closes = (svg.match(/<\/[a-z]+>/g) ?? []).length;
    expect(opens).toBe(closes);
  });
});
