/** Test helper: walks every layer of a frame with the public parsers, as a guest stack would. */
import {
  ArpPacket,
  ArpRepr,
  EthernetFrame,
  IcmpPacket,
  IcmpRepr,
  Icmpv6Packet,
  Icmpv6Repr,
  innerEtherTypeOffset,
  Ipv4Packet,
  Ipv4Repr,
  Ipv6Packet,
  Ipv6Repr,
  isWireError,
  TcpPacket,
  TcpRepr,
  UdpPacket,
  UdpRepr,
  type WireError,
} from '../../src/wire/index.js';

export interface Layers {
  etherType: number;
  arp?: ArpRepr;
  ipv4?: Ipv4Repr;
  ipv6?: Ipv6Repr;
  icmp?: IcmpRepr;
  icmpv6?: Icmpv6Repr;
  udp?: UdpRepr;
  tcp?: TcpRepr;
}

export function parseLayers(frame: Uint8Array): Layers | WireError {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth)) return eth;
  const off = innerEtherTypeOffset(frame);
  if (isWireError(off)) return off;
  const etherType = (frame[off]! << 8) | frame[off + 1]!;
  const l3 = frame.subarray(off + 2);
  const out: Layers = { etherType };
  if (etherType === 0x0806 || etherType === 0x8035) {
    const p = ArpPacket.checked(l3);
    if (isWireError(p)) return p;
    const r = ArpRepr.parse(p);
    if (isWireError(r)) return r;
    out.arp = r;
  } else if (etherType === 0x0800) {
    const p = Ipv4Packet.checked(l3);
    if (isWireError(p)) return p;
    const r = Ipv4Repr.parse(p);
    if (isWireError(r)) return r;
    out.ipv4 = r;
    const ph = { kind: 'ipv4', src: r.srcAddr, dst: r.dstAddr } as const;
    const l4 = p.payload;
    if (r.protocol === 1) {
      const q = IcmpPacket.checked(l4);
      if (isWireError(q)) return q;
      const x = IcmpRepr.parse(q);
      if (isWireError(x)) return x;
      out.icmp = x;
    } else if (r.protocol === 17) {
      const q = UdpPacket.checked(l4);
      if (isWireError(q)) return q;
      const x = UdpRepr.parse(q, ph);
      if (isWireError(x)) return x;
      out.udp = x;
    } else if (r.protocol === 6) {
      const q = TcpPacket.checked(l4);
      if (isWireError(q)) return q;
      const x = TcpRepr.parse(q, ph);
      if (isWireError(x)) return x;
      out.tcp = x;
    }
  } else if (etherType === 0x86dd) {
    const p = Ipv6Packet.checked(l3);
    if (isWireError(p)) return p;
    const r = Ipv6Repr.parse(p);
    out.ipv6 = r;
    if (r.nextHeader === 58) {
      const q = Icmpv6Packet.checked(p.payload);
      if (isWireError(q)) return q;
      const x = Icmpv6Repr.parse(q, r.srcAddr, r.dstAddr);
      if (isWireError(x)) return x;
      out.icmpv6 = x;
    } else if (r.nextHeader === 17) {
      const q = UdpPacket.checked(p.payload);
      if (isWireError(q)) return q;
      const x = UdpRepr.parse(q, { kind: 'ipv6', src: r.srcAddr, dst: r.dstAddr });
      if (isWireError(x)) return x;
      out.udp = x;
    }
  }
  return out;
}
