import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkImage, commitImage, createImage, imageInfo, openImage, rebaseImage, snapshotImage } from '../../src/block/api.js';
import { MemoryBackend } from '../../src/block/backend.js';
import { Chain, MemoryProvider, resolveBackingPath } from '../../src/block/chain.js';
import { formatMapHuman } from '../../src/block/map-format.js';
import { Qcow2Image } from '../../src/block/qcow2/image.js';
import { UserError } from '../../src/errors.js';

const MiB = 1 << 20;

function mem(): MemoryProvider {
  return new MemoryProvider();
}

function fill(n: number, v: number): Uint8Array {
  return new Uint8Array(n).fill(v);
}

function readBytes(c: Chain, off: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  c.read(off, b);
  return b;
}

function errCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('qcow2 images', () => {
  it('creates a v3 header laid out like qemu-img (golden bytes)', () => {
    const p = mem();
    createImage('a', { size: 1 << 30 }, p);
    const b = (p.backends.get('a') as MemoryBackend).snapshotBytes();
    const hex = Buffer.from(b.subarray(0, 112)).toString('hex');
    expect(hex).toBe(
      '514649fb' + '00000003' + '0000000000000000' + '00000000' + '00000010' + '0000000040000000' + '00000000' + '00000002' +
        '0000000000030000' + '0000000000010000' + '00000001' + '00000000' + '0000000000000000' +
        '0000000000000000' + '0000000000000000' + '0000000000000000' + '00000004' + '00000070' + '0000000000000000',
    );
    // Refcount table entry 0 → block at cluster 2, refcounts of clusters 0..3 are 1.
    expect(Buffer.from(b.subarray(65536, 65544)).toString('hex')).toBe('0000000000020000');
    expect(Buffer.from(b.subarray(131072, 131080)).toString('hex')).toBe('0001000100010001');
  });

  it('reads zeros from a fresh thin image and writes only what it must', () => {
    const p = mem();
    createImage('a', { size: 64 * MiB }, p);
    const c = openImage('a', {}, p);
    expect(readBytes(c, 5 * MiB, 4096).every((x) => x === 0)).toBe(true);
    const before = (p.backends.get('a') as MemoryBackend).writes;
    c.write(3 * MiB + 512, fill(512, 7));
    // refcount entry + L2 table + L1 entry + refcount entry + data + L2 entry: no zero padding writes.
    expect((p.backends.get('a') as MemoryBackend).writes - before).toBeLessThanOrEqual(6);
    expect(readBytes(c, 3 * MiB, 1536)).toEqual(new Uint8Array([...fill(512, 0), ...fill(512, 7), ...fill(512, 0)]));
    c.close();
    expect(checkImage('a', {}, p).corruptions).toBe(0);
  });

  it('accepts every cluster size from 512 B to 2 MiB and refuses others naming the option', () => {
    for (let bits = 9; bits <= 21; bits++) {
      const p = mem();
      createImage('a', { size: 8 * MiB, clusterSize: 2 ** bits }, p);
      const c = openImage('a', {}, p);
      c.write(MiB - 100, fill(5000, 0x5a));
      expect(readBytes(c, MiB - 100, 5000).every((x) => x === 0x5a)).toBe(true);
      c.close();
      const r = checkImage('a', {}, p);
      expect(r.corruptions + r.leaks).toBe(0);
    }
    expect(errCode(() => createImage('b', { size: MiB, clusterSize: 4 * MiB }, mem()))).toBe('QCOW2_BAD_OPTION');
    expect(errCode(() => createImage('b', { size: MiB, clusterSize: 3000 }, mem()))).toBe('QCOW2_BAD_OPTION');
  });

  it('grows the refcount table when small clusters fill it', () => {
    const p = mem();
    createImage('a', { size: 64 * MiB, clusterSize: 512, refcountBits: 64 }, p);
    const c = openImage('a', {}, p);
    for (let i = 0; i < 3000; i++) c.write(i * 16384, fill(512, i & 0xff));
    for (let i = 0; i < 3000; i += 97) expect(readBytes(c, i * 16384, 512)[0]).toBe(i & 0xff);
    c.close();
    const r = checkImage('a', {}, p);
    expect(r.messages).toEqual([]);
    const top = openImage('a', { readOnly: true }, p).top;
    if (!(top instanceof Qcow2Image)) throw new Error('expected a qcow2 top layer');
    expect(top.header.refcountTableClusters).toBeGreaterThan(1);
  });

  it('copies the rest of a cluster from the backing image on the first write (COW)', () => {
    const p = mem();
    createImage('base', { size: 4 * MiB }, p);
    const b = openImage('base', {}, p);
    b.write(0, fill(65536, 0xab));
    b.close();
    createImage('top', { backingFile: 'base', backingFormat: 'qcow2' }, p);
    const t = openImage('top', {}, p);
    expect(t.virtualSize).toBe(4 * MiB);
    t.write(4096, fill(512, 0x22));
    const got = readBytes(t, 0, 65536);
    expect(got.subarray(0, 4096).every((x) => x === 0xab)).toBe(true);
    expect(got.subarray(4096, 4608).every((x) => x === 0x22)).toBe(true);
    expect(got.subarray(4608).every((x) => x === 0xab)).toBe(true);
    // The base is untouched.
    t.close();
    const b2 = openImage('base', { readOnly: true }, p);
    expect(readBytes(b2, 4096, 512).every((x) => x === 0xab)).toBe(true);
    b2.close();
  });

  it('resolves reads at the top of a 40-deep chain with one index lookup per granule', () => {
    const p = mem();
    createImage('l0', { size: 8 * MiB }, p);
    const base = openImage('l0', {}, p);
    base.write(0, fill(8 * MiB, 0x42));
    base.close();
    for (let i = 1; i <= 40; i++) createImage(`l${i}`, { backingFile: `l${i - 1}`, backingFormat: 'qcow2' }, p);
    const top = openImage('l40', { readOnly: true }, p);
    expect(top.layers.length).toBe(41);
    const buf = new Uint8Array(4096);
    for (let k = 0; k < 2; k++) for (let off = 0; off < 8 * MiB; off += 65536) top.read(off, buf);
    expect(buf.every((x) => x === 0x42)).toBe(true);
    // 128 granules: the first pass misses once each, the second pass hits only.
    expect(top.lookups).toBe(256);
    expect(top.misses).toBe(128);
    const map = top.allocationMap();
    expect(map).toEqual([{ start: 0, length: 8 * MiB, depth: 40, present: true, zero: false, data: true, offset: map[0]!.offset, file: 'memory:l0' }]);
    top.close();
  });

  it('refuses backing loops and chains deeper than the limit', () => {
    const p = mem();
    createImage('a', { size: MiB }, p);
    createImage('b', { size: MiB, backingFile: 'a', backingFormat: 'qcow2' }, p);
    rebaseImage('a', 'b', { unsafe: true, backingFormat: 'qcow2' }, p);
    expect(errCode(() => openImage('b', { readOnly: true }, p))).toBe('BLOCK_CHAIN_LOOP');
    const q = mem();
    createImage('l0', { size: MiB }, q);
    for (let i = 1; i <= 256; i++) {
      createImage(`l${i}`, { size: MiB }, q);
      rebaseImage(`l${i}`, `l${i - 1}`, { unsafe: true, backingFormat: 'qcow2' }, q);
    }
    expect(errCode(() => openImage('l256', { readOnly: true }, q))).toBe('BLOCK_CHAIN_TOO_DEEP');
    expect(openImage('l255', { readOnly: true }, q).layers.length).toBe(256);
  });

  it('discards whole clusters to zero clusters and leaves partial ones alone, like QEMU', () => {
    const p = mem();
    createImage('a', { size: 4 * MiB }, p);
    const c = openImage('a', {}, p);
    c.write(0, fill(4 * 65536, 9));
    c.discard(1000, 2 * 65536);
    const got = readBytes(c, 0, 4 * 65536);
    expect(got.subarray(0, 65536).every((x) => x === 9)).toBe(true);
    expect(got.subarray(65536, 131072).every((x) => x === 0)).toBe(true);
    expect(got.subarray(131072).every((x) => x === 9)).toBe(true);
    c.writeZeroes(100, 3 * 65536);
    expect(readBytes(c, 0, 4 * 65536).subarray(100, 100 + 3 * 65536).every((x) => x === 0)).toBe(true);
    expect(readBytes(c, 0, 100).every((x) => x === 9)).toBe(true);
    c.close();
    const r = checkImage('a', {}, p);
    expect(r.corruptions + r.leaks).toBe(0);
  });

  it('keeps a tree of internal snapshots one can switch between', () => {
    const p = mem();
    createImage('a', { size: 2 * MiB }, p);
    const w = (v: number): void => {
      const c = openImage('a', {}, p);
      c.write(65536, fill(4096, v));
      c.close();
    };
    const r = (): number => {
      const c = openImage('a', { readOnly: true }, p);
      const v = readBytes(c, 65536, 4096)[0]!;
      c.close();
      return v;
    };
    w(1);
    snapshotImage('a', { create: 's1' }, p);
    w(2);
    snapshotImage('a', { create: 's2' }, p);
    snapshotImage('a', { apply: 's1' }, p);
    expect(r()).toBe(1);
    w(3); // a branch off s1
    snapshotImage('a', { apply: 's2' }, p);
    expect(r()).toBe(2);
    snapshotImage('a', { apply: '1' }, p); // by id
    expect(r()).toBe(1);
    expect(snapshotImage('a', { list: true }, p).map((s) => [s.id, s.name])).toEqual([['1', 's1'], ['2', 's2']]);
    snapshotImage('a', { delete: 's1' }, p);
    expect(r()).toBe(1);
    expect(errCode(() => snapshotImage('a', { create: 's2' }, p))).toBe('QCOW2_SNAPSHOT_EXISTS');
    expect(errCode(() => snapshotImage('a', { apply: 'nope' }, p))).toBe('QCOW2_NO_SNAPSHOT');
    snapshotImage('a', { delete: 's2' }, p);
    const res = checkImage('a', {}, p);
    expect(res.messages).toEqual([]);
  });

  it('commits an overlay into its backing file and empties the overlay', () => {
    const p = mem();
    createImage('base', { size: 2 * MiB }, p);
    createImage('top', { backingFile: 'base', backingFormat: 'qcow2' }, p);
    const t = openImage('top', {}, p);
    t.write(100, fill(70000, 5));
    t.writeZeroes(MiB, 65536);
    t.close();
    commitImage('top', p);
    const b = openImage('base', { readOnly: true }, p);
    expect(readBytes(b, 100, 70000).every((x) => x === 5)).toBe(true);
    b.close();
    const t2 = openImage('top', { readOnly: true }, p);
    expect(t2.allocationMap().every((e) => e.depth === 1)).toBe(true);
    expect(readBytes(t2, 100, 70000).every((x) => x === 5)).toBe(true);
    t2.close();
    expect(checkImage('top', {}, p).messages).toEqual([]);
    expect(checkImage('base', {}, p).messages).toEqual([]);
  });

  it('rebases safely: the guest sees the same bytes after the backing file changes or goes', () => {
    const p = mem();
    createImage('b1', { size: MiB }, p);
    const b1 = openImage('b1', {}, p);
    b1.write(0, fill(MiB, 1));
    b1.close();
    createImage('b2', { size: MiB }, p);
    const b2 = openImage('b2', {}, p);
    b2.write(0, fill(MiB / 2, 1));
    b2.close();
    createImage('top', { backingFile: 'b1', backingFormat: 'qcow2' }, p);
    const r1 = rebaseImage('top', 'b2', { backingFormat: 'qcow2' }, p);
    expect(r1.copiedBytes).toBe(MiB / 2);
    let t = openImage('top', { readOnly: true }, p);
    expect(readBytes(t, 0, MiB).every((x) => x === 1)).toBe(true);
    expect(t.layers.map((l) => l.name)).toEqual(['memory:top', 'memory:b2']);
    t.close();
    rebaseImage('top', undefined, {}, p);
    t = openImage('top', { readOnly: true }, p);
    expect(t.layers.length).toBe(1);
    expect(readBytes(t, 0, MiB).every((x) => x === 1)).toBe(true);
    t.close();
  });

  it('reports unsupported features by bit and bad fields by byte offset', () => {
    const p = mem();
    createImage('a', { size: MiB }, p);
    const bytes = (p.backends.get('a') as MemoryBackend).snapshotBytes();
    const variant = (patch: (dv: DataView) => void): string => {
      const copy = bytes.slice();
      patch(new DataView(copy.buffer));
      const q = mem();
      const be = new MemoryBackend('x');
      be.pwrite(copy, 0);
      q.backends.set('x', be);
      try {
        openImage('x', { readOnly: true }, q);
        return 'opened';
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        return e.message;
      }
    };
    expect(variant((dv) => dv.setUint32(76, 4))).toContain("'data-file' is required for this image");
    // Extended L2 entries are read and written (test/block/extended-l2.test.ts); 64 KiB clusters qualify.
    expect(variant((dv) => dv.setUint32(76, 16))).toBe('opened');
    expect(variant((dv) => dv.setUint32(32, 1))).toContain('crypt_method (byte 32)');
    expect(variant((dv) => dv.setUint32(20, 8))).toContain('cluster_bits (byte 20)');
    expect(variant((dv) => dv.setUint32(4, 4))).toContain('version (byte 4)');
    expect(variant((dv) => dv.setUint32(76, 2))).toBe('opened'); // corrupt bit: read-only is fine
  });

  it('refuses read-write opens of an image marked corrupt', () => {
    const p = mem();
    createImage('a', { size: MiB }, p);
    const be = p.backends.get('a')!;
    be.pwrite(new Uint8Array([0, 0, 0, 2]), 76);
    expect(errCode(() => openImage('a', {}, p))).toBe('QCOW2_CORRUPT');
  });

  it('repairs refcounts of a dirty image on read-write open', () => {
    const p = mem();
    createImage('a', { size: MiB }, p);
    const c = openImage('a', {}, p);
    c.write(0, fill(4096, 3));
    c.close();
    const be = p.backends.get('a')!;
    // Mark dirty and drop the data cluster's refcount (as lazy refcounts would leave it).
    be.pwrite(new Uint8Array([0, 0, 0, 1]), 76);
    be.pwrite(new Uint8Array([0, 0]), 2 * 65536 + 2 * 5);
    expect(checkImage('a', {}, p).corruptions).toBeGreaterThan(0);
    openImage('a', {}, p).close();
    expect(checkImage('a', {}, p).messages).toEqual([]);
    expect(imageInfo('a', {}, p)[0]!['dirty-flag']).toBe(false);
  });

  it('finds leaks and frees them with repair=leaks', () => {
    const p = mem();
    createImage('a', { size: MiB }, p);
    const c = openImage('a', {}, p);
    c.write(0, fill(4096, 3));
    c.close();
    // A refcount past the end of the file is not compared (qemu-img: compare_refcounts stops at
    // the file's end), so this is no leak ...
    p.backends.get('a')!.pwrite(new Uint8Array([0, 1]), 2 * 65536 + 2 * 9);
    expect(checkImage('a', {}, p).leaks).toBe(0);
    // ... until the file reaches past cluster 9.
    p.backends.get('a')!.truncate(12 * 65536);
    const r = checkImage('a', {}, p);
    expect(r.leaks).toBe(1);
    expect(r.messages).toEqual(['Leaked cluster 9 refcount=1 reference=0']);
    expect(checkImage('a', { repair: 'leaks' }, p).leaksFixed).toBe(1);
    expect(checkImage('a', {}, p).leaks).toBe(0);
  });
});

