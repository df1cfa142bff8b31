/**
 * Geneve (RFC 8926): the codec (property tests), the header layout checked field by field against
 * the RFC's §3.4/§3.5 diagrams, Wireshark's dissector on UDP 6081 (this kernel has no geneve module,
 * so Linux cannot be the oracle), and tunnel ports carrying pings.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/index.js';
import { MemorySink } from '../../src/pcap/sink.js';
import { PcapWriter } from '../../src/pcap/pcap.js';
import { Simulation } from '../../src/sim/simulation.js';
import { Port, type Frame } from '../../src/port/port.js';
import { TunnelPort, UnderlayEndpoint } from '../../src/tunnel/index.js';
import { buildIcmpEcho } from '../../src/wire/build.js';
import { encapGeneve, GENEVE_CRITICAL, geneveOptionsLength, parseGeneve, type GeneveOption } from '../../src/wire/geneve.js';
import type { OuterHeaders } from '../../src/wire/vxlan.js';
import { describeWithTools } from '../helpers/tools.js';
import { tunnelPair } from './helpers.js';

type Ports = Record<string, { drops: Record<string, number> }>;
const OUTER: OuterHeaders = { srcMac: 0x020000000011, dstMac: 0x020000000001, srcIp: 0xc000020b, dstIp: 0xc633640c, srcPort: 40000, dstPort: 6081, tos: 0, ttl: 64, ident: 1, dontFrag: true, csum: false };
const INNER = buildIcmpEcho({ srcMac: 0x020a00000001, dstMac: 0x020a00000002, srcIp: 0x0a000001, dstIp: 0x0a000002, type: 'request', id: 1, seq: 1, payloadLen: 56 });

const optionArb = fc.record({
  cls: fc.nat(0xffff),
  type: fc.nat(0xff),
  data: fc.integer({ min: 0, max: 8 }).chain((n) => fc.uint8Array({ minLength: n * 4, maxLength: n * 4 })),
});

describe('Geneve codec', () => {
  it('parses what it encapsulates: VNI, options (class, type, data), OAM, inner frame', () => {
    fc.assert(fc.property(fc.nat(0xffffff), fc.array(optionArb, { maxLength: 6 }), fc.uint8Array({ minLength: 14, maxLength: 200 }), fc.boolean(), fc.boolean(), (vni, opts, inner, oam, csum) => {
      fc.pre(typeof geneveOptionsLength(opts) === 'number');
      const f = encapGeneve({ ...OUTER, csum }, vni, inner, opts, oam);
      const g = parseGeneve(f.subarray(14));
      if (typeof g === 'string') throw new Error(g);
      expect([g.vni, g.oam, g.srcPort, g.dstPort]).toEqual([vni, oam, 40000, 6081]);
      expect(g.options.map((o) => [o.cls, o.type, [...o.data]])).toEqual(opts.map((o) => [o.cls, o.type, [...o.data]]));
      expect(g.critical).toBe(opts.some((o) => (o.type & GENEVE_CRITICAL) !== 0));
      expect([...g.inner]).toEqual([...inner]);
    }));
  });

  it('never throws on arbitrary bytes after the outer header: a view or a drop reason', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), (tail) => {
      const f = encapGeneve(OUTER, 1, INNER);
      const ip = new Uint8Array(28 + tail.length);
      ip.set(f.subarray(14, 42));
      ip.set(tail, 28);
      ip[2] = ip.length >> 8;
      ip[3] = ip.length & 0xff;
      ip[24] = (tail.length + 8) >> 8; // UDP length
      ip[25] = (tail.length + 8) & 0xff;
      const r = parseGeneve(ip);
      if (typeof r !== 'string') expect(r.inner.length).toBeLessThanOrEqual(tail.length);
    }));
  });

  it('lays out the base header and an option as RFC 8926 §3.4/§3.5 draw them', () => {
    const opt: GeneveOption = { cls: 0x0102, type: 0x05, data: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) };
    const f = encapGeneve(OUTER, 0x123456, INNER, [opt], true);
    const g = [...f.subarray(42, 42 + 16)];
    // Ver=0 | Opt Len=2 (8 bytes) ; O=1 C=0 ; Protocol Type 0x6558 ; VNI 0x123456 ; Reserved 0
    // Option Class 0x0102 ; Type 0x05 ; R=0 Length=1 (4 bytes) ; data
    expect(g).toEqual([0x02, 0x80, 0x65, 0x58, 0x12, 0x34, 0x56, 0x00, 0x01, 0x02, 0x05, 0x01, 0xde, 0xad, 0xbe, 0xef]);
    expect(f.length).toBe(14 + 20 + 8 + 16 + INNER.length);
    // UDP length = 8 + 8 + 8 + inner; the outer IP total = 20 + that.
    expect((f[38]! << 8) | f[39]!).toBe(8 + 16 + INNER.length);
    // A critical option sets C (0x40).
    expect(encapGeneve(OUTER, 1, INNER, [{ ...opt, type: 0x85 }])[43]).toBe(0x40);
  });

  it('refuses options that cannot be encoded, and parses bad versions and non-Ethernet payloads as drops', () => {
    expect(geneveOptionsLength([{ cls: 1, type: 1, data: new Uint8Array(3) }])).toMatch(/multiple of 4/);
    expect(geneveOptionsLength([{ cls: 1, type: 1, data: new Uint8Array(128) }])).toMatch(/over 124/);
    expect(geneveOptionsLength(Array.from({ length: 3 }, () => ({ cls: 1, type: 1, data: new Uint8Array(120) })))).toMatch(/over 252/);
    const f = encapGeneve(OUTER, 1, INNER);
    const v1 = f.slice(14);
    v1[28] = 0x40;
    expect(parseGeneve(v1)).toBe('geneve-version');
    const ipv4Payload = f.slice(14);
    ipv4Payload[30] = 0x08;
    ipv4Payload[31] = 0x00;
    expect(parseGeneve(ipv4Payload)).toBe('geneve-not-ethernet');
  });
});

describe('Geneve tunnel ports', () => {
  it('carry pings between two hosts (UDP 6081 by default) and count encap/decap', () => {
    const extra = '  - { at: 0s, ping: { from: vm1, to: vm2, count: 3, interval: 10ms } }';
    const { summary } = runTopology({ text: tunnelPair({ port1: '{ type: geneve, remote_ip: 198.51.100.12, key: 9 }', port2: '{ type: geneve, remote_ip: 192.0.2.11, key: 9 }', extra }) }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ sent: 3, received: 3 });
    const t = summary['tunnels'] as Record<string, { encapsulated: number; decapsulated: number }>;
    expect(t['hv2.br0.tun0']!.decapsulated).toBe(t['hv1.br0.tun0']!.encapsulated);
    // A VXLAN peer on 4789 does not understand them: nothing listens on 6081 there.
    const mixed = runTopology({ text: tunnelPair({ port1: '{ type: geneve, remote_ip: 198.51.100.12, key: 9 }', port2: '{ type: vxlan, remote_ip: 192.0.2.11, key: 9 }', extra }) }, { untilNs: 1e9 });
    expect(mixed.summary.apps[0]).toMatchObject({ received: 0 });
    expect((mixed.summary.ports as Ports)['hv2.underlay']!.drops['no-tunnel']).toBeGreaterThan(0);
  });

  it('drops a packet with a critical option (RFC 8926 §3.5.1: vfab understands no option) and accepts a non-critical one', () => {
    const sim = new Simulation(1);
    const ep = new UnderlayEndpoint({ host: 'hv2', sim, mac: 0x020000000001, ipv4: 0xc633640c, prefixLength: 24, mtu: 1500 });
    const got: Frame[] = [];
    // The bridge side of the tunnel port: what it receives is what the bridge would switch.
    const bridgeSide = new Port('hv2.br0.tun0', (f) => got.push(f));
    const tp = new TunnelPort({ port: bridgeSide, underlay: ep, type: 'geneve', remoteIp: 0xc000020b, vni: 9, dstPort: 6081, csum: false, hashSeed: 1 });
    const outer = { ...OUTER, srcMac: 0x020000000099, dstMac: 0x020000000001 };
    ep.port.receive(encapGeneve(outer, 9, INNER, [{ cls: 0x0102, type: 0x01, data: new Uint8Array(4) }]), { hops: 0 });
    ep.port.receive(encapGeneve(outer, 9, INNER, [{ cls: 0x0102, type: 0x81, data: new Uint8Array(4) }]), { hops: 0 });
    expect(got).toHaveLength(1);
    expect([...got[0]!]).toEqual([...INNER]);
    expect(ep.port.counters.drops['geneve-critical-option']).toBe(1);
    expect(tp.counters.decapsulated).toBe(1);
  });
});

describeWithTools(['tshark'], 'Geneve seen by tshark', () => {
  it('dissects vfab Geneve with options on UDP 6081 without Decode-As: VNI, option class/type/length, inner ICMP', () => {
    const sink = new MemorySink();
    const w = new PcapWriter(sink);
    const opt: GeneveOption = { cls: 0x0102, type: 0x05, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) };
    w.writePacket(0, encapGeneve(OUTER, 5001, INNER, [opt]));
    w.writePacket(1000, encapGeneve({ ...OUTER, csum: true }, 0xffffff, INNER, [], true));
    w.close();
    const file = join(mkdtempSync(join(tmpdir(), 'overlay2-gnv-')), 'g.pcap');
    writeFileSync(file, sink.bytes());
    const t = (...a: string[]): string => execFileSync('tshark', ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-r', file, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(t('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    const rows = t('-Y', 'geneve && icmp', '-T', 'fields', '-E', 'separator=|', '-e', 'geneve.vni', '-e', 'geneve.option.class', '-e', 'geneve.option.type', '-e', 'geneve.option.length', '-e', 'geneve.flags.oam', '-e', 'geneve.proto_type', '-e', 'icmp.type', '-e', 'udp.checksum.status')
      .split('\n').filter(Boolean).map((l) => l.split('|'));
    expect(rows).toHaveLength(2);
    // tshark 4.x prints the 24-bit VNI in hex and the option length with its 4-byte header (4 + 8).
    const [vni, cls, type, len, oam, proto] = rows[0]!;
    expect([vni, cls, type, len!.split(',')[0], oam, proto]).toEqual(['0x001389', '0x0102', '0x05', '12', '0', '0x6558']);
    expect([rows[1]![0], rows[1]![1], rows[1]![4]]).toEqual(['0xffffff', '', '1']);
    for (const r of rows) expect(r[6]).toBe('8');
    expect(rows[0]![7]).toBe('3'); // no outer UDP checksum over IPv4 by default (status "not present")
    expect(rows[1]![7]).toBe('1'); // csum: true computes a valid one
  });

  it('a Geneve topology pcapng decodes down to the inner ICMP', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'overlay2-gnv-')), 'g.pcapng');
    const extra = '  - { at: 0s, ping: { from: vm1, to: vm2, count: 2, interval: 10ms } }';
    runTopology({ text: tunnelPair({ port1: '{ type: geneve, remote_ip: 198.51.100.12, key: 9 }', port2: '{ type: geneve, remote_ip: 192.0.2.11, key: 9 }', extra }) }, { untilNs: 1e9, pcapng: file });
    const t = (...a: string[]): string => execFileSync('tshark', ['-r', file, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(t('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    const vnis = t('-Y', 'geneve && icmp', '-T', 'fields', '-e', 'geneve.vni').split('\n').filter(Boolean);
    expect(vnis.length).toBeGreaterThanOrEqual(4);
    for (const v of vnis) expect(Number(v)).toBe(9);
  });
});
