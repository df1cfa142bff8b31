/**
 * OpenFlow 1.1's standard match (OFPUTIL_P_OF11_STD): which fields and masks it can carry.
 *
 * OVS marks each field with what OpenFlow 1.1's fixed `ofp11_match` can express
 * (include/openvswitch/meta-flow.h, the "OF1.1:" line of each field, compiled into
 * `mf->usable_protocols_exact/_cidr/_bitwise`): none (only NXM/OXM can match it), an exact match,
 * or any bitwise mask. `mf_set` (lib/meta-flow.c) narrows a flow's usable protocols by the field's
 * exact set when the mask is all ones, not at all when it is all zeros, and by its bitwise set
 * otherwise; `set_field` narrows them by the field's exact set (lib/ofp-actions.c
 * set_field_parse__). `parse_ofp_str__` (lib/ofp-flow.c) also leaves only NXM/OXM for an IPv6
 * match on nw_proto, nw_tos or L4 ports. Under `-O OpenFlow11` ovs-ofctl then refuses the flow:
 * "none of the usable flow formats (NXM,OXM) is among the allowed flow formats (OpenFlow11)".
 */
import type { FieldDef } from './fields.js';

/** Fields `ofp11_match` carries with any bitwise mask ("OF1.1: bitwise mask"). */
const OF11_BITWISE = new Set(['metadata', 'dl_src', 'dl_dst', 'nw_src', 'nw_dst', 'arp_spa', 'arp_tpa']);
/** Fields it carries only exactly ("OF1.1: exact match"). */
const OF11_EXACT = new Set([
  'in_port', 'dl_type', 'vlan_tci', 'dl_vlan', 'vlan_vid', 'dl_vlan_pcp', 'vlan_pcp', 'nw_proto', 'nw_tos', 'ip_dscp', 'nw_ecn',
  'arp_op', 'tp_src', 'tp_dst', 'tcp_src', 'tcp_dst', 'udp_src', 'udp_dst', 'sctp_src', 'sctp_dst', 'icmp_type', 'icmp_code',
]);

/** How a match item's mask covers its field. */
export type MaskCover = 'none' | 'full' | 'partial';

/** Whether OpenFlow 1.1's standard match can hold `fd` matched with a mask of `cover` (mf_set). */
export function of11Matchable(fd: FieldDef, cover: MaskCover): boolean {
  if (cover === 'none') return true; // all-zero mask: OFPUTIL_P_ANY
  if (OF11_BITWISE.has(fd.name)) return true;
  return cover === 'full' && OF11_EXACT.has(fd.name);
}

/** Whether `set_field` on `fd` is encodable in OpenFlow 1.1 (its `usable_protocols_exact`). */
export function of11Settable(fd: FieldDef): boolean {
  return OF11_BITWISE.has(fd.name) || OF11_EXACT.has(fd.name);
}
