#!/usr/bin/env node
/**
 * Would a V8 startup snapshot make `vfab` start faster? (issue 19, docs/cli.md "Start-up")
 *
 *   npm run build && node scripts/startup-snapshot-probe.mjs [--runs 9] [--command run]
 *
 * Node ≥ 18.20/20 can start from a user-land snapshot (`node --snapshot-blob b --build-snapshot
 * entry.js`, then `node --snapshot-blob b`): the heap after entry.js ran, so @oclif/core and a
 * command's bundle would be loaded, compiled and their module-level code (zod building its
 * schemas) already run. But a snapshot is only read by a Node process started with
 * `--snapshot-blob`: `vfab` is `node bin/run.js`, and Node 20 cannot replace its own process
 * (no execve), so bin/run.js would have to spawn a second Node and wait for it. This probe builds
 * such a snapshot in a temporary folder and times, in interleaved rounds, each process on its own
 * (CPU as the process itself reports it at its end, `process.cpuUsage()`, and its peak RSS):
 *
 *   node      `node -e 0`: what the extra launcher process would cost at least
 *   snapshot  `node --snapshot-blob` with oclif and the command's bundle loaded (main returns at once)
 *   today     `node` loading oclif (bundle + code cache), its config, and the command's bundle
 *             (code cache) the way bin/run.js does, then returning
 *
 * A snapshot wins only if node + snapshot < today. Measured 2026-12-07 on Node 20.20 (the figures
 * in docs/cli.md): it does not; the probe stays so the question can be asked again of another
 * Node (≥ 22 has `module.enableCompileCache`, ≥ 23.11 `process.execve`). Nothing here is part of
 * the build; it writes only under the OS temp dir and removes what it wrote.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const runs = Number(opt('--runs', '9'));
const command = opt('--command', 'run');
const bundles = join(root, 'dist', 'cli-bundles');
const commandFile = join(root, 'dist', 'commands', `${command.replace(/:/g, '/')}.js`);
const commandBundle = join(bundles, `${command.replace(/:/g, '/')}.cjs`);
const dir = mkdtempSync(join(tmpdir(), 'vfab-snapshot-probe-'));
const report = 'const c = process.cpuUsage(); process.stdout.write(JSON.stringify({ cpuMs: (c.user + c.system) / 1000, rssMiB: process.resourceUsage().maxRSS / 1024 }));';

// The snapshot's entry: loads the bundles as src/cli/compile-cache.adapter.ts does (without the
// code cache, which a snapshot replaces) and sets a main function that only reports.
writeFileSync(join(dir, 'entry.cjs'), `
const { createRequire } = require('node:module');
const vm = require('node:vm');
const { readFileSync } = require('node:fs');
const { dirname } = require('node:path');
const base = createRequire(${JSON.stringify(commandBundle)});
function runBundle(file, req, dirName, url) {
  const script = new vm.Script('(function (exports, require, module, __filename, __dirname, __vfabImportMetaUrl, __vfabImport) {' + readFileSync(file, 'utf8') + '\\n})', { filename: file });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, req, module, file, dirName, url, (s) => import(s));
  return module.exports;
}
const oclifFile = ${JSON.stringify(join(bundles, 'oclif-core.cjs'))};
const oclif = runBundle(oclifFile, base, dirname(base.resolve('@oclif/core')), 'file://' + oclifFile);
const req = Object.assign((id) => (id === '@oclif/core' ? oclif : base(id)), { resolve: base.resolve, cache: base.cache });
const cmd = runBundle(${JSON.stringify(commandBundle)}, req, ${JSON.stringify(dirname(commandBundle))}, ${JSON.stringify(pathToFileURL(commandFile).href)});
require('node:v8').startupSnapshot.setDeserializeMainFunction(() => { if (typeof cmd.default !== 'function') throw new Error('no command'); ${report} });
`);
// Today's path up to the command's run(), as bin/run.js takes it.
writeFileSync(join(dir, 'today.mjs'), `
const { oclifCore } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'cli', 'compile-cache.adapter.js')).href)});
const { Config } = oclifCore();
await Config.load({ root: ${JSON.stringify(root)} });
const cmd = await import(${JSON.stringify(pathToFileURL(commandFile).href)});
if (typeof cmd.default !== 'function') throw new Error('no command');
${report}
`);

try {
  const blob = join(dir, 'snap.blob');
  const built = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', join(dir, 'entry.cjs')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`building the snapshot failed:\n${built.stderr}`);
  const cases = {
    node: ['-e', report],
    snapshot: ['--snapshot-blob', blob],
    today: [join(dir, 'today.mjs')],
  };
  const one = (args) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    const wallMs = performance.now() - t0;
    if (r.status !== 0) throw new Error(`node ${args.join(' ')}: ${r.stderr}`);
    return { wallMs, ...JSON.parse(r.stdout) };
  };
  for (const args of Object.values(cases)) one(args); // page cache, code cache
  const got = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) for (const [k, args] of Object.entries(cases)) got[k].push(one(args));
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const row = (k) => ({ wall_ms: Math.round(med(got[k].map((r) => r.wallMs))), cpu_ms: Math.round(med(got[k].map((r) => r.cpuMs))), rss_mib: Math.round(med(got[k].map((r) => r.rssMiB))) });
  const rows = Object.fromEntries(Object.keys(cases).map((k) => [k, row(k)]));
  const snap = rows.snapshot;
  rows['node + snapshot'] = { wall_ms: rows.node.wall_ms + snap.wall_ms, cpu_ms: rows.node.cpu_ms + snap.cpu_ms, rss_mib: rows.node.rss_mib + snap.rss_mib };
  console.log(`vfab ${command}: start-up up to the command's run(), medians of ${runs} interleaved runs; snapshot ${(readFileSync(blob).length / 2 ** 20).toFixed(1)} MiB; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.table(rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
