/**
 * Prints every difference between OVS's recorded answers and vfab for the case directories given
 * (gen-packets.py + record-packets.sh), then a count per section:
 *   npx vite-node scripts/ovs-fuzz/compare-packets.ts DIR...
 */
import { basename } from 'node:path';
import { comparePacketCase, SECTIONS } from '../../test/vswitch/ovs-packet-fuzz.js';

const count = new Map<string, number>();
let compared = 0;
for (const dir of process.argv.slice(2)) {
  const r = comparePacketCase(dir, basename(dir));
  compared += r.compared;
  for (const d of r.diffs) {
    process.stdout.write(`${d.text}\n`);
    const k = d.id.split(' ').pop()!;
    count.set(k, (count.get(k) ?? 0) + 1);
  }
}
const summary = [...SECTIONS, 'load', 'count'].filter((k) => count.has(k)).map((k) => `${k} ${count.get(k)}`);
process.stdout.write(`${compared} sections compared; differences: ${summary.join(', ') || 'none'}\n`);
