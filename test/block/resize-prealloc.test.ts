/**
 * `disk resize --preallocation=metadata|falloc|full` of qcow2 images against `qemu-img resize`
 * 7.2: both tools grow copies of the same qemu-img-made (and qemu-io-written) image; the files
 * must be byte-identical, and `map`/`info --output=json` and `check` must agree. Cases cover a
 * moved L1 table, new refcount blocks, moved refcount tables (512-byte clusters), 1- and 64-bit
 * refcounts, an old size inside a cluster (copied or allocated anew) and images that were already
 * preallocated. A cut write stream (the process dying at each write of the resize) must leave the
 * old image readable with at worst leaked clusters.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import DiskResize from '../../src/commands/disk/resize.js';
import { MemoryBackend } from '../../src/block/backend.js';
import { MemoryProvider } from '../../src/block/chain.js';
import { resizeImage } from '../../src/block/verbs.js';
import { errorMessage } from '../../src/errors.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

function run(tool: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

interface Case {
  mode: 'metadata' | 'falloc' | 'full';
  cs: number;
  old: number;
  size: number;
  refcountBits?: number;
  createPrealloc?: string;
  writes?: [number, number][];
}

describeWithTools(['qemu-img', 'qemu-io'], 'disk resize --preallocation (qcow2) vs qemu-img resize', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-resize-prealloc-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function base(c: Case, name: string): void {
    rmSync(f(name), { force: true });
    const o = `cluster_size=${c.cs},refcount_bits=${c.refcountBits ?? 16}${c.createPrealloc ? `,preallocation=${c.createPrealloc}` : ''}`;
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', o, f(name), String(c.old)]).code).toBe(0);
    for (const [off, len] of c.writes ?? []) expect(run('qemu-io', ['-c', `write -P 0x5a ${off} ${len}`, f(name)]).code).toBe(0);
  }

  async function compare(c: Case): Promise<void> {
    const what = JSON.stringify(c);
    base(c, 'q.qcow2');
    // Both made by qemu-img (a copy could turn allocated zeros into holes, which map would see).
    base(c, 'v.qcow2');
    const q = run('qemu-img', ['resize', '-q', `--preallocation=${c.mode}`, f('q.qcow2'), String(c.size)]);
    expect(q.code, `${what}: ${q.err}`).toBe(0);
    const v = await cli(DiskResize, ['-q', `--preallocation=${c.mode}`, f('v.qcow2'), String(c.size)]);
    expect(v.code, `${what}: ${v.err}`).toBe(0);
    const [qb, vb] = [readFileSync(f('q.qcow2')), readFileSync(f('v.qcow2'))];
    expect(vb.length, `${what}: file length`).toBe(qb.length);
    if (!vb.equals(qb)) {
      const at = vb.findIndex((x, i) => x !== qb[i]);
      expect.fail(`${what}: bytes differ first at 0x${at.toString(16)}`);
    }
    const map = (n: string): string => run('qemu-img', ['map', '--output=json', f(n)]).out;
    expect(map('v.qcow2'), `${what}: map`).toBe(map('q.qcow2'));
    const info = (n: string): Record<string, unknown> => {
      const j = JSON.parse(run('qemu-img', ['info', '--output=json', f(n)]).out) as Record<string, unknown>;
      delete j['actual-size'];
      delete j['filename'];
      return j;
    };
    expect(info('v.qcow2'), `${what}: info`).toEqual(info('q.qcow2'));
    const check = run('qemu-img', ['check', f('v.qcow2')]);
    expect(check.code, `${what}: check ${check.out}`).toBe(0);
    expect(check.out).toBe(run('qemu-img', ['check', f('q.qcow2')]).out);
  }

  it('metadata, falloc and full: L1 growth, new refcount blocks, moved refcount tables, partial clusters', async () => {
    const cases: Case[] = [
      { mode: 'metadata', cs: 65536, old: 1 << 20, size: 10 << 20 },
      { mode: 'falloc', cs: 65536, old: 1 << 20, size: 10 << 20 },
      { mode: 'full', cs: 65536, old: 1 << 20, size: 10 << 20 },
      // 512-byte clusters: the L1 table outgrows its cluster, the refcount table moves.
      { mode: 'metadata', cs: 512, old: 1 << 20, size: 20 << 20 },
      { mode: 'falloc', cs: 512, old: 1 << 20, size: 20 << 20 },
      { mode: 'metadata', cs: 512, old: 64 << 10, size: 64 << 20 },
      // The old end inside a written cluster (kept, or copied to the new run) and an empty one.
      { mode: 'metadata', cs: 512, old: 1000448, size: 20 << 20, writes: [[0, 1000448]] },
      { mode: 'full', cs: 512, old: 1000448, size: 20 << 20, writes: [[4096, 70000]] },
      { mode: 'full', cs: 65536, old: 1000448, size: 10 << 20, writes: [[0, 1000448]] },
      { mode: 'falloc', cs: 4096, old: 1000448, size: 300000256, writes: [[0, 5000]] },
      { mode: 'metadata', cs: 1024, old: 3000320, size: 50000384, refcountBits: 1 },
      { mode: 'full', cs: 1024, old: 3000320, size: 50000384, refcountBits: 64 },
      { mode: 'metadata', cs: 65536, old: 1 << 20, size: 10 << 20, createPrealloc: 'metadata' },
      { mode: 'full', cs: 65536, old: 1 << 20, size: 10 << 20, createPrealloc: 'full' },
      { mode: 'metadata', cs: 2 << 20, old: 10 << 20, size: 100 << 20 },
      { mode: 'metadata', cs: 65536, old: 0, size: 100 << 20 },
      { mode: 'full', cs: 65536, old: 512, size: 1024 },
      { mode: 'metadata', cs: 65536, old: 1 << 20, size: 1100000256 },
    ];
    for (const c of cases) await compare(c);
  }, 300_000);

  it('agrees with qemu-img on fast-check-chosen images and growths', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Case['mode']>('metadata', 'falloc', 'full'),
        fc.constantFrom(512, 1024, 4096, 65536),
        fc.integer({ min: 0, max: 8192 }),
        fc.integer({ min: 1, max: 16384 }),
        fc.constantFrom(1, 16, 64),
        fc.option(fc.tuple(fc.nat(4095), fc.integer({ min: 1, max: 200 })), { nil: undefined }),
        async (mode, cs, oldSectors, growSectors, refcountBits, w) => {
          const old = oldSectors * 512;
          const writes: [number, number][] = w && old > 0 ? [[Math.min(w[0] * 512, old - 512), Math.min(w[1] * 512, old - Math.min(w[0] * 512, old - 512))]] : [];
          await compare({ mode, cs, old, size: old + growSectors * 512, refcountBits, writes });
        },
      ),
      { numRuns: 16, seed: 1717 },
    );
  }, 300_000);

  it('shrinking with preallocation is refused as qemu-img refuses it, the image untouched', async () => {
    base({ mode: 'metadata', cs: 65536, old: 4 << 20, writes: [[0, 65536]] } as Case, 's.qcow2');
    const before = readFileSync(f('s.qcow2'));
    for (const mode of ['metadata', 'falloc', 'full']) {
      const q = run('qemu-img', ['resize', '--shrink', `--preallocation=${mode}`, f('s.qcow2'), '1M']);
      const v = await cli(DiskResize, ['--shrink', `--preallocation=${mode}`, f('s.qcow2'), '1M']);
      expect(q.code).toBe(1);
      expect(v.code, mode).toBe(1);
      expect(v.err).toContain(q.err.trim().split('\n').pop()!.replace(/^qemu-img: /, ''));
    }
    expect(readFileSync(f('s.qcow2')).equals(before)).toBe(true);
  });

  it('a resize cut at any write leaves the old image, at worst with leaked clusters', () => {
    class Cut extends MemoryBackend {
      dead = false;
      constructor(public left: number) {
        super('cut');
      }
      override pwrite(data: Uint8Array, offset: number): void {
        if (this.dead) return;
        if (this.left-- <= 0) {
          this.dead = true;
          throw new Error('cut');
        }
        super.pwrite(data, offset);
      }
      override truncate(length: number): void {
        if (!this.dead) super.truncate(length);
      }
    }
    const cases: Case[] = [
      { mode: 'metadata', cs: 512, old: 100352, size: 3 << 20, writes: [[0, 100352]] },
      { mode: 'full', cs: 512, old: 100352, size: 1 << 20, writes: [[4096, 70000]] },
      { mode: 'falloc', cs: 4096, old: 1000448, size: 10 << 20, writes: [[0, 1000448]] },
    ];
    for (const c of cases) {
      base(c, 'orig.qcow2');
      const orig = readFileSync(f('orig.qcow2'));
      const attempt = (n: number): Cut => {
        const be = new Cut(1);
        be.pwrite(orig, 0);
        be.left = n;
        try {
          resizeImage('img', c.size, { preallocation: c.mode }, new MemoryProvider(new Map([['img', be]])));
        } catch (e) {
          expect(errorMessage(e), `${c.mode} cut at ${n}`).toBe('cut');
        }
        return be;
      };
      const total = 1e9 - attempt(1e9).left;
      expect(total).toBeGreaterThan(3);
      // Every write near the phase switches, evenly spread cuts elsewhere (each costs a qemu-img check).
      const cuts = new Set<number>();
      for (let n = 0; n < total; n += Math.max(1, Math.floor(total / 40))) cuts.add(n);
      for (let n = Math.max(0, total - 12); n < total; n++) cuts.add(n);
      for (const n of cuts) {
        writeFileSync(f('cut.qcow2'), attempt(n).snapshotBytes());
        const check = run('qemu-img', ['check', f('cut.qcow2')]);
        expect([0, 3], `${JSON.stringify(c)} cut at write ${n}/${total}: ${check.out}`).toContain(check.code);
        // The guest bytes are the old ones (a grown tail reads zeros).
        const cmp = run('qemu-img', ['compare', f('orig.qcow2'), f('cut.qcow2')]);
        expect(cmp.code, `${JSON.stringify(c)} cut at write ${n}/${total}: ${cmp.out}${cmp.err}`).toBe(0);
      }
    }
  }, 300_000);
});
