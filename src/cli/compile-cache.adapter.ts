/**
 * Loads a bundled CLI command with a V8 code cache, so a cold `vfab <command>` does not compile
 * ~2 MB of JavaScript (zod, yaml, the fabric) again on every start (issue 19, item 3).
 *
 * Design note. Node ≥ 22.1 has this built in (`module.enableCompileCache()`); vfab supports
 * Node 20, which has not, but has the V8 primitive under it: `vm.Script`'s `cachedData` and
 * `createCachedData()`. So `npm run build` (scripts/bundle-commands.mjs) writes each command as
 * one CommonJS bundle under `dist/cli-bundles/` and leaves at the command's usual path
 * (`dist/commands/<id>.js`, which oclif's manifest names) a small ES module that calls
 * `loadCommand` here. `loadCommand` compiles the bundle as a function with V8's cached code when a
 * valid cache exists and, when none does, writes one as the process exits, after the command
 * ran, so the cache also holds the functions the command compiled lazily while it ran (parsing a
 * topology, building the fabric, the simulation's hot paths). The first run after a build pays
 * for writing (~1.5 MB); the next runs skip most compilation.
 *
 * @oclif/core itself (~110 CommonJS files: resolving and reading them was a third of a cold start)
 * is bundled the same way (`dist/cli-bundles/oclif-core.cjs`) and loaded once by `oclifCore()`:
 * bin/run.js and every command bundle get that one instance (a bundle's `require('@oclif/core')`
 * is answered here), since oclif checks command classes and errors by identity. Its code sees the
 * package's own `lib/` folder as `__dirname`, where it reads its package.json.
 *
 * The cache is an optimisation only: it never changes what the command does or prints. A missing,
 * unreadable or read-only cache folder, a truncated or foreign file, another Node or V8 version or
 * other V8 flags all mean "compile as without a cache" (V8 rejects data that does not match the
 * source, the V8 version and the flags; the key also names them so alternating flags do not keep
 * rewriting the file). Files are written to a temporary name and renamed, so concurrent runs never
 * read a half-written file. The first run of a new build removes the files of the builds it
 * replaced at the same path (`staleCacheFiles`), so rebuilding does not fill the temp dir.
 *
 * Where: `$VFAB_COMPILE_CACHE_DIR`, else `<os temp dir>/vfab-compile-cache-<uid>` (Node's own
 * compile cache also lives in the temp dir), created private (0700); a folder that is not ours or
 * that others may write is not used (cached code is code). `VFAB_NO_COMPILE_CACHE=1` turns the
 * cache off. The bundle keeps `import.meta.url` meaning the command file's URL, as before.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';

/** The folder of cache files, or undefined when caching is off. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env['VFAB_NO_COMPILE_CACHE'] !== undefined && env['VFAB_NO_COMPILE_CACHE'] !== '' && env['VFAB_NO_COMPILE_CACHE'] !== '0') return undefined;
  const given = env['VFAB_COMPILE_CACHE_DIR'];
  if (given !== undefined && given !== '') return given;
  const uid = typeof process.getuid === 'function' ? String(process.getuid()) : 'user';
  return join(tmpdir(), `vfab-compile-cache-${uid}`);
}

/** The cache file of one bundle: its name, its build's content hash, Node, platform and V8 flags. */
export function cacheFile(dir: string, bundle: string, contentHash: string): string {
  const flags = createHash('sha256').update(process.execArgv.join('\0')).digest('hex').slice(0, 8);
  // The bundle's own path is part of the key: V8's cached code keeps the script name it was made
  // from, so two checkouts of one build sharing a file would print each other's paths in stacks.
  const where = createHash('sha256').update(bundle).digest('hex').slice(0, 8);
  const name = basename(bundle).replace(/[^A-Za-z0-9_-]/g, '_');
  return join(dir, `${name}-${where}-${contentHash}-${process.version}-${process.arch}-${flags}.v8cache`);
}

/**
 * The cache files of earlier builds of the same bundle file (same name and path, another content
 * hash): that file now holds another build, so they can never be used again. Those of this build
 * for another Node or other flags are kept, as are other checkouts' files.
 */
