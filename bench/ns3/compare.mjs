#!/usr/bin/env node
// Races vfab against ns-3 on every world of src/bench/ns3-world.ts and prints a table.
//   npm run build && node bench/ns3/compare.mjs [--runs 5] [--world tor_64vms]
//   VFAB_NS3_PREFIX=/opt/ns-3-release node bench/ns3/compare.mjs   # against a release build
// For each world: one run of each must deliver the same datagrams per flow with the same
// steady-state latency (else exit 1); then N interleaved timed runs; medians.
import { buildNs3, race } from '../../dist/bench/ns3.js';
import { WORLDS } from '../../dist/bench/ns3-world.js';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const runs = Number(opt('--runs', '3'));
const only = opt('--world', undefined);
const log = (m) => process.stderr.write(`${m}\n`);

const built = await buildNs3(log); // async since the bench awaits its children
if ('skip' in built) {
  log(`cannot race: ${built.skip}`);
  process.exit(2);
}
log(`ns-3: ${built.label}`);
const rows = [];
for (const w of Object.values(WORLDS)) {
  if (only && w.name !== only) continue;
  const r = await race(w, built.binary, runs, log);
  rows.push({ world: w.name, vms: w.hosts * w.vmsPerHost, flows: w.flows, traffic_ms: w.durationNs / 1e6, vfab_ms: Math.round(r.vfabMs), ns3_ms: Math.round(r.ns3Ms), ratio: Number(r.ratio.toFixed(3)) });
}
console.log(`same datagrams and steady-state latencies in every world; vfab/ns-3 wall = median of ${runs} interleaved runs (${built.label})`);
console.table(rows);
