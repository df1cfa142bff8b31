/**
 * Property tests: parsers of untrusted bytes never throw (random bytes, mutated and truncated
 * valid frames), and builders/Reprs round-trip through the parsers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ArpPacket,
  ArpRepr,
  buildArpReply,
  buildArpRequest,
  buildGratuitousArp,
  buildIcmpEcho,
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  buildRarp,
  buildTcp,
  buildUdp,
  emptyFlowKey,
  EthernetFrame,
  extractFlowKey,
  formatIpv4,
  formatIpv6,
  formatMac,
  IcmpPacket,
  IcmpRepr,
  Icmpv6Packet,
  Icmpv6Repr,
  Ipv4Packet,
  Ipv4Repr,
  Ipv6Packet,
  isWireError,
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
  VlanTag,
  type Ipv6Words,
} from '../../src/wire/index.js';
import { parseLayers } from './layers.js';
import { ok } from './ok.js';

const RUNS = 300;
const mac = fc.integer({ min: 0, max: 2 ** 48 - 1 });
const unicastMac = mac.map((m) => m - (Math.floor(m / 2 ** 40) & 1) * 2 ** 40);
const ip4 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const port = fc.integer({ min: 1, max: 0xffff });
const word = fc.integer({ min: 0, max: 0xffffffff });
const ip6 = fc.tuple(word, word, word, word) as fc.Arbitrary<Ipv6Words>;
const payload = fc.uint8Array({ maxLength: 300 });

/** Every parser entry point on `bytes`; throws only if one of them throws. */
function parseEverything(bytes: Uint8Array): void {
  extractFlowKey(bytes);
  parseLayers(bytes);
  readVlanTci(bytes);
  popVlan(bytes);
  EthernetFrame.checked(bytes);
  VlanTag.checked(bytes);
  const arp = ArpPacket.checked(bytes);
  if (!isWireError(arp)) ArpRepr.parse(arp);
  const v4 = Ipv4Packet.checked(bytes);
  if (!isWireError(v4)) {
    Ipv4Repr.parse(v4);
    expect(() => v4.payload).not.toThrow();
  }
  const icmp = IcmpPacket.checked(bytes);
  if (!isWireError(icmp)) IcmpRepr.parse(icmp);
  const ph = { kind: 'ipv4', src: 1, dst: 2 } as const;
  const udp = UdpPacket.checked(bytes);
  if (!isWireError(udp)) UdpRepr.parse(udp, ph);
  const tcp = TcpPacket.checked(bytes);
  if (!isWireError(tcp)) TcpRepr.parse(tcp, ph);
  const v6 = Ipv6Packet.checked(bytes);
  if (!isWireError(v6)) expect(() => v6.payload).not.toThrow();
  const i6 = Icmpv6Packet.checked(bytes);
  if (!isWireError(i6)) Icmpv6Repr.parse(i6, [0, 0, 0, 1], [0, 0, 0, 2], { verifyChecksum: false });
}

const validFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.record({ srcMac: unicastMac, srcIp: ip4, dstIp: ip4 }).map(buildArpRequest),
  fc.record({ srcMac: unicastMac, srcIp: ip4, dstMac: unicastMac, dstIp: ip4 }).map(buildArpReply),
  fc.record({ mac: unicastMac, ip: ip4 }).map(buildGratuitousArp),
  unicastMac.map(buildRarp),
  fc
    .record({ srcMac: unicastMac, dstMac: unicastMac, srcIp: ip4, dstIp: ip4, id: u16, seq: u16, payloadLen: fc.nat(200), reply: fc.boolean() })
    .map((a) => buildIcmpEcho({ ...a, type: a.reply ? 'reply' : 'request' })),
  fc
    .record({ srcMac: unicastMac, dstMac: unicastMac, srcIp: ip4, dstIp: ip4, srcPort: port, dstPort: port, payload })
    .map((a) => buildUdp(a)),
  fc
    .record({ srcMac: unicastMac, dstMac: unicastMac, srcIp: ip4, dstIp: ip4, srcPort: port, dstPort: port, payload })
    .map((a) => buildTcp(a)),
  fc.record({ srcMac: unicastMac, srcIp6: ip6, targetIp6: ip6, unsolicited: fc.boolean() }).map(buildNeighborAdvertisement),
  fc.record({ srcMac: unicastMac, srcIp6: ip6, targetIp6: ip6 }).map(buildNeighborSolicitation),
);

const tagged: fc.Arbitrary<Uint8Array> = fc
  .tuple(validFrame, fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 7 }))
  .map(([f, n, vid, pcp]) => {
    let out = f;
    if (n >= 1) out = pushVlan(out, { vid, pcp });
    if (n >= 2) out = pushVlan(out, { vid: (vid + 1) & 0xfff, tpid: 0x88a8 });
    return out;
  });

