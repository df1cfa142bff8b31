/**
 * Compressed clusters (issue 17 #3): descriptors and deflate as QEMU writes them (property tests),
 * images compressed by `qemu-img convert -c` read by vfab, `vfab disk convert -c` images read by
 * QEMU (compare, check, map), guest writes over compressed clusters (COW, refcounts freed) made
 * by vfab and by qemu-io on copies of the same image, and hostile compressed descriptors.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import DiskConvert from '../../src/commands/disk/convert.js';
import DiskMap from '../../src/commands/disk/map.js';
import DiskIo from '../../src/commands/disk/io.js';
import { openImage } from '../../src/block/api.js';
import { compressCluster, decompressCluster, encodeCompressed, parseCompressed } from '../../src/block/qcow2/compressed.js';
import { UserError } from '../../src/errors.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vfab-compressed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(tool: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** A source image with data, a zero-written cluster, a partial cluster and a non-compressible cluster. */
function source(name: string, clusterSize: number, size = 4 << 20): string {
  const f = join(dir, name);
  expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `cluster_size=${clusterSize}`, f, String(size)]).code).toBe(0);
  const noise = join(dir, `${name}.noise`);
  // Incompressible bytes from a fixed LCG (deterministic).
  const b = Buffer.alloc(Math.min(3 * clusterSize, size - (3 << 20) - 8192));
  let x = 12345;
  for (let i = 0; i < b.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  writeFileSync(noise, b);
  const io = run('qemu-io', [
    '-c', 'write -P 0x11 0 200k',
    '-c', 'write -z 1M 64k',
    '-c', 'write -P 0 1536k 64k',
    '-c', `write -P 0x22 ${size - 4096} 4096`,
    '-c', 'write -P 0x5a 2M 3000',
    f,
  ]);
  expect(io.code, io.err).toBe(0);
  // Incompressible clusters (written uncompressed by both converters).
  const img = openImage(f);
  img.write(3 << 20, new Uint8Array(b));
  img.close();
  return f;
}

describe('compressed descriptors and deflate (properties)', () => {
  it('encode/parse round-trip for every cluster size and offset/size the descriptor can hold', () => {
    fc.assert(
      fc.property(fc.integer({ min: 9, max: 21 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 2 ** 21 - 1 }), (cb, coff, size0) => {
        const cs = 2 ** cb;
        const size = 1 + (size0 % (cs - 1));
        const [hi, lo] = encodeCompressed(coff, size, cb);
        expect(hi & 0x80000000).toBe(0);
        expect(hi & 0x40000000).not.toBe(0);
        const d = parseCompressed(hi, lo, cb);
        expect(d.coff).toBe(coff);
        // The sectors cover [coff, coff+size) and no more than the sector rounding.
        expect(d.coff + d.csize).toBeGreaterThanOrEqual(coff + size);
        expect(d.coff + d.csize - (coff + size)).toBeLessThan(512);
        expect((d.coff + d.csize) % 512).toBe(0);
      }),
    );
  });

  it('compress then decompress gives the cluster back; incompressible data is refused as QEMU does', () => {
    fc.assert(
      fc.property(fc.constantFrom(512, 4096, 65536), fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.integer({ min: 1, max: 50 }), (cs, seed, reps) => {
        const data = new Uint8Array(cs);
        for (let i = 0; i < cs; i++) data[i] = seed.length ? seed[(i * reps) % seed.length]! : 0;
        const c = compressCluster(data, cs);
        if (c === undefined) return;
        expect(c.length).toBeLessThanOrEqual(cs - 1);
        expect(Buffer.from(decompressCluster(c, cs, 'x')).equals(Buffer.from(data))).toBe(true);
      }),
    );
  });

  it('arbitrary bytes as compressed data: a cluster or a UserError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (raw) => {
        try {
          expect(decompressCluster(raw, 4096, 'x').length).toBe(4096);
        } catch (e) {
          expect(e).toBeInstanceOf(UserError);
        }
      }),
    );
  });
});

