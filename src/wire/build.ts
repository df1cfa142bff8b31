/**
 * High-level frame builders for guests, the hypervisor and tests. All arguments are named; MACs
 * are 48-bit numbers, IPv4 addresses uint32, IPv6 addresses `Ipv6Words`.
 *
 * Every builder returns a fresh, complete Ethernet frame (no FCS) with checksums filled in, padded
 * with zeros to 60 bytes, the minimum a real NIC puts on the wire (64 with the FCS; IEEE 802.3
 * §4.2.3.3, Linux drivers `eth_skb_pad`), so captures match what a wire tap would see. Padding
 * sits after the IP `totalLen` and is ignored by parsers.
 *
 * Payload bytes, when only a length is given, are a counting pattern (byte i = i & 0xff): the
 * same every run, recognizable in Wireshark.
 */
import { ArpOperation, Packet as ArpPacket, PACKET_LEN as ARP_LEN, Repr as ArpRepr } from './arp.js';
import { EtherType, Frame as EthernetFrame, HEADER_LEN as ETH_LEN, MIN_FRAME_LEN, Repr as EthernetRepr } from './ethernet.js';
import { Packet as Icmpv6Packet, Repr as Icmpv6Repr } from './icmpv6.js';
import { IcmpType, Packet as IcmpPacket, Repr as IcmpRepr } from './icmp.js';
import { IPV6_ALL_NODES, ipv6MulticastMac, solicitedNodeMulticast, type Ipv6Words } from './ip.js';
import { IpProtocol } from './ip-protocol.js';
import { HEADER_LEN as IPV4_LEN, Packet as Ipv4Packet, Repr as Ipv4Repr } from './ipv4.js';
import { HEADER_LEN as IPV6_LEN, Packet as Ipv6Packet, Repr as Ipv6Repr } from './ipv6.js';
import { allocFrame } from './frame-alloc.js';
import { fold, pseudoHeaderV4, sumBytes } from './checksum.js';
import { BROADCAST_MAC } from './mac.js';
import { Packet as TcpPacket, Repr as TcpRepr, TcpFlags } from './tcp.js';
import { HEADER_LEN as UDP_HEADER_LEN, Packet as UdpPacket, Repr as UdpRepr } from './udp.js';

/** The counting pattern, precomputed up to the largest IPv4 payload. */
const PATTERN = new Uint8Array(65536);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = i & 0xff;

/** Deterministic payload: byte i = i & 0xff (a fresh copy the caller may keep or modify). */
export function patternPayload(len: number): Uint8Array {
  if (len <= PATTERN.length) return PATTERN.slice(0, len);
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = i & 0xff;
  return b;
}

/**
 * Prefix sums of the pattern's 16-bit big-endian words: PATTERN_SUMS[k] = sum of the words at
 * even offsets 0, 2, …, 2k-2. The one's complement sum is a plain sum folded at the end
 * (RFC 1071 §2), so the checksum of any even-aligned stretch of the pattern is one subtraction.
 */
const PATTERN_SUMS = new Float64Array(PATTERN.length / 2 + 1);
for (let k = 0; k < PATTERN.length / 2; k++) PATTERN_SUMS[k + 1] = PATTERN_SUMS[k]! + ((PATTERN[2 * k]! << 8) | PATTERN[2 * k + 1]!);

/** Sum of the pattern's bytes [from, to) as 16-bit words; `from` even, to ≤ 65536. */
function patternSum(from: number, to: number): number {
  const even = to & ~1;
  let s = from < even ? PATTERN_SUMS[even >>> 1]! - PATTERN_SUMS[from >>> 1]! : 0;
  if (to & 1 && to - 1 >= from) s += PATTERN[to - 1]! << 8;
  return s;
}

/** Read-only view of the pattern for emitting (no copy). */
function patternView(len: number): Uint8Array {
  return len <= PATTERN.length ? PATTERN.subarray(0, len) : patternPayload(len);
}

/** A zeroed buffer of max(len, 60) bytes with an Ethernet header written. */
function ethernet(len: number, src: number, dst: number, type: EtherType): Uint8Array {
  const buf = allocFrame(Math.max(len, MIN_FRAME_LEN));
  EthernetRepr.emit({ srcAddr: src, dstAddr: dst, etherType: type }, new EthernetFrame(buf));
  return buf;
}

