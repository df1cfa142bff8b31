/**
 * `vfab run --serve` (issue 15): a bridge listening on ptcp: answers the real
 * `ovs-ofctl -O OpenFlow13` dump-flows / add-flow / dump-ports / dump-groups / show while the run
 * is paced by the wall clock, and the flow ovs-ofctl added forwards traffic.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { runTopologyAsync } from '../../src/fabric/run.js';
import { describeWithTools } from '../helpers/tools.js';
import { freePort } from './helpers.js';

const run = promisify(execFile);

describeWithTools(['ovs-ofctl'], 'vfab run --serve with real ovs-ofctl', () => {
  it('dump-flows, add-flow, dump-ports, dump-groups and show work against a running bridge', async () => {
    const port = await freePort();
    const yaml = `
name: serve
duration: 3s
hosts:
  hv1:
    bridges:
      br0:
        controller: ptcp:${port}:127.0.0.1
        fail_mode: secure
        flows: "priority=0,actions=NORMAL"
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, mac: "02:00:00:00:00:01", ipv4: 10.0.0.1/24 } } }
  vm2: { host: hv1, interfaces: { eth0: { bridge: br0, mac: "02:00:00:00:00:02", ipv4: 10.0.0.2/24 } } }
scenario:
  - { at: 100ms, ping: { from: vm1, to: vm2, count: 20, interval: 100ms } }
`;
    const T = `tcp:127.0.0.1:${port}`;
    const ofctl = async (...args: string[]): Promise<string> => (await run('ovs-ofctl', ['-O', 'OpenFlow13', ...args], { timeout: 10_000 })).stdout;
    const out: Record<string, string> = {};
    let client: Promise<void> = Promise.resolve();
    const r = await runTopologyAsync(
      { text: yaml },
      {
        openflow: {
          serve: true,
          speed: 1,
          onListening: () => {
            client = (async () => {
              out['before'] = await ofctl('dump-flows', T);
              await ofctl('add-flow', T, 'priority=100,icmp,actions=NORMAL');
              out['after'] = await ofctl('dump-flows', T);
              out['ports'] = await ofctl('dump-ports', T);
              out['groups'] = await ofctl('dump-groups', T);
              out['show'] = await ofctl('show', T);
            })();
          },
        },
      },
    );
    await client;
    expect(out['before']).toMatch(/OFPST_FLOW reply \(OF1\.3\)/);
    expect(out['before']).toMatch(/priority=0 actions=NORMAL/);
    expect(out['after']).toMatch(/priority=100,icmp actions=NORMAL/);
    expect(out['ports']).toMatch(/OFPST_PORT reply \(OF1\.3\).*3 ports/);
    expect(out['ports']).toMatch(/port {2}1: rx pkts=\d+/);
    expect(out['groups']).toMatch(/OFPST_GROUP_DESC reply \(OF1\.3\)/);
    expect(out['show']).toMatch(/dpid:0000000000000001/);
    expect(out['show']).toMatch(/1\(vm1-eth0\)/);
    // The flow ovs-ofctl added is in the bridge's table and carried the later pings.
    const dump = r.fabric.ctx.bridges.get('hv1.br0')!.dumpFlows();
    expect(dump).toMatch(/n_packets=[1-9]\d*,.*priority=100,icmp actions=NORMAL/);
    const ping = r.summary.apps[0] as unknown as { sent: number; received: number };
    expect(ping.received).toBe(ping.sent);
  }, 60_000);
});
