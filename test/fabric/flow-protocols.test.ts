import { describe, expect, it } from 'vitest';
import { runTopology, UserError, type AppSummary } from '../../src/index.js';

// Bridge options `protocols:` (ovs-ofctl -O) and `strict:`; what OVS does with each flow was
// recorded in test/fixtures/ovs-corpus (a03-push-vlan-set-vid, a10-prereq-missing-dropped).
const topo = (extra: string, flow: string) => `name: t
hosts:
  hv1:
    bridges:
      br0:
${extra}        flows: |
          priority=10,arp,actions=NORMAL
          ${flow}
          priority=1,actions=NORMAL
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
  - { at: 10ms, ping: { from: vm1, to: vm2, count: 2, interval: 10ms } }
`;

function errorOf(text: string): UserError {
  try {
    runTopology({ text, file: 't.yaml' }, { untilNs: 1e9 });
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('bridge protocols and strict flow checking in a topology', () => {
  it('refuses push_vlan under the default OpenFlow 1.0 at its line, and loads it with protocols: [OpenFlow13]', () => {
    const flow = 'priority=5,dl_type=0x88b5,actions=push_vlan:0x8100,NORMAL';
    expect(errorOf(topo('', flow)).render()).toMatch(/^t\.yaml:8:\d+: none of the usable flow formats \(OXM,OpenFlow11\)/);
    const { summary } = runTopology({ text: topo('        protocols: [OpenFlow10, OpenFlow13]\n', flow), file: 't.yaml' }, { untilNs: 1e9 });
    expect((summary.apps[0] as AppSummary & { received: number }).received).toBe(2);
  });

  it('drops a field without its prerequisite like OVS, but strict: true makes it an error at the field', () => {
    // tp_dst without tcp: OVS drops it, so this rule drops every IP packet, pings included.
    const flow = 'priority=5,ip,tp_dst=80,actions=drop';
    const { summary } = runTopology({ text: topo('', flow), file: 't.yaml' }, { untilNs: 1e9 });
    expect((summary.apps[0] as AppSummary & { received: number }).received).toBe(0);
    expect(errorOf(topo('        strict: true\n', flow)).render()).toMatch(/^t\.yaml:9:25: tp_dst is ignored/);
  });
});