/** Copy of `frame` zero-padded to 60 bytes (or the frame itself if already long enough). */
export function padFrame(frame: Uint8Array): Uint8Array {
  if (frame.length >= MIN_FRAME_LEN) return frame;
  const out = new Uint8Array(MIN_FRAME_LEN);
  out.set(frame);
  return out;
}

function arpFrame(ethDst: number, ethSrc: number, type: EtherType, repr: ArpRepr): Uint8Array {
  const buf = ethernet(ETH_LEN + ARP_LEN, ethSrc, ethDst, type);
  ArpRepr.emit(repr, new ArpPacket(buf.subarray(ETH_LEN, ETH_LEN + ARP_LEN)));
  return buf;
}

export function buildArpRequest(a: { srcMac: number; srcIp: number; dstIp: number }): Uint8Array {
  return arpFrame(BROADCAST_MAC, a.srcMac, EtherType.Arp, {
    operation: ArpOperation.Request,
    sourceHardwareAddr: a.srcMac,
    sourceProtocolAddr: a.srcIp,
    targetHardwareAddr: 0,
    targetProtocolAddr: a.dstIp,
  });
}

export function buildArpReply(a: { srcMac: number; srcIp: number; dstMac: number; dstIp: number }): Uint8Array {
  return arpFrame(a.dstMac, a.srcMac, EtherType.Arp, {
    operation: ArpOperation.Reply,
    sourceHardwareAddr: a.srcMac,
    sourceProtocolAddr: a.srcIp,
    targetHardwareAddr: a.dstMac,
    targetProtocolAddr: a.dstIp,
  });
}

/**
 * Gratuitous ARP as Linux sends it on `netif_notify_peers` (`net/ipv4/devinet.c`
 * `inetdev_send_gratuitous_arp` → `arp_send(ARPOP_REQUEST, …, ip, dev, ip, NULL, dev_addr, NULL)`):
 * a broadcast request with SPA = TPA = ip and THA = 0.
 */
export function buildGratuitousArp(a: { mac: number; ip: number }): Uint8Array {
  return arpFrame(BROADCAST_MAC, a.mac, EtherType.Arp, {
    operation: ArpOperation.Request,
    sourceHardwareAddr: a.mac,
    sourceProtocolAddr: a.ip,
    targetHardwareAddr: 0,
    targetProtocolAddr: a.ip,
  });
}

/**
 * The RARP "announce" QEMU sends after migration (`net/announce.c` `announce_self_create`):
 * 60 bytes, broadcast, ethertype 0x8035, opcode 3 (reverse request), sender = target = mac,
 * both IPs 0.0.0.0, zero padding.
 */
export function buildRarp(mac: number): Uint8Array {
  return arpFrame(BROADCAST_MAC, mac, EtherType.Rarp, {
    operation: ArpOperation.RarpRequest,
    sourceHardwareAddr: mac,
    sourceProtocolAddr: 0,
    targetHardwareAddr: mac,
    targetProtocolAddr: 0,
  });
}

interface Ipv4FrameArgs {
  srcMac: number;
  dstMac: number;
  srcIp: number;
  dstIp: number;
  ttl?: number;
  tos?: number;
  /** IPv4 identification (default 0). */
  ipId?: number;
  /** Don't Fragment bit (default true, as Linux sets with PMTU discovery). */
  dontFrag?: boolean;
}

/** Frame with Ethernet + IPv4 header for an L4 payload of `l4Len` bytes; returns buffer and L4 view. */
function ipv4Frame(a: Ipv4FrameArgs, protocol: IpProtocol, l4Len: number): { buf: Uint8Array; l4: Uint8Array } {
  const total = ETH_LEN + IPV4_LEN + l4Len;
  const buf = ethernet(total, a.srcMac, a.dstMac, EtherType.Ipv4);
  Ipv4Repr.emit(
    {
      srcAddr: a.srcIp,
      dstAddr: a.dstIp,
      protocol,
      payloadLen: l4Len,
      ttl: a.ttl ?? 64,
      tos: a.tos ?? 0,
      ident: a.ipId ?? 0,
      dontFrag: a.dontFrag ?? true,
    },
    new Ipv4Packet(buf.subarray(ETH_LEN, ETH_LEN + IPV4_LEN)),
  );
  return { buf, l4: buf.subarray(ETH_LEN + IPV4_LEN, total) };
}

