/**
 * External data files (issue 17 #3, `data_file=`): vfab against a byte model (fast-check, memory
 * backends), and against qemu-img/qemu-io 7.2 on twin images made by both tools in the same
 * directory (the data file name is relative to the current directory, as QEMU opens it): the same
 * L2 entries, `check` and `info` output, content (`qemu-img compare`), each tool's `map` of a file
 * equal to the other's; QEMU-made images read and written by vfab; QEMU's refusals; hostile names.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createImage, openImage } from '../../src/block/api.js';
import { MemoryProvider } from '../../src/block/chain.js';
import { dataFileKind } from '../../src/block/qcow2/data-file.js';
import { COPIED_HI } from '../../src/block/qcow2/entries.js';
import { ST_DATA, ST_UNALLOC, ST_ZERO } from '../../src/block/image.js';
import { UserError } from '../../src/errors.js';
import { describeWithTools } from '../helpers/tools.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'vfab-datafile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// The oracle tests block in spawnSync for seconds: let the worker answer vitest's RPC in between.
beforeEach(() => new Promise<void>((r) => setTimeout(r, 20)));

function run(tool: string, args: string[], cwd = dir): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8', cwd });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
const vfab = (args: string[], cwd = dir) => run(process.execPath, [join(ROOT, 'bin/run.js'), ...args], cwd);

describe('data file entries (qcow2_get_cluster_type)', () => {
  it('offset 0 is data only with COPIED; the zero flag wins; other offsets are data', () => {
    expect(dataFileKind(0, 0, true)).toMatchObject({ kind: ST_UNALLOC });
    expect(dataFileKind(COPIED_HI, 0, true)).toMatchObject({ kind: ST_DATA, host: 0 });
    expect(dataFileKind(COPIED_HI, 1, true)).toMatchObject({ kind: ST_ZERO, host: 0, allocated: false });
    expect(dataFileKind(COPIED_HI, 0x10001, true)).toMatchObject({ kind: ST_ZERO, host: 0x10000, allocated: true });
    expect(dataFileKind(COPIED_HI, 0x20000, true)).toMatchObject({ kind: ST_DATA, host: 0x20000 });
  });
});

type Op = { k: 'w' | 'z' | 'd'; off: number; len: number; b: number };
const SIZE = 640 * 1024;
const op: fc.Arbitrary<Op> = fc
  .record({ k: fc.constantFrom<Op['k']>('w', 'w', 'z', 'd'), off: fc.integer({ min: 0, max: SIZE - 1 }), len: fc.integer({ min: 1, max: 200 * 1024 }), b: fc.integer({ min: 1, max: 255 }) })
  .map((o) => ({ ...o, off: o.off & ~511, len: Math.max(512, Math.min(o.len & ~511, SIZE - (o.off & ~511))) }));

/** Applies ops to a model; discard zeroes whole clusters only (vfab and QEMU discard whole clusters). */
function model(ops: Op[], cs: number, base?: Uint8Array): Uint8Array {
  const m = base ? base.slice() : new Uint8Array(SIZE);
  for (const o of ops) {
    if (o.k === 'w') m.fill(o.b, o.off, o.off + o.len);
    else if (o.k === 'z') m.fill(0, o.off, o.off + o.len);
    else {
      const first = Math.ceil(o.off / cs) * cs;
      const end = o.off + o.len >= SIZE ? SIZE : Math.floor((o.off + o.len) / cs) * cs;
      if (end > first) m.fill(base ? 0 : 0, first, end);
    }
  }
  return m;
}

function apply(img: ReturnType<typeof openImage>, ops: Op[]): void {
  for (const o of ops) {
    if (o.k === 'w') img.write(o.off, new Uint8Array(o.len).fill(o.b));
    else if (o.k === 'z') img.writeZeroes(o.off, o.len);
    else img.discard(o.off, o.len);
  }
}

