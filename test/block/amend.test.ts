/**
 * `disk amend -o` against `qemu-img amend` 7.2: the same image amended by each tool must have the
 * same header cluster byte for byte and check clean; refusals carry qemu-img's message and leave
 * the image untouched.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import DiskAmend from '../../src/commands/disk/amend.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

function qemu(tool: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describeWithTools(['qemu-img', 'qemu-io'], 'disk amend vs qemu-img amend', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-amend-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const header = (file: string): Buffer => readFileSync(file).subarray(0, 65536);

  it('lazy_refcounts on/off and compat=1.1 give the header qemu-img writes', async () => {
    for (const [compat, steps] of [
      ['1.1', [['lazy_refcounts=on'], ['lazy_refcounts=off'], ['compat=1.1,lazy_refcounts=on']]],
      ['0.10', [['compat=1.1'], ['compat=1.1,lazy_refcounts=on'], ['refcount_bits=16']]],
    ] as [string, string[][]][]) {
      for (const o of steps) {
        qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `compat=${compat}`, f('src.qcow2'), '8M']);
        qemu('qemu-io', ['-c', 'write -P 3 0 128k', f('src.qcow2')]);
        copyFileSync(f('src.qcow2'), f('q.qcow2'));
        copyFileSync(f('src.qcow2'), f('v.qcow2'));
        const q = qemu('qemu-img', ['amend', '-o', o.join(','), f('q.qcow2')]);
        expect(q.code, `${compat} ${o.join(',')}: ${q.err}`).toBe(0);
        const v = await cli(DiskAmend, ['-o', o.join(','), f('v.qcow2')]);
        expect(v.code, v.err).toBe(0);
        expect(header(f('v.qcow2')).equals(header(f('q.qcow2'))), `${compat} ${o.join(',')}`).toBe(true);
        expect(qemu('qemu-img', ['check', f('v.qcow2')]).code).toBe(0);
        expect(qemu('qemu-img', ['compare', f('v.qcow2'), f('q.qcow2')]).code).toBe(0);
      }
    }
  });

  it('refuses what qemu-img refuses, with its message, and writes nothing', async () => {
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', f('r.qcow2'), '1M']);
    const before = readFileSync(f('r.qcow2'));
    for (const [args, msg] of [
      [['-o', 'foo=1'], "Invalid parameter 'foo'"],
      [['-o', 'cluster_size=4k'], 'This option is only supported for image creation'],
      [['-o', 'lazy_refcounts=maybe'], "Parameter 'lazy_refcounts' expects 'on' or 'off'"],
      [[], 'Must specify options (-o)'],
      [['-o', 'lazy_refcounts=on'], 'Lazy refcounts only supported with compatibility level 1.1 and above (use compat=1.1 or greater)'],
    ] as [string[], string][]) {
      const q = qemu('qemu-img', ['amend', ...args, f('r.qcow2')]);
      expect(q.code, args.join(' ')).toBe(1);
      expect(q.err).toContain(msg);
      const v = await cli(DiskAmend, [...args, f('r.qcow2')]);
      expect(v.code, args.join(' ')).toBe(2);
      expect(v.err).toContain(msg);
    }
    expect(readFileSync(f('r.qcow2')).equals(before)).toBe(true);
  });
});