describeWithTools(['qemu-img', 'qemu-io'], 'compressed clusters against qemu-img 7.2', () => {
  for (const cs of [512, 4096, 65536, 2 << 20]) {
    it(`cluster_size ${cs}: qemu-img convert -c images read by vfab; vfab convert -c images read by QEMU`, async () => {
      const size = cs === 2 << 20 ? 8 << 20 : 4 << 20;
      const src = source(`src-${cs}.qcow2`, cs, size);
      const q = join(dir, `q-${cs}.qcow2`);
      const v = join(dir, `v-${cs}.qcow2`);
      expect(run('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', `cluster_size=${cs}`, src, q]).code).toBe(0);
      const r = await cli(DiskConvert, ['-c', '-O', 'qcow2', '-o', `cluster_size=${cs}`, src, v]);
      expect(r.code, r.err).toBe(0);
      // vfab reads QEMU's compressed image: its guest bytes are the source's.
      const a = openImage(q, { readOnly: true });
      const b = openImage(src, { readOnly: true });
      const ba = new Uint8Array(size);
      const bb = new Uint8Array(size);
      a.read(0, ba);
      b.read(0, bb);
      a.close();
      b.close();
      expect(Buffer.from(ba).equals(Buffer.from(bb))).toBe(true);
      // QEMU reads vfab's: identical content, clean check with the same counts, same map.
      expect(run('qemu-img', ['compare', src, v]).code).toBe(0);
      const cq = run('qemu-img', ['check', q]);
      const cv = run('qemu-img', ['check', v]);
      expect(cv.code, cv.out + cv.err).toBe(0);
      expect(cv.out.split('\n').filter((l) => !l.startsWith('Image end offset'))).toEqual(cq.out.split('\n').filter((l) => !l.startsWith('Image end offset')));
      expect(cv.out).toMatch(/compressed clusters/);
      const mq = run('qemu-img', ['map', '--output=json', q]).out;
      expect(run('qemu-img', ['map', '--output=json', v]).out).toBe(mq);
      // vfab's map of QEMU's image is qemu-img's, byte for byte; the human form fails as QEMU's does.
      const vm = await cli(DiskMap, ['--output', 'json', q]);
      expect(vm.out).toBe(mq);
      const hq = run('qemu-img', ['map', q]);
      const hv = await cli(DiskMap, [q]);
      expect(hv.code).toBe(hq.code);
      expect(hv.out).toBe(hq.out);
      expect(hv.err).toBe(hq.err);
    });
  }

  it('guest writes, write-zeroes and discards over compressed clusters: same content as qemu-io, refcounts freed (check clean)', async () => {
    const src = source('w-src.qcow2', 65536);
    const base = join(dir, 'w-base.qcow2');
    expect(run('qemu-img', ['convert', '-c', '-O', 'qcow2', src, base]).code).toBe(0);
    const ops = ['write -P 0x33 4k 4k', 'write -P 0x44 64k 64k', 'write -z 128k 8k', 'discard 2M 64k', 'write -P 0x55 4190208 4096', 'write -P 0x66 3M 100'];
    const viaQemu = join(dir, 'w-q.qcow2');
    const viaVfab = join(dir, 'w-v.qcow2');
    copyFileSync(base, viaQemu);
    copyFileSync(base, viaVfab);
    expect(run('qemu-io', ops.flatMap((o) => ['-c', o]).concat([viaQemu])).code).toBe(0);
    const r = await cli(DiskIo, [...ops.flatMap((o) => ['-c', o]), viaVfab]);
    expect(r.code, r.err).toBe(0);
    expect(run('qemu-img', ['compare', viaQemu, viaVfab]).code).toBe(0);
    const c = run('qemu-img', ['check', '--output=json', viaVfab]);
    expect(c.code, c.out).toBe(0);
    const j = JSON.parse(c.out) as { 'leaks'?: number; 'allocated-clusters': number; 'compressed-clusters'?: number };
    expect(j.leaks ?? 0).toBe(0);
    const jq = JSON.parse(run('qemu-img', ['check', '--output=json', viaQemu]).out) as typeof j;
    expect(j['allocated-clusters']).toBe(jq['allocated-clusters']);
    expect(j['compressed-clusters']).toBe(jq['compressed-clusters']);
    // Every compressed cluster overwritten: nothing compressed left, no leaked bytes.
    const all = join(dir, 'w-all.qcow2');
    copyFileSync(base, all);
    const w = openImage(all);
    w.write(0, new Uint8Array(4 << 20).fill(7));
    w.close();
    const ca = JSON.parse(run('qemu-img', ['check', '--output=json', all]).out) as typeof j;
    expect(ca.leaks ?? 0).toBe(0);
    expect(ca['compressed-clusters'] ?? 0).toBe(0);
  });

  it('a zstd image (qemu-img create -o compression_type=zstd) is refused naming the compression type, exit 2', async () => {
    const z = join(dir, 'zstd.qcow2');
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compression_type=zstd', z, '1M']).code).toBe(0);
    expect(run('qemu-img', ['info', z]).out).toContain('compression type: zstd');
    const before = readFileSync(z);
    const r = await cli(DiskMap, ['--output', 'json', z]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('compression type zstd');
    expect(r.err).toContain('byte 104');
    expect(() => openImage(z)).toThrow(UserError);
    expect(readFileSync(z).equals(before)).toBe(true);
  });

  it('convert -c to raw is refused as qemu-img refuses it', async () => {
    const src = source('raw-src.qcow2', 65536);
    const q = run('qemu-img', ['convert', '-c', '-O', 'raw', src, join(dir, 'x.raw')]);
    expect(q.code).not.toBe(0);
    const r = await cli(DiskConvert, ['-c', '-O', 'raw', src, join(dir, 'y.raw')]);
    expect(r.code).toBe(2);
    expect(q.err).toContain('Compression not supported for this file format');
    expect(r.err).toContain('Compression not supported for this file format');
  });
});

