/**
 * The random-packet forwarding differential (scripts/ovs-fuzz/gen-packets.py, record-packets.sh):
 * a case directory holds a random flow table, a bridge and random packets, and Open vSwitch's
 * answers for them (expected.txt: `--stable` outputs; trace.log: the full `ofproto/trace` text).
 * `comparePacketCase` runs vfab on the same inputs and lists, per packet, every section that
 * differs: the outputs with the VLAN and header edits each port receives, the datapath actions
 * (in order), the megaflow, the final flow, the `Flow:` line and the table tree.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../../src/errors.js';
import { blocks, parseExpected, runVfabOvsTexts, sections } from './ovs-oracle.js';

export interface PacketDiff {
  /** `case #N section`. */
  id: string;
  text: string;
}

/** The sections compared, in report order. */
export const SECTIONS = ['Outputs', 'Datapath', 'Megaflow', 'Final', 'Flow', 'bridge'] as const;

/** Every difference between OVS's recorded answers in `dir` and vfab's, and how many were compared. */
export function comparePacketCase(dir: string, name: string): { diffs: PacketDiff[]; compared: number } {
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  const opts = existsSync(join(dir, 'ofctl-opts')) ? read('ofctl-opts') : '';
  const of13 = /OpenFlow1[1-5]/.test(opts);
  const expected = parseExpected(read('expected.txt')).filter((l) => l.kind !== 'fdb');
  const traces = blocks(read('trace.log'));
  let got;
  try {
    got = runVfabOvsTexts(read('bridge.spec'), read('flows.txt'), read('packets.txt'), opts);
  } catch (e) {
    return { diffs: [{ id: `${name} load`, text: `${name}: vfab refused the case: ${errorMessage(e)}` }], compared: 1 };
  }
  const diffs: PacketDiff[] = [];
  let compared = 0;
  if (got.length !== expected.length || traces.length !== expected.length) {
    return { diffs: [{ id: `${name} count`, text: `${name}: ${expected.length} OVS answers, ${traces.length} traces, ${got.length} vfab` }], compared: 1 };
  }
  expected.forEach((e, i) => {
    const g = got[i]!;
    const want: Record<string, string> = { Outputs: e.result, ...sections(traces[i]!, of13) };
    const have: Record<string, string> = { Outputs: g.result, ...sections(g.ovs ?? '', of13) };
    for (const k of SECTIONS) {
      compared++;
      if (want[k] === have[k]) continue;
      const id = `${name} #${i + 1} ${k}`;
      diffs.push({ id, text: `${id}  ${e.kind} ${e.text}\n  ovs:  ${want[k]}\n  vfab: ${have[k]}` });
    }
  });
  return { diffs, compared };
}