export function staleCacheFiles(dir: string, bundle: string, contentHash: string, names: readonly string[]): string[] {
  const own = basename(cacheFile(dir, bundle, contentHash));
  const prefix = own.slice(0, own.indexOf(`-${contentHash}-`) + 1); // "<name>-<where>-"
  return names.filter((f) => f.startsWith(prefix) && f.endsWith('.v8cache') && !f.startsWith(`${prefix}${contentHash}-`)).map((f) => join(dir, f));
}

/** Removes `staleCacheFiles`; what cannot be listed or removed stays (an optimisation only). */
function pruneStale(dir: string, bundle: string, contentHash: string): void {
  try {
    for (const f of staleCacheFiles(dir, bundle, contentHash, readdirSync(dir))) rmSync(f, { force: true });
  } catch {
    // an optimisation only
  }
}

/** A folder we may trust and write: ours, not writable by group or others. */
function usableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory()) return false;
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return false;
    return (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function writeCache(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/** A real import() for the bundles (an ES module's own, with Node's loader). */
const importNative = (specifier: string): Promise<unknown> => import(specifier);

/** Compiles and runs one CommonJS bundle with the code cache; returns its `module.exports`. */
function runBundle(file: string, contentHash: string, req: NodeJS.Require, dirName: string, importMetaUrl: string): unknown {
  const source = readFileSync(file, 'utf8');
  const dir = cacheDir();
  const useDir = dir !== undefined && usableDir(dir) ? dir : undefined;
  const cachePath = useDir !== undefined ? cacheFile(useDir, file, contentHash) : undefined;
  const cachedData = cachePath !== undefined ? readCache(cachePath) : undefined;
  // No dynamic-import callback: Node 20 drops it for code compiled from a cache, so the bundles
  // contain no import() (scripts/bundle-commands.mjs); oclif's go through __vfabImport.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname, __vfabImportMetaUrl, __vfabImport) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  if (cachePath !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    // After the command ran: the cache then holds what it compiled lazily too.
    process.once('exit', () => {
      // A first run of a new build: the files of the builds it replaced go (each rebuild would
      // otherwise leave ~2 MB per command in the temp dir).
      if (cachedData === undefined && useDir !== undefined) pruneStale(useDir, file, contentHash);
      try {
        writeCache(cachePath, script.createCachedData());
      } catch {
        // an optimisation only
      }
    });
  }
  const module = { exports: {} as unknown };
  const fn = script.runInThisContext() as (...a: unknown[]) => void;
  fn(module.exports, req, module, file, dirName, importMetaUrl, importNative);
  return module.exports;
}

const bundlesDir = fileURLToPath(new URL('../cli-bundles/', import.meta.url));
let oclif: unknown;

/**
 * The process's one @oclif/core: the bundle written by `npm run build` (with the code cache), else
 * the package itself (a tree built without the bundle step).
 */
export function oclifCore(): unknown {
  if (oclif !== undefined) return oclif;
  const req = createRequire(import.meta.url);
  const file = join(bundlesDir, 'oclif-core.cjs');
  let hash: string | undefined;
  try {
    hash = readFileSync(`${file}.hash`, 'utf8').trim();
  } catch {
    hash = undefined;
  }
  oclif = hash === undefined ? req('@oclif/core') : runBundle(file, hash, req, dirname(req.resolve('@oclif/core')), pathToFileURL(file).href);
  return oclif;
}

/**
 * Runs the CommonJS bundle at `bundleUrl` (a file URL) and returns its `module.exports`.
 * `commandUrl` is what `import.meta.url` means inside it; `contentHash` names this build of it.
 */
export function loadCommand(bundleUrl: string, commandUrl: string, contentHash: string): unknown {
  const file = fileURLToPath(bundleUrl);
  const base = createRequire(file);
  const req = Object.assign((id: string): unknown => (id === '@oclif/core' ? oclifCore() : base(id)), {
    resolve: base.resolve, cache: base.cache, main: base.main,
  }) as NodeJS.Require;
  return runBundle(file, contentHash, req, dirname(file), commandUrl);
}
