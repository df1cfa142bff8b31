/**
 * ICMPv6 (RFC 4443) and the Neighbor Discovery messages vfab sends and recognizes (RFC 4861 §4.3,
 * §4.4), after smoltcp `wire/icmpv6.rs` and `wire/ndisc.rs`. The checksum always includes the IPv6
 * pseudo-header. `Repr` is a tagged union: echo, neighbor solicitation/advertisement (with the
 * source/target link-layer address option), or `other` (type, code, body kept as bytes).
 */
import { finish, pseudoHeaderV6, sumBytes } from './checksum.js';
import { malformed, truncated, wireError, type WireError } from './errors.js';
import type { Ipv6Words } from './ip.js';
import { readIpv6, writeIpv6 } from './ipv6.js';
import { macToBytes, readMac } from './mac.js';

export const Field = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: [2, 4],
  /** Echo: ident, seq. NA: flags byte (R S O) then 3 reserved bytes. NS: 4 reserved bytes. */
  ECHO_IDENT: [4, 6],
  ECHO_SEQNO: [6, 8],
  ND_FLAGS: 4,
  ND_TARGET: [8, 24],
  ND_OPTIONS: 24,
} as const;

export const HEADER_LEN = 8;
export const ND_LEN = 24;
const PROTO_ICMPV6 = 58;

export const Icmpv6Type = {
  DstUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParamProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  RouterSolicit: 133,
  RouterAdvert: 134,
  NeighborSolicit: 135,
  NeighborAdvert: 136,
} as const;

/** ND option types (RFC 4861 §4.6). */
export const NdOption = { SourceLinkLayerAddr: 1, TargetLinkLayerAddr: 2 } as const;

export const NA_FLAG_ROUTER = 0x80;
export const NA_FLAG_SOLICITED = 0x40;
export const NA_FLAG_OVERRIDE = 0x20;

