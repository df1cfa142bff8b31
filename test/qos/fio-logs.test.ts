/**
 * fio's per-I/O logs and json+ bins: the same job file run by fio (null engine) and by vfab gives
 * the same log file names, line counts and columns, and vfab's bins are fio's plat buckets. Also
 * `vfab qos import` / `vfab qos run job.fio` as a user types them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeWithTools } from '../helpers/tools.js';
import { platIndex, platValue } from '../../src/qos/fio-logs.js';

const root = resolve('.');
const JOB = '[j]\nioengine=null\nrw=randrw\nbs=4k\nsize=1m\nnumber_ios=40\nwrite_lat_log=lg\nwrite_iops_log=lg\nwrite_bw_log=lg\n[k]\nioengine=null\nrw=read\nbs=8k\nsize=1m\nnumber_ios=7\nwrite_lat_log=kk\nlog_offset=1\n';

function runIn(dir: string, cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { cwd: dir, encoding: 'utf8' });
}

function logs(dir: string): Record<string, string[][]> {
  const out: Record<string, string[][]> = {};
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.log')).sort()) {
    const text = readFileSync(join(dir, f), 'utf8').trim();
    out[f] = text === '' ? [] : text.split('\n').map((l) => l.split(', '));
  }
  return out;
}

describeWithTools(['fio'], 'fio logs and json+ against fio', () => {
  const fioDir = mkdtempSync(join(tmpdir(), 'vfab-fio-logs-fio-'));
  const ourDir = mkdtempSync(join(tmpdir(), 'vfab-fio-logs-vfab-'));
  writeFileSync(join(fioDir, 'job.fio'), JOB);
  writeFileSync(join(ourDir, 'job.fio'), JOB);
  const fioJson = JSON.parse(runIn(fioDir, 'fio', ['--output-format=json+', 'job.fio'])) as { jobs: Array<{ read: { clat_ns: { bins: Record<string, number> } } }> };
  const ours = JSON.parse(runIn(ourDir, process.execPath, [join(root, 'bin/run.js'), 'qos', 'run', 'job.fio', '--output-format', 'json+'])) as { fio: { jobs: Array<{ read: { clat_ns: { bins: Record<string, number>; N: number } } }> } };

  it('writes the files fio writes, with fio\'s columns, one line per I/O', () => {
    const f = logs(fioDir);
    const o = logs(ourDir);
    expect(Object.keys(o)).toEqual(Object.keys(f));
    for (const name of Object.keys(f)) {
      expect(o[name]!.length, name).toBe(f[name]!.length);
      expect(o[name]!.map((l) => l.length), name).toEqual(f[name]!.map((l) => l.length));
      // block size column; the direction column holds 0/1 as fio's
      expect(o[name]!.map((l) => l[3]), name).toEqual(f[name]!.map((l) => l[3]));
      for (const l of o[name]!) expect(['0', '1']).toContain(l[2]);
    }
    // log_offset=1: the offset column is a multiple of the block size inside the file
    for (const l of o['kk_lat.2.log']!) expect(Number(l[4]) % 8192).toBe(0);
    expect(o['lg_iops.1.log']!.every((l) => l[1] === '1')).toBe(true);
  });

  it('puts clat_ns.bins in fio\'s plat buckets (every fio bin key is a bucket midpoint)', () => {
    for (const k of Object.keys(fioJson.jobs[0]!.read.clat_ns.bins)) expect(platValue(platIndex(Number(k)))).toBe(Number(k));
    const bins = ours.fio.jobs[1]!.read.clat_ns.bins;
    expect(Object.values(bins).reduce((a, b) => a + b, 0)).toBe(7);
    for (const k of Object.keys(bins)) expect(platValue(platIndex(Number(k)))).toBe(Number(k));
  });
});

describe('plat buckets (stat.c plat_val_to_idx / plat_idx_to_val)', () => {
  it('keeps small values exact and the top 7 bits of larger ones', () => {
    expect([platIndex(0), platIndex(127), platValue(127)]).toEqual([0, 127, 127]);
    // fio printed bin 8512 for a clat of 8509 ns (fio 3.33, null engine)
    expect(platValue(platIndex(8509))).toBe(8512);
  });
});

describe('vfab qos import / run job.fio', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-fio-cli-'));
  const vfab = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/run.js'), ...args], { encoding: 'utf8', cwd: dir });

  it('imports a job file to YAML that runs the same (stdout YAML, notes on stderr)', () => {
    writeFileSync(join(dir, 'a.fio'), '[global]\nioengine=libaio\nsize=4m\n[r]\nrw=randread\nruntime=200ms\ntime_based\nrate_iops=500\n');
    const imp = vfab('qos', 'import', 'a.fio');
    expect(imp.status).toBe(0);
    expect(imp.stderr).toMatch(/note: ignored \(no effect on the modelled I\/O\): ioengine \(a\.fio:2\)/);
    writeFileSync(join(dir, 'a.qos.yaml'), imp.stdout);
    const a = JSON.parse(vfab('qos', 'run', 'a.fio', '--json').stdout) as { fio: unknown };
    const b = JSON.parse(vfab('qos', 'run', 'a.qos.yaml', '--json').stdout) as { fio: unknown };
    expect(a.fio).toEqual(b.fio);
  });

  it('passes the example job file\'s rate_min expectations (exit 0) and writes its averaged log', () => {
    const r = vfab('qos', 'test', join(root, 'topologies/qos-fio-phases.fio'));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PASS\s+mixed: min_read_bw >= 1048576 over \[0s, 2s\]\s+min_read_bw/);
    const run = vfab('qos', 'run', join(root, 'topologies/qos-fio-phases.fio'));
    expect(run.stdout).toContain('wrote mixed_lat.2.log');
    // log_avg_msec=500 over a 2 s job: one line per direction per window, bs and offset 0
    const lines = readFileSync(join(dir, 'mixed_lat.2.log'), 'utf8').trim().split('\n');
    expect(lines.map((l) => l.split(', ').slice(0, 1)[0])).toEqual(['500', '500', '1000', '1000', '1500', '1500', '2000', '2000']);
    expect(lines.every((l) => / 0, 0$/.test(l))).toBe(true);
  });

  it('refuses an unsupported option at its line with exit 2', () => {
    writeFileSync(join(dir, 'b.fio'), '[j]\nrw=read\nverify=crc32c\n');
    const r = vfab('qos', 'run', 'b.fio');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/b\.fio:3:1: option 'verify' is not supported/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
