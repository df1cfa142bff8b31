/**
 * ARP (RFC 826) and RARP (RFC 903) packets for Ethernet/IPv4, after smoltcp `wire/arp.rs`.
 * RARP uses the same layout under ethertype 0x8035 with opcodes 3 (request) and 4 (reply).
 * `Packet` is a view; `Repr` covers only htype=1/ptype=0x0800/hlen=6/plen=4 (anything else
 * parses to WIRE_UNSUPPORTED), which is all OVS matches on too (`flow_extract` arp fields).
 */
import { truncated, wireError, type WireError } from './errors.js';
import { macToBytes, readMac } from './mac.js';

export const Field = {
  HTYPE: [0, 2],
  PTYPE: [2, 4],
  HLEN: 4,
  PLEN: 5,
  OPER: [6, 8],
  SHA: [8, 14],
  SPA: [14, 18],
  THA: [18, 24],
  TPA: [24, 28],
} as const;

export const PACKET_LEN = 28;

export const ArpOperation = {
  Request: 1,
  Reply: 2,
  RarpRequest: 3,
  RarpReply: 4,
} as const;

export const HARDWARE_ETHERNET = 1;
export const PROTOCOL_IPV4 = 0x0800;

export class Packet {
  readonly view: DataView;
  constructor(readonly buffer: Uint8Array) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  static checked(buffer: Uint8Array): Packet | WireError {
    if (buffer.length < 8) return truncated('arp', 'header', 0, 8, buffer.length);
    const p = new Packet(buffer);
    const need = 8 + 2 * p.hardwareLen + 2 * p.protocolLen;
    if (buffer.length < need) return truncated('arp', 'addresses', 8, need, buffer.length);
    return p;
  }
  get hardwareType(): number {
    return this.view.getUint16(0);
  }
  set hardwareType(v: number) {
    this.view.setUint16(0, v);
  }
  get protocolType(): number {
    return this.view.getUint16(2);
  }
  set protocolType(v: number) {
    this.view.setUint16(2, v);
  }
  get hardwareLen(): number {
    return this.buffer[4]!;
  }
  set hardwareLen(v: number) {
    this.buffer[4] = v;
  }
  get protocolLen(): number {
    return this.buffer[5]!;
  }
  set protocolLen(v: number) {
    this.buffer[5] = v;
  }
  get operation(): number {
    return this.view.getUint16(6);
  }
  set operation(v: number) {
    this.view.setUint16(6, v);
  }
  get sourceHardwareAddr(): number {
    return readMac(this.buffer, 8);
  }
  set sourceHardwareAddr(v: number) {
    macToBytes(v, this.buffer, 8);
  }
  get sourceProtocolAddr(): number {
    return this.view.getUint32(14);
  }
  set sourceProtocolAddr(v: number) {
    this.view.setUint32(14, v >>> 0);
  }
  get targetHardwareAddr(): number {
    return readMac(this.buffer, 18);
  }
  set targetHardwareAddr(v: number) {
    macToBytes(v, this.buffer, 18);
  }
  get targetProtocolAddr(): number {
    return this.view.getUint32(24);
  }
  set targetProtocolAddr(v: number) {
    this.view.setUint32(24, v >>> 0);
  }
}

export interface Repr {
  operation: number;
  sourceHardwareAddr: number;
  sourceProtocolAddr: number;
  targetHardwareAddr: number;
  targetProtocolAddr: number;
}

export const Repr = {
  /** Expects a `checked` packet; Ethernet/IPv4 only. */
  parse(p: Packet): Repr | WireError {
    if (p.hardwareType !== HARDWARE_ETHERNET || p.hardwareLen !== 6) {
      return wireError('WIRE_UNSUPPORTED', 'arp', 'htype', 0, `arp: hardware type ${p.hardwareType}/len ${p.hardwareLen} is not Ethernet`);
    }
    if (p.protocolType !== PROTOCOL_IPV4 || p.protocolLen !== 4) {
      return wireError('WIRE_UNSUPPORTED', 'arp', 'ptype', 2, `arp: protocol type 0x${p.protocolType.toString(16)}/len ${p.protocolLen} is not IPv4`);
    }
    return {
      operation: p.operation,
      sourceHardwareAddr: p.sourceHardwareAddr,
      sourceProtocolAddr: p.sourceProtocolAddr,
      targetHardwareAddr: p.targetHardwareAddr,
      targetProtocolAddr: p.targetProtocolAddr,
    };
  },
  bufferLen(_repr?: Repr): number {
    return PACKET_LEN;
  },
  emit(repr: Repr, p: Packet): void {
    p.hardwareType = HARDWARE_ETHERNET;
    p.protocolType = PROTOCOL_IPV4;
    p.hardwareLen = 6;
    p.protocolLen = 4;
    p.operation = repr.operation;
    p.sourceHardwareAddr = repr.sourceHardwareAddr;
    p.sourceProtocolAddr = repr.sourceProtocolAddr;
    p.targetHardwareAddr = repr.targetHardwareAddr;
    p.targetProtocolAddr = repr.targetProtocolAddr;
  },
};
