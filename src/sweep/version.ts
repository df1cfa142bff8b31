/**
 * Where the sweep code finds its own files: the package root (for the version in package.json)
 * and the compiled worker entry points in dist/sweep/. Two levels up from this module is the
 * root whether it runs as src/sweep/*.ts (tests), dist/sweep/*.js or bundled into
 * dist/commands/*.js by scripts/bundle-commands.mjs.
 */
import { readFileSync } from 'node:fs';
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
