/**
 * convert / compare / measure / resize against qemu-img 7.2 on the same images: outputs, exit
 * codes and the resulting images (qemu-img compare, check, map) must agree.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import DiskCompare from '../../src/commands/disk/compare.js';
import DiskConvert from '../../src/commands/disk/convert.js';
import DiskIo from '../../src/commands/disk/io.js';
import DiskMeasure from '../../src/commands/disk/measure.js';
import DiskResize from '../../src/commands/disk/resize.js';
import { MemoryProvider } from '../../src/block/chain.js';
import { createImage, openImage } from '../../src/block/api.js';
import { compareImages, convertImage, measureImage } from '../../src/block/verbs.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';



function qemu(tool: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

interface Ext {
  start: number;
  length: number;
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
  offset?: number;
}

/**
 * qemu-img map --output=json of a file, as qcow2 content: QEMU also reports holes of the host file
 * inside allocated clusters as `zero` (block status recurses into file-posix), and vfab keeps
 * all-zero file blocks of fresh clusters as holes while qemu-img convert writes them; so on data
 * extents the zero flag is dropped and host-contiguous neighbours merged. Everything else (which
 * clusters are allocated, as data or as zero clusters, at which depth and host offset) must match.
 */
function qmap(file: string, offsets = true): Ext[] {
  const out: Ext[] = [];
  for (const line of qemu('qemu-img', ['map', '--output=json', file]).out.split('\n')) {
    const t = line.replace(/^\[/, '').replace(/[,\]]$/, '').trim();
    if (t === '') continue;
    const e = JSON.parse(t) as Ext;
    if (e.data) e.zero = false;
    if (!offsets) delete e.offset;
    const prev = out.at(-1);
    if (
      prev &&
      prev.depth === e.depth &&
      prev.present === e.present &&
      prev.zero === e.zero &&
      prev.data === e.data &&
      (prev.offset === undefined ? e.offset === undefined : e.offset === prev.offset + prev.length)
    ) {
      prev.length += e.length;
    } else out.push(e);
  }
  return out;
}

