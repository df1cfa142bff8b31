/**
 * Ethernet II frames (IEEE 802.3 clause 3.2.6 type interpretation), smoltcp-style
 * (`smoltcp/src/wire/ethernet.rs`): `Frame` is a zero-copy view over the bytes with getters and
 * setters at the `Field` offsets; `Repr` is the parsed header as a plain record.
 *
 * A frame holds destination MAC first and no FCS. On the wire a frame is at least 60 bytes
 * without FCS (64 with it); builders pad to `MIN_FRAME_LEN` as a NIC does (see build.ts).
 */
import { truncated, type WireError } from './errors.js';
import { macToBytes, readMac } from './mac.js';

/** An ethertype: a branded number. Unknown values are kept and round-trip unchanged. */
export type EtherType = number & { readonly __brand: 'EtherType' };

export function etherType(n: number): EtherType {
  return (n & 0xffff) as EtherType;
}

export const EtherType = {
  Ipv4: 0x0800 as EtherType,
  Arp: 0x0806 as EtherType,
  Rarp: 0x8035 as EtherType,
  Vlan: 0x8100 as EtherType,
  Ipv6: 0x86dd as EtherType,
  QinQ: 0x88a8 as EtherType,
} as const;

export function etherTypeName(t: number): string {
  switch (t) {
    case 0x0800: return 'IPv4';
    case 0x0806: return 'ARP';
    case 0x8035: return 'RARP';
    case 0x8100: return '802.1Q';
    case 0x86dd: return 'IPv6';
    case 0x88a8: return '802.1ad';
    default: return `0x${t.toString(16).padStart(4, '0')}`;
  }
}

export const Field = {
  DESTINATION: [0, 6],
  SOURCE: [6, 12],
  ETHERTYPE: [12, 14],
  PAYLOAD: 14,
} as const;

export const HEADER_LEN = 14;
/** Minimum frame length on the wire without FCS (IEEE 802.3: 64 bytes with the 4-byte FCS). */
export const MIN_FRAME_LEN = 60;

export class Frame {
  readonly view: DataView;
  /** Unchecked: the caller guarantees `buffer.length >= HEADER_LEN` (use `checked` otherwise). */
  constructor(readonly buffer: Uint8Array) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  static checked(buffer: Uint8Array): Frame | WireError {
    if (buffer.length < HEADER_LEN) return truncated('ethernet', 'header', 0, HEADER_LEN, buffer.length);
    return new Frame(buffer);
  }

  get dstAddr(): number {
    return readMac(this.buffer, 0);
  }
  set dstAddr(mac: number) {
    macToBytes(mac, this.buffer, 0);
  }
  get srcAddr(): number {
    return readMac(this.buffer, 6);
  }
  set srcAddr(mac: number) {
    macToBytes(mac, this.buffer, 6);
  }
  get etherType(): EtherType {
    return this.view.getUint16(12) as EtherType;
  }
  set etherType(t: number) {
    this.view.setUint16(12, t);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(HEADER_LEN);
  }
}

export interface Repr {
  srcAddr: number;
  dstAddr: number;
  etherType: EtherType;
}

export const Repr = {
  parse(frame: Frame): Repr {
    return { srcAddr: frame.srcAddr, dstAddr: frame.dstAddr, etherType: frame.etherType };
  },
  bufferLen(_repr?: Repr): number {
    return HEADER_LEN;
  },
  emit(repr: Repr, frame: Frame): void {
    frame.dstAddr = repr.dstAddr;
    frame.srcAddr = repr.srcAddr;
    frame.etherType = repr.etherType;
  },
};
