/**
 * Every `vfab disk` verb on a directory, a missing file and an image cut inside its header: exit 2,
 * a message naming the file (header checks used to locate by byte offset only), no stack trace,
 * and no byte changed in an image opened to read. Runs the built CLI (as a user types it).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createImage } from '../../src/block/api.js';

const ROOT = join(import.meta.dirname, '..', '..');
const vfab = (args: string[], cwd: string) => spawnSync(process.execPath, [join(ROOT, 'bin/run.js'), 'disk', ...args], { encoding: 'utf8', cwd });

describe('hostile inputs through every disk verb', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-hostile-verbs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('directory, missing file, image cut in its header: exit 2 naming the file, read-only images untouched', () => {
    mkdirSync(join(dir, 'adir'));
    createImage(join(dir, 'good.qcow2'), { size: 8 << 20 });
    writeFileSync(join(dir, 'cut.qcow2'), readFileSync(join(dir, 'good.qcow2')).subarray(0, 50));
    const verbs: Array<[boolean, (f: string) => string[]]> = [
      [false, (f) => ['info', f]], [false, (f) => ['info', '--output=json', f]], [false, (f) => ['map', '--output=json', f]],
      [false, (f) => ['check', f]], [true, (f) => ['check', '-r', 'all', f]], [false, (f) => ['snapshot', '-l', f]],
      [true, (f) => ['snapshot', '-c', 's1', f]], [true, (f) => ['commit', f]], [true, (f) => ['rebase', '-u', '-b', 'good.qcow2', '-F', 'qcow2', f]],
      [true, (f) => ['resize', f, '16M']], [true, (f) => ['amend', '-o', 'lazy_refcounts=on', f]], [false, (f) => ['measure', '-O', 'qcow2', f]],
      [false, (f) => ['compare', f, 'good.qcow2']], [false, (f) => ['compare', 'good.qcow2', f]], [false, (f) => ['convert', '-O', 'qcow2', f, 'out.qcow2']],
      [false, (f) => ['dd', `if=${f}`, 'of=out.raw', 'bs=64k', 'count=1']], [true, (f) => ['bitmap', '--add', f, 'b0']],
      [false, (f) => ['io', '-r', '-c', 'read 0 64k', f]], [true, (f) => ['io', '-c', 'write 0 4k', f]],
    ];
    for (const name of ['adir', 'missing.qcow2', 'cut.qcow2']) {
      for (const [writes, argv] of verbs) {
        const args = argv(name);
        const before = name === 'cut.qcow2' ? readFileSync(join(dir, name)) : undefined;
        const r = vfab(args, dir);
        expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stderr, args.join(' ')).toContain(name);
        expect(r.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
        if (before && !writes) expect(readFileSync(join(dir, name)).equals(before), `${args.join(' ')}: untouched`).toBe(true);
      }
    }
  }, 120_000);
});