describeWithTools(['qemu-img', 'qemu-io'], 'qemu-img verbs: convert, compare, measure, resize', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-verbs-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    process.exitCode = 0;
  });

  beforeAll(() => {
    // A chain made by QEMU: data and a written-zero data cluster in base; data and a zero cluster in top.
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', f('base.qcow2'), '10M']);
    qemu('qemu-io', ['-c', 'write -P 0xab 0 128k', '-c', 'write -P 0 1M 64k', '-c', 'write -P 0x11 3M 4k', f('base.qcow2')]);
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', f('top.qcow2')]);
    qemu('qemu-io', ['-c', 'write -P 0xcd 64k 64k', '-c', 'write -z 2M 64k', '-c', 'write -P 0x22 5M 8k', '-c', 'write -P 0 5M 4k', f('top.qcow2')]);
    mkdirSync(f('adir'));
  });

  it('convert -O qcow2 flattens the chain as qemu-img does (same map, identical content, clean check)', async () => {
    expect((await cli(DiskConvert, ['-O', 'qcow2', f('top.qcow2'), f('v.qcow2')])).code).toBe(0);
    qemu('qemu-img', ['convert', '-O', 'qcow2', f('top.qcow2'), f('q.qcow2')]);
    expect(qemu('qemu-img', ['compare', f('top.qcow2'), f('v.qcow2')]).code).toBe(0);
    expect(qemu('qemu-img', ['check', f('v.qcow2')]).code).toBe(0);
    expect(qmap(f('v.qcow2'))).toEqual(qmap(f('q.qcow2')));
    expect(qemu('qemu-img', ['compare', f('v.qcow2'), f('q.qcow2')]).code).toBe(0);
  });

  it('convert to raw (the default -O) gives the same bytes and holes as qemu-img', async () => {
    await cli(DiskConvert, [f('top.qcow2'), f('v.raw')]);
    qemu('qemu-img', ['convert', f('top.qcow2'), f('q.raw')]);
    expect(qemu('cmp', [f('v.raw'), f('q.raw')]).code).toBe(0);
    expect(qmap(f('v.raw'))).toEqual(qmap(f('q.raw')));
  });

  it('convert -B copies only what lies above the backing file, as qemu-img', async () => {
    await cli(DiskConvert, ['-O', 'qcow2', '-B', 'base.qcow2', '-F', 'qcow2', f('top.qcow2'), f('vb.qcow2')]);
    qemu('qemu-img', ['convert', '-O', 'qcow2', '-B', 'base.qcow2', '-F', 'qcow2', f('top.qcow2'), f('qb.qcow2')]);
    expect(qmap(f('vb.qcow2'))).toEqual(qmap(f('qb.qcow2')));
    expect(qemu('qemu-img', ['compare', f('top.qcow2'), f('vb.qcow2')]).code).toBe(0);
  });

  it('convert -S 0 allocates everything; -o cluster_size; -n with --target-is-zero', async () => {
    await cli(DiskConvert, ['-S', '0', '-O', 'qcow2', '-o', 'cluster_size=4k', f('top.qcow2'), f('vs.qcow2')]);
    qemu('qemu-img', ['convert', '-S', '0', '-O', 'qcow2', '-o', 'cluster_size=4k', f('top.qcow2'), f('qs.qcow2')]);
    // Host offsets differ past 8 MiB here: vfab places a refcount block earlier than QEMU does
    // (a layout choice; both images check clean), so only the allocation is compared.
    expect(qmap(f('vs.qcow2'), false)).toEqual(qmap(f('qs.qcow2'), false));
    expect(qemu('qemu-img', ['check', f('vs.qcow2')]).code).toBe(0);
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', f('vn.qcow2'), '10M']);
    expect((await cli(DiskConvert, ['-n', '--target-is-zero', '-O', 'qcow2', f('top.qcow2'), f('vn.qcow2')])).code).toBe(0);
    expect(qemu('qemu-img', ['compare', f('top.qcow2'), f('vn.qcow2')]).code).toBe(0);
    expect((await cli(DiskConvert, ['--target-is-zero', '-O', 'qcow2', f('top.qcow2'), f('vx.qcow2')])).code).toBe(2);
    // -c is supported now (test/block/compressed.test.ts); the flattened chain compares equal.
    expect((await cli(DiskConvert, ['-c', '-O', 'qcow2', f('top.qcow2'), f('vc.qcow2')])).code).toBe(0);
    expect(qemu('qemu-img', ['compare', f('top.qcow2'), f('vc.qcow2')]).code).toBe(0);
    expect(qemu('qemu-img', ['check', f('vc.qcow2')]).code).toBe(0);
  });

  it('compare prints qemu-img\'s lines and exit codes on the same pairs', async () => {
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', f('c1.qcow2'), '10M']);
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', f('c2.qcow2'), '12M']);
    qemu('qemu-io', ['-c', 'write -P 1 1000 1', f('c1.qcow2')]);
    copyFileSync(f('c1.qcow2'), f('c3.qcow2'));
    qemu('qemu-img', ['resize', '-q', f('c3.qcow2'), '12M']);
    copyFileSync(f('c2.qcow2'), f('c4.qcow2'));
    qemu('qemu-io', ['-c', 'write -P 1 11M 1', f('c4.qcow2')]);
    const pairs = [
      ['base.qcow2', 'top.qcow2'],
      ['c1.qcow2', 'c2.qcow2'],
      ['c2.qcow2', 'c1.qcow2'],
      ['c1.qcow2', 'c3.qcow2'],
      ['c3.qcow2', 'c4.qcow2'],
      ['top.qcow2', 'v.qcow2'],
      ['-s', 'top.qcow2', 'v.qcow2'],
      ['-s', 'c1.qcow2', 'c2.qcow2'],
      ['-s', 'v.qcow2', 'vb.qcow2'],
      ['-s', 'top.qcow2', 'qb.qcow2'],
      ['-s', 'base.qcow2', 'qb.qcow2'],
      ['-f', 'qcow2', '-F', 'raw', 'top.qcow2', 'v.raw'],
    ];
    for (const p of pairs) {
      const argv = p.map((a) => (a.includes('.') ? f(a) : a));
      const v = await cli(DiskCompare, argv);
      const q = qemu('qemu-img', ['compare', ...argv]);
      expect({ p, out: v.out, code: v.code }).toEqual({ p, out: q.out, code: q.code });
    }
  });

  it('measure: the numbers and JSON of qemu-img measure', async () => {
    const cases = [
      ['-O', 'qcow2', f('top.qcow2')],
      ['--size', '1G', '-O', 'qcow2'],
      ['--size', '1G', '-O', 'raw'],
      ['-O', 'raw', f('top.qcow2')],
      ['-O', 'qcow2', '-o', 'cluster_size=4k', f('top.qcow2')],
      ['--size', '100G', '-O', 'qcow2', '-o', 'cluster_size=2M,refcount_bits=1'],
      ['--size', '7T', '-O', 'qcow2', '-o', 'cluster_size=512k,refcount_bits=64'],
      ['--size', '123456789', '-O', 'qcow2', '-o', 'cluster_size=512'],
    ];
    for (const c of cases) {
      for (const o of ['--output=human', '--output=json']) {
        const v = await cli(DiskMeasure, [o, ...c]);
        const q = qemu('qemu-img', ['measure', o, ...c]);
        expect({ c, o, out: v.out }).toEqual({ c, o, out: q.out });
      }
    }
  });

  it('resize grows (moving the L1 table) and shrinks as qemu-img does; without --shrink exit 1', async () => {
    for (const size of ['+2M', '10T', '1G', '--shrink 64k']) {
      const argv = size.split(' ');
      copyFileSync(f('top.qcow2'), f('rv.qcow2'));
      copyFileSync(f('top.qcow2'), f('rq.qcow2'));
      const v = await cli(DiskResize, [...argv.slice(0, -1), f('rv.qcow2'), argv.at(-1)!]);
      const q = qemu('qemu-img', ['resize', ...argv.slice(0, -1), f('rq.qcow2'), argv.at(-1)!]);
      expect(v.out).toBe(q.out);
      expect(v.code).toBe(q.code);
      expect(qemu('qemu-img', ['check', f('rv.qcow2')]).code).toBe(0);
      expect(qemu('qemu-img', ['compare', '-s', f('rv.qcow2'), f('rq.qcow2')]).out).toBe('Images are identical.\n');
    }
    copyFileSync(f('top.qcow2'), f('rv.qcow2'));
    copyFileSync(f('top.qcow2'), f('rq.qcow2'));
    const r = await cli(DiskResize, [f('rv.qcow2'), '1M']);
    expect(r.code).toBe(qemu('qemu-img', ['resize', f('rq.qcow2'), '1M']).code);
    expect(r.err).toContain('Use the --shrink option to perform a shrink operation.');
  });

  it('a plain grow writes the image qemu-img writes, byte for byte, on every cluster size (header fields only, L1 of exact length, refcount blocks placed as QEMU places them)', async () => {
    // Before: the whole header was rewritten (a feature-name table QEMU leaves out of 4 KiB
    // clusters appeared), the new L1 was padded to a cluster, and with 512-byte clusters a grow
    // past ~600M needed a run of clusters longer than one refcount block covers and never ended.
    for (const [cs, sizes] of [
      [512, ['4M', '3G']],
      [1024, ['4M', '100M']],
      [4096, ['4M', '100M']],
      [65536, ['100M', '3G']],
      [2097152, ['3G']],
    ] as const) {
      for (const size of sizes) {
        qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `cluster_size=${cs}`, f('gq.qcow2'), '1M']);
        qemu('qemu-io', ['-c', 'write -P 7 0 64k', '-c', 'write -P 9 900k 100k', f('gq.qcow2')]);
        copyFileSync(f('gq.qcow2'), f('gv.qcow2'));
        expect(qemu('qemu-img', ['resize', '-q', f('gq.qcow2'), size]).code).toBe(0);
        expect((await cli(DiskResize, [f('gv.qcow2'), size])).code).toBe(0);
        expect({ cs, size, same: Buffer.compare(readFileSync(f('gv.qcow2')), readFileSync(f('gq.qcow2'))) === 0 }).toEqual({ cs, size, same: true });
      }
    }
  }, 240_000);

  it('a grow that needs no new L1 leaves a damaged L1 offset alone, as qemu-img does (no 1 TiB sparse file)', async () => {
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', f('fq.qcow2'), '8M']);
    const b = readFileSync(f('fq.qcow2'));
    b.writeBigUInt64BE(1n << 40n, 40); // l1_table_offset far past the end of the file
    writeFileSync(f('fq.qcow2'), b);
    copyFileSync(f('fq.qcow2'), f('fv.qcow2'));
    expect(qemu('qemu-img', ['resize', '-q', f('fq.qcow2'), '16M']).code).toBe(0);
    expect((await cli(DiskResize, [f('fv.qcow2'), '16M'])).code).toBe(0);
    expect(statSync(f('fv.qcow2')).size).toBe(statSync(f('fq.qcow2')).size);
    expect(Buffer.compare(readFileSync(f('fv.qcow2')), readFileSync(f('fq.qcow2')))).toBe(0);
  });

  it('qemu-io order: -c before FILE works (the flag no longer swallows the file name)', async () => {
    const ok = await cli(DiskIo, ['-c', 'read -P 0xcd 64k 64k', f('top.qcow2')]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('read 65536/65536 bytes at offset 65536');
    expect((await cli(DiskIo, ['-c', 'read -P 0xee 64k 64k', f('top.qcow2')])).code).toBe(1);
  });

  it('bad input: a directory or a missing file is exit 2 naming the file, no stack', async () => {
    for (const [cmd, argv] of [
      [DiskConvert, [f('adir'), f('o.qcow2')]],
      [DiskConvert, [f('missing.qcow2'), f('o.qcow2')]],
      [DiskCompare, [f('missing.qcow2'), f('top.qcow2')]],
      [DiskMeasure, ['-O', 'qcow2', f('adir')]],
      [DiskResize, [f('missing.qcow2'), '1G']],
      [DiskMeasure, ['-O', 'qcow2']],
    ] as const) {
      const r = await cli(cmd, [...argv]);
      expect(r.code).toBe(2);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });
});

it('convert then compare in memory: the flattened copy reads as the chain (library level)', () => {
  const p = new MemoryProvider();
  createImage('b', { size: 4 << 20 }, p);
  const b = openImage('b', {}, p);
  b.write(0, new Uint8Array(70000).fill(7));
  b.close();
  createImage('t', { backingFile: 'b', backingFormat: 'qcow2' }, p);
  const t = openImage('t', {}, p);
  t.write(65536, new Uint8Array(4096).fill(9));
  t.close();
  convertImage('t', 'flat', { outFormat: 'qcow2' }, p);
  expect(compareImages('t', 'flat', {}, p).code).toBe(0);
  const fl = openImage('flat', {}, p);
  fl.write(3 << 20, new Uint8Array([1]));
  fl.close();
  expect(compareImages('t', 'flat', {}, p).lines).toEqual([`Content mismatch at offset ${3 << 20}!`]);
  expect(measureImage(undefined, { outFormat: 'qcow2', size: 1 << 30 }, p)).toEqual({ required: 393216, 'fully-allocated': 1074135040 });
});
