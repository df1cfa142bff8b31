/**
 * Golden byte vectors, both ways: parse known bytes into a Repr, and emit the Repr into a zeroed
 * buffer to get the same bytes back. Component vectors (ARP, IPv4, ICMP, UDP, TCP, ICMPv6 echo)
 * are smoltcp's test vectors (`smoltcp/src/wire/{arp,ipv4,icmpv4,udp,tcp,icmpv6}.rs`), which carry
 * real checksums; frame vectors were assembled by hand from the RFC layouts and checked with tshark.
 */
import { describe, expect, it } from 'vitest';
import {
  ArpPacket,
  ArpRepr,
  buildGratuitousArp,
  buildNeighborAdvertisement,
  buildRarp,
  EthernetFrame,
  EthernetRepr,
  EtherType,
  etherType,
  IcmpPacket,
  IcmpRepr,
  Icmpv6Packet,
  Icmpv6Repr,
  IpProtocol,
  Ipv4Packet,
  Ipv4Repr,
  Ipv6Packet,
  Ipv6Repr,
  parseIpv4,
  parseIpv6,
  parseMac,
  popVlan,
  pushVlan,
  readVlanTci,
  TcpPacket,
  TcpRepr,
  UdpPacket,
  UdpRepr,
  VlanRepr,
  VlanTag,
  type PseudoHeader,
} from '../../src/wire/index.js';
import { hex, toHex } from './hex.js';
import { ok } from './ok.js';

const SMOLTCP_PH: PseudoHeader = { kind: 'ipv4', src: parseIpv4('192.168.1.1'), dst: parseIpv4('192.168.1.2') };

describe('Ethernet II golden bytes', () => {
  const bytes = hex('010203040506 111213141516 0800 aa000000000000ff');
  it('parses destination, source and ethertype', () => {
    const f = ok(EthernetFrame.checked(bytes));
    expect(EthernetRepr.parse(f)).toEqual({ dstAddr: 0x010203040506, srcAddr: 0x111213141516, etherType: EtherType.Ipv4 });
    expect(toHex(f.payload)).toBe('aa000000000000ff');
  });
  it('emits the same header', () => {
    const out = new Uint8Array(bytes.length);
    out.set(bytes.subarray(14), 14);
    EthernetRepr.emit({ dstAddr: 0x010203040506, srcAddr: 0x111213141516, etherType: EtherType.Ipv4 }, new EthernetFrame(out));
    expect(toHex(out)).toBe(toHex(bytes));
  });
  it('keeps an unknown ethertype unchanged', () => {
    const b = hex('010203040506 111213141516 88b5 00');
    const f = ok(EthernetFrame.checked(b));
    expect(f.etherType).toBe(0x88b5);
    const out = new Uint8Array(15);
    EthernetRepr.emit(EthernetRepr.parse(f), new EthernetFrame(out));
    expect(toHex(out.subarray(0, 14))).toBe(toHex(b.subarray(0, 14)));
  });
  it('reports a 13-byte frame as truncated at byte 0', () => {
    expect(EthernetFrame.checked(new Uint8Array(13))).toMatchObject({ code: 'WIRE_TRUNCATED', layer: 'ethernet', offset: 0 });
  });
});

// ARP request from 02:00:00:00:00:01 / 10.0.0.1 for 10.0.0.2, tagged VLAN 10 PCP 5.
const UNTAGGED_ARP = hex(
  'ffffffffffff 020000000001 0806 | 0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002 | ' + '00'.repeat(18),
);
const DOT1Q_ARP = hex(
  'ffffffffffff 020000000001 8100 a00a 0806 | 0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002 | ' + '00'.repeat(18),
);
// UDP 10.0.0.1:1 -> 10.0.0.2:2 in C-tag VLAN 20 inside S-tag VLAN 100 (802.1ad).
const QINQ_HEAD = 'ffffffffffff 020000000001 88a8 0064 8100 0014 0800';

