/**
 * Geneve (RFC 8926) inside the same outer Ethernet/IPv4/UDP headers as VXLAN (vxlan.ts).
 *
 * Base header (8 bytes, §3.4): Ver (2 bits, 0) | Opt Len (6 bits, in 4-byte words) | O (control
 * packet) | C (critical options present) | 6 reserved bits | Protocol Type (0x6558, Transparent
 * Ethernet Bridging, for an Ethernet payload) | VNI (24 bits) | 8 reserved bits. Then Opt Len × 4
 * bytes of options (§3.5), each: Option Class (16) | Type (8, high bit = critical) | 3 reserved
 * bits | Length (5 bits, data length in 4-byte words) | data. So the options total at most 252
 * bytes and one option's data at most 124. With no options the overhead equals VXLAN's: 50 bytes.
 *
 * Receive rules (RFC 8926 §3.4/§3.5, what Linux `geneve_rx` and OVS do): an unknown version is
 * dropped; a packet with a critical option the endpoint does not understand is dropped (vfab
 * understands no option, so C set or any critical option type drops: `geneve-critical-option`);
 * a non-Ethernet protocol type is not for a bridge port (`geneve-not-ethernet`).
 */
import { writeOuter, writeUdpChecksum, type OuterHeaders } from './vxlan.js';

export const GENEVE_PORT = 6081;
export const GENEVE_HEADER_LEN = 8;
/** Outer Ethernet 14 + IPv4 20 + UDP 8 + Geneve 8 (+ options). */
export const GENEVE_OVERHEAD = 50;
export const GENEVE_PROTO_ETHERNET = 0x6558;
export const GENEVE_OPTIONS_MAX = 252;
export const GENEVE_OPTION_DATA_MAX = 124;
/** Option type bit meaning "critical" (§3.5.1). */
export const GENEVE_CRITICAL = 0x80;

export interface GeneveOption {
  /** Option Class (16 bits; 0x0100–0x01ff are the IANA "Open vSwitch" range, 0xffff experimental). */
  cls: number;
  /** Type (8 bits); bit 0x80 = critical. */
  type: number;
  /** Data, a multiple of 4 bytes, at most 124. */
  data: Uint8Array;
}

/** Encoded length of `options` in bytes, or a reason when they cannot be encoded. */
export function geneveOptionsLength(options: readonly GeneveOption[]): number | string {
  let n = 0;
  for (const o of options) {
    if (o.data.length % 4 !== 0) return `option data of ${o.data.length} bytes is not a multiple of 4`;
    if (o.data.length > GENEVE_OPTION_DATA_MAX) return `option data of ${o.data.length} bytes is over ${GENEVE_OPTION_DATA_MAX}`;
    if (!Number.isInteger(o.cls) || o.cls < 0 || o.cls > 0xffff || !Number.isInteger(o.type) || o.type < 0 || o.type > 0xff) return 'option class or type out of range';
    n += 4 + o.data.length;
  }
  return n > GENEVE_OPTIONS_MAX ? `${n} bytes of options is over ${GENEVE_OPTIONS_MAX}` : n;
}

/**
 * The Geneve header at `g` (RFC 8926 §3.4: version 0, option length in 4-byte words, O and C
 * bits, protocol type, VNI) and its options; `optLen` is geneveOptionsLength(options). Returns
 * where the inner frame starts. Shared by the IPv4 and IPv6 encapsulations.
 */
export function writeGeneveHeader(f: Uint8Array, g: number, vni: number, options: readonly GeneveOption[], optLen: number, oam: boolean): number {
  let critical = false;
  for (const op of options) if (op.type & GENEVE_CRITICAL) critical = true;
  f[g] = optLen / 4; // version 0 in the top two bits
  f[g + 1] = (oam ? 0x80 : 0) | (critical ? 0x40 : 0);
  f[g + 2] = GENEVE_PROTO_ETHERNET >>> 8;
  f[g + 3] = GENEVE_PROTO_ETHERNET & 0xff;
  f[g + 4] = (vni >>> 16) & 0xff;
  f[g + 5] = (vni >>> 8) & 0xff;
  f[g + 6] = vni & 0xff;
  f[g + 7] = 0;
  let p = g + 8;
  for (const op of options) {
    f[p] = op.cls >>> 8;
    f[p + 1] = op.cls & 0xff;
    f[p + 2] = op.type;
    f[p + 3] = op.data.length / 4;
    f.set(op.data, p + 4);
    p += 4 + op.data.length;
  }
  return p;
}

