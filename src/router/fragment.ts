/**
 * IPv4 fragmentation as Linux `ip_do_fragment` (slow path) does it: every fragment but the last
 * carries (mtu - header length) rounded down to a multiple of 8 payload bytes, MF set on all but
 * the last (which keeps the original MF, so fragmenting a fragment works), offsets in 8-byte
 * units added to the original offset, header checksum recomputed.
 * Simplification: the whole header (options included) is copied to each fragment; Linux drops
 * options without the copy bit (`ip_options_fragment`). vfab's senders use no options.
 */
import { finish, sumBytes } from '../wire/checksum.js';

/** Fragments datagram `ip` (header first, TTL already decremented) to fit `mtu`. */
export function fragmentIpv4(ip: Uint8Array, mtu: number): Uint8Array[] {
  const ihl = (ip[0]! & 0x0f) * 4;
  const total = (ip[2]! << 8) | ip[3]!;
  const word = (ip[6]! << 8) | ip[7]!;
  const baseOffset = word & 0x1fff;
  const origMf = (word & 0x2000) !== 0;
  const chunk = (mtu - ihl) & ~7;
  if (chunk <= 0) return [];
  const out: Uint8Array[] = [];
  for (let pos = ihl; pos < total; pos += chunk) {
    const len = Math.min(chunk, total - pos);
    const last = pos + len >= total;
    const f = new Uint8Array(ihl + len);
    f.set(ip.subarray(0, ihl), 0);
    f.set(ip.subarray(pos, pos + len), ihl);
    const flen = ihl + len;
    f[2] = flen >>> 8;
    f[3] = flen & 0xff;
    const off = baseOffset + ((pos - ihl) >>> 3);
    const w = (word & 0x4000) | (!last || origMf ? 0x2000 : 0) | off;
    f[6] = w >>> 8;
    f[7] = w & 0xff;
    f[10] = 0;
    f[11] = 0;
    const c = finish(sumBytes(f, 0, ihl));
    f[10] = c >>> 8;
    f[11] = c & 0xff;
    out.push(f);
  }
  return out;
}
