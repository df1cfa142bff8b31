import { describe, expect, it } from 'vitest';
import { loadTopologyText } from '../../src/topology/index.js';
import { validateMigration } from '../../src/fabric/migration.js';
import { checkTopology } from '../../src/fabric/index.js';
import { UserErrors, type UserError } from '../../src/errors.js';

const base = (scenario: string, vms = '') => `name: t
hosts:
  hv1: { bridges: { br0: {} } }
  hv2: { bridges: { br0: {} } }
  hv3: { bridges: { br9: {} } }
vms:
  vm1: { host: hv1, memory: 1GiB, interfaces: { eth0: { bridge: br0 } } }
  vm2: { host: hv1, interfaces: { eth0: { bridge: br0 } } }
${vms}scenario:
${scenario}
`;

function errors(text: string): string[] {
  const model = loadTopologyText(text, 't.yaml');
  return validateMigration(model).map((e: UserError) => e.render());
}

describe('migrate step validation', () => {
  it('accepts a plain migration and a migration back later', () => {
    expect(errors(base('  - { at: 1s, migrate: { vm: vm1, to: hv2 } }\n  - { at: 5s, migrate: { vm: vm1, to: hv1 } }'))).toEqual([]);
  });

  it('points at an unknown destination with a suggestion', () => {
    expect(errors(base('  - { at: 1s, migrate: { vm: vm1, to: hv4 } }'))).toEqual(['t.yaml:10:39: unknown host "hv4"; did you mean "hv1"?']);
  });

  it('refuses migrating to the host the VM is on at that time', () => {
    expect(errors(base('  - { at: 1s, migrate: { vm: vm1, to: hv1 } }'))).toEqual(['t.yaml:10:39: vm1 is already on hv1 at this point; migrate it to another host']);
    // Steps are followed in time order, whatever their order in the file.
    const later = errors(base('  - { at: 5s, migrate: { vm: vm1, to: hv2 } }\n  - { at: 1s, migrate: { vm: vm1, to: hv2 } }'));
    expect(later).toEqual(['t.yaml:10:39: vm1 is already on hv2 at this point; migrate it to another host']);
  });

  it('needs the VM’s memory size', () => {
    expect(errors(base('  - { at: 1s, migrate: { vm: vm2, to: hv2 } }'))).toEqual([
      't.yaml:10:30: vm2 has no memory size; live migration needs it to model pre-copy\n  hint: add "memory: 2GiB" (and optionally "dirty_rate: 100MiB") under vms.vm2',
    ]);
  });

  it('needs a bridge of the same name on the destination', () => {
    expect(errors(base('  - { at: 1s, migrate: { vm: vm1, to: hv3 } }'))).toEqual([
      't.yaml:10:39: vm1.eth0 is on bridge br0, but hv3 has no bridge "br0" to plug it into\n  hint: bridges on hv3: br9',
    ]);
  });

  it('checks announce parameters with QEMU’s ranges, at the field', () => {
    expect(errors(base('  - { at: 1s, migrate: { vm: vm1, to: hv2, announce_step: 0ms } }'))).toEqual([
      't.yaml:10:59: announce_step expects a value between 1 and 10000 ms (as QEMU\'s migrate_params_check)',
    ]);
    expect(errors(base('  - { at: 1s, migrate: { vm: vm1, to: hv2, announce_rounds: 1001 } }'))).toHaveLength(1);
  });

  it('refuses a VM holding an SR-IOV VF, and says how to fix it', () => {
    const text = `name: t
hosts:
  hv1: { bridges: { br0: {} }, nics: { pf0: { model: ixgbe, num_vfs: 2 } } }
  hv2: { bridges: { br0: {} }, nics: { pf0: { model: ixgbe, num_vfs: 2 } } }
vms:
  vm1:
    host: hv1
    memory: 1GiB
    interfaces:
      eth0: { bridge: br0, mac: "02:00:00:00:00:01" }
      eth1: { model: vf, nic: pf0, vf: 0, ipv4: 10.0.0.1/24 }
scenario:
  - { at: 1s, migrate: { vm: vm1, to: hv2 } }
`;
    const errs = errors(text);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^t\.yaml:13:30: vm1 holds SR-IOV VF interface eth1: a passed-through VF cannot be live-migrated/);
    expect(errs[0]).toMatch(/hint: pair it with a virtio standby interface \(standby: <virtio iface> on eth1, VIRTIO_NET_F_STANDBY failover\)/);
  });

  it('accepts a VF paired with a virtio standby (it is unplugged for the migration)', () => {
    const text = `name: t
hosts:
  hv1: { bridges: { br0: {} }, nics: { pf0: { model: ixgbe, num_vfs: 2 } } }
  hv2: { bridges: { br0: {} }, nics: { pf0: { model: ixgbe, num_vfs: 2 } } }
vms:
  vm1:
    host: hv1
    memory: 1GiB
    interfaces:
      eth0: { bridge: br0, mac: "02:00:00:00:00:01" }
      eth1: { model: vf, nic: pf0, vf: 0, standby: eth0, ipv4: 10.0.0.1/24 }
scenario:
  - { at: 1s, migrate: { vm: vm1, to: hv2 } }
`;
    expect(errors(text)).toEqual([]);
    expect(() => checkTopology(loadTopologyText(text, 't.yaml'))).not.toThrow();
  });

  it('reports all problems at once through checkTopology', () => {
    const model = loadTopologyText(base('  - { at: 1s, migrate: { vm: vm1, to: hv4 } }\n  - { at: 1s, migrate: { vm: vm2, to: hv2 } }'), 't.yaml');
    try {
      checkTopology(model);
      expect.unreachable();
    } catch (e) {
      if (!(e instanceof UserErrors)) throw e;
      expect(e.errors.map((x) => x.code)).toEqual(['MIGRATION_UNKNOWN_HOST', 'MIGRATION_NO_MEMORY']);
    }
  });

  it('rejects an unknown announce mode and unknown keys through the schema', () => {
    expect(() => loadTopologyText(base('  - { at: 1s, migrate: { vm: vm1, to: hv2, announce: gratuitous } }'), 't.yaml')).toThrow(/announce/);
    expect(() => loadTopologyText(base('  - { at: 1s, migrate: { vm: vm1, to: hv2, max_downtme: 1s } }'), 't.yaml')).toThrow(/max_downtime/);
  });
});