type PayloadArg = { payloadLen: number; payload?: undefined } | { payload: Uint8Array; payloadLen?: undefined };

function payloadOf(a: PayloadArg): Uint8Array {
  return a.payload !== undefined ? a.payload : patternView(a.payloadLen);
}

export type IcmpEchoArgs = Ipv4FrameArgs & PayloadArg & { type: 'request' | 'reply'; id: number; seq: number };

export function buildIcmpEcho(a: IcmpEchoArgs): Uint8Array {
  const data = payloadOf(a);
  const repr: IcmpRepr = {
    type: a.type === 'request' ? IcmpType.EchoRequest : IcmpType.EchoReply,
    code: 0,
    ident: a.id,
    seqNo: a.seq,
    data,
  };
  const { buf, l4 } = ipv4Frame(a, IpProtocol.Icmp, IcmpRepr.bufferLen(repr));
  IcmpRepr.emit(repr, new IcmpPacket(l4));
  return buf;
}

export type UdpArgs = Ipv4FrameArgs & PayloadArg & { srcPort: number; dstPort: number };

export function buildUdp(a: UdpArgs): Uint8Array {
  const repr: UdpRepr = { srcPort: a.srcPort, dstPort: a.dstPort, payload: payloadOf(a) };
  const { buf, l4 } = ipv4Frame(a, IpProtocol.Udp, UdpRepr.bufferLen(repr));
  UdpRepr.emit(repr, new UdpPacket(l4), { kind: 'ipv4', src: a.srcIp, dst: a.dstIp });
  return buf;
}

/**
 * `buildUdp` for traffic generators: the payload is the counting pattern with `fill` writing
 * over its start (a sequence number, a timestamp) straight into the frame, so a datagram costs one
 * buffer, not a payload buffer and a frame. Same bytes as `buildUdp` with that payload.
 *
 * `fillLen`, when given, promises that `fill` writes only the first `fillLen` payload bytes: the
 * checksum then sums the headers and those bytes and takes the rest of the pattern from its
 * precomputed prefix sums (O(1) in the payload size, same value to the bit). This is the
 * partial-checksum split virtio's VIRTIO_NET_HDR_F_NEEDS_CSUM offload makes (the guest sums the
 * headers it wrote, the device completes the sum over the data; virtio spec 1.2 §5.1.6.2), done
 * once, at the sender, by the one party that knows the data.
 */
export function buildUdpFilled(
  a: Ipv4FrameArgs & { srcPort: number; dstPort: number; payloadLen: number; fillLen?: number },
  fill: (payload: Uint8Array) => void,
): Uint8Array {
  const len = a.payloadLen;
  const { buf, l4 } = ipv4Frame(a, IpProtocol.Udp, UDP_HEADER_LEN + len);
  const p = new UdpPacket(l4);
  p.srcPort = a.srcPort;
  p.dstPort = a.dstPort;
  p.len = UDP_HEADER_LEN + len;
  p.checksum = 0;
  l4.set(patternView(len), UDP_HEADER_LEN);
  fill(l4.subarray(UDP_HEADER_LEN, UDP_HEADER_LEN + len));
  const fl = a.fillLen;
  if (fl !== undefined && len <= PATTERN.length) {
    // Headers and the filled bytes (rounded up to a whole word), then the untouched pattern.
    const head = Math.min(len, (fl + 1) & ~1);
    let sum = sumBytes(l4, 0, UDP_HEADER_LEN + head, pseudoHeaderV4(a.srcIp, a.dstIp, IpProtocol.Udp, UDP_HEADER_LEN + len));
    sum += patternSum(head, len);
    const c = ~fold(sum) & 0xffff;
    p.checksum = c === 0 ? 0xffff : c;
  } else {
    p.fillChecksum({ kind: 'ipv4', src: a.srcIp, dst: a.dstIp });
  }
  return buf;
}

export type TcpArgs = Ipv4FrameArgs &
  Partial<PayloadArg> & {
    srcPort: number;
    dstPort: number;
    seq?: number;
    ack?: number;
    /** `TcpFlags` bits (default SYN). */
    flags?: number;
    window?: number;
  };