describeWithTools(['qemu-img'], 'hostile compressed descriptors', () => {
  /** A qemu-img convert -c image and the file offset of its first L2 entry. */
  function compressedImage(name: string): { f: string; l2: number } {
    const src = source(`${name}-src.qcow2`, 65536);
    const f = join(dir, `${name}.qcow2`);
    expect(run('qemu-img', ['convert', '-c', '-O', 'qcow2', src, f]).code).toBe(0);
    const b = readFileSync(f);
    const l1 = Number(b.readBigUInt64BE(40));
    const l2 = Number(b.readBigUInt64BE(l1) & 0x00fffffffffffe00n);
    expect(b.readUInt32BE(l2) & 0x40000000).not.toBe(0);
    return { f, l2 };
  }

  const cases: Array<[string, (b: Buffer, l2: number) => void]> = [
    ['offset past the end of the file', (b, l2) => b.writeUInt32BE(((b.readUInt32BE(l2) & ~0x3fffff) | 0x3fffff) >>> 0, l2)],
    ['offset inside the header cluster', (b, l2) => b.writeUInt32BE(16, l2 + 4) /* hi keeps bit 62 */],
    ['garbage instead of deflate data', (b, l2) => {
      const coff = Number(b.readBigUInt64BE(l2) & ((1n << 54n) - 1n));
      b.fill(0xff, coff, coff + 64);
    }],
    ['copied flag on a compressed entry', (b, l2) => b.writeUInt32BE((b.readUInt32BE(l2) | 0x80000000) >>> 0, l2)],
    ['sector count too small for the stream', (b, l2) => b.writeUInt32BE((b.readUInt32BE(l2) & ~(0xff << 22)) >>> 0, l2)],
  ];
  for (const [what, mutate] of cases) {
    it(`${what}: a located UserError (or QEMU's content), no write to a read-only image`, () => {
      const { f, l2 } = compressedImage(what.replace(/\W+/g, '-'));
      const b = readFileSync(f);
      mutate(b, l2);
      writeFileSync(f, b);
      const before = readFileSync(f);
      let vfab: string;
      try {
        const img = openImage(f, { readOnly: true });
        try {
          const buf = new Uint8Array(64 << 10);
          img.read(0, buf);
          vfab = Buffer.from(buf).toString('hex');
        } finally {
          img.close();
        }
      } catch (e) {
        expect(e).toBeInstanceOf(UserError);
        expect(e instanceof Error ? e.message : '').toMatch(/byte \d+|offset \d+/);
        vfab = 'error';
      }
      expect(readFileSync(f).equals(before)).toBe(true);
      // QEMU: a read error (exit 1) exactly where vfab reports one; otherwise the same bytes.
      const out = join(dir, `${what.replace(/\W+/g, '-')}.raw`);
      const q = run('qemu-img', ['convert', '-O', 'raw', '--image-opts', `driver=qcow2,file.filename=${f}`, out]);
      if (vfab === 'error') expect(q.code, q.err).not.toBe(0);
      else {
        expect(q.code, q.err).toBe(0);
        expect(readFileSync(out).subarray(0, 64 << 10).toString('hex')).toBe(vfab);
      }
    });
  }
});
