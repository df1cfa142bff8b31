/**
 * The ICMP a Linux UDP tunnel device answers for a bridged frame too big for the tunnel
 * (Linux ≥ 5.9, net/ipv4/ip_tunnel_core.c: `skb_tunnel_check_pmtu`, `iptunnel_pmtud_check_icmp`,
 * `iptunnel_pmtud_build_icmp`, `iptunnel_pmtud_check_icmpv6`, `iptunnel_pmtud_build_icmpv6`).
 * vxlan_xmit_one and geneve_xmit_skb call it with `reply` = the device is a bridge or OVS
 * (kernel datapath) port, so OVS's `datapath_type=system` tunnel ports answer; the userspace
 * datapath (`netdev`) has no such code and drops silently.
 *
 * What the kernel does, and this module copies byte for byte:
 * - the check: `mtu = dst_mtu(route to the remote) - headroom`; the inner *network* packet (the
 *   frame minus its 14-byte Ethernet header) must be ≤ mtu. headroom: VXLAN over IPv4 50
 *   (`vxlan_headroom`: 20 + 8 + 8 + ETH_HLEN), over IPv6 70; Geneve `GENEVE_IPV4_HLEN` 50 /
 *   `GENEVE_IPV6_HLEN` 70 plus the options' length.
 * - IPv4 (`iptunnel_pmtud_check_icmp`): only if mtu ≥ 576 and frag_off is exactly DF (no MF, no
 *   offset); not to/from broadcast or multicast, not from 0/8 or 127/8, not about an ICMP error.
 *   The message: Ethernet with the inner addresses swapped, IPv4 (TOS 0, id 0, DF, TTL = the
 *   inner TTL, source = the inner *destination*), ICMP 3/4 with the next-hop MTU, quoting the
 *   inner packet from its IP header, trimmed to 576 − 20 − 8 = 548 bytes.
 * - IPv6 (`iptunnel_pmtud_check_icmpv6`): only if mtu ≥ 1280; not from ::, ::1 or multicast, not
 *   about a non-first fragment, an ICMPv6 error or a Redirect. ICMPv6 2/0 (Packet Too Big, 32-bit
 *   MTU), traffic class and flow label 0, hop limit = the inner one, quote trimmed to
 *   1280 − 40 − 8 = 1232 bytes.
 * The message then enters the bridge from the tunnel port itself (`vxlan_encap_bypass` with the
 * tunnel addresses swapped), as if the remote end had sent it.
 */
import { finish, sumBytes } from './checksum.js';

/** Linux: IPv4 PMTUD replies only when the tunnel MTU is at least 576. */
export const PMTUD_MIN_MTU_V4 = 576;
/** IPV6_MIN_MTU. */
export const PMTUD_MIN_MTU_V6 = 1280;

/** icmp_is_err (include/linux/icmp.h): unreachable, source quench, redirect, time exceeded, parameter problem. */
const ICMP_ERRORS = new Set([3, 4, 5, 11, 12]);

/**
 * The whole Ethernet frame of the ICMP / ICMPv6 error the kernel answers for `inner` (an Ethernet
 * frame whose network packet exceeds `mtu`), or undefined when the kernel's rules send none.
 */
export function tunnelPmtudReply(inner: Uint8Array, mtu: number): Uint8Array | undefined {
  if (inner.length < 14) return undefined;
  const type = (inner[12]! << 8) | inner[13]!;
  if (type === 0x0800) return pmtudV4(inner, mtu);
  if (type === 0x86dd) return pmtudV6(inner, mtu);
  return undefined;
}

function pmtudV4(f: Uint8Array, mtu: number): Uint8Array | undefined {
  if (f.length < 14 + 20) return undefined;
  const ip = f.subarray(14);
  if (mtu < PMTUD_MIN_MTU_V4 || ip[6] !== 0x40 || ip[7] !== 0) return undefined;
  const s0 = ip[12]!;
  const d0 = ip[16]!;
  const lbcast = (o: number): boolean => ip[o] === 255 && ip[o + 1] === 255 && ip[o + 2] === 255 && ip[o + 3] === 255;
  if (lbcast(16) || (d0 & 0xf0) === 0xe0 || s0 === 0 || s0 === 127 || lbcast(12) || (s0 & 0xf0) === 0xe0) return undefined;
  const ihl = (ip[0]! & 0x0f) * 4;
  if (ip[9] === 1) {
    // pskb_network_may_pull(ihl + 1): a packet too short to hold the ICMP type gets no reply
    if (ip.length < ihl + 1) return undefined;
    if (ICMP_ERRORS.has(ip[ihl]!)) return undefined;
  }
  const quote = Math.min(ip.length, PMTUD_MIN_MTU_V4 - 20 - 8);
  const out = new Uint8Array(14 + 20 + 8 + quote);
  writeEthSwapped(out, f);
  const n = 14;
  out[n] = 0x45;
  const total = 20 + 8 + quote;
  out[n + 2] = total >>> 8;
  out[n + 3] = total & 0xff;
  out[n + 6] = 0x40; // DF
  out[n + 8] = ip[8]!; // TTL: the inner packet's
  out[n + 9] = 1;
  out.set(ip.subarray(16, 20), n + 12); // source: the inner destination
  out.set(ip.subarray(12, 16), n + 16);
  const hc = finish(sumBytes(out, n, n + 20));
  out[n + 10] = hc >>> 8;
  out[n + 11] = hc & 0xff;
  const m = n + 20;
  out[m] = 3;
  out[m + 1] = 4;
  out[m + 6] = (mtu >>> 8) & 0xff;
  out[m + 7] = mtu & 0xff;
  out.set(ip.subarray(0, quote), m + 8);
  const c = finish(sumBytes(out, m, out.length));
  out[m + 2] = c >>> 8;
  out[m + 3] = c & 0xff;
  return out;
}

