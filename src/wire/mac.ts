/**
 * MAC addresses as 48-bit integers (exact in a JS number: < 2^53), so flow keys and MAC tables
 * compare and hash plain numbers instead of strings or byte arrays.
 */
import { UserError } from '../errors.js';

export const BROADCAST_MAC = 0xffff_ffff_ffff;
const TWO32 = 0x1_0000_0000;

const MAC_RE = /^([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})$/;

/** Parses `02:00:00:00:00:01` (also `-` separators, 1-2 hex digits per octet). Throws UserError. */
export function parseMac(s: string): number {
  const m = MAC_RE.exec(s.trim());
  if (!m) {
    throw new UserError('WIRE_BAD_MAC', `invalid MAC address "${s}"`, {
      hint: 'write six hex octets separated by colons, e.g. 02:00:00:00:00:01',
    });
  }
  let n = 0;
  for (let i = 1; i <= 6; i++) n = n * 256 + parseInt(m[i]!, 16);
  return n;
}

export function isValidMac(s: string): boolean {
  return MAC_RE.test(s.trim());
}

function hex2(b: number): string {
  return (b < 16 ? '0' : '') + b.toString(16);
}

/** Lowercase colon form: `02:00:00:00:00:01`. */
export function formatMac(n: number): string {
  const hi = Math.floor(n / TWO32);
  const lo = n >>> 0;
  return `${hex2((hi >>> 8) & 0xff)}:${hex2(hi & 0xff)}:${hex2(lo >>> 24)}:${hex2((lo >>> 16) & 0xff)}:${hex2((lo >>> 8) & 0xff)}:${hex2(lo & 0xff)}`;
}

/** The I/G bit (least significant bit of the first octet): multicast and broadcast. */
export function isMulticastMac(n: number): boolean {
  return (Math.floor(n / 0x100_0000_0000) & 1) === 1;
}

export function isBroadcastMac(n: number): boolean {
  return n === BROADCAST_MAC;
}

/** The U/L bit: locally administered (e.g. 02:…). */
export function isLocalMac(n: number): boolean {
  return (Math.floor(n / 0x100_0000_0000) & 2) === 2;
}

export function macToBytes(n: number, out: Uint8Array, offset: number): void {
  const hi = Math.floor(n / TWO32);
  const lo = n >>> 0;
  out[offset] = (hi >>> 8) & 0xff;
  out[offset + 1] = hi & 0xff;
  out[offset + 2] = lo >>> 24;
  out[offset + 3] = (lo >>> 16) & 0xff;
  out[offset + 4] = (lo >>> 8) & 0xff;
  out[offset + 5] = lo & 0xff;
}

/** Reads 6 bytes at `offset` (caller checked the length; missing bytes read as 0). */
export function readMac(bytes: Uint8Array, offset: number): number {
  const hi = ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
  const lo =
    (((bytes[offset + 2] ?? 0) << 24) | ((bytes[offset + 3] ?? 0) << 16) | ((bytes[offset + 4] ?? 0) << 8) | (bytes[offset + 5] ?? 0)) >>> 0;
  return hi * TWO32 + lo;
}