export class Packet {
  readonly view: DataView;
  constructor(readonly buffer: Uint8Array) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  static checked(buffer: Uint8Array): Packet | WireError {
    if (buffer.length < HEADER_LEN) return truncated('icmpv6', 'header', 0, HEADER_LEN, buffer.length);
    const t = buffer[0]!;
    if ((t === Icmpv6Type.NeighborSolicit || t === Icmpv6Type.NeighborAdvert) && buffer.length < ND_LEN) {
      return truncated('icmpv6', 'target', 8, ND_LEN, buffer.length);
    }
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
  get echoSeqNo(): number {
    return this.view.getUint16(6);
  }
  get ndFlags(): number {
    return this.buffer[4]!;
  }
  get targetAddr(): Ipv6Words {
    return readIpv6(this.view, 8);
  }
  verifyChecksum(src: readonly number[], dst: readonly number[]): boolean {
    const len = this.buffer.length;
    return finish(sumBytes(this.buffer, 0, len, pseudoHeaderV6(src, dst, PROTO_ICMPV6, len))) === 0;
  }
  fillChecksum(src: readonly number[], dst: readonly number[]): void {
    this.checksum = 0;
    const len = this.buffer.length;
    this.checksum = finish(sumBytes(this.buffer, 0, len, pseudoHeaderV6(src, dst, PROTO_ICMPV6, len)));
  }
}

export type Repr =
  | { kind: 'echo-request' | 'echo-reply'; ident: number; seqNo: number; data: Uint8Array }
  | { kind: 'neighbor-solicit'; target: Ipv6Words; lladdr: number | null }
  | {
      kind: 'neighbor-advert';
      router: boolean;
      solicited: boolean;
      override: boolean;
      target: Ipv6Words;
      lladdr: number | null;
    }
  | { kind: 'other'; type: number; code: number; body: Uint8Array };

/** Finds a link-layer address option of `type` in ND options starting at 24; null if absent. */
function readLladdr(buf: Uint8Array, type: number): number | WireError | null {
  let off = ND_LEN;
  while (off + 2 <= buf.length) {
    const len = buf[off + 1]! * 8;
    if (len === 0) return malformed('icmpv6', 'nd_option_length', off + 1, 'option length 0');
    if (off + len > buf.length) return truncated('icmpv6', 'nd_option', off, off + len, buf.length);
    if (buf[off] === type && len >= 8) return readMac(buf, off + 2);
    off += len;
  }
  return null;
}

export const Repr = {
  /** `p` must span exactly the ICMPv6 message (the IPv6 payload). */
  parse(p: Packet, src: readonly number[], dst: readonly number[], opts: { verifyChecksum?: boolean } = {}): Repr | WireError {
    if ((opts.verifyChecksum ?? true) && !p.verifyChecksum(src, dst)) {
      return wireError('WIRE_CHECKSUM', 'icmpv6', 'checksum', 2, `icmpv6 checksum: 0x${p.checksum.toString(16)} is wrong`);
    }
    const t = p.msgType;
    if (t === Icmpv6Type.EchoRequest || t === Icmpv6Type.EchoReply) {
      return {
        kind: t === Icmpv6Type.EchoRequest ? 'echo-request' : 'echo-reply',
        ident: p.echoIdent,
        seqNo: p.echoSeqNo,
        data: p.buffer.subarray(HEADER_LEN),
      };
    }
    if (t === Icmpv6Type.NeighborSolicit || t === Icmpv6Type.NeighborAdvert) {
      if (p.msgCode !== 0) return malformed('icmpv6', 'code', 1, `ND code ${p.msgCode} is not 0`);
      const solicit = t === Icmpv6Type.NeighborSolicit;
      const ll = readLladdr(p.buffer, solicit ? NdOption.SourceLinkLayerAddr : NdOption.TargetLinkLayerAddr);
      if (typeof ll === 'object' && ll !== null) return ll;
      if (solicit) return { kind: 'neighbor-solicit', target: p.targetAddr, lladdr: ll };
      const f = p.ndFlags;
      return {
        kind: 'neighbor-advert',
        router: (f & NA_FLAG_ROUTER) !== 0,
        solicited: (f & NA_FLAG_SOLICITED) !== 0,
        override: (f & NA_FLAG_OVERRIDE) !== 0,
        target: p.targetAddr,
        lladdr: ll,
      };
    }
    return { kind: 'other', type: t, code: p.msgCode, body: p.buffer.subarray(4) };
  },
  bufferLen(repr: Repr): number {
    switch (repr.kind) {
      case 'echo-request':
      case 'echo-reply':
        return HEADER_LEN + repr.data.length;
      case 'neighbor-solicit':
      case 'neighbor-advert':
        return ND_LEN + (repr.lladdr !== null ? 8 : 0);
      case 'other':
        return 4 + repr.body.length;
    }
  },
  /** `p` must be exactly `bufferLen(repr)` bytes. */
  emit(repr: Repr, p: Packet, src: readonly number[], dst: readonly number[]): void {
    const b = p.buffer;
    b.fill(0, 1, Math.min(b.length, ND_LEN));
    switch (repr.kind) {
      case 'echo-request':
      case 'echo-reply':
        b[0] = repr.kind === 'echo-request' ? Icmpv6Type.EchoRequest : Icmpv6Type.EchoReply;
        p.view.setUint16(4, repr.ident);
        p.view.setUint16(6, repr.seqNo);
        b.set(repr.data, HEADER_LEN);
        break;
      case 'neighbor-solicit':
      case 'neighbor-advert': {
        const solicit = repr.kind === 'neighbor-solicit';
        b[0] = solicit ? Icmpv6Type.NeighborSolicit : Icmpv6Type.NeighborAdvert;
        if (repr.kind === 'neighbor-advert') {
          b[4] = (repr.router ? NA_FLAG_ROUTER : 0) | (repr.solicited ? NA_FLAG_SOLICITED : 0) | (repr.override ? NA_FLAG_OVERRIDE : 0);
        }
        writeIpv6(p.view, 8, repr.target);
        if (repr.lladdr !== null) {
          b[ND_LEN] = solicit ? NdOption.SourceLinkLayerAddr : NdOption.TargetLinkLayerAddr;
          b[ND_LEN + 1] = 1;
          macToBytes(repr.lladdr, b, ND_LEN + 2);
        }
        break;
      }
      case 'other':
        b[0] = repr.type;
        b[1] = repr.code;
        b.set(repr.body, 4);
        break;
    }
    p.fillChecksum(src, dst);
  },
};
