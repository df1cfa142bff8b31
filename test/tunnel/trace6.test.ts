/** `vfab trace` in topology mode over an IPv6 underlay: encapsulation, each router's IPv6 route (ECMP included), decapsulation. */
import { describe, expect, it } from 'vitest';
import { loadTopology } from '../../src/index.js';
import { renderTopologyTrace, traceTopology, type TopologyTraceStep } from '../../src/fabric/topology-trace.js';

describe('topology trace over an IPv6 underlay', () => {
  const r = traceTopology(loadTopology('topologies/overlay-vxlan6.yaml'), { from: 'vmb1.eth0', packet: 'icmp,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=10.0.0.1,nw_dst=10.0.0.2' });
  const kinds = r.steps.filter((s) => s.kind !== 'link').map((s) => (s.kind === 'route' ? `route ${s.router}` : s.kind === 'bridge' ? `bridge ${s.bridge}` : s.kind));

  it('lists bridge, encap (Geneve over IPv6), each router hop, decap, bridge, delivery, in tenant B only', () => {
    expect(kinds).toEqual(['bridge hv1.br-b', 'encap', 'route leaf1', expect.stringMatching(/^route s[12]$/), 'route leaf2', 'decap', 'bridge hv2.br-b', 'deliver']);
    expect(r.delivered).toEqual(['vmb2.eth0']);
    const encap = r.steps.find((s) => s.kind === 'encap') as Extract<TopologyTraceStep, { vni: number }>;
    expect(encap).toMatchObject({ port: 'hv1.underlay', type: 'geneve', vni: 7001, src: '[2001:db8:1::11]', dst: '[2001:db8:2::11]', dport: 6081 });
    const decap = r.steps.find((s) => s.kind === 'decap') as Extract<TopologyTraceStep, { vni: number }>;
    expect(decap).toMatchObject({ port: 'hv2.underlay', vni: 7001, sport: encap.sport });
  });

  it('names each IPv6 route; the packet leaves by the port the trace names', () => {
    const steps = r.steps;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]!;
      if (s.kind !== 'route') continue;
      expect(steps.slice(i + 1).find((x) => x.kind === 'link')).toMatchObject({ kind: 'link', from: s.out });
    }
    const leaf1 = steps.find((s) => s.kind === 'route' && s.router === 'leaf1') as Extract<TopologyTraceStep, { kind: 'route' }>;
    expect(leaf1.route).toBe('::/0 (ECMP 2 paths)');
    expect(leaf1.via).toMatch(/^2001:db8:ff:[12]1::1$/);
    const leaf2 = steps.find((s) => s.kind === 'route' && s.router === 'leaf2') as Extract<TopologyTraceStep, { kind: 'route' }>;
    expect(leaf2).toMatchObject({ route: '2001:db8:2::/64', via: 'connected', out: 'leaf2.h1' });
    expect(renderTopologyTrace(r)).toMatch(/encapsulated at hv1\.underlay: GENEVE VNI 7001, \[2001:db8:1::11\]:\d+ -> \[2001:db8:2::11\]:6081/);
  });
});
