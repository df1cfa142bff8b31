/**
 * OpenFlow 1.3 matches and instructions to and from vfab's vswitch flows.
 *
 * Towards the bridge, a FLOW_MOD is written as the `ovs-ofctl add-flow` text the vswitch already
 * parses (`vswitch/flow-parser.ts`), so an installed flow is validated once, by the same code as
 * a topology's flows, and `vfab flows` shows it in dump-flows form. Fields and actions the vswitch
 * does not model answer with the OpenFlow error a switch without them gives (OFPBMC_BAD_FIELD,
 * OFPBAC_BAD_TYPE, OFPBIC_UNSUP_INST, OFPBAC_BAD_OUT_GROUP, OFPMMFC_INVALID_METER).
 *
 * Back towards the controller (flow stats), the match is rebuilt from the rule's key words; the
 * instructions of flows a controller installed are kept as it sent them.
 *
 * Port numbers: OpenFlow 1.3 ports are 32-bit, the vswitch numbers reserved ports the OpenFlow 1.0
 * way (0xfff8..0xffff); both share the numbers below 0xff00.
 */
import {
  ETH_TYPE_ARP,
  ETH_TYPE_IP,
  ETH_TYPE_IPV6,
  OFPP_ALL,
  OFPP_CONTROLLER,
  OFPP_FLOOD,
  OFPP_IN_PORT,
  OFPP_LOCAL,
  OFPP_NORMAL,
  W_ARP_SHA_HI,
  W_ARP_THA_HI,
  W_DL_DST_HI,
  W_DL_SRC_HI,
  W_DL_TYPE,
  W_IN_PORT,
  W_IPV6_DST,
  W_IPV6_SRC,
  W_NW_DST,
  W_NW_PROTO,
  W_NW_SRC,
  W_NW_TOS,
  W_TP_DST,
  W_TP_SRC,
  W_VLAN_TCI,
  formatIpv4,
  formatIpv6,
  formatMac,
  macFromWords,
} from '../vswitch/fields.js';
import type { Action as VAction } from '../vswitch/actions.js';
import type { Action, Instruction } from './actions.js';
import { OFPBAC, OFPBIC, OFPBMC, OFPCML_NO_BUFFER, OFPET, OFPP } from './constants.js';
import type { Match, OfpErr, OxmName, OxmTlv } from './oxm.js';

/** OpenFlow 1.3 port number to the vswitch's (16-bit reserved numbering). */
export function toVPort(p: number): number {
  return p >= 0xfffffff8 ? p - 0xffff0000 : p;
}
/** The vswitch's port number to OpenFlow 1.3. */
export function toOfPort(p: number): number {
  return p >= 0xfff8 && p <= 0xffff ? p + 0xffff0000 : p;
}

const RESERVED_TEXT: Record<number, string> = {
  [OFPP.IN_PORT]: 'IN_PORT',
  [OFPP.NORMAL]: 'NORMAL',
  [OFPP.FLOOD]: 'FLOOD',
  [OFPP.ALL]: 'ALL',
  [OFPP.LOCAL]: 'LOCAL',
};

/** ovs-ofctl names for the OXM fields the vswitch matches on. */
const OXM_TEXT: Partial<Record<OxmName, string>> = {
  in_port: 'in_port',
  eth_dst: 'dl_dst',
  eth_src: 'dl_src',
  eth_type: 'dl_type',
  vlan_vid: 'vlan_vid',
  vlan_pcp: 'vlan_pcp',
  ip_dscp: 'ip_dscp',
  ip_ecn: 'nw_ecn',
  ip_proto: 'nw_proto',
  ipv4_src: 'nw_src',
  ipv4_dst: 'nw_dst',
  tcp_src: 'tcp_src',
  tcp_dst: 'tcp_dst',
  udp_src: 'udp_src',
  udp_dst: 'udp_dst',
  sctp_src: 'sctp_src',
  sctp_dst: 'sctp_dst',
  icmpv4_type: 'icmp_type',
  icmpv4_code: 'icmp_code',
  arp_op: 'arp_op',
  arp_spa: 'arp_spa',
  arp_tpa: 'arp_tpa',
  arp_sha: 'arp_sha',
  arp_tha: 'arp_tha',
  ipv6_src: 'ipv6_src',
  ipv6_dst: 'ipv6_dst',
  icmpv6_type: 'icmpv6_type',
  icmpv6_code: 'icmpv6_code',
};

