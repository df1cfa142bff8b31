/**
 * IPv6 frames as routers and tunnel endpoints send them (issue 14, IPv6 underlay): address words,
 * prefixes, the Ethernet + IPv6 header, Neighbor Discovery (RFC 4861) solicitations and
 * advertisements, and ICMPv6 errors (RFC 4443).
 *
 * Addresses are `Ipv6Words` (four big-endian 32-bit words, wire/ip.ts). Linux's choices, cited
 * where they apply:
 * - ND (net/ipv6/ndisc.c `ndisc_send_ns`/`ndisc_send_na`, `ip6_nd_hdr`): hop limit 255 (RFC 4861
 *   §7.1.1 requires it), traffic class 0, flow label 0; an NS goes to the target's solicited-node
 *   group ff02::1:ffXX:XXXX (MAC 33:33:ff:XX:XX:XX, RFC 2464 §7) with the source link-layer
 *   address option; a solicited NA goes back to the soliciting address with the target link-layer
 *   option and the S and O flags (R on a router: `ndisc_recv_ns` passes `is_router`).
 * - ICMPv6 errors (net/ipv6/icmp.c `icmp6_send`): quote as much of the offending packet as fits in
 *   the IPv6 minimum MTU (1280 − 40 − 8 = 1232 bytes, RFC 4443 §2.4(c)), hop limit 64 (the
 *   default `hop_limit`), traffic class 0; never about an ICMPv6 error, never to a packet from the
 *   unspecified or a multicast source, never about a multicast destination except Packet Too Big
 *   (§2.4(e)). The flow label: `ip6_make_flowlabel` with auto_flowlabels = 1 (Linux default)
 *   hashes the flow (`skb_get_hash_flowi6`) into 20 bits; vfab hashes the same fields with its own
 *   seeded hash (a deliberate difference in value, not in kind).
 */
import { finish, fold, pseudoHeaderV6, sumBytes } from './checksum.js';
import type { Ipv6Words } from './ip.js';
import { readU32, writeMac, writeU32 } from './ipv4-frame.js';

export const IPV6_ETHERTYPE = 0x86dd;
export const PROTO_ICMPV6 = 58;
export const PROTO_UDP = 17;
/** RFC 8200 §5: every link carries at least 1280 bytes. */
export const IPV6_MIN_MTU = 1280;
/** RFC 4443 §2.4(c): the error fits the minimum MTU: 1280 − 40 − 8. */
export const ICMPV6_QUOTE_MAX = IPV6_MIN_MTU - 40 - 8;
/** net.ipv6.conf.*.hop_limit default. */
export const DEFAULT_HOP_LIMIT = 64;
/** RFC 4861 §6.1.2, §7.1: ND messages are sent and accepted only with hop limit 255. */
export const ND_HOP_LIMIT = 255;

export const ICMPV6 = {
  DestUnreach: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParamProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  NeighborSolicit: 135,
  NeighborAdvert: 136,
} as const;

/** Destination unreachable codes (RFC 4443 §3.1). */
export const UNREACH6 = { NoRoute: 0, BeyondScope: 2, Address: 3, Port: 4 } as const;

export function readIpv6At(b: Uint8Array, o: number): Ipv6Words {
  return [readU32(b, o), readU32(b, o + 4), readU32(b, o + 8), readU32(b, o + 12)];
}

export function writeIpv6At(b: Uint8Array, o: number, a: Ipv6Words): void {
  for (let i = 0; i < 4; i++) writeU32(b, o + 4 * i, a[i]! >>> 0);
}

export function ipv6Equal(a: Ipv6Words, b: Ipv6Words): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/** Whether `a` lies in `net`/`len`. */
export function ipv6InPrefix(a: Ipv6Words, net: Ipv6Words, len: number): boolean {
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, len - 32 * i));
    if (bits === 0) return true;
    const m = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    if (((a[i]! ^ net[i]!) & m) >>> 0 !== 0) return false;
  }
  return true;
}

/** `a` with the host bits beyond `len` cleared. */
export function ipv6Network(a: Ipv6Words, len: number): Ipv6Words {
  const out: Ipv6Words = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, len - 32 * i));
    out[i] = bits === 0 ? 0 : bits === 32 ? a[i]! >>> 0 : (a[i]! & ((0xffffffff << (32 - bits)) >>> 0)) >>> 0;
  }
  return out;
}

