/**
 * ICMPv4 error messages (RFC 792, RFC 1191, RFC 1812 §4.3.2) as a router or host sends them:
 * destination unreachable (type 3: net 0, host 1, protocol 2, port 3, fragmentation needed 4 with
 * the next-hop MTU in bytes 6–7), time exceeded (type 11, code 0 in transit).
 *
 * The quote follows Linux `icmp_send` (net/ipv4/icmp.c): as much of the offending datagram as fits
 * in 576 bytes of error (`room = 576 - sizeof(iphdr) - sizeof(icmphdr)`, so up to 548 bytes), never
 * past the datagram's own total length, which is more than RFC 792's "IP header + 64 bits".
 * `errorAllowed` holds RFC 1812 §4.3.2.7's "never send an error about…" rules as Linux applies
 * them: not about an ICMP error, a non-first fragment, or a broadcast/multicast destination.
 */
import { finish, sumBytes } from './checksum.js';

export const IcmpErrorType = { DestUnreachable: 3, TimeExceeded: 11 } as const;
export const UnreachCode = { Net: 0, Host: 1, Protocol: 2, Port: 3, FragNeeded: 4 } as const;

/** Linux `icmp_send`: an error is at most 576 bytes of IP datagram. */
export const ICMP_ERROR_MAX_IP_LEN = 576;
/** Linux: ICMP errors carry TOS = (orig & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL (0xc0). */
export const ICMP_ERROR_PREC = 0xc0;

/**
 * The ICMP message (header + quote, no IP header) for an error about `orig` (bytes of the
 * offending IPv4 datagram from its first header byte). `mtu` fills the next-hop MTU field of
 * fragmentation-needed (RFC 1191 §4); zero otherwise.
 */
export function buildIcmpErrorMessage(type: number, code: number, orig: Uint8Array, mtu = 0): Uint8Array {
  const origTotal = orig.length >= 4 ? (orig[2]! << 8) | orig[3]! : orig.length;
  const quoteLen = Math.min(orig.length, origTotal, ICMP_ERROR_MAX_IP_LEN - 20 - 8);
  const m = new Uint8Array(8 + quoteLen);
  m[0] = type;
  m[1] = code;
  if (type === IcmpErrorType.DestUnreachable && code === UnreachCode.FragNeeded) {
    m[6] = (mtu >>> 8) & 0xff;
    m[7] = mtu & 0xff;
  }
  m.set(orig.subarray(0, quoteLen), 8);
  const c = finish(sumBytes(m, 0, m.length));
  m[2] = c >>> 8;
  m[3] = c & 0xff;
  return m;
}

/** ICMP types that are errors (RFC 1122 §3.2.2): an error is never sent about one of these. */
const ERROR_TYPES = new Set([3, 4, 5, 11, 12]);

/**
 * RFC 1812 §4.3.2.7 / Linux `icmp_send` guards for the IPv4 datagram `ip` (header first):
 * not about an ICMP error, not about a non-first fragment, not to a broadcast/multicast or
 * zero source.
 */
export function errorAllowed(ip: Uint8Array): boolean {
  return errorAllowedAt(ip, 0, ip.length);
}

/** `errorAllowed` for the datagram at `f[start..end)`, without making a view of it. */
export function errorAllowedAt(f: Uint8Array, start: number, end: number): boolean {
  const len = end - start;
  if (len < 20) return false;
  const ihl = (f[start]! & 0x0f) * 4;
  const frag = ((f[start + 6]! << 8) | f[start + 7]!) & 0x1fff;
  if (frag !== 0) return false;
  const src0 = f[start + 12]!;
  if (src0 === 0 || src0 >= 224) return false;
  const dst0 = f[start + 16]!;
  if (dst0 >= 224) return false;
  if (f[start + 9] === 1 && len >= ihl + 1 && ERROR_TYPES.has(f[start + ihl]!)) return false;
  return true;
}