function v6Words(v: bigint): number[] {
  return [0, 1, 2, 3].map((i) => Number((v >> BigInt(96 - 32 * i)) & 0xffffffffn) | 0);
}

function valueText(o: OxmTlv): string {
  const kind = o.field;
  const one = (v: number | bigint): string => {
    switch (kind) {
      case 'eth_dst':
      case 'eth_src':
      case 'arp_sha':
      case 'arp_tha':
        return formatMac(Number(v));
      case 'ipv4_src':
      case 'ipv4_dst':
      case 'arp_spa':
      case 'arp_tpa':
        return formatIpv4(Number(v));
      case 'ipv6_src':
      case 'ipv6_dst':
        return formatIpv6(v6Words(BigInt(v)));
      case 'eth_type':
      case 'vlan_vid':
        return `0x${Number(v).toString(16)}`;
      default:
        return String(Number(v));
    }
  };
  return o.mask === undefined ? one(o.value) : `${one(o.value)}/${one(o.mask)}`;
}

/** The ovs-ofctl match text of an OpenFlow match, or the error for a field vfab does not match. */
export function matchToText(m: Match): string | OfpErr {
  const parts: string[] = [];
  for (const o of m) {
    if (o.field === 'raw') return { type: OFPET.BAD_MATCH, code: OFPBMC.BAD_FIELD, why: `OXM class 0x${o.oxmClass.toString(16)} field ${o.oxmField}` };
    const name = OXM_TEXT[o.field];
    if (!name) return { type: OFPET.BAD_MATCH, code: OFPBMC.BAD_FIELD, why: `${o.field} is not a field vfab matches on` };
    if (o.field === 'in_port') {
      const p = Number(o.value);
      if (p === 0 || (p > OFPP.MAX && p !== OFPP.LOCAL && p !== OFPP.CONTROLLER)) return { type: OFPET.BAD_MATCH, code: OFPBMC.BAD_VALUE, why: `in_port ${p}` };
      parts.push(`in_port=${toVPort(p)}`);
      continue;
    }
    parts.push(`${name}=${valueText(o)}`);
  }
  return parts.join(',');
}

function actionText(a: Action, out: string[]): OfpErr | null {
  switch (a.type) {
    case 'output': {
      if (a.port === OFPP.CONTROLLER) {
        out.push(`CONTROLLER:${a.maxLen}`);
        return null;
      }
      const r = RESERVED_TEXT[a.port];
      if (r) out.push(r);
      else if (a.port === 0 || a.port > OFPP.MAX) return { type: OFPET.BAD_ACTION, code: OFPBAC.BAD_OUT_PORT, why: `output to port 0x${a.port.toString(16)}` };
      else out.push(`output:${a.port}`);
      return null;
    }
    case 'pop_vlan':
      out.push('strip_vlan');
      return null;
    case 'push_vlan':
      if (a.ethertype !== 0x8100 && a.ethertype !== 0x88a8) return { type: OFPET.BAD_ACTION, code: OFPBAC.BAD_ARGUMENT, why: `push_vlan ethertype 0x${a.ethertype.toString(16)}` };
      out.push(`push_vlan:0x${a.ethertype.toString(16)}`);
      return null;
    case 'dec_nw_ttl':
      out.push('dec_ttl');
      return null;
    case 'set_field': {
      const o = a.oxm;
      if (o.field === 'raw' || !OXM_TEXT[o.field] || o.field === 'in_port') {
        return { type: OFPET.BAD_ACTION, code: OFPBAC.BAD_SET_TYPE, why: `set_field of ${o.field}` };
      }
      out.push(`set_field:${valueText(o)}->${o.field === 'ip_ecn' ? 'nw_ecn' : o.field}`);
      return null;
    }
    case 'group':
      // The bridge checks that the group exists when the flow is added (OFPBAC_BAD_OUT_GROUP).
      out.push(`group:${a.groupId}`);
      return null;
    default:
      return { type: OFPET.BAD_ACTION, code: OFPBAC.BAD_TYPE, why: `action ${a.type} is not supported by vfab bridges` };
  }
}

/** Actions as ovs-ofctl text ("drop" for none), or the error. */
export function actionsToText(actions: readonly Action[]): string | OfpErr {
  const out: string[] = [];
  for (const a of actions) {
    const e = actionText(a, out);
    if (e) return e;
  }
  return out.length ? out.join(',') : 'drop';
}

