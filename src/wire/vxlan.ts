/**
 * VXLAN (RFC 7348 §5) and the outer headers a VTEP puts around an inner Ethernet frame.
 *
 * VXLAN header (8 bytes): flags (0x08 = I, "VNI valid"), 24 reserved bits, 24-bit VNI, 8 reserved
 * bits. Outer: Ethernet, IPv4 (20 bytes), UDP (8 bytes, destination 4789 by default), so the
 * overhead over the inner frame is 50 bytes (`VXLAN_OVERHEAD`), what `ip link` subtracts from the
 * underlay MTU for a vxlan device (`VXLAN_HEADROOM`, drivers/net/vxlan/vxlan_core.c).
 *
 * The UDP source port follows Linux `udp_flow_src_port`: `((hash * (max - min)) >> 32) + min` over
 * the local port range (32768–60999 by default), from a hash of the inner flow, so ECMP in the
 * underlay spreads tunnels by inner flow (RFC 7348 §5 "source port … hash of the inner packet").
 */
import { finish, sumBytes } from './checksum.js';
import { writeIpv4Header, writeMac } from './ipv4-frame.js';

export const VXLAN_PORT = 4789;
export const VXLAN_HEADER_LEN = 8;
/** Outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8. */
export const VXLAN_OVERHEAD = 50;
export const VXLAN_FLAG_I = 0x08;
export const VNI_MAX = 0xffffff;
/** Linux `inet_get_local_port_range` default (net.ipv4.ip_local_port_range = 32768 60999). */
export const LOCAL_PORT_MIN = 32768;
export const LOCAL_PORT_MAX = 60999;

/** Linux `udp_flow_src_port` mapping of a 32-bit flow hash onto [min, max). */
export function udpFlowSrcPort(hash: number, min = LOCAL_PORT_MIN, max = LOCAL_PORT_MAX): number {
  return Math.floor(((hash >>> 0) * (max - min)) / 4294967296) + min;
}

export interface OuterHeaders {
  srcMac: number;
  dstMac: number;
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  tos: number;
  ttl: number;
  ident: number;
  dontFrag: boolean;
  /** Compute the outer UDP checksum (OVS `options:csum=true`); else 0, as over IPv4 by default. */
  csum: boolean;
}

/** The whole encapsulated frame: outer Ethernet/IPv4/UDP, VXLAN with `vni`, then `inner`. */
export function encapVxlan(o: OuterHeaders, vni: number, inner: Uint8Array): Uint8Array {
  const udpLen = 8 + VXLAN_HEADER_LEN + inner.length;
  const f = new Uint8Array(Math.max(60, 14 + 20 + udpLen));
  writeOuter(f, o, udpLen);
  const v = 42;
  f[v] = VXLAN_FLAG_I;
  f[v + 4] = (vni >>> 16) & 0xff;
  f[v + 5] = (vni >>> 8) & 0xff;
  f[v + 6] = vni & 0xff;
  f.set(inner, v + 8);
  if (o.csum) writeUdpChecksum(f, o, udpLen);
  return f;
}

/** Outer Ethernet (0..13), IPv4 (14..33) and UDP header (34..41, checksum 0) of a UDP tunnel. */
export function writeOuter(f: Uint8Array, o: OuterHeaders, udpLen: number): void {
  writeMac(f, 0, o.dstMac);
  writeMac(f, 6, o.srcMac);
  f[12] = 0x08;
  f[13] = 0x00;
  writeIpv4Header(f, 14, { src: o.srcIp, dst: o.dstIp, protocol: 17, tos: o.tos, ttl: o.ttl, ident: o.ident, dontFrag: o.dontFrag }, udpLen);
  const u = 34;
  f[u] = o.srcPort >>> 8;
  f[u + 1] = o.srcPort & 0xff;
  f[u + 2] = o.dstPort >>> 8;
  f[u + 3] = o.dstPort & 0xff;
  f[u + 4] = udpLen >>> 8;
  f[u + 5] = udpLen & 0xff;
}

