/**
 * A migration's `packets_lost` counts only what the migration lost (issue 10 #11): a later,
 * unrelated `link_down` used to add its losses to it. Losses in the window are attributed to
 * their cause and reported in `losses`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/fabric/run.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { lossCause } from '../../src/migration/loss.js';

function migration(text: string): { packets_lost: number; losses: Record<string, number> } {
  const model = loadTopologyText(text, join(process.cwd(), 'topologies', 'x.yaml'));
  const r = runTopology(model, {});
  const m = (r.summary as unknown as { migrations: Array<{ packets_lost: number; losses: Record<string, number> }> }).migrations[0]!;
  return m;
}

describe('migration losses by cause', () => {
  const base = readFileSync('topologies/live-migration.yaml', 'utf8');
  const withLinkDown = base.replace(
    /(scenario:\n)/,
    '$1  - { at: 3s, link_down: hv3.br0.uplink }\n  - { at: 3300ms, link_up: hv3.br0.uplink }\n',
  );

  it('a later link_down is reported as link_down, not as the migration\'s loss', () => {
    expect(withLinkDown).not.toBe(base);
    const alone = migration(base);
    const both = migration(withLinkDown);
    process.stdout.write(`migration losses alone ${JSON.stringify(alone.losses)}, with a later link_down ${JSON.stringify(both.losses)}\n`);
    expect(alone.losses.link_down).toBe(0);
    expect(both.losses.link_down).toBeGreaterThan(0);
    expect(both.packets_lost).toBe(alone.packets_lost);
    expect(both.packets_lost).toBe(both.losses.migration);
  });

  it('maps drop reasons to causes', () => {
    expect([undefined, 'migration', 'unplugged', 'link-down', 'queue-full', 'no-rx-buffer', 'loss', 'spoofed', 'table-miss'].map(lossCause)).toEqual([
      'migration', 'migration', 'migration', 'link_down', 'queue', 'queue', 'link_loss', 'policy', 'policy',
    ]);
  });
});
