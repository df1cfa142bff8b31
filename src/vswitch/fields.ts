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
// Words 26..32: more fields read from the packet (in the exact-match cache key).
export const W_TCP_FLAGS = 26;
/** OVS nw_frag: 1 = a fragment, 2 = not the first (FLOW_NW_FRAG_ANY / _LATER). */
export const W_NW_FRAG = 27;
export const W_IPV6_LABEL = 28;
export const W_ND_TARGET = 29;
/** Words read from the packet (0..PACKET_WORDS-1). The others are pipeline metadata: 0 when a
 *  packet enters a bridge, set only by actions, except the tunnel words a tunnel port fills on a
 *  decapsulated frame; the exact-match cache keys on the packet and tunnel words
 *  (flow-cache.ts CACHE_WORDS). */
export const PACKET_WORDS = 33;
export const W_PKT_MARK = 33;
export const W_TUN_ID = 34; // 2 words, most significant first
export const W_TUN_SRC = 36;
export const W_TUN_DST = 37;
export const W_TUN_FLAGS = 38;
export const W_METADATA = 39; // 2 words
export const W_REG0 = 41; // reg0..reg15; xregN = reg2N:reg2N+1, xxregN = reg4N..reg4N+3
export const W_CONJ_ID = 57;
export const W_CT_STATE = 58;
export const W_CT_ZONE = 59;
export const W_CT_MARK = 60;
export const W_CT_LABEL = 61; // 4 words
export const W_CT_NW_SRC = 65;
export const W_CT_NW_DST = 66;
export const W_CT_NW_PROTO = 67;
export const W_CT_TP_SRC = 68;
export const W_CT_TP_DST = 69;
/** ct_ipv6_src / ct_ipv6_dst: the IPv6 original-direction tuple (4 words each). */
export const W_CT_IPV6_SRC = 70;
export const W_CT_IPV6_DST = 74;
/** One past the last conntrack word (ct_state … ct_ipv6_dst are contiguous; ct_clear zeroes them). */
export const W_CT_END = 78;
export const W_ACTSET_OUTPUT = 78;
/** tun_metadata0..63 (tun-metadata.ts): 2 words of "present" bits, then the mapped option data. */
export const W_TUN_MD_PRESENT = 79;
export const W_TUN_MD = 81;
export const TUN_MD_WORDS = 16;
/** tun_ipv6_src / tun_ipv6_dst: the outer IPv6 addresses of a tunnel (4 words each; OVS
 *  flow->tunnel.ipv6_src/dst). Last, so the words before them keep their places. */
