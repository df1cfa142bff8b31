/**
 * `disk create -b BACKING -F fmt -o preallocation=metadata|falloc|full,extended_l2=on` against
 * `qemu-img create` 7.2: the same file length, `map`/`info` JSON, `check` output and the same bytes
 * (QEMU is deterministic here: its header cluster carries the feature-name table for these cluster
 * sizes), over qcow2 and raw backing files, with and without SIZE, and with a size that is not a
 * multiple of 512 (both round it up). Without extended_l2 both refuse, and nothing is created.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import DiskCreate from '../../src/commands/disk/create.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

function qemu(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describeWithTools(['qemu-img', 'qemu-io'], 'disk create -b -F -o preallocation vs qemu-img create', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-bprealloc-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(() => {
    expect(qemu(['create', '-q', '-f', 'qcow2', f('b.qcow2'), '1M']).code).toBe(0);
    expect(spawnSync('qemu-io', ['-c', 'write -P 0x33 0 1M', f('b.qcow2')]).status).toBe(0);
    // 1000 bytes: qemu-img rounds the raw file up to 1024, the overlay's default size follows.
    expect(qemu(['create', '-q', '-f', 'raw', f('rb.raw'), '1000']).code).toBe(0);
    expect(spawnSync('qemu-io', ['-f', 'raw', '-c', 'write -P 0x44 0 1000', f('rb.raw')]).status).toBe(0);
  });

  const info = (n: string): Record<string, unknown> => {
    const j = JSON.parse(qemu(['info', '--output=json', f(n)]).out) as Record<string, unknown>;
    delete j['actual-size']; // depends on the file system
    delete j['filename'];
    return j;
  };

  async function compare(backing: string, fmt: string, o: string, size: string | undefined): Promise<void> {
    const what = `-b ${backing} -o ${o} ${size ?? '(backing size)'}`;
    rmSync(f('q.qcow2'), { force: true });
    rmSync(f('v.qcow2'), { force: true });
    const tail = size === undefined ? [] : [size];
    const q = qemu(['create', '-q', '-f', 'qcow2', '-b', backing, '-F', fmt, '-o', o, f('q.qcow2'), ...tail]);
    expect(q.code, `${what}: ${q.err}`).toBe(0);
    const v = await cli(DiskCreate, ['-q', '-f', 'qcow2', '-b', backing, '-F', fmt, '-o', o, f('v.qcow2'), ...tail]);
    expect(v.code, `${what}: ${v.err}`).toBe(0);
    expect(statSync(f('v.qcow2')).size, `${what}: file length`).toBe(statSync(f('q.qcow2')).size);
    const map = (n: string): string => qemu(['map', '--output=json', f(n)]).out;
    expect(map('v.qcow2'), `${what}: map`).toBe(map('q.qcow2'));
    const check = (n: string): string => qemu(['check', f(n)]).out;
    expect(check('v.qcow2'), `${what}: check`).toBe(check('q.qcow2'));
    expect(info('v.qcow2'), `${what}: info`).toEqual(info('q.qcow2'));
    expect(readFileSync(f('v.qcow2')).equals(readFileSync(f('q.qcow2'))), `${what}: bytes`).toBe(true);
    // The guest sees the backing file's data through the preallocated (zero-bitmap) clusters.
    expect(qemu(['compare', f('v.qcow2'), f('q.qcow2')]).code, `${what}: compare`).toBe(0);
  }

  it('metadata, falloc and full over a qcow2 backing file: identical images', async () => {
    for (const mode of ['metadata', 'falloc', 'full']) {
      for (const cs of [16384, 65536, 2 << 20]) {
        for (const size of ['2M', '3000000', undefined]) {
          await compare('b.qcow2', 'qcow2', `preallocation=${mode},cluster_size=${cs},extended_l2=on`, size);
        }
      }
    }
  }, 240_000);

  it('metadata, falloc and full over a raw backing file of 1000 bytes: identical images', async () => {
    for (const mode of ['metadata', 'falloc', 'full']) {
      for (const size of ['2M', '3000000', undefined]) {
        await compare('rb.raw', 'raw', `preallocation=${mode},cluster_size=16384,extended_l2=on`, size);
      }
    }
  }, 120_000);

  it('a size that is not a multiple of 512 is rounded up as qemu-img rounds it (no backing file)', async () => {
    for (const o of ['preallocation=off', 'preallocation=metadata', 'preallocation=metadata,extended_l2=on']) {
      rmSync(f('q.qcow2'), { force: true });
      rmSync(f('v.qcow2'), { force: true });
      expect(qemu(['create', '-q', '-f', 'qcow2', '-o', o, f('q.qcow2'), '3000001']).code).toBe(0);
      const v = await cli(DiskCreate, ['-q', '-f', 'qcow2', '-o', o, f('v.qcow2'), '3000001']);
      expect(v.code, v.err).toBe(0);
      expect(info('v.qcow2'), o).toEqual(info('q.qcow2'));
      expect(info('v.qcow2')['virtual-size']).toBe(3000320);
      expect(qemu(['map', '--output=json', f('v.qcow2')]).out, o).toBe(qemu(['map', '--output=json', f('q.qcow2')]).out);
    }
  });

  it('preallocation over a backing file without extended_l2: both refuse with the same words, nothing created', async () => {
    for (const mode of ['metadata', 'falloc', 'full']) {
      const q = qemu(['create', '-q', '-f', 'qcow2', '-b', f('b.qcow2'), '-F', 'qcow2', '-o', `preallocation=${mode}`, f('qn.qcow2'), '2M']);
      const v = await cli(DiskCreate, ['-q', '-f', 'qcow2', '-b', f('b.qcow2'), '-F', 'qcow2', '-o', `preallocation=${mode}`, f('vn.qcow2'), '2M']);
      expect(q.code).toBe(1);
      expect(v.code).toBe(2); // a UserError: vfab's exit code for refused input
      expect(v.err).toContain('Backing file and preallocation can only be used at the same time if extended_l2 is on');
      expect(v.err).toContain(f('vn.qcow2'));
      expect(v.err).not.toMatch(/\n\s+at /);
      expect(existsSync(f('vn.qcow2'))).toBe(false);
    }
  });
});
