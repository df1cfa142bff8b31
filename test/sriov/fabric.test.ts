/**
 * SR-IOV through the fabric: the example topology's promises, VLAN tags per port, and every bad
 * configuration refused with its place.
 */
import { describe, expect, it } from 'vitest';
import { Fabric, checkTopology, loadTopologyText, runTopology, type RunSummary, type AppSummary } from '../../src/index.js';
import { UserError, UserErrors } from '../../src/errors.js';
import { loadTopology } from '../../src/topology/load.js';
import { sriovNics } from '../../src/fabric/sriov.js';

type Ping = AppSummary & { from: string; to: string; sent: number; received: number };
type Udp = AppSummary & { sent_packets: number; received_packets: number };
type Nics = Record<string, { stats: Record<string, number>; vfs: Record<string, { counters: Record<string, number>; assigned_to: string | null; representor?: string }> }>;

let cached: RunSummary | undefined;
function example(): RunSummary {
  cached ??= runTopology('topologies/sriov.yaml').summary;
  return cached;
}

describe('topologies/sriov.yaml', () => {
  it('switches vm1 <-> vm2 in the VEB: the uplink only sees the ARP broadcast', () => {
    const s = example();
    const pings = (s.apps as Ping[]).filter((a) => a.app === 'ping');
    expect(pings.map((p) => [p.from, p.to, p.sent, p.received])).toEqual([
      ['vm1', '10.0.1.2', 3, 3],
      ['vm3', '10.0.1.1', 3, 0],
      ['vm1', '10.0.1.4', 3, 0],
      ['vm5', '10.0.2.100', 3, 3],
      ['vm6', '10.0.2.100', 3, 0],
    ]);
    const nics = s['nics'] as Nics;
    expect(nics['hv1.pf0']!.stats['veb_unicast']).toBeGreaterThan(6);
    expect(nics['hv1.pf0']!.vfs['vf0']!.counters['tx_veb']).toBe(3);
    expect(nics['hv1.pf0']!.vfs['vf0']!.assigned_to).toBe('vm1.eth0');
    // ARP broadcasts only: 1 for vm2 + 3 tries for vm4.
    expect(s.ports['hv1.pf0.uplink']!.tx_packets).toBe(4);
  });

  it('drops every frame of the spoofing VM and counts it per VF', () => {
    const s = example();
    expect(s.ports['hv1.pf0.vf2']!.drops).toEqual({ spoofed: 4 });
    expect(s.ports['hv1.pf0.vf2']!.tx_packets).toBe(0);
    expect(s.events.some((e) => e.type === 'vf-spoofed' && e['port'] === 'hv1.pf0.vf2')).toBe(true);
  });

  it('isolates port VLANs: the VF on VLAN 20 receives nothing', () => {
    const s = example();
    expect(s.ports['hv1.pf0.vf3']!.rx_packets).toBe(0);
  });

  it('sends switchdev VF traffic through representor ports and the bridge flow table', () => {
    const s = example();
    expect(s.ports['hv1.br0.pf1vf0']!.rx_packets).toBe(4);
    expect(s.ports['hv1.br0.pf1vf1']!.drops).toEqual({ 'drop-action': 3 });
    const nics = s['nics'] as Nics;
    expect(nics['hv1.pf1']!.stats['veb_unicast']).toBe(0);
    expect(nics['hv1.pf1']!.vfs['vf0']!.representor).toBe('pf1vf0');
    expect(nics['hv1.pf1']!.vfs['vf1']!.counters['tx_representor']).toBe(4);
  });

  it('applies the scenario max_tx_rate: the UDP stream is paced and the TX ring overflows', () => {
    const s = example();
    const udp = s.apps.find((a) => a.app === 'udp') as Udp;
    const vf1 = (s['nics'] as Nics)['hv1.pf0']!.vfs['vf1']!.counters;
    expect(vf1['tx_shaped']).toBeGreaterThan(1000);
    expect(s.ports['hv1.pf0.vf1']!.drops['queue-full']).toBe(udp.sent_packets - udp.received_packets);
    // 20 Mbit/s for the 0.5 s of sending plus the ~1024-frame ring draining afterwards.
    expect(udp.received_packets).toBeGreaterThan(2000);
    expect(udp.received_packets).toBeLessThan(2300);
  });

  it('tags frames on the uplink and never at the VF', () => {
    const model = loadTopology('topologies/sriov.yaml');
    const f = new Fabric(model);
    const tags: Record<string, number[]> = {};
    for (const p of ['hv1.pf0.uplink', 'hv1.pf0.vf0', 'hv1.pf0.vf1', 'hv1.pf0.vf2']) {
      tags[p] = [];
      f.port(p)!.onFrame((_port, _dir, fr) => {
        const tpid = (fr[12]! << 8) | fr[13]!;
        tags[p]!.push(tpid === 0x8100 ? ((fr[14]! << 8) | fr[15]!) : -1);
      });
    }
    f.run();
    expect(new Set(tags['hv1.pf0.uplink'])).toEqual(new Set([(3 << 13) | 10]));
    for (const p of ['hv1.pf0.vf0', 'hv1.pf0.vf1', 'hv1.pf0.vf2']) {
      expect(tags[p]!.length).toBeGreaterThan(0);
      expect(tags[p]!.every((t) => t === -1)).toBe(true);
    }
    expect(sriovNics(f.ctx).get('hv1.pf0')!.ipLinkShow()).toContain('vf 1     link/ether 02:00:00:00:01:01 brd ff:ff:ff:ff:ff:ff, vlan 10, tx rate 20 (Mbps)');
  });

  it('gives the same summary for the same seed', () => {
    expect(JSON.stringify(runTopology('topologies/sriov.yaml', { untilNs: 1e9 }).summary)).toBe(JSON.stringify(runTopology('topologies/sriov.yaml', { untilNs: 1e9 }).summary));
  });
});