export const W_TUN_IPV6_SRC = W_TUN_MD + TUN_MD_WORDS;
export const W_TUN_IPV6_DST = W_TUN_IPV6_SRC + 4;
export const KEY_WORDS = W_TUN_IPV6_DST + 4;

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
  // 48-bit MACs split with integer ops: `x / 2^32 | 0` is the high 16 bits, `x | 0` the low 32
  // (ToInt32 wraps modulo 2^32, as an Int32Array store would): no Math.floor or % on doubles on
  // the per-frame path.
  out[W_IN_PORT] = k.inPort;
  out[W_DL_SRC_HI] = (k.dlSrc / 0x1_0000_0000) | 0;
  out[W_DL_SRC_LO] = k.dlSrc | 0;
  out[W_DL_DST_HI] = (k.dlDst / 0x1_0000_0000) | 0;
  out[W_DL_DST_LO] = k.dlDst | 0;
  out[W_DL_TYPE] = k.dlType;
  out[W_VLAN_TCI] = k.vlanTci;
  out[W_NW_SRC] = k.nwSrc;
  out[W_NW_DST] = k.nwDst;
  out[W_NW_PROTO] = k.nwProto;
  out[W_NW_TOS] = k.nwTos;
  out[W_NW_TTL] = k.nwTtl;
  out[W_TP_SRC] = k.tpSrc;
  out[W_TP_DST] = k.tpDst;
  out[W_ARP_SHA_HI] = (k.arpSha / 0x1_0000_0000) | 0;
  out[W_ARP_SHA_LO] = k.arpSha | 0;
  out[W_ARP_THA_HI] = (k.arpTha / 0x1_0000_0000) | 0;
  out[W_ARP_THA_LO] = k.arpTha | 0;
  const s6 = k.ipv6Src;
  const d6 = k.ipv6Dst;
  out[W_IPV6_SRC] = s6[0];
  out[W_IPV6_SRC + 1] = s6[1];
  out[W_IPV6_SRC + 2] = s6[2];
  out[W_IPV6_SRC + 3] = s6[3];
  out[W_IPV6_DST] = d6[0];
  out[W_IPV6_DST + 1] = d6[1];
  out[W_IPV6_DST + 2] = d6[2];
  out[W_IPV6_DST + 3] = d6[3];
  const nd = k.ndTarget;
  out[W_ND_TARGET] = nd[0];
  out[W_ND_TARGET + 1] = nd[1];
  out[W_ND_TARGET + 2] = nd[2];
  out[W_ND_TARGET + 3] = nd[3];
  out[W_NW_FRAG] = k.nwFrag;
  // nd_sll / nd_tll share the ARP hardware-address slots, as in OVS (flow.arp_sha/arp_tha).
  if (k.dlType === ETH_TYPE_IPV6 && k.nwProto === 58) {
    if (k.ndSll !== 0) setMacWords(out, W_ARP_SHA_HI, k.ndSll);
    if (k.ndTll !== 0) setMacWords(out, W_ARP_THA_HI, k.ndTll);
  }
  return out;
}

/**
 * Fills the packet words the wire flow key does not carry: `tcp_flags` (the 12 flag bits of a
 * TCP header) and `ipv6_label` (the 20-bit flow label), from `frame` at the key's offsets.
 */
export function keyWordsFromFrame(frame: Uint8Array, k: FlowKey, out: Int32Array): void {
  out[W_TCP_FLAGS] = 0;
  out[W_IPV6_LABEL] = 0;
  if (k.dlType === ETH_TYPE_IPV6 && k.l3Offset >= 0 && frame.length >= k.l3Offset + 4) {
    const o = k.l3Offset;
    out[W_IPV6_LABEL] = ((frame[o + 1]! & 0x0f) << 16) | (frame[o + 2]! << 8) | frame[o + 3]!;
  }
  if (k.nwProto === 6 && (k.dlType === ETH_TYPE_IP || k.dlType === ETH_TYPE_IPV6) && k.l4Offset >= 0 && frame.length >= k.l4Offset + 14) {
    const o = k.l4Offset;
    out[W_TCP_FLAGS] = ((frame[o + 12]! & 0x0f) << 8) | frame[o + 13]!;
  }
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
export type Prereq = 'none' | 'ip' | 'ipv6' | 'ip_any' | 'arp' | 'ip_or_arp' | 'tcp' | 'udp' | 'sctp' | 'l4' | 'icmp' | 'icmp6' | 'vlan' | 'nd' | 'nd_sol' | 'nd_adv' | 'ct';

export type FieldKind = 'int' | 'mac' | 'ipv4' | 'ipv6' | 'port' | 'wide' | 'frag' | 'tcp_flags' | 'ct_state';

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
  /** For `wide`: how many words (64-bit = 2, 128-bit = 4), most significant first. */
  nwords: number;
  /** dump-flows prints it in hex (OVS MFS_HEXADECIMAL: registers, metadata, marks, tun_id). */
  hex: boolean;
  /** NXM/OXM names for the subfield syntax (`NXM_NX_REG0[0..15]`). */
  nxm: string[];
  /** tun_metadataN (a bridge's TLV map makes these): N, whose present bit a match or write sets. */
  tunMd?: number;
  /**
   * For a subfield view whose lowest bits are not stored: they read as 0 and a write to them is
   * dropped (NXM_OF_IP_TOS, the ToS byte with its ECN bits forced to 0: NW_TOS_BYTE).
   */
  zeroLowBits?: number;
}

