/**
 * topologies/ovs-conntrack-firewall.yaml: a stateful firewall in a running fabric, driven by the
 * guests' own TCP (rpc app): connections from inside complete, connections from outside never
 * get a SYN through, and the bridge's tracker holds the inside connections.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/fabric/run.js';
import { loadTopologyText } from '../../src/topology/index.js';

const FILE = join(process.cwd(), 'topologies', 'ovs-conntrack-firewall.yaml');

function run(text: string) {
  const r = runTopology(loadTopologyText(text, FILE));
  return r.summary as unknown as {
    apps: { app: string; name: string; issued: number; completed: number }[];
    ports: Record<string, { drops: Record<string, number> }>;
  };
}

describe('topologies/ovs-conntrack-firewall.yaml', () => {
  const text = readFileSync(FILE, 'utf8');

  it('inside-initiated TCP completes, outside-initiated TCP is dropped', () => {
    const s = run(text);
    const out = s.apps.find((a) => a.name === 'out')!;
    const inb = s.apps.find((a) => a.name === 'in')!;
    expect(out.issued).toBeGreaterThan(10);
    expect(out.completed).toBe(out.issued);
    expect(inb.issued).toBeGreaterThan(10);
    expect(inb.completed).toBe(0);
    expect(s.ports['hv1.br0.vm2-eth0']!.drops['drop-action']).toBeGreaterThan(0);
  });

  it('without the +est rule for replies, inside connections fail too (the firewall is what decides)', () => {
    const s = run(text.replace('table=1,in_port=vm2-eth0,ip,ct_state=+trk+est,actions=output:vm1-eth0\n', ''));
    expect(s.apps.find((a) => a.name === 'out')!.completed).toBe(0);
  });
});
