/**
 * Ordinary mistakes and small wrong numbers in `vfab disk` (issue 10 #9, #12, #16, #4's refused
 * snapshot, #6's header rules): each fails on the code before the fix.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import DiskCheck from '../../src/commands/disk/check.js';
import DiskCreate from '../../src/commands/disk/create.js';
import DiskInfo from '../../src/commands/disk/info.js';
import DiskMap from '../../src/commands/disk/map.js';
import { checkImage, createImage, imageInfo, openImage, snapshotImage } from '../../src/block/api.js';
import { UserError } from '../../src/errors.js';
import { requireTool } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';



describe('disk commands: mistakes are exit 2 with the path, numbers match qemu-img', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-disk-hard-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes -o before the file and size, as the docs and qemu-img write it', async () => {
    const r = await cli(DiskCreate, ['-o', 'cluster_size=4k', f('small.qcow2'), '1G']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(imageInfo(f('small.qcow2'))[0]!['cluster-size']).toBe(4096);
    expect(imageInfo(f('small.qcow2'))[0]!['virtual-size']).toBe(1 << 30);
  });

  it('info, map and check of a directory: exit 2 naming the path and the reason', async () => {
    mkdirSync(f('adir'));
    for (const cmd of [DiskInfo, DiskMap, DiskCheck]) {
      const r = await cli(cmd, [f('adir')]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(f('adir'));
      expect(r.err).toContain('Is a directory');
    }
  });

  it('a directory as backing file is a clean exit 2', () => {
    let err: unknown;
    try {
      createImage(f('over.qcow2'), { size: 1 << 20, backingFile: 'adir', backingFormat: 'qcow2' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toContain('Is a directory');
  });

  it('a refused create leaves an existing file as it was', async () => {
    writeFileSync(f('keep.qcow2'), 'precious');
    for (const argv of [
      ['-o', 'cluster_size=3k', f('keep.qcow2'), '1G'],
      ['-f', 'qcow2', f('keep.qcow2'), '100P'],
      ['-b', 'nope.qcow2', '-F', 'qcow2', f('keep.qcow2'), '1G'],
    ]) {
      const r = await cli(DiskCreate, argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(readFileSync(f('keep.qcow2'), 'utf8')).toBe('precious');
    }
    // A locked image is not truncated either.
    createImage(f('busy.qcow2'), { size: 1 << 20 });
    const w = openImage(f('busy.qcow2'));
    const size = statSync(f('busy.qcow2')).size;
    expect((await cli(DiskCreate, [f('busy.qcow2'), '1G'])).code).toBe(2);
    expect(statSync(f('busy.qcow2')).size).toBe(size);
    w.close();
  });

  it('check text: fragmented over allocated clusters, like qemu-img', async () => {
    createImage(f('frag.qcow2'), { size: 8 << 20, clusterSize: 65536 });
    const w = openImage(f('frag.qcow2'));
    // Out of order: clusters 3, 1, 2, 0 land at increasing host offsets.
    for (const c of [3, 1, 2, 0]) w.write(c * 65536, new Uint8Array(65536).fill(c + 1));
    w.close();
    const ours = (await cli(DiskCheck, [f('frag.qcow2')])).out.split('\n').find((l) => l.includes('% allocated'));
    if (requireTool('qemu-img', 'check prints the fragmentation line qemu-img prints')) {
      const theirs = spawnSync('qemu-img', ['check', f('frag.qcow2')], { encoding: 'utf8' }).stdout.split('\n').find((l) => l.includes('% allocated'));
      expect(ours).toBe(theirs);
    }
    // 3.125 prints as 3.12: glibc printf rounds exact ties to even (JS toFixed would say 3.13).
    expect(ours).toBe('4/128 = 3.12% allocated, 50.00% fragmented, 0.00% compressed clusters');
  });

  it('check -U reads an image a writer holds; -U with -r is refused', async () => {
    createImage(f('held.qcow2'), { size: 1 << 20 });
    const w = openImage(f('held.qcow2'));
    const r = await cli(DiskCheck, ['-U', f('held.qcow2')]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('No errors were found on the image.');
    expect((await cli(DiskCheck, ['-U', '-r', 'all', f('held.qcow2')])).code).toBe(2);
    w.close();
  });

  it('a refused snapshot (refcount overflow) leaves the image clean and the dirty bit clear', () => {
    createImage(f('rc2.qcow2'), { size: 1 << 20, refcountBits: 2 }); // refcounts up to 3
    const w = openImage(f('rc2.qcow2'));
    w.write(0, new Uint8Array(4096).fill(1));
    w.close();
    snapshotImage(f('rc2.qcow2'), { create: 'a' });
    snapshotImage(f('rc2.qcow2'), { create: 'b' });
    let code = '';
    try {
      snapshotImage(f('rc2.qcow2'), { create: 'c' });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      code = e.code;
      expect(e.exitCode).toBe(2);
    }
    expect(code).toBe('QCOW2_REFCOUNT_OVERFLOW');
    expect(imageInfo(f('rc2.qcow2'))[0]!['dirty-flag']).toBe(false);
    expect(checkImage(f('rc2.qcow2')).corruptions).toBe(0);
    if (requireTool('qemu-img', 'a refused snapshot leaves an image qemu-img finds clean')) expect(spawnSync('qemu-img', ['check', f('rc2.qcow2')]).status).toBe(0);
  });

  it('refuses incompatible feature bit 3 with compression type zlib, as QEMU does', () => {
    createImage(f('ct.qcow2'), { size: 1 << 20 });
    const b = readFileSync(f('ct.qcow2'));
    b[79] = b[79]! | 8;
    writeFileSync(f('ct.qcow2'), b);
    expect(() => imageInfo(f('ct.qcow2'))).toThrow(/must not be set with compression type zlib/);
    if (requireTool('qemu-img', 'qemu-img refuses the same header')) expect(spawnSync('qemu-img', ['info', f('ct.qcow2')]).status).not.toBe(0);
  });

  it('reads L2 entries pointing past 2^53 as zeros instead of a RangeError', () => {
    createImage(f('huge.qcow2'), { size: 1 << 20, clusterSize: 65536 });
    const w = openImage(f('huge.qcow2'));
    w.write(0, new Uint8Array(4096).fill(1));
    w.close();
    const b = readFileSync(f('huge.qcow2'));
    const l1 = Number(b.readBigUInt64BE(40));
    const l2 = Number(b.readBigUInt64BE(l1) & 0x00fffffffffffe00n);
    b.writeBigUInt64BE((1n << 63n) | (1n << 55n), l2); // data at 2^55
    writeFileSync(f('huge.qcow2'), b);
    const c = openImage(f('huge.qcow2'), { readOnly: true });
    const buf = new Uint8Array(4096).fill(9);
    c.read(0, buf);
    c.allocationMap();
    c.close();
    expect(buf.every((x) => x === 0)).toBe(true);
    const r = checkImage(f('huge.qcow2'));
    expect(r.corruptions).toBeGreaterThan(0);
    expect(r.messages.join('\n')).toContain('exceeding the end of the file');
  });
});
