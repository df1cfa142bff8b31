/**
 * Persistent dirty bitmaps against QEMU 7.2: bitmaps QEMU made are read by vfab and vfab's by
 * QEMU (qemu-img info lists them, qemu-img check is clean, qemu-img bitmap --merge works), and
 * the dirty extents agree with what qemu-nbd exports as the qemu:dirty-bitmap:NAME context
 * (qemu-img map over NBD with x-dirty-bitmap reports dirty extents as "present": false).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import DiskBitmap from '../../src/commands/disk/bitmap.js';
import DiskConvert from '../../src/commands/disk/convert.js';
import DiskInfo from '../../src/commands/disk/info.js';
import DiskIo from '../../src/commands/disk/io.js';
import DiskResize from '../../src/commands/disk/resize.js';
import { createImage, openImage } from '../../src/block/api.js';
import { bitmapExtents, bitmapVerb } from '../../src/block/bitmap-verb.js';
import { MemoryProvider } from '../../src/block/chain.js';
import { dirtyExtents, markRange } from '../../src/block/qcow2/bitmaps.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

function run(tool: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

interface Dirty {
  start: number;
  length: number;
  dirty: boolean;
}

function merge(list: Dirty[]): Dirty[] {
  const out: Dirty[] = [];
  for (const e of list) {
    const p = out.at(-1);
    if (p && p.dirty === e.dirty && p.start + p.length === e.start) p.length += e.length;
    else out.push({ ...e });
  }
  return out;
}

/** QEMU's view of a bitmap: qemu-nbd exports it, qemu-img map reads it (dirty = not present). */
async function qemuDirty(file: string, name: string, dir: string): Promise<Dirty[]> {
  const sock = join(dir, `nbd-${name}.sock`);
  rmSync(sock, { force: true });
  const srv = spawn('qemu-nbd', ['-r', '-t', '-B', name, '-k', sock, '-f', 'qcow2', file], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    const m = run('qemu-img', ['map', '--output=json', '--image-opts', `driver=nbd,server.type=unix,server.path=${sock},x-dirty-bitmap=qemu:dirty-bitmap:${name}`]);
    if (m.code !== 0) throw new Error(`qemu-img map over nbd failed: ${m.err}`);
    const ext = JSON.parse(m.out) as { start: number; length: number; present: boolean }[];
    return merge(ext.map((e) => ({ start: e.start, length: e.length, dirty: !e.present })));
  } finally {
    srv.kill();
    await new Promise((r) => srv.once('exit', r));
  }
}

async function vfabDirty(file: string, name: string): Promise<Dirty[]> {
  const r = await cli(DiskBitmap, ['--dump', '--output=json', file, name]);
  expect(r.code, r.err).toBe(0);
  return merge(JSON.parse(r.out) as Dirty[]);
}

function qemuInfoBitmaps(file: string): unknown {
  const r = run('qemu-img', ['info', '--output=json', '-U', file]);
  expect(r.code, r.err).toBe(0);
  return (JSON.parse(r.out) as { 'format-specific': { data: { bitmaps?: unknown } } })['format-specific'].data.bitmaps;
}

async function vfabInfoBitmaps(file: string): Promise<unknown> {
  const r = await cli(DiskInfo, ['--json', '-U', file]);
  expect(r.code, r.err).toBe(0);
  const j = JSON.parse(r.out) as { 'format-specific': { data: { bitmaps?: unknown } } } | { 'format-specific': { data: { bitmaps?: unknown } } }[];
  return (Array.isArray(j) ? j[0]! : j)['format-specific'].data.bitmaps;
}

function expectClean(file: string): void {
  const r = run('qemu-img', ['check', file]);
  expect(r.out + r.err).toContain('No errors were found on the image.');
  expect(r.code).toBe(0);
}

