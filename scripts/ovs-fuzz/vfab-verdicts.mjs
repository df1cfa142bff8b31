#!/usr/bin/env node
// vfab's verdict on flow files, in judge.py's JSON form (one object per line):
//   node scripts/ovs-fuzz/vfab-verdicts.mjs [--protocols=10..15] FILE...
// Uses the built loader (npm run build first). Same bridge as judge.py: p1..p4 = 1..4, br0 = LOCAL.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseFlows } from '../../dist/vswitch/flow-parser.js';
import { OFPP_LOCAL } from '../../dist/vswitch/fields.js';
import { UserError } from '../../dist/errors.js';

const PORTS = { p1: 1, p2: 2, p3: 3, p4: 4, br0: OFPP_LOCAL };
const args = process.argv.slice(2);
const protocols = Number((args.find((a) => a.startsWith('--protocols=')) ?? '--protocols=10').split('=')[1]);
for (const f of args.filter((a) => !a.startsWith('--'))) {
  const text = readFileSync(f, 'latin1');
  const warnings = [];
  let out;
  try {
    // The judge's bridge has no groups and no meters.
    parseFlows(text, { file: basename(f), protocols, portByName: (n) => PORTS[n], warnings, groupExists: () => false, meterExists: () => false });
    out = { file: basename(f), verdict: 'accept', line: null, message: '', warnings: warnings.length };
  } catch (e) {
    if (!(e instanceof UserError)) out = { file: basename(f), verdict: 'crash', line: null, message: String(e?.stack ?? e), warnings: warnings.length };
    else out = { file: basename(f), verdict: 'reject', line: e.location?.line ?? null, message: e.message, warnings: warnings.length };
  }
  console.log(JSON.stringify(out));
}
