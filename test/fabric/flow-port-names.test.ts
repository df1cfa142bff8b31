import { describe, expect, it } from 'vitest';
import { runTopology, UserError, type AppSummary } from '../../src/index.js';

const topo = (outPort: string) => `name: t
hosts:
  hv1:
    bridges:
      br0:
        flows: |
          priority=10,arp,actions=flood
          priority=5,in_port=vm1-eth0,actions=output:${outPort}
          priority=5,in_port=vm2-eth0,actions=output:vm1-eth0
vms:
  vm1:
    host: hv1
    interfaces:
      eth0: { bridge: br0, ipv4: 10.0.0.1/24 }
  vm2:
    host: hv1
    interfaces:
      eth0: { bridge: br0, ipv4: 10.0.0.2/24 }
scenario:
  - { at: 10ms, ping: { from: vm1, to: vm2, count: 3, interval: 10ms } }
`;

describe('flows naming bridge ports in a topology', () => {
  it('resolve names of VM ports that are plugged after the bridge is built', () => {
    const { summary } = runTopology({ text: topo('vm2-eth0'), file: 't.yaml' }, { untilNs: 1e9 });
    const ping = summary.apps[0] as AppSummary & { sent: number; received: number };
    expect(ping.sent).toBe(3);
    expect(ping.received).toBe(3);
  });

  it('reject a port name that no port has, at the flow line, instead of silently dropping everything', () => {
    let err: unknown;
    try {
      runTopology({ text: topo('vm9-eth0'), file: 't.yaml' }, { untilNs: 1e9 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).render()).toMatch(/^t\.yaml:8:\d+: .*vm9-eth0/);
  });
});
