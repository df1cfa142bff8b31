import { describe, expect, it } from 'vitest';
import {
  ArpPacket,
  ArpRepr,
  buildArpReply,
  buildArpRequest,
  buildGratuitousArp,
  buildIcmpEcho,
  buildNeighborAdvertisement,
  buildRarp,
  buildTcp,
  buildUdp,
  EthernetFrame,
  extractFlowKey,
  IcmpPacket,
  IcmpRepr,
  Icmpv6Packet,
  Icmpv6Repr,
  Ipv4Packet,
  Ipv4Repr,
  Ipv6Packet,
  parseIpv4,
  parseIpv6,
  parseMac,
  TcpPacket,
  TcpRepr,
  UdpPacket,
  UdpRepr,
} from '../../src/wire/index.js';
import { ok } from './ok.js';

const MAC1 = parseMac('02:00:00:00:00:01');
const MAC2 = parseMac('02:00:00:00:00:02');
const IP1 = parseIpv4('10.0.0.1');
const IP2 = parseIpv4('10.0.0.2');


describe('frame builders', () => {
  it('builds an ARP request that parses back to the same fields, padded to 60 bytes', () => {
    const f = buildArpRequest({ srcMac: MAC1, srcIp: IP1, dstIp: IP2 });
    expect(f.length).toBe(60);
    const eth = ok(EthernetFrame.checked(f));
    expect(eth.dstAddr).toBe(0xffffffffffff);
    expect(eth.etherType).toBe(0x0806);
    const arp = ok(ArpRepr.parse(ok(ArpPacket.checked(eth.payload))));
    expect(arp).toEqual({ operation: 1, sourceHardwareAddr: MAC1, sourceProtocolAddr: IP1, targetHardwareAddr: 0, targetProtocolAddr: IP2 });
  });

  it('builds an ARP reply addressed to the requester', () => {
    const f = buildArpReply({ srcMac: MAC2, srcIp: IP2, dstMac: MAC1, dstIp: IP1 });
    const k = ok(extractFlowKey(f));
    expect([k.dlDst, k.dlSrc, k.nwProto, k.nwSrc, k.nwDst, k.arpSha, k.arpTha]).toEqual([MAC1, MAC2, 2, IP2, IP1, MAC2, MAC1]);
  });

  it('builds a gratuitous ARP with SPA = TPA and THA = 0', () => {
    const k = ok(extractFlowKey(buildGratuitousArp({ mac: MAC1, ip: IP1 })));
    expect([k.dlDst, k.nwProto, k.nwSrc, k.nwDst, k.arpTha]).toEqual([0xffffffffffff, 1, IP1, IP1, 0]);
  });

  it('builds the QEMU RARP announce byte for byte', () => {
    const f = buildRarp(MAC1);
    const hex = Buffer.from(f).toString('hex');
    expect(hex).toBe(
      'ffffffffffff' + '020000000001' + '8035' + '0001' + '0800' + '06' + '04' + '0003' +
        '020000000001' + '00000000' + '020000000001' + '00000000' + '00'.repeat(18),
    );
  });

  it('builds an ICMP echo request with valid IPv4 and ICMP checksums', () => {
    const f = buildIcmpEcho({ type: 'request', srcMac: MAC1, dstMac: MAC2, srcIp: IP1, dstIp: IP2, id: 7, seq: 3, payloadLen: 56 });
    expect(f.length).toBe(14 + 20 + 8 + 56);
    const ip = ok(Ipv4Packet.checked(f.subarray(14)));
    const ipr = ok(Ipv4Repr.parse(ip));
    expect(ipr.protocol).toBe(1);
    const icmp = ok(IcmpRepr.parse(ok(IcmpPacket.checked(ip.payload))));
    expect([icmp.type, icmp.ident, icmp.seqNo, icmp.data.length, icmp.data[55]]).toEqual([8, 7, 3, 56, 55]);
  });

  it('builds UDP with a valid pseudo-header checksum and pads short frames', () => {
    const f = buildUdp({ srcMac: MAC1, dstMac: MAC2, srcIp: IP1, dstIp: IP2, srcPort: 1234, dstPort: 5001, payloadLen: 4 });
    expect(f.length).toBe(60);
    const ip = ok(Ipv4Packet.checked(f.subarray(14)));
    const u = ok(UdpRepr.parse(ok(UdpPacket.checked(ip.payload)), { kind: 'ipv4', src: IP1, dst: IP2 }));
    expect(Array.from(u.payload)).toEqual([0, 1, 2, 3]);
  });

  it('builds TCP with a valid checksum', () => {
    const f = buildTcp({ srcMac: MAC1, dstMac: MAC2, srcIp: IP1, dstIp: IP2, srcPort: 40000, dstPort: 80, seq: 1, payloadLen: 10 });
    const ip = ok(Ipv4Packet.checked(f.subarray(14)));
    const t = ok(TcpRepr.parse(ok(TcpPacket.checked(ip.payload)), { kind: 'ipv4', src: IP1, dst: IP2 }));
    expect([t.srcPort, t.dstPort, t.seqNumber, t.flags, t.payload.length]).toEqual([40000, 80, 1, 2, 10]);
  });

  it('builds an unsolicited neighbor advertisement to ff02::1 with override set', () => {
    const src = parseIpv6('fd00::1');
    const f = buildNeighborAdvertisement({ srcMac: MAC1, srcIp6: src, targetIp6: src, unsolicited: true });
    const ip6 = ok(Ipv6Packet.checked(f.subarray(14)));
    const na = ok(Icmpv6Repr.parse(ok(Icmpv6Packet.checked(ip6.payload)), ip6.srcAddr, ip6.dstAddr));
    expect(na).toEqual({ kind: 'neighbor-advert', router: false, solicited: false, override: true, target: src, lladdr: MAC1 });
    const k = ok(extractFlowKey(f));
    expect([k.dlType, k.nwProto, k.tpSrc, k.tpDst, k.dlDst]).toEqual([0x86dd, 58, 136, 0, 0x333300000001]);
  });
});
