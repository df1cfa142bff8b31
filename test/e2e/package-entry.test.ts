import { describe, expect, it } from 'vitest';

// The library contract: a TypeScript user imports the published entry by its package name
// (resolved through package.json "exports" to dist/, which `npm test` builds first).
describe('the vfab package entry', () => {
  it('loads and runs a topology the way a library user would', async () => {
    const vfab = await import('vfab');
    const model = vfab.loadTopology('topologies/quickstart.yaml');
    const fabric = new vfab.Fabric(model, { seed: 3 });
    const summary = fabric.run({ untilNs: vfab.seconds(3) });
    expect(summary.topology).toBe('quickstart');
    expect(summary.seed).toBe(3);
    const pings = summary.apps as unknown as Array<{ sent: number; received: number }>;
    expect(pings.map((p) => [p.sent, p.received])).toEqual([
      [5, 5],
      [5, 5],
    ]);
    expect(summary.ports['vm1.eth0']!.tx_packets).toBeGreaterThan(5);
  });
});
