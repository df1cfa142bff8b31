/**
 * Builds the frame an `ofproto/trace` flow describes (`ofproto/trace … -generate` does the same
 * with `flow_compose`): Ethernet, an 802.1Q tag when the flow has one, then ARP, IPv4 or IPv6
 * with a TCP/UDP/SCTP/ICMP header, or nothing after the ethertype. Fields the flow does not name
 * are 0, as in OVS (so `nw_ttl` defaults to 0 and `dec_ttl` on such a packet fails, as it does in
 * OVS). Checksums are filled in. Frames are padded to 60 bytes.
 */
import {
  ETH_TYPE_ARP,
  ETH_TYPE_IP,
  ETH_TYPE_IPV6,
  ETH_TYPE_RARP,
  VLAN_CFI,
  W_ARP_SHA_HI,
  W_IPV6_LABEL,
  W_ND_TARGET,
  W_NW_FRAG,
  W_TCP_FLAGS,
  W_ARP_THA_HI,
  W_DL_DST_HI,
  W_DL_SRC_HI,
  W_DL_TYPE,
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
} from './fields.js';

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 255;
  b[o + 1] = v & 255;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 255;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}

function sum16(b: Uint8Array, start: number, end: number, s = 0): number {
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  return s;
}
function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** The frame for the flow `w` (key words; in_port ignored). */
export function buildTraceFrame(w: Int32Array): Uint8Array {
  const tagged = (w[W_VLAN_TCI]! & VLAN_CFI) !== 0;
  const dlType = w[W_DL_TYPE]!;
  const proto = w[W_NW_PROTO]!;
  let l3Len = 0;
  let l4Len = 0;
  const isIp = dlType === ETH_TYPE_IP;
  const isIp6 = dlType === ETH_TYPE_IPV6;
  if (isIp || isIp6) {
    l3Len = isIp ? 20 : 40;
    l4Len = proto === 6 ? 20 : proto === 17 ? 8 : proto === 132 ? 12 : proto === 1 || proto === 58 ? 8 : 0;
    // ICMPv6 neighbour solicitation/advertisement: target address and a link-layer option.
    if (isIp6 && proto === 58 && (w[W_TP_SRC] === 135 || w[W_TP_SRC] === 136)) l4Len = 32;
    // A later IPv4 fragment carries no transport header (OVS nw_frag=later).
    if (isIp && (w[W_NW_FRAG]! & 2) !== 0) l4Len = 0;
  } else if (dlType === ETH_TYPE_ARP || dlType === ETH_TYPE_RARP) l3Len = 28;
  const l2 = tagged ? 18 : 14;
  const len = Math.max(60, l2 + l3Len + l4Len);
  const b = new Uint8Array(len);
  put16(b, 0, w[W_DL_DST_HI]!);
  put32(b, 2, w[W_DL_DST_HI + 1]!);
  put16(b, 6, w[W_DL_SRC_HI]!);
  put32(b, 8, w[W_DL_SRC_HI + 1]!);
  if (tagged) {
    put16(b, 12, 0x8100);
    put16(b, 14, w[W_VLAN_TCI]! & 0xefff);
  }
  put16(b, l2 - 2, dlType);
  const l3 = l2;
  const l4 = l3 + l3Len;
  if (dlType === ETH_TYPE_ARP || dlType === ETH_TYPE_RARP) {
    put16(b, l3, 1);
    put16(b, l3 + 2, ETH_TYPE_IP);
    b[l3 + 4] = 6;
    b[l3 + 5] = 4;
    put16(b, l3 + 6, proto);
    put16(b, l3 + 8, w[W_ARP_SHA_HI]!);
    put32(b, l3 + 10, w[W_ARP_SHA_HI + 1]!);
    put32(b, l3 + 14, w[W_NW_SRC]!);
    put16(b, l3 + 18, w[W_ARP_THA_HI]!);
    put32(b, l3 + 20, w[W_ARP_THA_HI + 1]!);
    put32(b, l3 + 24, w[W_NW_DST]!);
    return b;
  }
  let pseudo = 0;
  if (isIp) {
    b[l3] = 0x45;
    b[l3 + 1] = w[W_NW_TOS]!;
    put16(b, l3 + 2, l3Len + l4Len);
    b[l3 + 8] = w[W_NW_TTL]!;
    b[l3 + 9] = proto;
    put32(b, l3 + 12, w[W_NW_SRC]!);
    put32(b, l3 + 16, w[W_NW_DST]!);
    const frag = w[W_NW_FRAG]!;
    if (frag & 1) put16(b, l3 + 6, frag & 2 ? 0x2001 : 0x2000); // MF, and offset 8 bytes if later
    put16(b, l3 + 10, fold(sum16(b, l3, l3 + 20)));
    pseudo = sum16(b, l3 + 12, l3 + 20) + proto + l4Len;
  } else if (isIp6) {
    put32(b, l3, (6 << 28) | ((w[W_NW_TOS]! & 0xff) << 20) | (w[W_IPV6_LABEL]! & 0xfffff));
    put16(b, l3 + 4, l4Len);
    b[l3 + 6] = proto;
    b[l3 + 7] = w[W_NW_TTL]!;
    for (let i = 0; i < 4; i++) {
      put32(b, l3 + 8 + 4 * i, w[W_IPV6_SRC + i]!);
      put32(b, l3 + 24 + 4 * i, w[W_IPV6_DST + i]!);
    }
    pseudo = sum16(b, l3 + 8, l3 + 40) + proto + l4Len;
  } else return b;
  if (l4Len === 0) return b;
  if (proto === 1 || proto === 58) {
    b[l4] = w[W_TP_SRC]!;
    b[l4 + 1] = w[W_TP_DST]!;
    if (l4Len === 32) {
      const sol = w[W_TP_SRC] === 135;
      for (let i = 0; i < 4; i++) put32(b, l4 + 8 + 4 * i, w[W_ND_TARGET + i]!);
      b[l4 + 24] = sol ? 1 : 2; // source / target link-layer address option, 8 bytes
      b[l4 + 25] = 1;
      const at = sol ? W_ARP_SHA_HI : W_ARP_THA_HI;
      put16(b, l4 + 26, w[at]!);
      put32(b, l4 + 28, w[at + 1]!);
    }
    put16(b, l4 + 2, fold(sum16(b, l4, l4 + l4Len, proto === 58 ? pseudo : 0)));
    return b;
  }
  put16(b, l4, w[W_TP_SRC]!);
  put16(b, l4 + 2, w[W_TP_DST]!);
  if (proto === 6) {
    b[l4 + 12] = 0x50 | ((w[W_TCP_FLAGS]! >>> 8) & 0x0f);
    b[l4 + 13] = w[W_TCP_FLAGS]! & 0xff;
    put16(b, l4 + 16, fold(sum16(b, l4, l4 + l4Len, pseudo)));
  } else if (proto === 17) {
    put16(b, l4 + 4, l4Len);
    const c = fold(sum16(b, l4, l4 + l4Len, pseudo));
    put16(b, l4 + 6, c === 0 ? 0xffff : c);
  }
  return b;
}
