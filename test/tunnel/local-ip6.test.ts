/**
 * `local_ip` on tunnel ports (OVS options:local_ip), IPv6 first: the outer source address, the
 * destination received packets must have (ofproto/tunnel.c tnl_find), the address-family rule
 * (lib/netdev-vport.c set_tunnel_config: "'remote_ip' and 'local_ip' has to be of the same address
 * family"), and a local_ip the host does not own (no route from it: validate warns at the place,
 * the run drops `no-route`). Also IPv6-only routers carrying the tunnels.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Fabric } from '../../src/fabric/fabric.js';
import { loadTopologyText, runTopology } from '../../src/index.js';
import { overlayWarnings } from '../../src/topology/tunnels.js';
import type { Frame } from '../../src/port/port.js';
import { rendered, tunnelPair, type UnderlayFamily } from './helpers.js';

type Ports = Record<string, { drops: Record<string, number> }>;
const PING = '  - { at: 0s, ping: { from: vm1, to: vm2, count: 3, interval: 10ms } }';

function pair(port1: string, underlay: UnderlayFamily = 'ipv6', port2 = '{ type: vxlan, remote_ip: "2001:db8:1::11", key: 5001 }'): string {
  return tunnelPair({ port1, port2, underlay, extra: PING, seed: 5 });
}

/** Outer (source, destination) of the IPv6 UDP frames hv1's underlay sends, as hex. */
function sent6(text: string): Array<[string, string]> {
  const fabric = new Fabric(loadTopologyText(text, 't.yaml'));
  const out: Array<[string, string]> = [];
  const hex = (f: Frame, a: number, b: number): string => Buffer.from(f.subarray(a, b)).toString('hex');
  fabric.ctx.ports.get('hv1.underlay')!.onFrame((_p, dir, f) => {
    if (dir === 'tx' && f[12] === 0x86 && f[13] === 0xdd && f[20] === 17) out.push([hex(f, 22, 38), hex(f, 38, 54)]);
  });
  fabric.run({ untilNs: 1e9 });
  return out;
}

const H1 = '20010db8000100000000000000000011';
const H2 = '20010db8000200000000000000000011';

