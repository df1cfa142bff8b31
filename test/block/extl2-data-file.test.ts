/**
 * Extended L2 entries together with an external data file (issue 17 #3: `-o
 * extended_l2=on,data_file=…[,data_file_raw=on]`): vfab against a byte model (fast-check, memory
 * backends), and against qemu-img/qemu-io 7.2 on twin images. Each tool works in its own directory
 * with the same file names (QEMU opens the data file relative to the current directory), so the
 * metadata files can be compared byte for byte; also compared: `map --output=json` (vfab's and
 * QEMU's on each file), `info` and `check` (human and JSON), `qemu-img compare`, the raw data
 * file when data_file_raw=on; preallocation modes, resize, convert into such an image, and QEMU's
 * refusals (internal snapshots, compressed writes).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createImage, openImage } from '../../src/block/api.js';
import { MemoryProvider } from '../../src/block/chain.js';
import { describeWithTools } from '../helpers/tools.js';

const ROOT = join(import.meta.dirname, '..', '..');
const top = mkdtempSync(join(tmpdir(), 'vfab-extl2df-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));
// The oracle tests block in spawnSync for seconds: let the worker answer vitest's RPC in between.
beforeEach(() => new Promise<void>((r) => setTimeout(r, 20)));

function run(tool: string, args: string[], cwd: string): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8', cwd });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
const vfab = (args: string[], cwd: string) => run(process.execPath, [join(ROOT, 'bin/run.js'), ...args], cwd);

// ---- model --------------------------------------------------------------------------------------

type Op = { k: 'w' | 'z' | 'zu' | 'd'; off: number; len: number; b: number };
const SIZE = 1024 * 1024 - 3 * 512; // not a multiple of the subcluster or cluster size
const op: fc.Arbitrary<Op> = fc
  .record({ k: fc.constantFrom<Op['k']>('w', 'w', 'w', 'z', 'zu', 'd'), off: fc.integer({ min: 0, max: SIZE - 1 }), len: fc.integer({ min: 1, max: 160 * 1024 }), b: fc.integer({ min: 1, max: 255 }) })
  .map((o) => ({ ...o, off: o.off & ~511, len: Math.max(512, Math.min(o.len & ~511, SIZE - (o.off & ~511))) }));

/** Expected guest bytes: discard zeroes whole clusters only (the tail cluster when the range reaches the end). */
function model(ops: Op[], cs: number, base?: Uint8Array): Uint8Array {
  const m = base ? base.slice() : new Uint8Array(SIZE);
  for (const o of ops) {
    if (o.k === 'w') m.fill(o.b, o.off, o.off + o.len);
    else if (o.k !== 'd') m.fill(0, o.off, o.off + o.len);
    else {
      const first = Math.ceil(o.off / cs) * cs;
      const end = o.off + o.len >= SIZE ? SIZE : Math.floor((o.off + o.len) / cs) * cs;
      if (end > first) m.fill(0, first, end);
    }
  }
  return m;
}

function apply(img: ReturnType<typeof openImage>, ops: Op[]): void {
  for (const o of ops) {
    if (o.k === 'w') img.write(o.off, new Uint8Array(o.len).fill(o.b));
    else if (o.k === 'z' || o.k === 'zu') img.writeZeroes(o.off, o.len, { unmap: o.k === 'zu' });
    else img.discard(o.off, o.len);
  }
}

