/**
 * OXM (OpenFlow Extensible Match) TLVs and `struct ofp_match`.
 *
 * Layout (spec 1.3.5 §7.2.3.2): a 32-bit header `class:16 | field:7 | hasmask:1 | length:8`,
 * then the value and, with hasmask, a mask of the same size (length counts both). A match is
 * `{u16 type = OFPMT_OXM, u16 length (header + TLVs, no padding), TLVs, zero padding to 8}`.
 *
 * Values: fields up to 6 bytes are numbers (MACs fit a double exactly); 8- and 16-byte fields
 * (metadata, tunnel_id, IPv6 addresses) are bigints. TLVs of other classes or unknown
 * OPENFLOW_BASIC fields are kept raw, so they round-trip; the switch refuses them with
 * OFPBMC_BAD_FIELD when it tries to use them.
 *
 * Decoding checks syntax (lengths, duplicate fields, masks on unmaskable fields, value bits
 * outside the mask, out-of-range values); prerequisites are checked separately by `prereqError`
 * because they are a property of a whole match a switch is asked to install (§7.2.3.6).
 */
import type { Reader, Writer } from './buf.js';
import { OFPBMC, OFPET, OFPMT_OXM, OFPXMC_OPENFLOW_BASIC, OFPVID_PRESENT } from './constants.js';

export interface OxmFieldDef {
  name: OxmName;
  /** oxm_field number in class OPENFLOW_BASIC (spec table 12 `enum oxm_ofb_match_fields`). */
  id: number;
  /** Value length in bytes. */
  len: number;
  maskable: boolean;
  /** Largest legal value for fields narrower than their bytes (e.g. VLAN_PCP 3 bits). */
  max?: number;
}

export type OxmName =
  | 'in_port' | 'in_phy_port' | 'metadata' | 'eth_dst' | 'eth_src' | 'eth_type' | 'vlan_vid' | 'vlan_pcp'
  | 'ip_dscp' | 'ip_ecn' | 'ip_proto' | 'ipv4_src' | 'ipv4_dst' | 'tcp_src' | 'tcp_dst' | 'udp_src' | 'udp_dst'
  | 'sctp_src' | 'sctp_dst' | 'icmpv4_type' | 'icmpv4_code' | 'arp_op' | 'arp_spa' | 'arp_tpa' | 'arp_sha'
  | 'arp_tha' | 'ipv6_src' | 'ipv6_dst' | 'ipv6_flabel' | 'icmpv6_type' | 'icmpv6_code' | 'ipv6_nd_target'
  | 'ipv6_nd_sll' | 'ipv6_nd_tll' | 'mpls_label' | 'mpls_tc' | 'mpls_bos' | 'pbb_isid' | 'tunnel_id'
  | 'ipv6_exthdr';

// Spec 1.3.5 table 12 (ids, sizes, maskability); os-ken `ofproto/oxm_fields.py` agrees.
const DEFS: [OxmName, number, number, boolean, number?][] = [
  ['in_port', 0, 4, false],
  ['in_phy_port', 1, 4, false],
  ['metadata', 2, 8, true],
  ['eth_dst', 3, 6, true],
  ['eth_src', 4, 6, true],
  ['eth_type', 5, 2, false],
  ['vlan_vid', 6, 2, true, 0x1fff],
  ['vlan_pcp', 7, 1, false, 7],
  ['ip_dscp', 8, 1, false, 63],
  ['ip_ecn', 9, 1, false, 3],
  ['ip_proto', 10, 1, false],
  ['ipv4_src', 11, 4, true],
  ['ipv4_dst', 12, 4, true],
  ['tcp_src', 13, 2, false],
  ['tcp_dst', 14, 2, false],
  ['udp_src', 15, 2, false],
  ['udp_dst', 16, 2, false],
  ['sctp_src', 17, 2, false],
  ['sctp_dst', 18, 2, false],
  ['icmpv4_type', 19, 1, false],
  ['icmpv4_code', 20, 1, false],
  ['arp_op', 21, 2, false],
  ['arp_spa', 22, 4, true],
  ['arp_tpa', 23, 4, true],
  ['arp_sha', 24, 6, true],
  ['arp_tha', 25, 6, true],
  ['ipv6_src', 26, 16, true],
  ['ipv6_dst', 27, 16, true],
  ['ipv6_flabel', 28, 4, true, 0xfffff],
  ['icmpv6_type', 29, 1, false],
  ['icmpv6_code', 30, 1, false],
  ['ipv6_nd_target', 31, 16, false],
  ['ipv6_nd_sll', 32, 6, false],
  ['ipv6_nd_tll', 33, 6, false],
  ['mpls_label', 34, 4, false, 0xfffff],
  ['mpls_tc', 35, 1, false, 7],
  ['mpls_bos', 36, 1, false, 1],
  ['pbb_isid', 37, 3, true],
  ['tunnel_id', 38, 8, true],
  ['ipv6_exthdr', 39, 2, true, 0x1ff],
];

