/**
 * A match (value/mask words) printed the way `ovs-ofctl dump-flows` prints it (`lib/match.c`
 * `match_format`): protocol shorthand first, then `in_port`, VLAN, Ethernet, L3 and L4 fields.
 */
import { formatTunMetadata, type TlvTable } from './tun-metadata.js';
import {
  ETH_TYPE_ARP,
  ETH_TYPE_IP,
  ETH_TYPE_IPV6,
  ETH_TYPE_RARP,
  VLAN_CFI,
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
  W_NW_TTL,
  W_TP_DST,
  W_TP_SRC,
  W_VLAN_TCI,
  W_ACTSET_OUTPUT,
  W_CONJ_ID,
  W_CT_IPV6_DST,
  W_CT_IPV6_SRC,
  W_CT_LABEL,
  W_CT_MARK,
  W_CT_NW_DST,
  W_CT_NW_PROTO,
  W_CT_NW_SRC,
  W_CT_STATE,
  W_CT_TP_DST,
  W_CT_TP_SRC,
  W_CT_ZONE,
  W_IPV6_LABEL,
  W_METADATA,
  W_ND_TARGET,
  W_NW_FRAG,
  W_PKT_MARK,
  W_REG0,
  W_TCP_FLAGS,
  W_TUN_DST,
  W_TUN_FLAGS,
  W_TUN_ID,
  W_TUN_SRC,
  W_TUN_IPV6_DST,
  W_TUN_IPV6_SRC,
  formatIpv4,
  formatIpv6,
  formatMac,
  macFromWords,
} from './fields.js';
import { formatPort } from './actions.js';
import { CT_STATE_NAMES, TCP_FLAG_NAMES } from './flow-syntax.js';

function hex(n: number, pad = 4): string {
  return `0x${(n >>> 0).toString(16).padStart(pad, '0')}`;
}

function ipv4Text(v: number, m: number): string {
  if (m === -1) return formatIpv4(v);
  const inv = ~m >>> 0;
  const contiguous = (inv & (inv + 1)) === 0;
  if (contiguous) {
    let len = 0;
    for (let b = 31; b >= 0 && ((m >>> b) & 1) === 1; b--) len++;
    return `${formatIpv4(v)}/${len}`;
  }
  return `${formatIpv4(v)}/${formatIpv4(m)}`;
}

function ipv6Text(value: Int32Array, mask: Int32Array, at: number): string {
  let len = 0;
  let contiguous = true;
  let seenZero = false;
  for (let i = 0; i < 4; i++) {
    for (let b = 31; b >= 0; b--) {
      const bit = (mask[at + i]! >>> b) & 1;
      if (bit === 1) {
        if (seenZero) contiguous = false;
        len++;
      } else seenZero = true;
    }
  }
  const v = formatIpv6(value, at);
  if (len === 128) return v;
  return contiguous ? `${v}/${len}` : `${v}/${formatIpv6(mask, at)}`;
}

function macText(value: Int32Array, mask: Int32Array, hi: number): string {
  const v = formatMac(macFromWords(value, hi));
  const m = macFromWords(mask, hi);
  return m === 0xffff_ffff_ffff ? v : `${v}/${formatMac(m)}`;
}

/** C's `%#x`: `0x…`, except that zero prints as `0`. */
function cHex(n: number): string {
  return n >>> 0 === 0 ? '0' : `0x${(n >>> 0).toString(16)}`;
}

/** `format_be16_masked`: decimal when exact, else `0x%x/0x%x`. */
function intText(v: number, m: number, full: number): string {
  return m === full ? String(v) : `0x${v.toString(16)}/0x${m.toString(16)}`;
}

/** `format_uint32_masked`: `%#x`, with `/%#x` unless exact. */
function hexMasked(name: string, v: number, m: number, full = 0xffffffff): string {
  const x = cHex;
  return (m >>> 0) === full ? `${name}=${x(v)}` : `${name}=${x(v)}/${x(m)}`;
}

function wideMasked(name: string, value: Int32Array, mask: Int32Array, at: number, n: number): string | null {
  let v = 0n;
  let m = 0n;
  for (let i = 0; i < n; i++) {
    v = (v << 32n) | BigInt(value[at + i]! >>> 0);
    m = (m << 32n) | BigInt(mask[at + i]! >>> 0);
  }
  if (m === 0n) return null;
  const all = (1n << BigInt(32 * n)) - 1n;
  return m === all ? `${name}=0x${v.toString(16)}` : `${name}=0x${v.toString(16)}/0x${m.toString(16)}`;
}

