/**
 * End to end: the shipped example topologies run, do what their comments promise, and write
 * traces Wireshark dissects cleanly (checksums verified, interfaces named after port paths).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runTopology, type AppSummary, type RunSummary } from '../../src/index.js';
import { describeWithTools } from '../helpers/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'vfab-e2e-'));
type Ping = AppSummary & { sent: number; received: number; loss_pct: number; rtt_min_ns: number | null };
type Udp = AppSummary & { sent_packets: number; received_packets: number; loss_pct: number };

const runs: Record<string, { summary: RunSummary; pcapng: string }> = {};
function run(name: string) {
  if (!runs[name]) {
    const pcapng = join(dir, `${name}.pcapng`);
    const { summary } = runTopology(`topologies/${name}.yaml`, { pcapng });
    runs[name] = { summary, pcapng };
  }
  return runs[name];
}

describe('topologies/quickstart.yaml', () => {
  it('pings both ways with no loss after ARP', () => {
    const { summary } = run('quickstart');
    const pings = summary.apps as Ping[];
    expect(pings.map((p) => [p.from, p.to, p.sent, p.received, p.loss_pct])).toEqual([
      ['vm1', '10.0.0.2', 5, 5, 0],
      ['vm2', '10.0.0.1', 5, 5, 0],
    ]);
    expect(summary.ports['vm1.eth0']!.drops).toEqual({});
  });
});

describe('topologies/two-hosts.yaml', () => {
  it('pings within each tenant VLAN across the ToR', () => {
    const pings = run('two-hosts').summary.apps.filter((a) => a.app === 'ping') as Ping[];
    expect(pings[0]).toMatchObject({ from: 'vm1', to: '10.0.0.3', sent: 5, received: 5, loss_pct: 0 });
    expect(pings[1]).toMatchObject({ from: 'vm2', to: '10.0.0.4', sent: 5, received: 5, loss_pct: 0 });
    // two 20us links each way plus the guest latency: more than 80us
    expect(pings[0]!.rtt_min_ns).toBeGreaterThan(80_000);
  });

  it('isolates tenants: the cross-VLAN ping (same subnet, other VLAN) gets 100% loss', () => {
    const s = run('two-hosts').summary;
    const cross = (s.apps.filter((a) => a.app === 'ping') as Ping[])[2]!;
    expect(cross).toMatchObject({ from: 'vm1', to: '10.0.0.2', sent: 5, received: 0, loss_pct: 100 });
  });

  it('carries the UDP flow across hosts at the configured rate', () => {
    const udp = run('two-hosts').summary.apps.find((a) => a.app === 'udp') as Udp;
    expect(udp).toMatchObject({ from: 'vm1', to: '10.0.0.3', port: 5001, sent_packets: 1250, received_packets: 1250, loss_pct: 0 });
    expect(udp['throughput_bps']).toBe(10_000_000);
  });
});

describeWithTools(['tshark'], 'example traces dissect cleanly in tshark', () => {
  const O = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'];
  const tshark = (file: string, ...args: string[]) =>
    execFileSync('tshark', [...O, '-r', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });

  for (const name of ['quickstart', 'two-hosts']) {
    describe(name, () => {
      let file = '';
      beforeAll(() => {
        file = run(name).pcapng;
      });

      it('has every frame dissected, none malformed, no expert errors, checksums good', () => {
        const all = tshark(file, '-T', 'fields', '-e', 'frame.number').trim().split('\n');
        expect(all.length).toBeGreaterThan(20);
        expect(tshark(file, '-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
        expect(tshark(file, '-Y', 'ip.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad"', '-T', 'fields', '-e', 'frame.number').trim()).toBe('');
        // every frame got past Ethernet into ARP or IP
        const protos = tshark(file, '-T', 'fields', '-e', 'frame.protocols').trim().split('\n');
        expect(protos.every((p) => /:(arp|ip)(:|$)/.test(p))).toBe(true);
      });

      it('names every interface after a port path of the summary', () => {
        const names = new Set(tshark(file, '-T', 'fields', '-e', 'frame.interface_name').trim().split('\n'));
        const ports = Object.keys(run(name).summary.ports);
        for (const n of names) expect(ports).toContain(n);
        expect(names).toContain('vm1.eth0');
      });

      it('passes the shared pcap-check oracle', () => {
        const r = spawnSync('bash', ['test/oracles/pcap-check.sh', file], { encoding: 'utf8' });
        expect(r.stdout).toMatch(/malformed=0 expert_errors=0/);
        expect(r.status).toBe(0);
      });
    });
  }

  it('shows the ICMP replies in the quickstart as answered echo requests', () => {
    const file = run('quickstart').pcapng;
    const replies = tshark(file, '-Y', 'icmp.type == 0 && frame.interface_name == "vm1.eth0" && icmp.resp_to', '-T', 'fields', '-e', 'frame.number');
    expect(replies.trim().split('\n')).toHaveLength(5);
  });

  it('shows VLAN 10 and 20 tags only on the uplinks in two-hosts', () => {
    const file = run('two-hosts').pcapng;
    const tagged = new Set(tshark(file, '-Y', 'vlan', '-T', 'fields', '-e', 'frame.interface_name').trim().split('\n'));
    // LOCAL ports are trunks in OVS (no tag), so floods reach them tagged too
    expect([...tagged].filter((n) => !n.endsWith('.LOCAL')).sort()).toEqual(['hv1.br0.uplink', 'hv2.br0.uplink', 'tor.p1', 'tor.p2']);
  });

  it('never delivers a tenant-B frame (VLAN 20 MACs) to a tenant-A VM in two-hosts', () => {
    const file = run('two-hosts').pcapng;
    const leaked = tshark(file, '-Y', '(frame.interface_name == "vm1.eth0" || frame.interface_name == "vm3.eth0") && eth.src[0:5] == 02:00:00:00:14', '-T', 'fields', '-e', 'frame.number');
    expect(leaked.trim()).toBe('');
    const own = tshark(file, '-Y', 'frame.interface_name == "vm3.eth0" && eth.src == 02:00:00:00:0a:01', '-T', 'fields', '-e', 'frame.number');
    expect(own.trim().split('\n').length).toBeGreaterThan(1000);
  });
});