export const OXM_FIELDS: OxmFieldDef[] = DEFS.map(([name, id, len, maskable, max]) =>
  max === undefined ? { name, id, len, maskable } : { name, id, len, maskable, max },
);
export const OXM_BY_NAME = new Map<OxmName, OxmFieldDef>(OXM_FIELDS.map((d) => [d.name, d]));
/** The same by name as a plain record (the encoder's per-TLV lookup; cheaper than a Map). */
const OXM_DEF = Object.fromEntries(OXM_FIELDS.map((d) => [d.name, d])) as Record<OxmName, OxmFieldDef>;
const OXM_BY_ID: (OxmFieldDef | undefined)[] = [];
for (const d of OXM_FIELDS) OXM_BY_ID[d.id] = d;

/** A known OPENFLOW_BASIC field. `value`/`mask` are bigint for 8- and 16-byte fields. */
export interface OxmTlv {
  field: OxmName;
  value: number | bigint;
  mask?: number | bigint;
}
/** Any other TLV, kept as bytes (payload = value and mask as on the wire). */
export interface OxmRaw {
  field: 'raw';
  oxmClass: number;
  oxmField: number;
  hasMask: boolean;
  payload: Uint8Array;
}
export type Oxm = OxmTlv | OxmRaw;
export type Match = Oxm[];

/** An OpenFlow error (type, code) found while decoding. */
export interface OfpErr {
  type: number;
  code: number;
  /** Byte offset in the message, for reports. */
  at?: number;
  why?: string;
}

export function matchErr(code: number, at: number, why: string): OfpErr {
  return { type: OFPET.BAD_MATCH, code, at, why };
}

function isBig(len: number): boolean {
  return len > 6;
}

function writeVal(w: Writer, len: number, v: number | bigint): void {
  switch (len) {
    case 1:
      w.u8(Number(v));
      return;
    case 2:
      w.u16(Number(v));
      return;
    case 3: {
      const n = Number(v);
      w.u8((n >>> 16) & 0xff);
      w.u16(n & 0xffff);
      return;
    }
    case 4:
      w.u32(Number(v));
      return;
    case 6:
      w.u48(Number(v));
      return;
    case 8:
      w.u64(BigInt(v));
      return;
    case 16: {
      const b = BigInt(v);
      w.u64(b >> 64n);
      w.u64(b);
      return;
    }
  }
}

function readVal(r: Reader, len: number): number | bigint {
  switch (len) {
    case 1:
      return r.u8();
    case 2:
      return r.u16();
    case 3:
      return (r.u8() << 16) | r.u16();
    case 4:
      return r.u32();
    case 6:
      return r.u48();
    case 8:
      return r.u64();
    default: {
      const hi = r.u64();
      return (hi << 64n) | r.u64();
    }
  }
}

/** Bytes one TLV takes on the wire. */
export function oxmLen(o: Oxm): number {
  if (o.field === 'raw') return 4 + o.payload.length;
  const d = OXM_BY_NAME.get(o.field)!;
  return 4 + (o.mask === undefined ? d.len : 2 * d.len);
}

export function writeOxm(w: Writer, o: Oxm): void {
  if (o.field === 'raw') {
    w.u16(o.oxmClass);
    w.u8((o.oxmField << 1) | (o.hasMask ? 1 : 0));
    w.u8(o.payload.length);
    w.bytes(o.payload);
    return;
  }
  const d = OXM_DEF[o.field];
  const hm = o.mask !== undefined;
  w.u16(OFPXMC_OPENFLOW_BASIC);
  w.u8((d.id << 1) | (hm ? 1 : 0));
  w.u8(hm ? 2 * d.len : d.len);
  writeVal(w, d.len, o.value);
  if (hm) writeVal(w, d.len, o.mask!);
}

