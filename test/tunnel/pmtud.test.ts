/**
 * The kernel datapath's ICMP for frames too big for a tunnel (datapath_type: system), checked
 * against the rules of net/ipv4/ip_tunnel_core.c (iptunnel_pmtud_check_icmp / _build_icmp and the
 * ICMPv6 pair, Linux ≥ 5.9) byte by byte, dissected by tshark, and end to end in
 * topologies/overlay-mtu-mismatch.yaml (TCP stalls on netdev, recovers on system).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/index.js';
import { MemorySink, PcapWriter } from '../../src/pcap/index.js';
import { buildIcmpEcho, buildIcmpv6, buildUdp } from '../../src/wire/build.js';
import { finish, sumBytes } from '../../src/wire/checksum.js';
import { parseIpv6 } from '../../src/wire/ip.js';
import { tunnelPmtudReply } from '../../src/wire/tunnel-pmtud.js';
import { describeWithTools } from '../helpers/tools.js';

const MAC_A = 0x02_00_00_00_00_01;
const MAC_B = 0x02_00_00_00_00_02;
const A = 0x0a000001; // 10.0.0.1
const B = 0x0a000002;

/** A 1500-byte IPv4 UDP packet from A to B (DF, TTL 64), as a guest with a 1500 MTU sends. */
function bigUdp(over: { dontFrag?: boolean; srcIp?: number; dstIp?: number; ttl?: number } = {}): Uint8Array {
  return buildUdp({ srcMac: MAC_A, dstMac: MAC_B, srcIp: over.srcIp ?? A, dstIp: over.dstIp ?? B, ttl: over.ttl ?? 64, ipId: 0x1234, dontFrag: over.dontFrag ?? true, srcPort: 40000, dstPort: 5001, payloadLen: 1472 });
}

const be16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