describeWithTools(['qemu-img', 'qemu-io', 'qemu-nbd'], 'qcow2 persistent dirty bitmaps vs QEMU', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-bitmaps-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    process.exitCode = 0;
  });

  it('reads bitmaps QEMU made and keeps them up to date when vfab writes', async () => {
    run('qemu-img', ['create', '-q', '-f', 'qcow2', f('q.qcow2'), '10M']);
    expect(run('qemu-img', ['bitmap', '--add', f('q.qcow2'), 'b0']).code).toBe(0);
    expect(run('qemu-img', ['bitmap', '--add', '-g', '128k', '--disable', f('q.qcow2'), 'b1']).code).toBe(0);
    run('qemu-io', ['-c', 'write 0 64k', '-c', 'write 5M 4k', '-c', 'write 9M 1M', f('q.qcow2')]);
    expect(await vfabInfoBitmaps(f('q.qcow2'))).toEqual(qemuInfoBitmaps(f('q.qcow2')));
    expect(await vfabDirty(f('q.qcow2'), 'b0')).toEqual(await qemuDirty(f('q.qcow2'), 'b0', dir));
    // Writes, write-zeroes and discards through vfab mark the enabled bitmap only.
    const w = await cli(DiskIo, ['-c', 'write -P 0x5 1M 4k', '-c', 'write 3M 200k', '-c', 'write -z 7M 64k', '-c', 'discard 8M 128k', f('q.qcow2')]);
    expect(w.code, w.err).toBe(0);
    expectClean(f('q.qcow2'));
    const b0 = await vfabDirty(f('q.qcow2'), 'b0');
    expect(b0).toEqual(await qemuDirty(f('q.qcow2'), 'b0', dir));
    expect(b0.filter((e) => e.dirty).map((e) => [e.start, e.length])).toEqual([
      [0, 65536],
      [1 << 20, 65536],
      [3 << 20, 262144],
      [5 << 20, 65536],
      [7 << 20, 65536],
      [8 << 20, 131072],
      [9 << 20, 1 << 20],
    ]);
    expect(await vfabDirty(f('q.qcow2'), 'b1')).toEqual([{ start: 0, length: 10 << 20, dirty: false }]);
    expect(await qemuDirty(f('q.qcow2'), 'b1', dir)).toEqual([{ start: 0, length: 10 << 20, dirty: false }]);
  });

  it('makes bitmaps QEMU reads, merges and keeps writing into', async () => {
    createImage(f('v.qcow2'), { size: 16 << 20 });
    expect((await cli(DiskBitmap, ['--add', f('v.qcow2'), 'full'])).code).toBe(0);
    expect((await cli(DiskBitmap, ['--add', '-g', '512', '--disable', f('v.qcow2'), 'fine'])).code).toBe(0);
    expect((await cli(DiskBitmap, ['--add', '--disable', '-g', '1M', f('v.qcow2'), 'coarse'])).code).toBe(0);
    expectClean(f('v.qcow2'));
    expect(await vfabInfoBitmaps(f('v.qcow2'))).toEqual(qemuInfoBitmaps(f('v.qcow2')));
    expect(qemuInfoBitmaps(f('v.qcow2'))).toEqual([
      { flags: ['auto'], name: 'full', granularity: 65536 },
      { flags: [], name: 'fine', granularity: 512 },
      { flags: [], name: 'coarse', granularity: 1 << 20 },
    ]);
    const c = openImage(f('v.qcow2'));
    c.write(700, new Uint8Array(3000).fill(1));
    c.write(10 << 20, new Uint8Array(4096).fill(2));
    c.close();
    expect(await vfabDirty(f('v.qcow2'), 'full')).toEqual(await qemuDirty(f('v.qcow2'), 'full', dir));
    // Merge (different granularities) in vfab, then in QEMU: both agree with QEMU's export.
    expect((await cli(DiskBitmap, ['--enable', '--merge', 'full', f('v.qcow2'), 'fine'])).code).toBe(0);
    expect(run('qemu-img', ['bitmap', '--merge', 'full', f('v.qcow2'), 'coarse']).code).toBe(0);
    expectClean(f('v.qcow2'));
    for (const name of ['fine', 'coarse']) expect(await vfabDirty(f('v.qcow2'), name)).toEqual(await qemuDirty(f('v.qcow2'), name, dir));
    // QEMU writes into the bitmaps vfab made; vfab reads what QEMU stored.
    run('qemu-io', ['-c', 'write 15M 512', f('v.qcow2')]);
    const fine = await vfabDirty(f('v.qcow2'), 'fine');
    expect(fine).toEqual(await qemuDirty(f('v.qcow2'), 'fine', dir));
    expect(fine.filter((e) => e.dirty).at(-1)).toEqual({ start: 15 << 20, length: 512, dirty: true });
    // Clear and remove.
    expect((await cli(DiskBitmap, ['--clear', f('v.qcow2'), 'fine'])).code).toBe(0);
    expect((await cli(DiskBitmap, ['--remove', f('v.qcow2'), 'coarse'])).code).toBe(0);
    expectClean(f('v.qcow2'));
    expect(await qemuDirty(f('v.qcow2'), 'fine', dir)).toEqual([{ start: 0, length: 16 << 20, dirty: false }]);
    expect(await vfabInfoBitmaps(f('v.qcow2'))).toEqual(qemuInfoBitmaps(f('v.qcow2')));
    // As in qemu-img, operations before a refused one stay applied; removing the last bitmap
    // drops the extension: QEMU lists none.
    expect((await cli(DiskBitmap, ['--remove', '--remove', f('v.qcow2'), 'fine'])).code).toBe(2);
    expect(await vfabInfoBitmaps(f('v.qcow2'))).toEqual([{ flags: ['auto'], name: 'full', granularity: 65536 }]);
    expect((await cli(DiskBitmap, ['--remove', f('v.qcow2'), 'full'])).code).toBe(0);
    expect(qemuInfoBitmaps(f('v.qcow2'))).toBeUndefined();
    expectClean(f('v.qcow2'));
  });

  it('refuses what qemu-img refuses, with its messages, and leaves the image untouched', async () => {
    run('qemu-img', ['create', '-q', '-f', 'qcow2', f('r.qcow2'), '1M']);
    run('qemu-img', ['bitmap', '--add', f('r.qcow2'), 'b0']);
    const cases: [string[], string][] = [
      [['--add', f('r.qcow2'), 'b0'], 'Operation add on bitmap b0 failed: Bitmap already exists: b0'],
      [['--remove', f('r.qcow2'), 'nope'], "Operation remove on bitmap nope failed: Dirty bitmap 'nope' not found"],
      [['--clear', f('r.qcow2'), 'nope'], "Operation clear on bitmap nope failed: Dirty bitmap 'nope' not found"],
      [['--merge', 'nope', f('r.qcow2'), 'b0'], "Operation merge on bitmap b0 failed: Dirty bitmap 'nope' not found"],
      [[f('r.qcow2'), 'b0'], 'Need at least one of --add, --remove, --clear, --enable, --disable, or --merge'],
      [['--add', '-g', '1000', f('r.qcow2'), 'x'], 'Operation add on bitmap x failed: Granularity must be power of 2 and at least 512'],
      [['--add', '-g', '256', f('r.qcow2'), 'x'], 'Operation add on bitmap x failed: Granularity must be power of 2 and at least 512'],
      [['-g', '65536', '--enable', f('r.qcow2'), 'b0'], 'granularity only supported with --add'],
      [['--add', f('missing.qcow2'), 'x'], "Could not open '" + f('missing.qcow2') + "': No such file or directory"],
      [['--add', dir, 'x'], `Could not open '${dir}': Is a directory`],
    ];
    for (const [args, msg] of cases) {
      const q = run('qemu-img', ['bitmap', ...args]);
      expect(q.code, args.join(' ')).toBe(1);
      expect(q.err.replace(/Could not open '([^']*)': Could not open '[^']*'/, "Could not open '$1'"), args.join(' ')).toContain(msg);
      const before = readFileSync(f('r.qcow2'));
      const r = await cli(DiskBitmap, args);
      expect(readFileSync(f('r.qcow2')).equals(before), args.join(' ')).toBe(true);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toContain(msg);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
    // qemu-img keeps what the operations before the refused one did (the first --add).
    run('qemu-img', ['create', '-q', '-f', 'qcow2', f('r2.qcow2'), '1M']);
    expect(run('qemu-img', ['bitmap', '--add', '--add', f('r2.qcow2'), 'y']).code).toBe(1);
    expect((await cli(DiskBitmap, ['--add', '--add', f('r.qcow2'), 'y'])).code).toBe(2);
    expect(await vfabInfoBitmaps(f('r.qcow2'))).toEqual([...(qemuInfoBitmaps(f('r.qcow2')) as unknown[]).slice(0, 1), ...(qemuInfoBitmaps(f('r2.qcow2')) as unknown[])]);
    expectClean(f('r.qcow2'));
    // A raw image has no bitmaps.
    run('qemu-img', ['create', '-q', '-f', 'raw', f('r.raw'), '1M']);
    const raw = await cli(DiskBitmap, ['--add', f('r.raw'), 'x']);
    expect(raw.code).toBe(2);
    expect(raw.err).toContain('qcow2');
  });

  it('an incremental backup (convert --dirty-bitmap) holds exactly the extents written since the bitmap was added', async () => {
    run('qemu-img', ['create', '-q', '-f', 'qcow2', f('d.qcow2'), '8M']);
    run('qemu-io', ['-c', 'write -P 0x11 0 3M', f('d.qcow2')]);
    expect((await cli(DiskConvert, ['-O', 'qcow2', f('d.qcow2'), f('full.qcow2')])).code).toBe(0);
    expect((await cli(DiskBitmap, ['--add', f('d.qcow2'), 'inc'])).code).toBe(0);
    await cli(DiskIo, ['-c', 'write -P 0x5a 1M 64k', '-c', 'write -z 2M 64k', '-c', 'write -P 0x7 6M 4k', f('d.qcow2')]);
    const r = await cli(DiskConvert, ['-O', 'qcow2', '-B', f('full.qcow2'), '-F', 'qcow2', '--dirty-bitmap', 'inc', f('d.qcow2'), f('inc1.qcow2')]);
    expect(r.code, r.err).toBe(0);
    expect(run('qemu-img', ['compare', f('inc1.qcow2'), f('d.qcow2')]).code).toBe(0);
    expectClean(f('inc1.qcow2'));
    // What the increment itself holds (depth 0) is exactly the dirty extents QEMU exports.
    const m = JSON.parse(run('qemu-img', ['map', '--output=json', f('inc1.qcow2')]).out) as { start: number; length: number; depth: number }[];
    const own = merge(m.filter((e) => e.depth === 0).map((e) => ({ start: e.start, length: e.length, dirty: true })));
    expect(own).toEqual((await qemuDirty(f('d.qcow2'), 'inc', dir)).filter((e) => e.dirty));
    const noB = await cli(DiskConvert, ['-O', 'qcow2', '--dirty-bitmap', 'inc', f('d.qcow2'), f('x.qcow2')]);
    expect(noB.code).toBe(2);
    expect(noB.err).toContain('--dirty-bitmap needs -B');
  });

  it('follows a resize as QEMU does (bitmaps grow and shrink with the disk)', async () => {
    run('qemu-img', ['create', '-q', '-f', 'qcow2', f('g.qcow2'), '4M']);
    await cli(DiskBitmap, ['--add', '-g', '4k', f('g.qcow2'), 'b']);
    await cli(DiskIo, ['-c', 'write 3M 1M', f('g.qcow2')]);
    expect((await cli(DiskResize, [f('g.qcow2'), '6M'])).code).toBe(0);
    await cli(DiskIo, ['-c', 'write 5M 4k', f('g.qcow2')]);
    expectClean(f('g.qcow2'));
    const d = await vfabDirty(f('g.qcow2'), 'b');
    expect(d).toEqual(await qemuDirty(f('g.qcow2'), 'b', dir));
    expect(d.filter((e) => e.dirty)).toEqual([
      { start: 3 << 20, length: 1 << 20, dirty: true },
      { start: 5 << 20, length: 4096, dirty: true },
    ]);
    expect((await cli(DiskResize, ['--shrink', '-q', f('g.qcow2'), '2M'])).code).toBe(0);
    expectClean(f('g.qcow2'));
    expect(await vfabDirty(f('g.qcow2'), 'b')).toEqual(await qemuDirty(f('g.qcow2'), 'b', dir));
  });

  it('a writer that never closes leaves its bitmaps flagged in-use (inconsistent) as QEMU does; they can be removed', async () => {
    run('qemu-img', ['create', '-q', '-f', 'qcow2', f('c.qcow2'), '1M']);
    run('qemu-img', ['bitmap', '--add', f('c.qcow2'), 'b0']);
    // A child process opens the image, writes and dies without closing it.
    mkdirSync(join(dir, 'child'), { recursive: true });
    const script = join(dir, 'child', 'crash.mjs');
    const api = join(import.meta.dirname, '..', '..', 'dist', 'block', 'api.js');
    writeFileSync(script, `import { openImage } from ${JSON.stringify(api)};\nconst c = openImage(process.argv[2]);\nc.write(0, new Uint8Array(512).fill(7));\nprocess.exit(0);\n`);
    if (!existsSync(api)) return; // dist/ is built by npm ci; the in-process suites cover the rest
    expect(spawnSync(process.execPath, [script, f('c.qcow2')]).status).toBe(0);
    expect(qemuInfoBitmaps(f('c.qcow2'))).toEqual([{ flags: ['in-use', 'auto'], name: 'b0', granularity: 65536 }]);
    expect(await vfabInfoBitmaps(f('c.qcow2'))).toEqual(qemuInfoBitmaps(f('c.qcow2')));
    const use = await cli(DiskBitmap, ['--clear', f('c.qcow2'), 'b0']);
    expect(use.code).toBe(2);
    expect(use.err).toContain('inconsistent');
    expect((await cli(DiskBitmap, ['--remove', f('c.qcow2'), 'b0'])).code).toBe(0);
    expect(qemuInfoBitmaps(f('c.qcow2'))).toBeUndefined();
  });
});

