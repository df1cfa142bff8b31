/**
 * Extended L2 entries (subclusters, issue 17 #3): the subcluster rules as properties, vfab images
 * against a byte model (caches on and off, with and without a backing file), and against
 * qemu-img/qemu-io 7.2 on twin images: create byte for byte, the same I/O by qemu-io and by vfab
 * gives the same `map --output=json`, `info`, `check` and content; QEMU-made images read by vfab;
 * hostile bitmaps refused with QEMU's words and no write to a read-only image.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import DiskCreate from '../../src/commands/disk/create.js';
import DiskIo from '../../src/commands/disk/io.js';
import DiskMap from '../../src/commands/disk/map.js';
import DiskInfo from '../../src/commands/disk/info.js';
import DiskCheck from '../../src/commands/disk/check.js';
import DiskConvert from '../../src/commands/disk/convert.js';
import { createImage, openImage, snapshotImage } from '../../src/block/api.js';
import {
  SC_INVALID,
  SC_NORMAL,
  SC_UNALLOC_ALLOC,
  SC_UNALLOC_PLAIN,
  SC_ZERO_ALLOC,
  SC_ZERO_PLAIN,
  afterWrite,
  cowRange,
  ctz32,
  rangeMask,
  scType,
  type ExtEntry,
} from '../../src/block/qcow2/subclusters.js';
import { COPIED_HI, EXTL2_STRIDE, bitmapAlloc, bitmapZero, entryOffset, setBitmap, setEntry } from '../../src/block/qcow2/entries.js';
import { UserError } from '../../src/errors.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vfab-extl2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(tool: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const entry = fc.record({ host: fc.constantFrom(0, 5 * 65536), compressed: fc.boolean(), alloc: u32, zero: u32 });

describe('subcluster rules (properties)', () => {
  it('a 128-bit entry written with setEntry/setBitmap decodes to the same host offset, COPIED flag and bitmaps', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 47 - 1 }), fc.boolean(), u32, u32, fc.integer({ min: 0, max: 255 }), (c, copied, alloc, zero, j) => {
        const t = new Uint8Array(256 * EXTL2_STRIDE);
        const dv = new DataView(t.buffer);
        const host = c * 512;
        setEntry(dv, j * 2, host, copied);
        setBitmap(dv, j, alloc, zero);
        expect(entryOffset(dv, j * 2)).toBe(host);
        expect((dv.getUint32(j * EXTL2_STRIDE) & COPIED_HI) !== 0).toBe(copied);
        expect(bitmapAlloc(dv, j)).toBe(alloc);
        expect(bitmapZero(dv, j)).toBe(zero);
        // Neighbouring entries are untouched.
        expect(t.subarray(0, j * EXTL2_STRIDE).every((x) => x === 0)).toBe(true);
        expect(t.subarray((j + 1) * EXTL2_STRIDE).every((x) => x === 0)).toBe(true);
      }),
    );
  });

  it('rangeMask sets exactly bits [first, end); ctz32 is the lowest set bit (32 for 0)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 32 }), (a, b) => {
        const [f, e] = a <= b ? [a, b] : [b, a];
        const m = rangeMask(f, e);
        for (let x = 0; x < 32; x++) expect(Math.floor(m / 2 ** x) % 2 === 1).toBe(x >= f && x < e);
        expect(ctz32(m)).toBe(e > f ? f : 32);
      }),
    );
  });

  it("types follow qcow2.txt: both bits or allocation bits without a host cluster are invalid", () => {
    fc.assert(
      fc.property(entry, fc.integer({ min: 0, max: 31 }), (e: ExtEntry, sc) => {
        const t = scType(e, sc);
        const a = Math.floor(e.alloc / 2 ** sc) % 2 === 1;
        const z = Math.floor(e.zero / 2 ** sc) % 2 === 1;
        if (e.compressed) return;
        if (e.host === 0) {
          if (e.alloc !== 0) expect(t).toBe(SC_INVALID);
          else expect(t).toBe(z ? SC_ZERO_PLAIN : SC_UNALLOC_PLAIN);
        } else if ((e.alloc & e.zero) !== 0) expect(t).toBe(SC_INVALID);
        else expect(t).toBe(z ? SC_ZERO_ALLOC : a ? SC_NORMAL : SC_UNALLOC_ALLOC);
      }),
    );
  });

  it('a write covers its own bytes, stays inside the cluster, and after it the written subclusters are allocated and not zero', () => {
    const valid = entry.filter((e) => e.compressed ? true : e.host === 0 ? e.alloc === 0 : (e.alloc & e.zero) === 0);
    fc.assert(
      fc.property(valid, fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 1, max: 65536 }), fc.boolean(), (e, intra, len0, keep) => {
        const len = Math.min(len0, 65536 - intra);
        const keepOld = keep && !e.compressed && e.host !== 0;
        const [from, to] = cowRange(e, intra, len, 2048, 65536, keepOld);
        expect(from).toBeLessThanOrEqual(intra);
        expect(to).toBeGreaterThanOrEqual(intra + len);
        expect(from).toBeGreaterThanOrEqual(0);
        expect(to).toBeLessThanOrEqual(65536);
        // COW never goes past the subclusters it must fill when the cluster stays.
        if (keepOld) {
          expect(from).toBeGreaterThanOrEqual(Math.floor(intra / 2048) * 2048);
          expect(to).toBeLessThanOrEqual(Math.ceil((intra + len) / 2048) * 2048);
        }
        const after = afterWrite(e, from, to, 2048);
        expect((after.alloc & after.zero) >>> 0).toBe(0);
        for (let sc = Math.floor(intra / 2048); sc <= Math.floor((intra + len - 1) / 2048); sc++) {
          expect(scType({ host: 1, compressed: false, ...after }, sc)).toBe(SC_NORMAL);
        }
        // Every subcluster allocated before stays allocated (its data is copied or kept).
        if (!e.compressed) expect((after.alloc & e.alloc) >>> 0).toBe(e.alloc >>> 0);
      }),
    );
  });
});

type Op = { kind: 'write'; off: number; len: number; pat: number } | { kind: 'zero'; off: number; len: number } | { kind: 'discard'; off: number; len: number };

const SIZE = 1 << 20;
/** Offsets and lengths at 512-byte granularity around subcluster (2 KiB) and cluster (64 KiB) edges. */
const opArb: fc.Arbitrary<Op> = fc
  .tuple(fc.constantFrom('write', 'write', 'write', 'zero', 'discard'), fc.integer({ min: 0, max: SIZE / 512 - 1 }), fc.integer({ min: 1, max: 320 }), fc.integer({ min: 1, max: 255 }))
  .map(([kind, o, l, pat]) => {
    const off = o * 512;
    const len = Math.min(l * 512, SIZE - off);
    return kind === 'write' ? { kind, off, len, pat } : { kind: kind, off, len };
  });

