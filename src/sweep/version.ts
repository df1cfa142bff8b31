/**
 * Where the sweep code finds its own files: the package root (for the version in package.json)
 * and the compiled worker entry points in dist/sweep/. Two levels up from this module is the
 * root whether it runs as src/sweep/*.ts (tests), dist/sweep/*.js or bundled into
 * dist/commands/*.js by scripts/bundle-commands.mjs.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let cached: string | undefined;

/** The vfab version: part of every point's cache key and checked by workers. */
export function vfabVersion(): string {
  cached ??= (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return cached;
}

/** A compiled worker entry point (`pool-worker.js`, …); tests need `npm run build` first. */
export function workerFile(name: string): string {
  return join(ROOT, 'dist', 'sweep', name);
}

let build: string | undefined;

function jsFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) {
      // command bundles repeat the modules below; the benchmarks never run points
      if (r !== 'commands' && r !== 'bench') out.push(...jsFiles(dir, r));
    } else if (e.name.endsWith('.js')) out.push(r);
  }
  return out;
}

/**
 * The build of vfab that runs points: a hash of the compiled library (dist/**.js, ~1.5 MB, read
 * once per process). Distributed sweeps compare it as well as the version, because two checkouts
 * both saying 0.1.0 can compute different results, and results must never mix.
 */
export function vfabBuild(): string {
  if (build === undefined) {
    const dist = join(ROOT, 'dist');
    const h = createHash('sha256').update(vfabVersion());
    for (const f of jsFiles(dist).sort()) h.update(`\0${f}\0`).update(readFileSync(join(dist, f)));
    build = h.digest('hex').slice(0, 16);
  }
  return build;
}