describe('ICMP frag-needed for an oversize bridged IPv4 frame (iptunnel_pmtud_build_icmp)', () => {
  it('has the kernel layout: swapped MACs and addresses, TOS 0, id 0, DF, inner TTL, 3/4, MTU, 548-byte quote', () => {
    const inner = bigUdp({ ttl: 61 });
    const r = tunnelPmtudReply(inner, 1450)!;
    expect(r).toBeDefined();
    // Ethernet: eth_header(…, eh.h_source, eh.h_dest): to the sender, from the inner destination
    expect([...r.subarray(0, 6)]).toEqual([...inner.subarray(6, 12)]);
    expect([...r.subarray(6, 12)]).toEqual([...inner.subarray(0, 6)]);
    expect(be16(r, 12)).toBe(0x0800);
    const ip = r.subarray(14);
    expect(ip[0]).toBe(0x45);
    expect(ip[1]).toBe(0); // .tos = 0
    // pskb_trim(skb, 576 - sizeof(iphdr) - sizeof(icmphdr)): quote 548, total 576
    expect(be16(ip, 2)).toBe(576);
    expect(r.length).toBe(14 + 576);
    expect(be16(ip, 4)).toBe(0); // .id = 0
    expect(be16(ip, 6)).toBe(0x4000); // .frag_off = htons(IP_DF)
    expect(ip[8]).toBe(61); // .ttl = iph->ttl
    expect(ip[9]).toBe(1);
    expect([...ip.subarray(12, 16)]).toEqual([...inner.subarray(30, 34)]); // saddr = inner daddr
    expect([...ip.subarray(16, 20)]).toEqual([...inner.subarray(26, 30)]);
    expect(finish(sumBytes(ip, 0, 20))).toBe(0); // ip_send_check
    const icmp = ip.subarray(20);
    expect([icmp[0], icmp[1]]).toEqual([3, 4]);
    expect(be16(icmp, 4)).toBe(0); // __unused
    expect(be16(icmp, 6)).toBe(1450);
    expect([...icmp.subarray(8)]).toEqual([...inner.subarray(14, 14 + 548)]);
    expect(finish(sumBytes(icmp, 0, icmp.length))).toBe(0);
  });

  it('quotes a short packet whole (the trim never pads)', () => {
    const inner = buildUdp({ srcMac: MAC_A, dstMac: MAC_B, srcIp: A, dstIp: B, srcPort: 1, dstPort: 2, payloadLen: 600 });
    const r = tunnelPmtudReply(inner, 600)!;
    expect(r.length).toBe(14 + 20 + 8 + 548);
    const small = buildUdp({ srcMac: MAC_A, dstMac: MAC_B, srcIp: A, dstIp: B, srcPort: 1, dstPort: 2, payloadLen: 400 });
    expect(tunnelPmtudReply(small, 576)!.length).toBe(14 + 20 + 8 + 428);
  });

  it('sends nothing where the kernel sends nothing', () => {
    expect(tunnelPmtudReply(bigUdp(), 575)).toBeUndefined(); // mtu < 576
    expect(tunnelPmtudReply(bigUdp(), 576)).toBeDefined();
    expect(tunnelPmtudReply(bigUdp({ dontFrag: false }), 1450)).toBeUndefined(); // frag_off != htons(IP_DF)
    const mf = bigUdp();
    mf[14 + 6] = 0x60; // DF + MF: still not exactly DF
    expect(tunnelPmtudReply(mf, 1450)).toBeUndefined();
    expect(tunnelPmtudReply(bigUdp({ dstIp: 0xe0000001 }), 1450)).toBeUndefined(); // multicast daddr
    expect(tunnelPmtudReply(bigUdp({ dstIp: 0xffffffff }), 1450)).toBeUndefined(); // lbcast daddr
    expect(tunnelPmtudReply(bigUdp({ srcIp: 0x00000005 }), 1450)).toBeUndefined(); // zeronet saddr
    expect(tunnelPmtudReply(bigUdp({ srcIp: 0x7f000001 }), 1450)).toBeUndefined(); // loopback saddr
    expect(tunnelPmtudReply(bigUdp({ srcIp: 0xe0000001 }), 1450)).toBeUndefined(); // multicast saddr
    // an ICMP error (icmp_is_err) never gets one; an echo request does
    const echo = buildIcmpEcho({ srcMac: MAC_A, dstMac: MAC_B, srcIp: A, dstIp: B, type: 'request', id: 1, seq: 1, payloadLen: 1472 });
    expect(tunnelPmtudReply(echo, 1450)).toBeDefined();
    const err = echo.slice();
    err[34] = 3; // destination unreachable
    expect(tunnelPmtudReply(err, 1450)).toBeUndefined();
    err[34] = 11;
    expect(tunnelPmtudReply(err, 1450)).toBeUndefined();
    // not IP: ARP, VLAN-tagged (skb->protocol is neither ETH_P_IP nor ETH_P_IPV6)
    const arp = bigUdp();
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(tunnelPmtudReply(arp, 1450)).toBeUndefined();
  });
});

const V6A = parseIpv6('2001:db8::1');
const V6B = parseIpv6('2001:db8::2');

function bigEcho6(src = V6A, hop = 64): Uint8Array {
  return buildIcmpv6({ srcMac: MAC_A, dstMac: MAC_B, srcIp6: src, dstIp6: V6B, hopLimit: hop, repr: { kind: 'echo-request', ident: 7, seqNo: 1, data: new Uint8Array(1452) } });
}

