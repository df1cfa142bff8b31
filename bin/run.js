#!/usr/bin/env node
// Thin launcher: oclif finds the compiled commands through oclif.manifest.json (written by
// `npm run build`), so only the command being run is imported.
//
// `vfab --version` is answered here, before oclif loads (a third of a cold start): scripts call
// it in loops and it needs nothing but package.json. Same text as oclif's (config.userAgent).
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`vfab/${version} ${process.platform}-${process.arch} node-${process.version}\n`);
} else {
  // @oclif/core checks at load that Node satisfies its own `engines` (>=18) by loading semver
  // (47 files, ~10 ms of a cold start). vfab requires Node >= 20 (package.json), so that check
  // can never warn for a Node that runs vfab: skip it (oclif's documented switch).
  process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1';
  // @oclif/core bundled into one file and compiled with a V8 code cache, the same instance the
  // commands use (dist/cli/compile-cache.adapter.js, docs/cli.md "Start-up").
  const { oclifCore } = await import('../dist/cli/compile-cache.adapter.js');
  const { execute } = oclifCore();
  await execute({ dir: import.meta.url });
}
