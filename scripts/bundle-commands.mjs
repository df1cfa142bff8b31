#!/usr/bin/env node
/**
 * Start-up: bundles each compiled command (dist/commands/**.js) with everything it imports from
 * dist/ and from dependencies other than @oclif/core into one CommonJS file under
 * dist/cli-bundles/, and replaces the command file with a small ES module that loads that bundle
 * through a V8 code cache (src/cli/compile-cache.adapter.ts). A cold `vfab run` then reads one
 * module instead of ~400 (zod alone is ~230 files), which halves its start-up CPU time on Node 20,
 * and from its second run on skips most compilation (Node 20 has no `module.enableCompileCache`).
 *
 * The library entry (dist/index.js and the rest of dist/) stays tsc's one-file-per-module output;
 * only the CLI's command files change. @oclif/core stays external: bin/run.js and every command
 * must share one copy (oclif checks command classes and errors by identity); the bundles
 * `require` it, which is the instance bin/run.js imported. `import.meta.url` in a bundle still
 * means the command file's URL (the loader passes it in).
 * Bundles are minified (whitespace and syntax; names kept, so stack traces and class names read
 * as before): `vfab run` reads, holds and hashes a third less source (8 % less CPU and 10 MiB
 * less peak RSS for the quickstart, docs/cli.md "Start-up").
 * Run by `npm run build` after tsc and before the oclif manifest.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const commands = join(root, 'dist', 'commands');
const bundles = join(root, 'dist', 'cli-bundles');

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
/** esbuild options shared by both builds: see the command build below. */
const minify = { minifyWhitespace: true, minifySyntax: true, minifyIdentifiers: false, keepNames: false, legalComments: 'none' };
// Named exports of each command (tsc's output: `export function f`, `export class C`, …), which
// the loader module re-exports next to the default export (the command class oclif loads).
const namedExports = new Map(files.map((f) => {
  const text = readFileSync(f, 'utf8');
  const names = [...text.matchAll(/^export (?:async function|function|class|const|let|var) ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
  for (const m of text.matchAll(/^export \{([^}]*)\}/gm)) {
    for (const part of m[1].split(',')) {
      const name = part.trim().split(/\s+as\s+/).pop();
      if (name && name !== 'default') names.push(name);
    }
  }
  return [f, names];
}));
// Bundle all commands in one esbuild call (sharing its parse of common modules), into memory.
const result = await build({
  entryPoints: files,
  outdir: bundles,
  outbase: commands,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Worker pools and job queues load their own files by path (tinypool: entry/worker.js;
  // bullmq: its sandbox child): bundling would cut them off from those files. ioredis is
  // bullmq's driver, loaded only by --redis / vfab worker: kept out so it costs no start-up.
  // elkjs (3.4 MB, graph layout) is imported lazily by src/report/layout.ts on the first
  // diagram: kept out so commands that draw none do not parse it.
  external: ['@oclif/core', 'tinypool', 'bullmq', 'ioredis', 'elkjs'],
  // The loader passes the command file's URL in (a CommonJS bundle has no import.meta).
  define: { 'import.meta.url': '__vfabImportMetaUrl' },
  // import() of an external (elkjs, bullmq, ioredis) becomes require(): code compiled from a V8
  // code cache by vm.Script has no dynamic-import callback on Node 20 (see the oclif bundle below).
  supported: { 'dynamic-import': false },
  // Whitespace and syntax minified, names kept (stack traces and `constructor.name` unchanged):
  // a third less source for Node to read and hold, ~10 MiB less peak RSS for `vfab run`
  // (docs/cli.md "Start-up").
  ...minify,
  write: false,
  logLevel: 'warning',
  plugins: [zodEnglishOnly],
});
rmSync(bundles, { recursive: true, force: true });
for (const out of result.outputFiles) {
  // Minified output has no comments, so any `import(` left (even inside a string) fails the build.
  if (/\bimport\(/.test(out.text)) throw new Error(`bundle-commands: a dynamic import() is left in ${out.path}`);
  mkdirSync(dirname(out.path), { recursive: true });
  writeFileSync(out.path, out.contents);
  const rel = relative(bundles, out.path).replace(/\.cjs$/, '.js');
  const command = join(commands, rel);
  const hash = createHash('sha256').update(out.contents).digest('hex').slice(0, 16);
  const up = '../'.repeat(rel.split('/').length);
  const names = namedExports.get(command) ?? [];
  writeFileSync(command, [
    '// Written by scripts/bundle-commands.mjs: this command is bundled in dist/cli-bundles/ and loaded',
    '// with a V8 code cache (src/cli/compile-cache.adapter.ts).',
    `import { loadCommand } from '${up}cli/compile-cache.adapter.js';`,
    `const m = loadCommand(new URL('${up}cli-bundles/${rel.replace(/\.js$/, '.cjs')}', import.meta.url).href, import.meta.url, '${hash}');`,
    'export default m.default;',
    ...names.map((n) => `export const ${n} = m.${n};`),
    '',
  ].join('\n'));
  rmSync(`${command}.map`, { force: true }); // tsc's map no longer describes the file
}

// @oclif/core as one CommonJS file too (~110 files resolved and read one by one were a third of a
// cold start), loaded once per process by oclifCore() in src/cli/compile-cache.adapter.ts for
// bin/run.js and every command bundle. What oclif requires only for TypeScript sources
// (typescript, ts-node, tsx) or Yarn PnP stays outside: vfab runs compiled JavaScript.
const oclifOut = join(bundles, 'oclif-core.cjs');
/**
 * oclif loads ES-module commands and hooks with `await import(url)` (and lilconfig, ES-module
 * config files). Code compiled by vm.Script
 * from a V8 code cache loses its dynamic-import callback on Node 20 (the import then throws
 * ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), so those calls go to `__vfabImport`, which the loader
 * passes in: a plain import() in an ES module.
 */
const oclifImports = {
  name: 'oclif-imports',
  setup(b) {
    b.onLoad({ filter: /[\\/](@oclif[\\/]core[\\/]lib|lilconfig[\\/]src)[\\/].*\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      return { contents: text.replace(/\bawait import\((?!'wsl-utils')/g, 'await __vfabImport('), loader: 'js' };
    });
  },
};
const oclif = await build({
  entryPoints: [join(root, 'node_modules', '@oclif', 'core', 'lib', 'index.js')],
  outfile: oclifOut,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['typescript', 'ts-node', 'tsx', 'tsx/*', 'pnpapi'],
  ...minify,
  write: false,
  logLevel: 'warning',
  plugins: [oclifImports],
});
const leftImport = oclif.outputFiles[0].text.match(/.{0,80}\bawait import\(.{0,80}/);
if (leftImport) throw new Error(`bundle-commands: a dynamic import() is left in the @oclif/core bundle: ${leftImport[0]}`);
writeFileSync(oclifOut, oclif.outputFiles[0].contents);
writeFileSync(`${oclifOut}.hash`, `${createHash('sha256').update(oclif.outputFiles[0].contents).digest('hex').slice(0, 16)}\n`);
