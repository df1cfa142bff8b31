/**
 * Flow-based tunnels (OVS options:remote_ip=flow, key=flow): the outer destination and VNI come
 * from the flows' set_field/set_tunnel, and decapsulated frames carry tun_id/tun_src/tun_dst that
 * flows match. The OVS texts below were printed by `ovs-ofctl parse-flow` (Open vSwitch 3.1).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/index.js';
import { parseFlows } from '../../src/vswitch/flow-parser.js';
import { describeWithTools } from '../helpers/tools.js';
import { tunnelPair } from './helpers.js';

type Ports = Record<string, { drops: Record<string, number> }>;
const PING = '  - { at: 0s, ping: { from: vm1, to: vm2, count: 3, interval: 10ms } }';

/** hv1's and hv2's rules: send to the other VTEP with VNI `vni`, accept only `acceptVni` from it. */
function flowPair(vni: number, acceptVni = vni): { flows1: string; flows2: string } {
  const side = (remote: string, peer: string, vm: string): string =>
    [`priority=10,in_port=${vm},actions=set_field:${vni}->tun_id,set_field:${remote}->tun_dst,output:tun0`, `priority=10,in_port=tun0,tun_id=${acceptVni},tun_src=${peer},actions=output:${vm}`].join('\n');
  return { flows1: side('198.51.100.12', '198.51.100.12', 'vm1-eth0'), flows2: side('192.0.2.11', '192.0.2.11', 'vm2-eth0') };
}

describe('flow-based tunnel ports (remote_ip=flow, key=flow)', () => {
  it('sends to tun_dst with VNI tun_id and delivers by matching tun_id and tun_src', () => {
    const port = '{ type: vxlan, remote_ip: flow, key: flow }';
    const { summary } = runTopology({ text: tunnelPair({ port1: port, port2: port, ...flowPair(5001), extra: PING }) }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ sent: 3, received: 3 });
  });

  it('a frame whose tun_id no flow accepts is dropped by the table (tenants stay apart)', () => {
    const port = '{ type: vxlan, remote_ip: flow, key: flow }';
    const { summary } = runTopology({ text: tunnelPair({ port1: port, port2: port, ...flowPair(5001, 5002), extra: PING }) }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ received: 0 });
    expect((summary.ports as Ports)['hv2.br0.tun0']!.drops['table-miss']).toBeGreaterThan(0);
  });

  it('a remote_ip=flow port with no tun_dst set drops the frame (no-tunnel-dst)', () => {
    const port = '{ type: vxlan, remote_ip: flow, key: 7 }';
    const { summary } = runTopology({ text: tunnelPair({ port1: port, port2: port, extra: PING }) }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ received: 0 });
    expect((summary.ports as Ports)['hv1.br0.tun0']!.drops['no-tunnel-dst']).toBeGreaterThan(0);
  });

  it('set_tunnel sets tun_id for a key=flow port; a fixed-key peer receives only that VNI', () => {
    const flows1 = ['priority=10,in_port=vm1-eth0,actions=set_tunnel:5001,output:tun0', 'priority=10,in_port=tun0,actions=output:vm1-eth0'].join('\n');
    const ok = runTopology({ text: tunnelPair({ port1: '{ type: vxlan, remote_ip: 198.51.100.12, key: flow }', port2: '{ type: vxlan, remote_ip: 192.0.2.11, key: 5001 }', flows1, extra: PING }) }, { untilNs: 1e9 });
    expect(ok.summary.apps[0]).toMatchObject({ received: 3 });
    const bad = runTopology({ text: tunnelPair({ port1: '{ type: vxlan, remote_ip: 198.51.100.12, key: flow }', port2: '{ type: vxlan, remote_ip: 192.0.2.11, key: 5001 }', flows1: flows1.replace('5001', '5002'), extra: PING }) }, { untilNs: 1e9 });
    expect(bad.summary.apps[0]).toMatchObject({ received: 0 });
    expect((bad.summary.ports as Ports)['hv2.underlay']!.drops['vni-mismatch']).toBeGreaterThan(0);
  });

  it('an exact-key port wins over a key=flow port on the same host (ofproto/tunnel.c tnl_find)', () => {
    // hv2 has both: the exact port tun0 (key 5001, plugged to vm2 by NORMAL) and a catch-all tunf
    // whose flows would drop; VNI 5001 must go to tun0.
    const text = tunnelPair({
      port1: '{ type: vxlan, remote_ip: 198.51.100.12, key: 5001 }',
      port2: '{ type: vxlan, remote_ip: 192.0.2.11, key: 5001 }, tunf: { type: vxlan, remote_ip: flow, key: flow }',
      flows2: ['priority=20,in_port=tunf,actions=drop', 'priority=0,actions=NORMAL'].join('\n'),
      extra: PING,
    });
    const { summary } = runTopology({ text }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ received: 3 });
    expect((summary['tunnels'] as Record<string, { decapsulated: number }>)['hv2.br0.tunf']!.decapsulated).toBe(0);
  });
});

describe('set_tunnel in the flow syntax', () => {
  it('prints as ovs-ofctl does: set_tunnel:0x1389, set_tunnel64 above 32 bits', () => {
    const text = (s: string): string => parseFlows(`actions=${s}`, { file: 't', line: 1, col: 1 })[0]!.actionsText;
    // ovs-ofctl parse-flow "actions=set_tunnel:5001" → actions=set_tunnel:0x1389
    expect(text('set_tunnel:5001')).toBe('set_tunnel:0x1389');
    // ovs-ofctl parse-flow "actions=set_tunnel:0x100000000" → actions=set_tunnel64:0x100000000
    expect(text('set_tunnel:0x100000000')).toBe('set_tunnel64:0x100000000');
    expect(() => text('set_tunnel:0x10000000000000000')).toThrow(/bad tunnel id/);
  });
});

describeWithTools(['tshark'], 'flow-based tunnels seen by tshark', () => {
  it('the VNI on the wire is the tun_id the flows set', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'overlay2-ft-')), 'ft.pcapng');
    const port = '{ type: vxlan, remote_ip: flow, key: flow }';
    runTopology({ text: tunnelPair({ port1: port, port2: port, ...flowPair(777), extra: PING }) }, { untilNs: 1e9, pcapng: file });
    const vnis = execFileSync('tshark', ['-r', file, '-Y', 'vxlan && icmp', '-T', 'fields', '-e', 'vxlan.vni'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(vnis.length).toBeGreaterThanOrEqual(6);
    expect(new Set(vnis)).toEqual(new Set(['777']));
  });
});
