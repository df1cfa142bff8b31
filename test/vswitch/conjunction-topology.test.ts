/**
 * topologies/ovs-security-groups.yaml: security groups written as conjunctive matches in a
 * running fabric, driven by the guests' own TCP (rpc app). Only the remote group's new
 * connections to the allowed ports (one port, one port range) get through; the conjunction's
 * conj_id flow is what admits them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/fabric/run.js';
import { loadTopologyText } from '../../src/topology/index.js';

const FILE = join(process.cwd(), 'topologies', 'ovs-security-groups.yaml');

function apps(text: string): Record<string, { issued: number; completed: number }> {
  const s = runTopology(loadTopologyText(text, FILE)).summary as unknown as { apps: { name: string; issued: number; completed: number }[] };
  return Object.fromEntries(s.apps.map((a) => [a.name, { issued: a.issued, completed: a.completed }]));
}

describe('topologies/ovs-security-groups.yaml', () => {
  const text = readFileSync(FILE, 'utf8');

  it('the remote group reaches the allowed port and port range; other sources and ports do not', () => {
    const a = apps(text);
    for (const n of ['allowed', 'range']) {
      expect(a[n]!.issued, n).toBeGreaterThan(10);
      expect(a[n]!.completed, n).toBe(a[n]!.issued);
    }
    for (const n of ['not-in-group', 'wrong-port']) expect(a[n]!.completed, n).toBe(0);
  });

  it('without the conj_id flow the complete conjunction admits nothing (the ordinary drop below it wins)', () => {
    const a = apps(text.replace('          table=1,priority=70,conj_id=7,ip,actions=ct(commit),NORMAL\n', ''));
    expect(a.allowed!.completed).toBe(0);
    expect(a.range!.completed).toBe(0);
  });
});
