/**
 * Small IPv4 helpers for devices that build or forward raw datagrams (routers, tunnel ports):
 * a datagram from header fields and an L4 payload, big-endian reads, MAC writes.
 */
import { finish, sumBytes } from './checksum.js';

export interface Ipv4Header {
  src: number;
  dst: number;
  protocol: number;
  tos: number;
  ttl: number;
  ident: number;
  dontFrag: boolean;
}

/** A 20-byte-header IPv4 datagram carrying `l4`, header checksum filled. */
export function buildIpv4Datagram(h: Ipv4Header, l4: Uint8Array): Uint8Array {
  const ip = new Uint8Array(20 + l4.length);
  writeIpv4Header(ip, 0, h, l4.length);
  ip.set(l4, 20);
  return ip;
}

/** Writes a 20-byte IPv4 header for `payloadLen` payload bytes at `o` in `b`, with its checksum. */
export function writeIpv4Header(b: Uint8Array, o: number, h: Ipv4Header, payloadLen: number): void {
  const total = 20 + payloadLen;
  b[o] = 0x45;
  b[o + 1] = h.tos;
  b[o + 2] = total >>> 8;
  b[o + 3] = total & 0xff;
  b[o + 4] = (h.ident >>> 8) & 0xff;
  b[o + 5] = h.ident & 0xff;
  b[o + 6] = h.dontFrag ? 0x40 : 0;
  b[o + 7] = 0;
  b[o + 8] = h.ttl;
  b[o + 9] = h.protocol;
  b[o + 10] = 0;
  b[o + 11] = 0;
  writeU32(b, o + 12, h.src);
  writeU32(b, o + 16, h.dst);
  const c = finish(sumBytes(b, o, o + 20));
  b[o + 10] = c >>> 8;
  b[o + 11] = c & 0xff;
}

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Writes 48-bit MAC `mac` at `o`. */
export function writeMac(b: Uint8Array, o: number, mac: number): void {
  const hi = Math.floor(mac / 2 ** 32);
  b[o] = (hi >>> 8) & 0xff;
  b[o + 1] = hi & 0xff;
  writeU32(b, o + 2, mac >>> 0);
}
