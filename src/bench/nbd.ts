/**
 * NBD speed:
 * - `nbd_ios_per_s`: 4 KiB random reads at iodepth 32 from an NBD client to an NBD server across a
 *   10 Gbit/s, 20 µs link, each end a guest TCP/IP stack on a virtio NIC, capture off, a 1 GiB
 *   in-memory raw export: simulated I/Os completed per wall second (every I/O is a 28-byte
 *   request and a structured OFFSET_DATA reply of 4 KiB + 28 bytes through both stacks, NICs
 *   and the link). Median of 3 runs of 100 ms simulated.
 *
 * The shape is QEMU's: the client sends without Nagle (QEMU's NBD client sets TCP_NODELAY,
 * nbd/client-connection.c `nbd_connect`: `qio_channel_set_delay(sioc, false)`), the server keeps
 * Nagle on as qemu-nbd 7.2 does (it never sets TCP_NODELAY; see the nbd/server.c cork patch of
 * March 2023, "qemu-nbd doesn't set TCP_NODELAY on the tcp socket"), and each of the 32 slots
 * reads into its own buffer, reused for every I/O of the slot, as fio's I/O units do.
 */
import { createImage, openImage } from '../block/api.js';
import { MemoryProvider } from '../block/chain.js';
import { GuestStack } from '../guest/stack.js';
import { Link } from '../link/link.js';
import { chainImage } from '../nbd/block-export.js';
import { NBD_PORT } from '../nbd/constants.js';
import { nbdClientOnTcp, nbdServerOnTcp } from '../nbd/tcp.js';
import { Simulation } from '../sim/simulation.js';
import { VirtioNet } from '../vnic/device.js';
import type { BenchContext } from './main.js';

export const keys = ['nbd_ios_per_s'];

function once(): number {
  const sim = new Simulation(1);
  const na = new VirtioNet({ path: 'hv1.mgmt', sim, mac: 0x020000000001 });
  const nb = new VirtioNet({ path: 'st1.mgmt', sim, mac: 0x020000000002 });
  new Link({ sim, name: 'l0', a: na.port, b: nb.port, bandwidthBps: 10e9, delayNs: 20_000, queueFrames: 1000 });
  const a = new GuestStack({ name: 'hv1', sim });
  const b = new GuestStack({ name: 'st1', sim });
  a.addInterface(na, { ipv4: '10.0.0.1/24' });
  b.addInterface(nb, { ipv4: '10.0.0.2/24' });
  const p = new MemoryProvider();
  createImage('vol1', { size: 1 << 30, format: 'raw' }, p);
  const image = chainImage(openImage('vol1', { format: 'raw' }, p));
  b.tcp.listen(NBD_PORT, (c) => nbdServerOnTcp(c, { exports: [{ name: 'vol1', image }] }));
  const prng = sim.prng.fork('bench');
  let done = 0;
  const client = nbdClientOnTcp(a.tcp.connect(0x0a000002, NBD_PORT, { config: { nagle: false } }), {
    exportName: 'vol1',
    onReady: () => {
      for (let i = 0; i < 32; i++) issue(new Uint8Array(4096));
    },
  });
  function issue(buf: Uint8Array): void {
    client.read(
      prng.int(262144) * 4096,
      4096,
      () => {
        done++;
        issue(buf);
      },
      0,
      buf,
    );
  }
  sim.run({ untilNs: 5_000_000 });
  const start = done;
  const t0 = performance.now();
  sim.run({ untilNs: 105_000_000 });
  const dt = (performance.now() - t0) / 1000;
  return (done - start) / dt;
}

export async function run(ctx: BenchContext): Promise<Record<string, number>> {
  once();
  const ios = await ctx.median(3, once);
  ctx.log(`nbd ${(ios / 1e3).toFixed(1)} k I/Os per wall second`);
  return { nbd_ios_per_s: Math.round(ios) };
}