describe('local_ip over an IPv6 underlay', () => {
  it('the underlay address as local_ip: the outer source is it, pings cross, same bytes as without it', () => {
    const withLocal = pair('{ type: vxlan, remote_ip: "2001:db8:2::11", local_ip: "2001:db8:1::11", key: 5001 }');
    const without = pair('{ type: vxlan, remote_ip: "2001:db8:2::11", key: 5001 }');
    const s = sent6(withLocal);
    expect(s.length).toBeGreaterThanOrEqual(3);
    for (const [src, dst] of s) expect([src, dst]).toEqual([H1, H2]);
    expect(s).toEqual(sent6(without));
    const { summary } = runTopology({ text: withLocal }, { untilNs: 1e9 });
    expect((summary.apps as Array<Record<string, unknown>>)[0]).toMatchObject({ sent: 3, received: 3 });
    // hv2 receives with a local_ip too: tnl_find matches the packet's destination against it
    const both = pair('{ type: vxlan, remote_ip: "2001:db8:2::11", local_ip: "2001:db8:1::11", key: 5001 }', 'ipv6', '{ type: vxlan, remote_ip: "2001:db8:1::11", local_ip: "2001:db8:2::11", key: 5001 }');
    expect((runTopology({ text: both }, { untilNs: 1e9 }).summary.apps as Array<Record<string, unknown>>)[0]).toMatchObject({ received: 3 });
  });

  it('remote_ip: flow with an IPv6 local_ip on a dual-stack underlay sends over IPv6 only', () => {
    const flows1 = 'priority=10,in_port=vm1-eth0,actions=set_field:2001:db8:2::11->tun_ipv6_dst,set_field:198.51.100.12->tun_dst,set_tunnel:5001,output:tun0\npriority=10,in_port=tun0,actions=output:vm1-eth0';
    const text = tunnelPair({ port1: '{ type: vxlan, remote_ip: flow, local_ip: "2001:db8:1::11", key: flow }', port2: '{ type: vxlan, remote_ip: "2001:db8:1::11", key: 5001 }', flows1, underlay: 'dual', extra: PING, seed: 5 });
    // flow_tnl_dst would take the IPv4 tun_dst first; the IPv6 local_ip fixes the port's family
    const s = sent6(text);
    expect(s.length).toBeGreaterThanOrEqual(3);
    expect(s.every(([src, dst]) => src === H1 && dst === H2)).toBe(true);
    const { summary } = runTopology({ text }, { untilNs: 1e9 });
    expect((summary.apps as Array<Record<string, unknown>>)[0]).toMatchObject({ received: 3 });
  });

  it('a local_ip the host does not own: a located warning at validate, no-route drops at run time, nothing received', () => {
    const text = pair('{ type: vxlan, remote_ip: "2001:db8:2::11", local_ip: "2001:db8:1::99", key: 5001 }');
    const w = overlayWarnings(loadTopologyText(text, 't.yaml'));
    expect(w.some((x) => /^t\.yaml:\d+:\d+: warning: hv1\.br0\.tun0: local_ip 2001:db8:1::99 is not hv1\.underlay's address 2001:db8:1::11\/64; .*dropped \(no-route\)/.test(x))).toBe(true);
    const { summary } = runTopology({ text }, { untilNs: 1e9 });
    expect((summary.apps as Array<Record<string, unknown>>)[0]).toMatchObject({ received: 0 });
    expect((summary.ports as Ports)['hv1.br0.tun0']!.drops['no-route']).toBeGreaterThan(0);
    expect(sent6(text).filter(([, d]) => d === H2)).toEqual([]);
  });

  it('mixed families are refused at local_ip; a family the underlay lacks is refused', () => {
    const v4 = tunnelPair({ port1: '{ type: vxlan, remote_ip: 198.51.100.12, local_ip: "2001:db8:1::11", key: 1 }', port2: '{ type: vxlan, remote_ip: 192.0.2.11, key: 1 }', extra: PING });
    expect(rendered(v4)).toMatch(/^t\.yaml:\d+:\d+: local_ip 2001:db8:1::11 is IPv6 but remote_ip is IPv4: 'remote_ip' and 'local_ip' have to be of the same address family/);
    expect(rendered(pair('{ type: vxlan, remote_ip: "2001:db8:2::11", local_ip: 192.0.2.11, key: 1 }'))).toMatch(/local_ip 192\.0\.2\.11 is IPv4 but remote_ip is IPv6/);
    const noV6 = tunnelPair({ port1: '{ type: vxlan, remote_ip: flow, local_ip: "2001:db8:1::11", key: 1 }', port2: '{ type: vxlan, remote_ip: 192.0.2.11, key: 1 }', extra: PING });
    expect(rendered(noV6)).toMatch(/^t\.yaml:\d+:\d+: hv1\.br0\.tun0: local_ip 2001:db8:1::11 is IPv6, but hv1\.underlay has no IPv6 address/);
    expect(rendered(pair('{ type: vxlan, remote_ip: "2001:db8:2::11", local_ip: "2001:db8:::1", key: 1 }'))).toMatch(/"2001:db8:::1" is not an IPv6 address/);
    expect(rendered(pair('{ type: vxlan, remote_ip: "2001:db8:2::11", local_ip: flow, key: 1 }'))).toMatch(/"local_ip": "flow" is not an IPv4 address .* or an IPv6 address/);
    expect(rendered(pair('{ local_ip: "2001:db8:1::11" }'))).toMatch(/"local_ip" is a tunnel option/);
  });

  it('an IPv4 local_ip over IPv4 behaves the same way (source, and a foreign one drops no-route)', () => {
    const ok = tunnelPair({ port1: '{ type: vxlan, remote_ip: 198.51.100.12, local_ip: 192.0.2.11, key: 1 }', port2: '{ type: vxlan, remote_ip: 192.0.2.11, local_ip: 198.51.100.12, key: 1 }', extra: PING, vmMtu: 1400 });
    expect((runTopology({ text: ok }, { untilNs: 1e9 }).summary.apps as Array<Record<string, unknown>>)[0]).toMatchObject({ received: 3 });
    const bad = ok.replace('local_ip: 192.0.2.11', 'local_ip: 192.0.2.99');
    expect(overlayWarnings(loadTopologyText(bad, 't.yaml')).some((x) => /local_ip 192\.0\.2\.99 is not hv1\.underlay's address/.test(x))).toBe(true);
    const r = runTopology({ text: bad }, { untilNs: 1e9 }).summary;
    expect((r.ports as Ports)['hv1.br0.tun0']!.drops['no-route']).toBeGreaterThan(0);
  });
});

describe('IPv6-only routers', () => {
  it('a router with only IPv6 interfaces carries VXLAN over IPv6 (ND, hop limit, routes)', () => {
    const text = pair('{ type: vxlan, remote_ip: "2001:db8:2::11", key: 5001 }', 'ipv6-only-router');
    expect(text).not.toMatch(/ipv4: 192\.0\.2\.1\//);
    const { summary } = runTopology({ text }, { untilNs: 1e9 });
    expect((summary.apps as Array<Record<string, unknown>>)[0]).toMatchObject({ sent: 3, received: 3 });
    const r1 = (summary.routers as Record<string, { routes: unknown[]; ipv6: { interfaces: Record<string, { forwarded_out: number; nd_in: number }> } }>)['r1']!;
    expect(r1.routes).toEqual([]);
    expect(r1.ipv6.interfaces['b']!.forwarded_out).toBeGreaterThanOrEqual(3);
    expect(r1.ipv6.interfaces['a']!.nd_in).toBeGreaterThan(0);
  });

  it('an interface needs an address; IPv4 routes need an IPv4 interface', () => {
    const r = (ifs: string, routes = ''): string => `name: t\nhosts: { h: {} }\nrouters:\n  r1:\n    interfaces:\n${ifs}${routes}`;
    expect(rendered(r('      a: { mtu: 1500 }\n'))).toMatch(/^t\.yaml:6:\d+: router interface r1\.a needs an address/);
    expect(rendered(r('      a: { ipv6: "2001:db8:a::1/64" }\n'))).toBe('');
    expect(rendered(r('      a: { ipv6: "2001:db8:a::1/64" }\n', '    routes: [{ to: default, via: 10.0.0.2 }]\n'))).toMatch(/next hop 10\.0\.0\.2 is on no subnet of router r1 \(no interface has ipv4\)/);
  });
});

describe('vfab validate on bad IPv6 tunnel input (the CLI, as a user runs it)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-local-ip6-'));
  const validate = (name: string, text: string): { code: number | null; err: string } => {
    const file = join(dir, name);
    writeFileSync(file, text);
    const r = spawnSync(process.execPath, ['bin/run.js', 'validate', file], { encoding: 'utf8' });
    return { code: r.status, err: r.stderr };
  };

  it('mixed families and an IPv6 remote_ip with no IPv6 underlay address: located errors, exit 2, no stack trace', () => {
    const mixed = validate('mixed.yaml', pair('{ type: vxlan, remote_ip: "2001:db8:2::11", local_ip: 192.0.2.11, key: 1 }'));
    expect(mixed.code).toBe(2);
    expect(mixed.err).toMatch(/mixed\.yaml:\d+:\d+: .*local_ip 192\.0\.2\.11 is IPv4 but remote_ip is IPv6/);
    expect(mixed.err).not.toMatch(/\n\s+at /);
    const noV6 = validate('nov6.yaml', tunnelPair({ port1: '{ type: vxlan, remote_ip: "2001:db8:2::11", key: 1 }', port2: '{ type: vxlan, remote_ip: 192.0.2.11, key: 1 }', extra: PING }));
    expect(noV6.code).toBe(2);
    expect(noV6.err).toMatch(/nov6\.yaml:\d+:\d+: .*remote_ip 2001:db8:2::11 is IPv6, but hv1\.underlay has no IPv6 address/);
    expect(noV6.err).not.toMatch(/\n\s+at /);
  });

  it('an unreachable IPv6 remote and a foreign local_ip: located warnings, still valid', () => {
    const text = pair('{ type: vxlan, remote_ip: "2001:db8:9::11", local_ip: "2001:db8:1::99", key: 5001 }').replace('gateway6: "2001:db8:1::1"', '');
    const r = validate('warn.yaml', text.replace('{ ipv6: "2001:db8:1::11/64",  }', '{ ipv6: "2001:db8:1::11/64" }'));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/warn\.yaml:\d+:\d+: warning: hv1\.br0\.tun0: remote_ip 2001:db8:9::11 is off hv1\.underlay's prefix 2001:db8:1::11\/64 and the host has no gateway6/);
    expect(r.err).toMatch(/warn\.yaml:\d+:\d+: warning: hv1\.br0\.tun0: local_ip 2001:db8:1::99 is not hv1\.underlay's address/);
  });
});

describe('IPv6 ECMP hash policy (net.ipv6.fib_multipath_hash_policy)', () => {
  // leaf1 has two equal-cost IPv6 routes to hv2's prefix through s1 and s2 (IPv6-only routers)
  const topo = (policy: string): string => `name: ecmp6
seed: 11
hosts:
  hv1:
    underlay: { ipv6: "2001:db8:1::11/64", gateway6: "2001:db8:1::1" }
    bridges: { br0: { ports: { tun0: { type: vxlan, remote_ip: "2001:db8:2::11", key: 5001 } } } }
  hv2:
    underlay: { ipv6: "2001:db8:2::11/64", gateway6: "2001:db8:2::1" }
    bridges: { br0: { ports: { tun0: { type: vxlan, remote_ip: "2001:db8:1::11", key: 5001 } } } }
routers:
  leaf1:
    ${policy}
    interfaces:
      h: { ipv6: "2001:db8:1::1/64" }
      s1: { ipv6: "2001:db8:ff:1::2/64" }
      s2: { ipv6: "2001:db8:ff:2::2/64" }
    routes: [{ to: "2001:db8:2::/64", via: ["2001:db8:ff:1::1", "2001:db8:ff:2::1"] }]
  s1:
    interfaces:
      a: { ipv6: "2001:db8:ff:1::1/64" }
      b: { ipv6: "2001:db8:ff:3::1/64" }
    routes: [{ to: default, via: "2001:db8:ff:3::2" }, { to: "2001:db8:1::/64", via: "2001:db8:ff:1::2" }]
  s2:
    interfaces:
      a: { ipv6: "2001:db8:ff:2::1/64" }
      b: { ipv6: "2001:db8:ff:4::1/64" }
    routes: [{ to: default, via: "2001:db8:ff:4::2" }, { to: "2001:db8:1::/64", via: "2001:db8:ff:2::2" }]
  leaf2:
    interfaces:
      h: { ipv6: "2001:db8:2::1/64" }
      s1: { ipv6: "2001:db8:ff:3::2/64" }
      s2: { ipv6: "2001:db8:ff:4::2/64" }
    routes: [{ to: default, via: ["2001:db8:ff:3::1", "2001:db8:ff:4::1"] }]
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24, mtu: 1400 } } }
  vm2: { host: hv2, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24, mtu: 1400 } } }
links:
  - { a: hv1.underlay, b: leaf1.h }
  - { a: leaf1.s1, b: s1.a }
  - { a: leaf1.s2, b: s2.a }
  - { a: s1.b, b: leaf2.s1 }
  - { a: s2.b, b: leaf2.s2 }
  - { a: leaf2.h, b: hv2.underlay }
scenario:
  - { at: 0s, iperf: { from: vm1, to: vm2, parallel: 16, bytes: 20k } }
`;
  const perSpine = (text: string): [number, number] => {
    const { summary } = runTopology({ text }, { untilNs: 200_000_000 });
    const r = summary.routers as Record<string, { ipv6: { interfaces: Record<string, { forwarded_out: number }> } }>;
    return [r['leaf1']!.ipv6.interfaces['s1']!.forwarded_out, r['leaf1']!.ipv6.interfaces['s2']!.forwarded_out];
  };

  it('policy 1 (five-tuple, the default here) spreads 16 flows over both spines; policy 0 puts them on one (outer flow label 0)', () => {
    const [a1, b1] = perSpine(topo(''));
    expect(a1).toBeGreaterThan(0);
    expect(b1).toBeGreaterThan(0);
    expect(perSpine(topo('ipv6_multipath_hash_policy: 1'))).toEqual([a1, b1]); // the same run, stable
    const [a0, b0] = perSpine(topo('ipv6_multipath_hash_policy: 0'));
    expect(a0 + b0).toBeGreaterThan(0);
    expect(Math.min(a0, b0)).toBe(0);
  });

  it('refuses another policy value where it is written', () => {
    expect(rendered(topo('ipv6_multipath_hash_policy: 2'))).toMatch(/^t\.yaml:12:\d+: "ipv6_multipath_hash_policy"/);
  });
});