/** A small SR-IOV topology with `patch` replacing markers. */
function topo(o: { nic?: string; vfs?: string; vms?: string; scenario?: string } = {}): string {
  return [
    'hosts:',
    '  hv1:',
    '    bridges:',
    '      br0: {}',
    '    nics:',
    '      pf0:',
    o.nic ?? '        model: ixgbe\n        num_vfs: 2',
    '        vfs:',
    o.vfs ?? '          0: { mac: "02:00:00:00:01:00", vlan: 10 }',
    'vms:',
    '  vm1:',
    '    host: hv1',
    '    interfaces:',
    '      eth0: { model: vf, nic: pf0, vf: 0, ipv4: 10.0.1.1/24 }',
    o.vms ?? '',
    o.scenario ?? '',
  ].join('\n');
}

/** `line:col code` for each error the topology raises (load + fabric checks). */
function errors(text: string): string[] {
  try {
    checkTopology(loadTopologyText(text, 'bad.yaml'));
  } catch (e) {
    const list = e instanceof UserErrors ? e.errors : e instanceof UserError ? [e] : [];
    if (list.length === 0) throw e;
    return list.map((x) => `${x.location?.line}:${x.location?.col} ${x.code}: ${x.message}`);
  }
  return [];
}

describe('bad SR-IOV configuration', () => {
  it('accepts the base topology', () => {
    expect(errors(topo())).toEqual([]);
  });

  it('refuses a VF index at or above num_vfs, in vfs and in an interface', () => {
    expect(errors(topo({ vfs: '          2: { vlan: 10 }' }))).toEqual(['10:14 SRIOV_VF_INDEX: VF 2 does not exist: num_vfs is 2 (VFs 0..1)']);
    expect(errors(topo({ vms: '  vm2: { host: hv1, interfaces: { eth0: { model: vf, nic: pf0, vf: 7 } } }' }))).toEqual([
      '16:68 SRIOV_VF_INDEX: hv1.pf0 has no VF 7: num_vfs is 2 (VFs 0..1)',
    ]);
  });

  it('refuses num_vfs above total_vfs', () => {
    expect(errors(topo({ nic: '        model: igb\n        num_vfs: 8' }))).toEqual([
      '8:18 SRIOV_NUMVFS_RANGE: num_vfs 8 is more than total_vfs 7: the kernel refuses it (echo 8 > sriov_numvfs: ERANGE)',
    ]);
    expect(errors(topo({ nic: '        model: ixgbe\n        total_vfs: 100\n        num_vfs: 2' }))[0]).toMatch(/^8:20 SRIOV_TOTAL_VFS: total_vfs 100 exceeds the ixgbe hardware maximum of 63/);
  });

  it('refuses a VF handed to two VMs', () => {
    expect(errors(topo({ vms: '  vm2: { host: hv1, interfaces: { eth0: { model: vf, nic: pf0, vf: 0 } } }' }))).toEqual([
      '16:68 SRIOV_VF_ASSIGNED_TWICE: hv1.pf0.vf0 is already given to vm1.eth0 (line 15): a VF is passed through to one VM',
    ]);
  });

  it('refuses duplicate VF MACs', () => {
    const e = errors(topo({ vfs: '          0: { mac: "02:00:00:00:01:00" }\n          1: { mac: "02:00:00:00:01:00" }' }));
    expect(e).toHaveLength(1);
    expect(e[0]).toMatch(/^11:21 \S*DUPLICATE_MAC: MAC 02:00:00:00:01:00 is already used at line 10/);
  });

  it('refuses qos without vlan', () => {
    expect(errors(topo({ vfs: '          1: { qos: 3 }' }))).toEqual([
      '10:21 SRIOV_QOS_NEEDS_VLAN: hv1.pf0 VF 1: qos needs vlan: it is the priority of the port VLAN tag (ip link set PF vf N vlan VID qos PCP) (EINVAL)',
    ]);
  });

  it('refuses a min rate above the max rate', () => {
    expect(errors(topo({ nic: '        model: mlx5\n        num_vfs: 2', vfs: '          1: { max_tx_rate: 100, min_tx_rate: 200 }' }))).toEqual([
      '10:47 SRIOV_MIN_ABOVE_MAX: hv1.pf0 VF 1: VF min_tx_rate 200 Mbit/s is above max_tx_rate 100 Mbit/s (EINVAL)',
    ]);
  });

  it('refuses what the NIC model cannot do: switchdev on ixgbe, a representor bridge that does not exist', () => {
    expect(errors(topo({ nic: '        model: ixgbe\n        num_vfs: 2\n        eswitch: switchdev\n        bridge: br0' }))[0]).toMatch(/^9:18 SRIOV_SWITCHDEV_UNSUPPORTED: ixgbe has no switchdev/);
    expect(errors(topo({ nic: '        model: mlx5\n        num_vfs: 2\n        eswitch: switchdev\n        bridge: br1', vfs: '          0: {}' }))).toEqual([
      '10:17 TOPOLOGY_UNKNOWN_BRIDGE: unknown bridge "br1" on host hv1; did you mean "br0"?',
    ]);
  });

  it('replays scenario steps with the sysfs rules: EBUSY, EPERM, unknown VFs and NICs', () => {
    const scenario = [
      'scenario:',
      '  - { at: 1s, sriov: { nic: hv1.pf0, num_vfs: 4 } }',
      '  - { at: 2s, sriov: { nic: hv1.pf0, num_vfs: 0 } }',
      '  - { at: 3s, vf: { nic: hv1.pf0, vf: 1, qos: 2 } }',
      '  - { at: 4s, vf: { nic: hv1.pf9, vf: 1, trust: true } }',
    ].join('\n');
    expect(errors(topo({ scenario }))).toEqual([
      '18:47 SRIOV_NUMVFS_BUSY: 2 VFs already enabled on hv1.pf0. Disable before enabling 4 VFs (EBUSY)',
      '19:47 SRIOV_VFS_ASSIGNED: cannot disable the VFs of hv1.pf0 while vm1.eth0 use them (EPERM)',
      '20:47 SRIOV_QOS_NEEDS_VLAN: hv1.pf0 VF 1: qos needs vlan: it is the priority of the port VLAN tag (ip link set PF vf N vlan VID qos PCP) (EINVAL)',
      '21:26 SRIOV_UNKNOWN_NIC: unknown SR-IOV NIC "hv1.pf9" (did you mean "hv1.pf0"?)',
    ]);
  });

  it('refuses spoof_mac on a virtio interface', () => {
    expect(errors(topo({ vms: '  vm2: { host: hv1, interfaces: { eth0: { bridge: br0, spoof_mac: "02:66:00:00:00:01" } } }' }))[0]).toMatch(/^16:\d+ SRIOV_SPOOF_MAC: spoof_mac applies to model: vf/);
  });
});