/** Writes `struct ofp_match` with its padding. */
export function writeMatch(w: Writer, m: Match): void {
  const start = w.pos;
  w.u16(OFPMT_OXM);
  w.u16(0);
  for (const o of m) writeOxm(w, o);
  w.patch16(start + 2, w.pos - start);
  w.align8(start);
}

/** The oxm_field of the TLV `readOxm` read last (saves `readMatch` a lookup by name). */
let lastOxmId = 0;

/** Reads one TLV from `r` (which ends where the TLV list ends). */
export function readOxm(r: Reader): Oxm | OfpErr {
  const at = r.pos;
  if (r.left < 4) return matchErr(OFPBMC.BAD_LEN, at, 'OXM header truncated');
  const cls = r.u16();
  const fb = r.u8();
  const len = r.u8();
  const id = fb >> 1;
  const hm = (fb & 1) === 1;
  if (len > r.left) return matchErr(OFPBMC.BAD_LEN, at, `OXM length ${len} past the end of the match`);
  const d = cls === OFPXMC_OPENFLOW_BASIC ? OXM_BY_ID[id] : undefined;
  lastOxmId = id;
  if (!d) return { field: 'raw', oxmClass: cls, oxmField: id, hasMask: hm, payload: r.bytes(len) };
  if (len !== (hm ? 2 * d.len : d.len)) return matchErr(OFPBMC.BAD_LEN, at, `${d.name}: OXM length ${len}, expected ${hm ? 2 * d.len : d.len}`);
  if (hm && !d.maskable) return matchErr(OFPBMC.BAD_MASK, at, `${d.name} cannot be masked`);
  const value = readVal(r, d.len);
  if (d.max !== undefined && Number(value) > d.max) return matchErr(OFPBMC.BAD_VALUE, at, `${d.name} value ${value} > ${d.max}`);
  if (!hm) return { field: d.name, value };
  const mask = readVal(r, d.len);
  if (d.max !== undefined && Number(mask) > d.max) return matchErr(OFPBMC.BAD_MASK, at, `${d.name} mask ${mask} > ${d.max}`);
  // §7.2.3.5: a value bit set where the mask is 0 is an error (OFPBMC_BAD_WILDCARDS).
  if (isBig(d.len) ? ((value as bigint) & ~(mask as bigint)) !== 0n : hasBitsOutside(value as number, mask as number)) {
    return matchErr(OFPBMC.BAD_WILDCARDS, at, `${d.name} value has bits outside its mask`);
  }
  return { field: d.name, value, mask };
}

function hasBitsOutside(v: number, m: number): boolean {
  // 48-bit safe: split into high 16 and low 32 bits.
  const vh = Math.floor(v / 0x1_0000_0000);
  const mh = Math.floor(m / 0x1_0000_0000);
  return (vh & ~mh) !== 0 || ((v >>> 0) & ~(m >>> 0)) !== 0;
}

/**
 * Reads `struct ofp_match` at `r.pos`, leaving `r.pos` after its padding. Errors carry
 * OFPET_BAD_MATCH codes (§7.2.3: BAD_TYPE, BAD_LEN, DUP_FIELD, BAD_MASK, BAD_WILDCARDS, …).
 */
export function readMatch(r: Reader): Match | OfpErr {
  const start = r.pos;
  if (r.left < 4) return matchErr(OFPBMC.BAD_LEN, start, 'match header truncated');
  const type = r.u16();
  const len = r.u16();
  if (type !== OFPMT_OXM) return matchErr(OFPBMC.BAD_TYPE, start, `match type ${type} (only OFPMT_OXM is OpenFlow 1.3)`);
  const padded = (len + 7) & ~7;
  if (len < 4 || padded > r.end - start) return matchErr(OFPBMC.BAD_LEN, start, `match length ${len}`);
  const outerEnd = r.end;
  r.end = start + len;
  const out: Match = [];
  // Field ids are < 40: two 32-bit masks (no BigInt allocation per field).
  let seenLo = 0;
  let seenHi = 0;
  while (r.pos < r.end) {
    const o = readOxm(r);
    if ('type' in o) {
      r.end = outerEnd;
      return o;
    }
    if (o.field !== 'raw') {
      const id = lastOxmId;
      const bit = 1 << (id & 31);
      const dup = id < 32 ? seenLo & bit : seenHi & bit;
      if (dup) {
        r.end = outerEnd;
        return matchErr(OFPBMC.DUP_FIELD, r.pos, `${o.field} appears twice`);
      }
      if (id < 32) seenLo |= bit;
      else seenHi |= bit;
    }
    out.push(o);
  }
  r.end = outerEnd;
  r.pos = start + padded;
  return out;
}