function applyModel(m: Uint8Array, op: Op, cs: number): void {
  if (op.kind === 'write') m.fill(op.pat, op.off, op.off + op.len);
  else if (op.kind === 'zero') m.fill(0, op.off, op.off + op.len);
  else {
    // Discard drops whole clusters only (QEMU too); the rest is left alone.
    const a = Math.ceil(op.off / cs) * cs;
    const b = op.off + op.len >= SIZE ? SIZE : Math.floor((op.off + op.len) / cs) * cs;
    if (b > a) m.fill(0, a, b);
  }
}

function applyImage(img: ReturnType<typeof openImage>, op: Op): void {
  if (op.kind === 'write') img.write(op.off, new Uint8Array(op.len).fill(op.pat));
  else if (op.kind === 'zero') img.writeZeroes(op.off, op.len);
  else img.discard(op.off, op.len);
}

function ioCommand(op: Op): string {
  if (op.kind === 'write') return `write -P ${op.pat} ${op.off} ${op.len}`;
  if (op.kind === 'zero') return `write -z -u ${op.off} ${op.len}`;
  return `discard ${op.off} ${op.len}`;
}

describe('extended L2 images against a byte model', () => {
  let n = 0;
  it('random writes, write-zeroes and discards read back as the model, with caches on and off, with and without a backing file', () => {
    const base = join(dir, 'model-base.qcow2');
    createImage(base, { size: SIZE });
    const b = openImage(base);
    const baseBytes = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i += 4096) baseBytes[i] = (i / 4096) & 0xff || 1;
    b.write(0, baseBytes);
    b.close();
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 14 }), fc.boolean(), (ops, backed) => {
        const f = join(dir, `model-${n++}.qcow2`);
        createImage(f, backed ? { extendedL2: true, backingFile: base, backingFormat: 'qcow2' } : { size: SIZE, extendedL2: true });
        const model = backed ? baseBytes.slice() : new Uint8Array(SIZE);
        const img = openImage(f);
        for (const op of ops) {
          applyImage(img, op);
          applyModel(model, op, 65536);
        }
        const got = new Uint8Array(SIZE);
        img.read(0, got);
        img.close();
        expect(Buffer.from(got).equals(Buffer.from(model))).toBe(true);
        // Caches off (smallest L2 cache, smallest chain index): the same bytes.
        const cold = openImage(f, { readOnly: true, l2CacheBytes: 0, indexEntries: 0 });
        const got2 = new Uint8Array(SIZE);
        cold.read(0, got2);
        cold.close();
        expect(Buffer.from(got2).equals(Buffer.from(model))).toBe(true);
        rmSync(f);
      }),
      { numRuns: 40, seed: 20261207 },
    );
  });

  it('only the written subclusters become allocated: a 512-byte write allocates one 2 KiB subcluster', () => {
    const f = join(dir, 'one-sc.qcow2');
    createImage(f, { size: SIZE, extendedL2: true });
    const img = openImage(f);
    img.write(65536 + 5 * 2048 + 512, new Uint8Array(512).fill(9));
    const map = img.allocationMap().filter((e) => e.data);
    img.close();
    expect(map).toEqual([expect.objectContaining({ start: 65536 + 5 * 2048, length: 2048, present: true })]);
  });

  it('-o extended_l2=on with 8 KiB clusters is refused as qemu-img refuses it; no file is left', async () => {
    const f = join(dir, 'small.qcow2');
    const r = await cli(DiskCreate, ['-f', 'qcow2', '-o', 'cluster_size=8k,extended_l2=on', f, '1M']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Extended L2 entries are only supported with cluster sizes of at least 16384 bytes');
    expect(() => readFileSync(f)).toThrow();
  });
});