function f(
  name: string,
  aliases: string[],
  kind: FieldKind,
  word: number,
  prereq: Prereq,
  opts: Partial<Pick<FieldDef, 'shift' | 'bits' | 'extra' | 'maskable' | 'settable' | 'bytes' | 'nwords' | 'hex' | 'nxm'>> = {},
): FieldDef {
  const nwords = opts.nwords ?? 1;
  const bits = opts.bits ?? (kind === 'ipv4' ? 32 : kind === 'port' ? 16 : kind === 'mac' ? 48 : kind === 'ipv6' ? 128 : kind === 'wide' ? 32 * nwords : 32);
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
    nwords,
    hex: opts.hex ?? false,
    nxm: opts.nxm ?? [],
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
  // OXM_OF_IP_DSCP is OVS's MFF_IP_DSCP_SHIFTED (6 bits); OXM_OF_IP_ECN / NXM_NX_IP_ECN MFF_IP_ECN
  // (include/openvswitch/meta-flow.h).
  f('ip_dscp', [], 'int', W_NW_TOS, 'ip_any', { shift: 2, bits: 6, maskable: false, nxm: ['OXM_OF_IP_DSCP'] }),
  f('nw_ecn', ['ip_ecn'], 'int', W_NW_TOS, 'ip_any', { bits: 2, maskable: false, nxm: ['NXM_NX_IP_ECN', 'OXM_OF_IP_ECN'] }),
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
  f('ipv6_src', [], 'ipv6', W_IPV6_SRC, 'ipv6', { nxm: ['NXM_NX_IPV6_SRC', 'OXM_OF_IPV6_SRC'] }),
  f('ipv6_dst', [], 'ipv6', W_IPV6_DST, 'ipv6', { nxm: ['NXM_NX_IPV6_DST', 'OXM_OF_IPV6_DST'] }),
  f('ipv6_label', [], 'int', W_IPV6_LABEL, 'ipv6', { bits: 20, bytes: 4, hex: true, nxm: ['NXM_NX_IPV6_LABEL', 'OXM_OF_IPV6_FLABEL'] }),
  f('nd_target', [], 'ipv6', W_ND_TARGET, 'nd', { nxm: ['NXM_NX_ND_TARGET', 'OXM_OF_IPV6_ND_TARGET'] }),
  f('nd_sll', [], 'mac', W_ARP_SHA_HI, 'nd_sol', { nxm: ['NXM_NX_ND_SLL', 'OXM_OF_IPV6_ND_SLL'] }),
  f('nd_tll', [], 'mac', W_ARP_THA_HI, 'nd_adv', { nxm: ['NXM_NX_ND_TLL', 'OXM_OF_IPV6_ND_TLL'] }),
  f('tcp_flags', [], 'tcp_flags', W_TCP_FLAGS, 'tcp', { bits: 12, bytes: 2, settable: false, nxm: ['NXM_NX_TCP_FLAGS', 'ONFOXM_ET_TCP_FLAGS'] }),
  f('ip_frag', ['nw_frag'], 'frag', W_NW_FRAG, 'ip_any', { bits: 2, bytes: 1, settable: false, nxm: ['NXM_NX_IP_FRAG'] }),
  f('pkt_mark', [], 'int', W_PKT_MARK, 'none', { hex: true, nxm: ['NXM_NX_PKT_MARK'] }),
  f('tun_id', ['tunnel_id'], 'wide', W_TUN_ID, 'none', { nwords: 2, hex: true, nxm: ['NXM_NX_TUN_ID', 'OXM_OF_TUNNEL_ID'] }),
  f('tun_src', [], 'ipv4', W_TUN_SRC, 'none', { nxm: ['NXM_NX_TUN_IPV4_SRC'] }),
  f('tun_dst', [], 'ipv4', W_TUN_DST, 'none', { nxm: ['NXM_NX_TUN_IPV4_DST'] }),
  // lib/meta-flow.xml: tun_ipv6_src/dst, MFM_FULLY maskable, MFP_NONE, read/write, NXM only.
  f('tun_ipv6_src', [], 'ipv6', W_TUN_IPV6_SRC, 'none', { nxm: ['NXM_NX_TUN_IPV6_SRC'] }),
  f('tun_ipv6_dst', [], 'ipv6', W_TUN_IPV6_DST, 'none', { nxm: ['NXM_NX_TUN_IPV6_DST'] }),
  f('tun_flags', [], 'int', W_TUN_FLAGS, 'none', { bits: 1, bytes: 2, nxm: ['NXM_NX_TUN_FLAGS'] }),
  f('metadata', [], 'wide', W_METADATA, 'none', { nwords: 2, hex: true, nxm: ['OXM_OF_METADATA'] }),
  f('conj_id', [], 'int', W_CONJ_ID, 'none', { maskable: false, settable: false, nxm: ['NXM_NX_CONJ_ID'] }),
  f('ct_state', [], 'ct_state', W_CT_STATE, 'none', { settable: false, nxm: ['NXM_NX_CT_STATE'] }),
  f('ct_zone', [], 'int', W_CT_ZONE, 'none', { bits: 16, maskable: false, settable: false, nxm: ['NXM_NX_CT_ZONE'] }),
  f('ct_mark', [], 'int', W_CT_MARK, 'none', { hex: true, nxm: ['NXM_NX_CT_MARK'] }),
  f('ct_label', [], 'wide', W_CT_LABEL, 'none', { nwords: 4, hex: true, nxm: ['NXM_NX_CT_LABEL'] }),
  f('ct_nw_src', [], 'ipv4', W_CT_NW_SRC, 'ct', { settable: false, nxm: ['NXM_NX_CT_NW_SRC'] }),
  f('ct_nw_dst', [], 'ipv4', W_CT_NW_DST, 'ct', { settable: false, nxm: ['NXM_NX_CT_NW_DST'] }),
  f('ct_ipv6_src', [], 'ipv6', W_CT_IPV6_SRC, 'ct', { settable: false, nxm: ['NXM_NX_CT_IPV6_SRC'] }),
  f('ct_ipv6_dst', [], 'ipv6', W_CT_IPV6_DST, 'ct', { settable: false, nxm: ['NXM_NX_CT_IPV6_DST'] }),
  f('ct_nw_proto', [], 'int', W_CT_NW_PROTO, 'ct', { bits: 8, maskable: false, settable: false, nxm: ['NXM_NX_CT_NW_PROTO'] }),
  f('ct_tp_src', [], 'int', W_CT_TP_SRC, 'ct', { bits: 16, settable: false, nxm: ['NXM_NX_CT_TP_SRC'] }),
  f('ct_tp_dst', [], 'int', W_CT_TP_DST, 'ct', { bits: 16, settable: false, nxm: ['NXM_NX_CT_TP_DST'] }),
  f('actset_output', [], 'port', W_ACTSET_OUTPUT, 'none', { maskable: false, settable: false, nxm: ['ONFOXM_ET_ACTSET_OUTPUT'] }),
  ...Array.from({ length: 16 }, (_, i) => f(`reg${i}`, [], 'int', W_REG0 + i, 'none', { hex: true, nxm: [`NXM_NX_REG${i}`] })),
  ...Array.from({ length: 8 }, (_, i) => f(`xreg${i}`, [], 'wide', W_REG0 + 2 * i, 'none', { nwords: 2, hex: true, nxm: [`OXM_OF_PKT_REG${i}`] })),
  ...Array.from({ length: 4 }, (_, i) => f(`xxreg${i}`, [], 'wide', W_REG0 + 4 * i, 'none', { nwords: 4, hex: true, nxm: [`NXM_NX_XXREG${i}`] })),
];

