/**
 * Flow-based tunnel ports over an IPv6 underlay (OVS options:remote_ip=flow with
 * set_field:…->tun_ipv6_dst; ofproto/tunnel.c tnl_port_send / tnl_find, ofproto-dpif-xlate.c
 * native_tunnel_output): the outer IPv6 destination comes from the flows, decapsulated frames
 * carry tun_ipv6_src/tun_ipv6_dst that flows match, and one remote_ip=flow port on a dual-stack
 * underlay serves both families (IPv4 tun_dst first, as flow_tnl_dst).
 */
import { describe, expect, it } from 'vitest';
import { Fabric } from '../../src/fabric/fabric.js';
import { loadTopologyText, runTopology } from '../../src/index.js';
import type { Frame } from '../../src/port/port.js';
import { tunnelPair } from './helpers.js';

type Ports = Record<string, { drops: Record<string, number> }>;

interface Opts {
  port1?: string;
  port2?: string;
  flows1: string;
  flows2: string;
  /** hv1's underlay: IPv6 only (default) or dual stack */
  dual?: boolean;
}

const FLOWS1 = [
  'priority=10,in_port=vm1-eth0,actions=set_field:2001:db8:2::11->tun_ipv6_dst,set_field:5001->tun_id,output:tun0',
  'priority=10,in_port=tun0,tun_id=5001,tun_ipv6_src=2001:db8:2::11,tun_ipv6_dst=2001:db8:1::11,actions=output:vm1-eth0',
].join('\n');
const FLOWS2 = [
  'priority=10,in_port=vm2-eth0,actions=set_field:2001:db8:1::11->tun_ipv6_dst,set_tunnel:5001,output:tun0',
  'priority=10,in_port=tun0,tun_ipv6_src=2001:db8:1::/64,actions=output:vm2-eth0',
].join('\n');

function topo(o: Opts): string {
  const flowPort = '{ type: vxlan, remote_ip: flow, key: flow }';
  return tunnelPair({
    port1: o.port1 ?? flowPort,
    port2: o.port2 ?? flowPort,
    flows1: o.flows1,
    flows2: o.flows2,
    underlay: o.dual ? 'dual' : 'ipv6',
    vmMtu: 1400,
    seed: 3,
    extra: '  - { at: 0s, ping: { from: vm1, to: vm2, count: 3, interval: 10ms } }',
  });
}

/** What hv1's underlay sends (IPv6 UDP frames): outer source, destination, VNI. */
function sent(text: string): { src: string; dst: string; vni: number; ipv6: boolean }[] {
  const fabric = new Fabric(loadTopologyText(text, 'f.yaml'));
  const out: { src: string; dst: string; vni: number; ipv6: boolean }[] = [];
  const hex = (f: Frame, a: number, b: number): string => Buffer.from(f.subarray(a, b)).toString('hex');
  fabric.ctx.ports.get('hv1.underlay')!.onFrame((_p, dir, f) => {
    if (dir !== 'tx') return;
    if (f[12] === 0x86 && f[13] === 0xdd && f[20] === 17) out.push({ src: hex(f, 22, 38), dst: hex(f, 38, 54), vni: (f[66]! << 16) | (f[67]! << 8) | f[68]!, ipv6: true });
    if (f[12] === 0x08 && f[13] === 0x00 && f[23] === 17) out.push({ src: hex(f, 26, 30), dst: hex(f, 30, 34), vni: (f[46]! << 16) | (f[47]! << 8) | f[48]!, ipv6: false });
  });
  fabric.run({ untilNs: 100_000_000 });
  fabric.close();
  return out;
}

describe('remote_ip=flow over an IPv6 underlay', () => {
  it('sends to tun_ipv6_dst with VNI tun_id and delivers by matching tun_ipv6_src/tun_ipv6_dst', () => {
    const { summary } = runTopology({ text: topo({ flows1: FLOWS1, flows2: FLOWS2 }) }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ sent: 3, received: 3 });
    const s = sent(topo({ flows1: FLOWS1, flows2: FLOWS2 }));
    expect(s.length).toBeGreaterThanOrEqual(3);
    // outer source: the underlay's address; destination: what set_field put in tun_ipv6_dst
    for (const x of s) expect(x).toEqual({ src: '20010db8000100000000000000000011', dst: '20010db8000200000000000000000011', vni: 5001, ipv6: true });
  });

  it('a flow matching another tun_ipv6_src drops the decapsulated frame at the table', () => {
    const flows1 = FLOWS1.replace('tun_ipv6_src=2001:db8:2::11', 'tun_ipv6_src=2001:db8:2::12');
    const { summary } = runTopology({ text: topo({ flows1, flows2: FLOWS2 }) }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ received: 0 });
    expect((summary.ports as Ports)['hv1.br0.tun0']!.drops['table-miss']).toBeGreaterThan(0);
  });

  it('with no tun_ipv6_dst (and no tun_dst) the frame is dropped no-tunnel-dst', () => {
    const flows1 = FLOWS1.replace('set_field:2001:db8:2::11->tun_ipv6_dst,', '');
    const { summary } = runTopology({ text: topo({ flows1, flows2: FLOWS2 }) }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ received: 0 });
    expect((summary.ports as Ports)['hv1.br0.tun0']!.drops['no-tunnel-dst']).toBeGreaterThan(0);
  });

  it('a fixed IPv6 remote_ip port fills tun_ipv6_src/dst too, and a flow port receives from it (tnl_find)', () => {
    const flows1 = ['priority=10,in_port=vm1-eth0,actions=output:tun0', 'priority=10,in_port=tun0,tun_ipv6_src=2001:db8:2::11,tun_ipv6_dst=2001:db8:1::11,actions=output:vm1-eth0'].join('\n');
    const { summary } = runTopology({ text: topo({ port1: '{ type: vxlan, remote_ip: "2001:db8:2::11", key: 5001 }', flows1, flows2: FLOWS2 }) }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ sent: 3, received: 3 });
  });

  it('on a dual-stack underlay one flow port sends IPv4 when tun_dst is set and IPv6 when only tun_ipv6_dst is', () => {
    // hv1 sets both (IPv4 wins: flow_tnl_dst) for the first ping, hence drops at hv2 (no IPv4 there)
    const both = FLOWS1.replace('actions=set_field:2001', 'actions=set_field:198.51.100.12->tun_dst,set_field:2001');
    const s4 = sent(topo({ dual: true, flows1: both, flows2: FLOWS2 }));
    expect(s4.length).toBeGreaterThan(0);
    expect(s4.every((x) => !x.ipv6 && x.dst === 'c633640c')).toBe(true);
    const s6 = sent(topo({ dual: true, flows1: FLOWS1, flows2: FLOWS2 }));
    expect(s6.length).toBeGreaterThan(0);
    expect(s6.every((x) => x.ipv6 && x.vni === 5001)).toBe(true);
    const { summary } = runTopology({ text: topo({ dual: true, flows1: FLOWS1, flows2: FLOWS2 }) }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ sent: 3, received: 3 });
  });

  it('an exact tun_ipv6_src match on the receiver rejects frames from any other remote', () => {
    // hv2 accepts only 2001:db8:1::12; hv1 (2001:db8:1::11) is refused at the table
    const flows2 = FLOWS2.replace('tun_ipv6_src=2001:db8:1::/64', 'tun_ipv6_src=2001:db8:1::12');
    const { summary } = runTopology({ text: topo({ flows1: FLOWS1, flows2 }) }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ received: 0 });
    expect((summary.ports as Ports)['hv2.br0.tun0']!.drops['table-miss']).toBeGreaterThan(0);
  });
});
