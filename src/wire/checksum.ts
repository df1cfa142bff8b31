/**
 * The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers used by UDP, TCP and ICMPv6
 * (RFC 768, RFC 793, RFC 8200 §8.1). Sums are accumulated unfolded in a JS number (no overflow for
 * any frame size we handle) and folded once at the end.
 */
import type { Ipv6Words } from './ip.js';

/** Below this many bytes the plain byte loop wins over creating a 16-bit view. */
const WIDE_MIN = 96;

/**
 * Adds the 16-bit big-endian words of bytes[start, end) to `sum` (odd tail padded with 0).
 * Long even-aligned runs are summed as host-order (little-endian) 16-bit words and the folded
 * result byte-swapped: the one's complement sum is byte-order independent (RFC 1071 §2(B)).
 */
export function sumBytes(bytes: Uint8Array, start: number, end: number, sum = 0): number {
  const len = end - start;
  const at = bytes.byteOffset + start;
  if (len >= WIDE_MIN && LITTLE_ENDIAN && (at & 1) === 0) {
    const w = wordsOf(bytes.buffer, at + len);
    let s = 0;
    for (let i = at >>> 1, e = i + (len >>> 1); i < e; i++) s += w[i]!;
    s = fold(s);
    sum += ((s & 0xff) << 8) | (s >>> 8);
    if (len & 1) sum += bytes[end - 1]! << 8;
    return sum;
  }
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  return sum;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A 16-bit view of the whole buffer last summed, made again only for another buffer (frames are
 * carved from shared slabs, so consecutive sums mostly read the same one): a view per call was
 * an allocation per checksummed segment. It keeps at most that one buffer reachable.
 */
let wideBuf: ArrayBufferLike | null = null;
let wideView: Uint16Array = new Uint16Array(0);

/** The cached view of `buf`, covering at least its first `endByte` bytes. */
function wordsOf(buf: ArrayBufferLike, endByte: number): Uint16Array {
  if (buf !== wideBuf || wideView.length * 2 < (endByte & ~1)) {
    wideBuf = buf;
    wideView = new Uint16Array(buf, 0, buf.byteLength >>> 1);
  }
  return wideView;
}

export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** One's complement of the folded sum: the value to store in a checksum field. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

function sum32(w: number): number {
  return (w >>> 16) + (w & 0xffff);
}

export function pseudoHeaderV4(src: number, dst: number, protocol: number, length: number): number {
  return sum32(src >>> 0) + sum32(dst >>> 0) + protocol + length;
}

export function pseudoHeaderV6(src: readonly number[], dst: readonly number[], nextHeader: number, length: number): number {
  let s = 0;
  for (let i = 0; i < 4; i++) s += sum32((src[i] ?? 0) >>> 0) + sum32((dst[i] ?? 0) >>> 0);
  return s + sum32(length >>> 0) + nextHeader;
}

/** The IP layer a transport checksum covers: IPv4 or IPv6 source and destination. */
export type PseudoHeader =
  | { readonly kind: 'ipv4'; readonly src: number; readonly dst: number }
  | { readonly kind: 'ipv6'; readonly src: Ipv6Words; readonly dst: Ipv6Words };

export function pseudoHeaderSum(ph: PseudoHeader, protocol: number, length: number): number {
  return ph.kind === 'ipv4'
    ? pseudoHeaderV4(ph.src, ph.dst, protocol, length)
    : pseudoHeaderV6(ph.src, ph.dst, protocol, length);
}

/**
 * Whether the IPv4 header at bytes[o, o + ihl) verifies (Linux `ip_fast_csum` == 0): the same
 * answer as `fold(sumBytes(bytes, o, o + ihl)) === 0xffff`, as one tight loop with two folds (a
 * header is at most 60 bytes, so 30 words can carry at most 5 bits past 16). The per-packet
 * receive path of routers and tunnel endpoints verifies every header with it.
 */
export function ipv4HeaderSumOk(bytes: Uint8Array, o: number, ihl: number): boolean {
  let s = 0;
  const end = o + ihl;
  for (let i = o; i < end; i += 2) s += (bytes[i]! << 8) | bytes[i + 1]!;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}