// NXM/OXM names of the classic fields (for `NXM_OF_ETH_SRC[]` subfields in load/move/learn).
const CLASSIC_NXM: Record<string, string[]> = {
  in_port: ['NXM_OF_IN_PORT'],
  in_port_oxm: ['OXM_OF_IN_PORT'],
  dl_src: ['NXM_OF_ETH_SRC', 'OXM_OF_ETH_SRC'],
  dl_dst: ['NXM_OF_ETH_DST', 'OXM_OF_ETH_DST'],
  dl_type: ['NXM_OF_ETH_TYPE', 'OXM_OF_ETH_TYPE'],
  vlan_tci: ['NXM_OF_VLAN_TCI'],
  vlan_vid: ['OXM_OF_VLAN_VID'],
  vlan_pcp: ['OXM_OF_VLAN_PCP'],
  nw_src: ['NXM_OF_IP_SRC', 'OXM_OF_IPV4_SRC'],
  nw_dst: ['NXM_OF_IP_DST', 'OXM_OF_IPV4_DST'],
  nw_proto: ['NXM_OF_IP_PROTO', 'OXM_OF_IP_PROTO'],
  nw_ttl: ['NXM_NX_IP_TTL'],
  tcp_src: ['NXM_OF_TCP_SRC', 'OXM_OF_TCP_SRC'],
  tcp_dst: ['NXM_OF_TCP_DST', 'OXM_OF_TCP_DST'],
  udp_src: ['NXM_OF_UDP_SRC', 'OXM_OF_UDP_SRC'],
  udp_dst: ['NXM_OF_UDP_DST', 'OXM_OF_UDP_DST'],
  arp_op: ['NXM_OF_ARP_OP', 'OXM_OF_ARP_OP'],
  arp_spa: ['NXM_OF_ARP_SPA', 'OXM_OF_ARP_SPA'],
  arp_tpa: ['NXM_OF_ARP_TPA', 'OXM_OF_ARP_TPA'],
  arp_sha: ['NXM_NX_ARP_SHA', 'OXM_OF_ARP_SHA'],
  arp_tha: ['NXM_NX_ARP_THA', 'OXM_OF_ARP_THA'],
};

