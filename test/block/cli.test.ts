import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import DiskCheck from '../../src/commands/disk/check.js';
import DiskCreate from '../../src/commands/disk/create.js';
import DiskInfo from '../../src/commands/disk/info.js';
import DiskIo from '../../src/commands/disk/io.js';
import DiskSnapshot from '../../src/commands/disk/snapshot.js';
import { openImage } from '../../src/block/api.js';
import { cli } from '../helpers/cli.js';



describe('vfab disk commands', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-disk-cli-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    process.exitCode = 0;
  });

  it('creates, writes with verified patterns and fails a wrong pattern with exit 1 like qemu-io', async () => {
    expect((await cli(DiskCreate, [f('a.qcow2'), '64M'])).out).toBe(`Formatting '${f('a.qcow2')}', fmt=qcow2 cluster_size=65536 size=67108864\n`);
    const w = await cli(DiskIo, [f('a.qcow2'), '-c', 'write -P 0xab 0 64k', '-c', 'read -P 0xab 0 64k', '-c', 'discard 0 64k', '-c', 'read -P 0 0 64k']);
    expect(w.code).toBe(0);
    expect(w.out.split('\n').filter((l) => /^(read|wrote|discard) /.test(l))).toEqual([
      'wrote 65536/65536 bytes at offset 0',
      'read 65536/65536 bytes at offset 0',
      'discard 65536/65536 bytes at offset 0',
      'read 65536/65536 bytes at offset 0',
    ]);
    const bad = await cli(DiskIo, [f('a.qcow2'), '-c', 'read -P 0x11 0 4k']);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('Pattern verification failed at offset 0, 4096 bytes');
  });

  it('exits 2 with the flag or place at fault on user mistakes', async () => {
    const noF = await cli(DiskCreate, ['-b', f('a.qcow2'), f('b.qcow2')]);
    expect(noF.code).toBe(2);
    expect(noF.err).toContain('-F: Backing file specified without backing format');
    const size = await cli(DiskCreate, [f('c.qcow2'), '12Q']);
    expect(size.code).toBe(2);
    expect(size.err).toContain("SIZE: Invalid size '12Q'");
    const cmd = await cli(DiskIo, [f('a.qcow2'), '-c', 'frobnicate 0 1']);
    expect(cmd.code).toBe(2);
    const locked = openImage(f('a.qcow2'));
    const l = await cli(DiskIo, [f('a.qcow2'), '-c', 'write 0 1']);
    locked.close();
    expect(l.code).toBe(2);
    expect(l.err).toContain(`image is locked for writing by pid ${process.pid}`);
  });

  it('prints info, snapshots and check results in qemu-img shapes', async () => {
    await cli(DiskSnapshot, ['-c', 'before', f('a.qcow2')]);
    const info = JSON.parse((await cli(DiskInfo, ['--json', f('a.qcow2')])).out) as { 'virtual-size': number; snapshots: { name: string }[] };
    expect(info['virtual-size']).toBe(64 << 20);
    expect(info.snapshots.map((s) => s.name)).toEqual(['before']);
    const list = await cli(DiskSnapshot, ['-l', f('a.qcow2')]);
    expect(list.out).toMatch(/^Snapshot list:\nID {8}TAG {15}VM SIZE {16}DATE {5}VM CLOCK {5}ICOUNT\n1 {9}before/);
    const check = await cli(DiskCheck, [f('a.qcow2')]);
    expect(check.code).toBe(0);
    expect(check.out).toContain('No errors were found on the image.');
  });
});