describe('ICMPv6 packet too big for an oversize bridged IPv6 frame (iptunnel_pmtud_build_icmpv6)', () => {
  it('has the kernel layout: 2/0, 32-bit MTU, tc/flow 0, inner hop limit, swapped addresses, 1232-byte quote', () => {
    const inner = bigEcho6(V6A, 17);
    const r = tunnelPmtudReply(inner, 1430)!;
    expect(be16(r, 12)).toBe(0x86dd);
    expect([...r.subarray(0, 6)]).toEqual([...inner.subarray(6, 12)]);
    const ip = r.subarray(14);
    expect([ip[0], ip[1], ip[2], ip[3]]).toEqual([0x60, 0, 0, 0]);
    expect(be16(ip, 4)).toBe(8 + 1232);
    expect(ip[6]).toBe(58);
    expect(ip[7]).toBe(17);
    expect([...ip.subarray(8, 24)]).toEqual([...inner.subarray(14 + 24, 14 + 40)]);
    expect([...ip.subarray(24, 40)]).toEqual([...inner.subarray(14 + 8, 14 + 24)]);
    const m = ip.subarray(40);
    expect([m[0], m[1]]).toEqual([2, 0]);
    expect(((m[4]! << 24) | (m[5]! << 16) | (m[6]! << 8) | m[7]!) >>> 0).toBe(1430);
    expect([...m.subarray(8)]).toEqual([...inner.subarray(14, 14 + 1232)]);
    // csum_ipv6_magic over the pseudo-header and the message
    expect(finish(sumBytes(m, 0, m.length, sumBytes(ip, 8, 40) + m.length + 58))).toBe(0);
  });

  it('sends nothing where the kernel sends nothing', () => {
    expect(tunnelPmtudReply(bigEcho6(), 1279)).toBeUndefined(); // mtu < IPV6_MIN_MTU
    expect(tunnelPmtudReply(bigEcho6(), 1280)).toBeDefined();
    expect(tunnelPmtudReply(bigEcho6(parseIpv6('::')), 1400)).toBeUndefined();
    expect(tunnelPmtudReply(bigEcho6(parseIpv6('::1')), 1400)).toBeUndefined();
    expect(tunnelPmtudReply(bigEcho6(parseIpv6('ff02::1')), 1400)).toBeUndefined();
    const err = bigEcho6();
    err[54] = 1; // an ICMPv6 error
    expect(tunnelPmtudReply(err, 1400)).toBeUndefined();
    err[54] = 137; // NDISC_REDIRECT
    expect(tunnelPmtudReply(err, 1400)).toBeUndefined();
    // a non-first fragment (fragment header with offset 8): no upper header to judge, no reply
    const frag = new Uint8Array(14 + 40 + 8 + 1400);
    frag.set(bigEcho6().subarray(0, 54));
    frag[14 + 6] = 44;
    frag[54] = 58;
    frag[54 + 3] = 8 << 3;
    expect(tunnelPmtudReply(frag, 1400)).toBeUndefined();
    frag[54 + 3] = 1; // first fragment (offset 0, M): the ICMPv6 header is there, an echo
    frag[62] = 128;
    expect(tunnelPmtudReply(frag, 1400)).toBeDefined();
  });
});