/** The whole encapsulated frame: outer Ethernet/IPv4/UDP, Geneve with `vni` and `options`, then `inner`. */
export function encapGeneve(o: OuterHeaders, vni: number, inner: Uint8Array, options: readonly GeneveOption[] = [], oam = false): Uint8Array {
  const optLen = geneveOptionsLength(options);
  if (typeof optLen === 'string') throw new RangeError(`geneve: ${optLen}`);
  const udpLen = 8 + GENEVE_HEADER_LEN + optLen + inner.length;
  const f = new Uint8Array(Math.max(60, 14 + 20 + udpLen));
  writeOuter(f, o, udpLen);
  const p = writeGeneveHeader(f, 42, vni, options, optLen, oam);
  f.set(inner, p);
  if (o.csum) writeUdpChecksum(f, o, udpLen);
  return f;
}

export interface GeneveView {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  vni: number;
  oam: boolean;
  critical: boolean;
  options: GeneveOption[];
  /** The inner Ethernet frame (a view into the outer buffer). */
  inner: Uint8Array;
}

/**
 * Parses an IPv4 datagram `ip` (header first) carrying UDP; returns the Geneve view or a drop
 * reason (`bad-geneve` for lengths that do not add up, `geneve-version`, `geneve-not-ethernet`).
 * Critical options are reported, not refused: the tunnel port decides.
 */
export function parseGeneve(ip: Uint8Array): GeneveView | string {
  const ihl = (ip[0]! & 0x0f) * 4;
  const total = (ip[2]! << 8) | ip[3]!;
  if (ip[9] !== 17 || total > ip.length || total < ihl + 16) return 'bad-geneve';
  const u = ihl;
  const udpLen = (ip[u + 4]! << 8) | ip[u + 5]!;
  if (udpLen < 16 || u + udpLen > total) return 'bad-geneve';
  const h = parseGeneveAt(ip, u + 8, u + udpLen);
  if (typeof h === 'string') return h;
  return {
    srcIp: ((ip[12]! << 24) | (ip[13]! << 16) | (ip[14]! << 8) | ip[15]!) >>> 0,
    dstIp: ((ip[16]! << 24) | (ip[17]! << 16) | (ip[18]! << 8) | ip[19]!) >>> 0,
    srcPort: (ip[u]! << 8) | ip[u + 1]!,
    dstPort: (ip[u + 2]! << 8) | ip[u + 3]!,
    ...h,
  };
}

/** The Geneve header at `g` of a UDP payload ending at `end` (any outer family; udp-tunnel6.ts uses it for IPv6). */
export function parseGeneveAt(ip: Uint8Array, g: number, end: number): Pick<GeneveView, 'vni' | 'oam' | 'critical' | 'options' | 'inner'> | string {
  if (g + 8 > end) return 'bad-geneve';
  if (ip[g]! >> 6 !== 0) return 'geneve-version';
  const optLen = (ip[g]! & 0x3f) * 4;
  if (g + 8 + optLen > end) return 'bad-geneve';
  if (((ip[g + 2]! << 8) | ip[g + 3]!) !== GENEVE_PROTO_ETHERNET) return 'geneve-not-ethernet';
  const options: GeneveOption[] = [];
  let critical = (ip[g + 1]! & 0x40) !== 0;
  let p = g + 8;
  const optEnd = p + optLen;
  while (p < optEnd) {
    if (p + 4 > optEnd) return 'bad-geneve';
    const len = (ip[p + 3]! & 0x1f) * 4;
    if (p + 4 + len > optEnd) return 'bad-geneve';
    const type = ip[p + 2]!;
    if (type & GENEVE_CRITICAL) critical = true;
    options.push({ cls: (ip[p]! << 8) | ip[p + 1]!, type, data: ip.subarray(p + 4, p + 4 + len) });
    p += 4 + len;
  }
  return {
    vni: (ip[g + 4]! << 16) | (ip[g + 5]! << 8) | ip[g + 6]!,
    oam: (ip[g + 1]! & 0x80) !== 0,
    critical,
    options,
    inner: ip.subarray(optEnd, end),
  };
}
