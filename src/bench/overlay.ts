/**
 * Overlay benchmarks (issue 14).
 *
 * - `vxlan_frames_per_s`: vm1 → hv1.br0 → vx0 (VXLAN encapsulation) → hv1.underlay → link → router
 *   r1 (TTL, LPM, ARP'd next hop) → link → hv2.underlay → vx0 (decapsulation) → hv2.br0 → vm2's
 *   guest stack, 64-byte UDP frames in batches of 32 per simulation event (2 µs apart, links at
 *   400Gbit so no queue drops), guest receive latency 0, capture off. Median of five runs of
 *   200,000 frames. Target ≥ 500k.
 * - `leaf_spine_64_hosts_events_per_s`: a 2-spine, 8-leaf, 64-hypervisor routed fabric (one VM per
 *   hypervisor), 64 UDP flows between racks for 20 ms; simulation events per wall-clock second
 *   for load + build + run.
 */
import type { BenchContext } from './main.js';
import { Fabric } from '../fabric/fabric.js';
import { loadTopologyText } from '../topology/load.js';
import { buildUdp } from '../wire/build.js';

export const keys = ['vxlan_frames_per_s', 'leaf_spine_64_hosts_events_per_s'];

const FRAMES = 200_000;
const BATCH = 32;

const VXLAN_TOPOLOGY = `
name: bench-vxlan
hosts:
  hv1:
    underlay: { ipv4: 192.0.2.11/24, gateway: 192.0.2.1 }
    bridges: { br0: { ports: { vx0: { type: vxlan, remote_ip: 198.51.100.12, key: 5001 } } } }
  hv2:
    underlay: { ipv4: 198.51.100.12/24, gateway: 198.51.100.1 }
    bridges: { br0: { ports: { vx0: { type: vxlan, remote_ip: 192.0.2.11, key: 5001 } } } }
routers:
  r1: { interfaces: { a: { ipv4: 192.0.2.1/24 }, b: { ipv4: 198.51.100.1/24 } } }
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24, mac: "02:00:00:00:00:01", rx_delay: 0s } } }
  vm2: { host: hv2, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24, mac: "02:00:00:00:00:02", rx_delay: 0s } } }
links:
  - { a: hv1.underlay, b: r1.a, bandwidth: 400Gbit }
  - { a: r1.b, b: hv2.underlay, bandwidth: 400Gbit }
`;

function measureVxlan(): { fps: number; received: number } {
  const fabric = new Fabric(loadTopologyText(VXLAN_TOPOLOGY, 'bench-vxlan.yaml'));
  const vm1 = fabric.ctx.vms.get('vm1')!.nics.get('eth0')!.nic;
  const vm2 = fabric.ctx.vms.get('vm2')!.nics.get('eth0')!.nic;
  const frame = buildUdp({ srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 1000, dstPort: 9, payloadLen: 18 });
  const back = buildUdp({ srcMac: 0x020000000002, dstMac: 0x020000000001, srcIp: 0x0a000002, dstIp: 0x0a000001, srcPort: 9, dstPort: 1000, payloadLen: 18 });
  const sim = fabric.sim;
  // Warm-up: ARP in the underlay and MAC learning on both bridges.
  sim.scheduleAt(0, () => vm2.transmit(back));
  sim.scheduleAt(500_000, () => vm1.transmit(frame));
  sim.run({ untilNs: 1_000_000 });
  for (let b = 0; b < FRAMES / BATCH; b++) {
    sim.scheduleAt(2_000_000 + b * 2000, () => {
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

/** 2 spines, 8 leaves, 8 hypervisors per leaf, one VM each; every VM sends to the next rack. */
export function leafSpine64(): string {
  const L: string[] = ['name: bench-leaf-spine', 'hosts:'];
  const hv = (k: number, j: number): string => `hv${k}_${j}`;
  for (let k = 1; k <= 8; k++) for (let j = 1; j <= 8; j++) L.push(`  ${hv(k, j)}: { bridges: { br0: { ports: { uplink: {} } } } }`);
  L.push('vms:');
  for (let k = 1; k <= 8; k++) for (let j = 1; j <= 8; j++) L.push(`  vm${k}_${j}: { host: ${hv(k, j)}, interfaces: { eth0: { bridge: br0, ipv4: 10.${k}.${j}.10/24, gateway: 10.${k}.${j}.1 } } }`);
  L.push('routers:');
  for (const s of [1, 2]) {
    L.push(`  s${s}:`, '    interfaces:');
    for (let k = 1; k <= 8; k++) L.push(`      l${k}: { ipv4: 172.${15 + s}.${k}.1/30 }`);
    L.push('    routes:');
    for (let k = 1; k <= 8; k++) L.push(`      - { to: 10.${k}.0.0/16, via: 172.${15 + s}.${k}.2 }`);
  }
  for (let k = 1; k <= 8; k++) {
    L.push(`  leaf${k}:`, '    interfaces:', `      s1: { ipv4: 172.16.${k}.2/30 }`, `      s2: { ipv4: 172.17.${k}.2/30 }`);
    for (let j = 1; j <= 8; j++) L.push(`      h${j}: { ipv4: 10.${k}.${j}.1/24 }`);
    L.push('    routes:', `      - { to: default, via: [172.16.${k}.1, 172.17.${k}.1] }`);
  }
  L.push('links:');
  for (const s of [1, 2]) for (let k = 1; k <= 8; k++) L.push(`  - { a: s${s}.l${k}, b: leaf${k}.s${s}, bandwidth: 100Gbit, delay: 1us }`);
  for (let k = 1; k <= 8; k++) for (let j = 1; j <= 8; j++) L.push(`  - { a: ${hv(k, j)}.br0.uplink, b: leaf${k}.h${j}, bandwidth: 25Gbit, delay: 1us }`);
  L.push('scenario:');
  for (let k = 1; k <= 8; k++) for (let j = 1; j <= 8; j++) L.push(`  - { at: 1ms, udp: { from: vm${k}_${j}, to: vm${(k % 8) + 1}_${j}, rate: 100Mbit, size: 1000, duration: 20ms } }`);
  return L.join('\n') + '\n';
}

function measureLeafSpine(text: string): number {
  const t0 = performance.now();
  const fabric = new Fabric(loadTopologyText(text, 'bench-leaf-spine.yaml'));
  fabric.run({ untilNs: 30_000_000 });
  const dt = (performance.now() - t0) / 1000;
  const events = fabric.sim.eventsRun;
  fabric.close();
  return events / dt;
}

export async function run(ctx: BenchContext): Promise<Record<string, number | string | null>> {
  const out: Record<string, number | string | null> = {};
  if (!ctx.only || 'vxlan_frames_per_s'.startsWith(ctx.only) || ctx.only.startsWith('vxlan')) {
    const check = measureVxlan();
    if (check.received < FRAMES) ctx.log(`warning: vxlan_frames_per_s: only ${check.received}/${FRAMES} frames reached vm2`);
    const fps = await ctx.median(5, () => measureVxlan().fps);
    ctx.log(`vxlan_frames_per_s ${(fps / 1e6).toFixed(2)} M/s`);
    out['vxlan_frames_per_s'] = Math.round(fps);
  }
  if (!ctx.only || 'leaf_spine_64_hosts_events_per_s'.startsWith(ctx.only) || ctx.only.startsWith('leaf')) {
    const text = leafSpine64();
    const eps = await ctx.median(3, () => measureLeafSpine(text));
    out['leaf_spine_64_hosts_events_per_s'] = Math.round(eps);
  }
  return out;
}
