import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { checkImage, commitImage, createImage, imageInfo, openImage, rebaseImage, snapshotImage } from '../../src/block/api.js';
import type { MapExtent } from '../../src/block/image.js';
import { runIoCommands } from '../../src/block/qemu-io.js';
import { describeWithTools } from '../helpers/tools.js';

const MiB = 1 << 20;

function qemu(tool: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function vfabIo(file: string, cmds: string[]): boolean {
  const c = openImage(file);
  try {
    return !runIoCommands(c, cmds).failed;
  } finally {
    c.close();
  }
}

/** Allocation as both tools see it: merge extents with the same (depth, present, data). */
function allocation(map: Pick<MapExtent, 'start' | 'length' | 'depth' | 'present' | 'data'>[]): string[] {
  const out: { start: number; length: number; key: string }[] = [];
  for (const e of map) {
    const key = `${e.depth}/${e.present}/${e.data}`;
    const prev = out[out.length - 1];
    if (prev && prev.key === key && prev.start + prev.length === e.start) prev.length += e.length;
    else out.push({ start: e.start, length: e.length, key });
  }
  return out.map((e) => `${e.start}+${e.length}:${e.key}`);
}

describeWithTools(['qemu-img', 'qemu-io'], 'interop with qemu-img and qemu-io', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-interop-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('vfab images pass qemu-img check and qemu-img info shows size, backing chain and snapshots', () => {
    createImage(f('base.qcow2'), { size: 1 << 30 });
    createImage(f('mid.qcow2'), { backingFile: 'base.qcow2', backingFormat: 'qcow2', clusterSize: 4096 });
    createImage(f('top.qcow2'), { size: 2 * 1024 ** 3, backingFile: 'mid.qcow2', backingFormat: 'qcow2' });
    expect(vfabIo(f('base.qcow2'), ['write -P 0x11 0 1M', 'write -P 0x12 700M 64k'])).toBe(true);
    expect(vfabIo(f('mid.qcow2'), ['write -P 0x21 512k 8k', 'write -z 700M 4k', 'discard 0 64k'])).toBe(true);
    expect(vfabIo(f('top.qcow2'), ['write -P 0x31 100k 3000', 'write -P 0x32 1500M 64k'])).toBe(true);
    snapshotImage(f('top.qcow2'), { create: 'first' });
    expect(vfabIo(f('top.qcow2'), ['write -P 0x33 100k 100'])).toBe(true);
    snapshotImage(f('top.qcow2'), { create: 'second' });
    for (const n of ['base.qcow2', 'mid.qcow2', 'top.qcow2']) {
      const r = qemu('qemu-img', ['check', f(n)]);
      expect(r.out, n).toContain('No errors were found on the image.');
      expect(r.code).toBe(0);
    }
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--backing-chain', '--output=json', f('top.qcow2')], { encoding: 'utf8' })) as Record<string, unknown>[];
    expect(info.map((i) => i['filename'])).toEqual([f('top.qcow2'), f('mid.qcow2'), f('base.qcow2')]);
    expect(info.map((i) => i['virtual-size'])).toEqual([2 * 1024 ** 3, 1 << 30, 1 << 30]);
    expect(info.map((i) => i['cluster-size'])).toEqual([65536, 4096, 65536]);
    expect(info[0]!['backing-filename']).toBe('mid.qcow2');
    expect(info[0]!['backing-filename-format']).toBe('qcow2');
    expect((info[0]!['snapshots'] as { name: string }[]).map((s) => s.name)).toEqual(['first', 'second']);
    const ours = imageInfo(f('top.qcow2'), { backingChain: true });
    expect(ours.map((i) => [i.filename, i['virtual-size'], i['backing-filename']])).toEqual(info.map((i) => [i['filename'], i['virtual-size'], i['backing-filename']]));
  });

  it('patterns written by vfab read back with qemu-io -c "read -P", and a wrong pattern fails there', () => {
    const top = f('top.qcow2');
    const ok = qemu('qemu-io', ['-r', '-f', 'qcow2', '-c', 'read -P 0 0 64k', '-c', 'read -P 0x11 64k 36k', '-c', 'read -P 0x33 100k 100', '-c', 'read -P 0x31 102500 572', '-c', 'read -P 0x21 512k 8k', '-c', 'read -P 0 700M 4k', '-c', 'read -P 0x12 734007296 61440', '-c', 'read -P 0x32 1500M 64k', '-c', 'read -P 0 1G 1M', top]);
    expect(ok.out).not.toContain('Pattern verification failed');
    expect(ok.code).toBe(0);
    const bad = qemu('qemu-io', ['-r', '-f', 'qcow2', '-c', 'read -P 0x99 0 4k', top]);
    expect(bad.out).toContain('Pattern verification failed');
  });

  it('patterns written by qemu-io read back in vfab (chains, zero clusters, discards)', () => {
    const b = f('q-base.qcow2');
    const t = f('q-top.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', b, '256M']);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=16k', '-b', 'q-base.qcow2', '-F', 'qcow2', t]);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x41 0 2M', '-c', 'write -P 0x42 100M 64k', b]);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x43 1M 5000', '-c', 'write -z 100M 32k', '-c', 'discard 64k 16k', t]);
    const c = openImage(t, { readOnly: true });
    const r = runIoCommands(c, ['read -P 0x41 0 64k', 'read -P 0 64k 16k', 'read -P 0x41 80k 944k', 'read -P 0x43 1M 5000', 'read -P 0x41 1053576 1043576', 'read -P 0 100M 32k', 'read -P 0x42 104890368 32k', 'read -P 0 200M 1M']);
    c.close();
    expect(r.lines.filter((l) => l.startsWith('Pattern'))).toEqual([]);
    expect(r.failed).toBe(false);
  });

  it('qemu-img compare finds a vfab chain identical to the same writes done by qemu-io', () => {
    const writes = ['write -P 0x51 0 300k', 'write -P 0x52 5M 4k', 'write -z 100k 64k', 'write -P 0x53 9000 1000', 'discard 128k 128k', 'write -P 0x54 31M 1M'];
    // vfab: base + overlay; qemu: the same in its own files.
    for (const who of ['v', 'q'] as const) {
      const base = f(`${who}-cmp-base.qcow2`);
      const top = f(`${who}-cmp-top.qcow2`);
      if (who === 'v') {
        createImage(base, { size: 32 * MiB });
        createImage(top, { backingFile: base, backingFormat: 'qcow2' });
        expect(vfabIo(base, writes.slice(0, 3))).toBe(true);
        expect(vfabIo(top, writes.slice(3))).toBe(true);
      } else {
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '32M']);
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', top]);
        execFileSync('qemu-io', ['-f', 'qcow2', ...writes.slice(0, 3).flatMap((w) => ['-c', w]), base]);
        execFileSync('qemu-io', ['-f', 'qcow2', ...writes.slice(3).flatMap((w) => ['-c', w]), top]);
      }
    }
    const r = qemu('qemu-img', ['compare', f('v-cmp-top.qcow2'), f('q-cmp-top.qcow2')]);
    expect(r.out).toContain('Images are identical.');
    expect(r.code).toBe(0);
    // And after vfab commits its overlay, the base alone still matches qemu's chain.
    commitImage(f('v-cmp-top.qcow2'));
    expect(qemu('qemu-img', ['compare', f('v-cmp-base.qcow2'), f('q-cmp-top.qcow2')]).code).toBe(0);
    expect(qemu('qemu-img', ['check', f('v-cmp-base.qcow2')]).code).toBe(0);
    // A real difference is reported.
    expect(vfabIo(f('v-cmp-base.qcow2'), ['write -P 0x99 20M 512'])).toBe(true);
    const d = qemu('qemu-img', ['compare', f('v-cmp-base.qcow2'), f('q-cmp-top.qcow2')]);
    expect(d.code).toBe(1);
    expect(d.out).toContain(`Content mismatch at offset ${20 * MiB}!`);
  });

  it('internal snapshots made by either tool are listed and applied by the other', () => {
    const v = f('snap-v.qcow2');
    createImage(v, { size: 64 * MiB });
    expect(vfabIo(v, ['write -P 0x61 0 128k'])).toBe(true);
    snapshotImage(v, { create: 'vs1' });
    expect(vfabIo(v, ['write -P 0x62 0 64k'])).toBe(true);
    expect(qemu('qemu-img', ['snapshot', '-l', v]).out).toMatch(/1\s+vs1/);
    expect(qemu('qemu-img', ['snapshot', '-a', 'vs1', v]).code).toBe(0);
    expect(qemu('qemu-io', ['-r', '-f', 'qcow2', '-c', 'read -P 0x61 0 128k', v]).code).toBe(0);
    expect(qemu('qemu-img', ['check', v]).code).toBe(0);

    const q = f('snap-q.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', q, '64M']);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x71 0 128k', q]);
    execFileSync('qemu-img', ['snapshot', '-c', 'qs1', q]);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x72 64k 64k', q]);
    execFileSync('qemu-img', ['snapshot', '-c', 'qs2', q]);
    expect(snapshotImage(q, { list: true }).map((s) => s.name)).toEqual(['qs1', 'qs2']);
    snapshotImage(q, { apply: 'qs1' });
    expect(vfabIo(q, ['read -P 0x71 0 128k'])).toBe(true);
    snapshotImage(q, { delete: 'qs2' });
    expect(checkImage(q).messages).toEqual([]);
    const r = qemu('qemu-img', ['check', q]);
    expect(r.out).toContain('No errors were found on the image.');
    expect(qemu('qemu-img', ['snapshot', '-l', q]).out).not.toContain('qs2');
  });

  it('qemu-img map and vfab disk map agree on allocation', () => {
    for (const img of [f('top.qcow2'), f('q-top.qcow2'), f('mid.qcow2')]) {
      const theirs = JSON.parse(execFileSync('qemu-img', ['map', '--output=json', img], { encoding: 'utf8' })) as MapExtent[];
      const c = openImage(img, { readOnly: true });
      const ours = c.allocationMap();
      c.close();
      expect(allocation(ours), img).toEqual(allocation(theirs));
    }
  });

  it('a rebase by vfab keeps the content qemu sees', () => {
    const t = f('q-top.qcow2');
    const before = f('flat-before.qcow2');
    execFileSync('qemu-img', ['convert', '-O', 'qcow2', t, before]);
    rebaseImage(t, undefined);
    expect(qemu('qemu-img', ['compare', t, before]).code).toBe(0);
    expect(qemu('qemu-img', ['check', t]).code).toBe(0);
    expect(qemu('qemu-img', ['info', t]).out).not.toContain('backing file');
  });
});