describe('dirty bitmap bits', () => {
  it('markRange and dirtyExtents agree with a bit-per-granule model', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 9, max: 14 }),
        fc.integer({ min: 1, max: 1 << 18 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 1 << 16 })), { maxLength: 12 }),
        (gb, size, writes) => {
          const g = 2 ** gb;
          const n = Math.ceil(size / g);
          const bits = new Uint8Array(Math.ceil(n / 8));
          const model = new Array<boolean>(n).fill(false);
          for (const [o, l] of writes) {
            const off = o % size;
            const len = Math.min(l, size - off);
            markRange(bits, gb, off, len);
            for (let k = Math.floor(off / g); len > 0 && k <= Math.floor((off + len - 1) / g); k++) model[k] = true;
          }
          const ext = dirtyExtents(bits, gb, size);
          let pos = 0;
          for (const e of ext) {
            expect(e.start).toBe(pos);
            for (let b = e.start; b < e.start + e.length; b += g) expect(model[Math.floor(b / g)]).toBe(e.dirty);
            pos += e.length;
          }
          expect(pos).toBe(size);
          for (let i = 1; i < ext.length; i++) expect(ext[i]!.dirty).not.toBe(ext[i - 1]!.dirty);
        },
      ),
    );
  });

  it('stores and reloads the bits (memory images), enabled ones track writes, disabled ones do not', () => {
    const p = new MemoryProvider();
    createImage('m.qcow2', { size: 3 << 20, clusterSize: 512 }, p);
    bitmapVerb('m.qcow2', 'on', [{ op: 'add' }], { granularity: 512 }, p);
    bitmapVerb('m.qcow2', 'off', [{ op: 'add' }, { op: 'disable' }], {}, p);
    const c = openImage('m.qcow2', {}, p);
    c.write(1 << 20, new Uint8Array(1024));
    c.close();
    expect(bitmapExtents('m.qcow2', 'on', {}, p).filter((e) => e.dirty)).toEqual([{ start: 1 << 20, length: 1024, dirty: true }]);
    expect(bitmapExtents('m.qcow2', 'off', {}, p)).toEqual([{ start: 0, length: 3 << 20, dirty: false }]);
  });
});