/** A stable map key for an address. */
export function ipv6Key(a: Ipv6Words): string {
  return `${a[0].toString(16)}:${a[1].toString(16)}:${a[2].toString(16)}:${a[3].toString(16)}`;
}

export function isIpv6Multicast(a: Ipv6Words): boolean {
  return a[0] >>> 24 === 0xff;
}

export function isIpv6Unspecified(a: Ipv6Words): boolean {
  return a[0] === 0 && a[1] === 0 && a[2] === 0 && a[3] === 0;
}

/** fe80::/10. */
export function isIpv6LinkLocal(a: Ipv6Words): boolean {
  return a[0] >>> 22 === 0x3fa;
}

/** RFC 4291 §2.7.1: ff02::1:ff00:0/104 plus the low 24 bits of `target`. */
export function solicitedNode(target: Ipv6Words): Ipv6Words {
  return [0xff020000, 0, 1, (0xff000000 | (target[3] & 0xffffff)) >>> 0];
}

/** RFC 2464 §7: 33:33 followed by the last 32 bits of the multicast address. */
export function multicastMac(group: Ipv6Words): number {
  return 0x3333 * 2 ** 32 + (group[3] >>> 0);
}

export interface Ipv6Header {
  src: Ipv6Words;
  dst: Ipv6Words;
  nextHeader: number;
  hopLimit: number;
  trafficClass?: number;
  flowLabel?: number;
}

/** Ethernet (type 0x86DD) + IPv6 + `payload`, padded to the 60-byte Ethernet minimum. */
export function buildIpv6Frame(srcMac: number, dstMac: number, h: Ipv6Header, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(Math.max(60, 54 + payload.length));
  writeMac(f, 0, dstMac);
  writeMac(f, 6, srcMac);
  f[12] = 0x86;
  f[13] = 0xdd;
  writeIpv6Header(f, 14, h, payload.length);
  f.set(payload, 54);
  return f;
}

export function writeIpv6Header(b: Uint8Array, o: number, h: Ipv6Header, payloadLen: number): void {
  writeU32(b, o, ((6 << 28) | (((h.trafficClass ?? 0) & 0xff) << 20) | ((h.flowLabel ?? 0) & 0xfffff)) >>> 0);
  b[o + 4] = (payloadLen >>> 8) & 0xff;
  b[o + 5] = payloadLen & 0xff;
  b[o + 6] = h.nextHeader;
  b[o + 7] = h.hopLimit;
  writeIpv6At(b, o + 8, h.src);
  writeIpv6At(b, o + 24, h.dst);
}

/** Writes the ICMPv6 checksum (RFC 4443 §2.3, over the pseudo-header) of `msg` in place. */
export function setIcmpv6Checksum(msg: Uint8Array, src: Ipv6Words, dst: Ipv6Words): void {
  msg[2] = 0;
  msg[3] = 0;
  const c = finish(sumBytes(msg, 0, msg.length, pseudoHeaderV6(src, dst, PROTO_ICMPV6, msg.length)));
  msg[2] = c >>> 8;
  msg[3] = c & 0xff;
}

/** Whether an ICMPv6 message (or any upper-layer segment) checks out against its pseudo-header. */
export function upperChecksumOk(seg: Uint8Array, src: Ipv6Words, dst: Ipv6Words, proto: number): boolean {
  return fold(sumBytes(seg, 0, seg.length, pseudoHeaderV6(src, dst, proto, seg.length))) === 0xffff;
}

function writeMacOption(b: Uint8Array, o: number, type: number, mac: number): void {
  b[o] = type;
  b[o + 1] = 1; // length in units of 8 bytes
  writeMac(b, o + 2, mac);
}

/** A Neighbor Solicitation for `target` from `src` (multicast to its solicited-node group, or unicast to `unicastMac` for a NUD probe). */
export function buildNeighborSolicit(srcMac: number, src: Ipv6Words, target: Ipv6Words, unicastMac: number | null = null): Uint8Array {
  const msg = new Uint8Array(32);
  msg[0] = ICMPV6.NeighborSolicit;
  writeIpv6At(msg, 8, target);
  writeMacOption(msg, 24, 1, srcMac);
  const dst = unicastMac === null ? solicitedNode(target) : target;
  setIcmpv6Checksum(msg, src, dst);
  return buildIpv6Frame(srcMac, unicastMac ?? multicastMac(dst), { src, dst, nextHeader: PROTO_ICMPV6, hopLimit: ND_HOP_LIMIT }, msg);
}