describe('SR-IOV in a built fabric', () => {
  it('applies valid scenario steps at their time', () => {
    const scenario = ['scenario:', '  - { at: 1s, vf: { nic: hv1.pf0, vf: 1, vlan: 30, qos: 1, state: disable } }'].join('\n');
    const f = new Fabric(loadTopologyText(topo({ scenario }), 't.yaml'));
    const pf = sriovNics(f.ctx).get('hv1.pf0')!;
    f.run({ untilNs: 5e8 });
    expect(pf.vf(1).config.vlan).toBe(0);
    f.sim.run({ untilNs: 2e9 });
    expect(pf.vf(1).config).toMatchObject({ vlan: 30, qos: 1, state: 'disable' });
  });

  it('treats an uplink without a link as no carrier: auto VFs are down, enable VFs still talk', () => {
    const vms = [
      '  vm2:',
      '    host: hv1',
      '    interfaces:',
      '      eth0: { model: vf, nic: pf0, vf: 1, ipv4: 10.0.1.2/24 }',
      'scenario:',
      '  - { at: 10ms, ping: { from: vm1, to: vm2, count: 2, interval: 10ms } }',
    ].join('\n');
    const auto = runTopology({ text: topo({ vfs: '          0: { vlan: 10 }\n          1: { vlan: 10 }', vms }), file: 't.yaml' }, { untilNs: 1e9 }).summary;
    expect((auto.apps[0] as Ping).received).toBe(0);
    expect(auto.events.some((e) => e.type === 'pf-link' && e['up'] === false)).toBe(true);
    const enable = runTopology({ text: topo({ vfs: '          0: { vlan: 10, state: enable }\n          1: { vlan: 10, state: enable }', vms }), file: 't.yaml' }, { untilNs: 1e9 }).summary;
    expect((enable.apps[0] as Ping).received).toBe(2);
  });

  it('plugs a legacy PF netdev into its bridge: VFs reach a VM behind it once its MAC is in the PF fdb', () => {
    const text = (fdb: string) =>
      [
        'hosts:',
        '  hv1:',
        '    bridges: { br0: {} }',
        `    nics: { pf0: { model: i40e, num_vfs: 1, bridge: br0${fdb}, vfs: { 0: { mac: "02:00:00:00:01:00", state: enable } } } }`,
        'vms:',
        '  vm1: { host: hv1, interfaces: { eth0: { model: vf, nic: pf0, vf: 0, ipv4: 10.0.1.1/24 } } }',
        '  vm7: { host: hv1, interfaces: { eth0: { bridge: br0, mac: "02:00:00:00:07:07", ipv4: 10.0.1.7/24 } } }',
        'scenario:',
        '  - { at: 10ms, ping: { from: vm1, to: vm7, count: 2, interval: 10ms } }',
      ].join('\n');
    const without = runTopology({ text: text(''), file: 't.yaml' }, { untilNs: 1e9 }).summary;
    expect((without.apps[0] as Ping).received).toBe(0);
    expect(without.ports['hv1.pf0.uplink']!.drops['link-down']).toBe(3); // ARP broadcast + 2 echo requests: to the (uncabled) wire
    const withFdb = runTopology({ text: text(', fdb: ["02:00:00:00:07:07"]'), file: 't.yaml' }, { untilNs: 1e9 }).summary;
    expect((withFdb.apps[0] as Ping).received).toBe(2);
    expect(withFdb.ports['hv1.br0.pf0']!.rx_packets).toBeGreaterThan(2);
  });
});
