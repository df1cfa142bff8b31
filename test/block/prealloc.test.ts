/**
 * `disk create -o preallocation=metadata|falloc|full` against `qemu-img create` 7.2: for sizes and
 * cluster sizes fast-check picks, both images must have the same file length, the same
 * `qemu-img map --output=json` (which also sees which file blocks hold bytes), the same
 * `qemu-img check` output, the same `info` JSON (disk size aside) and — from the end of the
 * header cluster's first 512 bytes on — the same bytes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import DiskCreate from '../../src/commands/disk/create.js';
import DiskResize from '../../src/commands/disk/resize.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

function qemu(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describeWithTools(['qemu-img'], 'disk create -o preallocation vs qemu-img create', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-prealloc-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function compare(mode: string, cs: number, size: number, extra = ''): Promise<void> {
    const what = `${mode} cluster_size=${cs} size=${size}${extra}`;
    rmSync(f('q.qcow2'), { force: true });
    rmSync(f('v.qcow2'), { force: true });
    const o = `preallocation=${mode},cluster_size=${cs}${extra}`;
    expect(qemu(['create', '-q', '-f', 'qcow2', '-o', o, f('q.qcow2'), String(size)]).code, what).toBe(0);
    const v = await cli(DiskCreate, ['-q', '-f', 'qcow2', '-o', o, f('v.qcow2'), String(size)]);
    expect(v.code, `${what}: ${v.err}`).toBe(0);
    expect(statSync(f('v.qcow2')).size, `${what}: file length`).toBe(statSync(f('q.qcow2')).size);
    const map = (n: string): string => qemu(['map', '--output=json', f(n)]).out;
    expect(map('v.qcow2'), `${what}: map`).toBe(map('q.qcow2'));
    const check = (n: string): string => qemu(['check', f(n)]).out;
    expect(check('v.qcow2'), `${what}: check`).toBe(check('q.qcow2'));
    const info = (n: string): Record<string, unknown> => {
      const j = JSON.parse(qemu(['info', '--output=json', f(n)]).out) as Record<string, unknown>;
      delete j['actual-size']; // depends on the file system
      delete j['filename'];
      return j;
    };
    expect(info('v.qcow2'), `${what}: info`).toEqual(info('q.qcow2'));
    // Below 8 KiB clusters qemu-img leaves out the feature-name table; vfab's header keeps it
    // (a header-writer difference older than preallocation): compare after the first 512 bytes.
    expect(Buffer.compare(readFileSync(f('v.qcow2')).subarray(512), readFileSync(f('q.qcow2')).subarray(512)), `${what}: bytes`).toBe(0);
  }

  it('metadata: the layout of refcount blocks, moved refcount tables and the partial last cluster', async () => {
    // 512-byte clusters move the refcount table twice by 70 MiB: the case a closed formula gets wrong.
    for (const [cs, size] of [[512, 70 << 20], [512, 33 << 20], [512, 307200], [65536, 1049088], [2 << 20, 5120], [4096, 0]] as const) {
      await compare('metadata', cs, size);
    }
  }, 120_000);

  it('metadata, falloc and full agree with qemu-img on fast-check-chosen sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('metadata', 'falloc', 'full'),
        fc.constantFrom(512, 1024, 4096, 65536, 2 << 20),
        fc.integer({ min: 0, max: 40 * 2048 }),
        fc.constantFrom('', ',refcount_bits=1', ',refcount_bits=64'),
        async (mode, cs, sectors, extra) => {
          // falloc/full write every data byte: keep them small.
          const size = mode === 'metadata' ? sectors * 512 : (sectors % 4096) * 512;
          await compare(mode, cs, size, extra);
        },
      ),
      { numRuns: 14, seed: 17 },
    );
  }, 240_000);

  it('extended_l2=on with metadata, falloc and full: allocated clusters with a zero subcluster bitmap, as qemu-img writes them', async () => {
    // qcow2_alloc_cluster_link_l2 leaves the bitmap alone for preallocation; with a partial last
    // cluster the file ends after that cluster's last copied-on-write subcluster.
    for (const [mode, cs, size] of [
      ['metadata', 65536, 3 << 20],
      ['metadata', 65536, (3 << 20) + 512],
      ['metadata', 65536, (3 << 20) + 4096],
      ['falloc', 65536, (3 << 20) + 512],
      ['full', 16384, 1000448],
      ['metadata', 16384, 300000256],
      ['metadata', 2 << 20, 5120],
      ['falloc', 65536, 0],
    ] as const) {
      await compare(mode, cs, size, ',extended_l2=on');
    }
    // With a backing file (allowed with subclusters): the same bytes, and the guest reads the backing data.
    expect(qemu(['create', '-q', '-f', 'qcow2', f('xb.qcow2'), '1M']).code).toBe(0);
    expect(spawnSync('qemu-io', ['-c', 'write -P 0x33 0 1M', f('xb.qcow2')]).status).toBe(0);
    const o = 'extended_l2=on,preallocation=metadata';
    expect(qemu(['create', '-q', '-f', 'qcow2', '-b', f('xb.qcow2'), '-F', 'qcow2', '-o', o, f('xq.qcow2'), '2M']).code).toBe(0);
    const v = await cli(DiskCreate, ['-q', '-f', 'qcow2', '-b', f('xb.qcow2'), '-F', 'qcow2', '-o', o, f('xv.qcow2'), '2M']);
    expect(v.code, v.err).toBe(0);
    expect(readFileSync(f('xv.qcow2')).equals(readFileSync(f('xq.qcow2')))).toBe(true);
    expect(qemu(['compare', f('xv.qcow2'), f('xb.qcow2')]).code).toBe(0);
  }, 120_000);

  it('raw: falloc and full allocate the file; metadata and unknown modes are refused as qemu-img refuses them', async () => {
    for (const mode of ['falloc', 'full']) {
      const v = await cli(DiskCreate, ['-q', '-f', 'raw', '-o', `preallocation=${mode}`, f(`r-${mode}.raw`), '1M']);
      expect(v.code, v.err).toBe(0);
      expect(qemu(['create', '-q', '-f', 'raw', '-o', `preallocation=${mode}`, f(`rq-${mode}.raw`), '1M']).code).toBe(0);
      const map = (n: string): string => qemu(['map', '--output=json', '-f', 'raw', f(n)]).out;
      expect(map(`r-${mode}.raw`), mode).toBe(map(`rq-${mode}.raw`));
      expect(statSync(f(`r-${mode}.raw`)).size).toBe(1 << 20);
      if (mode === 'full') expect(statSync(f(`r-${mode}.raw`)).blocks * 512).toBeGreaterThanOrEqual(1 << 20);
    }
    for (const [fmt, mode] of [['raw', 'metadata'], ['qcow2', 'bogus'], ['raw', 'sparse']]) {
      const q = qemu(['create', '-q', '-f', fmt!, '-o', `preallocation=${mode}`, f(`q-${mode}.img`), '1M']);
      const v = await cli(DiskCreate, ['-q', '-f', fmt!, '-o', `preallocation=${mode}`, f(`v-${mode}.img`), '1M']);
      expect(v.code, `${fmt} ${mode}`).toBe(q.code);
      expect(q.code).toBe(1);
      const msg = q.err.replace(/^qemu-img: [^:]+: /, '').trim();
      expect(v.err, `${fmt} ${mode}`).toContain(msg);
      if (fmt === 'qcow2') expect(existsSync(f(`v-${mode}.img`))).toBe(false);
    }
  });

  it('resize --preallocation: raw falloc/full grow allocated; refusals with qemu-img\'s words and exit code', async () => {
    for (const mode of ['falloc', 'full']) {
      for (const t of ['q', 'v']) qemu(['create', '-q', '-f', 'raw', f(`${t}-rs.raw`), '1M']);
      expect(qemu(['resize', '-q', '-f', 'raw', `--preallocation=${mode}`, f('q-rs.raw'), '3M']).code).toBe(0);
      const v = await cli(DiskResize, ['-q', '-f', 'raw', `--preallocation=${mode}`, f('v-rs.raw'), '3M']);
      expect(v.code, v.err).toBe(0);
      expect(statSync(f('v-rs.raw')).size).toBe(statSync(f('q-rs.raw')).size);
      expect(qemu(['map', '--output=json', '-f', 'raw', f('v-rs.raw')]).out).toBe(qemu(['map', '--output=json', '-f', 'raw', f('q-rs.raw')]).out);
    }
    qemu(['create', '-q', '-f', 'raw', f('r.raw'), '2M']);
    qemu(['create', '-q', '-f', 'qcow2', f('r.qcow2'), '2M']);
    const before = readFileSync(f('r.qcow2'));
    for (const [file, args] of [
      ['r.raw', ['--preallocation=bogus', '4M']],
      ['r.raw', ['--shrink', '--preallocation=full', '1M']],
      ['r.raw', ['--preallocation=falloc', '2M']],
      ['r.raw', ['--preallocation=metadata', '4M']],
      ['r.qcow2', ['--shrink', '--preallocation=metadata', '1M']],
    ] as [string, string[]][]) {
      const q = qemu(['resize', f(file), ...args.slice(0, -1), '--', args[args.length - 1]!]);
      const v = await cli(DiskResize, [f(file), ...args]);
      expect(q.code, `${file} ${args.join(' ')}: ${q.err}`).toBe(1);
      expect(v.code, `${file} ${args.join(' ')}`).toBe(1);
      expect(v.err).toContain(q.err.trim().split('\n').pop()!.replace(/^qemu-img: /, ''));
    }
    expect(readFileSync(f('r.qcow2')).equals(before)).toBe(true);
    expect(statSync(f('r.raw')).size).toBe(2 << 20);
  });
});