describe('random I/O through a data file equals a plain model (properties)', () => {
  for (const raw of [false, true]) {
    it(`data_file_raw=${raw}: reads equal the model; guest bytes sit at host offset = guest offset${raw ? ' (the raw file is the disk)' : ''}`, () => {
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), fc.constantFrom(4096, 65536), (ops, cs) => {
          const p = new MemoryProvider();
          createImage('img', { size: SIZE, clusterSize: cs, dataFile: 'data', ...(raw ? { dataFileRaw: true } : {}) }, p);
          const img = openImage('img', {}, p);
          apply(img, ops);
          img.flush();
          const want = model(ops, cs);
          const got = new Uint8Array(SIZE);
          img.read(0, got);
          expect(Buffer.compare(got, want)).toBe(0);
          // Every data extent maps to its own guest offset in the data file.
          for (const e of img.allocationMap()) if (e.data && e.offset !== undefined) expect(e.offset).toBe(e.start);
          img.close();
          const dataBytes = new Uint8Array(SIZE);
          p.open('data').pread(dataBytes, 0);
          if (raw) expect(Buffer.compare(dataBytes, want)).toBe(0);
          // Reopened, the same bytes; the qcow2 file holds no guest data (it stays small).
          const again = openImage('img', { readOnly: true }, p);
          again.read(0, got);
          expect(Buffer.compare(got, want)).toBe(0);
          again.close();
          expect(p.open('img').size()).toBeLessThanOrEqual(8 * cs);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('with a backing file, a partial write copies the backing bytes into the data file', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 15 }), (ops) => {
        const p = new MemoryProvider();
        createImage('base', { size: SIZE, clusterSize: 65536 }, p);
        const b = openImage('base', {}, p);
        const base = new Uint8Array(SIZE);
        for (let i = 0; i < SIZE; i += 4096) base.fill((i / 4096) % 251 + 1, i, i + 4096);
        b.write(0, base);
        b.close();
        createImage('top', { backingFile: 'base', backingFormat: 'qcow2', dataFile: 'data' }, p);
        const img = openImage('top', {}, p);
        apply(img, ops);
        const got = new Uint8Array(SIZE);
        img.read(0, got);
        // Discard over a backing file leaves zero clusters (the backing must not show through).
        expect(Buffer.compare(got, model(ops, 65536, base))).toBe(0);
        img.close();
      }),
      { numRuns: 40 },
    );
  });
});

describe('refusals and hostile images (library)', () => {
  it('data_file_raw without data_file, with a backing file, compressed writes, snapshots', () => {
    const p = new MemoryProvider();
    expect(() => createImage('x', { size: SIZE, dataFileRaw: true }, p)).toThrow('data-file-raw requires data-file');
    createImage('b', { size: SIZE }, p);
    expect(() => createImage('x', { backingFile: 'b', backingFormat: 'qcow2', dataFile: 'd', dataFileRaw: true }, p)).toThrow('Backing file and data-file-raw cannot be used at the same time');
    expect(p.exists('x')).toBe(false);
    expect(() => createImage('y', { size: SIZE, dataFile: '/etc/d' }, p)).toThrow(UserError);
    expect(() => createImage('y', { size: SIZE, dataFile: '../d' }, p)).toThrow(/absolute name or one with '\.\.'/);
  });

  it('a hostile data file name in the header is refused with the byte named; a missing data file is a located error', () => {
    const p = new MemoryProvider();
    createImage('img', { size: SIZE, dataFile: 'data1' }, p);
    const b = p.open('img');
    const head = new Uint8Array(4096);
    b.pread(head, 0);
    const at = Buffer.from(head).indexOf('data1');
    head.set(new TextEncoder().encode('../x1'), at);
    b.pwrite(head, 0);
    expect(() => openImage('img', { readOnly: true }, p)).toThrow(new RegExp(`'\\.\\./x1' \\(byte ${at}\\)`));
    head.set(new TextEncoder().encode('/etc1'), at);
    b.pwrite(head, 0);
    expect(() => openImage('img', { readOnly: true }, p)).toThrow(/is absolute/);
    head.set(new TextEncoder().encode('miss1'), at);
    b.pwrite(head, 0);
    // Readers open the data file at the first data access, writers at open (as qemu-io does).
    expect(() => openImage('img', {}, p)).toThrow("Could not open 'miss1': No such file or directory");
    const r = openImage('img', { readOnly: true }, p);
    expect(r.virtualSize).toBe(SIZE);
    r.close();
  });
});

