/**
 * pcapng writer (draft-ietf-opsawg-pcapng): one Section Header Block, one Interface Description
 * Block per captured port, then Enhanced Packet Blocks. Little-endian always (deterministic bytes).
 *
 * - SHB: byte-order magic 0x1A2B3C4D, version 1.0, section length -1 (unknown: we stream),
 *   option shb_userappl (4) = application name.
 * - IDB: link type (default LINKTYPE_ETHERNET), snaplen, options if_name (2) = port path,
 *   if_description (3), if_tsresol (9) = 9 (nanoseconds).
 * - EPB: interface id, 64-bit ns timestamp (high, low words), captured/original length, data
 *   padded to 4 bytes, option epb_flags (2) with the direction in bits 0-1 (01 inbound,
 *   10 outbound) when known, and option epb_packetid (5, 64-bit) when the capture correlates one
 *   packet across interfaces (Wireshark's `frame.packet_id`).
 * IDBs may follow EPBs in the same section (the format allows it; Wireshark/tshark read it, see
 * test/pcap); an EPB must only name an interface whose IDB was already written.
 *
 * Speed: blocks are assembled in a reused 1 MiB buffer through a DataView and handed to the sink
 * chunk by chunk, so writing a packet does not allocate and memory stays bounded.
 */
import { ChunkBuffer, DEFAULT_CHUNK_SIZE, type ByteSink } from './sink.js';

export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
export const BLOCK_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_ENDOFOPT = 0;
const OPT_SHB_USERAPPL = 4;
const OPT_IF_NAME = 2;
const OPT_IF_DESCRIPTION = 3;
const OPT_IF_TSRESOL = 9;
const OPT_EPB_FLAGS = 2;
const OPT_EPB_PACKETID = 5;
const TWO32 = 0x1_0000_0000;

export interface PcapngOptions {
  /** Default snaplen for interfaces that do not give one (default 65535). */
  snaplen?: number;
  /** shb_userappl (default "vfab"). */
  application?: string;
  chunkSize?: number;
}

export interface InterfaceOptions {
  /** if_name: the port path (`vm1.eth0`). */
  name: string;
  description?: string;
  /** Default 1 (LINKTYPE_ETHERNET). */
  linkType?: number;
  /** Default: the writer's snaplen. */
  snaplen?: number;
}

export type PacketDirection = 'in' | 'out';

const pad4 = (n: number): number => (n + 3) & ~3;
const encoder = new TextEncoder();

export class PcapngWriter {
  readonly snaplen: number;
  private out: ChunkBuffer;
  private snaplens: number[] = [];
  private names: string[] = [];
  private closed = false;
  packets = 0;

  constructor(
    private readonly sink: ByteSink,
    opts: PcapngOptions = {},
  ) {
    this.snaplen = opts.snaplen ?? 65535;
    this.out = new ChunkBuffer(sink, opts.chunkSize ?? DEFAULT_CHUNK_SIZE);
    // Closing the sink from outside (Ctrl-C handler) flushes us first and ends the trace.
    sink.beforeClose = () => {
      this.out.flush();
      this.closed = true;
    };
    const app = encoder.encode(opts.application ?? 'vfab');
    const len = 24 + 4 + pad4(app.length) + 4 + 4;
    const o = this.out;
    o.reserve(len);
    const v = o.view;
    let p = o.pos;
    v.setUint32(p, BLOCK_SHB, true);
    v.setUint32(p + 4, len, true);
    v.setUint32(p + 8, BYTE_ORDER_MAGIC, true);
    v.setUint16(p + 12, 1, true);
    v.setUint16(p + 14, 0, true);
    v.setInt32(p + 16, -1, true); // section length -1 (64-bit), unknown
    v.setInt32(p + 20, -1, true);
    p = this.writeOption(p + 24, OPT_SHB_USERAPPL, app);
    v.setUint32(p, OPT_ENDOFOPT, true);
    v.setUint32(p + 4, len, true);
    o.pos = p + 8;
  }

  /** Number of interfaces added so far. */
  get interfaceCount(): number {
    return this.names.length;
  }

  interfaceName(id: number): string | undefined {
    return this.names[id];
  }