/** ipv6_skip_exthdr: hop-by-hop 0, routing 43, destination options 60, AH 51, fragment 44. */
function skipExtHeaders(ip: Uint8Array): { proto: number; offset: number; fragOff: number } | undefined {
  let proto = ip[6]!;
  let offset = 40;
  let fragOff = 0;
  for (;;) {
    if (proto !== 0 && proto !== 43 && proto !== 60 && proto !== 51 && proto !== 44) return { proto, offset, fragOff };
    if (ip.length < offset + 8) return undefined;
    if (proto === 44) {
      fragOff = (ip[offset + 2]! << 8) | ip[offset + 3]!;
      // a non-first fragment: the kernel stops here (the upper header is not in this packet)
      if ((fragOff & ~7) !== 0) return { proto, offset, fragOff };
      proto = ip[offset]!;
      offset += 8;
      continue;
    }
    const len = proto === 51 ? (ip[offset + 1]! + 2) * 4 : (ip[offset + 1]! + 1) * 8;
    proto = ip[offset]!;
    offset += len;
  }
}

function pmtudV6(f: Uint8Array, mtu: number): Uint8Array | undefined {
  if (f.length < 14 + 40) return undefined;
  const ip = f.subarray(14);
  if (mtu < PMTUD_MIN_MTU_V6) return undefined;
  // ipv6_addr_type(saddr): any, loopback or multicast sources get no reply
  let zero = true;
  for (let i = 8; i < 24; i++) if (ip[i] !== 0) zero = false;
  let loop = ip[23] === 1;
  for (let i = 8; i < 23; i++) if (ip[i] !== 0) loop = false;
  if (zero || loop || ip[8] === 0xff) return undefined;
  const x = skipExtHeaders(ip);
  if (x === undefined || (x.fragOff & ~7) !== 0) return undefined;
  if (x.proto === 58) {
    if (ip.length < x.offset + 1) return undefined;
    const t = ip[x.offset]!;
    if (t < 128 || t === 137) return undefined; // icmpv6_is_err, NDISC_REDIRECT
  }
  const quote = Math.min(ip.length, PMTUD_MIN_MTU_V6 - 40 - 8);
  const len = 8 + quote;
  const out = new Uint8Array(14 + 40 + len);
  writeEthSwapped(out, f);
  const n = 14;
  out[n] = 0x60;
  out[n + 4] = len >>> 8;
  out[n + 5] = len & 0xff;
  out[n + 6] = 58;
  out[n + 7] = ip[7]!; // hop limit: the inner packet's
  out.set(ip.subarray(24, 40), n + 8); // source: the inner destination
  out.set(ip.subarray(8, 24), n + 24);
  const m = n + 40;
  out[m] = 2;
  out[m + 4] = (mtu >>> 24) & 0xff;
  out[m + 5] = (mtu >>> 16) & 0xff;
  out[m + 6] = (mtu >>> 8) & 0xff;
  out[m + 7] = mtu & 0xff;
  out.set(ip.subarray(0, quote), m + 8);
  // csum_ipv6_magic: source, destination, upper-layer length, next header 58
  const pseudo = sumBytes(out, n + 8, n + 40) + len + 58;
  const c = finish(sumBytes(out, m, out.length, pseudo));
  out[m + 2] = c >>> 8;
  out[m + 3] = c & 0xff;
  return out;
}

/** eth_header(skb, dev, proto, eh.h_source, eh.h_dest): back to the sender, from the destination. */
function writeEthSwapped(out: Uint8Array, f: Uint8Array): void {
  out.set(f.subarray(6, 12), 0);
  out.set(f.subarray(0, 6), 6);
  out[12] = f[12]!;
  out[13] = f[13]!;
}