describe('802.1Q and 802.1ad golden bytes', () => {
  it('reads the outermost 802.1Q tag', () => {
    expect(readVlanTci(DOT1Q_ARP)).toEqual({ tpid: 0x8100, vid: 10, pcp: 5, dei: false });
    const tag = ok(VlanTag.checked(DOT1Q_ARP.subarray(14)));
    expect(VlanRepr.parse(tag)).toEqual({ vid: 10, pcp: 5, dei: false, etherType: EtherType.Arp });
  });
  it('emits the tag through VlanRepr', () => {
    const out = new Uint8Array(4);
    VlanRepr.emit({ vid: 10, pcp: 5, dei: false, etherType: EtherType.Arp }, new VlanTag(out));
    expect(toHex(out)).toBe('a00a0806');
  });
  it('pushes and pops an 802.1Q tag byte for byte', () => {
    expect(toHex(pushVlan(UNTAGGED_ARP, { vid: 10, pcp: 5 }))).toBe(toHex(DOT1Q_ARP));
    expect(toHex(popVlan(DOT1Q_ARP))).toBe(toHex(UNTAGGED_ARP));
  });
  it('builds QinQ as push C-tag then push S-tag (0x88a8 outermost)', () => {
    const inner = hex('ffffffffffff 020000000001 0800' + '00'.repeat(46));
    const qinq = pushVlan(pushVlan(inner, { vid: 20 }), { vid: 100, tpid: 0x88a8 });
    expect(toHex(qinq.subarray(0, 22))).toBe(toHex(hex(QINQ_HEAD)));
    expect(readVlanTci(qinq)).toEqual({ tpid: 0x88a8, vid: 100, pcp: 0, dei: false });
    expect(readVlanTci(popVlan(qinq))).toEqual({ tpid: 0x8100, vid: 20, pcp: 0, dei: false });
    expect(toHex(popVlan(popVlan(qinq)))).toBe(toHex(inner));
  });
  it('keeps the DEI bit', () => {
    const f = pushVlan(UNTAGGED_ARP, { vid: 4094, pcp: 7, dei: true });
    expect(toHex(f.subarray(12, 16))).toBe('8100fffe');
    expect(readVlanTci(f)).toEqual({ tpid: 0x8100, vid: 4094, pcp: 7, dei: true });
  });
});

describe('ARP golden bytes (smoltcp arp.rs)', () => {
  const bytes = hex('0001 0800 06 04 0001 111213141516 21222324 313233343536 41424344');
  const repr = {
    operation: 1,
    sourceHardwareAddr: 0x111213141516,
    sourceProtocolAddr: 0x21222324,
    targetHardwareAddr: 0x313233343536,
    targetProtocolAddr: 0x41424344,
  };
  it('parses a request', () => {
    expect(ArpRepr.parse(ok(ArpPacket.checked(bytes)))).toEqual(repr);
  });
  it('emits the same bytes', () => {
    const out = new Uint8Array(ArpRepr.bufferLen(repr));
    ArpRepr.emit(repr, new ArpPacket(out));
    expect(toHex(out)).toBe(toHex(bytes));
  });
  it('rejects a non-Ethernet hardware type as unsupported, naming the field', () => {
    const b = bytes.slice();
    b[1] = 6;
    expect(ArpRepr.parse(ok(ArpPacket.checked(b)))).toMatchObject({ code: 'WIRE_UNSUPPORTED', layer: 'arp', field: 'htype', offset: 0 });
  });
  it('builds the gratuitous ARP Linux sends byte for byte', () => {
    const g = buildGratuitousArp({ mac: parseMac('02:00:00:00:00:01'), ip: parseIpv4('10.0.0.1') });
    expect(toHex(g)).toBe(
      toHex(hex('ffffffffffff 020000000001 0806 0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000001' + '00'.repeat(18))),
    );
  });
});

describe('RARP golden bytes (QEMU net/announce.c)', () => {
  const bytes = hex(
    'ffffffffffff 525400123456 8035 0001 0800 06 04 0003 525400123456 00000000 525400123456 00000000' + '00'.repeat(18),
  );
  it('builds the self-announce', () => {
    expect(toHex(buildRarp(0x525400123456))).toBe(toHex(bytes));
  });
  it('parses it as opcode 3 with sender = target', () => {
    const f = ok(EthernetFrame.checked(bytes));
    expect(f.etherType).toBe(EtherType.Rarp);
    const r = ok(ArpRepr.parse(ok(ArpPacket.checked(f.payload))));
    expect(r).toEqual({ operation: 3, sourceHardwareAddr: 0x525400123456, sourceProtocolAddr: 0, targetHardwareAddr: 0x525400123456, targetProtocolAddr: 0 });
  });
});

