/**
 * `--output=json` as qemu-img 7.2 prints it, on the same images made by QEMU and by vfab: map
 * byte for byte (one object per extent per line), info / check / measure as parsed objects
 * (QEMU pretty-prints with its own spacing and key order; the objects must be equal).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import DiskBitmap from '../../src/commands/disk/bitmap.js';
import DiskCheck from '../../src/commands/disk/check.js';
import DiskCreate from '../../src/commands/disk/create.js';
import DiskInfo from '../../src/commands/disk/info.js';
import DiskIo from '../../src/commands/disk/io.js';
import DiskMap from '../../src/commands/disk/map.js';
import DiskMeasure from '../../src/commands/disk/measure.js';
import DiskSnapshot from '../../src/commands/disk/snapshot.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

function qemu(tool: string, args: string[], cwd?: string): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describeWithTools(['qemu-img', 'qemu-io'], '--output=json as qemu-img prints it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-ojson-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    // QEMU's chain: data, a zero cluster, a discard, an internal snapshot and a bitmap on top.
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', f('qb.qcow2'), '8M']);
    qemu('qemu-io', ['-c', 'write -P 1 0 1M', '-c', 'write -z 2M 64k', f('qb.qcow2')]);
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'qb.qcow2', '-F', 'qcow2', f('qt.qcow2')]);
    qemu('qemu-io', ['-c', 'write -P 2 512k 64k', '-c', 'discard 0 64k', '-c', 'write -P 3 7M 4k', f('qt.qcow2')]);
    qemu('qemu-img', ['snapshot', '-c', 's1', f('qt.qcow2')]);
    qemu('qemu-img', ['bitmap', '--add', '-g', '8k', f('qt.qcow2'), 'bm']);
    // vfab's chain: the same kinds of things made by vfab.
    expect((await cli(DiskCreate, ['-f', 'qcow2', '-o', 'cluster_size=4k', f('vb.qcow2'), '8M'])).code).toBe(0);
    await cli(DiskIo, ['-c', 'write -P 1 0 1M', '-c', 'write -z 2M 64k', f('vb.qcow2')]);
    expect((await cli(DiskCreate, ['-f', 'qcow2', '-b', 'vb.qcow2', '-F', 'qcow2', f('vt.qcow2')])).code).toBe(0);
    await cli(DiskIo, ['-c', 'write -P 2 512k 64k', '-c', 'discard 0 64k', '-c', 'write -P 3 7M 4k', f('vt.qcow2')]);
    await cli(DiskSnapshot, ['-c', 's1', f('vt.qcow2')]);
    await cli(DiskBitmap, ['--add', f('vt.qcow2'), 'bm']);
    await cli(DiskIo, ['-c', 'write -P 4 6M 64k', f('vt.qcow2')]);
  });

  const images = ['qb.qcow2', 'qt.qcow2', 'vb.qcow2', 'vt.qcow2'];

  it('map --output=json: the same bytes', async () => {
    for (const img of images) {
      const q = qemu('qemu-img', ['map', '--output=json', f(img)]);
      const v = await cli(DiskMap, ['--output=json', f(img)]);
      expect(v.code, v.err).toBe(0);
      expect(v.out, img).toBe(q.out);
    }
  });

  it('info, check and measure --output=json: the same objects', async () => {
    for (const img of images) {
      for (const chain of [[], ['--backing-chain']]) {
        const q = qemu('qemu-img', ['info', '--output=json', ...chain, f(img)]);
        const v = await cli(DiskInfo, ['--output=json', ...chain, f(img)]);
        expect(JSON.parse(v.out), `${img} ${chain.join(' ')}`).toEqual(JSON.parse(q.out));
      }
      const qc = qemu('qemu-img', ['check', '--output=json', f(img)]);
      const vc = await cli(DiskCheck, ['--output=json', f(img)]);
      expect(vc.code).toBe(qc.code);
      expect(JSON.parse(vc.out), img).toEqual(JSON.parse(qc.out));
      // Known difference (docs/disks.md, measure): a 64 KiB data cluster of which vfab wrote 4 KiB
      // is a file hole for the rest, which QEMU's block status reports as zero and measure then
      // skips at 4 KiB output clusters; vfab counts the whole cluster. Not compared for vt.qcow2.
      for (const o of img === 'vt.qcow2' ? [[]] : [[], ['-o', 'cluster_size=4k']]) {
        const qm = qemu('qemu-img', ['measure', '-O', 'qcow2', '--output=json', ...o, f(img)]);
        const vm = await cli(DiskMeasure, ['-O', 'qcow2', '--output=json', ...o, f(img)]);
        expect(JSON.parse(vm.out), `${img} ${o.join(' ')}`).toEqual(JSON.parse(qm.out));
      }
    }
    // A leak, as check reports it in JSON (a cluster with a refcount and no reference).
    const leaky = f('leaky.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', leaky, '1M']);
    qemu('qemu-io', ['-c', 'write 0 64k', leaky]);
    // Raise the L1 table's refcount from 1 to 2 (16-bit refcounts, first refcount block).
    const raw = spawnSync('python3', [
      '-c',
      "import struct,sys\nf=open(sys.argv[1],'r+b');h=f.read(104)\nl1=struct.unpack('>Q',h[40:48])[0]//65536\nrt=struct.unpack('>Q',h[48:56])[0]\nf.seek(rt);blk=struct.unpack('>Q',f.read(8))[0]\nf.seek(blk+2*l1);f.write(struct.pack('>H',2))",
      leaky,
    ]);
    expect(raw.status).toBe(0);
    const ql = qemu('qemu-img', ['check', '--output=json', leaky]);
    const vl = await cli(DiskCheck, ['--output=json', leaky]);
    expect(vl.code).toBe(ql.code);
    expect(JSON.parse(vl.out)).toEqual(JSON.parse(ql.out));
    expect((JSON.parse(ql.out) as { leaks?: number }).leaks).toBe(1);
  });
});
