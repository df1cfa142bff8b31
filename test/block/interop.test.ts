import { execFileSync, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { checkImage, commitImage, createImage, imageInfo, openImage, rebaseImage, snapshotImage } from '../../src/block/api.js';
import type { MapExtent } from '../../src/block/image.js';
import { formatMapHuman } from '../../src/block/map-format.js';
import { runIoCommands } from '../../src/block/qemu-io.js';
import { describeWithTools } from '../helpers/tools.js';

const MiB = 1 << 20;

function qemu(tool: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function vfabIo(file: string, cmds: string[]): boolean {
  const c = openImage(file);
  try {
    return !runIoCommands(c, cmds).failed;
  } finally {
    c.close();
  }
}

function qemuIo(file: string, cmds: string[]): void {
  execFileSync('qemu-io', ['-f', 'qcow2', ...cmds.flatMap((c) => ['-c', c]), file]);
}

/** vfab's map of `img`: JSON shaped like qemu-img's (no vfab extras) and the human form. */
function ourMap(img: string): { json: Omit<MapExtent, 'file'>[]; human: string } {
  const c = openImage(img, { readOnly: true, forceShare: true });
  try {
    const map = c.allocationMap();
    return { json: map.map(({ file: _f, ...e }) => e), human: formatMapHuman(map) };
  } finally {
    c.close();
  }
}

/** Both tools map `img` the same, field for field, in JSON and in the human form. */
function expectSameMap(img: string): Omit<MapExtent, 'file'>[] {
  const ours = ourMap(img);
  const theirs = JSON.parse(execFileSync('qemu-img', ['map', '--output=json', img], { encoding: 'utf8' })) as unknown;
  expect(ours.json, img).toEqual(theirs);
  expect(ours.human, img).toBe(execFileSync('qemu-img', ['map', img], { encoding: 'utf8' }));
  return ours.json;
}

describeWithTools(['qemu-img', 'qemu-io'], 'interop with qemu-img and qemu-io', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-interop-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('vfab images pass qemu-img check and qemu-img info shows size, backing chain and snapshots', () => {
    createImage(f('base.qcow2'), { size: 1 << 30 });
    createImage(f('mid.qcow2'), { backingFile: 'base.qcow2', backingFormat: 'qcow2', clusterSize: 4096 });
    createImage(f('top.qcow2'), { size: 2 * 1024 ** 3, backingFile: 'mid.qcow2', backingFormat: 'qcow2' });
    expect(vfabIo(f('base.qcow2'), ['write -P 0x11 0 1M', 'write -P 0x12 700M 64k'])).toBe(true);
    expect(vfabIo(f('mid.qcow2'), ['write -P 0x21 512k 8k', 'write -z 700M 4k', 'discard 0 64k'])).toBe(true);
    expect(vfabIo(f('top.qcow2'), ['write -P 0x31 100k 3000', 'write -P 0x32 1500M 64k'])).toBe(true);
    snapshotImage(f('top.qcow2'), { create: 'first' });
    expect(vfabIo(f('top.qcow2'), ['write -P 0x33 100k 100'])).toBe(true);
    snapshotImage(f('top.qcow2'), { create: 'second' });
    for (const n of ['base.qcow2', 'mid.qcow2', 'top.qcow2']) {
      const r = qemu('qemu-img', ['check', f(n)]);
      expect(r.out, n).toContain('No errors were found on the image.');
      expect(r.code).toBe(0);
    }
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--backing-chain', '--output=json', f('top.qcow2')], { encoding: 'utf8' })) as Record<string, unknown>[];
    expect(info.map((i) => i['filename'])).toEqual([f('top.qcow2'), f('mid.qcow2'), f('base.qcow2')]);
    expect(info.map((i) => i['virtual-size'])).toEqual([2 * 1024 ** 3, 1 << 30, 1 << 30]);
    expect(info.map((i) => i['cluster-size'])).toEqual([65536, 4096, 65536]);
    expect(info[0]!['backing-filename']).toBe('mid.qcow2');
    expect(info[0]!['backing-filename-format']).toBe('qcow2');
    expect((info[0]!['snapshots'] as { name: string }[]).map((s) => s.name)).toEqual(['first', 'second']);
    const ours = imageInfo(f('top.qcow2'), { backingChain: true });
    expect(ours.map((i) => [i.filename, i['virtual-size'], i['backing-filename']])).toEqual(info.map((i) => [i['filename'], i['virtual-size'], i['backing-filename']]));
  });

  it('patterns written by vfab read back with qemu-io -c "read -P", and a wrong pattern fails there', () => {
    const top = f('top.qcow2');
    const ok = qemu('qemu-io', ['-r', '-f', 'qcow2', '-c', 'read -P 0 0 64k', '-c', 'read -P 0x11 64k 36k', '-c', 'read -P 0x33 100k 100', '-c', 'read -P 0x31 102500 572', '-c', 'read -P 0x21 512k 8k', '-c', 'read -P 0 700M 4k', '-c', 'read -P 0x12 734007296 61440', '-c', 'read -P 0x32 1500M 64k', '-c', 'read -P 0 1G 1M', top]);
    expect(ok.out).not.toContain('Pattern verification failed');
    expect(ok.code).toBe(0);
    const bad = qemu('qemu-io', ['-r', '-f', 'qcow2', '-c', 'read -P 0x99 0 4k', top]);
    expect(bad.out).toContain('Pattern verification failed');
  });

  it('patterns written by qemu-io read back in vfab (chains, zero clusters, discards)', () => {
    const b = f('q-base.qcow2');
    const t = f('q-top.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', b, '256M']);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=16k', '-b', 'q-base.qcow2', '-F', 'qcow2', t]);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x41 0 2M', '-c', 'write -P 0x42 100M 64k', b]);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x43 1M 5000', '-c', 'write -z 100M 32k', '-c', 'discard 64k 16k', t]);
    const c = openImage(t, { readOnly: true });
    const r = runIoCommands(c, ['read -P 0x41 0 64k', 'read -P 0 64k 16k', 'read -P 0x41 80k 944k', 'read -P 0x43 1M 5000', 'read -P 0x41 1053576 1043576', 'read -P 0 100M 32k', 'read -P 0x42 104890368 32k', 'read -P 0 200M 1M']);
    c.close();
    expect(r.lines.filter((l) => l.startsWith('Pattern'))).toEqual([]);
    expect(r.failed).toBe(false);
  });

  it('qemu-img compare finds a vfab chain identical to the same writes done by qemu-io', () => {
    const writes = ['write -P 0x51 0 300k', 'write -P 0x52 5M 4k', 'write -z 100k 64k', 'write -P 0x53 9000 1000', 'discard 128k 128k', 'write -P 0x54 31M 1M'];
    // vfab: base + overlay; qemu: the same in its own files.
    for (const who of ['v', 'q'] as const) {
      const base = f(`${who}-cmp-base.qcow2`);
      const top = f(`${who}-cmp-top.qcow2`);
      if (who === 'v') {
        createImage(base, { size: 32 * MiB });
        createImage(top, { backingFile: base, backingFormat: 'qcow2' });
        expect(vfabIo(base, writes.slice(0, 3))).toBe(true);
        expect(vfabIo(top, writes.slice(3))).toBe(true);
      } else {
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '32M']);
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', top]);
        execFileSync('qemu-io', ['-f', 'qcow2', ...writes.slice(0, 3).flatMap((w) => ['-c', w]), base]);
        execFileSync('qemu-io', ['-f', 'qcow2', ...writes.slice(3).flatMap((w) => ['-c', w]), top]);
      }
    }
    const r = qemu('qemu-img', ['compare', f('v-cmp-top.qcow2'), f('q-cmp-top.qcow2')]);
    expect(r.out).toContain('Images are identical.');
    expect(r.code).toBe(0);
    // And after vfab commits its overlay, the base alone still matches qemu's chain.
    commitImage(f('v-cmp-top.qcow2'));
    expect(qemu('qemu-img', ['compare', f('v-cmp-base.qcow2'), f('q-cmp-top.qcow2')]).code).toBe(0);
    expect(qemu('qemu-img', ['check', f('v-cmp-base.qcow2')]).code).toBe(0);
    // A real difference is reported.
    expect(vfabIo(f('v-cmp-base.qcow2'), ['write -P 0x99 20M 512'])).toBe(true);
    const d = qemu('qemu-img', ['compare', f('v-cmp-base.qcow2'), f('q-cmp-top.qcow2')]);
    expect(d.code).toBe(1);
    expect(d.out).toContain(`Content mismatch at offset ${20 * MiB}!`);
  });

  it('internal snapshots made by either tool are listed and applied by the other', () => {
    const v = f('snap-v.qcow2');
    createImage(v, { size: 64 * MiB });
    expect(vfabIo(v, ['write -P 0x61 0 128k'])).toBe(true);
    snapshotImage(v, { create: 'vs1' });
    expect(vfabIo(v, ['write -P 0x62 0 64k'])).toBe(true);
    expect(qemu('qemu-img', ['snapshot', '-l', v]).out).toMatch(/1\s+vs1/);
    expect(qemu('qemu-img', ['snapshot', '-a', 'vs1', v]).code).toBe(0);
    expect(qemu('qemu-io', ['-r', '-f', 'qcow2', '-c', 'read -P 0x61 0 128k', v]).code).toBe(0);
    expect(qemu('qemu-img', ['check', v]).code).toBe(0);

    const q = f('snap-q.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', q, '64M']);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x71 0 128k', q]);
    execFileSync('qemu-img', ['snapshot', '-c', 'qs1', q]);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x72 64k 64k', q]);
    execFileSync('qemu-img', ['snapshot', '-c', 'qs2', q]);
    expect(snapshotImage(q, { list: true }).map((s) => s.name)).toEqual(['qs1', 'qs2']);
    snapshotImage(q, { apply: 'qs1' });
    expect(vfabIo(q, ['read -P 0x71 0 128k'])).toBe(true);
    snapshotImage(q, { delete: 'qs2' });
    expect(checkImage(q).messages).toEqual([]);
    const r = qemu('qemu-img', ['check', q]);
    expect(r.out).toContain('No errors were found on the image.');
    expect(qemu('qemu-img', ['snapshot', '-l', q]).out).not.toContain('qs2');
  });

  it('qemu-img map and vfab disk map agree field for field on the chains built above', () => {
    for (const img of [f('top.qcow2'), f('q-top.qcow2'), f('mid.qcow2'), f('base.qcow2')]) expectSameMap(img);
  });

  it('a 4 KiB write into an overlay over an empty backing range maps as 4 KiB of data, then holes read as zero:true,data:true (issue 4 item 8)', () => {
    // Relative names, as typed in a shell: qemu prints backing files relative to the overlay's name.
    const rel = (n: string): string => relative(process.cwd(), f(n));
    createImage(rel('i8-base.qcow2'), { size: 1 << 30 });
    expect(vfabIo(rel('i8-base.qcow2'), ['write -P 0xab 0 64k'])).toBe(true);
    createImage(rel('i8-top.qcow2'), { size: 1 << 30, backingFile: 'i8-base.qcow2', backingFormat: 'qcow2' });
    expect(vfabIo(rel('i8-top.qcow2'), ['write -P 0xcd 1M 4k'])).toBe(true);
    const map = expectSameMap(rel('i8-top.qcow2'));
    expect(map.slice(2, 4)).toEqual([
      { start: MiB, length: 4096, depth: 0, present: true, zero: false, data: true, offset: 327680 },
      { start: MiB + 4096, length: 61440, depth: 0, present: true, zero: true, data: true, offset: 331776 },
    ]);
    expect(ourMap(rel('i8-top.qcow2')).human.split('\n')[2]).toBe(`0x100000        0x1000          0x50000         ${rel('i8-top.qcow2')}`);
  });

  it('chains of depth 2 and 3 written by vfab map the same in both tools (cluster edges, discard, write -z, whole clusters, zero data)', () => {
    mkdirSync(f('sub'));
    createImage(f('c-base.qcow2'), { size: 64 * MiB });
    expect(vfabIo(f('c-base.qcow2'), ['write -P 0x11 0 1M', 'write -P 0x12 5M 100', 'write -P 0 8M 64k', 'write -P 0x13 10M 128k'])).toBe(true);
    createImage(f('c-mid.qcow2'), { backingFile: 'c-base.qcow2', backingFormat: 'qcow2', clusterSize: 4096 });
    expect(vfabIo(f('c-mid.qcow2'), ['write -P 0x21 60k 8k', 'write -z 10M 64k', 'discard 0 64k', 'write -P 0x22 20M 3000'])).toBe(true);
    createImage(f('sub/c-top.qcow2'), { backingFile: '../c-mid.qcow2', backingFormat: 'qcow2' });
    expect(vfabIo(f('sub/c-top.qcow2'), ['write -P 0x31 100k 3000', 'write -P 0x32 30M 64k', 'write -P 0x33 5M 4k', 'write -z 40M 10k', 'write -P 0x34 65532 8', 'write -P 0 50M 4k'])).toBe(true);
    for (const n of ['c-base.qcow2', 'c-mid.qcow2', 'sub/c-top.qcow2']) expectSameMap(f(n));
    // A raw backing: its holes are zero:true,data:false in both tools.
    createImage(f('r-base.raw'), { format: 'raw', size: 16 * MiB });
    expect(vfabIo(f('r-base.raw'), ['write -P 0x41 0 100k', 'write -P 0x42 1M 5000'])).toBe(true);
    createImage(f('r-top.qcow2'), { backingFile: 'r-base.raw', backingFormat: 'raw' });
    expect(vfabIo(f('r-top.qcow2'), ['write -P 0x43 2M 4k', 'write -P 0x44 96k 8k'])).toBe(true);
    expect(expectSameMap(f('r-top.qcow2')).some((e) => e.depth === 1 && e.zero && !e.data)).toBe(true);
  });

  it('images written by qemu-io map the same in vfab (zero clusters with and without host offset, COW over data)', () => {
    const [b, m, t] = [f('qi-base.qcow2'), f('qi-mid.qcow2'), f('qi-top.qcow2')];
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', b, '64M']);
    qemuIo(b, ['write -P 0x11 0 1M', 'write -P 0x12 5M 100', 'write -P 0x13 10M 128k', 'write -P 0x14 12M 64k', 'write -z 12M 64k']);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', '-b', b, '-F', 'qcow2', m]);
    qemuIo(m, ['write -P 0x21 60k 8k', 'write -z 10M 64k', 'discard 0 64k', 'write -P 0x22 20M 3000']);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', m, '-F', 'qcow2', t]);
    qemuIo(t, ['write -P 0x31 100k 3000', 'write -P 0x32 30M 64k', 'write -P 0x33 5M 4k', 'write -z 40M 10k', 'write -P 0x34 65532 8', 'write -P 0x35 12M 4k']);
    for (const img of [b, m, t]) expectSameMap(img);
    // `write -z` over allocated data keeps the host cluster (ZERO_ALLOC): zero, with an offset.
    expect(ourMap(b).json.find((e) => e.start === 12 * MiB)).toMatchObject({ zero: true, data: false, offset: expect.any(Number) });
    // A small qemu overlay: qemu writes its metadata clusters whole, so the file does not look
    // metadata-preallocated and neither tool looks for holes in data clusters (zero bytes there
    // still map zero:false).
    const s = f('qi-small.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', b, '-F', 'qcow2', s]);
    qemuIo(s, ['write -P 0x51 3M 4k', `write -P 0x52 ${3 * MiB + 20480} 512`]);
    expect(expectSameMap(s).filter((e) => e.depth === 0).map((e) => [e.start - 3 * MiB, e.length, e.zero])).toEqual([[0, 65536, false]]);
  });

  it('random vfab write/zero/discard sequences on random chains map exactly as qemu-img maps them (property)', () => {
    // Non-zero patterns and whole-cluster zeroing: zero bytes over data are the documented difference.
    const SIZE = 8 * MiB;
    const op = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 0, max: SIZE / 512 - 1 }), fc.constantFrom(512, 3000, 4096, 8192, 65536, 131072), fc.integer({ min: 1, max: 255 })).map(([s, n, v]) => `write -P ${v} ${s * 512} ${Math.min(n, SIZE - s * 512)}`) },
      { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: SIZE / 65536 - 2 }), fc.integer({ min: 1, max: 2 }), fc.boolean()).map(([c, k, z]) => `${z ? 'write -z' : 'discard'} ${c * 65536} ${k * 65536}`) },
    );
    const layer = fc.record({ cs: fc.constantFrom(4096, 16384, 65536), ops: fc.array(op, { minLength: 1, maxLength: 6 }) });
    let run = 0;
    fc.assert(
      fc.property(fc.array(layer, { minLength: 1, maxLength: 3 }), (layers) => {
        run++;
        const names = layers.map((_, d) => f(`p${run}-${d}.qcow2`));
        layers.forEach((l, d) => {
          createImage(names[d]!, { size: SIZE, clusterSize: l.cs, ...(d > 0 ? { backingFile: `p${run}-${d - 1}.qcow2`, backingFormat: 'qcow2' as const } : {}) });
          expect(vfabIo(names[d]!, l.ops)).toBe(true);
        });
        for (const n of names) expectSameMap(n);
      }),
      { numRuns: 12, seed: 4242 },
    );
  });

  it('write -z of part of a cluster makes a zero cluster when the rest reads as zero, as qemu-io does', () => {
    const ops = ['write -P 1 64k 4k', 'write -z 1M 512', 'write -z 64k 512', 'write -z 2M 70000', 'write -P 3 4M 64k', 'write -z 4M 100'];
    const v = f('wz-v.qcow2');
    const q = f('wz-q.qcow2');
    createImage(v, { size: 8 * MiB });
    expect(vfabIo(v, ops)).toBe(true);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', q, '8M']);
    qemuIo(q, ops);
    // Same clusters and kinds; the zero flag inside data extents depends on each file's sparseness.
    const shape = (img: string): string[] => {
      const out: { start: number; length: number; key: string }[] = [];
      for (const e of JSON.parse(execFileSync('qemu-img', ['map', '--output=json', img], { encoding: 'utf8' })) as MapExtent[]) {
        const key = `${e.depth}/${e.present}/${e.data}/${e.data ? '' : e.zero}`;
        const prev = out[out.length - 1];
        if (prev && prev.key === key) prev.length += e.length;
        else out.push({ start: e.start, length: e.length, key });
      }
      return out.map((e) => `${e.start}+${e.length}:${e.key}`);
    };
    expect(shape(v)).toEqual(shape(q));
    expect(shape(v)).toContain(`${MiB}+65536:0/true/false/true`);
    expect(shape(v)).toContain(`${2 * MiB}+131072:0/true/false/true`);
    expect(qemu('qemu-img', ['compare', v, q]).code).toBe(0);
    expectSameMap(v);
  });

  it('the known difference: zeros written as bytes over data read zero:true in vfab, zero:false in qemu-img', () => {
    const img = f('zw.qcow2');
    createImage(img, { size: 16 * MiB });
    expect(vfabIo(img, ['write -P 0x61 0 64k', 'write -P 0 0 4k'])).toBe(true);
    const theirs = JSON.parse(execFileSync('qemu-img', ['map', '--output=json', img], { encoding: 'utf8' })) as MapExtent[];
    const ours = ourMap(img).json;
    expect(theirs[0]).toEqual({ start: 0, length: 65536, depth: 0, present: true, zero: false, data: true, offset: theirs[0]!.offset });
    expect(ours.slice(0, 2)).toEqual([
      { start: 0, length: 4096, depth: 0, present: true, zero: true, data: true, offset: theirs[0]!.offset },
      { start: 4096, length: 61440, depth: 0, present: true, zero: false, data: true, offset: theirs[0]!.offset! + 4096 },
    ]);
    expect(ours.slice(2)).toEqual(theirs.slice(1));
  });

  it('a rebase by vfab keeps the content qemu sees', () => {
    const t = f('q-top.qcow2');
    const before = f('flat-before.qcow2');
    execFileSync('qemu-img', ['convert', '-O', 'qcow2', t, before]);
    rebaseImage(t, undefined);
    expect(qemu('qemu-img', ['compare', t, before]).code).toBe(0);
    expect(qemu('qemu-img', ['check', t]).code).toBe(0);
    expect(qemu('qemu-img', ['info', t]).out).not.toContain('backing file');
  });
});