// ---- against qemu-img / qemu-io 7.2 -----------------------------------------------------------------

function l2Bytes(file: string): string {
  // The L1 table's first entry locates the (only) L2 table of these small images.
  const f = readFileSync(join(dir, file));
  const l1 = Number(f.readBigUInt64BE(40));
  const l2 = Number(f.readBigUInt64BE(l1) & 0x00fffffffffffe00n);
  return l2 === 0 ? '' : f.subarray(l2, l2 + 512).toString('hex');
}

const mapJson = (tool: 'qemu' | 'vfab', file: string): string =>
  tool === 'qemu' ? run('qemu-img', ['map', '--output=json', file]).out.trim() : vfab(['disk', 'map', '--output=json', file]).out.trim();

describeWithTools(['qemu-img', 'qemu-io'], 'external data files against qemu-img/qemu-io 7.2', () => {
  const scripts: [string, string[]][] = [
    ['thin', []],
    ['writes', ['write -P 0xab 0 4k', 'write -P 0xcd 130k 4k', 'write -P 0x11 200k 100k']],
    ['zeroes', ['write -P 0xab 0 128k', 'write -z 0 64k', 'discard 64k 64k', 'write -P 7 70k 1k', 'write -z 300k 4k']],
  ];
  for (const raw of [false, true]) {
    for (const [name, ops] of scripts) {
      it(`${name}${raw ? ', data_file_raw=on' : ''}: same L2 entries, check, info, content; each map agrees on each file`, () => {
        const q = `q-${name}-${+raw}`;
        const v = `v-${name}-${+raw}`;
        const opt = (d: string) => `data_file=${d}.raw${raw ? ',data_file_raw=on' : ''}`;
        expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', opt(q), `${q}.qcow2`, '1M']).code).toBe(0);
        const c = vfab(['disk', 'create', '-q', '-f', 'qcow2', '-o', opt(v), `${v}.qcow2`, '1M']);
        expect(c.err).toBe('');
        if (ops.length > 0) {
          expect(run('qemu-io', ops.flatMap((o) => ['-c', o]).concat(`${q}.qcow2`)).code).toBe(0);
          expect(vfab(['disk', 'io', ...ops.flatMap((o) => ['-c', o]), `${v}.qcow2`]).code).toBe(0);
        }
        expect(l2Bytes(`${v}.qcow2`)).toBe(l2Bytes(`${q}.qcow2`));
        const cq = run('qemu-img', ['check', '--output=json', `${q}.qcow2`]);
        const cv = run('qemu-img', ['check', '--output=json', `${v}.qcow2`]);
        expect(cv.code).toBe(0);
        const strip = (s: string): Record<string, unknown> => ({ ...(JSON.parse(s) as Record<string, unknown>), filename: '', 'image-end-offset': 0 });
        expect(strip(cv.out)).toEqual(strip(cq.out));
        expect(strip(vfab(['disk', 'check', '--output=json', `${v}.qcow2`]).out)).toEqual(strip(cq.out));
        expect(strip(vfab(['disk', 'check', '--output=json', `${q}.qcow2`]).out)).toEqual(strip(cq.out));
        type Fs = { type: string; data: Record<string, unknown> };
        const info = (s: string): Fs => (JSON.parse(s) as { 'format-specific': Fs })['format-specific'];
        const qi = info(run('qemu-img', ['info', '--output=json', `${q}.qcow2`]).out);
        expect(info(vfab(['disk', 'info', '--output=json', `${v}.qcow2`]).out)).toEqual({ ...qi, data: { ...qi.data, 'data-file': `${v}.raw` } });
        expect(run('qemu-img', ['compare', `${q}.qcow2`, `${v}.qcow2`]).code).toBe(0);
        // Known difference (docs/disks.md): a cluster discarded and written again gets zero bytes
        // over its old data in vfab's data file (node cannot punch holes); vfab reads them as
        // holes where QEMU's SEEK_DATA sees data. Elsewhere both tools map vfab's file alike.
        if (name !== 'zeroes') expect(mapJson('vfab', `${v}.qcow2`)).toBe(mapJson('qemu', `${v}.qcow2`));
        expect(mapJson('vfab', `${q}.qcow2`)).toBe(mapJson('qemu', `${q}.qcow2`));
        if (raw) {
          // The raw data files are the disk.
          expect(run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', `${q}.raw`, `${v}.raw`]).code).toBe(0);
          expect(run('qemu-img', ['compare', '-F', 'raw', `${q}.qcow2`, `${v}.raw`]).code).toBe(0);
        }
      });
    }
  }

  it('resize grows and shrinks the data file with the image, as qemu-img resize does', () => {
    for (const raw of [false, true]) {
      const sizes: Record<string, number[]> = {};
      for (const [tool, t] of [['qemu-img', 'rq'], ['vfab', 'rv']] as const) {
        const img = `${t}${+raw}.qcow2`;
        const data = `${t}${+raw}.raw`;
        const opt = `data_file=${data}${raw ? ',data_file_raw=on' : ''}`;
        const r = (args: string[]) => (tool === 'qemu-img' ? run('qemu-img', args) : vfab(['disk', ...args]));
        expect(r(['create', '-q', '-f', 'qcow2', '-o', opt, img, '1M']).code).toBe(0);
        expect(r(['resize', '-q', img, '3M']).code).toBe(0);
        const grown = readFileSync(join(dir, data)).length;
        expect(r(['resize', '-q', '--shrink', img, '2M']).code).toBe(0);
        sizes[tool] = [grown, readFileSync(join(dir, data)).length];
        expect(run('qemu-img', ['check', img]).code).toBe(0);
      }
      expect(sizes.vfab).toEqual(sizes['qemu-img']);
      expect(sizes.vfab).toEqual([3 << 20, 2 << 20]);
    }
  });

  it('vfab writes into a QEMU-made image and QEMU reads it back (and the other way round)', () => {
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'data_file=x1.raw', 'x1.qcow2', '1M']).code).toBe(0);
    expect(vfab(['disk', 'io', '-c', 'write -P 0x5a 0 70k', 'x1.qcow2']).code).toBe(0);
    expect(run('qemu-io', ['-c', 'read -P 0x5a 0 70k', '-c', 'read -P 0 70k 954k', 'x1.qcow2']).out).not.toContain('Pattern verification failed');
    expect(run('qemu-img', ['check', 'x1.qcow2']).code).toBe(0);
    expect(run('qemu-io', ['-c', 'write -P 0x6b 64k 64k', 'x1.qcow2']).code).toBe(0);
    const r = vfab(['disk', 'io', '-c', 'read -P 0x5a 0 64k', '-c', 'read -P 0x6b 64k 64k', 'x1.qcow2']);
    expect(r.code).toBe(0);
    expect(vfab(['disk', 'map', 'x1.qcow2']).out).toBe(run('qemu-img', ['map', 'x1.qcow2']).out);
  });

  it("QEMU's refusals, QEMU's words", () => {
    vfab(['disk', 'create', '-q', '-f', 'qcow2', '-o', 'data_file=r1.raw', 'r1.qcow2', '1M']);
    const s = vfab(['disk', 'snapshot', '-c', 's1', 'r1.qcow2']);
    expect(s.code).toBe(2);
    expect(s.err).toContain("Could not create snapshot 's1': -95 (Operation not supported)");
    const q = vfab(['disk', 'create', '-f', 'qcow2', '-o', 'data_file_raw=on', 'r2.qcow2', '1M']);
    expect(q.err).toContain('data-file-raw requires data-file');
    expect(run('qemu-img', ['create', '-f', 'qcow2', '-o', 'data_file_raw=on', 'r2.qcow2', '1M']).err).toContain('data-file-raw requires data-file');
    const c = vfab(['disk', 'create', '-f', 'qcow2', '-o', 'data_file=r3.raw,compat=0.10', 'r3.qcow2', '1M']);
    expect(c.err).toContain('External data files are only supported with compatibility level 1.1 and above (use version=v3 or greater)');
    expect(run('qemu-img', ['create', '-f', 'qcow2', '-o', 'data_file=r3.raw,compat=0.10', 'r3.qcow2', '1M']).err).toContain('External data files are only supported with compatibility level 1.1');
    expect(existsSync(join(dir, 'r2.qcow2'))).toBe(false);
  });

  it('a missing data file: exit 2 naming it; a read-only open of a hostile image writes nothing', () => {
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'data_file=m1.raw', 'm1.qcow2', '1M']).code).toBe(0);
    expect(run('qemu-io', ['-c', 'write -P 1 0 64k', 'm1.qcow2']).code).toBe(0);
    rmSync(join(dir, 'm1.raw'));
    const w = vfab(['disk', 'io', '-c', 'write 0 4k', 'm1.qcow2']);
    expect(w.code).toBe(2);
    expect(w.err).toContain("Could not open 'm1.raw': No such file or directory");
    const before = readFileSync(join(dir, 'm1.qcow2'));
    const r = vfab(['disk', 'io', '-c', 'read 0 4k', 'm1.qcow2']);
    expect(r.code).toBe(2);
    const f = Buffer.from(before);
    const at = f.indexOf('m1.raw');
    f.write('/etc/p', at);
    writeFileSync(join(dir, 'm2.qcow2'), f);
    const h = vfab(['disk', 'map', 'm2.qcow2']);
    expect(h.code).toBe(2);
    expect(h.err).toContain(`(byte ${at})`);
    expect(Buffer.compare(readFileSync(join(dir, 'm2.qcow2')), f)).toBe(0);
    expect(Buffer.compare(readFileSync(join(dir, 'm1.qcow2')), before)).toBe(0);
  });
});

