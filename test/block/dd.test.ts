/**
 * `vfab disk dd` against `qemu-img dd` 7.2 on the same inputs: the outputs must be byte-identical
 * raw files (or qcow2 images qemu-img compare calls identical, with the same virtual size), and
 * refusals must match qemu-img's messages; exit codes are qemu-img's 0, or 2 where it exits 1.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import DiskDd from '../../src/commands/disk/dd.js';
import { describeWithTools } from '../helpers/tools.js';
import { cli } from '../helpers/cli.js';

function qemu(tool: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describeWithTools(['qemu-img', 'qemu-io'], 'disk dd vs qemu-img dd', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-dd-'));
  const f = (n: string): string => join(dir, n);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(() => {
    // Every KiB of the raw input holds its own index, so a wrong offset cannot go unseen.
    const raw = new Uint8Array(300 * 1024 + 77);
    for (let i = 0; i < raw.length; i++) raw[i] = (Math.floor(i / 1024) * 7 + (i % 13)) & 0xff;
    writeFileSync(f('in.raw'), raw);
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', f('base.qcow2'), '1M']);
    qemu('qemu-io', ['-c', 'write -P 7 64k 64k', '-c', 'write -P 9 300k 5k', f('base.qcow2')]);
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', f('top.qcow2')]);
    qemu('qemu-io', ['-c', 'write -P 0x33 100k 3k', '-c', 'write -z 64k 4k', f('top.qcow2')]);
  });

  const cases: string[][] = [
    ['bs=4k', 'count=20', 'skip=3'],
    ['bs=1k', 'count=2', 'skip=5'],
    ['bs=4k', 'skip=1000'],
    ['bs=1000'],
    ['bs=3k', 'skip=7'],
    ['count=1k'],
    ['bs=64k', 'count=1'],
    ['bs=1M'],
    ['bs=1', 'count=100', 'skip=65530'],
  ];

  it('makes the same raw output as qemu-img dd (chains, qcow2 and raw inputs, QEMU count/skip rule)', async () => {
    let n = 0;
    for (const input of [['if=' + f('top.qcow2')], ['-f', 'raw', 'if=' + f('in.raw')]]) {
      for (const ops of cases) {
        n++;
        const q = qemu('qemu-img', ['dd', ...input, `of=${f(`q${n}.img`)}`, ...ops]);
        const v = await cli(DiskDd, [...input, `of=${f(`v${n}.img`)}`, ...ops]);
        expect(v.code, `${input.join(' ')} ${ops.join(' ')}: ${v.err}`).toBe(q.code);
        expect(readFileSync(f(`v${n}.img`)).equals(readFileSync(f(`q${n}.img`))), ops.join(' ')).toBe(true);
        // The warning qemu-img prints (skip past the end) is printed too.
        if (q.err.includes('cannot skip')) expect(v.err, `${input.join(' ')} ${ops.join(' ')}`).toContain('cannot skip to specified offset');
      }
    }
  });

  it('makes qcow2 output qemu-img compare calls identical to qemu-img dd -O qcow2', async () => {
    for (const ops of [['bs=64k'], ['bs=4k', 'count=40', 'skip=10']]) {
      qemu('qemu-img', ['dd', '-O', 'qcow2', `if=${f('top.qcow2')}`, `of=${f('q.qcow2')}`, ...ops]);
      const v = await cli(DiskDd, ['-O', 'qcow2', `if=${f('top.qcow2')}`, `of=${f('v.qcow2')}`, ...ops]);
      expect(v.code, v.err).toBe(0);
      const c = qemu('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', f('v.qcow2'), f('q.qcow2')]);
      expect(c.out, ops.join(' ')).toContain('Images are identical.');
      const size = (file: string): number => (JSON.parse(qemu('qemu-img', ['info', '--output=json', file]).out) as { 'virtual-size': number })['virtual-size'];
      expect(size(f('v.qcow2'))).toBe(size(f('q.qcow2')));
      expect(qemu('qemu-img', ['check', f('v.qcow2')]).code).toBe(0);
    }
  });

  it('refuses what qemu-img refuses, with its message, and creates no output', async () => {
    const bad: [string[], string][] = [
      [['bs=0'], 'Invalid bs specified. Must be between 1 and 2147483647.'],
      [['bs=3G'], 'Invalid bs specified. Must be between 1 and 2147483647.'],
      [['count=abc'], 'Invalid count specified. You may use k, M, G, T, P or E suffixes for'],
      [['skip=-1'], 'Invalid skip specified. You may use k, M, G, T, P or E suffixes for'],
      [['foo=1'], 'unrecognized operand foo'],
    ];
    for (const [ops, msg] of bad) {
      const q = qemu('qemu-img', ['dd', `if=${f('top.qcow2')}`, `of=${f('qbad.img')}`, ...ops]);
      expect(q.code, ops.join(' ')).toBe(1);
      expect(q.err).toContain(msg);
      const v = await cli(DiskDd, [`if=${f('top.qcow2')}`, `of=${f('vbad.img')}`, ...ops]);
      expect(v.code, ops.join(' ')).toBe(2);
      expect(v.err).toContain(msg);
    }
    const noOut = await cli(DiskDd, [`if=${f('top.qcow2')}`]);
    expect(noOut.err).toContain('Must specify both input and output files');
    expect(qemu('qemu-img', ['dd', `if=${f('top.qcow2')}`]).err).toContain('Must specify both input and output files');
    for (const input of [f('missing.qcow2'), dir]) {
      const v = await cli(DiskDd, [`if=${input}`, `of=${f('x.img')}`]);
      expect(v.code).toBe(2);
      expect(v.err).toContain(`Could not open '${input}'`);
      expect(v.err).not.toMatch(/\n\s+at /);
    }
  });

  it('property: random bs/count/skip on the raw input give qemu-img dd bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 70000 }), fc.option(fc.nat({ max: 400 })), fc.option(fc.nat({ max: 400 })), async (bs, count, skip) => {
        const ops = [`bs=${bs}`, ...(count !== null ? [`count=${count}`] : []), ...(skip !== null ? [`skip=${skip}`] : [])];
        const q = qemu('qemu-img', ['dd', '-f', 'raw', `if=${f('in.raw')}`, `of=${f('pq.img')}`, ...ops]);
        const v = await cli(DiskDd, ['-f', 'raw', `if=${f('in.raw')}`, `of=${f('pv.img')}`, ...ops]);
        expect(v.code).toBe(q.code);
        expect(readFileSync(f('pv.img')).equals(readFileSync(f('pq.img'))), ops.join(' ')).toBe(true);
      }),
      { numRuns: 15 },
    );
  });
});