describe('image files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-block-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lets one writer in and tells the second which pid holds the lock', () => {
    const f = join(dir, 'locked.qcow2');
    createImage(f, { size: MiB });
    const w = openImage(f);
    let msg = '';
    try {
      openImage(f);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      msg = e.message;
      expect(e.exitCode).toBe(2);
    }
    expect(msg).toBe(`image is locked for writing by pid ${process.pid}`);
    expect(readFileSync(`${f}.lock`, 'utf8').split(' ')[0]).toBe(String(process.pid));
    w.close();
    expect(existsSync(`${f}.lock`)).toBe(false);
    openImage(f).close();
  });

  it('takes over a stale lock left by a dead process', () => {
    const f = join(dir, 'stale.qcow2');
    createImage(f, { size: MiB });
    writeFileSync(`${f}.lock`, '2147483646\n');
    const w = openImage(f);
    w.write(0, fill(10, 1));
    w.close();
  });

  it('resolves a relative backing file against the overlay folder', () => {
    createImage(join(dir, 'base.qcow2'), { size: MiB });
    createImage(join(dir, 'ov.qcow2'), { backingFile: 'base.qcow2', backingFormat: 'qcow2' });
    const info = imageInfo(join(dir, 'ov.qcow2'), { backingChain: true });
    expect(info.map((i) => i.filename)).toEqual([join(dir, 'ov.qcow2'), join(dir, 'base.qcow2')]);
    expect(info[0]!['full-backing-filename']).toBe(join(dir, 'base.qcow2'));
  });

  it('keeps the file sparse: 1 GiB with one 4 KiB write stays small', () => {
    const f = join(dir, 'sparse.qcow2');
    createImage(f, { size: 1 << 30 });
    const c = openImage(f);
    c.write(512 * MiB, fill(4096, 1));
    c.close();
    expect(imageInfo(f)[0]!['actual-size']).toBeLessThan(1 * MiB);
  });

  it('leaves the copy-on-write regions of a fresh cluster as holes: only the 4 KiB blocks the guest wrote', () => {
    class Recording extends MemoryBackend {
      log: [number, number][] = [];
      override pwrite(data: Uint8Array, offset: number): void {
        this.log.push([offset, data.length]);
        super.pwrite(data, offset);
      }
    }
    const p = mem();
    createImage('base', { size: 64 * MiB }, p);
    const b = openImage('base', {}, p);
    b.write(0, fill(65536, 0xab));
    b.write(2 * MiB, fill(65536, 0xac));
    b.close();
    createImage('top', { backingFile: 'base', backingFormat: 'qcow2' }, p);
    const rec = new Recording('memory:top');
    rec.pwrite((p.backends.get('top') as MemoryBackend).snapshotBytes(), 0);
    p.backends.set('top', rec);
    const c = openImage('top', {}, p);
    // Data and table writes only: refcount updates (a few bytes, or one range per reservation of
    // clusters ahead, issue 10 #5) are metadata of their own.
    const big = (): [number, number][] => rec.log.filter(([, n]) => n >= 512);
    rec.log = [];
    c.write(MiB + 100, fill(512, 0xcd)); // backing reads zero there: one block
    expect(big()).toEqual([
      [4 * 65536, 65536], // the new L2 table
      [5 * 65536, 4096],
    ]);
    rec.log = [];
    c.write(5 * MiB + 65536 - 4096, fill(8192, 0)); // zeros into fresh clusters: nothing at all
    expect(big()).toEqual([]);
    rec.log = [];
    c.write(2 * MiB + 8192, fill(4096, 0xce)); // backing has data: the whole cluster is copied
    expect(big()).toEqual([[8 * 65536, 65536]]);
    expect(readBytes(c, MiB, 1024)).toEqual(new Uint8Array([...fill(100, 0), ...fill(512, 0xcd), ...fill(412, 0)]));
    expect(readBytes(c, 2 * MiB + 4096, 12288)).toEqual(new Uint8Array([...fill(4096, 0xac), ...fill(4096, 0xce), ...fill(4096, 0xac)]));
    c.close();
    expect(checkImage('top', {}, p).corruptions).toBe(0);
  });

  it('maps the holes of a small overlay file as zero:true,data:true, like qemu-img map (issue 4 item 8)', () => {
    const base = join(dir, 'i8-base.qcow2');
    const top = join(dir, 'i8-top.qcow2');
    createImage(base, { size: 1 << 30 });
    const b = openImage(base);
    b.write(0, fill(65536, 0xab));
    b.close();
    createImage(top, { backingFile: 'i8-base.qcow2', backingFormat: 'qcow2' });
    const c = openImage(top);
    c.write(MiB, fill(4096, 0xcd));
    c.close();
    const r = openImage(top, { readOnly: true });
    const map = r.allocationMap();
    r.close();
    expect(map).toEqual([
      { start: 0, length: 65536, depth: 1, present: true, zero: false, data: true, offset: 327680, file: base },
      { start: 65536, length: 983040, depth: 1, present: false, zero: true, data: false },
      { start: MiB, length: 4096, depth: 0, present: true, zero: false, data: true, offset: 327680, file: top },
      { start: MiB + 4096, length: 61440, depth: 0, present: true, zero: true, data: true, offset: 331776, file: top },
      { start: MiB + 65536, length: (1 << 30) - MiB - 65536, depth: 1, present: false, zero: true, data: false },
    ]);
    expect(formatMapHuman(map)).toBe(
      'Offset          Length          Mapped to       File\n' +
        `0               0x10000         0x50000         ${base}\n` +
        `0x100000        0x1000          0x50000         ${top}\n`,
    );
  });

  it('names backing files the way QEMU path_combine does, and still sees loops spelled differently', () => {
    expect(resolveBackingPath('top.qcow2', 'base.qcow2')).toBe('base.qcow2');
    expect(resolveBackingPath('/d/top.qcow2', 'base.qcow2')).toBe('/d/base.qcow2');
    expect(resolveBackingPath('sub/top.qcow2', '../base.qcow2')).toBe('sub/../base.qcow2');
    expect(resolveBackingPath('/d/top.qcow2', '/e/base.qcow2')).toBe('/e/base.qcow2');
    const a = join(dir, 'loop-a.qcow2');
    createImage(a, { size: MiB });
    rebaseImage(a, './loop-a.qcow2', { unsafe: true, backingFormat: 'qcow2' });
    expect(errCode(() => openImage(a, { readOnly: true }))).toBe('BLOCK_CHAIN_LOOP');
  });

  it('maps a sparse raw file as holes (zero:true,data:false) around the blocks written, like qemu-img', () => {
    const f = join(dir, 'sparse.raw');
    createImage(f, { format: 'raw', size: 64 * MiB });
    const c = openImage(f);
    c.write(MiB + 100, fill(10, 9));
    c.writeZeroes(8 * MiB, 1 * MiB); // over holes: nothing written
    c.close();
    const r = openImage(f, { readOnly: true });
    expect(r.allocationMap()).toEqual([
      { start: 0, length: MiB, depth: 0, present: true, zero: true, data: false, offset: 0, file: f },
      { start: MiB, length: 4096, depth: 0, present: true, zero: false, data: true, offset: MiB, file: f },
      { start: MiB + 4096, length: 63 * MiB - 4096, depth: 0, present: true, zero: true, data: false, offset: MiB + 4096, file: f },
    ]);
    r.close();
  });

  it('treats raw files as a format too', () => {
    const f = join(dir, 'disk.raw');
    createImage(f, { format: 'raw', size: MiB });
    const c = openImage(f);
    c.write(1000, fill(10, 4));
    c.close();
    const r = openImage(f, { readOnly: true });
    expect(r.format).toBe('raw');
    expect(readBytes(r, 995, 20)).toEqual(new Uint8Array([0, 0, 0, 0, 0, ...fill(10, 4), 0, 0, 0, 0, 0]));
    r.close();
  });
});
