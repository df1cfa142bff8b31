/**
 * A qcow2 file with a huge sparse tail (issue 10 #6; hostile mutant "tail.1TiB"): check, map and
 * repair must cost O(metadata), not O(file size). The assertions are on results and on how much
 * the repair writes (st_blocks), never on wall-clock time; qemu-img check is the oracle.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { checkImage, createImage, openImage } from '../../src/block/api.js';
import { describeWithTools } from '../helpers/tools.js';

const TiB = 2 ** 40;

describeWithTools(['qemu-img'], 'sparse 1 TiB tail', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-tail-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const make = (name: string, clusterSize: number): string => {
    const f = join(dir, name);
    createImage(f, { format: 'qcow2', size: 64 << 20, clusterSize });
    const c = openImage(f);
    c.write(8192, new Uint8Array(50_000).fill(6));
    c.close();
    truncateSync(f, TiB);
    return f;
  };
  const qemuCheck = (f: string): { status: number | null; out: string } => {
    const q = spawnSync('qemu-img', ['check', '-f', 'qcow2', f], { encoding: 'utf8' });
    return { status: q.status, out: q.stdout + q.stderr };
  };

  it('4 KiB clusters: check agrees with qemu-img, map lists the data, repair of a leak writes no refcount blocks for the hole', () => {
    const f = make('small-clusters.qcow2', 4096);
    const q = qemuCheck(f);
    expect(q.status).toBe(0);
    const r = checkImage(f);
    expect([r.corruptions, r.leaks, r.checkErrors]).toEqual([0, 0, 0]);
    const c = openImage(f, { readOnly: true });
    const map = c.allocationMap();
    c.close();
    expect(map.some((e) => e.data)).toBe(true);
    // Damage the refcount structure (refcount table entry 0 -> 0: every cluster's stored refcount
    // reads 0) so `-r all` rebuilds it past the 1 TiB end. The rebuilt structure describes only
    // what is referenced: a 1 MiB table and a few blocks, not 512 MiB of zero blocks for the hole.
    const h = Buffer.alloc(64);
    const fd = openSync(f, 'r+');
    readSync(fd, h, 0, 64, 0);
    writeSync(fd, Buffer.alloc(8), 0, 8, Number(h.readBigUInt64BE(48)));
    closeSync(fd);
    expect(checkImage(f).corruptions).toBeGreaterThan(0);
    const before = statSync(f).blocks * 512;
    const fixed = checkImage(f, { repair: 'all' });
    expect(fixed.corruptions).toBe(0);
    expect(fixed.corruptionsFixed).toBeGreaterThan(0);
    expect(statSync(f).blocks * 512 - before).toBeLessThan(4 << 20);
    expect(qemuCheck(f).status).toBe(0);
    const back = openImage(f, { readOnly: true });
    const data = new Uint8Array(50_000);
    back.read(8192, data);
    back.close();
    expect(data.every((b) => b === 6)).toBe(true);
  });

  it('512-byte clusters: more than INT_MAX clusters is a check error ("File too large"), as in qemu-img (exit 1)', () => {
    const f = make('tiny-clusters.qcow2', 512);
    const q = qemuCheck(f);
    expect(q.status).toBe(1);
    expect(q.out).toMatch(/File too large/);
    const r = checkImage(f);
    expect(r.checkErrors).toBe(1);
    expect(r.messages.join('\n')).toMatch(/File too large/);
    expect(r.corruptions).toBe(0);
  });
});
