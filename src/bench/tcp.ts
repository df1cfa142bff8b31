/**
 * TCP speed:
 * - `tcp_segments_per_s`: one bulk flow between two guests over a 10 Gbit/s, 50 µs link, capture
 *   off: TCP segments (data and ACKs, both directions, as counted by the two sockets) simulated
 *   per wall second. Each segment crosses the sender's stack, its virtio NIC, the link and the
 *   receiver's NIC and stack. Median of 3 runs of 50 ms simulated.
 * - `tcp_flows_1k_setup_ms`: 1,000 concurrent connections from one guest to another, opened,
 *   a 1 KiB request each, closed (FIN both ways; TIME_WAIT expires), wall milliseconds.
 */
import { GuestStack } from '../guest/stack.js';
import { Link } from '../link/link.js';
import { Simulation } from '../sim/simulation.js';
import { zeroPayload } from '../tcp/payload.js';
import { VirtioNet } from '../vnic/device.js';
import type { BenchContext } from './main.js';

export const keys = ['tcp_segments_per_s', 'tcp_flows_1k_setup_ms'];

function pair(): { sim: Simulation; a: GuestStack; b: GuestStack } {
  const sim = new Simulation(1);
  const na = new VirtioNet({ path: 'vm1.eth0', sim, mac: 0x020000000001 });
  const nb = new VirtioNet({ path: 'vm2.eth0', sim, mac: 0x020000000002 });
  new Link({ sim, name: 'l0', a: na.port, b: nb.port, bandwidthBps: 10e9, delayNs: 50_000, queueFrames: 1000 });
  const a = new GuestStack({ name: 'vm1', sim });
  const b = new GuestStack({ name: 'vm2', sim });
  a.addInterface(na, { ipv4: '10.0.0.1/24' });
  b.addInterface(nb, { ipv4: '10.0.0.2/24' });
  return { sim, a, b };
}

export async function run(ctx: BenchContext): Promise<Record<string, number>> {
  const bulk = (): number => {
    const { sim, a, b } = pair();
    let server: { info(): { segs_in: number; segs_out: number } } | undefined;
    b.tcp.listen(5001, (c) => {
      server = c;
      c.onData = () => {};
    });
    const c = a.tcp.connect(0x0a000002, 5001);
    const block = zeroPayload(131072); // a bulk sender's shared zero block (iperf3 -Z style)
    const pump = (): void => {
      while (c.write(block) > 0);
    };
    c.onConnect = pump;
    c.onDrain = pump;
    const t0 = performance.now();
    sim.run({ untilNs: 50_000_000 });
    const dt = (performance.now() - t0) / 1000;
    return (c.info().segs_out + (server?.info().segs_out ?? 0)) / dt;
  };
  bulk();
  const sps = await ctx.median(3, bulk);
  ctx.log(`tcp ${(sps / 1e6).toFixed(3)} M segments/s`);

  const flows = (): number => {
    const { sim, a, b } = pair();
    b.tcp.listen(80, (c) => {
      c.onData = () => c.end();
    });
    const req = new Uint8Array(1024);
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) {
      const c = a.tcp.connect(0x0a000002, 80);
      c.onConnect = () => {
        c.write(req);
        c.end();
      };
    }
    sim.run({ untilNs: 120_000_000_000 });
    const ms = performance.now() - t0;
    if (a.tcp.connections !== 0 || b.tcp.connections !== 0) throw new Error(`connections left: ${a.tcp.connections} + ${b.tcp.connections}`);
    return ms;
  };
  const setup = await ctx.median(3, flows);
  ctx.log(`tcp 1k flows ${setup.toFixed(1)} ms`);
  return { tcp_segments_per_s: Math.round(sps), tcp_flows_1k_setup_ms: Math.round(setup * 10) / 10 };
}
