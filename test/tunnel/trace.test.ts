/** `vfab trace` in topology mode follows a packet through encapsulation, the routed underlay and decapsulation. */
import { describe, expect, it } from 'vitest';
import { loadTopology } from '../../src/index.js';
import { renderTopologyTrace, traceTopology, type TopologyTraceStep } from '../../src/fabric/topology-trace.js';

describe('topology trace through the overlay', () => {
  const r = traceTopology(loadTopology('topologies/overlay-vxlan.yaml'), { from: 'vmb1.eth0', packet: 'icmp,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=10.0.0.1,nw_dst=10.0.0.2' });
  const kinds = r.steps.filter((s) => s.kind !== 'link').map((s) => (s.kind === 'route' ? `route ${s.router}` : s.kind === 'bridge' ? `bridge ${s.bridge}` : s.kind));

  it('lists bridge, encap, each router hop, decap, bridge, delivery in order, and stays in tenant B', () => {
    expect(kinds).toEqual(['bridge hv1.br-b', 'encap', 'route leaf1', expect.stringMatching(/^route s[12]$/), 'route leaf2', 'decap', 'bridge hv2.br-b', 'deliver']);
    expect(r.delivered).toEqual(['vmb2.eth0']);
    const encap = r.steps.find((s) => s.kind === 'encap') as Extract<TopologyTraceStep, { vni: number }>;
    expect(encap).toMatchObject({ port: 'hv1.underlay', type: 'vxlan', vni: 5002, src: '192.168.1.11', dst: '192.168.2.11', dport: 4789 });
    const decap = r.steps.find((s) => s.kind === 'decap') as Extract<TopologyTraceStep, { vni: number }>;
    expect(decap).toMatchObject({ port: 'hv2.underlay', vni: 5002, sport: encap.sport });
  });

  it('names the route each router used, and the packet leaves by the port the trace names (ECMP included)', () => {
    const steps = r.steps;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]!;
      if (s.kind !== 'route') continue;
      const next = steps.slice(i + 1).find((x) => x.kind === 'link');
      expect(next).toMatchObject({ kind: 'link', from: s.out });
    }
    const leaf1 = steps.find((s) => s.kind === 'route' && s.router === 'leaf1') as Extract<TopologyTraceStep, { kind: 'route' }>;
    expect(leaf1.route).toBe('0.0.0.0/0 (ECMP 2 paths)');
    expect(renderTopologyTrace(r)).toMatch(/encapsulated at hv1\.underlay: VXLAN VNI 5002, 192\.168\.1\.11:\d+ -> 192\.168\.2\.11:4789/);
  });
});