/** Bytes `writeMatch` takes, with padding. */
export function matchLen(m: Match): number {
  let n = 4;
  for (const o of m) n += oxmLen(o);
  return (n + 7) & ~7;
}

export function oxmGet(m: Match, name: OxmName): OxmTlv | undefined {
  for (const o of m) if (o.field === name) return o;
  return undefined;
}

const ETH_IP = 0x0800;
const ETH_ARP = 0x0806;
const ETH_IPV6 = 0x86dd;
const ETH_MPLS = [0x8847, 0x8848];

/**
 * The prerequisite a match lacks (spec table 12 "Prerequisite" column), as an OFPBMC_BAD_PREREQ
 * error, or null. Like OVS (`mf_are_prereqs_ok`), the prerequisite may appear anywhere in the
 * match, not only before the field.
 */
export function prereqError(m: Match): OfpErr | null {
  const exact = (n: OxmName): number | null => {
    const o = oxmGet(m, n);
    return o && o.mask === undefined ? Number(o.value) : null;
  };
  const et = exact('eth_type');
  const proto = exact('ip_proto');
  const ip = et === ETH_IP || et === ETH_IPV6;
  const vid = oxmGet(m, 'vlan_vid');
  const icmp6Type = exact('icmpv6_type');
  for (const o of m) {
    if (o.field === 'raw') continue;
    let ok = true;
    switch (o.field) {
      case 'vlan_pcp':
        ok = vid !== undefined && (Number(vid.value) & OFPVID_PRESENT) !== 0;
        break;
      case 'ip_dscp':
      case 'ip_ecn':
      case 'ip_proto':
        ok = ip;
        break;
      case 'ipv4_src':
      case 'ipv4_dst':
        ok = et === ETH_IP;
        break;
      case 'ipv6_src':
      case 'ipv6_dst':
      case 'ipv6_flabel':
      case 'ipv6_exthdr':
        ok = et === ETH_IPV6;
        break;
      case 'tcp_src':
      case 'tcp_dst':
        ok = ip && proto === 6;
        break;
      case 'udp_src':
      case 'udp_dst':
        ok = ip && proto === 17;
        break;
      case 'sctp_src':
      case 'sctp_dst':
        ok = ip && proto === 132;
        break;
      case 'icmpv4_type':
      case 'icmpv4_code':
        ok = et === ETH_IP && proto === 1;
        break;
      case 'icmpv6_type':
      case 'icmpv6_code':
        ok = et === ETH_IPV6 && proto === 58;
        break;
      case 'ipv6_nd_target':
        ok = et === ETH_IPV6 && proto === 58 && (icmp6Type === 135 || icmp6Type === 136);
        break;
      case 'ipv6_nd_sll':
        ok = et === ETH_IPV6 && proto === 58 && icmp6Type === 135;
        break;
      case 'ipv6_nd_tll':
        ok = et === ETH_IPV6 && proto === 58 && icmp6Type === 136;
        break;
      case 'arp_op':
      case 'arp_spa':
      case 'arp_tpa':
      case 'arp_sha':
      case 'arp_tha':
        ok = et === ETH_ARP;
        break;
      case 'mpls_label':
      case 'mpls_tc':
      case 'mpls_bos':
        ok = et !== null && ETH_MPLS.includes(et);
        break;
      case 'pbb_isid':
        ok = et === 0x88e7;
        break;
      default:
        break;
    }
    if (!ok) return matchErr(OFPBMC.BAD_PREREQ, 0, `${o.field} needs a prerequisite the match lacks`);
  }
  return null;
}
