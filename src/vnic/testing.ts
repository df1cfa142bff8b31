/**
 * Test factories for the virtio-net model (Firecracker's `default_net()` habit).
 */
import { Simulation } from '../sim/simulation.js';
import { VirtioNet, type VirtioNetOptions } from './device.js';

/** A virtio NIC `vm1.eth0` with MAC 02:00:00:00:00:01 on a fresh simulation, QEMU defaults otherwise. */
export function defaultVnic(overrides: Partial<VirtioNetOptions> = {}): VirtioNet {
  return new VirtioNet({
    path: 'vm1.eth0',
    sim: overrides.sim ?? new Simulation(1),
    mac: 0x020000000001,
    ...overrides,
  });
}