  private writeOption(p: number, code: number, value: Uint8Array): number {
    const o = this.out;
    o.view.setUint16(p, code, true);
    o.view.setUint16(p + 2, value.length, true);
    o.buf.set(value, p + 4);
    const end = p + 4 + pad4(value.length);
    o.buf.fill(0, p + 4 + value.length, end);
    return end;
  }

  /** Writes an IDB; returns the interface id EPBs refer to (0, 1, … in call order). */
  addInterface(opts: InterfaceOptions): number {
    if (this.closed) throw new Error('pcapng writer is closed');
    const name = encoder.encode(opts.name);
    const desc = opts.description !== undefined ? encoder.encode(opts.description) : null;
    const snaplen = opts.snaplen ?? this.snaplen;
    const len = 16 + 4 + pad4(name.length) + (desc ? 4 + pad4(desc.length) : 0) + 8 + 4 + 4;
    const o = this.out;
    o.reserve(len);
    const v = o.view;
    let p = o.pos;
    v.setUint32(p, BLOCK_IDB, true);
    v.setUint32(p + 4, len, true);
    v.setUint16(p + 8, opts.linkType ?? 1, true);
    v.setUint16(p + 10, 0, true);
    v.setUint32(p + 12, snaplen, true);
    p = this.writeOption(p + 16, OPT_IF_NAME, name);
    if (desc) p = this.writeOption(p, OPT_IF_DESCRIPTION, desc);
    v.setUint16(p, OPT_IF_TSRESOL, true);
    v.setUint16(p + 2, 1, true);
    v.setUint32(p + 4, 9, true); // 10^-9 s, then 3 padding bytes (little-endian: zeros)
    v.setUint32(p + 8, OPT_ENDOFOPT, true);
    v.setUint32(p + 12, len, true);
    o.pos = p + 16;
    this.snaplens.push(snaplen === 0 ? 0x7fffffff : snaplen);
    this.names.push(opts.name);
    return this.names.length - 1;
  }

  /** Appends an EPB for interface `ifId` at simulation time `timeNs`. */
  writePacket(ifId: number, timeNs: number, frame: Uint8Array, opts?: { direction?: PacketDirection; packetId?: number }): void {
    if (this.closed) return;
    const snap = this.snaplens[ifId];
    if (snap === undefined) throw new RangeError(`pcapng: interface ${ifId} was not added`);
    const cap = frame.length < snap ? frame.length : snap;
    const padded = pad4(cap);
    const dir = opts?.direction;
    const pid = opts?.packetId;
    const optLen = (dir !== undefined ? 8 : 0) + (pid !== undefined ? 12 : 0);
    const len = 28 + padded + (optLen > 0 ? optLen + 4 : 0) + 4;
    const o = this.out;
    o.reserve(len);
    const v = o.view;
    const b = o.buf;
    let p = o.pos;
    v.setUint32(p, BLOCK_EPB, true);
    v.setUint32(p + 4, len, true);
    v.setUint32(p + 8, ifId, true);
    const hi = Math.floor(timeNs / TWO32);
    v.setUint32(p + 12, hi, true);
    v.setUint32(p + 16, timeNs - hi * TWO32, true);
    v.setUint32(p + 20, cap, true);
    v.setUint32(p + 24, frame.length, true);
    b.set(cap === frame.length ? frame : frame.subarray(0, cap), p + 28);
    p += 28 + cap;
    const dataEnd = o.pos + 28 + padded;
    while (p < dataEnd) b[p++] = 0;
    if (dir !== undefined) {
      v.setUint16(p, OPT_EPB_FLAGS, true);
      v.setUint16(p + 2, 4, true);
      v.setUint32(p + 4, dir === 'in' ? 1 : 2, true);
      p += 8;
    }
    if (pid !== undefined) {
      v.setUint16(p, OPT_EPB_PACKETID, true);
      v.setUint16(p + 2, 8, true);
      const hi = Math.floor(pid / TWO32);
      v.setUint32(p + 4, pid - hi * TWO32, true);
      v.setUint32(p + 8, hi, true);
      p += 12;
    }
    if (optLen > 0) {
      v.setUint32(p, OPT_ENDOFOPT, true);
      p += 4;
    }
    v.setUint32(p, len, true);
    o.pos = p + 4;
    this.packets++;
  }

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
