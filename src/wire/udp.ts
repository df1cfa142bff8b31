/**
 * UDP (RFC 768) with the pseudo-header checksum, after smoltcp `wire/udp.rs`. A transmitted
 * checksum of 0 is sent as 0xffff (0 means "no checksum" over IPv4, RFC 768). On receive over
 * IPv4 a zero checksum is accepted; over IPv6 it is an error (RFC 8200 §8.1).
 */
import { finish, pseudoHeaderSum, sumBytes, type PseudoHeader } from './checksum.js';
import { malformed, truncated, wireError, type WireError } from './errors.js';

export const Field = {
  SRC_PORT: [0, 2],
  DST_PORT: [2, 4],
  LENGTH: [4, 6],
  CHECKSUM: [6, 8],
  PAYLOAD: 8,
} as const;

export const HEADER_LEN = 8;
const PROTO_UDP = 17;

export class Packet {
  readonly view: DataView;
  constructor(readonly buffer: Uint8Array) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  static checked(buffer: Uint8Array): Packet | WireError {
    if (buffer.length < HEADER_LEN) return truncated('udp', 'header', 0, HEADER_LEN, buffer.length);
    const p = new Packet(buffer);
    const len = p.len;
    if (len < HEADER_LEN) return malformed('udp', 'length', 4, `length ${len} < 8`);
    if (len > buffer.length) return truncated('udp', 'payload', HEADER_LEN, len, buffer.length);
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
  get len(): number {
    return this.view.getUint16(4);
  }
  set len(v: number) {
    this.view.setUint16(4, v);
  }
  get checksum(): number {
    return this.view.getUint16(6);
  }
  set checksum(v: number) {
    this.view.setUint16(6, v);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(HEADER_LEN, this.len);
  }
  verifyChecksum(ph: PseudoHeader): boolean {
    if (ph.kind === 'ipv4' && this.checksum === 0) return true;
    const len = this.len;
    return finish(sumBytes(this.buffer, 0, len, pseudoHeaderSum(ph, PROTO_UDP, len))) === 0;
  }
  fillChecksum(ph: PseudoHeader): void {
    this.checksum = 0;
    const len = this.len;
    const c = finish(sumBytes(this.buffer, 0, len, pseudoHeaderSum(ph, PROTO_UDP, len)));
    this.checksum = c === 0 ? 0xffff : c;
  }
}

export interface Repr {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

export const Repr = {
  parse(p: Packet, ph: PseudoHeader | null, opts: { verifyChecksum?: boolean } = {}): Repr | WireError {
    if (p.dstPort === 0) return malformed('udp', 'dst_port', 2, 'destination port 0');
    if (ph !== null && (opts.verifyChecksum ?? true) && !p.verifyChecksum(ph)) {
      return wireError('WIRE_CHECKSUM', 'udp', 'checksum', 6, `udp checksum: 0x${p.checksum.toString(16)} is wrong`);
    }
    return { srcPort: p.srcPort, dstPort: p.dstPort, payload: p.payload };
  },
  bufferLen(repr: Repr): number {
    return HEADER_LEN + repr.payload.length;
  },
  /** Writes header + payload; with a pseudo-header also the checksum (else it stays 0). */
  emit(repr: Repr, p: Packet, ph: PseudoHeader | null): void {
    p.srcPort = repr.srcPort;
    p.dstPort = repr.dstPort;
    p.len = HEADER_LEN + repr.payload.length;
    p.checksum = 0;
    p.buffer.set(repr.payload, HEADER_LEN);
    if (ph !== null) p.fillChecksum(ph);
  },
};
