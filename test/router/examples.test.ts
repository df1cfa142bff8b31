/** topologies/leaf-spine.yaml: runs, routes every flow, uses both spines, and dissects cleanly. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology, type RunSummary } from '../../src/index.js';
import { describeWithTools } from '../helpers/tools.js';

const pcapng = join(mkdtempSync(join(tmpdir(), 'overlay-ls-')), 'leaf-spine.pcapng');
let cached: RunSummary | undefined;
function summary(): RunSummary {
  cached ??= runTopology('topologies/leaf-spine.yaml', { pcapng }).summary;
  return cached;
}
type Ifs = Record<string, { interfaces: Record<string, { forwarded_out: number }> }>;

describe('topologies/leaf-spine.yaml', () => {
  it('delivers every ping and UDP datagram between racks', () => {
    const apps = summary().apps;
    expect(apps[0]).toMatchObject({ app: 'ping', sent: 3, received: 3 });
    for (const a of apps.slice(1)) expect(a).toMatchObject({ app: 'udp', loss_pct: 0 });
  });

  it('spreads the inter-rack flows over both spines (ECMP)', () => {
    const r = summary()['routers'] as Ifs;
    const viaS1 = [1, 2, 3, 4].reduce((n, k) => n + r[`leaf${k}`]!.interfaces['s1']!.forwarded_out, 0);
    const viaS2 = [1, 2, 3, 4].reduce((n, k) => n + r[`leaf${k}`]!.interfaces['s2']!.forwarded_out, 0);
    expect(viaS1).toBeGreaterThan(0);
    expect(viaS2).toBeGreaterThan(0);
    expect(viaS1 + viaS2).toBeGreaterThanOrEqual(32 * 125);
  });

  it('traceroute lists leaf, spine, leaf, VM', () => {
    const t = (summary()['traceroutes'] as Array<{ reached: boolean; hops: Array<{ ip: string }> }>)[0]!;
    expect(t.reached).toBe(true);
    const hops = t.hops.map((h) => h.ip);
    expect(hops).toHaveLength(4);
    expect(hops[0]).toBe('10.1.1.1');
    expect(hops[1]).toMatch(/^172\.1[67]\.1\.1$/);
    expect(hops[2]).toMatch(/^172\.1[67]\.4\.2$/);
    expect(hops[3]).toBe('10.4.2.10');
  });
});

describeWithTools(['tshark'], 'leaf-spine pcapng', () => {
  it('has no malformed frames and only good IPv4 checksums', () => {
    summary();
    const bad = execFileSync('tshark', ['-o', 'ip.check_checksum:TRUE', '-r', pcapng, '-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(bad.trim()).toBe('');
  });
});