/**
 * The `actions=` text for a flow in table `tableId`. apply_actions and goto_table translate;
 * clear_actions alone is a no-op (there is no action set to clear); write_actions and
 * write_metadata need the action set and metadata the vswitch does not model (OFPBIC_UNSUP_INST);
 * a meter instruction names a meter that cannot exist (OFPMMFC_INVALID_METER, as OVS answers an
 * unknown meter id in lib/ofp-actions.c).
 */
export function instructionsToText(list: readonly Instruction[], tableId: number): string | OfpErr {
  const out: string[] = [];
  let gotoT: number | null = null;
  let meter: number | null = null;
  for (const i of list) {
    switch (i.type) {
      case 'apply_actions':
        for (const a of i.actions) {
          const e = actionText(a, out);
          if (e) return e;
        }
        break;
      case 'goto_table':
        if (i.tableId <= tableId || i.tableId > 0xfe) return { type: OFPET.BAD_INSTRUCTION, code: OFPBIC.BAD_TABLE_ID, why: `goto_table:${i.tableId} from table ${tableId}` };
        gotoT = i.tableId;
        break;
      case 'clear_actions':
        break;
      case 'meter':
        // Instructions run meter first (OpenFlow 1.3 §5.9); the bridge checks the meter exists.
        meter = i.meterId;
        break;
      case 'write_actions':
      case 'write_metadata':
        return { type: OFPET.BAD_INSTRUCTION, code: OFPBIC.UNSUP_INST, why: `${i.type} is not supported by vfab bridges` };
      case 'experimenter':
        return { type: OFPET.BAD_INSTRUCTION, code: OFPBIC.BAD_EXPERIMENTER, why: `experimenter 0x${i.experimenter.toString(16)}` };
    }
  }
  if (gotoT !== null) out.push(`goto_table:${gotoT}`);
  if (meter !== null) out.unshift(`meter:${meter}`);
  return out.length ? out.join(',') : 'drop';
}

function macMask(mask: ArrayLike<number>, hi: number): number {
  return macFromWords(mask, hi);
}

/** Rebuilds the OXM match of a vswitch rule from its key words (flow stats of any rule). */
export function wordsToMatch(value: ArrayLike<number>, mask: ArrayLike<number>): Match {
  const m: Match = [];
  const exact = (w: number, full: number): boolean => ((mask[w]! >>> 0) & full) === full;
  const put = (field: OxmName, v: number | bigint, mk: number | bigint, full: number | bigint): void => {
    if (mk === 0 || mk === 0n) return;
    m.push(mk === full ? { field, value: v } : { field, value: v, mask: mk });
  };
  if (mask[W_IN_PORT]) m.push({ field: 'in_port', value: toOfPort(value[W_IN_PORT]! & 0xffff) });
  put('eth_dst', macFromWords(value, W_DL_DST_HI), macMask(mask, W_DL_DST_HI), 0xffffffffffff);
  put('eth_src', macFromWords(value, W_DL_SRC_HI), macMask(mask, W_DL_SRC_HI), 0xffffffffffff);
  const dlType = exact(W_DL_TYPE, 0xffff) ? value[W_DL_TYPE]! & 0xffff : -1;
  if (dlType >= 0) m.push({ field: 'eth_type', value: dlType });
  const tciMask = mask[W_VLAN_TCI]! & 0xffff;
  const tci = value[W_VLAN_TCI]! & 0xffff;
  put('vlan_vid', tci & 0x1fff, tciMask & 0x1fff, 0x1fff);
  if ((tciMask & 0xe000) === 0xe000) m.push({ field: 'vlan_pcp', value: tci >>> 13 });
  const ip = dlType === ETH_TYPE_IP || dlType === ETH_TYPE_IPV6;
  const arp = dlType === ETH_TYPE_ARP || dlType === 0x8035;
  const proto = exact(W_NW_PROTO, 0xff) ? value[W_NW_PROTO]! & 0xff : -1;
  if (ip) {
    if ((mask[W_NW_TOS]! & 0xfc) === 0xfc) m.push({ field: 'ip_dscp', value: (value[W_NW_TOS]! & 0xfc) >> 2 });
    if ((mask[W_NW_TOS]! & 3) === 3) m.push({ field: 'ip_ecn', value: value[W_NW_TOS]! & 3 });
    if (proto >= 0) m.push({ field: 'ip_proto', value: proto });
  }
  if (dlType === ETH_TYPE_IP || arp) {
    const s = arp ? 'arp_spa' : 'ipv4_src';
    const d = arp ? 'arp_tpa' : 'ipv4_dst';
    put(s, value[W_NW_SRC]! >>> 0, mask[W_NW_SRC]! >>> 0, 0xffffffff);
    put(d, value[W_NW_DST]! >>> 0, mask[W_NW_DST]! >>> 0, 0xffffffff);
  }
  if (arp) {
    if (exact(W_NW_PROTO, 0xffff)) m.push({ field: 'arp_op', value: value[W_NW_PROTO]! & 0xffff });
    put('arp_sha', macFromWords(value, W_ARP_SHA_HI), macMask(mask, W_ARP_SHA_HI), 0xffffffffffff);
    put('arp_tha', macFromWords(value, W_ARP_THA_HI), macMask(mask, W_ARP_THA_HI), 0xffffffffffff);
  }
  if (dlType === ETH_TYPE_IPV6) {
    const big = (w: ArrayLike<number>, at: number): bigint => {
      let v = 0n;
      for (let i = 0; i < 4; i++) v = (v << 32n) | BigInt(w[at + i]! >>> 0);
      return v;
    };
    const all = (1n << 128n) - 1n;
    put('ipv6_src', big(value, W_IPV6_SRC), big(mask, W_IPV6_SRC), all);
    put('ipv6_dst', big(value, W_IPV6_DST), big(mask, W_IPV6_DST), all);
  }
  if (ip && proto >= 0) {
    const l4: Record<number, [OxmName, OxmName]> = {
      6: ['tcp_src', 'tcp_dst'],
      17: ['udp_src', 'udp_dst'],
      132: ['sctp_src', 'sctp_dst'],
      1: ['icmpv4_type', 'icmpv4_code'],
      58: ['icmpv6_type', 'icmpv6_code'],
    };
    const f = l4[proto];
    if (f && !(proto === 1 && dlType !== ETH_TYPE_IP) && !(proto === 58 && dlType !== ETH_TYPE_IPV6)) {
      if (mask[W_TP_SRC]) m.push({ field: f[0], value: value[W_TP_SRC]! & 0xffff });
      if (mask[W_TP_DST]) m.push({ field: f[1], value: value[W_TP_DST]! & 0xffff });
    }
  }
  return m;
}