describe('extended L2 entries with a data file against a byte model (properties)', () => {
  for (const raw of [false, true]) {
    it(`data_file_raw=${raw}: reads equal the model; every mapped byte sits at host offset = guest offset${raw ? '; the raw file is the disk' : ''}`, () => {
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: 40, size: 'max' }), fc.constantFrom(16384, 65536), (ops, cs) => {
          const p = new MemoryProvider();
          createImage('img', { size: SIZE, clusterSize: cs, extendedL2: true, dataFile: 'data', ...(raw ? { dataFileRaw: true } : {}) }, p);
          const img = openImage('img', {}, p);
          apply(img, ops);
          img.flush();
          const want = model(ops, cs);
          const got = new Uint8Array(SIZE);
          img.read(0, got);
          expect(Buffer.compare(got, want)).toBe(0);
          for (const e of img.allocationMap()) if (e.offset !== undefined) expect(e.offset).toBe(e.start);
          img.close();
          const dataBytes = new Uint8Array(SIZE);
          p.open('data').pread(dataBytes, 0);
          if (raw) expect(Buffer.compare(dataBytes, want)).toBe(0);
          // At least the disk; a write into the partial last subcluster copies up to its end, as
          // qemu-io does (the data file then ends there).
          const sc = cs / 32;
          expect(p.open('data').size()).toBeGreaterThanOrEqual(SIZE);
          expect(p.open('data').size()).toBeLessThanOrEqual(Math.ceil(SIZE / sc) * sc);
          const again = openImage('img', { readOnly: true }, p);
          again.read(0, got);
          again.close();
          expect(Buffer.compare(got, want)).toBe(0);
          // The qcow2 file holds metadata only: header, refcounts, L1, one L2 table.
          expect(p.open('img').size()).toBeLessThanOrEqual(5 * cs);
        }),
        { numRuns: 60 },
      );
    }, 120_000);
  }

  it('over a backing file: unwritten parts of written subclusters are copied from the backing file into the data file', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 30, size: 'max' }), (ops) => {
        const p = new MemoryProvider();
        createImage('base', { size: SIZE, clusterSize: 65536 }, p);
        const b = openImage('base', {}, p);
        const base = new Uint8Array(SIZE);
        for (let i = 0; i < SIZE; i += 512) base.fill(((i / 512) % 251) + 1, i, i + 512);
        b.write(0, base);
        b.close();
        createImage('top', { backingFile: 'base', backingFormat: 'qcow2', extendedL2: true, dataFile: 'data' }, p);
        const img = openImage('top', {}, p);
        apply(img, ops);
        const got = new Uint8Array(SIZE);
        img.read(0, got);
        img.close();
        expect(Buffer.compare(got, model(ops, 65536, base))).toBe(0);
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});

// ---- against qemu-img / qemu-io 7.2 ---------------------------------------------------------------

/** Two directories, one per tool, holding the same file names. */
function twinDirs(name: string): { q: string; v: string } {
  const q = join(top, name, 'q');
  const v = join(top, name, 'v');
  mkdirSync(q, { recursive: true });
  mkdirSync(v, { recursive: true });
  return { q, v };
}

/**
 * The same bytes, except that vfab's metadata file may be longer, with zeros (it rounds the file
 * up to whole clusters; qemu-img's ends where its last table ends).
 */
function sameMetadata(vfile: string, qfile: string): void {
  const bv = readFileSync(vfile);
  const bq = readFileSync(qfile);
  const n = Math.min(bv.length, bq.length);
  const firstDiff = bv.subarray(0, n).findIndex((x, i) => x !== bq[i]);
  expect(firstDiff, `${vfile} differs from ${qfile} at byte ${firstDiff}`).toBe(-1);
  expect(bv.subarray(n).every((x) => x === 0) && bq.subarray(n).every((x) => x === 0)).toBe(true);
}

const mapOf = (tool: 'qemu' | 'vfab', cwd: string, file: string): string =>
  (tool === 'qemu' ? run('qemu-img', ['map', '--output=json', file], cwd) : vfab(['disk', 'map', '--output=json', file], cwd)).out;

function checkJson(s: string): Record<string, unknown> {
  return { ...(JSON.parse(s) as Record<string, unknown>), filename: '' };
}

