/**
 * Tunnels over an IPv6 underlay (issue 14): the VXLAN/Geneve-over-IPv6 codec (VXLAN bytes equal
 * `encapVxlan6`, which test/tunnel/linux-oracle-v6.test.ts checks byte for byte against a Linux
 * vxlan device over IPv6), receive checks (UDP checksum, VNI, port), the topology syntax and its
 * errors/warnings, and `topologies/overlay-vxlan6.yaml` end to end: its pcapng dissects cleanly
 * in tshark, the outer headers are Linux/OVS's (hop limit 64 falling by one per router, traffic
 * class and flow label 0, UDP checksum computed and valid), `-Y vxlan` / `-Y geneve` find inner
 * ICMP and TCP, and ND between hosts and routers decodes as valid.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadTopologyText, runTopology } from '../../src/index.js';
import { overlayWarnings } from '../../src/topology/tunnels.js';
import type { Ipv6Words } from '../../src/wire/ip.js';
import { encapVxlan6 } from '../../src/wire/vxlan6.js';
import { encapUdpTunnel6, parseUdpTunnel6, type OuterHeaders6 } from '../../src/wire/udp-tunnel6.js';
import { describeWithTools } from '../helpers/tools.js';
import { rendered } from './helpers.js';

const EXAMPLE = 'topologies/overlay-vxlan6.yaml';
const words = fc.tuple(fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(0xffffffff));

function outer(src: Ipv6Words, dst: Ipv6Words, sport: number): OuterHeaders6 {
  return { srcMac: 0x02fd00000001, dstMac: 0x02fe00000101, srcIp: src, dstIp: dst, srcPort: sport, dstPort: 4789, tos: 0, ttl: 64, flowLabel: 0 };
}

describe('VXLAN/Geneve over IPv6 codec', () => {
  it('VXLAN bytes equal encapVxlan6 (the Linux-checked codec) and parse back', () => {
    fc.assert(
      fc.property(words, words, fc.integer({ min: 32768, max: 60999 }), fc.nat(0xffffff), fc.uint8Array({ minLength: 14, maxLength: 300 }), (s, d, sp, vni, inner) => {
        const o = outer(s, d, sp);
        const f = encapUdpTunnel6(o, 'vxlan', vni, inner);
        expect(f).toEqual(encapVxlan6(o, vni, inner));
        const v = parseUdpTunnel6(f.subarray(14), 'vxlan');
        if (typeof v === 'string') throw new Error(v);
        expect(v.vni).toBe(vni);
        expect(v.src).toEqual(s);
        expect([...v.inner]).toEqual([...inner]);
      }),
    );
  });

  it('Geneve with options round-trips, checksum verifies, and a flipped bit is dropped bad-udp-checksum', () => {
    fc.assert(
      fc.property(words, words, fc.nat(0xffffff), fc.array(fc.record({ cls: fc.nat(0xffff), type: fc.nat(0x7f), n: fc.integer({ min: 0, max: 4 }) }), { maxLength: 3 }), fc.uint8Array({ minLength: 14, maxLength: 200 }), (s, d, vni, opts, inner) => {
        const options = opts.map((o) => ({ cls: o.cls, type: o.type, data: new Uint8Array(o.n * 4).fill(o.n) }));
        const f = encapUdpTunnel6({ ...outer(s, d, 40000), dstPort: 6081 }, 'geneve', vni, inner, options);
        const v = parseUdpTunnel6(f.subarray(14), 'geneve');
        if (typeof v === 'string') throw new Error(v);
        expect(v.vni).toBe(vni);
        expect(v.options.map((o) => [o.cls, o.type, o.data.length])).toEqual(options.map((o) => [o.cls, o.type, o.data.length]));
        expect([...v.inner]).toEqual([...inner]);
        const bad = f.slice();
        bad[bad.length - 1] = bad[bad.length - 1]! ^ 0x01;
        expect(parseUdpTunnel6(bad.subarray(14), 'geneve')).toBe('bad-udp-checksum');
        // RFC 6935/6936: a zero checksum is accepted (OVS udp_extract_tnl_md checks only non-zero ones)
        const zero = bad.slice();
        zero[60] = 0;
        zero[61] = 0;
        expect(typeof parseUdpTunnel6(zero.subarray(14), 'geneve')).toBe('object');
      }),
    );
  });
});

const PAIR = (p1: string, u1 = '{ ipv6: "2001:db8:1::11/64", gateway6: "2001:db8:1::1" }'): string => `name: t
hosts:
  hv1:
    underlay: ${u1}
    bridges: { br0: { ports: { vx0: ${p1} } } }
  hv2:
    underlay: { ipv6: "2001:db8:2::11/64", gateway6: "2001:db8:2::1" }
    bridges: { br0: { ports: { vx0: { type: vxlan, remote_ip: "2001:db8:1::11", key: 5 } } } }
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } } }
  vm2: { host: hv2, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24 } } }
`;

describe('IPv6 underlay in topologies', () => {
  it('validates: the 70-byte overhead in the MTU warning, an unknown or unroutable v6 remote', () => {
    const m = loadTopologyText(PAIR('{ type: vxlan, remote_ip: "2001:db8:2::99", key: 5 }'), 't.yaml');
    const w = overlayWarnings(m);
    expect(w.some((x) => /^t\.yaml:5:\d+: warning: hv1\.br0\.vx0: inner MTU 1500 \(vm1\.eth0\) \+ 70 bytes of VXLAN over IPv6 overhead = 1570 > underlay MTU 1500/.test(x))).toBe(true);
    expect(w.some((x) => /^t\.yaml:5:\d+: warning: hv1\.br0\.vx0: remote_ip 2001:db8:2::99 is no host's IPv6 underlay address/.test(x))).toBe(true);
    const noGw = overlayWarnings(loadTopologyText(PAIR('{ type: vxlan, remote_ip: "2001:db8:2::11", key: 5 }', '{ ipv6: "2001:db8:1::11/64" }'), 't.yaml'));
    expect(noGw.some((x) => /remote_ip 2001:db8:2::11 is off hv1\.underlay's prefix 2001:db8:1::11\/64 and the host has no gateway6/.test(x))).toBe(true);
  });

  it('refuses an IPv4 remote on an IPv6-only underlay, a gateway6 off the prefix, and an underlay with no address', () => {
    expect(rendered(PAIR('{ type: vxlan, remote_ip: 198.51.100.1, key: 5 }'))).toMatch(/^t\.yaml:5:\d+: hv1\.br0\.vx0: remote_ip is IPv4, but hv1\.underlay has no IPv4 address/);
    expect(rendered(PAIR('{ type: vxlan, remote_ip: "2001:db8:2::11", key: 5 }', '{ ipv6: "2001:db8:1::11/64", gateway6: "2001:db8:9::1" }'))).toMatch(/^t\.yaml:4:\d+: gateway6 2001:db8:9::1 is not on the underlay's prefix/);
    expect(rendered(PAIR('{ type: vxlan, remote_ip: "2001:db8:2::11", key: 5 }', '{ mtu: 1500 }'))).toMatch(/^t\.yaml:4:\d+: an underlay needs an address/);
  });

  it('refuses an IPv6 route next hop on no IPv6 prefix of the router, and mixed families in one route', () => {
    const base = (routes: string): string => `name: t
hosts: { h: {} }
routers:
  r1:
    interfaces:
      a: { ipv4: 10.0.0.1/24, ipv6: "2001:db8:a::1/64" }
    routes: ${routes}
`;
    expect(rendered(base('[{ to: "2001:db8:c::/48", via: "2001:db8:a::2" }]'))).toBe('');
    expect(rendered(base('[{ to: "2001:db8:c::/48", via: "2001:db8:b::2" }]'))).toMatch(/^t\.yaml:7:\d+: next hop 2001:db8:b::2 is on no IPv6 prefix of router r1 \(2001:db8:a::1\/64\)/);
    expect(rendered(base('[{ to: default, via: ["2001:db8:a::2", 10.0.0.2] }]'))).toMatch(/next hop 10\.0\.0\.2 is IPv4 but the route's other next hops are IPv6/);
    expect(rendered(base('[{ to: "10.9.0.0/16", via: "2001:db8:a::2" }]'))).toMatch(/"10\.9\.0\.0\/16" is not an IPv6 destination prefix/);
  });

  it('runs the example: pings over VXLAN and Geneve, TCP, PMTU on the system datapath, ND on every hop', () => {
    const { summary, text } = runTopology(EXAMPLE, { untilNs: 1e9 });
    // Linux's IPv6 tunnel headroom: 1500 - 70 = 1430 is the MTU the kernel datapath's ICMP carries
    expect(text).toMatch(/hv1\.br-c\.vxc: .*frame \+ 56 > underlay MTU 1500: reason mtu\); answered \d+ with ICMP frag-needed or packet too big \(next-hop MTU 1430, datapath_type system\)/);
    const apps = summary.apps as Array<Record<string, unknown>>;
    expect(apps[0]).toMatchObject({ sent: 20, received: 20 });
    expect(apps[1]).toMatchObject({ sent: 20, received: 20 });
    const t = summary['tunnels'] as Record<string, { encapsulated: number; decapsulated: number; mtu_drops: number; pmtud_icmp_sent: number }>;
    expect(t['hv1.br-b.gn2']).toMatchObject({ encapsulated: 21, decapsulated: 21 });
    // br-c's guests use MTU 1500: the first full-size segments do not fit 1500 - 70 and get frag-needed 1430
    expect(t['hv1.br-c.vxc']!.mtu_drops).toBeGreaterThan(0);
    expect(t['hv1.br-c.vxc']!.pmtud_icmp_sent).toBe(t['hv1.br-c.vxc']!.mtu_drops);
    const r = summary['routers'] as Record<string, { ipv6: { interfaces: Record<string, { forwarded_out: number; nd_in: number; nd_out: number }> } }>;
    const l1 = r['leaf1']!.ipv6.interfaces;
    expect(l1['s1']!.forwarded_out + l1['s2']!.forwarded_out).toBeGreaterThan(1000);
    // ECMP: both spines carry some flows (the pings, TCP and Geneve flows hash differently)
    expect(l1['h1']!.nd_in).toBeGreaterThan(0);
  });
});

describeWithTools(['tshark'], 'IPv6 underlay seen by tshark', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'ipv6-underlay-')), 'ov6.pcapng');
  const t = (...a: string[]): string => execFileSync('tshark', ['-o', 'udp.check_checksum:TRUE', '-r', file, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });
  const rows = (filter: string, ...fields: string[]): string[][] =>
    t('-Y', filter, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])).split('\n').filter(Boolean).map((l) => l.split('|'));

  it('dissects the example with no malformed frames; vxlan/geneve over IPv6 find inner ICMP and TCP; outer headers as Linux/OVS', () => {
    runTopology(EXAMPLE, { untilNs: 420e6, pcapng: file });
    expect(t('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    const vx = rows('ipv6 && vxlan && icmp && frame.interface_name == "hv1.underlay"', 'ipv6.tclass', 'ipv6.flow', 'ipv6.hlim', 'udp.dstport', 'udp.srcport', 'udp.checksum.status', 'vxlan.vni', 'icmp.type');
    expect(vx.length).toBeGreaterThan(0);
    for (const [tc, fl, hl, dp, sp, cs, vni, it] of vx) {
      expect([Number(tc), Number(fl), dp, cs, vni]).toEqual([0, 0, '4789', '1', '5001']);
      expect(Number(sp)).toBeGreaterThanOrEqual(32768);
      expect(Number(sp)).toBeLessThanOrEqual(60999);
      expect(['64', '61']).toContain(hl); // sent by hv1 (64) or arrived from hv2 over three routers (61)
      expect(['0', '8']).toContain(it);
    }
    const gn = rows('ipv6 && geneve && icmp', 'geneve.vni', 'udp.dstport', 'udp.checksum.status');
    expect(gn.length).toBeGreaterThan(0);
    for (const [vni, dp, cs] of gn) expect([vni, dp, cs]).toEqual(['0x001b59', '6081', '1']);
    expect(rows('ipv6 && vxlan && tcp', 'tcp.srcport').length).toBeGreaterThan(0);
    // one packet across the underlay: hop limit falls by one per router (leaf1, spine, leaf2)
    const hops = new Set(rows('ipv6 && vxlan && icmp', 'ipv6.hlim').map((r) => r[0]));
    for (const h of ['64', '63', '62', '61']) expect(hops).toContain(h);
  });

  it('ND between VTEPs and leaves decodes as valid NS/NA with good checksums', () => {
    const nd = rows('icmpv6.type == 135 || icmpv6.type == 136', 'icmpv6.type', 'icmpv6.checksum.status', 'ipv6.hlim', 'frame.interface_name');
    expect(nd.some((r) => r[0] === '135' && r[3] === 'hv1.underlay')).toBe(true);
    expect(nd.some((r) => r[0] === '136' && r[3] === 'hv1.underlay')).toBe(true);
    for (const r of nd) expect([r[1], r[2]]).toEqual(['1', '255']);
  });
});
