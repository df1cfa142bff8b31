/**
 * `disk amend -o` and `disk measure` on extended-L2 images (and with `-o extended_l2=on`) against
 * qemu-img 7.2: measure's human and JSON output identical (`--size`, `-O qcow2` of an existing
 * image, `cluster_size`, `refcount_bits`, `preallocation`, `backing_file`), amend's resulting
 * bytes identical, refusals with qemu-img's words, the image untouched by a refusal.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import DiskMeasure from '../../src/commands/disk/measure.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
function run(tool: string, args: string[], cwd?: string): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
// vfab opens data files only below its working directory: the amend cases run the built CLI there.
const vfab = (args: string[], cwd: string) => run(process.execPath, [join(ROOT, 'bin/run.js'), ...args], cwd);

describeWithTools(['qemu-img', 'qemu-io'], 'amend and measure on extended-L2 images vs qemu-img', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-extl2am-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function makeSource(name: string, opts: string): void {
    rmSync(f(name), { force: true });
    expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', opts, f(name), '8M']).code).toBe(0);
    // Partial clusters (subclusters allocated), a zeroed cluster and a cluster on its own.
    expect(run('qemu-io', ['-c', 'write -P 1 0 100k', '-c', 'write -P 2 3M 4k', '-c', 'write -z 5M 64k', f(name)]).code).toBe(0);
  }
  beforeAll(() => {
    makeSource('x.qcow2', 'extended_l2=on');
    makeSource('x16.qcow2', 'extended_l2=on,cluster_size=16k');
    makeSource('p.qcow2', 'cluster_size=4k');
  });

  it('measure: human and JSON output identical to qemu-img measure', async () => {
    const cases = [
      ['--size', '1G'],
      ['--size', '1000000', '-O', 'qcow2'],
      ['--size', '1G', '-O', 'qcow2', '-o', 'extended_l2=on'],
      ['--size', '100M', '-O', 'qcow2', '-o', 'extended_l2=on,cluster_size=16k,refcount_bits=1'],
      ['--size', '3000000', '-O', 'qcow2', '-o', 'cluster_size=2M,extended_l2=on'],
      ['--size', '1G', '-O', 'qcow2', '-o', 'preallocation=falloc'],
      ['--size', '1G', '-O', 'qcow2', '-o', 'preallocation=metadata,extended_l2=on'],
      ['--size', '1G', '-O', 'raw', '-o', 'preallocation=full'],
      ['-O', 'qcow2', f('x.qcow2')],
      ['-O', 'qcow2', '-o', 'extended_l2=on', f('x.qcow2')],
      ['-O', 'qcow2', '-o', 'cluster_size=16k,extended_l2=on', f('x.qcow2')],
      ['-O', 'qcow2', '-o', 'cluster_size=16k', f('x.qcow2')],
      ['-O', 'qcow2', '-o', 'cluster_size=4k', f('x16.qcow2')],
      ['-O', 'qcow2', '-o', 'extended_l2=on,cluster_size=2M', f('p.qcow2')],
      ['-O', 'qcow2', '-o', 'preallocation=full,extended_l2=on', f('x.qcow2')],
      ['-O', 'qcow2', '-o', `backing_file=${f('p.qcow2')}`, f('x.qcow2')],
      ['-O', 'raw', f('x16.qcow2')],
    ];
    for (const args of cases) {
      for (const out of [[], ['--output=json']]) {
        const q = run('qemu-img', ['measure', ...out, ...args]);
        expect(q.code, `${args.join(' ')}: ${q.err}`).toBe(0);
        const v = await cli(DiskMeasure, [...out, ...args]);
        expect(v.code, `${args.join(' ')}: ${v.err}`).toBe(0);
        expect(v.out, `measure ${out.join(' ')} ${args.join(' ')}`).toBe(q.out);
      }
    }
  }, 60_000);

  it('measure: qemu-img\'s refusals, with its words', async () => {
    for (const args of [
      ['--size', '1G', '-O', 'qcow2', '-o', 'extended_l2=on,cluster_size=4k'],
      ['--size', '1G', '-O', 'qcow2', '-o', 'preallocation=bogus'],
      ['--size', '1G', '-O', 'qcow2', '-o', 'extended_l2=bad'],
      ['--size', '1G', '-o', 'cluster_size=2M'],
      ['--size', '1G', '-o', 'extended_l2=on'],
    ]) {
      const q = run('qemu-img', ['measure', ...args]);
      const v = await cli(DiskMeasure, args);
      expect(q.code, args.join(' ')).toBe(1);
      expect(v.code, args.join(' ')).toBe(2);
      for (const line of q.err.trim().split('\n')) expect(v.err, args.join(' ')).toContain(line.replace(/^qemu-img: /, ''));
      expect(v.out).toBe('');
    }
  });

  it('amend on extended-L2 images (with and without a data file): the bytes qemu-img writes, or its refusal', () => {
    for (const df of ['', ',data_file=x.data']) {
      for (const o of ['lazy_refcounts=on', 'compat=1.1', 'lazy_refcounts=on,compat=1.1', 'compat=0.10', 'extended_l2=off', 'cluster_size=16k', 'bogus=1']) {
        const what = `${o}${df}`;
        for (const n of ['q.qcow2', 'v.qcow2', 'x.data']) rmSync(f(n), { force: true });
        expect(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `extended_l2=on${df}`, 'q.qcow2', '8M'], dir).code).toBe(0);
        expect(run('qemu-io', ['-c', 'write -P 1 0 100k', '-c', 'write -P 2 3M 4k', 'q.qcow2'], dir).code).toBe(0);
        copyFileSync(f('q.qcow2'), f('v.qcow2'));
        const data = df ? readFileSync(f('x.data')) : undefined;
        const before = readFileSync(f('v.qcow2'));
        const q = run('qemu-img', ['amend', '-o', o, 'q.qcow2'], dir);
        const v = vfab(['disk', 'amend', '-o', o, 'v.qcow2'], dir);
        if (q.code === 0) {
          expect(v.code, `${what}: ${v.err}`).toBe(0);
        } else {
          expect(v.code, what).toBe(2);
          for (const line of q.err.trim().split('\n')) expect(v.err, what).toContain(line.replace(/^qemu-img: /, ''));
          expect(readFileSync(f('v.qcow2')).equals(before), `${what}: untouched`).toBe(true);
        }
        expect(readFileSync(f('v.qcow2')).equals(readFileSync(f('q.qcow2'))), `${what}: bytes`).toBe(true);
        if (data) expect(readFileSync(f('x.data')).equals(data), `${what}: data file`).toBe(true);
        expect(run('qemu-img', ['check', 'v.qcow2'], dir).code, what).toBe(0);
        expect(v.err).not.toMatch(/\n\s+at /);
        expect(existsSync(f('v.qcow2'))).toBe(true);
      }
    }
  }, 120_000);
});
