#!/usr/bin/env node
// Fails if src/ reads a wall clock or unseeded randomness outside the thin adapters.
// Adapters (CLI commands, bench, file sinks) may; the simulation core may not.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const ALLOWED = [/^src\/commands\//, /^src\/cli\//, /^src\/bench\//, /\.adapter\.ts$/, /\.test\.ts$/];
const BANNED = [/\bDate\.now\s*\(/, /\bnew Date\s*\(/, /\bMath\.random\s*\(/, /\bperformance\.now\s*\(/, /\bsetTimeout\s*\(/, /\bsetInterval\s*\(/, /\bprocess\.hrtime\b/];

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const bad = [];
for (const file of walk(join(ROOT, 'src'))) {
  const rel = relative(ROOT, file);
  if (ALLOWED.some((r) => r.test(rel))) continue;
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '');
    for (const re of BANNED) if (re.test(code)) bad.push(`${rel}:${i + 1}: ${line.trim()}`);
  });
}
if (bad.length) {
  console.error(`wall-clock or unseeded randomness in the simulation core:\n${bad.join('\n')}`);
  process.exit(1);
}
console.log('determinism: no wall clock or Math.random in src/ outside adapters');