/** Twin images made by both tools with the same commands; everything QEMU prints compared. */
function twins(name: string, createOpts: string, ops: string[], opts: { backing?: boolean; size?: string; rawData?: boolean; sameHoles?: boolean } = {}): { q: string; v: string } {
  const { q, v } = twinDirs(name);
  const backing = opts.backing ? ['-b', 'base.qcow2', '-F', 'qcow2'] : [];
  if (opts.backing) {
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', 'base.qcow2', opts.size ?? '1M'], q).code).toBe(0);
    expect(run('qemu-io', ['-c', `write -P 0x5a 0 ${opts.size ?? '1M'}`, 'base.qcow2'], q).code).toBe(0);
    copyFileSync(join(q, 'base.qcow2'), join(v, 'base.qcow2'));
  }
  const size = opts.backing ? [] : [opts.size ?? '1M'];
  const cq = run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', createOpts, ...backing, 'img.qcow2', ...size], q);
  expect(cq.code, cq.err).toBe(0);
  const cv = vfab(['disk', 'create', '-q', '-f', 'qcow2', '-o', createOpts, ...backing, 'img.qcow2', ...size], v);
  expect(cv.code, cv.err).toBe(0);
  expect(cv.err).toBe('');
  sameMetadata(join(v, 'img.qcow2'), join(q, 'img.qcow2'));
  if (ops.length > 0) {
    const rq = run('qemu-io', [...ops.flatMap((o) => ['-c', o]), 'img.qcow2'], q);
    expect(rq.code, rq.err).toBe(0);
    const rv = vfab(['disk', 'io', ...ops.flatMap((o) => ['-c', o]), 'img.qcow2'], v);
    expect(rv.code, rv.err).toBe(0);
    // qemu-io's lines, without its timings ("4 KiB, 1 ops; 00.01 sec (…)").
    expect(rv.out).toBe(rq.out.replace(/ ops;[^\n]*/g, ' ops'));
  }
  // Metadata byte for byte (QEMU is deterministic here: no freed cluster is reused).
  sameMetadata(join(v, 'img.qcow2'), join(q, 'img.qcow2'));
  // Content, and the data file itself when it is the disk.
  expect(run('qemu-img', ['compare', join(q, 'img.qcow2'), join(v, 'img.qcow2')], q).code).toBe(0);
  if (opts.rawData) expect(readFileSync(join(v, 'data.raw')).equals(readFileSync(join(q, 'data.raw')))).toBe(true);
  expect(statSync(join(v, 'data.raw')).size).toBe(statSync(join(q, 'data.raw')).size);
  // map: QEMU's of each file equals vfab's of the same file, and the twins' maps are equal.
  const mq = mapOf('qemu', q, 'img.qcow2');
  expect(mapOf('vfab', q, 'img.qcow2')).toBe(mq);
  const mv = mapOf('qemu', v, 'img.qcow2');
  expect(mapOf('vfab', v, 'img.qcow2')).toBe(mv);
  // Known difference (docs/disks.md): whether QEMU looks for holes in the data file depends on
  // how much of the metadata file is allocated (qcow2_detect_metadata_preallocation), and vfab's
  // file is rounded up to whole clusters; with 2 MiB clusters that changes QEMU's answer (each
  // tool still maps each file alike, checked above).
  if (opts.sameHoles !== false) expect(mv).toBe(mq);
  // check, human and JSON: the same words and numbers as qemu-img check.
  const hq = run('qemu-img', ['check', 'img.qcow2'], q);
  expect(hq.code, hq.out + hq.err).toBe(0);
  expect(vfab(['disk', 'check', 'img.qcow2'], v).out).toBe(hq.out);
  expect(vfab(['disk', 'check', 'img.qcow2'], q).out).toBe(hq.out);
  const jq = checkJson(run('qemu-img', ['check', '--output=json', 'img.qcow2'], q).out);
  expect(checkJson(vfab(['disk', 'check', '--output=json', 'img.qcow2'], v).out)).toEqual(jq);
  expect(checkJson(run('qemu-img', ['check', '--output=json', 'img.qcow2'], v).out)).toEqual(jq);
  // info: the same JSON (actual-size aside: it is the metadata file's allocated bytes).
  const info = (s: string): Record<string, unknown> => ({ ...(JSON.parse(s) as Record<string, unknown>), 'actual-size': 0 });
  const iq = info(run('qemu-img', ['info', '--output=json', 'img.qcow2'], q).out);
  expect(info(vfab(['disk', 'info', '--output=json', 'img.qcow2'], v).out)).toEqual(iq);
  expect(info(vfab(['disk', 'info', '--output=json', 'img.qcow2'], q).out)).toEqual(iq);
  return { q, v };
}

