/**
 * IPv6 fixed headers (RFC 8200 §3), after smoltcp `wire/ipv6.rs`. Addresses are four big-endian
 * 32-bit words (`Ipv6Words`). Extension headers are not parsed into the `Repr`; `nextHeader` is
 * the fixed header's field. `extract.ts` skips the common extension headers like OVS does.
 */
import { malformed, truncated, type WireError } from './errors.js';
import type { Ipv6Words } from './ip.js';
import type { IpProtocol } from './ip-protocol.js';

export const Field = {
  VER_TC_FLOW: [0, 4],
  LENGTH: [4, 6],
  NXT_HDR: 6,
  HOP_LIMIT: 7,
  SRC_ADDR: [8, 24],
  DST_ADDR: [24, 40],
} as const;

export const HEADER_LEN = 40;

export class Packet {
  readonly view: DataView;
  constructor(readonly buffer: Uint8Array) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  static checked(buffer: Uint8Array): Packet | WireError {
    if (buffer.length < HEADER_LEN) return truncated('ipv6', 'header', 0, HEADER_LEN, buffer.length);
    const p = new Packet(buffer);
    if (p.version !== 6) return malformed('ipv6', 'version', 0, `version is ${p.version}, not 6`);
    if (buffer.length < HEADER_LEN + p.payloadLen) {
      return truncated('ipv6', 'payload', HEADER_LEN, HEADER_LEN + p.payloadLen, buffer.length);
    }
    return p;
  }
  get version(): number {
    return this.buffer[0]! >>> 4;
  }
  get trafficClass(): number {
    return (this.view.getUint16(0) >>> 4) & 0xff;
  }
  get flowLabel(): number {
    return this.view.getUint32(0) & 0xf_ffff;
  }
  setVersionClassLabel(trafficClass: number, flowLabel: number): void {
    this.view.setUint32(0, ((6 << 28) | ((trafficClass & 0xff) << 20) | (flowLabel & 0xf_ffff)) >>> 0);
  }
  get payloadLen(): number {
    return this.view.getUint16(4);
  }
  set payloadLen(v: number) {
    this.view.setUint16(4, v);
  }
  get nextHeader(): IpProtocol {
    return this.buffer[6]! as IpProtocol;
  }
  set nextHeader(v: number) {
    this.buffer[6] = v;
  }
  get hopLimit(): number {
    return this.buffer[7]!;
  }
  set hopLimit(v: number) {
    this.buffer[7] = v;
  }
  get srcAddr(): Ipv6Words {
    return readIpv6(this.view, 8);
  }
  set srcAddr(a: readonly number[]) {
    writeIpv6(this.view, 8, a);
  }
  get dstAddr(): Ipv6Words {
    return readIpv6(this.view, 24);
  }
  set dstAddr(a: readonly number[]) {
    writeIpv6(this.view, 24, a);
  }
  /** Bytes after the fixed header up to `payloadLen` (Ethernet padding excluded). */
  get payload(): Uint8Array {
    return this.buffer.subarray(HEADER_LEN, HEADER_LEN + this.payloadLen);
  }
}

export function readIpv6(view: DataView, off: number, out?: Ipv6Words): Ipv6Words {
  const w = out ?? [0, 0, 0, 0];
  w[0] = view.getUint32(off);
  w[1] = view.getUint32(off + 4);
  w[2] = view.getUint32(off + 8);
  w[3] = view.getUint32(off + 12);
  return w;
}

export function writeIpv6(view: DataView, off: number, a: readonly number[]): void {
  for (let i = 0; i < 4; i++) view.setUint32(off + 4 * i, (a[i] ?? 0) >>> 0);
}

export interface Repr {
  srcAddr: Ipv6Words;
  dstAddr: Ipv6Words;
  nextHeader: IpProtocol;
  payloadLen: number;
  hopLimit: number;
  trafficClass: number;
  flowLabel: number;
}

export const Repr = {
  parse(p: Packet): Repr {
    return {
      srcAddr: p.srcAddr,
      dstAddr: p.dstAddr,
      nextHeader: p.nextHeader,
      payloadLen: p.payloadLen,
      hopLimit: p.hopLimit,
      trafficClass: p.trafficClass,
      flowLabel: p.flowLabel,
    };
  },
  bufferLen(_repr?: Repr): number {
    return HEADER_LEN;
  },
  emit(repr: Repr, p: Packet): void {
    p.setVersionClassLabel(repr.trafficClass, repr.flowLabel);
    p.payloadLen = repr.payloadLen;
    p.nextHeader = repr.nextHeader;
    p.hopLimit = repr.hopLimit;
    p.srcAddr = repr.srcAddr;
    p.dstAddr = repr.dstAddr;
  },
};
