/**
 * IP addresses as numbers: IPv4 as an unsigned 32-bit integer, IPv6 as four big-endian 32-bit
 * words (`Ipv6Words`). Text parsing accepts the usual dotted-quad and RFC 4291 §2.2 forms; it is
 * written out here rather than taken from ip-num (which loading would add ~60 ms to every CLI
 * start), and a property test holds it to ip-num's answers. The hot path never touches strings.
 */
import { UserError } from '../errors.js';

export type Ipv6Words = [number, number, number, number];

export function parseIpv4(s: string): number {
  const n = dottedQuad(s.trim());
  if (n < 0) throw new UserError('WIRE_BAD_IPV4', `invalid IPv4 address "${s}"`, { hint: 'write a dotted quad, e.g. 10.0.0.1' });
  return n;
}

/**
 * Four decimal octets 0..255 of 1-3 digits without leading zeros, dot-separated → the address;
 * −1 if not that. A leading zero is refused as glibc's inet_pton4 refuses it (inet_aton would
 * read `010` as octal 8: refusing is the only reading that cannot surprise).
 */
function dottedQuad(t: string): number {
  if (!/^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/.test(t)) return -1;
  const p = t.split('.');
  for (const o of p) if (+o > 255) return -1;
  return ((+p[0]! << 24) | (+p[1]! << 16) | (+p[2]! << 8) | +p[3]!) >>> 0;
}

export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

export interface Ipv4Cidr {
  address: number;
  prefixLength: number;
}

/** `10.0.0.1/24` → `{address, prefixLength}` (the host address is kept, not masked). */
export function parseIpv4Cidr(s: string): Ipv4Cidr {
  const t = s.trim();
  const slash = t.indexOf('/');
  if (slash < 0) {
    throw new UserError('WIRE_BAD_CIDR', `invalid IPv4 CIDR "${s}": missing /prefix`, { hint: 'e.g. 10.0.0.1/24' });
  }
  const address = parseIpv4(t.slice(0, slash));
  const ps = t.slice(slash + 1);
  const prefixLength = Number(ps);
  if (!/^\d{1,2}$/.test(ps) || prefixLength > 32) {
    throw new UserError('WIRE_BAD_CIDR', `invalid IPv4 prefix length "${ps}" in "${s}" (0-32)`);
  }
  return { address, prefixLength };
}

export function ipv4Mask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) >>> 0;
}

export function ipv4InSubnet(a: number, net: number, prefixLength: number): boolean {
  const m = ipv4Mask(prefixLength);
  return ((a & m) >>> 0) === ((net & m) >>> 0);
}

export function parseIpv6(s: string): Ipv6Words {
  const g = ipv6Groups(s.trim());
  if (g === null) throw new UserError('WIRE_BAD_IPV6', `invalid IPv6 address "${s}"`, { hint: 'e.g. fd00::1' });
  const w = (i: number): number => ((g[i]! << 16) | g[i + 1]!) >>> 0;
  return [w(0), w(2), w(4), w(6)];
}

/**
 * RFC 4291 §2.2 text → eight 16-bit groups, or null: 1-4 hex digits per group, at most one `::`
 * standing for one or more zero groups, and a dotted quad in place of the last two groups.
 */
function ipv6Groups(t: string): number[] | null {
  const dbl = t.indexOf('::');
  if (dbl >= 0 && t.indexOf('::', dbl + 1) >= 0) return null;
  const side = (part: string, last: boolean): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const x = items[i]!;
      if (last && i === items.length - 1 && x.includes('.')) {
        const v = dottedQuad(x);
        if (v < 0) return null;
        out.push(v >>> 16, v & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(x)) out.push(parseInt(x, 16));
      else return null;
    }
    return out;
  };
  if (dbl < 0) {
    const g = side(t, true);
    return g !== null && g.length === 8 ? g : null;
  }
  const head = side(t.slice(0, dbl), false);
  const tail = side(t.slice(dbl + 2), true);
  if (head === null || tail === null || head.length + tail.length > 7) return null;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

export interface Ipv6Cidr {
  address: Ipv6Words;
  prefixLength: number;
}

export function parseIpv6Cidr(s: string): Ipv6Cidr {
  const t = s.trim();
  const slash = t.indexOf('/');
  if (slash < 0) throw new UserError('WIRE_BAD_CIDR', `invalid IPv6 CIDR "${s}": missing /prefix`, { hint: 'e.g. fd00::1/64' });
  const ps = t.slice(slash + 1);
  const prefixLength = Number(ps);
  if (!/^\d{1,3}$/.test(ps) || prefixLength > 128) {
    throw new UserError('WIRE_BAD_CIDR', `invalid IPv6 prefix length "${ps}" in "${s}" (0-128)`);
  }
  return { address: parseIpv6(t.slice(0, slash)), prefixLength };
}

/** RFC 5952 text: lowercase, longest run (≥ 2) of zero groups compressed to `::`. */
export function formatIpv6(words: readonly number[]): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = (words[i] ?? 0) >>> 0;
    g.push(w >>> 16, w & 0xffff);
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (bestLen < 2) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

export function ipv6Equal(a: readonly number[], b: readonly number[]): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/** Solicited-node multicast address ff02::1:ffXX:XXXX for `a` (RFC 4291 §2.7.1). */
export function solicitedNodeMulticast(a: readonly number[]): Ipv6Words {
  return [0xff02_0000, 0, 1, (0xff00_0000 | ((a[3] ?? 0) & 0xff_ffff)) >>> 0];
}

/** Ethernet multicast MAC for an IPv6 multicast address: 33:33 + low 32 bits (RFC 2464 §7). */
export function ipv6MulticastMac(a: readonly number[]): number {
  return 0x3333 * 0x1_0000_0000 + ((a[3] ?? 0) >>> 0);
}

export const IPV6_ALL_NODES: Ipv6Words = [0xff02_0000, 0, 0, 1];