describeWithTools(['qemu-img', 'qemu-io'], 'extended L2 entries against qemu-img/qemu-io 7.2', () => {
  for (const cs of ['16k', '64k', '2M']) {
    it(`create -o extended_l2=on,cluster_size=${cs}: the same file as qemu-img, byte for byte, and the same info JSON`, async () => {
      const q = join(dir, `c-q-${cs}.qcow2`);
      const v = join(dir, `c-v-${cs}.qcow2`);
      expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `extended_l2=on,cluster_size=${cs}`, q, '300M']).code).toBe(0);
      const r = await cli(DiskCreate, ['-f', 'qcow2', '-o', `extended_l2=on,cluster_size=${cs}`, v, '300M']);
      expect(r.code, r.err).toBe(0);
      // qemu-img's file ends where the L1 table ends; vfab's is rounded up to whole clusters
      // (zeros, a hole): the same bytes up to QEMU's end, nothing but zeros after it.
      const bv = readFileSync(v);
      const bq = readFileSync(q);
      expect(bv.subarray(0, bq.length).equals(bq)).toBe(true);
      expect(bv.subarray(bq.length).every((x) => x === 0)).toBe(true);
      const iv = await cli(DiskInfo, ['--output=json', v]);
      const iq = JSON.parse(run('qemu-img', ['info', '--output=json', v]).out) as Record<string, unknown>;
      expect(JSON.parse(iv.out)).toEqual(iq);
      expect((iq['format-specific'] as { data: Record<string, unknown> }).data['extended-l2']).toBe(true);
    });
  }

  it('qemu-img refuses 8 KiB clusters with extended_l2 with the same words as vfab', () => {
    const q = run('qemu-img', ['create', '-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=8k', join(dir, 'q8k.qcow2'), '1M']);
    expect(q.code).toBe(1);
    expect(q.err).toContain('Extended L2 entries are only supported with cluster sizes of at least 16384 bytes');
  });

  /** The same qemu-io commands on twin images, by qemu-io and by vfab; maps, info, check and content compared. */
  async function twins(name: string, ops: string[], backing?: string, sameOffsets = true): Promise<void> {
    const q = join(dir, `${name}-q.qcow2`);
    const v = join(dir, `${name}-v.qcow2`);
    const args = backing ? ['-b', backing, '-F', 'qcow2'] : [];
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on', ...args, q, ...(backing ? [] : [String(SIZE)])]).code).toBe(0);
    copyFileSync(q, v);
    const rq = run('qemu-io', [...ops.flatMap((o) => ['-c', o]), q]);
    expect(rq.code, rq.err).toBe(0);
    const rv = await cli(DiskIo, [...ops.flatMap((o) => ['-c', o]), v]);
    expect(rv.code, rv.err).toBe(0);
    expect(run('qemu-img', ['compare', q, v]).code).toBe(0);
    const cv = run('qemu-img', ['check', v]);
    expect(cv.code, cv.out + cv.err).toBe(0);
    expect(cv.out).toContain('No errors were found on the image.');
    const mq = run('qemu-img', ['map', '--output=json', q]).out;
    const mvq = run('qemu-img', ['map', '--output=json', v]).out;
    // Same extents, flags and host offsets. QEMU hands a freed cluster to the next allocation at
    // once; vfab frees at the next flush (docs/disks.md): after a discard, offsets may differ.
    const strip = (m: string): string => m.replace(/, "offset": \d+/g, '');
    if (sameOffsets) expect(mvq).toBe(mq);
    else expect(strip(mvq)).toBe(strip(mq));
    const mv = await cli(DiskMap, ['--output=json', v]);
    expect(mv.out).toBe(mvq);
    const iv = await cli(DiskInfo, ['--output=json', v]);
    expect(JSON.parse(iv.out)).toEqual(JSON.parse(run('qemu-img', ['info', '--output=json', v]).out));
    // vfab's check says what qemu-img's says.
    const vc = await cli(DiskCheck, [v]);
    expect(vc.out).toBe(cv.out);
  }

  it('partial writes, overwrites in place, subcluster write-zeroes and discards: the same image as qemu-io makes', async () => {
    await twins('plain', [
      'write -P 0xaa 4096 2048',
      'write -P 0xbb 5000 100',
      'write -P 0xcc 70000 3000',
      'write -P 0x11 131072 65536',
      'write -z 135168 2048',
      'write -z 133120 1000',
      'write -P 0x22 200000 140000',
      'write -P 0x44 1047552 1024',
      'write -P 0x55 393216 65536',
      'write -z -u 262144 65536',
      'discard 393216 65536',
    ]);
    await twins('plain-reuse', ['write -P 0x11 0 65536', 'write -z -u 0 65536', 'write -P 0x33 393216 512'], undefined, false);
  });

  it('over a backing file: copy-on-write only inside the written subclusters, the rest still reads from the backing file', async () => {
    const base = join(dir, 'tw-base.qcow2');
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', base, String(SIZE)]).code).toBe(0);
    expect(run('qemu-io', ['-c', 'write -P 0x5a 0 1M', base]).code).toBe(0);
    await twins('backed', [
      'write -P 0xaa 4096 100',
      'write -P 0xbb 65536 2048',
      'write -P 0xcc 69632 10',
      'write -z 131072 4096',
      'write -z 200704 100',
      'discard 262144 65536',
      'write -P 0xdd 300000 70000',
    ], base);
  });

  it('random I/O (seeded) on twins: qemu-io and vfab make the same map and content', async () => {
    const runs = fc.sample(fc.array(opArb, { minLength: 2, maxLength: 10 }), { numRuns: 8, seed: 42 });
    let k = 0;
    for (const ops of runs) {
      const frees = ops.findIndex((o) => o.kind !== 'write');
      await twins(`rand${k++}`, ops.map(ioCommand), undefined, frees < 0 || ops.slice(frees).every((o) => o.kind !== 'write'));
    }
  });

  it('convert -O qcow2 -o extended_l2=on: the same map and content as qemu-img convert makes', async () => {
    const src = join(dir, 'cv-src.qcow2');
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', src, String(SIZE)]).code).toBe(0);
    expect(run('qemu-io', ['-c', 'write -P 1 0 3000', '-c', 'write -P 2 70000 200000', '-c', 'write -P 3 1040000 8576', src]).code).toBe(0);
    const q = join(dir, 'cv-q.qcow2');
    const v = join(dir, 'cv-v.qcow2');
    expect(run('qemu-img', ['convert', '-O', 'qcow2', '-o', 'extended_l2=on', src, q]).code).toBe(0);
    const r = await cli(DiskConvert, ['-O', 'qcow2', '-o', 'extended_l2=on', src, v]);
    expect(r.code, r.err).toBe(0);
    expect(run('qemu-img', ['compare', q, v]).code).toBe(0);
    expect(run('qemu-img', ['check', v]).code).toBe(0);
    expect(run('qemu-img', ['map', '--output=json', v]).out).toBe(run('qemu-img', ['map', '--output=json', q]).out);
  });

  it('internal snapshots of an extended L2 image: COW after the snapshot, qemu-img check clean, the snapshot reads its old bytes in QEMU', () => {
    const f = join(dir, 'snap.qcow2');
    createImage(f, { size: SIZE, extendedL2: true });
    let w = openImage(f);
    w.write(4096, new Uint8Array(2048).fill(0x41));
    w.write(65536, new Uint8Array(65536).fill(0x42));
    w.close();
    snapshotImage(f, { create: 's1' });
    w = openImage(f);
    w.write(4096 + 512, new Uint8Array(512).fill(0x43));
    w.write(65536 + 8192, new Uint8Array(100).fill(0x44));
    w.close();
    const c = run('qemu-img', ['check', f]);
    expect(c.code, c.out + c.err).toBe(0);
    const snapRaw = join(dir, 'snap-s1.raw');
    expect(run('qemu-img', ['convert', '-O', 'raw', '-l', 'snapshot.name=s1', f, snapRaw]).code).toBe(0);
    const s1 = readFileSync(snapRaw);
    expect(s1[4096 + 512]).toBe(0x41);
    expect(s1[65536 + 8192]).toBe(0x42);
    const img = openImage(f, { readOnly: true });
    const now = new Uint8Array(SIZE);
    img.read(0, now);
    img.close();
    expect(now[4096 + 512]).toBe(0x43);
    expect(now[4096]).toBe(0x41);
    expect(now[65536 + 8192]).toBe(0x44);
    expect(now[65536 + 8192 + 100]).toBe(0x42);
  });

  it('an image written by qemu-io (backing, zero and unallocated subclusters) reads in vfab as qemu-img converts it', () => {
    const base = join(dir, 'r-base.qcow2');
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', base, String(SIZE)]).code).toBe(0);
    expect(run('qemu-io', ['-c', 'write -P 0x77 0 1M', base]).code).toBe(0);
    const q = join(dir, 'r-top.qcow2');
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=32k', '-b', base, '-F', 'qcow2', q]).code).toBe(0);
    expect(run('qemu-io', ['-c', 'write -P 1 1024 3000', '-c', 'write -z 40960 1024', '-c', 'write -P 2 98304 32768', '-c', 'write -z 100352 4096', q]).code).toBe(0);
    const raw = join(dir, 'r.raw');
    expect(run('qemu-img', ['convert', '-O', 'raw', q, raw]).code).toBe(0);
    const img = openImage(q, { readOnly: true });
    const got = new Uint8Array(SIZE);
    img.read(0, got);
    img.close();
    expect(Buffer.from(got).equals(readFileSync(raw))).toBe(true);
  });
});

