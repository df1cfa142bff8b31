/**
 * SR-IOV benchmarks, shaped like `frames_per_s` (frames.ts) so the figures compare: a topology is
 * built by the fabric, vm1 sends 64-byte UDP frames to vm2 in batches of 32 per simulation event
 * (1 µs apart), vm2's guest stack parses each one; guest receive latency 0, capture off.
 *
 * - `veb_frames_per_s`: vm1 and vm2 on VFs of one legacy PF (same port VLAN): switched by the VEB.
 * - `switchdev_frames_per_s`: the same VFs on a switchdev PF: VF → representor → hv1.br0 (NORMAL,
 *   MAC learned) → representor → VF.
 * The PF uplinks are not cabled, so the VFs use `state: enable` (VF-to-VF without PF carrier).
 * Target: each ≥ frames_per_s / 2. Medians of five runs of 500,000 frames.
 */
import type { BenchContext } from './main.js';
import { Fabric } from '../fabric/fabric.js';
import { sriovNics } from '../fabric/sriov.js';
import { loadTopologyText } from '../topology/load.js';
import { buildUdp } from '../wire/build.js';

export const keys = ['veb_frames_per_s', 'switchdev_frames_per_s'];

const FRAMES = 500_000;
const BATCH = 32;

function topology(mode: 'legacy' | 'switchdev'): string {
  const pf =
    mode === 'legacy'
      ? '{ model: mlx5, num_vfs: 2, vfs: { 0: { mac: "02:00:00:00:00:01", vlan: 10, state: enable }, 1: { mac: "02:00:00:00:00:02", vlan: 10, state: enable } } }'
      : '{ model: mlx5, num_vfs: 2, eswitch: switchdev, bridge: br0, vfs: { 0: { mac: "02:00:00:00:00:01", state: enable }, 1: { mac: "02:00:00:00:00:02", state: enable } } }';
  return `
name: bench-sriov
hosts:
  hv1: { bridges: { br0: {} }, nics: { pf0: ${pf} } }
vms:
  vm1: { host: hv1, interfaces: { eth0: { model: vf, nic: pf0, vf: 0, ipv4: 10.0.0.1/24 } } }
  vm2: { host: hv1, interfaces: { eth0: { model: vf, nic: pf0, vf: 1, ipv4: 10.0.0.2/24 } } }
`;
}

function measure(mode: 'legacy' | 'switchdev'): { fps: number; received: number } {
  const fabric = new Fabric(loadTopologyText(topology(mode), 'bench-sriov.yaml'));
  const pf = sriovNics(fabric.ctx).get('hv1.pf0')!;
  for (const vf of pf.vfs) vf.rxDelayNs = 0;
  const vm1 = fabric.ctx.vms.get('vm1')!.nics.get('eth0')!.nic;
  const vm2 = fabric.ctx.vms.get('vm2')!.nics.get('eth0')!.nic;
  const frame = buildUdp({ srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 1000, dstPort: 9, payloadLen: 18 });
  const back = buildUdp({ srcMac: 0x020000000002, dstMac: 0x020000000001, srcIp: 0x0a000002, dstIp: 0x0a000001, srcPort: 9, dstPort: 1000, payloadLen: 18 });
  vm2.transmit(back); // switchdev: let NORMAL learn vm2's representor
  const sim = fabric.sim;
  for (let b = 0; b < FRAMES / BATCH; b++) {
    sim.scheduleAt(1000 + b * 1000, () => {
      for (let i = 0; i < BATCH; i++) vm1.transmit(frame);
    });
  }
  const before = vm2.port.counters.rx_packets;
  const t0 = performance.now();
  sim.run();
  const dt = (performance.now() - t0) / 1000;
  const received = vm2.port.counters.rx_packets - before;
  fabric.close();
  return { fps: FRAMES / dt, received };
}

export async function run(ctx: BenchContext): Promise<Record<string, number | string | null>> {
  const out: Record<string, number | string | null> = {};
  for (const [key, mode] of [['veb_frames_per_s', 'legacy'], ['switchdev_frames_per_s', 'switchdev']] as const) {
    if (ctx.only && !key.startsWith(ctx.only) && !ctx.only.startsWith(key)) continue;
    const check = measure(mode);
    if (check.received < FRAMES) ctx.log(`warning: ${key}: only ${check.received}/${FRAMES} frames reached vm2`);
    const fps = await ctx.median(5, () => measure(mode).fps);
    ctx.log(`${key} ${(fps / 1e6).toFixed(2)} M/s`);
    out[key] = Math.round(fps);
  }
  return out;
}
