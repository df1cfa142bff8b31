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
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
