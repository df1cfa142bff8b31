/**
 * VXLAN (RFC 7348) and Geneve (RFC 8926) over an IPv6 underlay: build and parse the outer
 * Ethernet/IPv6/UDP headers. `vxlan6.ts` holds the VXLAN-only codec checked byte for byte against
 * a Linux vxlan device; this module produces the same bytes for VXLAN (the test checks it) and adds
 * Geneve with options.
 *
 * Outer IPv6, as OVS's userspace datapath builds it (lib/netdev-native-tnl.c
 * `netdev_tnl_ip_build_header`: `ip6_flow = 6 << 28 | ip_tos << 20`, so flow label 0; hop limit =
 * the tunnel TTL, 64) and as Linux's vxlan/geneve devices do with no `flowlabel` option
 * (`udp_tunnel6_xmit_skb` writes the configured label, 0). The UDP checksum is always computed over
 * IPv6: OVS `udp_build_header` marks it for every IPv6 tunnel whatever `options:csum` says, and
 * RFC 8200 §8.1 forbids a zero checksum unless a tunnel opts in to RFC 6935/6936 zero checksums
 * (Linux `udp6zerocsumtx`). A computed zero goes out as 0xFFFF.
 *
 * Receive (OVS `udp_extract_tnl_md`): a non-zero UDP checksum must verify, else the packet is
 * dropped (`bad-udp-checksum`); a zero checksum is accepted, as OVS does (Linux's own devices
 * would need `udp6zerocsumrx`).
 */
import { fold, sumBytes } from './checksum.js';
import { encapVxlan6, type OuterHeaders6 } from './vxlan6.js';
import { geneveOptionsLength, parseGeneveAt, writeGeneveHeader, type GeneveOption } from './geneve.js';
import { readIpv6At } from './ipv6-frame.js';
import type { Ipv6Words } from './ip.js';
import { VXLAN_FLAG_I } from './vxlan.js';

export type { OuterHeaders6 } from './vxlan6.js';

/** Outer Ethernet 14 + IPv6 40 + UDP 8 + VXLAN/Geneve 8 (Linux `vxlan_headroom(VXLAN_F_IPV6)` counts the inner Ethernet instead of the outer: the same 70). */
export const UDP_TUNNEL6_OVERHEAD = 70;

/** The encapsulated frame: VXLAN (no options) or Geneve (with `options`) over IPv6. */
export function encapUdpTunnel6(o: OuterHeaders6, kind: 'vxlan' | 'geneve', vni: number, inner: Uint8Array, options: readonly GeneveOption[] = []): Uint8Array {
  const f = encapVxlan6(o, vni, kind === 'geneve' && options.length > 0 ? new Uint8Array(0) : inner);
  if (kind === 'vxlan') return f;
  const optLen = geneveOptionsLength(options);
  if (typeof optLen === 'string') throw new RangeError(`geneve: ${optLen}`);
  const out = options.length > 0 ? grow(f, optLen + inner.length) : f;
  const p = writeGeneveHeader(out, 62, vni, options, optLen, false);
  if (options.length > 0) out.set(inner, p);
  setUdp6Checksum(out);
  return out;
}

/** `f` with `extra` more payload bytes, the IPv6 payload and UDP lengths updated. */
function grow(f: Uint8Array, extra: number): Uint8Array {
  const out = new Uint8Array(f.length + extra);
  out.set(f);
  const udpLen = ((f[58]! << 8) | f[59]!) + extra;
  out[18] = out[58] = udpLen >>> 8;
  out[19] = out[59] = udpLen & 0xff;
  return out;
}

/** Recomputes the outer UDP checksum of an encapsulated IPv6 frame (offset 14 = the IPv6 header). */
export function setUdp6Checksum(f: Uint8Array): void {
  const udpLen = (f[58]! << 8) | f[59]!;
  f[60] = 0;
  f[61] = 0;
  const pseudo = sumBytes(f, 22, 54) + udpLen + 17;
  let c = ~fold(sumBytes(f, 54, 54 + udpLen, pseudo)) & 0xffff;
  if (c === 0) c = 0xffff;
  f[60] = c >>> 8;
  f[61] = c & 0xff;
}

export interface UdpTunnel6View {
  src: Ipv6Words;
  dst: Ipv6Words;
  srcPort: number;
  dstPort: number;
  vni: number;
  options: GeneveOption[];
  /** The inner Ethernet frame (a view). */
  inner: Uint8Array;
}

/** The UDP destination port of an IPv6 packet carrying UDP directly, or -1. */
export function udp6DstPort(ip6: Uint8Array): number {
  if (ip6.length < 48 || ip6[6] !== 17) return -1;
  return (ip6[42]! << 8) | ip6[43]!;
}

/**
 * Parses IPv6 packet `ip6` (header first, no extension headers: tunnel senders add none) carrying
 * UDP and a `kind` header; returns the view or a drop reason.
 */
export function parseUdpTunnel6(ip6: Uint8Array, kind: 'vxlan' | 'geneve'): UdpTunnel6View | string {
  const bad = `bad-${kind}`;
  const plen = (ip6[4]! << 8) | ip6[5]!;
  if (ip6[6] !== 17 || 40 + plen > ip6.length || plen < 16) return bad;
  const udpLen = (ip6[44]! << 8) | ip6[45]!;
  if (udpLen < 16 || udpLen > plen) return bad;
  const src = readIpv6At(ip6, 8);
  const dst = readIpv6At(ip6, 24);
  if ((ip6[46]! | ip6[47]!) !== 0) {
    let s = sumBytes(ip6, 8, 40) + udpLen + 17;
    s = sumBytes(ip6, 40, 40 + udpLen, s);
    if (fold(s) !== 0xffff) return 'bad-udp-checksum';
  }
  const base = { src, dst, srcPort: (ip6[40]! << 8) | ip6[41]!, dstPort: (ip6[42]! << 8) | ip6[43]! };
  const end = 40 + udpLen;
  if (kind === 'vxlan') {
    if ((ip6[48]! & VXLAN_FLAG_I) === 0) return 'vxlan-no-vni';
    return { ...base, vni: (ip6[52]! << 16) | (ip6[53]! << 8) | ip6[54]!, options: [], inner: ip6.subarray(56, end) };
  }
  const g = parseGeneveAt(ip6, 48, end);
  if (typeof g === 'string') return g;
  return { ...base, vni: g.vni, options: g.options, inner: g.inner };
}
