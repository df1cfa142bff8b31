/**
 * pcapng writing speed: 200k frames of mixed sizes (64..1514 bytes, like a mix of ACKs, pings
 * and full-size UDP) into a memory sink (which copies each 1 MiB chunk), through the real writer (EPB with direction
 * flags, 1 MiB chunks). Figure: megabytes (10^6) of pcapng output per second, median of 5.
 */
import { PcapngWriter } from '../pcap/pcapng.js';
import { MemorySink } from '../pcap/sink.js';
import { buildUdp } from '../wire/build.js';
import type { BenchContext } from './main.js';

export const keys = ['pcapng_mb_per_s'];

const SIZES = [64, 1514, 590, 1514, 128, 1514, 1000, 1514];
const FRAMES = 200_000;

export async function run(ctx: BenchContext): Promise<Record<string, number>> {
  const frames = SIZES.map((size) =>
    buildUdp({ srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 1, dstPort: 2, payloadLen: Math.max(0, size - 42) }),
  );
  const once = (): number => {
    const sink = new MemorySink();
    const w = new PcapngWriter(sink);
    const a = w.addInterface({ name: 'vm1.eth0' });
    const b = w.addInterface({ name: 'vm2.eth0' });
    const t0 = performance.now();
    for (let i = 0; i < FRAMES; i++) {
      const f = frames[i & 7]!;
      w.writePacket(i & 1 ? a : b, i * 1000, f, { direction: i & 2 ? 'in' : 'out' });
    }
    w.close();
    const dt = (performance.now() - t0) / 1000;
    return sink.length / 1e6 / dt;
  };
  once(); // warm-up
  const mbps = await ctx.median(5, once);
  ctx.log(`pcapng ${mbps.toFixed(0)} MB/s`);
  return { pcapng_mb_per_s: Math.round(mbps) };
}
