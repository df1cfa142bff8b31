/**
 * `disk commit -b/-d/-p` against `qemu-img commit` 7.2: the same chain built twice by qemu-io,
 * committed by each tool; every layer must read the same afterwards (qemu-img compare), the top
 * must keep (or lose) the same allocation, and both check clean. Refusals match qemu-img's text.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import DiskCommit from '../../src/commands/disk/commit.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

function qemu(tool: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describeWithTools(['qemu-img', 'qemu-io'], 'disk commit -b/-d/-p vs qemu-img commit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-commit-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function chain(p: string): void {
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', f(`${p}0.qcow2`), '4M']);
    qemu('qemu-io', ['-c', 'write -P 1 0 1M', '-c', 'write -P 4 3M 4k', f(`${p}0.qcow2`)]);
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', `${p}0.qcow2`, '-F', 'qcow2', f(`${p}1.qcow2`)]);
    qemu('qemu-io', ['-c', 'write -P 2 512k 1M', '-c', 'write -z 0 64k', f(`${p}1.qcow2`)]);
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', `${p}1.qcow2`, '-F', 'qcow2', f(`${p}2.qcow2`)]);
    qemu('qemu-io', ['-c', 'write -P 3 1M 64k', '-c', 'discard 3M 64k', f(`${p}2.qcow2`)]);
  }
  const topMap = (file: string): unknown => (JSON.parse(qemu('qemu-img', ['map', '--output=json', file]).out) as { depth: number; start: number; length: number }[]).filter((e) => e.depth === 0).map((e) => [e.start, e.length]);

  for (const [name, args] of [
    ['default (immediate backing, top emptied)', []],
    ['-d (top kept)', ['-d']],
    ['-b BASE two levels down (implies -d)', ['-b', 'BASE']],
    ['-p -d', ['-p', '-d']],
  ] as [string, string[]][]) {
    it(name, async () => {
      const tag = name.replace(/[^a-z]/g, '').slice(0, 8);
      chain(`q${tag}`);
      chain(`v${tag}`);
      const q = qemu('qemu-img', ['commit', ...args.map((a) => (a === 'BASE' ? f(`q${tag}0.qcow2`) : a)), f(`q${tag}2.qcow2`)]);
      expect(q.code, q.err).toBe(0);
      const v = await cli(DiskCommit, [...args.map((a) => (a === 'BASE' ? f(`v${tag}0.qcow2`) : a)), f(`v${tag}2.qcow2`)]);
      expect(v.code, v.err).toBe(0);
      expect(v.out.endsWith('Image committed.\n')).toBe(true);
      if (args.includes('-p')) expect(v.out).toContain('(100.00/100%)');
      for (const i of [0, 1, 2]) {
        expect(qemu('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', f(`v${tag}${i}.qcow2`), f(`q${tag}${i}.qcow2`)]).code, `layer ${i}`).toBe(0);
        expect(qemu('qemu-img', ['check', f(`v${tag}${i}.qcow2`)]).code).toBe(0);
      }
      expect(topMap(f(`v${tag}2.qcow2`))).toEqual(topMap(f(`q${tag}2.qcow2`)));
    });
  }

  it('refuses a base outside the chain with qemu-img message', async () => {
    chain('r');
    const q = qemu('qemu-img', ['commit', '-b', f('nope.qcow2'), f('r2.qcow2')]);
    expect(q.code).toBe(1);
    const v = await cli(DiskCommit, ['-b', f('nope.qcow2'), f('r2.qcow2')]);
    expect(v.code).toBe(2);
    expect(q.err).toContain(`Did not find '${f('nope.qcow2')}' in the backing chain of '${f('r2.qcow2')}'`);
    expect(v.err).toContain(`Did not find '${f('nope.qcow2')}' in the backing chain of '${f('r2.qcow2')}'`);
  });
});