export const FIELD_BY_NAME = new Map<string, FieldDef>();
/** Fields by NXM/OXM name (`NXM_NX_REG0`), for subfields. */
export const FIELD_BY_NXM = new Map<string, FieldDef>();
for (const fd of FIELDS) {
  FIELD_BY_NAME.set(fd.name, fd);
  for (const a of fd.aliases) FIELD_BY_NAME.set(a, fd);
  for (const n of [...fd.nxm, ...(CLASSIC_NXM[fd.name] ?? [])]) FIELD_BY_NXM.set(n, fd);
}

/**
 * `NXM_OF_IP_TOS` as a subfield (MFF_IP_DSCP, include/openvswitch/meta-flow.h): the whole 8-bit
 * ToS byte "with the ECN bits forced to 0". mf_get_value reads `nw_tos & IP_DSCP_MASK` and
 * mf_set_flow_value writes only the DSCP bits (lib/meta-flow.c), so `NXM_OF_IP_TOS[0..1]` reads 0
 * and a load or move into it changes nothing; bits 2..7 are nw_tos's DSCP bits where they sit.
 */
export const NW_TOS_BYTE: FieldDef = { ...FIELD_BY_NAME.get('nw_tos')!, shift: 0, bits: 8, zeroLowBits: 2 };
FIELD_BY_NXM.set('NXM_OF_IP_TOS', NW_TOS_BYTE);

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
    case 'nd':
    case 'nd_sol':
    case 'nd_adv': {
      const t = (mask[W_TP_SRC]! & 0xff) === 0xff ? value[W_TP_SRC]! & 0xff : -1;
      if (!(isIp6 && proto === 58)) return false;
      return p === 'nd' ? t === 135 || t === 136 : t === (p === 'nd_sol' ? 135 : 136);
    }
    case 'ct':
      // MFP_CT_VALID: ct_state matched with +trk (0x20) set.
      return (mask[W_CT_STATE]! & 0x20) !== 0 && (value[W_CT_STATE]! & 0x20) !== 0;
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
  nd: 'icmp6 with icmp_type=135 or 136',
  nd_sol: 'icmp6,icmp_type=135',
  nd_adv: 'icmp6,icmp_type=136',
  ct: 'ct_state=+trk',
};