/** OpenFlow instructions equivalent to a vswitch rule's actions (rules from topology text). */
export function vactionsToInstructions(actions: readonly VAction[]): Instruction[] {
  const acts: Action[] = [];
  const out: Instruction[] = [];
  for (const a of actions) {
    switch (a.type) {
      case 'output':
        acts.push({ type: 'output', port: toOfPort(a.port), maxLen: a.port === OFPP_CONTROLLER ? OFPCML_NO_BUFFER : 0 });
        break;
      case 'controller':
        acts.push({ type: 'output', port: OFPP.CONTROLLER, maxLen: a.maxLen });
        break;
      case 'strip_vlan':
        acts.push({ type: 'pop_vlan' });
        break;
      case 'push_vlan':
        acts.push({ type: 'push_vlan', ethertype: a.tpid });
        break;
      case 'set_vlan_vid':
        if (a.push) acts.push({ type: 'push_vlan', ethertype: 0x8100 });
        acts.push({ type: 'set_field', oxm: { field: 'vlan_vid', value: 0x1000 | a.vid } });
        break;
      case 'set_vlan_pcp':
        if (a.push) acts.push({ type: 'push_vlan', ethertype: 0x8100 });
        acts.push({ type: 'set_field', oxm: { field: 'vlan_pcp', value: a.pcp } });
        break;
      case 'dec_ttl':
        acts.push({ type: 'dec_nw_ttl' });
        break;
      case 'goto_table':
        out.push({ type: 'goto_table', tableId: a.table });
        break;
      case 'group':
        acts.push({ type: 'group', groupId: a.id });
        break;
      case 'meter':
        out.push({ type: 'meter', meterId: a.id });
        break;
      default:
        // set (masked word writes) and resubmit have no one-to-one OpenFlow 1.3 form: left out of
        // flow stats (documented in docs/openflow.md).
        break;
    }
  }
  return acts.length ? [{ type: 'apply_actions', actions: acts }, ...out] : out;
}

/** Reserved vswitch port names for packet-out outputs. */
export const V_RESERVED = { IN_PORT: OFPP_IN_PORT, NORMAL: OFPP_NORMAL, FLOOD: OFPP_FLOOD, ALL: OFPP_ALL, LOCAL: OFPP_LOCAL } as const;
