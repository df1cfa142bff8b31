/**
 * Match fields: the flow key as a flat array of 32-bit words, and the table of OpenFlow field
 * names (`ovs-fields(7)`, `lib/meta-flow.xml`) mapped onto those words.
 *
 * Why words: the classifier hashes and compares masked keys on every lookup. A fixed
 * `Int32Array` of KEY_WORDS words lets it do that with integer ops only, no allocation and no
 * strings. 48-bit MACs take two words (high 16 bits, low 32 bits); IPv6 addresses four.
 */
import type { FlowKey } from '../wire/flow-key.js';

export const W_IN_PORT = 0;
export const W_DL_SRC_HI = 1;
export const W_DL_SRC_LO = 2;
export const W_DL_DST_HI = 3;
export const W_DL_DST_LO = 4;
export const W_DL_TYPE = 5;
export const W_VLAN_TCI = 6;
export const W_NW_SRC = 7;
export const W_NW_DST = 8;
export const W_NW_PROTO = 9;
export const W_NW_TOS = 10;
export const W_NW_TTL = 11;
export const W_TP_SRC = 12;
export const W_TP_DST = 13;
export const W_ARP_SHA_HI = 14;
export const W_ARP_SHA_LO = 15;
export const W_ARP_THA_HI = 16;
export const W_ARP_THA_LO = 17;
export const W_IPV6_SRC = 18;
export const W_IPV6_DST = 22;
export const KEY_WORDS = 26;

/** OpenFlow port numbers for reserved ports (OpenFlow 1.0 numbering, as ovs-ofctl prints). */
export const OFPP_IN_PORT = 0xfff8;
export const OFPP_TABLE = 0xfff9;
export const OFPP_NORMAL = 0xfffa;
export const OFPP_FLOOD = 0xfffb;
export const OFPP_ALL = 0xfffc;
export const OFPP_CONTROLLER = 0xfffd;
export const OFPP_LOCAL = 0xfffe;
export const OFPP_NONE = 0xffff;

export const ETH_TYPE_IP = 0x0800;
export const ETH_TYPE_ARP = 0x0806;
export const ETH_TYPE_RARP = 0x8035;
export const ETH_TYPE_IPV6 = 0x86dd;
export const VLAN_CFI = 0x1000;

/** Copies a wire `FlowKey` into key words. */
export function keyWordsFromFlowKey(k: FlowKey, out: Int32Array): Int32Array {
  out[W_IN_PORT] = k.inPort;
  out[W_DL_SRC_HI] = Math.floor(k.dlSrc / 0x1_0000_0000);
  out[W_DL_SRC_LO] = k.dlSrc % 0x1_0000_0000;
  out[W_DL_DST_HI] = Math.floor(k.dlDst / 0x1_0000_0000);
  out[W_DL_DST_LO] = k.dlDst % 0x1_0000_0000;
  out[W_DL_TYPE] = k.dlType;
  out[W_VLAN_TCI] = k.vlanTci;
  out[W_NW_SRC] = k.nwSrc;
  out[W_NW_DST] = k.nwDst;
  out[W_NW_PROTO] = k.nwProto;
  out[W_NW_TOS] = k.nwTos;
  out[W_NW_TTL] = k.nwTtl;
  out[W_TP_SRC] = k.tpSrc;
  out[W_TP_DST] = k.tpDst;
  out[W_ARP_SHA_HI] = Math.floor(k.arpSha / 0x1_0000_0000);
  out[W_ARP_SHA_LO] = k.arpSha % 0x1_0000_0000;
  out[W_ARP_THA_HI] = Math.floor(k.arpTha / 0x1_0000_0000);
  out[W_ARP_THA_LO] = k.arpTha % 0x1_0000_0000;
  for (let i = 0; i < 4; i++) {
    out[W_IPV6_SRC + i] = k.ipv6Src[i]!;
    out[W_IPV6_DST + i] = k.ipv6Dst[i]!;
  }
  return out;
}

export function macFromWords(w: ArrayLike<number>, hi: number): number {
  return (w[hi]! & 0xffff) * 0x1_0000_0000 + (w[hi + 1]! >>> 0);
}

