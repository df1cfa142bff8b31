/**
 * OVS's flow-mod protocols (`enum ofputil_protocol`, include/openvswitch/ofp-protocol.h) as a
 * bit set, and how `ovs-ofctl` names a set (`ofputil_protocols_to_string`, lib/ofp-protocol.c).
 *
 * `parse_ofp_str__` (lib/ofp-flow.c) starts every flow at "any protocol" and narrows the set as it
 * reads: flow flags (`reset_counts` OpenFlow 1.2+, `no_packet_counts`/`no_byte_counts` 1.3+),
 * `table=` (the table_id variants), a cookie mask (NXM or 1.1+), each match field by what its
 * mask needs (`mf_set`: of11-match.ts), actions at parse time (`push_vlan` 1.1+, `meter` 1.3+,
 * `write_metadata` NXM or 1.1+, `set_field` by the field) and at check time (`ofpacts_check`:
 * an action inconsistent with the match, such as `mod_nw_src` without `ip`, leaves only
 * OpenFlow 1.0, `inconsistent_match`). A flow whose set ends empty is a parse error
 * (OFPBAC_MATCH_INCONSISTENT); otherwise ovs-ofctl intersects the sets of all flows of the file
 * and refuses it when none of the session's allowed protocols remains
 * (utilities/ovs-ofctl.c `open_vconn_for_flow_mod`).
 */
import type { OfVersion } from './flow-syntax.js';

export const P_OF10_STD = 1 << 0;
export const P_OF10_STD_TID = 1 << 1;
export const P_OF10_NXM = 1 << 2;
export const P_OF10_NXM_TID = 1 << 3;
export const P_OF11_STD = 1 << 4;
export const P_OF12_OXM = 1 << 5;
export const P_OF13_OXM = 1 << 6;
export const P_OF14_OXM = 1 << 7;
export const P_OF15_OXM = 1 << 8;

export const P_OF10_STD_ANY = P_OF10_STD | P_OF10_STD_TID;
export const P_OF10_NXM_ANY = P_OF10_NXM | P_OF10_NXM_TID;
export const P_OF10_ANY = P_OF10_STD_ANY | P_OF10_NXM_ANY;
export const P_ANY_OXM = P_OF12_OXM | P_OF13_OXM | P_OF14_OXM | P_OF15_OXM;
export const P_NXM_OF11_UP = P_OF10_NXM_ANY | P_OF11_STD | P_ANY_OXM;
export const P_NXM_OXM_ANY = P_OF10_NXM_ANY | P_ANY_OXM;
export const P_OF15_UP = P_OF15_OXM;
export const P_OF14_UP = P_OF14_OXM | P_OF15_UP;
export const P_OF13_UP = P_OF13_OXM | P_OF14_UP;
export const P_OF12_UP = P_OF12_OXM | P_OF13_UP;
export const P_OF11_UP = P_OF11_STD | P_ANY_OXM;
export const P_ANY = (1 << 9) - 1;
/** The protocols that carry a table id in a flow_mod (OFPUTIL_P_TID). */
export const P_TID = P_OF10_STD_TID | P_OF10_NXM_TID | P_OF11_STD | P_ANY_OXM;

/** The protocols a session of one OpenFlow version allows (`ofputil_protocols_from_ofp_version`). */
export function allowedProtocols(version: OfVersion): number {
  switch (version) {
    case 10:
      return P_OF10_ANY;
    case 11:
      return P_OF11_STD;
    case 12:
      return P_OF12_OXM;
    case 13:
      return P_OF13_OXM;
    case 14:
      return P_OF14_OXM;
    default:
      return P_OF15_OXM;
  }
}

const ABBREVS: [number, string][] = [
  [P_ANY, 'any'],
  [P_OF10_STD_ANY, 'OpenFlow10'],
  [P_OF10_NXM_ANY, 'NXM'],
  [P_ANY_OXM, 'OXM'],
];
const SINGLE = ['OpenFlow10-table_id', 'OpenFlow10+table_id', 'NXM-table_id', 'NXM+table_id', 'OpenFlow11', 'OXM-OpenFlow12', 'OXM-OpenFlow13', 'OXM-OpenFlow14', 'OXM-OpenFlow15'];

/** `ofputil_protocols_to_string`: abbreviations first (`OXM`, `NXM`), then single protocols. */
export function protocolsText(p: number): string {
  if (p === 0) return 'none';
  const out: string[] = [];
  let rest = p;
  while (rest !== 0) {
    const ab = ABBREVS.find(([m]) => (rest & m) === m);
    if (ab) {
      out.push(ab[1]);
      rest &= ~ab[0];
      continue;
    }
    const i = 31 - Math.clz32(rest & -rest);
    out.push(SINGLE[i]!);
    rest &= ~(1 << i);
  }
  return out.join(',');
}

/** One narrowing of a flow's usable protocols, and the offset in the line of what caused it. */
export interface Narrowing {
  mask: number;
  at: number;
}

/**
 * The usable protocols of one flow line, built as `parse_ofp_str__` builds them, and where they
 * first left `allowed` (or nothing at all): the item an error points at.
 */
export class UsableProtocols {
  set = P_ANY;
  readonly steps: Narrowing[] = [];
  narrow(mask: number, at: number): void {
    if ((this.set & mask) === this.set) return;
    this.set &= mask;
    this.steps.push({ mask, at });
  }
  /** Offset of the narrowing after which no protocol of `allowed` remained (0 when none did). */
  firstOutside(allowed: number): number {
    let s = P_ANY;
    for (const n of this.steps) {
      s &= n.mask;
      if ((s & allowed) === 0) return n.at;
    }
    return 0;
  }
}
