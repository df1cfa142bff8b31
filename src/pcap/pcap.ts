/**
 * Classic libpcap files (`pcap-savefile(5)`; draft-ietf-opsawg-pcap): a 24-byte global header then
 * per packet a 16-byte record header and the captured bytes. vfab writes the nanosecond variant
 * (magic 0xA1B23C4D) with LINKTYPE_ETHERNET (1), little-endian, whatever the host: the file must be
 * byte-identical on every machine for the same seed. Timestamps are simulation time
 * (seconds/nanoseconds since t = 0), as ns-3's pcap helpers do.
 */
import { ChunkBuffer, DEFAULT_CHUNK_SIZE, type ByteSink } from './sink.js';

export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const LINKTYPE_ETHERNET = 1;
export const DEFAULT_SNAPLEN = 65535;
const NS_PER_S = 1_000_000_000;

export interface PcapOptions {
  snaplen?: number;
  /** Output chunk size in bytes (default 1 MiB). */
  chunkSize?: number;
}

export class PcapWriter {
  readonly snaplen: number;
  private out: ChunkBuffer;
  private closed = false;
  packets = 0;

  constructor(
    private readonly sink: ByteSink,
    opts: PcapOptions = {},
  ) {
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    if (!Number.isInteger(this.snaplen) || this.snaplen < 1) throw new RangeError(`pcap snaplen must be a positive integer, got ${this.snaplen}`);
    this.out = new ChunkBuffer(sink, opts.chunkSize ?? DEFAULT_CHUNK_SIZE);
    // Closing the sink from outside (Ctrl-C handler) flushes us first and ends the trace.
    sink.beforeClose = () => {
      this.out.flush();
      this.closed = true;
    };
    const o = this.out;
    o.reserve(24);
    const v = o.view;
    v.setUint32(0, PCAP_MAGIC_NS, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true); // thiszone
    v.setUint32(12, 0, true); // sigfigs
    v.setUint32(16, this.snaplen, true);
    v.setUint32(20, LINKTYPE_ETHERNET, true);
    o.pos = 24;
  }

  /** Appends one frame captured at simulation time `timeNs` (truncated to snaplen). */
  writePacket(timeNs: number, frame: Uint8Array): void {
    if (this.closed) return;
    const cap = frame.length < this.snaplen ? frame.length : this.snaplen;
    const o = this.out;
    o.reserve(16 + cap);
    const p = o.pos;
    const v = o.view;
    const sec = Math.floor(timeNs / NS_PER_S);
    v.setUint32(p, sec, true);
    v.setUint32(p + 4, timeNs - sec * NS_PER_S, true);
    v.setUint32(p + 8, cap, true);
    v.setUint32(p + 12, frame.length, true);
    o.buf.set(cap === frame.length ? frame : frame.subarray(0, cap), p + 16);
    o.pos = p + 16 + cap;
    this.packets++;
  }

  /** Hands buffered records to the sink. */
  flush(): void {
    if (!this.closed) this.out.flush();
  }

  /** Flushes and closes the sink. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.out.flush();
    this.closed = true;
    this.sink.close();
  }
}
