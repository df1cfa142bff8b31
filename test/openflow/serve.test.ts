/**
 * `vfab run --serve` (issue 15): a bridge listening on ptcp: answers the real
 * `ovs-ofctl -O OpenFlow13` dump-flows / add-flow / dump-ports / show, add-group / dump-groups /
 * dump-group-stats / dump-group-features, add-meter / dump-meters / meter-stats / meter-features while the run
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
  it('dump-flows, add-flow, dump-ports, show, and groups and meters (add, dump, stats, features) work against a running bridge', async () => {
    const port = await freePort();
    const yaml = `
name: serve
duration: 30s
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
    // The run serves until the client is done (and the 20 pings are over), whatever the machine's load.
    const stop = new AbortController();
    const r = await runTopologyAsync(
      { text: yaml },
      {
        openflow: {
          serve: true,
          speed: 1,
          signal: stop.signal,
          onListening: () => {
            const t0 = Date.now();
            client = (async () => {
              try {
                out['before'] = await ofctl('dump-flows', T);
                await ofctl('add-flow', T, 'priority=100,icmp,actions=NORMAL');
                out['after'] = await ofctl('dump-flows', T);
                out['ports'] = await ofctl('dump-ports', T);
                out['groups'] = await ofctl('dump-groups', T);
                out['show'] = await ofctl('show', T);
                // Groups and meters over the wire: GROUP_MOD / METER_MOD, then the stats replies.
                await ofctl('add-group', T, 'group_id=7,type=all,bucket=actions=output:2');
                await ofctl('add-meter', T, 'meter=3,pktps,burst,stats,bands=type=drop,rate=1000,burst_size=100');
                await ofctl('add-flow', T, 'priority=200,icmp,in_port=1,actions=meter:3,group:7');
                await new Promise((resolve) => setTimeout(resolve, 600)); // a few pings go through
                out['groups2'] = await ofctl('dump-groups', T);
                out['groupStats'] = await ofctl('dump-group-stats', T);
                out['groupStats7'] = await ofctl('dump-group-stats', T, 'group_id=7');
                out['groupFeatures'] = await ofctl('dump-group-features', T);
                out['meters'] = await ofctl('dump-meters', T);
                out['meterStats'] = await ofctl('meter-stats', T);
                out['meterFeatures'] = await ofctl('meter-features', T);
                if (process.env['OFDEBUG']) console.log(out);
              } finally {
                await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2600 - (Date.now() - t0))));
                stop.abort();
              }
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
    // GROUP_DESC / GROUP / GROUP_FEATURES / METER_CONFIG / METER / METER_FEATURES replies, as ovs-ofctl prints them.
    expect(out['groups2']).toMatch(/^ group_id=7,type=all,bucket=actions=output:2$/m);
    for (const k of ['groupStats', 'groupStats7']) expect(out[k]).toMatch(/^OFPST_GROUP reply \(OF1\.3\).*\n group_id=7,duration=[\d.]+s,ref_count=1,packet_count=([1-9]\d*),byte_count=\d+,bucket0:packet_count=\1,byte_count=\d+$/m);
    expect(out['groupFeatures']).toMatch(/Types: {2}0xf[\s\S]*fast failover group:\n {7}max_groups=0x10000/);
    expect(out['meters']).toMatch(/meter=3 pktps burst stats bands=\ntype=drop rate=1000 burst_size=100/);
    expect(out['meterStats']).toMatch(/^meter:3 flow_count:1 packet_in_count:[1-9]\d* byte_in_count:[1-9]\d* duration:[\d.]+s bands:\n0: packet_count:0 byte_count:0$/m);
    expect(out['meterFeatures']).toMatch(/max_meter:65536 max_bands:8[\s\S]*band_types: drop/);
    // The flow ovs-ofctl added is in the bridge's table and carried the later pings.
    const dump = r.fabric.ctx.bridges.get('hv1.br0')!.dumpFlows();
    expect(dump).toMatch(/n_packets=[1-9]\d*,.*priority=100,icmp actions=NORMAL/);
    const ping = r.summary.apps[0] as unknown as { sent: number; received: number };
    expect(ping.received).toBe(ping.sent);
  }, 60_000);
});
