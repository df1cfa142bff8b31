/** topologies/overlay-mtu-mismatch.yaml does what its comment says; its pcapng dissects cleanly. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadTopology, runTopology } from '../../src/index.js';
import { overlayWarnings } from '../../src/topology/tunnels.js';
import { describeWithTools } from '../helpers/tools.js';

it('overlay-mtu-mismatch: small and 1450-fitting pings pass, full-size ones are dropped as mtu, and validate warns', () => {
  const { summary, text } = runTopology('topologies/overlay-mtu-mismatch.yaml', { untilNs: 2_900_000_000 });
  expect(summary.apps.filter((a) => a['app'] === 'ping').map((a) => [a['sent'], a['received']])).toEqual([[3, 3], [3, 0], [3, 3]]);
  expect((summary.ports['hv1.br0.vx0'] as { drops: Record<string, number> }).drops['mtu']).toBe(3);
  expect(text).toContain('dropped 3 too big for the underlay');
  expect(overlayWarnings(loadTopology('topologies/overlay-mtu-mismatch.yaml')).join('\n')).toContain('1500 (vm1.eth0) + 50 bytes of VXLAN overhead = 1550 > underlay MTU 1500 (hv1.underlay)');
});

describeWithTools(['tshark'], 'overlay-mtu-mismatch pcapng', () => {
  it('has no malformed frames; every VXLAN frame decodes to an inner ICMP or ARP', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'overlay-mm-')), 'mm.pcapng');
    // the pings only (before the TCP bulk part, whose ICMP test/tunnel/pmtud.test.ts dissects)
    runTopology('topologies/overlay-mtu-mismatch.yaml', { pcapng: file, untilNs: 2_900_000_000 });
    const t = (...a: string[]): string => execFileSync('tshark', ['-o', 'ip.check_checksum:TRUE', '-r', file, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(t('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    const vx = t('-Y', 'vxlan', '-T', 'fields', '-e', 'frame.number').split('\n').filter(Boolean).length;
    const inner = t('-Y', 'vxlan && (icmp || arp)', '-T', 'fields', '-e', 'frame.number').split('\n').filter(Boolean).length;
    expect(vx).toBeGreaterThan(0);
    expect(inner).toBe(vx);
  });
});
