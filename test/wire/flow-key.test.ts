/** Flow-key extraction with OVS semantics (lib/flow.c miniflow_extract). */
import { describe, expect, it } from 'vitest';
import {
  buildArpReply,
  buildGratuitousArp,
  buildIcmpEcho,
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  buildRarp,
  buildTcp,
  buildUdp,
  emptyFlowKey,
  extractFlowKey,
  isWireError,
  parseIpv4,
  parseIpv6,
  parseMac,
  pushVlan,
  TcpFlags,
} from '../../src/wire/index.js';
import { hex } from './hex.js';
import { ok } from './ok.js';

const M1 = parseMac('02:00:00:00:00:01');
const M2 = parseMac('02:00:00:00:00:02');
const A = parseIpv4('10.0.0.1');
const B = parseIpv4('10.0.0.2');
const udp = (): Uint8Array => buildUdp({ srcMac: M1, dstMac: M2, srcIp: A, dstIp: B, srcPort: 40000, dstPort: 5001, payloadLen: 100, tos: 0xb8, ttl: 17 });

describe('extractFlowKey', () => {
  it('fills L2, L3 and L4 fields of a UDP frame with their offsets', () => {
    const k = ok(extractFlowKey(udp()));
    expect(k).toMatchObject({
      dlSrc: M1, dlDst: M2, dlType: 0x0800, vlanTci: 0, vlanOuterTpid: 0,
      nwSrc: A, nwDst: B, nwProto: 17, nwTos: 0xb8, nwTtl: 17, tpSrc: 40000, tpDst: 5001,
      arpSha: 0, arpTha: 0, l3Offset: 14, l4Offset: 34,
    });
  });

  it('puts the TCP ports in tpSrc/tpDst', () => {
    const k = ok(extractFlowKey(buildTcp({ srcMac: M1, dstMac: M2, srcIp: A, dstIp: B, srcPort: 1234, dstPort: 80, flags: TcpFlags.SYN })));
    expect([k.nwProto, k.tpSrc, k.tpDst]).toEqual([6, 1234, 80]);
  });

  it('puts the ICMP type and code in tpSrc/tpDst', () => {
    const req = ok(extractFlowKey(buildIcmpEcho({ type: 'request', srcMac: M1, dstMac: M2, srcIp: A, dstIp: B, id: 1, seq: 2, payloadLen: 8 })));
    expect([req.nwProto, req.tpSrc, req.tpDst]).toEqual([1, 8, 0]);
    // Destination unreachable, port unreachable (type 3 code 3), hand-built.
    const unreach = buildIcmpEcho({ type: 'reply', srcMac: M1, dstMac: M2, srcIp: A, dstIp: B, id: 0, seq: 0, payloadLen: 8 });
    unreach[34] = 3;
    unreach[35] = 3;
    expect([ok(extractFlowKey(unreach)).tpSrc, ok(extractFlowKey(unreach)).tpDst]).toEqual([3, 3]);
  });

  it('fills the ARP fields: opcode in nwProto, SPA/TPA in nwSrc/nwDst, SHA/THA', () => {
    const k = ok(extractFlowKey(buildArpReply({ srcMac: M2, srcIp: B, dstMac: M1, dstIp: A })));
    expect(k).toMatchObject({ dlType: 0x0806, nwProto: 2, nwSrc: B, nwDst: A, arpSha: M2, arpTha: M1, l3Offset: 14, l4Offset: -1, tpSrc: 0 });
    const g = ok(extractFlowKey(buildGratuitousArp({ mac: M1, ip: A })));
    expect([g.nwProto, g.nwSrc, g.nwDst, g.arpSha, g.arpTha]).toEqual([1, A, A, M1, 0]);
  });

  it('treats RARP like ARP (dlType 0x8035, opcode 3)', () => {
    const k = ok(extractFlowKey(buildRarp(M1)));
    expect([k.dlType, k.nwProto, k.arpSha, k.arpTha, k.nwSrc, k.nwDst]).toEqual([0x8035, 3, M1, M1, 0, 0]);
  });

  it('leaves ARP fields 0 for non-Ethernet/IPv4 ARP, as OVS does', () => {
    const f = buildArpReply({ srcMac: M2, srcIp: B, dstMac: M1, dstIp: A });
    f[19] = 16; // plen 16
    const k = ok(extractFlowKey(f));
    expect([k.dlType, k.nwProto, k.nwSrc, k.arpSha]).toEqual([0x0806, 0, 0, 0]);
  });

  it('sets vlanTci = 0x1000 | pcp << 13 | vid for an 802.1Q frame and skips the tag', () => {
    const k = ok(extractFlowKey(pushVlan(udp(), { vid: 10, pcp: 5 })));
    expect([k.vlanTci, k.vlanOuterTpid, k.dlType, k.tpDst, k.l3Offset, k.l4Offset]).toEqual([0x1000 | (5 << 13) | 10, 0, 0x0800, 5001, 18, 38]);
  });

  it('drops the DEI bit into the present bit, as OVS vlan_tci does', () => {
    expect(ok(extractFlowKey(pushVlan(udp(), { vid: 10, dei: true }))).vlanTci).toBe(0x100a);
  });

  it('takes the outer tag of a QinQ frame and records the 802.1ad TPID', () => {
    const k = ok(extractFlowKey(pushVlan(pushVlan(udp(), { vid: 20, pcp: 1 }), { vid: 100, pcp: 3, tpid: 0x88a8 })));
    expect([k.vlanTci, k.vlanOuterTpid, k.dlType, k.nwSrc, k.tpSrc, k.l3Offset]).toEqual([0x1000 | (3 << 13) | 100, 0x88a8, 0x0800, A, 40000, 22]);
  });

  it('stops after two tags, leaving the third TPID as dlType (FLOW_MAX_VLAN_HEADERS = 2)', () => {
    const k = ok(extractFlowKey(pushVlan(pushVlan(pushVlan(udp(), { vid: 1 }), { vid: 2 }), { vid: 3, tpid: 0x88a8 })));
    expect([k.vlanTci & 0xfff, k.dlType, k.nwSrc, k.l3Offset]).toEqual([3, 0x8100, 0, 22]);
  });

  it('gives dlType 0x05ff for an 802.3 length-field frame', () => {
    const f = hex('0180c2000000 020000000001 0026 424203 0000' + '00'.repeat(42));
    const k = ok(extractFlowKey(f));
    expect([k.dlType, k.l3Offset]).toEqual([0x05ff, -1]);
  });

  it('follows LLC/SNAP to the encapsulated ethertype', () => {
    const f = hex('ffffffffffff 020000000001 0030 aaaa03 000000 0806' + '00'.repeat(46));
    expect(ok(extractFlowKey(f)).dlType).toBe(0x0806);
  });

  it('extracts IPv6 addresses, hop limit, class and ICMPv6 type/code of a neighbor advertisement', () => {
    const src = parseIpv6('fd00::1');
    const k = ok(extractFlowKey(buildNeighborAdvertisement({ srcMac: M1, srcIp6: src, targetIp6: src, unsolicited: true })));
    expect(k).toMatchObject({ dlType: 0x86dd, nwProto: 58, nwTtl: 255, nwTos: 0, tpSrc: 136, tpDst: 0, l3Offset: 14, l4Offset: 54 });
    expect(k.ipv6Src).toEqual(src);
    expect(k.ipv6Dst).toEqual(parseIpv6('ff02::1'));
  });

  it('gives a neighbor solicitation type 135 code 0 to the solicited-node group', () => {
    const k = ok(extractFlowKey(buildNeighborSolicitation({ srcMac: M1, srcIp6: parseIpv6('fd00::1'), targetIp6: parseIpv6('fd00::abcd:1234') })));
    expect([k.tpSrc, k.tpDst, k.dlDst]).toEqual([135, 0, 0x3333ffcd1234]);
    expect(k.ipv6Dst).toEqual(parseIpv6('ff02::1:ffcd:1234'));
  });

  it('fills OVS nd_target and nd_sll for a solicitation, nd_target and nd_tll for an advertisement', () => {
    const ns = ok(extractFlowKey(buildNeighborSolicitation({ srcMac: M1, srcIp6: parseIpv6('fd00::1'), targetIp6: parseIpv6('fd00::2') })));
    expect([ns.ndTarget, ns.ndSll, ns.ndTll]).toEqual([parseIpv6('fd00::2'), M1, 0]);
    const na = ok(extractFlowKey(buildNeighborAdvertisement({ srcMac: M2, srcIp6: parseIpv6('fd00::2'), targetIp6: parseIpv6('fd00::2'), unsolicited: true })));
    expect([na.ndTarget, na.ndSll, na.ndTll]).toEqual([parseIpv6('fd00::2'), 0, M2]);
  });

  it('clears the ND fields when an option has length 0, keeping the rest of the key', () => {
    const f = buildNeighborSolicitation({ srcMac: M1, srcIp6: parseIpv6('fd00::1'), targetIp6: parseIpv6('fd00::2') });
    f[14 + 40 + 24 + 1] = 0; // option length 0 (checksum is not verified by flow extraction)
    const k = ok(extractFlowKey(f));
    expect([k.ndTarget, k.ndSll, k.tpSrc]).toEqual([[0, 0, 0, 0], 0, 135]);
  });

  it('marks IPv4 fragments in nwFrag: first fragment 1 (ports kept), later fragment 3', () => {
    const first = udp();
    first[20] = 0x20; // MF, offset 0
    expect([ok(extractFlowKey(first)).nwFrag, ok(extractFlowKey(first)).tpDst]).toEqual([1, 5001]);
    const later = udp();
    later[21] = 0x10;
    expect(ok(extractFlowKey(later)).nwFrag).toBe(3);
    expect(ok(extractFlowKey(udp())).nwFrag).toBe(0);
  });

  it('marks a later IPv6 fragment and takes nwProto from the fragment header', () => {
    // IPv6 (next header 44) + fragment header (next 17, offset 8 bytes -> 0x0008, M=0).
    const f = hex(
      '333300000001 020000000001 86dd 60000000000c2c40 fe800000000000000000000000000001 ff020000000000000000000000000001' +
        '11 00 0008 00000001 | 00000000',
    );
    const k = ok(extractFlowKey(f));
    expect([k.nwFrag, k.nwProto, k.tpSrc, k.l4Offset]).toEqual([3, 17, 0, -1]);
  });

  it('skips IPv6 hop-by-hop options to reach UDP ports', () => {
    // IPv6 (next header 0) + hop-by-hop (next 17, len 0 = 8 bytes, PadN) + UDP 1000 -> 2000.
    const f = hex(
      '333300000001 020000000001 86dd 6000000000100040 fe800000000000000000000000000001 ff020000000000000000000000000001' +
        '11 00 0104 00000000 | 03e8 07d0 0008 0000',
    );
    const k = ok(extractFlowKey(f));
    expect([k.nwProto, k.tpSrc, k.tpDst, k.l4Offset]).toEqual([17, 1000, 2000, 62]);
  });

  it('has no L4 fields for a non-first IPv4 fragment', () => {
    const f = udp();
    f[20] = 0x00;
    f[21] = 0x10; // fragment offset 16 * 8 bytes
    const k = ok(extractFlowKey(f));
    expect([k.nwProto, k.tpSrc, k.tpDst, k.l4Offset]).toEqual([17, 0, 0, -1]);
  });

  it('does not read L4 ports out of Ethernet padding', () => {
    // IPv4 total length 20: no UDP header inside the datagram, only zero padding after it.
    const f = udp().slice(0, 60);
    f[16] = 0;
    f[17] = 20;
    f[24] = 0;
    f[25] = 0; // checksum is not verified by flow extraction
    const r = extractFlowKey(f);
    expect(r).toMatchObject({ code: 'WIRE_TRUNCATED', layer: 'udp', offset: 34 });
  });

  it('names layer, field and offset for a truncated IPv4 header, keeping the L2 fields in the key', () => {
    const key = emptyFlowKey();
    const r = extractFlowKey(pushVlan(udp(), { vid: 7 }).subarray(0, 30), key);
    expect(isWireError(r)).toBe(true);
    expect(r).toMatchObject({ code: 'WIRE_TRUNCATED', layer: 'ipv4', field: 'header', offset: 18 });
    expect([key.dlSrc, key.vlanTci, key.dlType, key.nwSrc]).toEqual([M1, 0x1007, 0x0800, 0]);
  });

  it('reports a bad IPv4 version as malformed', () => {
    const f = udp();
    f[14] = 0x55;
    expect(extractFlowKey(f)).toMatchObject({ code: 'WIRE_MALFORMED', layer: 'ipv4', field: 'version', offset: 14 });
  });

  it('reports a truncated VLAN tag', () => {
    expect(extractFlowKey(hex('ffffffffffff 020000000001 8100 00'))).toMatchObject({ code: 'WIRE_TRUNCATED', layer: 'vlan', offset: 12 });
  });

  it('clears every field of a reused key', () => {
    const key = emptyFlowKey();
    ok(extractFlowKey(pushVlan(buildNeighborAdvertisement({ srcMac: M1, srcIp6: [1, 2, 3, 4], targetIp6: [1, 2, 3, 4], unsolicited: true }), { vid: 9 }), key));
    ok(extractFlowKey(buildRarp(M2), key));
    expect(key).toEqual({ ...emptyFlowKey(), dlSrc: M2, dlDst: 0xffffffffffff, dlType: 0x8035, nwProto: 3, arpSha: M2, arpTha: M2, l3Offset: 14 });
  });
});
