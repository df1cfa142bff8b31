/**
 * TCP segment headers (RFC 9293 §3.1), after smoltcp `wire/tcp.rs`: ports, sequence numbers,
 * flags, window, checksum with the pseudo-header. Options are kept as raw bytes (length a multiple
 * of 4); vfab has no TCP state machine, the header exists so flows and captures can carry it.
 */
import { finish, pseudoHeaderSum, sumBytes, type PseudoHeader } from './checksum.js';
import { malformed, truncated, wireError, type WireError } from './errors.js';

export const Field = {
  SRC_PORT: [0, 2],
  DST_PORT: [2, 4],
  SEQ_NUM: [4, 8],
  ACK_NUM: [8, 12],
  FLAGS: [12, 14],
  WIN_SIZE: [14, 16],
  CHECKSUM: [16, 18],
  URGENT: [18, 20],
  OPTIONS: 20,
} as const;

export const HEADER_LEN = 20;
const PROTO_TCP = 6;

export const TcpFlags = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
} as const;

export class Packet {
  readonly view: DataView;
  constructor(readonly buffer: Uint8Array) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  static checked(buffer: Uint8Array): Packet | WireError {
    if (buffer.length < HEADER_LEN) return truncated('tcp', 'header', 0, HEADER_LEN, buffer.length);
    const p = new Packet(buffer);
    const hl = p.headerLen;
    if (hl < HEADER_LEN) return malformed('tcp', 'data_offset', 12, `header length ${hl} < 20`);
    if (hl > buffer.length) return truncated('tcp', 'options', HEADER_LEN, hl, buffer.length);
    return p;
  }
  get srcPort(): number {
    return this.view.getUint16(0);
  }
  set srcPort(v: number) {
    this.view.setUint16(0, v);
  }
  get dstPort(): number {
    return this.view.getUint16(2);
  }
  set dstPort(v: number) {
    this.view.setUint16(2, v);
  }
  get seqNumber(): number {
    return this.view.getUint32(4);
  }
  set seqNumber(v: number) {
    this.view.setUint32(4, v >>> 0);
  }
  get ackNumber(): number {
    return this.view.getUint32(8);
  }
  set ackNumber(v: number) {
    this.view.setUint32(8, v >>> 0);
  }
  get headerLen(): number {
    return (this.buffer[12]! >>> 4) * 4;
  }
  /** The 9 flag bits (NS is not kept). */
  get flags(): number {
    return this.view.getUint16(12) & 0x0ff;
  }
  setHeaderLenAndFlags(headerLen: number, flags: number): void {
    this.view.setUint16(12, ((headerLen >>> 2) << 12) | (flags & 0x0ff));
  }
  get windowLen(): number {
    return this.view.getUint16(14);
  }
  set windowLen(v: number) {
    this.view.setUint16(14, v);
  }
  get checksum(): number {
    return this.view.getUint16(16);
  }
  set checksum(v: number) {
    this.view.setUint16(16, v);
  }
  get urgentAt(): number {
    return this.view.getUint16(18);
  }
  set urgentAt(v: number) {
    this.view.setUint16(18, v);
  }
  get options(): Uint8Array {
    return this.buffer.subarray(HEADER_LEN, this.headerLen);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(this.headerLen);
  }
  /** `buffer` must span exactly the segment (IP payload). */
  verifyChecksum(ph: PseudoHeader): boolean {
    const len = this.buffer.length;
    return finish(sumBytes(this.buffer, 0, len, pseudoHeaderSum(ph, PROTO_TCP, len))) === 0;
  }
  fillChecksum(ph: PseudoHeader): void {
    this.checksum = 0;
    const len = this.buffer.length;
    this.checksum = finish(sumBytes(this.buffer, 0, len, pseudoHeaderSum(ph, PROTO_TCP, len)));
  }
}

export interface Repr {
  srcPort: number;
  dstPort: number;
  seqNumber: number;
  ackNumber: number;
  flags: number;
  windowLen: number;
  urgentAt: number;
  /** Raw options, length a multiple of 4 (pad with NOP/EOL before emitting). */
  options: Uint8Array;
  payload: Uint8Array;
}

export const Repr = {
  parse(p: Packet, ph: PseudoHeader | null, opts: { verifyChecksum?: boolean } = {}): Repr | WireError {
    if (p.srcPort === 0) return malformed('tcp', 'src_port', 0, 'source port 0');
    if (p.dstPort === 0) return malformed('tcp', 'dst_port', 2, 'destination port 0');
    if (ph !== null && (opts.verifyChecksum ?? true) && !p.verifyChecksum(ph)) {
      return wireError('WIRE_CHECKSUM', 'tcp', 'checksum', 16, `tcp checksum: 0x${p.checksum.toString(16)} is wrong`);
    }
    return {
      srcPort: p.srcPort,
      dstPort: p.dstPort,
      seqNumber: p.seqNumber,
      ackNumber: p.ackNumber,
      flags: p.flags,
      windowLen: p.windowLen,
      urgentAt: p.urgentAt,
      options: p.options,
      payload: p.payload,
    };
  },
  headerLen(repr: Repr): number {
    return HEADER_LEN + ((repr.options.length + 3) & ~3);
  },
  bufferLen(repr: Repr): number {
    return Repr.headerLen(repr) + repr.payload.length;
  },
  /** `p` must be exactly `bufferLen(repr)` bytes (the checksum covers the whole buffer). */
  emit(repr: Repr, p: Packet, ph: PseudoHeader | null): void {
    const hl = Repr.headerLen(repr);
    p.srcPort = repr.srcPort;
    p.dstPort = repr.dstPort;
    p.seqNumber = repr.seqNumber;
    p.ackNumber = repr.ackNumber;
    p.setHeaderLenAndFlags(hl, repr.flags);
    p.windowLen = repr.windowLen;
    p.urgentAt = repr.urgentAt;
    p.checksum = 0;
    p.buffer.fill(0, HEADER_LEN, hl);
    p.buffer.set(repr.options, HEADER_LEN);
    p.buffer.set(repr.payload, hl);
    if (ph !== null) p.fillChecksum(ph);
  },
};
