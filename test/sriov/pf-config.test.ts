import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/sim/index.js';
import { PhysicalFunction, SriovError, applyKnobs, defaultVfConfig, NIC_MODELS } from '../../src/sriov/index.js';
import type { ApplyContext } from '../../src/sriov/config.js';
import { makePf, MAC } from './helpers.js';

function err(fn: () => void): SriovError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SriovError) return e;
    throw e;
  }
  throw new Error('expected a SriovError');
}

describe('sriov_totalvfs and sriov_numvfs', () => {
  it('offers the driver maxima of common NICs', () => {
    const sim = new Simulation(1);
    const total = (model: string): number => new PhysicalFunction({ path: `h.${model}`, sim, model }).totalVfs;
    expect([total('ixgbe'), total('i40e'), total('ice'), total('igb'), total('mlx4'), total('mlx5')]).toEqual([63, 128, 256, 7, 126, 127]);
  });

  it('lets a driver lower total_vfs but refuses to raise it above the hardware maximum', () => {
    const sim = new Simulation(1);
    expect(new PhysicalFunction({ path: 'h.pf0', sim, model: 'ixgbe', totalVfs: 8 }).totalVfs).toBe(8);
    const e = err(() => new PhysicalFunction({ path: 'h.pf0', sim, model: 'ixgbe', totalVfs: 64 }));
    expect(e.code).toBe('SRIOV_TOTAL_VFS');
    expect(e.message).toContain('hardware maximum of 63');
  });

  it('refuses more VFs than sriov_totalvfs with ERANGE', () => {
    const pf = makePf({ numVfs: 0 });
    const e = err(() => pf.setNumVfs(64));
    expect(e.code).toBe('SRIOV_NUMVFS_RANGE');
    expect(e.errno).toBe('ERANGE');
    expect(pf.numVfs).toBe(0);
  });

  it('refuses to change a non-zero count to another non-zero count with EBUSY', () => {
    const pf = makePf({ numVfs: 4 });
    const e = err(() => pf.setNumVfs(8));
    expect(e.errno).toBe('EBUSY');
    expect(e.message).toContain('4 VFs already enabled. Disable before enabling 8 VFs');
    expect(pf.numVfs).toBe(4);
  });

  it('treats writing the current count as a no-op and 0 as disable-all', () => {
    const pf = makePf({ numVfs: 4 });
    const vf0 = pf.vf(0);
    pf.configureVf(0, { vlan: 10 });
    pf.setNumVfs(4);
    expect(pf.vf(0)).toBe(vf0);
    pf.setNumVfs(0);
    expect(pf.numVfs).toBe(0);
    expect(vf0.present).toBe(false);
    expect(vf0.transmit(new Uint8Array(64))).toBe(false);
    pf.setNumVfs(8);
    expect(pf.numVfs).toBe(8);
    expect(pf.vf(7).path).toBe('hv1.pf0.vf7');
    // Re-enabled VFs keep their objects (stable ports) but start from the default config.
    expect(pf.vf(0)).toBe(vf0);
    expect(vf0.present).toBe(true);
    expect(vf0.config.vlan).toBe(0);
  });

  it('refuses to disable VFs that are assigned to VMs with EPERM', () => {
    const pf = makePf({ numVfs: 2 });
    pf.assignVf(1, 'vm1.eth1');
    const e = err(() => pf.setNumVfs(0));
    expect(e.errno).toBe('EPERM');
    expect(e.message).toContain('vf1 (vm1.eth1)');
  });

  it('hands a VF to one VM only, until it is released', () => {
    const pf = makePf({ numVfs: 2 });
    pf.assignVf(0, 'vm1.eth1');
    expect(err(() => pf.assignVf(0, 'vm2.eth1')).code).toBe('SRIOV_VF_ASSIGNED_TWICE');
    pf.vf(0).setReceiver(() => {});
    pf.releaseVf(0);
    expect(pf.assignVf(0, 'vm2.eth1').assignedTo).toBe('vm2.eth1');
    pf.vf(0).deliver(new Uint8Array(64), { hops: 0 });
    expect(pf.vf(0).port.counters.drops['no-driver']).toBe(1);
  });

  it('names a VF index that does not exist', () => {
    const pf = makePf({ numVfs: 2 });
    const e = err(() => pf.configureVf(2, { spoofchk: false }));
    expect(e.code).toBe('SRIOV_VF_INDEX');
    expect(e.message).toContain('VFs are 0..1');
  });

  it('refuses switchdev on a NIC whose driver has no switchdev mode', () => {
    expect(err(() => makePf({ model: 'ixgbe', eswitchMode: 'switchdev' })).code).toBe('SRIOV_SWITCHDEV_UNSUPPORTED');
    expect(makePf({ model: 'mlx5', eswitchMode: 'switchdev' }).eswitchMode).toBe('switchdev');
  });
});

