/**
 * ICMPv4 (RFC 792), after smoltcp `wire/icmpv4.rs`. The `Repr` keeps type, code, the 4
 * "rest of header" bytes (ident/seq for echo) and the data, so every message round-trips; echo
 * request (8) and reply (0) are what the guest stack uses. The checksum covers the whole message.
 */
import { finish, sumBytes } from './checksum.js';
import { truncated, wireError, type WireError } from './errors.js';

export const Field = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: [2, 4],
  ECHO_IDENT: [4, 6],
  ECHO_SEQNO: [6, 8],
  DATA: 8,
} as const;

export const HEADER_LEN = 8;

export const IcmpType = {
  EchoReply: 0,
  DstUnreachable: 3,
  Redirect: 5,
  EchoRequest: 8,
  TimeExceeded: 11,
} as const;

export class Packet {
  readonly view: DataView;
  constructor(readonly buffer: Uint8Array) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  static checked(buffer: Uint8Array): Packet | WireError {
    if (buffer.length < HEADER_LEN) return truncated('icmp', 'header', 0, HEADER_LEN, buffer.length);
    return new Packet(buffer);
  }
  get msgType(): number {
    return this.buffer[0]!;
  }
  set msgType(v: number) {
    this.buffer[0] = v;
  }
  get msgCode(): number {
    return this.buffer[1]!;
  }
  set msgCode(v: number) {
    this.buffer[1] = v;
  }
  get checksum(): number {
    return this.view.getUint16(2);
  }
  set checksum(v: number) {
    this.view.setUint16(2, v);
  }
  get echoIdent(): number {
    return this.view.getUint16(4);
  }
  set echoIdent(v: number) {
    this.view.setUint16(4, v);
  }
  get echoSeqNo(): number {
    return this.view.getUint16(6);
  }
  set echoSeqNo(v: number) {
    this.view.setUint16(6, v);
  }
  get data(): Uint8Array {
    return this.buffer.subarray(HEADER_LEN);
  }
  verifyChecksum(): boolean {
    return finish(sumBytes(this.buffer, 0, this.buffer.length)) === 0;
  }
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = finish(sumBytes(this.buffer, 0, this.buffer.length));
  }
}

export interface Repr {
  type: number;
  code: number;
  /** Echo identifier (high 16 bits of the rest-of-header word for other types). */
  ident: number;
  /** Echo sequence number (low 16 bits of the rest-of-header word for other types). */
  seqNo: number;
  data: Uint8Array;
}

export const Repr = {
  /** `p` must span exactly the ICMP message (use the IPv4 `payload`). */
  parse(p: Packet, opts: { verifyChecksum?: boolean } = {}): Repr | WireError {
    if ((opts.verifyChecksum ?? true) && !p.verifyChecksum()) {
      return wireError('WIRE_CHECKSUM', 'icmp', 'checksum', 2, `icmp checksum: 0x${p.checksum.toString(16)} is wrong`);
    }
    return { type: p.msgType, code: p.msgCode, ident: p.echoIdent, seqNo: p.echoSeqNo, data: p.data };
  },
  bufferLen(repr: Repr): number {
    return HEADER_LEN + repr.data.length;
  },
  /** `p` must be exactly `bufferLen(repr)` bytes. */
  emit(repr: Repr, p: Packet): void {
    p.msgType = repr.type;
    p.msgCode = repr.code;
    p.echoIdent = repr.ident;
    p.echoSeqNo = repr.seqNo;
    p.buffer.set(repr.data, HEADER_LEN);
    p.fillChecksum();
  },
};
