import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadTopologyText, runTopology } from '../../src/index.js';
import { overlayWarnings } from '../../src/topology/tunnels.js';
import { LOCAL_PORT_MAX, LOCAL_PORT_MIN, encapVxlan, parseVxlan, udpFlowSrcPort } from '../../src/wire/vxlan.js';
import { describeWithTools } from '../helpers/tools.js';
import { rendered, vxlanPair } from './helpers.js';

type Ports = Record<string, { drops: Record<string, number> }>;

describe('VXLAN wire format', () => {
  it('maps every flow hash into Linux udp_flow_src_port range [32768, 60999)', () => {
    fc.assert(fc.property(fc.nat(0xffffffff), (h) => {
      const p = udpFlowSrcPort(h);
      expect(p).toBeGreaterThanOrEqual(LOCAL_PORT_MIN);
      expect(p).toBeLessThan(LOCAL_PORT_MAX);
    }));
    expect(udpFlowSrcPort(0)).toBe(32768);
    expect(udpFlowSrcPort(0xffffffff)).toBe(60998);
  });

  it('parses what it encapsulates: VNI, ports, addresses, inner frame', () => {
    fc.assert(fc.property(fc.nat(0xffffff), fc.uint8Array({ minLength: 14, maxLength: 300 }), fc.boolean(), (vni, inner, csum) => {
      const f = encapVxlan({ srcMac: 1, dstMac: 2, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 40000, dstPort: 4789, tos: 0, ttl: 64, ident: 1, dontFrag: true, csum }, vni, inner);
      const v = parseVxlan(f.subarray(14));
      if (typeof v === 'string') throw new Error(v);
      expect([v.vni, v.srcPort, v.dstPort, v.srcIp, v.dstIp]).toEqual([vni, 40000, 4789, 0x0a000001, 0x0a000002]);
      expect(v.inner).toEqual(inner);
    }));
  });
});

describe('VXLAN tunnel ports', () => {
  it('carries pings and UDP between VMs on two hosts over a routed underlay', () => {
    const { summary } = runTopology({ text: vxlanPair({ extra: '  - { at: 0s, ping: { from: vm1, to: vm2, count: 3, interval: 10ms } }' }) }, { untilNs: 1e9 });
    expect(summary.apps[0]).toMatchObject({ sent: 3, received: 3 });
    const t = summary['tunnels'] as Record<string, { encapsulated: number; decapsulated: number }>;
    expect(t['hv1.br0.vx0']!.encapsulated).toBeGreaterThanOrEqual(3);
    expect(t['hv2.br0.vx0']!.decapsulated).toBe(t['hv1.br0.vx0']!.encapsulated);
  });

  it('drops frames whose VNI is not the port key (vni-mismatch), so tenants do not meet', () => {
    const { summary } = runTopology({ text: vxlanPair({ key2: 5002, extra: '  - { at: 0s, ping: { from: vm1, to: vm2, count: 2, interval: 10ms } }' }) }, { untilNs: 5e9 });
    expect(summary.apps[0]).toMatchObject({ received: 0 });
    expect((summary.ports as Ports)['hv2.underlay']!.drops['vni-mismatch']).toBeGreaterThan(0);
  });

  it('1500 over 1500: small pings pass, a full-size one is dropped as mtu at the tunnel port (OVS sends no ICMP)', () => {
    const steps = ['  - { at: 0s, ping: { from: vm1, to: vm2, count: 1, size: 56 } }', '  - { at: 1s, ping: { from: vm1, to: vm2, count: 1, size: 1472 } }', '  - { at: 2s, ping: { from: vm1, to: vm2, count: 1, size: 1422 } }'].join('\n');
    const { summary } = runTopology({ text: vxlanPair({ extra: steps }) }, { untilNs: 5e9 });
    // 1472 + 28 = 1500-byte inner IP, 1514-byte inner frame + 36 = 1550 > 1500; 1422 + 28 + 14 + 36 = 1500 fits.
    expect(summary.apps.map((a) => a['received'])).toEqual([1, 0, 1]);
    expect((summary.ports as Ports)['hv1.br0.vx0']!.drops['mtu']).toBe(1);
  });

  it('rejects a tunnel port on a host without an underlay address, at the port', () => {
    const text = vxlanPair({ extra: '  - { at: 0s, ping: { from: vm1, to: vm2 } }' }).replace('    underlay: { ipv4: 192.0.2.11/24, gateway: 192.0.2.1, mtu: 1500 }\n', '').replace('  - { a: hv1.underlay, b: r1.a, delay: 5us }\n', '');
    expect(rendered(text)).toMatch(/t\.yaml:4:\d+: tunnel port hv1\.br0\.vx0 needs an underlay address on host hv1/);
  });

  it('rejects a VNI outside 24 bits with its position', () => {
    const text = vxlanPair({ extra: '  - { at: 0s, ping: { from: vm1, to: vm2 } }' }).replace('key: 5001 }', 'key: 16777216 }');
    expect(rendered(text)).toMatch(/t\.yaml:5:\d+: .*VNI 16777216 is outside 24 bits/);
  });
});