describe('ip link set PF vf N knobs', () => {
  const ctx: ApplyContext = { caps: NIC_MODELS.ixgbe, model: 'ixgbe', mode: 'legacy' };
  const codes = (k: Parameters<typeof applyKnobs>[1], c: ApplyContext = ctx): string[] => applyKnobs(defaultVfConfig(), k, c).problems.map((p) => `${p.field}:${p.code}`);

  it('starts a VF with spoof checking on, trust off and link-state auto', () => {
    expect(defaultVfConfig()).toMatchObject({ spoofchk: true, trust: false, state: 'auto', vlan: 0, max_tx_rate: 0 });
  });

  it('needs vlan for qos and proto, as ip-link grammar does', () => {
    expect(codes({ qos: 3 })).toEqual(['qos:SRIOV_QOS_NEEDS_VLAN']);
    expect(codes({ proto: '802.1Q' })).toEqual(['proto:SRIOV_PROTO_NEEDS_VLAN']);
    expect(codes({ vlan: 0, qos: 3 })).toEqual(['qos:SRIOV_QOS_NEEDS_VLAN']);
    expect(codes({ vlan: 10, qos: 3 })).toEqual([]);
  });

  it('resets qos and proto when a vlan is given without them', () => {
    const c1 = applyKnobs(defaultVfConfig(), { vlan: 10, qos: 5 }, ctx).config;
    const c2 = applyKnobs(c1, { vlan: 20 }, ctx).config;
    expect([c2.vlan, c2.qos, c2.proto]).toEqual([20, 0, '802.1Q']);
  });

  it('checks ranges: vlan 0..4095, qos 0..7, unicast MACs, whole Mbit/s', () => {
    expect(codes({ vlan: 4096 })).toEqual(['vlan:SRIOV_BAD_VLAN']);
    expect(codes({ vlan: 1, qos: 8 })).toEqual(['qos:SRIOV_BAD_QOS']);
    expect(codes({ mac: '01:00:5e:00:00:01' })).toEqual(['mac:SRIOV_BAD_MAC']);
    expect(codes({ mac: 'zz' })).toEqual(['mac:SRIOV_BAD_MAC']);
    expect(codes({ max_tx_rate: 1.5 })).toEqual(['max_tx_rate:SRIOV_BAD_RATE']);
  });

  it('refuses min_tx_rate above max_tx_rate', () => {
    const mlx = { caps: NIC_MODELS.mlx5, model: 'mlx5', mode: 'legacy' as const };
    expect(codes({ max_tx_rate: 100, min_tx_rate: 200 }, mlx)).toEqual(['min_tx_rate:SRIOV_MIN_ABOVE_MAX']);
    expect(codes({ max_tx_rate: 0, min_tx_rate: 200 }, mlx)).toEqual([]);
  });

  it('follows driver refusals: ixgbe has no min_tx_rate and no 802.1ad, rates stay below link speed', () => {
    expect(codes({ min_tx_rate: 10 })).toEqual(['min_tx_rate:SRIOV_MIN_RATE_UNSUPPORTED']);
    expect(codes({ vlan: 10, proto: '802.1ad' })).toEqual(['proto:SRIOV_PROTO_UNSUPPORTED']);
    expect(codes({ max_tx_rate: 10_001 })).toEqual(['max_tx_rate:SRIOV_RATE_ABOVE_LINK']);
  });

  it('refuses port VLANs in switchdev mode but keeps rates', () => {
    const sd = { caps: NIC_MODELS.mlx5, model: 'mlx5', mode: 'switchdev' as const };
    expect(codes({ vlan: 10 }, sd)).toEqual(['vlan:SRIOV_LEGACY_ONLY']);
    expect(codes({ max_tx_rate: 100 }, sd)).toEqual([]);
  });

  it('changes nothing when any knob of a set is bad', () => {
    const pf = makePf();
    expect(() => pf.configureVf(0, { mac: '02:00:00:00:00:10', vlan: 10, qos: 9 })).toThrow(/qos 9 is out of range/);
    expect(pf.vf(0).config.vlan).toBe(0);
    expect(pf.vf(0).config.mac).toBe(0);
  });
});