/** A TCP segment with a 20-byte header (no options) and the given payload (default empty). */
export function buildTcp(a: TcpArgs): Uint8Array {
  const payload = a.payload ?? patternView(a.payloadLen ?? 0);
  const repr: TcpRepr = {
    srcPort: a.srcPort,
    dstPort: a.dstPort,
    seqNumber: a.seq ?? 0,
    ackNumber: a.ack ?? 0,
    flags: a.flags ?? TcpFlags.SYN,
    windowLen: a.window ?? 65535,
    urgentAt: 0,
    options: new Uint8Array(0),
    payload,
  };
  const { buf, l4 } = ipv4Frame(a, IpProtocol.Tcp, TcpRepr.bufferLen(repr));
  TcpRepr.emit(repr, new TcpPacket(l4), { kind: 'ipv4', src: a.srcIp, dst: a.dstIp });
  return buf;
}

/** Ethernet + IPv6 + ICMPv6 frame for `repr`. */
export function buildIcmpv6(a: {
  srcMac: number;
  dstMac: number;
  srcIp6: Ipv6Words;
  dstIp6: Ipv6Words;
  hopLimit?: number;
  repr: Icmpv6Repr;
}): Uint8Array {
  const l4Len = Icmpv6Repr.bufferLen(a.repr);
  const total = ETH_LEN + IPV6_LEN + l4Len;
  const buf = ethernet(total, a.srcMac, a.dstMac, EtherType.Ipv6);
  Ipv6Repr.emit(
    {
      srcAddr: a.srcIp6,
      dstAddr: a.dstIp6,
      nextHeader: IpProtocol.Icmpv6,
      payloadLen: l4Len,
      hopLimit: a.hopLimit ?? 255,
      trafficClass: 0,
      flowLabel: 0,
    },
    new Ipv6Packet(buf.subarray(ETH_LEN, ETH_LEN + IPV6_LEN)),
  );
  Icmpv6Repr.emit(a.repr, new Icmpv6Packet(buf.subarray(ETH_LEN + IPV6_LEN, total)), a.srcIp6, a.dstIp6);
  return buf;
}

/**
 * Unsolicited Neighbor Advertisement (RFC 4861 §7.2.6) as Linux sends on `netif_notify_peers`
 * (`net/ipv6/ndisc.c` `ndisc_send_unsol_na`): to ff02::1 (MAC 33:33:00:00:00:01), hop limit 255,
 * Override set, Solicited clear, target link-layer address option = srcMac.
 * With `unsolicited: false` it is a solicited reply to ff02::1 (Solicited set).
 */
export function buildNeighborAdvertisement(a: {
  srcMac: number;
  srcIp6: Ipv6Words;
  targetIp6: Ipv6Words;
  unsolicited: boolean;
  router?: boolean;
}): Uint8Array {
  return buildIcmpv6({
    srcMac: a.srcMac,
    dstMac: ipv6MulticastMac(IPV6_ALL_NODES),
    srcIp6: a.srcIp6,
    dstIp6: IPV6_ALL_NODES,
    repr: {
      kind: 'neighbor-advert',
      router: a.router ?? false,
      solicited: !a.unsolicited,
      override: true,
      target: a.targetIp6,
      lladdr: a.srcMac,
    },
  });
}


/**
 * Neighbor Solicitation for `targetIp6` (RFC 4861 §7.2.2): to the target's solicited-node
 * multicast address (ff02::1:ffXX:XXXX, MAC 33:33:ff:XX:XX:XX), hop limit 255, with the source
 * link-layer address option, as Linux `ndisc_send_ns` sends for address resolution.
 */
export function buildNeighborSolicitation(a: { srcMac: number; srcIp6: Ipv6Words; targetIp6: Ipv6Words }): Uint8Array {
  const dst = solicitedNodeMulticast(a.targetIp6);
  return buildIcmpv6({
    srcMac: a.srcMac,
    dstMac: ipv6MulticastMac(dst),
    srcIp6: a.srcIp6,
    dstIp6: dst,
    repr: { kind: 'neighbor-solicit', target: a.targetIp6, lladdr: a.srcMac },
  });
}

/**
 * What `buildUdpStamped` writes; a sender keeps one record and refills it per datagram (no
 * argument object per frame).
 */
export interface UdpStampArgs {
  srcMac: number;
  dstMac: number;
  srcIp: number;
  dstIp: number;
  ipId: number;
  srcPort: number;
  dstPort: number;
  payloadLen: number;
  /** Written big-endian at payload[0, 4) when the payload has 4 bytes. */
  seq: number;
  /** Written as a big-endian 64-bit ns count at payload[4, 12) when the payload has 12 bytes (< 2^53). */
  sentNs: number;
}

