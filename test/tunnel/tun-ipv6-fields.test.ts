/**
 * tun_ipv6_src / tun_ipv6_dst (ovs-fields(7) "Tunnel fields", lib/meta-flow.xml): flows match
 * and write the outer IPv6 addresses of a tunnel, and `remote_ip=flow` tunnel ports send over IPv6
 * to the flow's tun_ipv6_dst (ofproto/tunnel.c tnl_port_send, ofproto-dpif-xlate.c
 * native_tunnel_output).
 *
 * test/fixtures/tun-ipv6/ holds what a live Open vSwitch 3.1.0 answered for a bridge with a
 * `remote_ip=flow,key=flow` VXLAN port and a `remote_ip=2001:db8::3` one (ovs-trace.sh with
 * bridge.spec, flows.txt, packets.txt → trace.log, expected.txt); the live suite re-runs the oracle
 * when OVS is installed. dump-flows spellings are in test/fixtures/ovs-dump/cases/tun-ipv6.*.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BridgeTracer } from '../../src/vswitch/trace.js';
import { describeLiveOvsTrace } from '../helpers/ovs-live-trace.js';

const FIX = join(import.meta.dirname, '../fixtures/tun-ipv6');

/** One `ofproto/trace` block, as far as a bare bridge tracer models it. */
function view(block: string): Record<string, string> {
  const all = block.split('\n');
  // OVS's native tunnel output re-enters br0 as the encapsulated packet (a second bridge("br0")
  // section): vfab's bare tracer stops at the tunnel port, so only the first section is compared.
  const second = all.findIndex((x, i) => i > 3 && x.startsWith('bridge("'));
  const first = second < 0 ? all : all.slice(0, second);
  const line = (prefix: string): string => all.find((x) => x.startsWith(prefix)) ?? '';
  return {
    flow: line('Flow: '),
    final: line('Final flow: '),
    // A tunnel port's output unwildcards nw_ecn (tnl_port_send: ECN is always inherited); the bare
    // tracer does not know which ports are tunnels, so that one token is left out for those packets.
    megaflow: /^\s+(->|>>) .*tunnel/im.test(block) ? line('Megaflow: ').replace(',nw_ecn=0', '') : line('Megaflow: '),
    // rule and action lines; the native-tunnel details (`-> tunneling to …`) need the datapath
    rules: first.filter((x) => /^\s+\d+\. /.test(x) || /^ {4}[a-z_]/.test(x) || /is now/.test(x)).map((x) => x.trim()).join('\n'),
  };
}

function ovsBlocks(log: string): string[] {
  return log
    .split(/^=+\n/m)
    .map((b) => b.replace(/^\[\d+\][^\n]*\n/, ''))
    .filter((b) => b.startsWith('Flow:'));
}

function vfabBlocks(): string[] {
  const tracer = new BridgeTracer({ flows: readFileSync(join(FIX, 'flows.txt'), 'utf8'), ports: [1, 2, 3].map((n) => ({ name: `p${n}`, ofport: n })) });
  return readFileSync(join(FIX, 'packets.txt'), 'utf8')
    .split('\n')
    .filter((x) => x.startsWith('trace '))
    .map((x) => tracer.trace(x.slice(6), { mayLearn: false, ovs: true }).ovs!.text);
}

function compareWithOvs(log: string): void {
  const ovs = ovsBlocks(log).map(view);
  const got = vfabBlocks().map(view);
  expect(got).toHaveLength(ovs.length);
  for (let i = 0; i < ovs.length; i++) expect({ packet: i + 1, ...got[i] }).toEqual({ packet: i + 1, ...ovs[i] });
}

describe('ofproto/trace with tun_ipv6_src/tun_ipv6_dst equals the recorded Open vSwitch 3.1.0', () => {
  it('Flow, Final flow and Megaflow lines, rule lines and the loads a set_field of an IPv6 tunnel address becomes', () => {
    compareWithOvs(readFileSync(join(FIX, 'trace.log'), 'utf8'));
  });
});

describeLiveOvsTrace('ofproto/trace with tun_ipv6 fields equals a live Open vSwitch', FIX, (log) => compareWithOvs(log));
