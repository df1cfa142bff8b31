/**
 * pcapng writing speed: 200k frames of mixed sizes (64..1514 bytes, like a mix of ACKs, pings
 * and full-size UDP) through the real writer (EPB with direction flags, 1 MiB chunks) into a
 * memory sink that copies every chunk into its own buffer (a consumer's memcpy, without keeping
 * ~180 MB alive, so the figure is the writer's, not the garbage collector's).
 * Figure: megabytes (10^6) of pcapng output per second, median of 5.
 */
import { PcapngWriter } from '../pcap/pcapng.js';
import type { ByteSink } from '../pcap/sink.js';
import { buildUdp } from '../wire/build.js';
import type { BenchContext } from './main.js';

export const keys = ['pcapng_mb_per_s'];

/** Copies each chunk into one reused buffer and counts bytes. */
class CopySink implements ByteSink {
  private readonly buf = new Uint8Array(1 << 21);
  length = 0;
  write(chunk: Uint8Array): void {
    this.buf.set(chunk.length <= this.buf.length ? chunk : chunk.subarray(0, this.buf.length));
    this.length += chunk.length;
  }
  close(): void {}
}

const SIZES = [64, 1514, 590, 1514, 128, 1514, 1000, 1514];
const FRAMES = 200_000;

export async function run(ctx: BenchContext): Promise<Record<string, number>> {
  const frames = SIZES.map((size) =>
    buildUdp({ srcMac: 0x020000000001, dstMac: 0x020000000002, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 1, dstPort: 2, payloadLen: Math.max(0, size - 42) }),
  );
  const once = (): number => {
    const sink = new CopySink();
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