describeWithTools(['tshark'], 'tunnel PMTUD messages seen by tshark', () => {
  it('dissects the ICMP and ICMPv6 replies cleanly with good checksums, the MTU and the quoted header', () => {
    const sink = new MemorySink();
    const w = new PcapWriter(sink);
    w.writePacket(0, tunnelPmtudReply(bigUdp({ ttl: 63 }), 1450)!);
    w.writePacket(1000, tunnelPmtudReply(bigEcho6(), 1430)!);
    w.close();
    const file = join(mkdtempSync(join(tmpdir(), 'overlay-mtu-pmtud-')), 'p.pcap');
    writeFileSync(file, sink.bytes());
    const O = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
    const t = (...a: string[]): string => execFileSync('tshark', [...O, '-r', file, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(t('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    const v4 = t('-Y', 'icmp', '-T', 'fields', '-E', 'separator=|', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'icmp.type', '-e', 'icmp.code', '-e', 'icmp.mtu', '-e', 'icmp.checksum.status', '-e', 'ip.checksum.status', '-e', 'ip.ttl', '-e', 'udp.dstport').trim();
    // ip.* list the outer header then the quoted one; the quote is the 1500-byte UDP datagram
    expect(v4).toBe('10.0.0.2,10.0.0.1|10.0.0.1,10.0.0.2|3|4|1450|1|1,1|63,63|5001');
    const v6 = t('-Y', 'icmpv6', '-T', 'fields', '-E', 'separator=|', '-e', 'ipv6.src', '-e', 'icmpv6.type', '-e', 'icmpv6.code', '-e', 'icmpv6.mtu', '-e', 'icmpv6.checksum.status').trim();
    expect(v6).toBe('2001:db8::2,2001:db8::1|2,128|0,0|1430|1,2'); // the quoted echo is cut, so tshark cannot verify its checksum (2)
  });
});

describe('topologies/overlay-mtu-mismatch.yaml: TCP bulk over a 1500-over-1500 overlay', () => {
  it('stalls on the netdev bridge, recovers by PMTU discovery on the system bridge and by an MSS clamp', () => {
    const { summary, text } = runTopology('topologies/overlay-mtu-mismatch.yaml');
    const iperf = (name: string): Record<string, unknown> => summary.apps.find((a) => a['name'] === name)!;
    expect(iperf('iperf1')['throughput_bps']).toBe(0);
    expect(iperf('iperf2')['throughput_bps']).toBeGreaterThan(60e6);
    expect(iperf('iperf3')['throughput_bps']).toBeGreaterThan(60e6);
    const tunnels = summary['tunnels'] as Record<string, { mtu_drops: number; pmtud_icmp_sent: number }>;
    expect(tunnels['hv1.br0.vx0']!.pmtud_icmp_sent).toBe(0);
    expect(tunnels['hv1.br0.vx0']!.mtu_drops).toBeGreaterThan(3); // the 3 pings + iperf1's retries
    // every oversize DF segment on the system bridge got its ICMP; the connection then fits
    expect(tunnels['hv1.br1.vx1']!.pmtud_icmp_sent).toBe(tunnels['hv1.br1.vx1']!.mtu_drops);
    expect(tunnels['hv1.br1.vx1']!.mtu_drops).toBeGreaterThan(0);
    expect(text).toMatch(/hv1\.br0\.vx0: .*no ICMP back \(datapath_type netdev/);
    expect(text).toMatch(/hv1\.br1\.vx1: .*answered \d+ with ICMP frag-needed or packet too big \(next-hop MTU 1450, datapath_type system\)/);
  });

  it('is deterministic: the same seed gives byte-identical pcapng and summary', () => {
    const dir = mkdtempSync(join(tmpdir(), 'overlay-mtu-det-'));
    const run = (n: string): { json: string; pcap: Buffer } => {
      const f = join(dir, `${n}.pcapng`);
      const { summary } = runTopology('topologies/overlay-mtu-mismatch.yaml', { pcapng: f, untilNs: 3_050_000_000 });
      return { json: JSON.stringify(summary), pcap: readFileSync(f) };
    };
    const a = run('a');
    const b = run('b');
    expect(a.json).toBe(b.json);
    expect(a.pcap.equals(b.pcap)).toBe(true);
  });
});

describeWithTools(['tshark'], 'overlay-mtu-mismatch: the ICMP on the wire', () => {
  it('vm3 receives frag-needed from 10.0.1.2 with MTU 1450 quoting its own TCP segment; vm1 receives none', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'overlay-mtu-wire-')), 'w.pcapng');
    runTopology('topologies/overlay-mtu-mismatch.yaml', { pcapng: file, untilNs: 3_050_000_000, capturePorts: ['vm1.eth0', 'vm3.eth0', 'hv1.br1.vx1'] });
    const t = (...a: string[]): string => execFileSync('tshark', ['-o', 'ip.check_checksum:TRUE', '-r', file, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(t('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    const rows = t('-Y', 'icmp.type == 3 && icmp.code == 4', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'ip.src', '-e', 'icmp.mtu', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'ip.len')
      .split('\n')
      .filter(Boolean);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      const [itf, src, mtu, , dport, len] = r.split('|');
      expect(['vm3.eth0', 'hv1.br1.vx1']).toContain(itf);
      expect(src).toBe('10.0.1.2,10.0.1.1');
      expect(mtu).toBe('1450');
      expect(dport).toBe('5201');
      expect(len).toBe('576,1500'); // the quote names the 1500-byte segment that did not fit
    }
    expect(rows.some((r) => r.startsWith('vm3.eth0|'))).toBe(true);
  });
});