describeWithTools(['qemu-img', 'qemu-io'], 'hostile extended L2 images', () => {
  /** An extended L2 image and the file offset of its first L2 table. */
  function image(name: string): { f: string; l2: number } {
    const f = join(dir, `${name}.qcow2`);
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on', f, String(SIZE)]).code).toBe(0);
    expect(run('qemu-io', ['-c', 'write -P 0xaa 4096 2048', '-c', 'write -z 65536 65536', '-c', 'write -P 1 131072 65536', f]).code).toBe(0);
    const b = readFileSync(f);
    const l1 = Number(b.readBigUInt64BE(40));
    return { f, l2: Number(b.readBigUInt64BE(l1) & 0x00fffffffffffe00n) };
  }

  const cases: Array<[string, (b: Buffer, l2: number) => void, string]> = [
    ['allocation and zero bits on the same subcluster', (b, l2) => b.writeUInt32BE(0x4, l2 + 8), 'Allocated cluster has corrupted subcluster allocation bitmap'],
    ['allocation bits on an unallocated cluster', (b, l2) => b.writeUInt32BE(0x10, l2 + 3 * 16 + 12), 'Unallocated cluster has non-zero subcluster allocation map'],
    ['allocation bits on an all-zero cluster', (b, l2) => b.writeUInt32BE(0x1, l2 + 16 + 12), 'Unallocated cluster has non-zero subcluster allocation map'],
  ];
  for (const [what, mutate, qemuWords] of cases) {
    it(`${what}: check says what qemu-img check says; reads fail where QEMU's fail, located; no write to a read-only image`, async () => {
      const { f, l2 } = image(what.replace(/\W+/g, '-'));
      const b = readFileSync(f);
      mutate(b, l2);
      writeFileSync(f, b);
      const before = readFileSync(f);
      const q = run('qemu-img', ['check', f]);
      expect(q.code).toBe(2);
      expect(q.err + q.out).toContain(qemuWords);
      const v = await cli(DiskCheck, [f]);
      expect(v.code).toBe(2);
      // QEMU prints the errors on stderr, vfab all on stdout: the same lines in the same order.
      expect(v.err + v.out).toBe(q.err + q.out);
      expect(() => {
        const img = openImage(f, { readOnly: true });
        try {
          img.read(0, new Uint8Array(SIZE));
        } finally {
          img.close();
        }
      }).toThrow(/Invalid cluster entry found \(L2 offset: 0x[0-9a-f]+, L2 index: 0x[0-9a-f]+; extended L2 entry at byte \d+/);
      const qc = run('qemu-img', ['convert', '-U', '-O', 'raw', f, join(dir, 'h.raw')]);
      expect(qc.code).toBe(1);
      expect(qc.err).toContain('Invalid cluster entry found');
      const m = await cli(DiskMap, ['--output=json', f]);
      expect(m.code).toBe(2);
      expect(m.err).toContain(f);
      expect(readFileSync(f).equals(before)).toBe(true);
    });
  }

  it('a truncated extended L2 image (L2 table cut off): exit 2 naming the file or the bytes QEMU reads, never a stack trace', async () => {
    const { f, l2 } = image('trunc');
    truncateSync(f, l2 + 20);
    const before = readFileSync(f);
    const v = await cli(DiskMap, ['--output=json', f]);
    const q = run('qemu-img', ['map', '--output=json', f]);
    if (v.code !== 0) {
      expect(v.code).toBe(2);
      expect(v.err).toContain(f.split('/').pop()!);
      expect(v.err).not.toMatch(/\n\s+at /);
    } else expect(v.out).toBe(q.out);
    expect(readFileSync(f).equals(before)).toBe(true);
  });

  it('incompatible bit 4 on a 4 KiB-cluster image: refused, located at cluster_bits, as QEMU refuses the subcluster size', async () => {
    const f = join(dir, 'bit4.qcow2');
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', f, '1M']).code).toBe(0);
    const b = readFileSync(f);
    b.writeUInt32BE(b.readUInt32BE(76) | 16, 76);
    writeFileSync(f, b);
    const q = run('qemu-img', ['info', f]);
    expect(q.code).toBe(1);
    expect(q.err).toContain('Unsupported subcluster size');
    const v = await cli(DiskInfo, [f]);
    expect(v.code).toBe(2);
    expect(v.err).toContain('byte 20');
    expect(v.err).toContain('Unsupported subcluster size: 128');
    expect(() => openImage(f, { readOnly: true })).toThrow(UserError);
  });
});