describe('parsers never throw', () => {
  it('on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        parseEverything(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('on valid frames with random byte mutations and truncations', () => {
    fc.assert(
      fc.property(
        tagged,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        (frame, edits, cut) => {
          const b = frame.slice();
          for (const [i, v] of edits) b[i % b.length] = v;
          parseEverything(b);
          parseEverything(b.subarray(0, cut % (b.length + 1)));
          // Each sub-layer view too, at every offset a header could start.
          for (const off of [12, 14, 16, 18, 22, 34, 38, 42, 54]) parseEverything(b.subarray(Math.min(off, b.length)));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('and any cut inside the headers gives a WireError at an offset inside the cut; cuts in padding do not', () => {
    fc.assert(
      fc.property(tagged, fc.nat(), (frame, n) => {
        const k = ok(extractFlowKey(frame));
        // End of the last header the extractor reads, and end of the IP datagram / ARP packet.
        let headerEnd: number;
        let dataEnd: number;
        if (k.dlType === 0x0806 || k.dlType === 0x8035) {
          headerEnd = dataEnd = k.l3Offset + 28;
        } else {
          const l4Len = k.nwProto === 6 ? 20 : k.nwProto === 17 ? 8 : 4;
          headerEnd = k.l4Offset + l4Len;
          dataEnd = k.dlType === 0x0800
            ? k.l3Offset + ((frame[k.l3Offset + 2]! << 8) | frame[k.l3Offset + 3]!)
            : k.l3Offset + 40 + ((frame[k.l3Offset + 4]! << 8) | frame[k.l3Offset + 5]!);
        }
        const cut = n % headerEnd;
        const r = extractFlowKey(frame.subarray(0, cut));
        expect(isWireError(r)).toBe(true);
        if (isWireError(r)) expect(r.offset).toBeLessThanOrEqual(cut);
        // Cutting only Ethernet padding changes nothing.
        const keep = dataEnd + (n % (frame.length - dataEnd + 1));
        expect(ok(extractFlowKey(frame.subarray(0, keep)))).toEqual(k);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('builders round-trip through the parsers', () => {
  it('UDP: every field comes back, checksums verify, tags are transparent', () => {
    fc.assert(
      fc.property(
        fc.record({ srcMac: unicastMac, dstMac: unicastMac, srcIp: ip4, dstIp: ip4, srcPort: port, dstPort: port, payload, ttl: fc.integer({ min: 1, max: 255 }), tos: fc.integer({ min: 0, max: 255 }) }),
        fc.option(fc.integer({ min: 1, max: 4094 })),
        (a, vid) => {
          const raw = buildUdp(a);
          expect(raw.length).toBeGreaterThanOrEqual(60);
          const f = vid === null ? raw : pushVlan(raw, { vid });
          const l = ok(parseLayers(f));
          expect(l.ipv4).toMatchObject({ srcAddr: a.srcIp, dstAddr: a.dstIp, protocol: 17, ttl: a.ttl, tos: a.tos, payloadLen: 8 + a.payload.length });
          expect(l.udp?.srcPort).toBe(a.srcPort);
          expect(l.udp?.dstPort).toBe(a.dstPort);
          expect(Array.from(l.udp?.payload ?? [])).toEqual(Array.from(a.payload));
          const k = ok(extractFlowKey(f));
          expect([k.dlSrc, k.dlDst, k.dlType, k.nwSrc, k.nwDst, k.nwProto, k.nwTos, k.nwTtl, k.tpSrc, k.tpDst]).toEqual([
            a.srcMac, a.dstMac, 0x0800, a.srcIp, a.dstIp, 17, a.tos, a.ttl, a.srcPort, a.dstPort,
          ]);
          expect(k.vlanTci).toBe(vid === null ? 0 : 0x1000 | vid);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('ICMP echo, TCP and ARP frames parse back to their arguments', () => {
    fc.assert(
      fc.property(unicastMac, unicastMac, ip4, ip4, u16, u16, fc.nat(300), (m1, m2, i1, i2, id, seq, n) => {
        const e = ok(parseLayers(buildIcmpEcho({ type: 'reply', srcMac: m1, dstMac: m2, srcIp: i1, dstIp: i2, id, seq, payloadLen: n })));
        expect(e.icmp).toMatchObject({ type: 0, code: 0, ident: id, seqNo: seq });
        expect(e.icmp?.data.length).toBe(n);
        const t = ok(parseLayers(buildTcp({ srcMac: m1, dstMac: m2, srcIp: i1, dstIp: i2, srcPort: id || 1, dstPort: seq || 1, seq: n, ack: id, flags: 0x18, payloadLen: n })));
        expect(t.tcp).toMatchObject({ srcPort: id || 1, dstPort: seq || 1, seqNumber: n, ackNumber: id, flags: 0x18 });
        const r = ok(parseLayers(buildArpReply({ srcMac: m1, srcIp: i1, dstMac: m2, dstIp: i2 })));
        expect(r.arp).toEqual({ operation: 2, sourceHardwareAddr: m1, sourceProtocolAddr: i1, targetHardwareAddr: m2, targetProtocolAddr: i2 });
      }),
      { numRuns: RUNS },
    );
  });

  it('neighbor advertisements parse back with a valid ICMPv6 checksum', () => {
    fc.assert(
      fc.property(unicastMac, ip6, ip6, fc.boolean(), (m, src, target, unsolicited) => {
        const l = ok(parseLayers(buildNeighborAdvertisement({ srcMac: m, srcIp6: src, targetIp6: target, unsolicited })));
        expect(l.icmpv6).toEqual({ kind: 'neighbor-advert', router: false, solicited: !unsolicited, override: true, target, lladdr: m });
        expect(l.ipv6?.hopLimit).toBe(255);
      }),
      { numRuns: RUNS },
    );
  });

  it('push then pop a VLAN tag gives the original frame', () => {
    fc.assert(
      fc.property(validFrame, fc.integer({ min: 0, max: 4095 }), fc.constantFrom(0x8100, 0x88a8), (f, vid, tpid) => {
        expect(Array.from(popVlan(pushVlan(f, { vid, tpid })))).toEqual(Array.from(f));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('Reprs round-trip emit → parse', () => {
  it('for IPv4, ICMP, UDP and TCP', () => {
    fc.assert(
      fc.property(ip4, ip4, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), u16, fc.boolean(), payload, (src, dst, ttl, tos, ident, df, data) => {
        const ip = { srcAddr: src, dstAddr: dst, protocol: 17 as Ipv4Repr['protocol'], payloadLen: data.length, ttl, tos, ident, dontFrag: df };
        const b = new Uint8Array(20 + data.length);
        Ipv4Repr.emit(ip, new Ipv4Packet(b));
        expect(ok(Ipv4Repr.parse(ok(Ipv4Packet.checked(b))))).toEqual(ip);

        const icmp = { type: 8, code: 0, ident, seqNo: ttl, data };
        const ib = new Uint8Array(IcmpRepr.bufferLen(icmp));
        IcmpRepr.emit(icmp, new IcmpPacket(ib));
        expect(ok(IcmpRepr.parse(ok(IcmpPacket.checked(ib))))).toEqual(icmp);

        const ph = { kind: 'ipv4', src, dst } as const;
        const udp = { srcPort: ident, dstPort: ttl + 1, payload: data };
        const ub = new Uint8Array(UdpRepr.bufferLen(udp));
        UdpRepr.emit(udp, new UdpPacket(ub), ph);
        expect(ok(UdpRepr.parse(ok(UdpPacket.checked(ub)), ph))).toEqual(udp);

        const tcp = { srcPort: ttl + 1, dstPort: ident || 1, seqNumber: src, ackNumber: dst, flags: tos, windowLen: ident, urgentAt: 0, options: new Uint8Array(0), payload: data };
        const tb = new Uint8Array(TcpRepr.bufferLen(tcp));
        TcpRepr.emit(tcp, new TcpPacket(tb), ph);
        expect(ok(TcpRepr.parse(ok(TcpPacket.checked(tb)), ph))).toEqual(tcp);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('address text', () => {
  it('MACs round-trip through text', () => {
    fc.assert(fc.property(mac, (m) => {
      expect(parseMac(formatMac(m))).toBe(m);
    }), { numRuns: RUNS });
  });
  it('IPv4 round-trips through text', () => {
    fc.assert(fc.property(ip4, (a) => {
      expect(parseIpv4(formatIpv4(a))).toBe(a);
    }), { numRuns: RUNS });
  });
  it('IPv6 round-trips through text (with zero runs to compress)', () => {
    const w = fc.oneof(word, fc.constant(0));
    fc.assert(
      fc.property(fc.tuple(w, w, w, w), (a) => {
        expect(parseIpv6(formatIpv6(a))).toEqual(a);
      }),
      { numRuns: RUNS },
    );
  });
  it('IPv6 text is the RFC 5952 canonical form (as WHATWG URL serializes it)', () => {
    const w = fc.oneof(word, fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.tuple(w, w, w, w), (a) => {
        const s = formatIpv6(a);
        expect(`[${s}]`).toBe(new URL(`http://[${s}]/`).hostname);
      }),
      { numRuns: RUNS },
    );
  });
  it('extractFlowKey reuses the key it is given', () => {
    const key = emptyFlowKey();
    const src6 = key.ipv6Src;
    key.inPort = 7;
    const r = extractFlowKey(buildNeighborAdvertisement({ srcMac: 2, srcIp6: [1, 2, 3, 4], targetIp6: [1, 2, 3, 4], unsolicited: true }), key);
    expect(r).toBe(key);
    expect(key.ipv6Src).toBe(src6);
    expect(key.ipv6Src).toEqual([1, 2, 3, 4]);
    expect(key.inPort).toBe(7);
  });
});
