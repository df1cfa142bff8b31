/**
 * TABLE_FEATURES reply (§7.3.5.5) describing what a vfab bridge table can do: the instructions,
 * actions and OXM fields `translate.ts` accepts. `ovs-ofctl -O OpenFlow13 add-flow` asks for it
 * before sending a FLOW_MOD.
 */
import { Writer } from './buf.js';
import { OFPAT, OFPIT, OFPXMC_OPENFLOW_BASIC } from './constants.js';
import type { TableFeatures } from './multipart.js';
import { OXM_BY_NAME, type OxmName } from './oxm.js';

/** enum ofp_table_feature_prop_type */
const OFPTFPT = { INSTRUCTIONS: 0, NEXT_TABLES: 2, WRITE_ACTIONS: 4, APPLY_ACTIONS: 6, MATCH: 8, WILDCARDS: 10, WRITE_SETFIELD: 12, APPLY_SETFIELD: 14 } as const;

const MATCH_FIELDS: OxmName[] = [
  'in_port', 'eth_dst', 'eth_src', 'eth_type', 'vlan_vid', 'vlan_pcp', 'ip_dscp', 'ip_ecn', 'ip_proto', 'ipv4_src', 'ipv4_dst',
  'tcp_src', 'tcp_dst', 'udp_src', 'udp_dst', 'sctp_src', 'sctp_dst', 'icmpv4_type', 'icmpv4_code', 'arp_op', 'arp_spa',
  'arp_tpa', 'arp_sha', 'arp_tha', 'ipv6_src', 'ipv6_dst', 'icmpv6_type', 'icmpv6_code',
];
const SET_FIELDS = MATCH_FIELDS.filter((f) => f !== 'in_port');

function oxmIds(fields: OxmName[], withMask: boolean): Uint8Array {
  const w = new Writer(256);
  for (const f of fields) {
    const d = OXM_BY_NAME.get(f)!;
    const hm = withMask && d.maskable;
    w.u32(((OFPXMC_OPENFLOW_BASIC << 16) | (d.id << 9) | ((hm ? 1 : 0) << 8) | (hm ? 2 * d.len : d.len)) >>> 0);
  }
  return w.take();
}

function ids(types: number[]): Uint8Array {
  const w = new Writer(64);
  for (const t of types) {
    w.u16(t);
    w.u16(4);
  }
  return w.take();
}

/** Features of tables 0..nTables-1. */
export function tableFeatures(nTables: number, maxEntries: number): TableFeatures[] {
  const instructions = ids([OFPIT.APPLY_ACTIONS, OFPIT.CLEAR_ACTIONS, OFPIT.GOTO_TABLE]);
  const lastInstructions = ids([OFPIT.APPLY_ACTIONS, OFPIT.CLEAR_ACTIONS]);
  const actions = ids([OFPAT.OUTPUT, OFPAT.PUSH_VLAN, OFPAT.POP_VLAN, OFPAT.DEC_NW_TTL, OFPAT.SET_FIELD]);
  const match = oxmIds(MATCH_FIELDS, true);
  const wildcards = oxmIds(MATCH_FIELDS, false);
  const setfield = oxmIds(SET_FIELDS, false);
  const out: TableFeatures[] = [];
  for (let t = 0; t < nTables; t++) {
    const next = new Uint8Array(nTables - 1 - t).map((_, i) => t + 1 + i);
    out.push({
      tableId: t,
      name: `table${t}`,
      metadataMatch: 0n,
      metadataWrite: 0n,
      config: 0,
      maxEntries,
      properties: [
        { type: OFPTFPT.INSTRUCTIONS, data: t === nTables - 1 ? lastInstructions : instructions },
        { type: OFPTFPT.NEXT_TABLES, data: next },
        // OVS (lib/ofp-table.c) requires every non-miss property; write_actions is not supported: empty.
        { type: OFPTFPT.WRITE_ACTIONS, data: new Uint8Array(0) },
        { type: OFPTFPT.APPLY_ACTIONS, data: actions },
        { type: OFPTFPT.MATCH, data: match },
        { type: OFPTFPT.WILDCARDS, data: wildcards },
        { type: OFPTFPT.WRITE_SETFIELD, data: new Uint8Array(0) },
        { type: OFPTFPT.APPLY_SETFIELD, data: setfield },
      ],
    });
  }
  return out;
}