describeWithTools(['tshark'], 'VXLAN seen by tshark', () => {
  it('decodes VXLAN on 4789 down to inner ICMP without Decode-As; outer UDP checksum zero, or valid with csum', () => {
    for (const csum of [false, true]) {
      const file = join(mkdtempSync(join(tmpdir(), 'overlay-vx-')), 'vx.pcapng');
      runTopology({ text: vxlanPair({ csum, extra: '  - { at: 0s, ping: { from: vm1, to: vm2, count: 2, interval: 10ms } }' }) }, { untilNs: 1e9, pcapng: file });
      const tshark = (...a: string[]): string => execFileSync('tshark', ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-r', file, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      expect(tshark('-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
      const rows = tshark('-Y', 'vxlan && icmp', '-T', 'fields', '-E', 'separator=|', '-e', 'vxlan.vni', '-e', 'udp.checksum', '-e', 'udp.checksum.status', '-e', 'ip.flags.df', '-e', 'ip.ttl', '-e', 'icmp.type', '-e', 'udp.srcport')
        .split('\n').filter(Boolean).map((l) => l.split('|'));
      // 2 echo requests + 2 replies, each captured on the underlay ports and router ports.
      expect(rows.length).toBeGreaterThanOrEqual(4);
      for (const [vni, ck, st, df, ttl, icmp, sport] of rows) {
        expect(vni).toBe('5001');
        if (!csum) expect(ck).toBe('0x0000');
        else expect(st).toBe('1');
        expect(df!.split(',')[0]).toBe('1');
        expect(['64', '63']).toContain(ttl!.split(',')[0]);
        expect(['0', '8']).toContain(icmp);
        expect(Number(sport)).toBeGreaterThanOrEqual(32768);
      }
    }
  });
});

describe('overlay warnings (vfab validate)', () => {
  it('names both ports and the numbers when inner MTU + 50 exceeds the underlay MTU', () => {
    const w = overlayWarnings(loadTopologyText(vxlanPair({ extra: '  - { at: 0s, ping: { from: vm1, to: vm2 } }' }), 't.yaml'));
    expect(w[0]).toMatch(/^t\.yaml:5:\d+: warning: hv1\.br0\.vx0: inner MTU 1500 \(vm1\.eth0\) \+ 50 bytes of VXLAN overhead = 1550 > underlay MTU 1500 \(hv1\.underlay\)/);
    expect(w).toHaveLength(2);
    expect(overlayWarnings(loadTopologyText(vxlanPair({ vmMtu: 1450, extra: '  - { at: 0s, ping: { from: vm1, to: vm2 } }' }), 't.yaml'))).toEqual([]);
  });

  it('warns at remote_ip when it is no host underlay address', () => {
    const text = vxlanPair({ vmMtu: 1450, extra: '  - { at: 0s, ping: { from: vm1, to: vm2 } }' }).replace('remote_ip: 198.51.100.12', 'remote_ip: 198.51.100.99');
    expect(overlayWarnings(loadTopologyText(text, 't.yaml'))).toEqual([expect.stringMatching(/^t\.yaml:5:\d+: warning: hv1\.br0\.vx0: remote_ip 198\.51\.100\.99 is no host's underlay address/)]);
  });
});
