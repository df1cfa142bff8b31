/**
 * `vfab qos run|test` as a user meets them (`node bin/run.js …`; npm test builds dist first).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'vfab-qos-'));
const vfab = (...args: string[]) => spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8' });

describe('vfab qos test', () => {
  it('passes the burst example (exit 0)', () => {
    const r = vfab('qos', 'test', 'topologies/qos-burst.qos.yaml');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/topologies\/qos-burst\.qos\.yaml: all 6 expectations hold/);
    expect(r.stdout).toMatch(/PASS\s+burst: vm1\.vda iops >= 1800 for >= 12s\s+13s \(longest stretch\)/);
  });

  it('passes the noisy-neighbour example with limits, and fails it without (exit 1 with a table)', () => {
    expect(vfab('qos', 'test', 'topologies/qos-noisy-neighbor.qos.yaml').status).toBe(0);
    const r = vfab('qos', 'test', 'topologies/qos-noisy-neighbor-unlimited.qos.yaml');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/expectations failed:\n\nexpected\s+measured\n/);
    expect(r.stdout).toMatch(/vm1\.vda: p99 <= 5ms\s+\d+(\.\d+)?ms/);
  });

  it('exits 1 with a readable table of expected vs measured when an expectation is flipped', () => {
    copyFileSync('topologies/qos-burst.yaml', join(dir, 'qos-burst.yaml'));
    const text = readFileSync('topologies/qos-burst.qos.yaml', 'utf8').replace('"vm1.vda: iops <= 520 over [20s, 60s]"', '"vm1.vda: iops <= 400 over [20s, 60s]"');
    const f = join(dir, 'flipped.qos.yaml');
    writeFileSync(f, text);
    const r = vfab('qos', 'test', f);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`${f}: 1 of 6 expectations failed:`);
    expect(r.stdout).toMatch(/\nexpected\s+measured\n-+\s+-+\nvm1\.vda: iops <= 400 over \[20s, 60s\]\s+500\n/);
    expect(r.stdout).toMatch(/FAIL\s+vm1\.vda: iops <= 400 over \[20s, 60s\]/);
  });

  it('exits 2 with file:line:col for a malformed file, and no stack trace', () => {
    const f = join(dir, 'bad.qos.yaml');
    writeFileSync(f, ['disks:', '  vda: { size: 1GiB, policy: { iops-total: 100, iops-total-max-length: 5 } }', 'jobs:', '  j: { disk: vda }', 'expect:', '  - "vda: iops >= 5 ovr [1s, 2s]"', ''].join('\n'));
    const r = vfab('qos', 'test', f);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([`${f}:2:72: burst length set without burst rate`, `${f}:6:21: unexpected "ovr"`]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints a JSON verdict with fio-shaped jobs', () => {
    const r = vfab('qos', 'test', 'topologies/qos-burst.qos.yaml', '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { passed: boolean; fio: { jobs: Array<{ read: { iops: number; clat_ns: { percentile: Record<string, number> } } }> }; expectations: unknown[] };
    expect(j.passed).toBe(true);
    expect(j.expectations).toHaveLength(6);
    expect(j.fio.jobs[0]!.read.clat_ns.percentile['99.990000']).toBeGreaterThan(0);
  });
});

describe('vfab qos run', () => {
  it('writes SVG charts and a fio-shaped JSON report with per-interval timelines', () => {
    const out = join(dir, 'charts');
    const r = vfab('qos', 'run', 'topologies/qos-burst.qos.yaml', '--json', '--interval', '500ms', '--svg', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { timelines: { interval_ns: number; disks: Record<string, Array<{ iops: number }>> }; disks: Record<string, { throttle: { throttled_ios: number } }> };
    expect(j.timelines.interval_ns).toBe(500_000_000);
    expect(j.timelines.disks['vm1.vda']!.length).toBe(120);
    expect(j.timelines.disks['vm1.vda']![60]!.iops).toBe(500);
    expect(j.disks['vm1.vda']!.throttle.throttled_ios).toBeGreaterThan(0);
    expect(readdirSync(out).sort()).toEqual(['iops.svg', 'latency.svg']);
    expect(readFileSync(join(out, 'iops.svg'), 'utf8')).toContain('vm1.vda iops-total-max 2k');
  });

  it('rejects an interval under 1 ms with the flag named', () => {
    const r = vfab('qos', 'run', 'topologies/qos-burst.qos.yaml', '--interval', '100us');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^--interval: interval must be at least 1ms/);
  });
});
