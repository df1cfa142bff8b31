/**
 * `vfab disk io` against qemu-io 7.2 (issue 17 #2): the same command lists on twin images print
 * the same lines (qemu-io's timing tail "; 00.00 sec (…)" cut, vfab prints none) and leave the
 * same images; -c before or after FILE; -n/-t accepted, a bad cache mode refused; exit codes of
 * pattern mismatches (read fails, aio_read only prints, as qemu-io's callback does).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import DiskIo from '../../src/commands/disk/io.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vfab-qemu-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(tool: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** qemu-io's report line without its timing tail (the only line that differs run to run). */
const normal = (out: string): string => out.replace(/(, \d+ ops); .*$/gm, '$1');

const SCRIPT = [
  'aio_write -P 7 0 4k',
  'aio_flush',
  'aio_read -P 7 0 4k',
  'writev -P 3 8k 1k 2k 512',
  'readv -P 3 8k 1k 2k 512',
  'readv -v 8k 16',
  'read -v 8k 20',
  'write -P 0x41 12k 37',
  'read -v 12k 48',
  'read -q -P 7 0 4k',
  'write -q -P 1 1M 1536',
  'length',
  'info',
  'map',
  'alloc 0 64k',
  'alloc 64k 64k',
  'write -z 192k 64k',
  'discard 1M 64k',
  'map',
];

describeWithTools(['qemu-img', 'qemu-io'], 'vfab disk io against qemu-io 7.2', () => {
  async function twins(name: string, create: string[], script: string[], format?: string): Promise<void> {
    const q = join(dir, `${name}-q`);
    const v = join(dir, `${name}-v`);
    if (format === 'raw') {
      writeFileSync(q, '');
      truncateSync(q, 3 << 20);
    } else {
      const size = create.at(-1)?.endsWith('M') ? [create.at(-1)!] : [];
      expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', ...create.slice(0, create.length - size.length), q, ...size]).code).toBe(0);
    }
    copyFileSync(q, v);
    const fmt = format ? ['-f', format] : [];
    const rq = run('qemu-io', [...fmt, ...script.flatMap((c) => ['-c', c]), q]);
    const rv = await cli(DiskIo, [...fmt, v, ...script.flatMap((c) => ['-c', c])]);
    expect(rv.code, rv.err).toBe(rq.code);
    expect(rv.out).toBe(normal(rq.out));
    expect(run('qemu-img', ['compare', ...(format ? ['-f', format, '-F', format] : []), q, v]).code).toBe(0);
  }

  it('qcow2: aio_*, readv/writev, -v dumps, -q, length, info, map, alloc print what qemu-io prints', async () => {
    await twins('plain', ['3M'], SCRIPT);
  });

  it('qcow2 with extended L2 entries and 32 KiB clusters: the same lines (map at subcluster grain)', async () => {
    await twins('extl2', ['-o', 'extended_l2=on,cluster_size=32k', '3M'], [...SCRIPT, 'write -P 2 70000 100', 'map']);
  });

  it('an overlay: map and alloc see only the top image', async () => {
    const base = join(dir, 'base.qcow2');
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', base, '3M']).code).toBe(0);
    expect(run('qemu-io', ['-c', 'write -P 9 0 3M', base]).code).toBe(0);
    await twins('overlay', ['-b', base, '-F', 'qcow2'], ['write -P 5 128k 4k', 'write -z 192k 64k', 'map', 'alloc 0 1M', 'info', 'read -P 9 1M 4k', 'read -P 5 128k 4k']);
  });

  it('raw: info and map as qemu-io prints them for a raw file', async () => {
    await twins('raw', [], ['write -P 1 0 1536', 'writev -P 2 4k 100 412', 'info', 'length', 'map', 'read -v 4k 32'], 'raw');
  });

  it('a failed pattern check: read exits 1, aio_read prints the mismatch and exits 0, as qemu-io', async () => {
    const f = join(dir, 'pat.qcow2');
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', f, '1M']).code).toBe(0);
    for (const cmd of ['read -P 9 0 4k', 'aio_read -P 9 0 4k', 'readv -P 9 0 1k 1k']) {
      const q = run('qemu-io', ['-c', cmd, f]);
      const v = await cli(DiskIo, ['-c', cmd, f]);
      expect(v.code, cmd).toBe(q.code);
      expect(v.out).toBe(normal(q.out));
    }
  });

  it('-c before FILE, -n and -t writeback accepted; -t bogus refused like qemu-io', async () => {
    const f = join(dir, 'order.qcow2');
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', f, '1M']).code).toBe(0);
    const q = run('qemu-io', ['-n', '-t', 'writeback', '-c', 'write -P 1 0 512', '-c', 'length', f]);
    const v = await cli(DiskIo, ['-n', '-t', 'writeback', '-c', 'write -P 1 0 512', '-c', 'length', f]);
    expect(v.code, v.err).toBe(0);
    expect(v.out).toBe(normal(q.out));
    const qb = run('qemu-io', ['-t', 'bogus', '-c', 'length', f]);
    expect(qb.code).not.toBe(0);
    expect(qb.err).toContain('Invalid cache option: bogus');
    const vb = await cli(DiskIo, ['-t', 'bogus', '-c', 'length', f]);
    expect(vb.code).toBe(2);
    expect(vb.err).toContain('Invalid cache option: bogus');
  });
});

describe('vfab disk io commands (no tools)', () => {
  it('an unknown command names the ones vfab knows', async () => {
    const f = join(dir, 'unknown.qcow2');
    const { createImage } = await import('../../src/block/api.js');
    createImage(f, { size: 1 << 20 });
    const r = await cli(DiskIo, ['-c', 'frobnicate 0 1', f]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('readv, writev, aio_read');
  });
});
