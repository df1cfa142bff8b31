import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/fabric/run.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { UserError } from '../../src/errors.js';

const FILE = join(process.cwd(), 'topologies', 'ovs-groups.yaml');

function run(text: string) {
  const r = runTopology(loadTopologyText(text, FILE));
  const s = r.summary as unknown as {
    apps: { app: string; loss_pct?: number; received_packets?: number; sent_packets?: number }[];
    ports: Record<string, { tx_packets: number; drops: Record<string, number> }>;
  };
  return s;
}

describe('topologies/ovs-groups.yaml', () => {
  const text = readFileSync(FILE, 'utf8');

  it('fast-failover groups move traffic to the second uplinks when swA fails, so no ping is lost', () => {
    const s = run(text);
    expect(s.apps.find((a) => a.app === 'ping')!.loss_pct).toBe(0);
    expect(s.ports['hv1.br0.up2']!.tx_packets).toBeGreaterThan(0);
    expect(s.ports['hv2.br0.upB']!.tx_packets).toBeGreaterThan(0);
  });

  it('without the far-side failure, hv2 keeps answering into the dead path (fast failover sees only local links)', () => {
    const s = run(text.replace('  - { at: 1500ms, link_down: swA.p2 }\n', ''));
    expect(s.apps.find((a) => a.app === 'ping')!.loss_pct).toBeGreaterThan(0);
  });

  it("the 1 Mbit/s meter passes at most its rate plus its burst of vm2's 5 Mbit/s stream", () => {
    const s = run(text);
    const udp = s.apps.find((a) => a.app === 'udp')!;
    // Token bucket bound: 2 s × 1,000,000 bit/s + 100 kbit burst, in 1042-byte frames.
    expect(udp.received_packets!).toBeLessThanOrEqual(Math.floor((2_000_000 + 100_000) / (1042 * 8)) + 1);
    expect(udp.received_packets!).toBeGreaterThanOrEqual(Math.floor(2_000_000 / (1042 * 8)) - 2);
    expect(s.ports['hv1.br0.vm2-eth0']!.drops['meter']).toBe(udp.sent_packets! - udp.received_packets!);
  });
});

describe('scenario flow_mod / group_mod / meter_mod', () => {
  const text = readFileSync(FILE, 'utf8');

  it('a meter_mod raising the rate at 1.2 s lets more of the stream through; a flow_mod deleting vm1\'s flow stops its pings', () => {
    const base = run(text);
    const changed = run(
      `${text}  - { at: 1200ms, meter_mod: { bridge: hv1.br0, command: modify, meter: "meter=1,kbps,burst,bands=type=drop,rate=50000,burst_size=100" } }\n` +
        `  - { at: 1050ms, flow_mod: { bridge: hv1.br0, command: delete_strict, flow: "priority=10,in_port=vm1-eth0" } }\n`,
    );
    const rx = (s: typeof base): number => s.apps.find((a) => a.app === 'udp')!.received_packets!;
    // From 1.2 s the 5 Mbit/s stream fits the 50 Mbit/s meter: about 1 s × 625 packets/s more get through.
    expect(rx(changed) - rx(base)).toBeGreaterThan(500);
    // Pings every 100 ms from 100 ms: the 10 sent before 1.05 s are answered, the other 10 are not.
    expect(changed.apps.find((a) => a.app === 'ping')!.loss_pct).toBe(50);
  });

  it('a group_mod adding a bucket that names a missing port fails the run at the scenario step', () => {
    const bad = `${text}  - { at: 1s, group_mod: { bridge: hv1.br0, command: modify, group: "group_id=1,type=all,bucket=output:nope" } }\n`;
    expect(() => run(bad)).toThrow(/nope/);
    try {
      run(bad);
    } catch (e) {
      expect(e instanceof UserError && e.location?.file === FILE && e.location.line > 60).toBe(true);
    }
  });
});