describeWithTools(['qemu-img'], 'amend -o data_file= / data_file_raw= against qemu-img amend', () => {
  it('renaming the data file and clearing data_file_raw write the header qemu-img writes; its refusals', () => {
    for (const [opt, amend] of [
      ['data_file=a1.raw', 'data_file=a2.raw'],
      ['data_file=a1.raw,data_file_raw=on', 'data_file_raw=off'],
    ] as const) {
      expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', opt, 'am-q.qcow2', '1M']).code).toBe(0);
      expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', opt, 'am-v.qcow2', '1M']).code).toBe(0);
      writeFileSync(join(dir, 'a2.raw'), readFileSync(join(dir, 'a1.raw')));
      expect(run('qemu-img', ['amend', '-o', amend, 'am-q.qcow2']).code).toBe(0);
      expect(vfab(['disk', 'amend', '-o', amend, 'am-v.qcow2']).code).toBe(0);
      expect(Buffer.compare(readFileSync(join(dir, 'am-v.qcow2')), readFileSync(join(dir, 'am-q.qcow2')))).toBe(0);
    }
    const on = vfab(['disk', 'amend', '-o', 'data_file_raw=on', 'am-v.qcow2']);
    expect(on.code).toBe(2);
    expect(on.err).toContain('data-file-raw cannot be set on existing images');
    expect(run('qemu-img', ['amend', '-o', 'data_file_raw=on', 'am-q.qcow2']).err).toContain('data-file-raw cannot be set on existing images');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', 'am-p.qcow2', '1M']);
    const p = vfab(['disk', 'amend', '-o', 'data_file=z.raw', 'am-p.qcow2']);
    expect(p.err).toContain('data-file can only be set for images that use an external data file');
    expect(run('qemu-img', ['amend', '-o', 'data_file=z.raw', 'am-p.qcow2']).err).toContain('data-file can only be set for images that use an external data file');
  });
});
