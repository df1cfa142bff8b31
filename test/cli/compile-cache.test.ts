/**
 * The CLI's V8 code cache (src/cli/compile-cache.adapter.ts) is an optimisation only: with it off,
 * cold, warm, corrupt, or in a folder that cannot be used, `vfab run` prints the same bytes, exits
 * 0 and says nothing on stderr. Needs `npm run build` (the bundles in dist/cli-bundles/).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { basename } from 'node:path';
import fc from 'fast-check';
import { cacheDir, cacheFile, staleCacheFiles } from '../../src/cli/compile-cache.adapter.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'run.js');
const work = mkdtempSync(join(tmpdir(), 'vfab-compile-cache-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function vfab(env: Record<string, string>, ...args: string[]): { out: string; err: string; code: number | null } {
  const base = { ...process.env };
  delete base['VFAB_NO_COMPILE_CACHE'];
  delete base['VFAB_COMPILE_CACHE_DIR'];
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...base, ...env } });
  return { out: r.stdout, err: r.stderr, code: r.status };
}

const RUN = ['run', 'topologies/quickstart.yaml', '--json', '--until', '20ms'];
const caches = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith('run_cjs-') && f.endsWith('.v8cache'));

describe('vfab run with the code cache', () => {
  const reference = vfab({ VFAB_NO_COMPILE_CACHE: '1' }, ...RUN);

  it('off, cold, warm: same bytes; the cold run writes the cache and the warm one keeps it', () => {
    expect(reference.code).toBe(0);
    expect(reference.err).toBe('');
    expect(JSON.parse(reference.out)).toHaveProperty('apps');
    const dir = join(work, 'fresh');
    const cold = vfab({ VFAB_COMPILE_CACHE_DIR: dir }, ...RUN);
    expect(cold).toEqual(reference);
    const files = caches(dir);
    expect(files).toHaveLength(1);
    const file = join(dir, files[0]!);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const written = readFileSync(file);
    expect(written.length).toBeGreaterThan(100_000);
    const warm = vfab({ VFAB_COMPILE_CACHE_DIR: dir }, ...RUN);
    expect(warm).toEqual(reference);
    expect(readFileSync(file).equals(written)).toBe(true);
  });

  it('a corrupt or truncated cache file is rejected, replaced, and changes nothing', () => {
    const dir = join(work, 'corrupt');
    vfab({ VFAB_COMPILE_CACHE_DIR: dir }, ...RUN);
    const file = join(dir, caches(dir)[0]!);
    const good = readFileSync(file);
    writeFileSync(file, Buffer.alloc(4096, 0x5a));
    expect(vfab({ VFAB_COMPILE_CACHE_DIR: dir }, ...RUN)).toEqual(reference);
    expect(readFileSync(file).length).toBeGreaterThan(100_000);
    writeFileSync(file, good.subarray(0, good.length >> 1));
    expect(vfab({ VFAB_COMPILE_CACHE_DIR: dir }, ...RUN)).toEqual(reference);
  });

  it('a folder that cannot be created, or that others may write, is not used', () => {
    const notDir = join(work, 'a-file');
    writeFileSync(notDir, 'x');
    expect(vfab({ VFAB_COMPILE_CACHE_DIR: join(notDir, 'cache') }, ...RUN)).toEqual(reference);
    const shared = mkdtempSync(join(work, 'shared-'));
    chmodSync(shared, 0o777);
    expect(vfab({ VFAB_COMPILE_CACHE_DIR: shared }, ...RUN)).toEqual(reference);
    expect(caches(shared)).toEqual([]);
  });

  it('the first run of a new build removes the files of older builds of that bundle, and only those', () => {
    const dir = join(work, 'prune');
    vfab({ VFAB_COMPILE_CACHE_DIR: dir }, ...RUN);
    const [own] = caches(dir);
    const m = /^(run_cjs-[0-9a-f]{8}-)([0-9a-f]{16})(-.*)$/.exec(own!)!;
    const older = `${m[1]}0000000000000000${m[3]}`; // an earlier build at this path
    const olderOtherNode = `${m[1]}1111111111111111-v18.0.0-x64-00000000.v8cache`;
    const otherFlags = `${m[1]}${m[2]}-${process.version}-${process.arch}-ffffffff.v8cache`; // this build, other flags
    const otherCheckout = `run_cjs-ffffffff-0000000000000000${m[3]}`;
    const otherCommand = own!.replace(/^run_cjs/, 'info_cjs');
    for (const f of [older, olderOtherNode, otherFlags, otherCheckout, otherCommand]) writeFileSync(join(dir, f), 'x');
    // A warm run writes nothing and removes nothing.
    expect(vfab({ VFAB_COMPILE_CACHE_DIR: dir }, ...RUN)).toEqual(reference);
    const listed = (): string[] => readdirSync(dir).filter((f) => !f.startsWith('oclif-core_cjs-')).sort();
    expect(listed()).toHaveLength(6);
    rmSync(join(dir, own!)); // as after a rebuild: no file for this build yet
    expect(vfab({ VFAB_COMPILE_CACHE_DIR: dir }, ...RUN)).toEqual(reference);
    expect(listed()).toEqual([own!, otherFlags, otherCheckout, otherCommand].sort());
  });

  it('other commands and their errors are unchanged: exit 2, located message, no stack', () => {
    const dir = join(work, 'errors');
    for (let i = 0; i < 2; i++) {
      const missing = vfab({ VFAB_COMPILE_CACHE_DIR: dir }, 'run', join(work, 'nope.yaml'));
      expect(missing.code).toBe(2);
      expect(missing.err).toMatch(/nope\.yaml/);
      expect(missing.err).not.toMatch(/\n\s+at /);
      const flag = vfab({ VFAB_COMPILE_CACHE_DIR: dir }, 'run', 'topologies/quickstart.yaml', '--bogus');
      expect(flag.code).toBe(2);
      expect(flag.err).toMatch(/--bogus/);
    }
  });
});

describe('cache location and key', () => {
  it('is off with VFAB_NO_COMPILE_CACHE, else the given folder, else a private one in the temp dir', () => {
    expect(cacheDir({ VFAB_NO_COMPILE_CACHE: '1', VFAB_COMPILE_CACHE_DIR: '/x' })).toBeUndefined();
    expect(cacheDir({ VFAB_NO_COMPILE_CACHE: '0', VFAB_COMPILE_CACHE_DIR: '/x' })).toBe('/x');
    expect(cacheDir({})).toMatch(/vfab-compile-cache-/);
    expect(cacheDir({})?.startsWith(tmpdir())).toBe(true);
  });

  it('names the bundle, its build, Node and the platform', () => {
    const f = cacheFile('/c', '/d/cli-bundles/disk/info.cjs', 'abcdef0123456789');
    expect(f).toMatch(/^\/c\/info_cjs-[0-9a-f]{8}-abcdef0123456789-/);
    expect(f).toContain(process.version);
    expect(f).toContain(process.arch);
    expect(cacheFile('/c', '/d/run.cjs', '1')).not.toBe(cacheFile('/c', '/d/run.cjs', '2'));
    // Two checkouts of the same build keep separate files (V8's cached code keeps its script name).
    expect(cacheFile('/c', '/a/cli-bundles/run.cjs', '1')).not.toBe(cacheFile('/c', '/b/cli-bundles/run.cjs', '1'));
  });

  it('stale files: same bundle path, another build; never this build\'s, another path\'s or another command\'s', () => {
    const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
    fc.assert(fc.property(
      fc.constantFrom('/a/cli-bundles/run.cjs', '/b/cli-bundles/run.cjs', '/a/cli-bundles/disk/info.cjs'),
      hex(16),
      fc.array(fc.record({ bundle: fc.constantFrom('/a/cli-bundles/run.cjs', '/b/cli-bundles/run.cjs', '/a/cli-bundles/disk/info.cjs', '/a/cli-bundles/info.cjs'), hash: hex(16), tail: fc.constantFrom('', '.123.tmp') }), { maxLength: 40 }),
      (bundle, hash, others) => {
        const names = others.map((o) => basename(cacheFile('/c', o.bundle, o.hash)) + o.tail);
        const stale = staleCacheFiles('/c', bundle, hash, [...names, basename(cacheFile('/c', bundle, hash))]);
        const expected = others.filter((o) => o.bundle === bundle && o.hash !== hash && o.tail === '').map((o) => join('/c', basename(cacheFile('/c', o.bundle, o.hash))));
        expect(stale).toEqual(expected);
      },
    ));
  });
});