const SCRIPT = [
  'write -P 3 1k 1k', // subcluster 0 of cluster 0: data-file offset 0
  'write -P 4 60k 10k', // across a cluster boundary
  'write -P 7 62k 512', // in place, inside an allocated subcluster
  'write -z 64k 64k', // whole cluster, no unmap: keeps its place, all subclusters zero
  'discard 128k 64k',
  'write -z 200k 2k', // one whole subcluster
  'write -z 230k 1k', // part of an unallocated subcluster: becomes a zero subcluster
  'write -P 5 300k 100k',
  'write -z -u 320k 64k', // whole cluster with unmap
  'write -z 400k 1k', // part of an allocated subcluster: zero bytes written
  'write -P 6 1000k 21k', // up to the last byte of a disk that ends inside a cluster
];

describeWithTools(['qemu-img', 'qemu-io'], 'extended L2 entries with a data file against qemu-img/qemu-io 7.2', () => {
  for (const raw of [false, true]) {
    const dfo = `extended_l2=on,data_file=data.raw${raw ? ',data_file_raw=on' : ''}`;
    it(`create, then partial writes, write-zeroes with and without unmap, discards${raw ? ' (data_file_raw=on)' : ''}: the same metadata bytes, map, check, info and content`, () => {
      twins(`thin-${+raw}`, dfo, [], { rawData: raw });
      twins(`io-${+raw}`, dfo, SCRIPT, { size: '1045k', rawData: raw });
    }, 300_000);

    it(`16 KiB and 2 MiB clusters${raw ? ' (data_file_raw=on)' : ''}: the same metadata bytes, map and content`, () => {
      twins(`cs16-${+raw}`, `${dfo},cluster_size=16k`, ['write -P 1 100 1', 'write -P 2 17k 40k', 'write -z 32k 16k', 'discard 48k 16k'], { rawData: raw });
      twins(`cs2m-${+raw}`, `${dfo},cluster_size=2M`, ['write -P 1 0 64k', 'write -P 2 100k 1', 'write -z 2M 1M'], { size: '5M', rawData: raw, sameHoles: false });
    }, 300_000);
  }

  it('over a backing file: copy-on-write inside the written subclusters, into the data file; the rest reads from the backing file', () => {
    twins('backed', 'extended_l2=on,data_file=data.raw', SCRIPT, { backing: true });
  }, 180_000);

  for (const pre of ['metadata', 'falloc', 'full']) {
    it(`preallocation=${pre}: every cluster mapped at its guest offset with an empty bitmap, as qemu-img writes it; then written`, () => {
      twins(`pre-${pre}`, `extended_l2=on,data_file=data.raw,preallocation=${pre}`, ['write -P 9 5k 3k', 'write -z 64k 64k', 'discard 192k 64k']);
    }, 180_000);
  }

  it('resize grows and shrinks the image and its data file as qemu-img resize does', () => {
    for (const raw of [false, true]) {
      const { q, v } = twinDirs(`resize-${+raw}`);
      const o = `extended_l2=on,data_file=data.raw${raw ? ',data_file_raw=on' : ''}`;
      for (const [dir, r] of [
        [q, (a: string[]) => run('qemu-img', a, q)],
        [v, (a: string[]) => vfab(['disk', ...a], v)],
      ] as const) {
        expect(r(['create', '-q', '-f', 'qcow2', '-o', o, 'img.qcow2', '1M']).code).toBe(0);
        expect(run('qemu-io', ['-c', 'write -P 1 1000k 24k', 'img.qcow2'], dir).code).toBe(0);
        expect(r(['resize', '-q', 'img.qcow2', '3M']).code).toBe(0);
        expect(run('qemu-io', ['-c', 'write -P 2 2M 100k', 'img.qcow2'], dir).code).toBe(0);
        expect(r(['resize', '-q', '--shrink', 'img.qcow2', '2100k']).code).toBe(0);
      }
      expect(statSync(join(v, 'data.raw')).size).toBe(statSync(join(q, 'data.raw')).size);
      expect(mapOf('qemu', v, 'img.qcow2')).toBe(mapOf('qemu', q, 'img.qcow2'));
      expect(run('qemu-img', ['compare', join(q, 'img.qcow2'), join(v, 'img.qcow2')], q).code).toBe(0);
      expect(run('qemu-img', ['check', 'img.qcow2'], v).code).toBe(0);
    }
  }, 180_000);

  it('convert -O qcow2 -o extended_l2=on,data_file=…: the same map, content and check as qemu-img convert', () => {
    const { q, v } = twinDirs('convert');
    for (const d of [q, v]) {
      expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', 'src.qcow2', '1M'], d).code).toBe(0);
      expect(run('qemu-io', ['-c', 'write -P 1 0 3000', '-c', 'write -P 2 70000 200000', '-c', 'write -z 300k 64k', '-c', 'write -P 3 1040000 8576', 'src.qcow2'], d).code).toBe(0);
    }
    const args = ['convert', '-O', 'qcow2', '-o', 'extended_l2=on,data_file=data.raw', 'src.qcow2', 'img.qcow2'];
    expect(run('qemu-img', args, q).code).toBe(0);
    const r = vfab(['disk', ...args], v);
    expect(r.code, r.err).toBe(0);
    expect(run('qemu-img', ['compare', join(q, 'img.qcow2'), join(v, 'img.qcow2')], q).code).toBe(0);
    expect(run('qemu-img', ['check', 'img.qcow2'], v).code).toBe(0);
    expect(mapOf('qemu', v, 'img.qcow2')).toBe(mapOf('qemu', q, 'img.qcow2'));
    expect(statSync(join(v, 'data.raw')).size).toBe(statSync(join(q, 'data.raw')).size);
  }, 180_000);

  it("QEMU's refusals: internal snapshots (exit 2, QEMU's words), compressed output; a QEMU-made image read and written by vfab", () => {
    const { q, v } = twinDirs('refuse');
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on,data_file=data.raw', 'img.qcow2', '1M'], q).code).toBe(0);
    expect(vfab(['disk', 'create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on,data_file=data.raw', 'img.qcow2', '1M'], v).code).toBe(0);
    const sq = run('qemu-img', ['snapshot', '-c', 's1', 'img.qcow2'], q);
    const sv = vfab(['disk', 'snapshot', '-c', 's1', 'img.qcow2'], v);
    expect(sq.err).toContain("Could not create snapshot 's1': -95 (Operation not supported)");
    expect(sv.code).toBe(2);
    expect(sv.err).toContain("Could not create snapshot 's1': -95 (Operation not supported)");
    sameMetadata(join(v, 'img.qcow2'), join(q, 'img.qcow2'));
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', 'src.qcow2', '1M'], v).code).toBe(0);
    expect(run('qemu-io', ['-c', 'write -P 1 0 64k', 'src.qcow2'], v).code).toBe(0);
    const cv = vfab(['disk', 'convert', '-c', '-O', 'qcow2', '-o', 'extended_l2=on,data_file=c.raw', 'src.qcow2', 'c.qcow2'], v);
    const cq = run('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', 'extended_l2=on,data_file=c.raw', 'src.qcow2', 'c.qcow2'], v);
    expect(cq.code).toBe(1);
    expect(cq.err).toContain('Operation not supported');
    expect(cv.code).toBe(2);
    expect(cv.err).toContain('c.qcow2: compressed clusters cannot be written to an image with an external data file (Operation not supported)');
    expect(cv.err).not.toMatch(/\n\s+at /);
    // vfab writes into QEMU's image; QEMU reads vfab's bytes back.
    expect(vfab(['disk', 'io', '-c', 'write -P 0x5a 1k 70k', 'img.qcow2'], q).code).toBe(0);
    const back = run('qemu-io', ['-c', 'read -P 0 0 1k', '-c', 'read -P 0x5a 1k 70k', '-c', 'read -P 0 71k 953k', 'img.qcow2'], q);
    expect(back.out).not.toContain('Pattern verification failed');
    expect(run('qemu-img', ['check', 'img.qcow2'], q).code).toBe(0);
  }, 180_000);
});

describeWithTools(['qemu-img'], 'snapshot -l of an image without snapshots', () => {
  it('prints nothing, exit 0, as qemu-img (dump_snapshots returns before the header)', () => {
    const { q } = twinDirs('snapl');
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', 'a.qcow2', '1M'], q).code).toBe(0);
    const rq = run('qemu-img', ['snapshot', '-l', 'a.qcow2'], q);
    const rv = vfab(['disk', 'snapshot', '-l', 'a.qcow2'], q);
    expect(rq.out).toBe('');
    expect(rv.code).toBe(rq.code);
    expect(rv.out).toBe(rq.out);
  });
});
