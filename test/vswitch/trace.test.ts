import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { runTopology } from '../../src/fabric/run.js';
import { loadTopology } from '../../src/topology/load.js';
import { traceTopology } from '../../src/fabric/topology-trace.js';
import { pickBridge } from '../../src/vswitch/inspect.js';
import { BridgeTracer, formatTraceResult, parsePortSpec } from '../../src/vswitch/trace.js';

const TOPO = join(import.meta.dirname, '../../topologies/two-hosts.yaml');

describe('bare-bridge trace', () => {
  it('parses --port specs with tag, trunks and vlan_mode', () => {
    expect(parsePortSpec('p1:1')).toEqual({ name: 'p1', ofport: 1 });
    expect(parsePortSpec('p3:3:trunks=10,20')).toEqual({ name: 'p3', ofport: 3, trunks: [10, 20] });
    expect(parsePortSpec('p5:5:tag=30:vlan_mode=native-untagged')).toEqual({ name: 'p5', ofport: 5, tag: 30, vlanMode: 'native-untagged' });
    expect(() => parsePortSpec('p1')).toThrow(UserError);
    expect(() => parsePortSpec('p1:1:tag=5000')).toThrow(/0\.\.4095/);
    expect(() => parsePortSpec('p1:1:vlan_mode=dot1q-tunnel')).toThrow(/vlan_mode/);
  });

  it('reports outputs with the VLAN they leave with and rewritten fields, or the drop reason', () => {
    const t = new BridgeTracer({
      flows: 'priority=10,in_port=1,ip,actions=mod_nw_dst:10.0.0.9,mod_vlan_vid:20,output:2\npriority=5,actions=NORMAL',
      ports: [{ name: 'p1', ofport: 1 }, { name: 'p2', ofport: 2, tag: 20 }, { name: 'p3', ofport: 3, trunks: [20] }],
    });
    const r = t.trace('in_port=1,ip,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64');
    expect(r).toEqual({ packet: r.packet, outputs: [{ port: 'p2', ofport: 2, vlan: 20, set: { nw_dst: '10.0.0.9' } }], drop: null });
    const d = t.trace('in_port=3,dl_src=00:00:00:00:00:03,dl_dst=ff:ff:ff:ff:ff:ff,dl_type=0x88b5');
    expect(d.outputs).toEqual([]);
    expect(d.drop).toBe('vlan-filter');
    expect(formatTraceResult(d)).toBe('drop (vlan-filter)');
  });

  it('replays a migration: a GARP from a known MAC on a new port moves it, unicast follows', () => {
    const t = new BridgeTracer({ flows: 'actions=NORMAL', ports: [1, 2, 3].map((i) => ({ name: `p${i}`, ofport: i })), localNoFlood: true });
    t.trace('in_port=1,arp,dl_src=00:00:00:00:00:0a,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa=10.0.0.10,arp_tpa=10.0.0.11');
    expect(t.trace('in_port=2,dl_src=00:00:00:00:00:0b,dl_dst=00:00:00:00:00:0a,dl_type=0x88b5').outputs.map((o) => o.port)).toEqual(['p1']);
    t.trace('in_port=3,arp,dl_src=00:00:00:00:00:0a,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa=10.0.0.10,arp_tpa=10.0.0.10');
    expect(t.fdb()).toEqual([
      { port: '3', vlan: 0, mac: '00:00:00:00:00:0a' },
      { port: '2', vlan: 0, mac: '00:00:00:00:00:0b' },
    ]);
    expect(t.trace('in_port=2,dl_src=00:00:00:00:00:0b,dl_dst=00:00:00:00:00:0a,dl_type=0x88b5').outputs.map((o) => o.port)).toEqual(['p3']);
    // Side-effect-free trace: nothing learned.
    t.trace('in_port=1,dl_src=00:00:00:00:00:0c,dl_dst=00:00:00:00:00:0a,dl_type=0x88b5', { mayLearn: false });
    expect(t.fdb().length).toBe(2);
  });

  it('points at the flows file line and column of a bad flow', () => {
    let err: unknown;
    try {
      new BridgeTracer({ flows: 'actions=NORMAL\npriority=1,tcp,tp_dst=80,actions=bogus', flowsFile: 'x.flows', ports: [] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).render().split('\n')[0]).toBe('x.flows:2:34: unknown action bogus');
  });
});

describe('topology trace and inspection', () => {
  it('follows an ARP broadcast from vm1 across hv1.br0, the ToR and hv2.br0 to vm3 only (VLAN 10)', () => {
    const r = traceTopology(loadTopology(TOPO), { from: 'vm1.eth0', packet: 'dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.3' });
    expect(r.delivered).toEqual(['vm3.eth0']);
    const bridges = r.steps.filter((s) => s.kind === 'bridge').map((s) => (s.kind === 'bridge' ? s.bridge : ''));
    expect(bridges).toEqual(['hv1.br0', 'tor', 'hv2.br0']);
    const links = r.steps.filter((s) => s.kind === 'link').map((s) => (s.kind === 'link' ? `${s.from}>${s.to}` : ''));
    expect(links).toEqual(['hv1.br0.uplink>tor.p1', 'tor.p2>hv2.br0.uplink']);
    const tor = r.steps.find((s) => s.kind === 'bridge' && s.bridge === 'tor');
    expect(tor?.kind === 'bridge' && tor.outputs.find((o) => o.port === 'tor.p2')?.vlan).toBe(10);
  });

  it('names an unknown --from interface with the ones that exist', () => {
    expect(() => traceTopology(loadTopology(TOPO), { from: 'vm9.eth0', packet: 'ip' })).toThrow(/no VM interface vm9\.eth0/);
  });

  it('dumps flows with counters and the MAC table after running the scenario', () => {
    const { fabric } = runTopology(TOPO, { untilNs: 500_000_000 });
    const br = pickBridge(fabric.ctx.bridges, 'hv1.br0');
    const stats = br.flowStats();
    expect(stats.length).toBe(1);
    expect(stats[0]!.n_packets).toBeGreaterThan(0);
    expect(br.dumpFlows()).toMatch(/^NXST_FLOW reply \(xid=0x4\):\n cookie=0x0, duration=0\.500s, table=0, n_packets=\d+, n_bytes=\d+, idle_age=\d+, priority=0 actions=NORMAL\n$/);
    expect(br.fdbShow().split('\n')[0]).toBe(' port  VLAN  MAC                Age');
    expect(br.macEntries().map((e) => e.vlan).sort()).toContain(10);
    expect(() => pickBridge(fabric.ctx.bridges, 'nope')).toThrow(expect.objectContaining({ hint: 'one of: hv1.br0, hv2.br0, tor' }));
  });
});