export function setMacWords(w: Int32Array, hi: number, mac: number): void {
  w[hi] = Math.floor(mac / 0x1_0000_0000) & 0xffff;
  w[hi + 1] = mac % 0x1_0000_0000;
}

export function formatMac(mac: number): string {
  const hex = mac.toString(16).padStart(12, '0');
  return hex.replace(/(..)(?!$)/g, '$1:');
}

export function formatIpv4(n: number): string {
  n >>>= 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function formatIpv6(w: ArrayLike<number>, at = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 4; i++) {
    const x = w[at + i]! >>> 0;
    groups.push(x >>> 16, x & 0xffff);
  }
  // RFC 5952: compress the longest run (≥ 2) of zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

// ---------------------------------------------------------------------------------------------
// Value parsers: return null on malformed text (the caller knows the position).

export function parseMacText(s: string): number | null {
  const m = /^([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})$/.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + parseInt(m[i]!, 16);
  return v;
}

export function parseIpv4Text(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return null;
    v = v * 256 + o;
  }
  return v | 0;
}

export function parseIpv6Text(s: string): [number, number, number, number] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.length > 45) return null;
  let head: string[];
  let tail: string[];
  const dbl = s.split('::');
  if (dbl.length > 2) return null;
  const split = (x: string): string[] => (x === '' ? [] : x.split(':'));
  if (dbl.length === 2) {
    head = split(dbl[0]!);
    tail = split(dbl[1]!);
  } else {
    head = split(s);
    tail = [];
  }
  const toGroups = (parts: string[]): number[] | null => {
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (p.includes('.')) {
        if (i !== parts.length - 1) return null;
        const v4 = parseIpv4Text(p);
        if (v4 === null) return null;
        out.push((v4 >>> 16) & 0xffff, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const h = toGroups(head);
  const t = toGroups(tail);
  if (!h || !t) return null;
  let groups: number[];
  if (dbl.length === 2) {
    if (h.length + t.length > 7) return null;
    groups = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  } else {
    if (h.length !== 8) return null;
    groups = h;
  }
  const w: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) w[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) | 0;
  return w;
}

/** Integer in decimal or 0x-hex (OVS accepts both everywhere an integer is expected). */
export function parseIntText(s: string): number | null {
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) {
    if (s.length > 18) return null;
    return parseInt(s.slice(2), 16);
  }
  if (/^\d+$/.test(s)) {
    if (s.length > 16) return null;
    return Number(s);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// The field table.

/** What a field needs the rest of the match to say (OVS `enum mf_prereqs`). */
export type Prereq = 'none' | 'ip' | 'ipv6' | 'ip_any' | 'arp' | 'ip_or_arp' | 'tcp' | 'udp' | 'sctp' | 'l4' | 'icmp' | 'icmp6' | 'vlan';

export type FieldKind = 'int' | 'mac' | 'ipv4' | 'ipv6' | 'port';

export interface FieldDef {
  /** Canonical name as ovs-ofctl prints it (OpenFlow 1.0 names where they exist). */
  name: string;
  aliases: string[];
  kind: FieldKind;
  /** First key word. */
  word: number;
  /** For `int`: bit position and width inside the word. */
  shift: number;
  bits: number;
  /** Bits OR-ed into value and mask whenever the field is matched (dl_vlan sets CFI). */
  extra: number;
  /** OVS's `n_bytes`: the width a number is parsed at (`parse_int_string`) before the field's
   *  own bits are kept (`dl_vlan=5000` is accepted and means VID 904, as in OVS). */
  bytes: number;
  maskable: boolean;
  prereq: Prereq;
  /** Can `set_field` write it. */
  settable: boolean;
}

function f(
  name: string,
  aliases: string[],
  kind: FieldKind,
  word: number,
  prereq: Prereq,
  opts: Partial<Pick<FieldDef, 'shift' | 'bits' | 'extra' | 'maskable' | 'settable' | 'bytes'>> = {},
): FieldDef {
  const bits = opts.bits ?? (kind === 'ipv4' ? 32 : kind === 'port' ? 16 : 32);
  return {
    name,
    aliases,
    kind,
    word,
    prereq,
    shift: opts.shift ?? 0,
    bits,
    bytes: opts.bytes ?? Math.ceil(bits / 8),
    extra: opts.extra ?? 0,
    maskable: opts.maskable ?? true,
    settable: opts.settable ?? true,
  };
}

export const FIELDS: FieldDef[] = [
  f('in_port', ['in_port_oxm'], 'port', W_IN_PORT, 'none', { maskable: false, settable: false }),
  f('dl_src', ['eth_src'], 'mac', W_DL_SRC_HI, 'none'),
  f('dl_dst', ['eth_dst'], 'mac', W_DL_DST_HI, 'none'),
  f('dl_type', ['eth_type'], 'int', W_DL_TYPE, 'none', { bits: 16, maskable: false, settable: false }),
  f('vlan_tci', [], 'int', W_VLAN_TCI, 'none', { bits: 16 }),
  // dl_vlan / dl_vlan_pcp: the VID / PCP of a present tag (the CFI bit is implied).
  f('dl_vlan', [], 'int', W_VLAN_TCI, 'none', { bits: 12, bytes: 2, extra: VLAN_CFI, maskable: false }),
  f('dl_vlan_pcp', [], 'int', W_VLAN_TCI, 'none', { shift: 13, bits: 3, extra: VLAN_CFI, maskable: false }),
  // OpenFlow 1.2 vlan_vid: 13 bits, 0x1000 = "a tag is present".
  f('vlan_vid', [], 'int', W_VLAN_TCI, 'none', { bits: 13, bytes: 2 }),
  f('vlan_pcp', [], 'int', W_VLAN_TCI, 'none', { shift: 13, bits: 3, extra: VLAN_CFI, maskable: false }),
  f('nw_src', ['ip_src'], 'ipv4', W_NW_SRC, 'ip_or_arp'),
  f('nw_dst', ['ip_dst'], 'ipv4', W_NW_DST, 'ip_or_arp'),
  f('nw_proto', ['ip_proto'], 'int', W_NW_PROTO, 'ip_any', { bits: 8, maskable: false, settable: false }),
  // nw_tos is the DSCP part of the TOS byte in its TOS position (low 2 bits ignored).
  f('nw_tos', [], 'int', W_NW_TOS, 'ip_any', { shift: 2, bits: 6, bytes: 1, maskable: false }),
  f('ip_dscp', [], 'int', W_NW_TOS, 'ip_any', { shift: 2, bits: 6, maskable: false }),
  f('nw_ecn', ['ip_ecn'], 'int', W_NW_TOS, 'ip_any', { bits: 2, maskable: false }),
  f('nw_ttl', [], 'int', W_NW_TTL, 'ip_any', { bits: 8, maskable: false }),
  f('tp_src', [], 'int', W_TP_SRC, 'l4', { bits: 16 }),
  f('tp_dst', [], 'int', W_TP_DST, 'l4', { bits: 16 }),
  f('tcp_src', [], 'int', W_TP_SRC, 'tcp', { bits: 16 }),
  f('tcp_dst', [], 'int', W_TP_DST, 'tcp', { bits: 16 }),
  f('udp_src', [], 'int', W_TP_SRC, 'udp', { bits: 16 }),
  f('udp_dst', [], 'int', W_TP_DST, 'udp', { bits: 16 }),
  f('sctp_src', [], 'int', W_TP_SRC, 'sctp', { bits: 16 }),
  f('sctp_dst', [], 'int', W_TP_DST, 'sctp', { bits: 16 }),
  f('icmp_type', [], 'int', W_TP_SRC, 'icmp', { bits: 16, bytes: 1, maskable: false }),
  f('icmp_code', [], 'int', W_TP_DST, 'icmp', { bits: 16, bytes: 1, maskable: false }),
  f('icmpv6_type', [], 'int', W_TP_SRC, 'icmp6', { bits: 16, bytes: 1, maskable: false }),
  f('icmpv6_code', [], 'int', W_TP_DST, 'icmp6', { bits: 16, bytes: 1, maskable: false }),
  f('arp_op', [], 'int', W_NW_PROTO, 'arp', { bits: 8, bytes: 2, maskable: false }),
  f('arp_spa', [], 'ipv4', W_NW_SRC, 'arp'),
  f('arp_tpa', [], 'ipv4', W_NW_DST, 'arp'),
  f('arp_sha', [], 'mac', W_ARP_SHA_HI, 'arp'),
  f('arp_tha', [], 'mac', W_ARP_THA_HI, 'arp'),
  f('ipv6_src', [], 'ipv6', W_IPV6_SRC, 'ipv6'),
  f('ipv6_dst', [], 'ipv6', W_IPV6_DST, 'ipv6'),
];

export const FIELD_BY_NAME = new Map<string, FieldDef>();
for (const fd of FIELDS) {
  FIELD_BY_NAME.set(fd.name, fd);
  for (const a of fd.aliases) FIELD_BY_NAME.set(a, fd);
}

/** Shorthands (`ovs-fields(7)` "Shorthand notation"): dl_type and optionally nw_proto. */
export const SHORTHANDS: Record<string, { dlType: number; nwProto?: number }> = {
  ip: { dlType: ETH_TYPE_IP },
  ipv4: { dlType: ETH_TYPE_IP },
  arp: { dlType: ETH_TYPE_ARP },
  rarp: { dlType: ETH_TYPE_RARP },
  icmp: { dlType: ETH_TYPE_IP, nwProto: 1 },
  tcp: { dlType: ETH_TYPE_IP, nwProto: 6 },
  udp: { dlType: ETH_TYPE_IP, nwProto: 17 },
  sctp: { dlType: ETH_TYPE_IP, nwProto: 132 },
  ipv6: { dlType: ETH_TYPE_IPV6 },
  icmp6: { dlType: ETH_TYPE_IPV6, nwProto: 58 },
  tcp6: { dlType: ETH_TYPE_IPV6, nwProto: 6 },
  udp6: { dlType: ETH_TYPE_IPV6, nwProto: 17 },
  sctp6: { dlType: ETH_TYPE_IPV6, nwProto: 132 },
};

/** Whether a match (value/mask words) satisfies a prerequisite, as `mf_are_prereqs_ok()`. */
export function prereqOk(p: Prereq, value: Int32Array, mask: Int32Array): boolean {
  const dlTypeExact = mask[W_DL_TYPE] === 0xffff;
  const dlType = dlTypeExact ? value[W_DL_TYPE]! : -1;
  const protoExact = (mask[W_NW_PROTO]! & 0xff) === 0xff;
  const proto = protoExact ? value[W_NW_PROTO]! : -1;
  const isIp = dlType === ETH_TYPE_IP;
  const isIp6 = dlType === ETH_TYPE_IPV6;
  switch (p) {
    case 'none':
      return true;
    case 'vlan':
      return (mask[W_VLAN_TCI]! & VLAN_CFI) !== 0 && (value[W_VLAN_TCI]! & VLAN_CFI) !== 0;
    case 'ip':
      return isIp;
    case 'ipv6':
      return isIp6;
    case 'ip_any':
      return isIp || isIp6;
    case 'arp':
      return dlType === ETH_TYPE_ARP || dlType === ETH_TYPE_RARP;
    case 'ip_or_arp':
      return isIp || dlType === ETH_TYPE_ARP || dlType === ETH_TYPE_RARP;
    case 'tcp':
      return (isIp || isIp6) && proto === 6;
    case 'udp':
      return (isIp || isIp6) && proto === 17;
    case 'sctp':
      return (isIp || isIp6) && proto === 132;
    case 'l4':
      return (isIp || isIp6) && (proto === 6 || proto === 17 || proto === 132);
    case 'icmp':
      return isIp && proto === 1;
    case 'icmp6':
      return isIp6 && proto === 58;
  }
}

export const PREREQ_TEXT: Record<Prereq, string> = {
  none: '',
  vlan: 'a VLAN tag match (dl_vlan or vlan_tci with 0x1000)',
  ip: 'ip (dl_type=0x0800)',
  ipv6: 'ipv6 (dl_type=0x86dd)',
  ip_any: 'ip or ipv6',
  arp: 'arp or rarp',
  ip_or_arp: 'ip, arp or rarp',
  tcp: 'tcp or tcp6',
  udp: 'udp or udp6',
  sctp: 'sctp or sctp6',
  l4: 'tcp, udp or sctp (or their IPv6 forms)',
  icmp: 'icmp',
  icmp6: 'icmp6',
};
