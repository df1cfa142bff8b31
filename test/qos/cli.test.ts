/**
 * `vfab qos run|test` as a user meets them (`node bin/run.js …`; npm test builds dist first).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'vfab-qos-'));
const vfab = (...args: string[]) => spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8' });

describe('vfab qos test', () => {
  it('passes the burst example (exit 0)', () => {
    const r = vfab('qos', 'test', 'topologies/qos-burst.qos.yaml');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/topologies\/qos-burst\.qos\.yaml: all 6 expectations hold/);
    expect(r.stdout).toMatch(/PASS\s+burst: vm1\.vda iops >= 1800 for >= 12s\s+iops\s+13s \(longest stretch of iops >= 1800 from /);
  });

  it('passes the noisy-neighbour example with limits, and fails it without (exit 1 with a table)', () => {
    expect(vfab('qos', 'test', 'topologies/qos-noisy-neighbor.qos.yaml').status).toBe(0);
    const r = vfab('qos', 'test', 'topologies/qos-noisy-neighbor-unlimited.qos.yaml');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/expectations failed:\n\nexpected\s+metric\s+measured\n/);
    expect(r.stdout).toMatch(/vm1\.vda: p99 <= 5ms\s+p99\s+\d+(\.\d+)?ms/);
  });

  it('exits 1 with a readable table of expected vs measured when an expectation is flipped', () => {
    copyFileSync('topologies/qos-burst.yaml', join(dir, 'qos-burst.yaml'));
    const text = readFileSync('topologies/qos-burst.qos.yaml', 'utf8').replace('"vm1.vda: iops <= 520 over [20s, 60s]"', '"vm1.vda: iops <= 400 over [20s, 60s]"');
    const f = join(dir, 'flipped.qos.yaml');
    writeFileSync(f, text);
    const r = vfab('qos', 'test', f);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`${f}: 1 of 6 expectations failed:`);
    expect(r.stdout).toMatch(/\nexpected\s+metric\s+measured\n-+\s+-+\s+-+\nvm1\.vda: iops <= 400 over \[20s, 60s\]\s+iops\s+500\n/);
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

  it('is deterministic: two runs print byte-identical JSON', () => {
    const a = vfab('qos', 'run', 'topologies/qos-noisy-neighbor.qos.yaml', '--json');
    const b = vfab('qos', 'run', 'topologies/qos-noisy-neighbor.qos.yaml', '--json');
    expect(a.status).toBe(0);
    expect(a.stdout.length).toBeGreaterThan(1000);
    expect(b.stdout).toBe(a.stdout);
  });

  it('rejects an interval under 1 ms with the flag named', () => {
    const r = vfab('qos', 'run', 'topologies/qos-burst.qos.yaml', '--interval', '100us');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^--interval: interval must be at least 1ms/);
  });
});

describe('vfab qos run with data: true (real I/O on a qcow2 image from the block layer)', () => {
  it('writes every request\'s bytes into the image while timing stays virtual', async () => {
    const { createImage } = await import('../../src/block/api.js');
    const { Chain } = await import('../../src/block/chain.js');
    const { FileProvider } = await import('../../src/block/file-backend.adapter.js');
    const img = join(dir, 'data.qcow2');
    createImage(img, { size: 64 * 2 ** 20 });
    const f = join(dir, 'data.qos.yaml');
    writeFileSync(f, ['data: true', 'disks:', '  vda: { image: data.qcow2, policy: { iops-total: 1000 } }', 'jobs:', '  fill: { disk: vda, rw: write, bs: 64k, iodepth: 4, size: 4M }', ''].join('\n'));
    const r = vfab('qos', 'run', f, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { data_bytes: number; simulated_ns: number; disks: Record<string, { ios: number }> };
    expect(j.disks['vda']!.ios).toBe(64);
    expect(j.data_bytes).toBe(4 * 2 ** 20);
    expect(j.simulated_ns).toBe(0); // 64 ios within the 100 ms burst allowance (100 + 1 ops)
    const c = Chain.open(new FileProvider(), img, { readOnly: true });
    const buf = new Uint8Array(4 * 2 ** 20);
    c.read(0, buf);
    c.close();
    expect(buf.every((b) => b === 0x5a)).toBe(true);
    if (requireTool('qemu-io', 'qemu-io reads the bytes vfab wrote')) {
      // QEMU reads the same bytes back from the image vfab wrote
      const q = spawnSync('qemu-io', ['-r', '-f', 'qcow2', '-c', 'read -P 0x5a 0 4M', img], { encoding: 'utf8' });
      expect(q.stdout).toMatch(/read 4194304\/4194304 bytes at offset 0/);
      expect(q.stdout + q.stderr).not.toMatch(/Pattern verification failed/);
    }
  });
});
