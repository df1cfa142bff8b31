/**
 * VXLAN over an IPv6 underlay (RFC 7348 §5 allows either family for the outer header): outer
 * Ethernet (0x86DD), IPv6 (40 bytes), UDP, VXLAN, inner frame: 70 bytes of overhead, Linux's
 * `VXLAN6_HEADROOM` / `vxlan_headroom(VXLAN_F_IPV6)`.
 *
 * The outer UDP checksum is always computed: RFC 8200 §8.1 forbids a zero UDP checksum over
 * IPv6 unless the tunnel opts out (RFC 6935/6936; Linux `udp6zerocsumtx`, OVS `options:csum`
 * defaults to true over IPv6 for this reason), and a computed zero is sent as 0xFFFF (RFC 768).
 * Traffic class = `tos`, flow label = `flowLabel` (Linux's vxlan device sends its `flowlabel`
 * option, 0 by default; udp_tunnel6_xmit_skb writes it as given), hop limit = `ttl`.
 *
 * This is the wire building block only: vfab's underlay endpoints and routers are IPv4 today
 * (docs/overlay.md "Not done yet").
 */
import { finish, sumBytes } from './checksum.js';
import type { Ipv6Words } from './ip.js';
import { writeMac, writeU32 } from './ipv4-frame.js';
import { VXLAN_FLAG_I, VXLAN_HEADER_LEN } from './vxlan.js';

/** Outer Ethernet 14 + IPv6 40 + UDP 8 + VXLAN 8. */
export const VXLAN6_OVERHEAD = 70;

export interface OuterHeaders6 {
  srcMac: number;
  dstMac: number;
  srcIp: Ipv6Words;
  dstIp: Ipv6Words;
  srcPort: number;
  dstPort: number;
  /** Traffic class. */
  tos: number;
  /** Hop limit. */
  ttl: number;
  /** 20-bit flow label (Linux vxlan `flowlabel`, default 0). */
  flowLabel: number;
}

/** The whole encapsulated frame: outer Ethernet/IPv6/UDP (checksum computed), VXLAN with `vni`, then `inner`. */
export function encapVxlan6(o: OuterHeaders6, vni: number, inner: Uint8Array): Uint8Array {
  const udpLen = 8 + VXLAN_HEADER_LEN + inner.length;
  const f = new Uint8Array(14 + 40 + udpLen);
  writeMac(f, 0, o.dstMac);
  writeMac(f, 6, o.srcMac);
  f[12] = 0x86;
  f[13] = 0xdd;
  const ip = 14;
  writeU32(f, ip, ((6 << 28) | ((o.tos & 0xff) << 20) | (o.flowLabel & 0xfffff)) >>> 0);
  f[ip + 4] = udpLen >>> 8;
  f[ip + 5] = udpLen & 0xff;
  f[ip + 6] = 17;
  f[ip + 7] = o.ttl;
  for (let i = 0; i < 4; i++) {
    writeU32(f, ip + 8 + 4 * i, o.srcIp[i]!);
    writeU32(f, ip + 24 + 4 * i, o.dstIp[i]!);
  }
  const u = ip + 40;
  f[u] = o.srcPort >>> 8;
  f[u + 1] = o.srcPort & 0xff;
  f[u + 2] = o.dstPort >>> 8;
  f[u + 3] = o.dstPort & 0xff;
  f[u + 4] = udpLen >>> 8;
  f[u + 5] = udpLen & 0xff;
  const v = u + 8;
  f[v] = VXLAN_FLAG_I;
  f[v + 4] = (vni >>> 16) & 0xff;
  f[v + 5] = (vni >>> 8) & 0xff;
  f[v + 6] = vni & 0xff;
  f.set(inner, v + 8);
  // RFC 8200 §8.1 pseudo-header: source, destination, upper-layer length, next header 17
  const pseudo = sumBytes(f, ip + 8, ip + 40) + udpLen + 17;
  let c = finish(sumBytes(f, u, u + udpLen, pseudo));
  if (c === 0) c = 0xffff;
  f[u + 6] = c >>> 8;
  f[u + 7] = c & 0xff;
  return f;
}
