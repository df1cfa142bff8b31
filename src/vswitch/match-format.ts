/**
 * A match (value/mask words) printed the way `ovs-ofctl dump-flows` prints it (`lib/match.c`
 * `match_format`): protocol shorthand first, then `in_port`, VLAN, Ethernet, L3 and L4 fields.
 */
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
  formatIpv4,
  formatIpv6,
  formatMac,
  macFromWords,
} from './fields.js';
import { formatPort } from './actions.js';

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

function intText(v: number, m: number, full: number): string {
  return m === full ? String(v) : `${hex(v)}/${hex(m)}`;
}

export function formatMatch(value: Int32Array, mask: Int32Array, portName?: (p: number) => string | undefined): string {
  const parts: string[] = [];
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
  if (protoExact && !protoShown) parts.push(isArp ? `arp_op=${proto}` : `nw_proto=${proto}`);
  const tos = mask[W_NW_TOS]!;
  if ((tos & 0xfc) !== 0) parts.push(`nw_tos=${value[W_NW_TOS]! & 0xfc}`);
  if ((tos & 0x03) !== 0) parts.push(`nw_ecn=${value[W_NW_TOS]! & 0x03}`);
  if (mask[W_NW_TTL] !== 0) parts.push(`nw_ttl=${value[W_NW_TTL]}`);
  const icmp = (isIp && proto === 1) || (isIp6 && proto === 58);
  const l4 = icmp ? (isIp ? ['icmp_type', 'icmp_code'] : ['icmpv6_type', 'icmpv6_code']) : ['tp_src', 'tp_dst'];
  if (mask[W_TP_SRC] !== 0) parts.push(`${l4[0]}=${intText(value[W_TP_SRC]!, mask[W_TP_SRC]!, 0xffff)}`);
  if (mask[W_TP_DST] !== 0) parts.push(`${l4[1]}=${intText(value[W_TP_DST]!, mask[W_TP_DST]!, 0xffff)}`);
  if (mask[W_ARP_SHA_HI] !== 0 || mask[W_ARP_SHA_HI + 1] !== 0) parts.push(`arp_sha=${macText(value, mask, W_ARP_SHA_HI)}`);
  if (mask[W_ARP_THA_HI] !== 0 || mask[W_ARP_THA_HI + 1] !== 0) parts.push(`arp_tha=${macText(value, mask, W_ARP_THA_HI)}`);
  return parts.join(',');
}
