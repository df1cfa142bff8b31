/**
 * topologies/overlay-vxlan.yaml: two tenants with the same addresses over a leaf-spine underlay,
 * isolated by VNI, and a live migration the overlay follows (the announce crosses the new tunnel
 * and moves the MAC on the remote VTEP's bridge).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTopology, runTopology } from '../../src/index.js';
import { overlayWarnings } from '../../src/topology/tunnels.js';
import { describeWithTools } from '../helpers/tools.js';

const FILE = 'topologies/overlay-vxlan.yaml';

describe('overlay-vxlan example', () => {
  it('loads with both tenants on 10.0.0.1/10.0.0.2 and no overlay warnings', () => {
    const m = loadTopology(FILE);
    const ips = m.vms.flatMap((v) => v.interfaces.map((i) => i.ipv4?.text));
    expect(ips.filter((t) => t === '10.0.0.1/24')).toHaveLength(2);
    expect(overlayWarnings(m)).toEqual([]);
  });

  it('tenant B is untouched; tenant A loses only the migration downtime; hv1.br-a moves the MAC from vx2 to vx3', () => {
    const { summary } = runTopology(FILE);
    const [a, b] = summary.apps as unknown as { sent: number; received: number }[];
    expect(b).toMatchObject({ sent: 250, received: 250 });
    expect(a!.sent).toBe(250);
    expect(a!.received).toBeGreaterThanOrEqual(240);
    expect(a!.received).toBeLessThan(250);
    const mig = (summary['migrations'] as { status: string; tables: { table: string; mac: string; old_port: string; new_port: string | null; how: string }[] }[])[0]!;
    expect(mig.status).toBe('completed');
    expect(mig.tables).toContainEqual(expect.objectContaining({ table: 'hv1.br-a', mac: '02:0a:00:00:00:02', old_port: 'hv1.br-a.vx2', new_port: 'hv1.br-a.vx3', how: 'moved' }));
    // After the switchover vma2's replies come from hv3: both tunnels of hv1.br-a carried traffic.
    const t = summary['tunnels'] as Record<string, { decapsulated: number }>;
    expect(t['hv1.br-a.vx2']!.decapsulated).toBeGreaterThan(50);
    expect(t['hv1.br-a.vx3']!.decapsulated).toBeGreaterThan(50);
    // Tenant B's VM never received a tenant A frame: exactly its 250 requests + 1 ARP.
    expect((summary.ports['vmb2.eth0'] as { rx_packets: number }).rx_packets).toBe(251);
  });
});

describeWithTools(['tshark'], 'overlay-vxlan pcapng', () => {
  it('dissects cleanly; VNI 5001 carries only tenant A MACs and VNI 5002 only tenant B MACs', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'overlay2-ov-')), 'ov.pcapng');
    runTopology(FILE, { pcapng: file });
    const t = (...a: string[]): string => execFileSync('tshark', ['-o', 'ip.check_checksum:TRUE', '-r', file, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
    expect(t('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
    const rows = t('-Y', 'vxlan', '-T', 'fields', '-E', 'separator=|', '-e', 'vxlan.vni', '-e', 'eth.src').split('\n').filter(Boolean);
    expect(rows.length).toBeGreaterThan(500);
    for (const r of rows) {
      const [vni, srcs] = r.split('|');
      const inner = srcs!.split(',')[1]!; // eth.src lists the outer then the inner source
      expect(inner.startsWith(vni === '5001' ? '02:0a:' : '02:0b:')).toBe(true);
    }
    expect(new Set(rows.map((r) => r.split('|')[0]))).toEqual(new Set(['5001', '5002']));
  });
});