describe('IPv4 golden bytes (smoltcp ipv4.rs)', () => {
  const bytes = hex('45 00 0018 0000 4000 40 01 d279 11121314 21222324 aa0000ff');
  const repr = {
    srcAddr: 0x11121314,
    dstAddr: 0x21222324,
    protocol: IpProtocol.Icmp,
    payloadLen: 4,
    ttl: 64,
    tos: 0,
    ident: 0,
    dontFrag: true,
  };
  it('parses the header and verifies the checksum', () => {
    const p = ok(Ipv4Packet.checked(bytes));
    expect(p.verifyChecksum()).toBe(true);
    expect(p.checksum).toBe(0xd279);
    expect(Ipv4Repr.parse(p)).toEqual(repr);
    expect(toHex(p.payload)).toBe('aa0000ff');
  });
  it('emits the same header with the checksum filled in', () => {
    const out = new Uint8Array(24);
    out.set(bytes.subarray(20), 20);
    Ipv4Repr.emit(repr, new Ipv4Packet(out));
    expect(toHex(out)).toBe(toHex(bytes));
  });
  it('rejects a wrong checksum naming the checksum field at byte 10', () => {
    const b = bytes.slice();
    b[11] = b[11]! ^ 1;
    expect(Ipv4Repr.parse(ok(Ipv4Packet.checked(b)))).toMatchObject({ code: 'WIRE_CHECKSUM', layer: 'ipv4', field: 'checksum', offset: 10 });
  });
  it('reports a total length beyond the buffer as truncated', () => {
    const b = bytes.slice();
    b[3] = 0x80;
    expect(Ipv4Packet.checked(b)).toMatchObject({ code: 'WIRE_TRUNCATED', layer: 'ipv4', field: 'payload' });
  });
  it('ignores Ethernet padding after the total length', () => {
    const padded = new Uint8Array(46);
    padded.set(bytes);
    expect(toHex(ok(Ipv4Packet.checked(padded)).payload)).toBe('aa0000ff');
  });
});

describe('ICMP echo golden bytes (smoltcp icmpv4.rs)', () => {
  const bytes = hex('08 00 8efe 1234 abcd aa0000ff');
  const repr = { type: 8, code: 0, ident: 0x1234, seqNo: 0xabcd, data: hex('aa0000ff') };
  it('parses an echo request', () => {
    expect(ok(IcmpRepr.parse(ok(IcmpPacket.checked(bytes))))).toEqual(repr);
  });
  it('emits the same bytes', () => {
    const out = new Uint8Array(IcmpRepr.bufferLen(repr));
    IcmpRepr.emit(repr, new IcmpPacket(out));
    expect(toHex(out)).toBe(toHex(bytes));
  });
});

describe('UDP golden bytes (smoltcp udp.rs)', () => {
  const bytes = hex('bf00 0035 000c 124d aa0000ff');
  const repr = { srcPort: 48896, dstPort: 53, payload: hex('aa0000ff') };
  it('parses and verifies the pseudo-header checksum', () => {
    expect(ok(UdpRepr.parse(ok(UdpPacket.checked(bytes)), SMOLTCP_PH))).toEqual(repr);
  });
  it('emits the same bytes', () => {
    const out = new Uint8Array(UdpRepr.bufferLen(repr));
    UdpRepr.emit(repr, new UdpPacket(out), SMOLTCP_PH);
    expect(toHex(out)).toBe(toHex(bytes));
  });
  it('rejects a checksum computed for other addresses', () => {
    const p = ok(UdpPacket.checked(bytes));
    expect(UdpRepr.parse(p, { kind: 'ipv4', src: 1, dst: 2 })).toMatchObject({ code: 'WIRE_CHECKSUM', layer: 'udp', offset: 6 });
  });
});

describe('TCP golden bytes (smoltcp tcp.rs)', () => {
  const bytes = hex('bf00 0050 01234567 89abcdef 6035 0123 01b6 0201 03030c01 aa0000ff');
  const repr = {
    srcPort: 48896,
    dstPort: 80,
    seqNumber: 0x01234567,
    ackNumber: 0x89abcdef,
    flags: 0x035,
    windowLen: 0x0123,
    urgentAt: 0x0201,
    options: hex('03030c01'),
    payload: hex('aa0000ff'),
  };
  it('parses header, options and payload and verifies the checksum', () => {
    const p = ok(TcpPacket.checked(bytes));
    expect(p.headerLen).toBe(24);
    expect(ok(TcpRepr.parse(p, SMOLTCP_PH))).toEqual(repr);
  });
  it('emits the same bytes', () => {
    const out = new Uint8Array(TcpRepr.bufferLen(repr));
    TcpRepr.emit(repr, new TcpPacket(out), SMOLTCP_PH);
    expect(toHex(out)).toBe(toHex(bytes));
  });
});

