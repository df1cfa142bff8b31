/**
 * Frames end to end through the real fabric: vm1's virtio NIC → hv1.br0 (NORMAL, MAC learned) →
 * vm2's virtio NIC → vm2's guest stack (which parses and counts the UDP datagram; no socket is
 * bound, so the iperf-style per-flow accounting of a UDP sink is not measured). Built from a topology
 * like any run; `rx_delay: 0` so the bench measures switching, not timer events. Frames are
 * injected in batches of 32 per simulation event, 1 µs apart.
 *
 * - `frames_per_s`: capture off.
 * - `frames_per_s_pcapng`: every port of the fabric captured into one pcapng (memory sink that
 *   discards after counting), i.e. 4 EPBs per frame (vm1.eth0 out, tap in, tap out, vm2.eth0 in).
 */
import { Fabric } from '../fabric/fabric.js';
import { MemorySink } from '../pcap/sink.js';
import { loadTopologyText } from '../topology/load.js';
import { buildUdp } from '../wire/build.js';
import type { BenchContext } from './main.js';

export const keys = ['frames_per_s', 'frames_per_s_pcapng'];

const TOPOLOGY = `
name: bench-frames
hosts:
  hv1: { bridges: { br0: {} } }
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, mac: "02:00:00:00:00:01", ipv4: 10.0.0.1/24, rx_delay: 0ns, queue_size: 1024 } } }
  vm2: { host: hv1, interfaces: { eth0: { bridge: br0, mac: "02:00:00:00:00:02", ipv4: 10.0.0.2/24, rx_delay: 0ns, queue_size: 1024 } } }
`;

const FRAMES = 500_000;
const BATCH = 32;

function measure(capture: boolean): { fps: number; received: number } {
  const fabric = new Fabric(loadTopologyText(TOPOLOGY, 'bench-frames.yaml'));
  if (capture) fabric.capturePcapng(new MemorySink(true));
  const vm1 = fabric.ctx.vms.get('vm1')!.nics.get('eth0')!.nic;
  const vm2 = fabric.ctx.vms.get('vm2')!;
  const frame = buildUdp({ srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 1000, dstPort: 9, payloadLen: 18 });
  const back = buildUdp({ srcMac: 0x020000000002, dstMac: 0x020000000001, srcIp: 0x0a000002, dstIp: 0x0a000001, srcPort: 9, dstPort: 1000, payloadLen: 18 });
  const sim = fabric.sim;
  // Teach the bridge where vm2 is, so frames are forwarded, not flooded.
  vm2.nics.get('eth0')!.nic.transmit(back);
  for (let b = 0; b < FRAMES / BATCH; b++) {
    sim.scheduleAt(1000 + b * 1000, () => {
      for (let i = 0; i < BATCH; i++) vm1.transmit(frame);
    });
  }
  const t0 = performance.now();
  sim.run();
  const dt = (performance.now() - t0) / 1000;
  const received = fabric.port('vm2.eth0')!.counters.rx_packets;
  fabric.close();
  return { fps: FRAMES / dt, received };
}

export async function run(ctx: BenchContext): Promise<Record<string, number>> {
  const check = measure(false);
  if (check.received < FRAMES) ctx.log(`warning: only ${check.received}/${FRAMES} frames reached vm2`);
  const fps = await ctx.median(5, () => measure(false).fps);
  ctx.log(`frames ${(fps / 1e6).toFixed(2)} M/s`);
  measure(true);
  const fpsCap = await ctx.median(5, () => measure(true).fps);
  ctx.log(`frames with pcapng ${(fpsCap / 1e6).toFixed(2)} M/s`);
  return { frames_per_s: Math.round(fps), frames_per_s_pcapng: Math.round(fpsCap) };
}
