import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/fabric/run.js';
import { loadTopologyText } from '../../src/topology/index.js';

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