/** The counting pattern's first `len` bytes as a view, the last one made kept (a CBR flow has one size). */
let stampView: Uint8Array = PATTERN.subarray(0, 0);

/**
 * The datagram vfab's UDP CBR sender sends (`guest/apps.ts`): exactly the bytes of
 * `buildUdpFilled` with a fill that writes `seq` and `sentNs` over the pattern and `fillLen`
 * min(len, 12) (TTL 64, TOS 0, DF set), but written field by field into one slab frame: no
 * header view objects, no payload view, no closure (this builder ran once per datagram and its
 * objects were a tenth of a UDP-heavy run). The checksum is the same split sum: headers and the
 * stamped bytes, then the untouched pattern from its prefix sums.
 */
export function buildUdpStamped(a: UdpStampArgs): Uint8Array {
  const len = a.payloadLen;
  if (len > PATTERN.length - 28) {
    const seq = a.seq;
    const sentNs = a.sentNs;
    return buildUdpFilled({ srcMac: a.srcMac, dstMac: a.dstMac, srcIp: a.srcIp, dstIp: a.dstIp, ipId: a.ipId, srcPort: a.srcPort, dstPort: a.dstPort, payloadLen: len, fillLen: Math.min(len, 12) }, (p) => stampPayload(p, 0, len, seq, sentNs));
  }
  const udpLen = UDP_HEADER_LEN + len;
  const total = IPV4_LEN + udpLen;
  const b = allocFrame(Math.max(ETH_LEN + total, MIN_FRAME_LEN));
  writeMac48(b, 0, a.dstMac);
  writeMac48(b, 6, a.srcMac);
  b[12] = 0x08;
  // b[13] = 0 (IPv4), and the slab frame is zeroed: TOS, fragment offset, checksums start at 0.
  b[14] = 0x45;
  b[16] = total >>> 8;
  b[17] = total & 0xff;
  const id = a.ipId;
  b[18] = (id >>> 8) & 0xff;
  b[19] = id & 0xff;
  b[20] = 0x40; // DF
  b[22] = 64;
  b[23] = IpProtocol.Udp;
  const src = a.srcIp;
  const dst = a.dstIp;
  put32(b, 26, src);
  put32(b, 30, dst);
  const ipc = ~fold(sumBytes(b, 14, 34)) & 0xffff;
  b[24] = ipc >>> 8;
  b[25] = ipc & 0xff;
  const sp = a.srcPort;
  const dp = a.dstPort;
  b[34] = sp >>> 8;
  b[35] = sp & 0xff;
  b[36] = dp >>> 8;
  b[37] = dp & 0xff;
  b[38] = udpLen >>> 8;
  b[39] = udpLen & 0xff;
  if (len > 0) {
    let v = stampView;
    if (v.length !== len) v = stampView = PATTERN.subarray(0, len);
    b.set(v, 42);
  }
  stampPayload(b, 42, len, a.seq, a.sentNs);
  const head = Math.min(len, 12);
  let sum = sumBytes(b, 34, 42 + head, pseudoHeaderV4(src, dst, IpProtocol.Udp, udpLen));
  sum += patternSum(head, len);
  let c = ~fold(sum) & 0xffff;
  if (c === 0) c = 0xffff;
  b[40] = c >>> 8;
  b[41] = c & 0xff;
  return b;
}

/** The CBR stamp: `seq` at [o, o+4) and `sentNs` at [o+4, o+12), where the payload has room. */
function stampPayload(b: Uint8Array, o: number, len: number, seq: number, sentNs: number): void {
  if (len >= 4) put32(b, o, seq >>> 0);
  if (len >= 12) {
    put32(b, o + 4, Math.floor(sentNs / 0x1_0000_0000));
    put32(b, o + 8, sentNs >>> 0);
  }
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** A 48-bit MAC as 6 big-endian bytes: high 16 bits and low 32 bits as integers (one division). */
function writeMac48(b: Uint8Array, o: number, mac: number): void {
  const hi = Math.floor(mac / 0x1_0000_0000);
  const lo = mac >>> 0;
  b[o] = (hi >>> 8) & 0xff;
  b[o + 1] = hi & 0xff;
  put32(b, o + 2, lo);
}
