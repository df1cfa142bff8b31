/**
 * Random-packet forwarding differential against Open vSwitch 3.1 (issue 11: "a flow file that
 * ovs-ofctl add-flows accepts loads in vfab and forwards the same", "vfab trace reads like
 * ovs-appctl ofproto/trace"). test/fixtures/ovs-packets/ holds random flow tables and packets
 * (scripts/ovs-fuzz/gen-packets.py 7 48 DIR 14) with the real OVS's answers (record-packets.sh);
 * for every packet vfab must give the same outputs (ports, VLANs, rewrites), datapath actions (in
 * order), megaflow, final flow, `Flow:` line and table tree (ovs-packet-fuzz.ts).
 * `OVS_PACKETS_DIR=/tmp/dir` runs the comparison over another recorded directory (a fuzz run;
 * scripts/ovs-fuzz/run-packets.sh does generate + record + compare in one go).
 * The live block re-records the corpus with the installed OVS: its answers must still be the
 * committed ones, and vfab must agree with them.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeWithTools } from '../helpers/tools.js';
import { parseExpected } from './ovs-oracle.js';
import { comparePacketCase } from './ovs-packet-fuzz.js';

const CORPUS = join(import.meta.dirname, '../fixtures/ovs-packets');
const ROOT = process.env['OVS_PACKETS_DIR'] ?? CORPUS;
const cases = (root: string): string[] => readdirSync(root).filter((d) => existsSync(join(root, d, 'trace.log'))).sort();

/** Known differences, `case #packet section` (docs/flows.md "ofproto/trace text"). */
const KNOWN = new Set([
  // Two push_vlan across a resubmit, then NORMAL refusing the packet: OVS prints both tags in
  // the final flow (dl_vlan1=10), vfab only the outer one. Not found yet.
  'pk-7-028 #6 Final',
  // learn() then a resubmit into the learned table in the same packet: OVS adds the learned flow
  // in the next classifier version, so this translation misses ("No match"); vfab's learned flow
  // is visible at once. Deferring it broke the tutorial-advanced case: not changed yet.
  'pk-7-015 #7 bridge',
]);

describe('random flow tables and packets forward as in the recorded Open vSwitch', () => {
  const all = cases(ROOT);
  let compared = 0;
  const found: string[] = [];
  for (const c of all) {
    it(`case ${c}`, () => {
      const r = comparePacketCase(join(ROOT, c), c);
      compared += r.compared;
      found.push(...r.diffs.map((d) => d.id));
      expect(r.diffs.filter((d) => !KNOWN.has(d.id)).map((d) => d.text)).toEqual([]);
    });
  }
  it('compared dozens of tables and hundreds of packets, with only the listed differences', () => {
    if (process.env['OVS_PACKETS_DIR']) return;
    expect(all.length).toBeGreaterThanOrEqual(30);
    expect(compared).toBeGreaterThanOrEqual(400 * 6);
    expect(readFileSync(join(CORPUS, 'OVS_VERSION'), 'utf8')).toMatch(/Open vSwitch\) 3\.1/);
    expect(found.sort()).toEqual([...KNOWN].sort());
  });
});

describeWithTools(['ovs-vswitchd', 'ovsdb-server', 'ovs-ofctl', 'python3'], 'random flow tables and packets forward as in a live Open vSwitch', () => {
  it('re-recorded corpus: OVS answers as committed, vfab agrees', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'ovs-packets-live-'));
    try {
      const dirs = cases(CORPUS).map((c) => {
        const d = join(tmp, c);
        cpSync(join(CORPUS, c), d, { recursive: true });
        rmSync(join(d, 'expected.txt'));
        rmSync(join(d, 'trace.log'));
        return d;
      });
      execFileSync('timeout', ['150', 'scripts/ovs-fuzz/record-packets.sh', ...dirs], { stdio: ['ignore', 'ignore', 'pipe'] });
      const diffs: string[] = [];
      for (const c of cases(CORPUS)) {
        // Normal form: a flood's per-port edit annotations follow OVS's unstable flood order.
        const answers = (root: string): string[] => parseExpected(readFileSync(join(root, c, 'expected.txt'), 'utf8')).map((l) => l.result);
        expect(answers(tmp), `${c}: OVS's answers changed`).toEqual(answers(CORPUS));
        for (const d of comparePacketCase(join(tmp, c), c).diffs) if (!KNOWN.has(d.id)) diffs.push(d.text);
      }
      expect(diffs).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 180_000);
});