/** The outer UDP checksum over the pseudo-header and the whole UDP datagram at offset 34. */
export function writeUdpChecksum(f: Uint8Array, o: OuterHeaders, udpLen: number): void {
  const u = 34;
  const pseudo = (o.srcIp >>> 16) + (o.srcIp & 0xffff) + (o.dstIp >>> 16) + (o.dstIp & 0xffff) + 17 + udpLen;
  let c = finish(sumBytes(f, u, u + udpLen, pseudo));
  if (c === 0) c = 0xffff; // RFC 768: a computed zero is sent as all ones
  f[u + 6] = c >>> 8;
  f[u + 7] = c & 0xff;
}

export interface VxlanView {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  vni: number;
  flags: number;
  /** The inner Ethernet frame (a view into the outer buffer). */
  inner: Uint8Array;
}

/**
 * Parses an IPv4 datagram `ip` (header first) carrying UDP; returns the VXLAN view or a reason
 * string when it is not a well-formed VXLAN packet (too short, I flag clear).
 */
export function parseVxlan(ip: Uint8Array): VxlanView | string {
  const bad = vxlanVni(ip);
  if (typeof bad === 'string') return bad;
  const u = (ip[0]! & 0x0f) * 4;
  const udpLen = (ip[u + 4]! << 8) | ip[u + 5]!;
  const v = u + 8;
  const flags = ip[v]!;
  return {
    srcIp: ((ip[12]! << 24) | (ip[13]! << 16) | (ip[14]! << 8) | ip[15]!) >>> 0,
    dstIp: ((ip[16]! << 24) | (ip[17]! << 16) | (ip[18]! << 8) | ip[19]!) >>> 0,
    srcPort: (ip[u]! << 8) | ip[u + 1]!,
    dstPort: (ip[u + 2]! << 8) | ip[u + 3]!,
    vni: (ip[v + 4]! << 16) | (ip[v + 5]! << 8) | ip[v + 6]!,
    flags,
    inner: ip.subarray(v + 8, u + udpLen),
  };
}

/**
 * The checks of `parseVxlan` without building the view (the per-packet receive path): the VNI of
 * the well-formed VXLAN packet `ip`, or the same reason string `parseVxlan` returns.
 */
export function vxlanVni(ip: Uint8Array): number | string {
  return vxlanVniAt(ip, 0, ip.length);
}

/**
 * `vxlanVni` of the datagram `f[o, end)` (an IPv4 header at byte `o` of a received frame), read in
 * place: the receive path makes no view of the datagram, only of the inner frame.
 */
export function vxlanVniAt(f: Uint8Array, o: number, end: number): number | string {
  const ihl = (f[o]! & 0x0f) * 4;
  const total = (f[o + 2]! << 8) | f[o + 3]!;
  if (f[o + 9] !== 17 || total > end - o || total < ihl + 16) return 'bad-vxlan';
  const u = o + ihl;
  const udpLen = (f[u + 4]! << 8) | f[u + 5]!;
  if (udpLen < 16 || ihl + udpLen > total) return 'bad-vxlan';
  const v = u + 8;
  if ((f[v]! & VXLAN_FLAG_I) === 0) return 'vxlan-no-vni';
  return (f[v + 4]! << 16) | (f[v + 5]! << 8) | f[v + 6]!;
}

/** The inner Ethernet frame of a packet `vxlanVni` accepted: a view into `ip`, no copy. */
export function vxlanInner(ip: Uint8Array): Uint8Array {
  return vxlanInnerAt(ip, 0);
}

/** `vxlanInner` of the datagram at byte `o` of `f` (one that `vxlanVniAt` accepted). */
export function vxlanInnerAt(f: Uint8Array, o: number): Uint8Array {
  const u = o + (f[o]! & 0x0f) * 4;
  return f.subarray(u + 16, u + ((f[u + 4]! << 8) | f[u + 5]!));
}