describe('ip link show', () => {
  it('prints the PF and a vf line per VF with the knobs that are set', () => {
    const pf = makePf({ model: 'mlx5', numVfs: 3, mac: '3c:fd:fe:00:00:01' });
    pf.configureVf(0, { mac: '02:00:00:00:01:00', vlan: 10, qos: 3, max_tx_rate: 1000 });
    pf.configureVf(1, { mac: '02:00:00:00:01:01', vlan: 20, proto: '802.1ad', spoofchk: false, trust: true, state: 'enable', min_tx_rate: 100 });
    expect(pf.ipLinkShow()).toBe(
      [
        '2: pf0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP mode DEFAULT group default qlen 1000',
        '    link/ether 3c:fd:fe:00:00:01 brd ff:ff:ff:ff:ff:ff',
        '    vf 0     link/ether 02:00:00:00:01:00 brd ff:ff:ff:ff:ff:ff, vlan 10, qos 3, tx rate 1000 (Mbps), max_tx_rate 1000Mbps, spoof checking on, link-state auto, trust off',
        '    vf 1     link/ether 02:00:00:00:01:01 brd ff:ff:ff:ff:ff:ff, vlan 20, vlan protocol 802.1ad, min_tx_rate 100Mbps, spoof checking off, link-state enable, trust on',
        '    vf 2     link/ether 00:00:00:00:00:00 brd ff:ff:ff:ff:ff:ff, spoof checking on, link-state auto, trust off',
        '',
      ].join('\n'),
    );
  });

  it('shows NO-CARRIER when the PF link is down and per-VF statistics with -s', () => {
    const pf = makePf({ numVfs: 1 });
    pf.setLinkUp(false);
    const text = pf.ipLinkShow({ stats: true });
    expect(text.split('\n')[0]).toContain('<NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc mq state DOWN');
    expect(text).toContain('    RX: bytes  packets  mcast   bcast   dropped\n    0          0        0       0       0');
    expect(text).toContain('    TX: bytes  packets   dropped\n    0          0        0');
  });

  it('gives VFs without an admin MAC a stable driver-chosen unicast MAC', () => {
    const a = makePf({ sim: new Simulation(7) });
    const b = makePf({ sim: new Simulation(7) });
    expect(a.vf(0).mac).toBe(b.vf(0).mac);
    expect(a.vf(0).mac).not.toBe(a.vf(1).mac);
    expect(Math.floor(a.vf(0).mac / 2 ** 40) & 3).toBe(2); // locally administered unicast
    expect(MAC('02:00:00:00:00:00')).toBeLessThanOrEqual(a.vf(0).mac);
  });
});