/** `format_flags_masked` (lib/flow.c): `+syn-ack`, bits in ascending order; hex when a bit has no name. */
function flagsMasked(name: string, v: number, m: number, names: Record<number, string>, width: number): string {
  const out: string[] = [];
  for (let bit = 1; bit <= m; bit <<= 1) {
    if ((m & bit) === 0) continue;
    const n = names[bit];
    if (n === undefined) return `${name}=0x${v.toString(16).padStart(width, '0')}/0x${m.toString(16).padStart(width, '0')}`;
    out.push(`${v & bit ? '+' : '-'}${n}`);
  }
  return `${name}=${out.join('')}`;
}

const FRAG_TEXT: Record<string, string> = { '0/3': 'no', '1/3': 'first', '3/3': 'later', '0/1': 'no', '1/1': 'yes', '0/2': 'not_later', '2/2': 'later' };

export function formatMatch(value: Int32Array, mask: Int32Array, portName?: (p: number) => string | undefined, tlv?: TlvTable): string {
  const parts: string[] = [];
  // Metadata first, as match_format does: pkt_mark, conj_id, actset_output, ct_*.
  if (mask[W_PKT_MARK] !== 0) parts.push(hexMasked('pkt_mark', value[W_PKT_MARK]!, mask[W_PKT_MARK]!));
  if (mask[W_CONJ_ID] !== 0) parts.push(`conj_id=${value[W_CONJ_ID]! >>> 0}`);
  if (mask[W_ACTSET_OUTPUT] !== 0) parts.push(`actset_output=${formatPort(value[W_ACTSET_OUTPUT]!, portName)}`);
  if (mask[W_CT_STATE] !== 0) parts.push(flagsMasked('ct_state', value[W_CT_STATE]!, mask[W_CT_STATE]!, CT_STATE_NAMES, 2));
  if (mask[W_CT_ZONE] !== 0) parts.push(`ct_zone=${value[W_CT_ZONE]}`);
  if (mask[W_CT_MARK] !== 0) parts.push(hexMasked('ct_mark', value[W_CT_MARK]!, mask[W_CT_MARK]!));
  const ctl = wideMasked('ct_label', value, mask, W_CT_LABEL, 4);
  if (ctl) parts.push(ctl);
  // match_format: ct_nw_src, ct_ipv6_src, ct_nw_dst, ct_ipv6_dst, then ct_nw_proto with the
  // ct_tp ports (which are printed only next to ct_nw_proto, though matched without it).
  const anyOf = (at: number): boolean => mask[at] !== 0 || mask[at + 1] !== 0 || mask[at + 2] !== 0 || mask[at + 3] !== 0;
  if (mask[W_CT_NW_SRC] !== 0) parts.push(`ct_nw_src=${ipv4Text(value[W_CT_NW_SRC]!, mask[W_CT_NW_SRC]!)}`);
  if (anyOf(W_CT_IPV6_SRC)) parts.push(`ct_ipv6_src=${ipv6Text(value, mask, W_CT_IPV6_SRC)}`);
  if (mask[W_CT_NW_DST] !== 0) parts.push(`ct_nw_dst=${ipv4Text(value[W_CT_NW_DST]!, mask[W_CT_NW_DST]!)}`);
  if (anyOf(W_CT_IPV6_DST)) parts.push(`ct_ipv6_dst=${ipv6Text(value, mask, W_CT_IPV6_DST)}`);
  if (mask[W_CT_NW_PROTO] !== 0) {
    parts.push(`ct_nw_proto=${value[W_CT_NW_PROTO]}`);
    if (mask[W_CT_TP_SRC] !== 0) parts.push(`ct_tp_src=${intText(value[W_CT_TP_SRC]! & 0xffff, mask[W_CT_TP_SRC]! & 0xffff, 0xffff)}`);
    if (mask[W_CT_TP_DST] !== 0) parts.push(`ct_tp_dst=${intText(value[W_CT_TP_DST]! & 0xffff, mask[W_CT_TP_DST]! & 0xffff, 0xffff)}`);
  }
  const meta: string[] = [];
  for (let i = 0; i < 16; i++) if (mask[W_REG0 + i] !== 0) meta.push(hexMasked(`reg${i}`, value[W_REG0 + i]!, mask[W_REG0 + i]!));
  // format_be64_masked: `%#x`, so an exact zero tun_id prints as `tun_id=0`.
  const tid = wideMasked('tun_id', value, mask, W_TUN_ID, 2);
  if (tid) meta.push(tid === 'tun_id=0x0' ? 'tun_id=0' : tid);
  if (mask[W_TUN_SRC] !== 0) meta.push(`tun_src=${ipv4Text(value[W_TUN_SRC]!, mask[W_TUN_SRC]!)}`);
  if (mask[W_TUN_DST] !== 0) meta.push(`tun_dst=${ipv4Text(value[W_TUN_DST]!, mask[W_TUN_DST]!)}`);
  // format_flow_tunnel: format_ipv6_netmask after tun_dst (nothing when the mask is all zero).
  if (anyOf(W_TUN_IPV6_SRC)) meta.push(`tun_ipv6_src=${ipv6Text(value, mask, W_TUN_IPV6_SRC)}`);
  if (anyOf(W_TUN_IPV6_DST)) meta.push(`tun_ipv6_dst=${ipv6Text(value, mask, W_TUN_IPV6_DST)}`);
  if (mask[W_TUN_FLAGS] !== 0) meta.push(`tun_flags=${value[W_TUN_FLAGS]! & 1 ? '+oam' : '-oam'}`);
  // format_flow_tunnel ends with tun_metadata_match_format.
  if (tlv) meta.push(...formatTunMetadata(value, mask, tlv));
  const md = wideMasked('metadata', value, mask, W_METADATA, 2);
  if (md) meta.push(md);
  const dlTypeExact = mask[W_DL_TYPE] === 0xffff;
  const dlType = dlTypeExact ? value[W_DL_TYPE]! : -1;
  const protoExact = (mask[W_NW_PROTO]! & 0xff) === 0xff;
  const proto = protoExact ? value[W_NW_PROTO]! : -1;
  const isIp = dlType === ETH_TYPE_IP;
  const isIp6 = dlType === ETH_TYPE_IPV6;
  const isArp = dlType === ETH_TYPE_ARP || dlType === ETH_TYPE_RARP;
  let protoShown = false;
  if (isIp || isIp6) {
    const names: Record<number, string> = isIp ? { 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' } : { 58: 'icmp6', 6: 'tcp6', 17: 'udp6', 132: 'sctp6' };
    const n = names[proto];
    if (n) {
      parts.push(n);
      protoShown = true;
    } else parts.push(isIp ? 'ip' : 'ipv6');
  } else if (dlType === ETH_TYPE_ARP) parts.push('arp');
  else if (dlType === ETH_TYPE_RARP) parts.push('rarp');
  parts.push(...meta);
  if (mask[W_IN_PORT] !== 0) parts.push(`in_port=${formatPort(value[W_IN_PORT]!, portName)}`);
  const tm = mask[W_VLAN_TCI]! & 0xffff;
  const tv = value[W_VLAN_TCI]! & 0xffff;
  if (tm !== 0) {
    if (tm === 0x1fff && (tv & VLAN_CFI) !== 0) parts.push(`dl_vlan=${tv & 0xfff}`);
    else if (tm === 0xf000 && (tv & VLAN_CFI) !== 0) parts.push(`dl_vlan_pcp=${tv >>> 13}`);
    else if (tm === 0xffff && (tv & VLAN_CFI) !== 0) parts.push(`dl_vlan=${tv & 0xfff}`, `dl_vlan_pcp=${tv >>> 13}`);
    else parts.push(tm === 0xffff ? `vlan_tci=${hex(tv)}` : `vlan_tci=${hex(tv)}/${hex(tm)}`);
  }
  if (mask[W_DL_SRC_HI] !== 0 || mask[W_DL_SRC_HI + 1] !== 0) parts.push(`dl_src=${macText(value, mask, W_DL_SRC_HI)}`);
  if (mask[W_DL_DST_HI] !== 0 || mask[W_DL_DST_HI + 1] !== 0) parts.push(`dl_dst=${macText(value, mask, W_DL_DST_HI)}`);
  if (dlTypeExact && !isIp && !isIp6 && !isArp) parts.push(`dl_type=${hex(dlType)}`);
  const l3 = isArp ? ['arp_spa', 'arp_tpa'] : ['nw_src', 'nw_dst'];
  if (mask[W_NW_SRC] !== 0) parts.push(`${l3[0]}=${ipv4Text(value[W_NW_SRC]!, mask[W_NW_SRC]!)}`);
  if (mask[W_NW_DST] !== 0) parts.push(`${l3[1]}=${ipv4Text(value[W_NW_DST]!, mask[W_NW_DST]!)}`);
  let anyV6 = false;
  for (let i = 0; i < 4; i++) if (mask[W_IPV6_SRC + i] !== 0) anyV6 = true;
  if (anyV6) parts.push(`ipv6_src=${ipv6Text(value, mask, W_IPV6_SRC)}`);
  anyV6 = false;
  for (let i = 0; i < 4; i++) if (mask[W_IPV6_DST + i] !== 0) anyV6 = true;
  if (anyV6) parts.push(`ipv6_dst=${ipv6Text(value, mask, W_IPV6_DST)}`);
  if (mask[W_IPV6_LABEL] !== 0) {
    const lv = value[W_IPV6_LABEL]!.toString(16).padStart(5, '0');
    const lm = mask[W_IPV6_LABEL]!;
    parts.push(lm === 0xfffff ? `ipv6_label=0x${lv}` : `ipv6_label=0x${lv}/0x${lm.toString(16).padStart(5, '0')}`);
  }
  if (protoExact && !protoShown) parts.push(isArp ? `arp_op=${proto}` : `nw_proto=${proto}`);
  // lib/match.c match_format order: arp_sha/arp_tha (ARP), nw_tos, nw_ecn, nw_ttl, nw_frag,
  // then ICMP type/code (+ ND fields for ICMPv6) or tp_src/tp_dst, then tcp_flags.
  const nd = isIp6 && proto === 58;
  if (!nd) {
    if (mask[W_ARP_SHA_HI] !== 0 || mask[W_ARP_SHA_HI + 1] !== 0) parts.push(`arp_sha=${macText(value, mask, W_ARP_SHA_HI)}`);
    if (mask[W_ARP_THA_HI] !== 0 || mask[W_ARP_THA_HI + 1] !== 0) parts.push(`arp_tha=${macText(value, mask, W_ARP_THA_HI)}`);
  }
  const tos = mask[W_NW_TOS]!;
  if ((tos & 0xfc) !== 0) parts.push(`nw_tos=${value[W_NW_TOS]! & 0xfc}`);
  if ((tos & 0x03) !== 0) parts.push(`nw_ecn=${value[W_NW_TOS]! & 0x03}`);
  if (mask[W_NW_TTL] !== 0) parts.push(`nw_ttl=${value[W_NW_TTL]}`);
  if (mask[W_NW_FRAG] !== 0) parts.push(`nw_frag=${FRAG_TEXT[`${value[W_NW_FRAG]}/${mask[W_NW_FRAG]}`] ?? `${value[W_NW_FRAG]}/${mask[W_NW_FRAG]}`}`);
  const icmp = (isIp && proto === 1) || nd;
  const l4 = icmp ? ['icmp_type', 'icmp_code'] : ['tp_src', 'tp_dst'];
  if (mask[W_TP_SRC] !== 0) parts.push(`${l4[0]}=${intText(value[W_TP_SRC]!, mask[W_TP_SRC]!, 0xffff)}`);
  if (mask[W_TP_DST] !== 0) parts.push(`${l4[1]}=${intText(value[W_TP_DST]!, mask[W_TP_DST]!, 0xffff)}`);
  if (nd) {
    let anyNd = false;
    for (let i = 0; i < 4; i++) if (mask[W_ND_TARGET + i] !== 0) anyNd = true;
    if (anyNd) parts.push(`nd_target=${ipv6Text(value, mask, W_ND_TARGET)}`);
    if (mask[W_ARP_SHA_HI] !== 0 || mask[W_ARP_SHA_HI + 1] !== 0) parts.push(`nd_sll=${macText(value, mask, W_ARP_SHA_HI)}`);
    if (mask[W_ARP_THA_HI] !== 0 || mask[W_ARP_THA_HI + 1] !== 0) parts.push(`nd_tll=${macText(value, mask, W_ARP_THA_HI)}`);
  }
  if (mask[W_TCP_FLAGS] !== 0) {
    // format_flags_masked: an exact match prints the set flags joined by '|' (0 when none).
    const tm = mask[W_TCP_FLAGS]! & 0xfff;
    if (tm === 0xfff) {
      const v = value[W_TCP_FLAGS]! & 0xfff;
      const names: string[] = [];
      for (let bit = 1; bit <= 0x800; bit <<= 1) if (v & bit) names.push(TCP_FLAG_NAMES[bit] ?? `0x${bit.toString(16)}`);
      parts.push(`tcp_flags=${names.length ? names.join('|') : '0'}`);
    } else parts.push(flagsMasked('tcp_flags', value[W_TCP_FLAGS]!, mask[W_TCP_FLAGS]!, TCP_FLAG_NAMES, 3));
  }
  return parts.join(',');
}
