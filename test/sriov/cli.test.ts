/**
 * SR-IOV from the command line: `vfab run` on the example (JSON counters, pcapng checked by
 * Wireshark), `vfab nic`, and `vfab validate` exiting 2 on bad SR-IOV configuration.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeWithTools } from '../helpers/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'vfab-sriov-'));
const vfab = (...args: string[]) => spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8' });
const pcapng = join(dir, 'sriov.pcapng');

let runJson: Record<string, unknown> | undefined;
function runExample(): Record<string, unknown> {
  if (!runJson) {
    const r = vfab('run', 'topologies/sriov.yaml', '--json', '--pcapng', pcapng);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    runJson = JSON.parse(r.stdout) as Record<string, unknown>;
  }
  return runJson;
}

describe('vfab run topologies/sriov.yaml --json', () => {
  it('shows VEB traffic, spoofed drops, VLAN isolation and representor traffic in its counters', () => {
    const s = runExample();
    const ports = s['ports'] as Record<string, { rx_packets: number; tx_packets: number; drops: Record<string, number> }>;
    const nics = s['nics'] as Record<string, { stats: Record<string, number> }>;
    expect(nics['hv1.pf0']!.stats['veb_unicast']).toBeGreaterThan(0);
    expect(ports['hv1.pf0.vf2']!.drops['spoofed']).toBe(4);
    expect(ports['hv1.pf0.vf3']!.rx_packets).toBe(0);
    expect(ports['hv1.br0.pf1vf0']!.rx_packets).toBeGreaterThan(0);
    expect(nics['hv1.pf1']!.stats['representor_tx']).toBeGreaterThan(0);
  });
});

describeWithTools(['tshark'], 'the sriov pcapng', () => {
  it('checks clean with pcap-check.sh', () => {
    runExample();
    const out = execFileSync('test/oracles/pcap-check.sh', [pcapng], { encoding: 'utf8' });
    expect(out).toMatch(/malformed=0 expert_errors=0/);
  });

  it('has VLAN 10 tags (PCP 3) on the PF uplink and none at the VFs', () => {
    runExample();
    const lines = execFileSync('tshark', ['-r', pcapng, '-Y', 'vlan', '-T', 'fields', '-e', 'frame.interface_name', '-e', 'vlan.id', '-e', 'vlan.priority'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n');
    const uplink = lines.filter((l) => l.startsWith('hv1.pf0.uplink\t'));
    expect(uplink.length).toBe(4);
    expect(new Set(uplink)).toEqual(new Set(['hv1.pf0.uplink\t10\t3']));
    expect(lines.filter((l) => l.startsWith('hv1.pf0.vf'))).toEqual([]);
    const atVf = execFileSync('tshark', ['-r', pcapng, '-Y', 'frame.interface_name == "hv1.pf0.vf0" && icmp', '-T', 'fields', '-e', 'frame.number'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(atVf.trim().split('\n').length).toBe(6); // 3 requests out, 3 replies in
  });
});

describe('vfab nic', () => {
  it('prints ip -s link show style lines and per-VF paths', () => {
    const r = vfab('nic', 'topologies/sriov.yaml', '--nic', 'hv1.pf0');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('    vf 2     link/ether 02:00:00:00:01:02 brd ff:ff:ff:ff:ff:ff, vlan 10, spoof checking on, link-state auto, trust off');
    expect(r.stdout).toMatch(/vf2 02:00:00:00:01:02 vlan 10 -> vm3\.eth0: tx 0 .*drops: spoofed 4/);
  });

  it('prints JSON with --json and refuses an unknown NIC with exit 2', () => {
    const r = vfab('nic', 'topologies/sriov.yaml', '--nic', 'hv1.pf1', '--json', '--until', '1s');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { nics: Record<string, { eswitch: string; vfs: Record<string, { representor: string }> }> };
    expect(j.nics['hv1.pf1']!.eswitch).toBe('switchdev');
    expect(j.nics['hv1.pf1']!.vfs['vf1']!.representor).toBe('pf1vf1');
    const bad = vfab('nic', 'topologies/sriov.yaml', '--nic', 'hv1.pf7', '--until', '0s');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('--nic: no SR-IOV NIC "hv1.pf7" (did you mean "hv1.pf0"?); known: hv1.pf0, hv1.pf1\n');
  });
});

describe('vfab validate on bad SR-IOV configuration', () => {
  it('exits 2 and prints file:line:col for each mistake', () => {
    const bad = join(dir, 'bad-sriov.yaml');
    writeFileSync(
      bad,
      [
        'hosts:',
        '  hv1:',
        '    nics:',
        '      pf0:',
        '        model: mlx5',
        '        num_vfs: 2',
        '        vfs:',
        '          0: { qos: 3 }',
        '          1: { max_tx_rate: 100, min_tx_rate: 500 }',
        '          4: { trust: true }',
        '      pf1: { model: igb, num_vfs: 9 }',
        'vms:',
        '  vm1: { host: hv1, interfaces: { eth0: { model: vf, nic: pf0, vf: 1 } } }',
        '  vm2: { host: hv1, interfaces: { eth0: { model: vf, nic: pf0, vf: 1 } } }',
        '',
      ].join('\n'),
    );
    const r = vfab('validate', bad);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      `${bad}:8:21: hv1.pf0 VF 0: qos needs vlan: it is the priority of the port VLAN tag (ip link set PF vf N vlan VID qos PCP) (EINVAL)`,
      `${bad}:9:47: hv1.pf0 VF 1: VF min_tx_rate 500 Mbit/s is above max_tx_rate 100 Mbit/s (EINVAL)`,
      `${bad}:10:14: VF 4 does not exist: num_vfs is 2 (VFs 0..1)`,
      '  hint: raise num_vfs to at least 5',
      `${bad}:11:35: num_vfs 9 is more than total_vfs 7: the kernel refuses it (echo 9 > sriov_numvfs: ERANGE)`,
      `${bad}:14:68: hv1.pf0.vf1 is already given to vm1.eth0 (line 13): a VF is passed through to one VM`,
    ]);
  });
});

describe('vfab flows --offload', () => {
  it('marks which flows of the switchdev bridge a NIC could offload', () => {
    const r = vfab('flows', 'topologies/sriov.yaml', '--bridge', 'hv1.br0', '--until', '0s', '--offload');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('hardware offload hint (TC flower subset):\n offload=yes table=0,priority=100,ip,dl_src=02:00:00:00:02:01,nw_dst=10.0.2.100 actions=drop\n');
  });
});