describe('IPv6 and ICMPv6 golden bytes', () => {
  // smoltcp icmpv6.rs echo request fe80::1 -> fe80::2, wrapped in a hand-built IPv6 header.
  const ipv6 = hex('6000 0000 000c 3a 40 fe800000000000000000000000000001 fe800000000000000000000000000002');
  const echo = hex('80 00 19b3 1234 abcd aa0000ff');
  const src = parseIpv6('fe80::1');
  const dst = parseIpv6('fe80::2');
  const ip6repr = { srcAddr: src, dstAddr: dst, nextHeader: IpProtocol.Icmpv6, payloadLen: 12, hopLimit: 64, trafficClass: 0, flowLabel: 0 };
  it('parses the IPv6 header', () => {
    const b = new Uint8Array(52);
    b.set(ipv6);
    b.set(echo, 40);
    const p = ok(Ipv6Packet.checked(b));
    expect(Ipv6Repr.parse(p)).toEqual(ip6repr);
    expect(toHex(p.payload)).toBe(toHex(echo));
  });
  it('emits the same IPv6 header, including traffic class and flow label', () => {
    const out = new Uint8Array(40);
    Ipv6Repr.emit(ip6repr, new Ipv6Packet(out));
    expect(toHex(out)).toBe(toHex(ipv6));
    Ipv6Repr.emit({ ...ip6repr, trafficClass: 0xb8, flowLabel: 0xabcde }, new Ipv6Packet(out));
    expect(toHex(out.subarray(0, 4))).toBe('6b8abcde');
    expect(Ipv6Repr.parse(new Ipv6Packet(out))).toMatchObject({ trafficClass: 0xb8, flowLabel: 0xabcde });
  });
  it('parses and emits the ICMPv6 echo request with its pseudo-header checksum', () => {
    const repr = ok(Icmpv6Repr.parse(ok(Icmpv6Packet.checked(echo)), src, dst));
    expect(repr).toEqual({ kind: 'echo-request', ident: 0x1234, seqNo: 0xabcd, data: hex('aa0000ff') });
    const out = new Uint8Array(Icmpv6Repr.bufferLen(repr));
    Icmpv6Repr.emit(repr, new Icmpv6Packet(out), src, dst);
    expect(toHex(out)).toBe(toHex(echo));
  });

  // Unsolicited NA from 02:00:00:00:00:01 for fd00::1 (tshark: icmpv6.checksum 0x5a9b, status good).
  const NA = hex(
    '333300000001 020000000001 86dd | 6000 0000 0020 3a ff fd000000000000000000000000000001 ff020000000000000000000000000001 | ' +
      '88 00 5a9b 20000000 fd000000000000000000000000000001 02 01 020000000001',
  );
  it('builds the unsolicited neighbor advertisement byte for byte', () => {
    const fd00 = parseIpv6('fd00::1');
    expect(toHex(buildNeighborAdvertisement({ srcMac: 0x020000000001, srcIp6: fd00, targetIp6: fd00, unsolicited: true }))).toBe(toHex(NA));
  });
  it('parses the neighbor advertisement with its target link-layer option', () => {
    const ip = ok(Ipv6Packet.checked(NA.subarray(14)));
    const r = ok(Icmpv6Repr.parse(ok(Icmpv6Packet.checked(ip.payload)), ip.srcAddr, ip.dstAddr));
    expect(r).toEqual({ kind: 'neighbor-advert', router: false, solicited: false, override: true, target: parseIpv6('fd00::1'), lladdr: 0x020000000001 });
  });
  it('round-trips a neighbor solicitation and an unknown ICMPv6 type', () => {
    for (const repr of [
      { kind: 'neighbor-solicit', target: parseIpv6('fd00::2'), lladdr: 0x020000000001 },
      { kind: 'neighbor-solicit', target: parseIpv6('fd00::2'), lladdr: null },
      { kind: 'other', type: 200, code: 7, body: hex('0102030405') },
    ] as const) {
      const out = new Uint8Array(Icmpv6Repr.bufferLen(repr));
      Icmpv6Repr.emit(repr, new Icmpv6Packet(out), src, dst);
      expect(ok(Icmpv6Repr.parse(ok(Icmpv6Packet.checked(out)), src, dst))).toEqual(repr);
    }
  });
});

describe('branded numbers', () => {
  it('keep unknown ethertypes and protocols as plain values', () => {
    expect(etherType(0x1234)).toBe(0x1234);
    expect(IpProtocol.Udp).toBe(17);
  });
});