/** A solicited Neighbor Advertisement for `target` (router flag as given), to `dst`/`dstMac`. */
export function buildNeighborAdvert(srcMac: number, src: Ipv6Words, dstMac: number, dst: Ipv6Words, router: boolean): Uint8Array {
  const msg = new Uint8Array(32);
  msg[0] = ICMPV6.NeighborAdvert;
  msg[4] = (router ? 0x80 : 0) | 0x40 | 0x20;
  writeIpv6At(msg, 8, src);
  writeMacOption(msg, 24, 2, srcMac);
  setIcmpv6Checksum(msg, src, dst);
  return buildIpv6Frame(srcMac, dstMac, { src, dst, nextHeader: PROTO_ICMPV6, hopLimit: ND_HOP_LIMIT }, msg);
}

export interface NdMessage {
  type: 135 | 136;
  target: Ipv6Words;
  /** The source (NS) or target (NA) link-layer address option, if present. */
  lladdr: number | undefined;
  solicited: boolean;
}

/**
 * Parses an NS or NA in `ip6` (the IPv6 packet, header first) as `ndisc_rcv` validates it: hop
 * limit 255, code 0, ICMPv6 checksum, at least 24 bytes; returns a drop reason otherwise.
 */
export function parseNd(ip6: Uint8Array): NdMessage | string {
  const plen = (ip6[4]! << 8) | ip6[5]!;
  if (40 + plen > ip6.length || plen < 24) return 'bad-nd';
  if (ip6[7] !== ND_HOP_LIMIT || ip6[41] !== 0) return 'bad-nd';
  const msg = ip6.subarray(40, 40 + plen);
  if (!upperChecksumOk(msg, readIpv6At(ip6, 8), readIpv6At(ip6, 24), PROTO_ICMPV6)) return 'bad-icmpv6-checksum';
  let lladdr: number | undefined;
  for (let o = 24; o + 8 <= msg.length; ) {
    const len = msg[o + 1]! * 8;
    if (len === 0) return 'bad-nd';
    if ((msg[o] === 1 || msg[o] === 2) && len === 8) lladdr = msg[o + 2]! * 2 ** 40 + msg[o + 3]! * 2 ** 32 + readU32(msg, o + 4);
    o += len;
  }
  return { type: msg[0] as 135 | 136, target: readIpv6At(msg, 8), lladdr, solicited: (msg[4]! & 0x40) !== 0 };
}

/** RFC 4443 §2.4(e) and icmp6_send's checks: may an error be sent about `ip6`? */
export function icmpv6ErrorAllowed(ip6: Uint8Array, type: number): boolean {
  if (ip6.length < 40) return false;
  const src = readIpv6At(ip6, 8);
  if (isIpv6Unspecified(src) || isIpv6Multicast(src)) return false;
  if (isIpv6Multicast(readIpv6At(ip6, 24)) && type !== ICMPV6.PacketTooBig) return false;
  // never about an ICMPv6 error (types below 128), nor a Redirect (137): icmpv6_is_err / is_ineligible
  if (ip6[6] === PROTO_ICMPV6 && ip6.length > 40 && (ip6[40]! < 128 || ip6[40] === 137)) return false;
  return true;
}

/** The ICMPv6 error message (type, code, the 32-bit field, the quote), checksum for `src` → `dst`. */
export function buildIcmpv6Error(type: number, code: number, param: number, offending: Uint8Array, src: Ipv6Words, dst: Ipv6Words): Uint8Array {
  const quote = Math.min(offending.length, ICMPV6_QUOTE_MAX);
  const msg = new Uint8Array(8 + quote);
  msg[0] = type;
  msg[1] = code;
  writeU32(msg, 4, param >>> 0);
  msg.set(offending.subarray(0, quote), 8);
  setIcmpv6Checksum(msg, src, dst);
  return msg;
}
