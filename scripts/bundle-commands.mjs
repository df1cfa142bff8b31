#!/usr/bin/env node
/**
 * Start-up: bundles each compiled command (dist/commands/**.js) with everything it imports from
 * dist/ and from dependencies other than @oclif/core into that one file, in place. A cold
 * `vfab run` then reads and links one module instead of ~400 (zod alone is ~230 files), which
 * halves its start-up CPU time on Node 20 (which has no module compile cache).
 *
 * The library entry (dist/index.js and the rest of dist/) stays tsc's one-file-per-module output;
 * only the CLI's command files change. @oclif/core stays external: bin/run.js and every command
 * must share one copy (oclif checks command classes and errors by identity).
 * Run by `npm run build` after tsc and before the oclif manifest.
 */
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const commands = join(root, 'dist', 'commands');

function walk(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.js') ? [p] : [];
  });
}

/**
 * zod's classic API re-exports its ~50 message locales as `z.locales` (a third of zod's bytes);
 * vfab uses none of them (English, which zod registers by itself, is all it prints), so the
 * bundle gets an empty `locales` namespace. Should zod move the file, this simply stops matching.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${'node_modules'}/zod/`) ? { path: 'zod-locales', namespace: 'vfab-stub' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'vfab-stub' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

const files = walk(commands);
// Bundle all commands in one esbuild call (sharing its parse of common modules), into memory
// first: a command's output must not overwrite a file another command's bundle still reads.
const result = await build({
  entryPoints: files,
  outdir: commands,
  outbase: commands,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Worker pools and job queues load their own files by path (tinypool: entry/worker.js;
  // bullmq: its sandbox child): bundling would cut them off from those files. ioredis is
  // bullmq's driver, loaded only by --redis / vfab worker: kept out so it costs no start-up.
  // elkjs (3.4 MB, graph layout) is imported lazily by src/report/layout.ts on the first
  // diagram: kept out so commands that draw none do not parse it.
  external: ['@oclif/core', 'tinypool', 'bullmq', 'ioredis', 'elkjs'],
  write: false,
  allowOverwrite: true,
  logLevel: 'warning',
  // Some dependencies are CommonJS and call require(); give the ESM bundle one.
  plugins: [zodEnglishOnly],
  banner: { js: "import { createRequire as __vfabCreateRequire } from 'node:module'; const require = __vfabCreateRequire(import.meta.url);" },
});
for (const out of result.outputFiles) {
  writeFileSync(out.path, out.contents);
  rmSync(`${out.path}.map`, { force: true }); // tsc's map no longer describes the file
}
