/**
 * IPv4 headers (RFC 791) with the header checksum (RFC 1071), after smoltcp `wire/ipv4.rs`.
 * `Packet.checked` validates version, IHL and total length against the buffer (frames may carry
 * Ethernet padding after `totalLen`, so `payload` stops at `totalLen`, not at the buffer end).
 * Options are kept as bytes; fragments are not reassembled.
 */
import { finish, sumBytes } from './checksum.js';
import { malformed, truncated, wireError, type WireError } from './errors.js';
import type { IpProtocol } from './ip-protocol.js';

export const Field = {
  VER_IHL: 0,
  DSCP_ECN: 1,
  LENGTH: [2, 4],
  IDENT: [4, 6],
  FLG_OFF: [6, 8],
  TTL: 8,
  PROTOCOL: 9,
  CHECKSUM: [10, 12],
  SRC_ADDR: [12, 16],
  DST_ADDR: [16, 20],
} as const;

export const HEADER_LEN = 20;

export class Packet {
  readonly view: DataView;
  constructor(readonly buffer: Uint8Array) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  static checked(buffer: Uint8Array): Packet | WireError {
    if (buffer.length < HEADER_LEN) return truncated('ipv4', 'header', 0, HEADER_LEN, buffer.length);
    const p = new Packet(buffer);
    if (p.version !== 4) return malformed('ipv4', 'version', 0, `version is ${p.version}, not 4`);
    const hl = p.headerLen;
    if (hl < HEADER_LEN) return malformed('ipv4', 'ihl', 0, `header length ${hl} < 20`);
    if (buffer.length < hl) return truncated('ipv4', 'options', HEADER_LEN, hl, buffer.length);
    const tl = p.totalLen;
    if (tl < hl) return malformed('ipv4', 'total_length', 2, `total length ${tl} < header length ${hl}`);
    if (buffer.length < tl) return truncated('ipv4', 'payload', hl, tl, buffer.length);
    return p;
  }
  get version(): number {
    return this.buffer[0]! >>> 4;
  }
  get headerLen(): number {
    return (this.buffer[0]! & 0x0f) * 4;
  }
  /** Sets version 4 and IHL from a byte length (multiple of 4). */
  setVersionAndHeaderLen(len: number): void {
    this.buffer[0] = 0x40 | ((len >>> 2) & 0x0f);
  }
  get tos(): number {
    return this.buffer[1]!;
  }
  set tos(v: number) {
    this.buffer[1] = v;
  }
  get dscp(): number {
    return this.buffer[1]! >>> 2;
  }
  get ecn(): number {
    return this.buffer[1]! & 3;
  }
  get totalLen(): number {
    return this.view.getUint16(2);
  }
  set totalLen(v: number) {
    this.view.setUint16(2, v);
  }
  get ident(): number {
    return this.view.getUint16(4);
  }
  set ident(v: number) {
    this.view.setUint16(4, v);
  }
  get dontFrag(): boolean {
    return (this.buffer[6]! & 0x40) !== 0;
  }
  get moreFrags(): boolean {
    return (this.buffer[6]! & 0x20) !== 0;
  }
  /** Fragment offset in bytes. */
  get fragOffset(): number {
    return (this.view.getUint16(6) & 0x1fff) * 8;
  }
  setFlagsAndOffset(dontFrag: boolean, moreFrags: boolean, offsetBytes: number): void {
    this.view.setUint16(6, (dontFrag ? 0x4000 : 0) | (moreFrags ? 0x2000 : 0) | ((offsetBytes >>> 3) & 0x1fff));
  }
  get ttl(): number {
    return this.buffer[8]!;
  }
  set ttl(v: number) {
    this.buffer[8] = v;
  }
  get protocol(): IpProtocol {
    return this.buffer[9]! as IpProtocol;
  }
  set protocol(v: number) {
    this.buffer[9] = v;
  }
  get checksum(): number {
    return this.view.getUint16(10);
  }
  set checksum(v: number) {
    this.view.setUint16(10, v);
  }
  get srcAddr(): number {
    return this.view.getUint32(12);
  }
  set srcAddr(v: number) {
    this.view.setUint32(12, v >>> 0);
  }
  get dstAddr(): number {
    return this.view.getUint32(16);
  }
  set dstAddr(v: number) {
    this.view.setUint32(16, v >>> 0);
  }
  get options(): Uint8Array {
    return this.buffer.subarray(HEADER_LEN, this.headerLen);
  }
  /** Bytes from the end of the header to `totalLen` (Ethernet padding excluded). */
  get payload(): Uint8Array {
    return this.buffer.subarray(this.headerLen, this.totalLen);
  }
  verifyChecksum(): boolean {
    return finish(sumBytes(this.buffer, 0, this.headerLen)) === 0;
  }
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = finish(sumBytes(this.buffer, 0, this.headerLen));
  }
}

export interface Repr {
  srcAddr: number;
  dstAddr: number;
  protocol: IpProtocol;
  /** Length of the payload after the header. */
  payloadLen: number;
  ttl: number;
  /** Whole TOS byte: DSCP << 2 | ECN. */
  tos: number;
  ident: number;
  dontFrag: boolean;
}

export interface ParseOptions {
  /** Check the header checksum (default true). */
  verifyChecksum?: boolean;
}

export const Repr = {
  /**
   * Expects a `checked` packet. Rejects a bad checksum (WIRE_CHECKSUM) and fragments
   * (WIRE_UNSUPPORTED), as smoltcp does; options are skipped.
   */
  parse(p: Packet, opts: ParseOptions = {}): Repr | WireError {
    if ((opts.verifyChecksum ?? true) && !p.verifyChecksum()) {
      return wireError('WIRE_CHECKSUM', 'ipv4', 'checksum', 10, `ipv4 checksum: 0x${p.checksum.toString(16)} is wrong`);
    }
    if (p.moreFrags || p.fragOffset !== 0) {
      return wireError('WIRE_UNSUPPORTED', 'ipv4', 'fragment', 6, 'ipv4 fragment: fragments are not reassembled');
    }
    return {
      srcAddr: p.srcAddr,
      dstAddr: p.dstAddr,
      protocol: p.protocol,
      payloadLen: p.totalLen - p.headerLen,
      ttl: p.ttl,
      tos: p.tos,
      ident: p.ident,
      dontFrag: p.dontFrag,
    };
  },
  bufferLen(_repr?: Repr): number {
    return HEADER_LEN;
  },
  /** Writes a 20-byte header (no options) and its checksum. */
  emit(repr: Repr, p: Packet): void {
    p.setVersionAndHeaderLen(HEADER_LEN);
    p.tos = repr.tos;
    p.totalLen = HEADER_LEN + repr.payloadLen;
    p.ident = repr.ident;
    p.setFlagsAndOffset(repr.dontFrag, false, 0);
    p.ttl = repr.ttl;
    p.protocol = repr.protocol;
    p.srcAddr = repr.srcAddr;
    p.dstAddr = repr.dstAddr;
    p.fillChecksum();
  },
};
