/**
 * Summary section `bridges`: each bridge's and switch's OpenFlow table with hit counters
 * (`ovs-ofctl dump-flows` fields) and its MAC table (`ovs-appctl fdb/show`) as of the end of the
 * run, keyed by bridge path in sorted order. And the topology hash the summary is stamped with.
 */
import { createHash } from 'node:crypto';
import type { TopologyModel } from '../topology/model.js';
import type { Bridge } from '../vswitch/index.js';

export interface BridgeTables {
  flows: unknown[];
  mac_table: Array<{ port: string; ofport: number; vlan: number; mac: string; age_s: number }>;
}

const macText = (mac: number): string => mac.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');

export function bridgeTables(bridges: ReadonlyMap<string, Bridge>): Record<string, BridgeTables> {
  const out: Record<string, BridgeTables> = {};
  for (const path of [...bridges.keys()].sort()) {
    const b = bridges.get(path)!;
    out[path] = {
      flows: b.flowStats(),
      mac_table: b.macEntries().map((e) => ({ port: e.portName, ofport: e.port, vlan: e.vlan, mac: macText(e.mac), age_s: e.ageS })),
    };
  }
  return out;
}

export function topologyHash(model: TopologyModel): string {
  return createHash('sha256').update(JSON.stringify(model.doc)).digest('hex');
}
