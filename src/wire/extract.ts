/**
 * Flow-key extraction: one pass over a frame filling the fields an OpenFlow match tests, with
 * Open vSwitch semantics (`lib/flow.c` `miniflow_extract`, `parse_vlan`, `parse_ethertype`,
 * `parse_ipv6_ext_hdrs`, `arp` and ICMP handling). See flow-key.ts for field meanings.
 *
 * Hot path: no allocation. Pass a key to reuse (its `ipv6Src`/`ipv6Dst` arrays are written in
 * place); `inPort` is left untouched (the bridge sets it).
 *
 * Errors: a truncated or malformed header returns a `WireError` naming layer, field and offset;
 * the passed key then still holds every field parsed before the bad layer (later ones are 0). OVS
 * instead keeps such a frame with only the fields it could parse; a caller wanting that behaviour
 * uses the key anyway. Like OVS:
 * - up to 2 VLAN tags (0x8100/0x88a8) are parsed; `vlanTci` is the outer one with 0x1000 set;
 * - an 802.3 length field (< 0x600) gives dlType 0x05ff (OVS `FLOW_DL_TYPE_NONE`);
 * - ARP/RARP with other than Ethernet/IPv4 sizes leave the ARP fields 0; opcodes > 255 give 0;
 * - IPv4 checksums are not verified; non-first fragments have no L4 fields;
 * - IPv6 hop-by-hop, routing, destination-options, fragment and AH headers are skipped;
 * - `nwFrag` is set for fragments; ND target and link-layer options fill `ndTarget`/`ndSll`/`ndTll`.
 */
import { malformed, truncated, type WireError } from './errors.js';
import type { FlowKey } from './flow-key.js';
import { emptyFlowKey } from './flow-key.js';
import { readMac } from './mac.js';

const FLOW_DL_TYPE_NONE = 0x05ff;

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function reset(k: FlowKey): void {
  k.dlSrc = 0;
  k.dlDst = 0;
  k.dlType = 0;
  k.vlanTci = 0;
  k.vlanOuterTpid = 0;
  k.nwSrc = 0;
  k.nwDst = 0;
  k.nwProto = 0;
  k.nwTos = 0;
  k.nwTtl = 0;
  k.tpSrc = 0;
  k.tpDst = 0;
  k.arpSha = 0;
  k.arpTha = 0;
  const s = k.ipv6Src;
  const d = k.ipv6Dst;
  const t = k.ndTarget;
  s[0] = s[1] = s[2] = s[3] = 0;
  d[0] = d[1] = d[2] = d[3] = 0;
  t[0] = t[1] = t[2] = t[3] = 0;
  k.nwFrag = 0;
  k.ndSll = 0;
  k.ndTll = 0;
  k.l3Offset = -1;
  k.l4Offset = -1;
}

export function extractFlowKey(frame: Uint8Array, key?: FlowKey): FlowKey | WireError {
  const k = key ?? emptyFlowKey();
  reset(k);
  const n = frame.length;
  if (n < 14) return truncated('ethernet', 'header', 0, 14, n);
  k.dlDst = readMac(frame, 0);
  k.dlSrc = readMac(frame, 6);
  let off = 12;
  let type = u16(frame, off);
  // VLAN tags (OVS parse_vlan: at most FLOW_MAX_VLAN_HEADERS = 2).
  for (let tags = 0; (type === 0x8100 || type === 0x88a8) && tags < 2; tags++) {
    if (n < off + 6) return truncated('vlan', 'tag', off, off + 6, n);
    const tci = u16(frame, off + 2);
    if (tags === 0) k.vlanTci = (tci & 0xefff) | 0x1000;
    else k.vlanOuterTpid = u16(frame, 12);
    off += 4;
    type = u16(frame, off);
  }
  off += 2;
  if (type < 0x600) {
    // 802.3 length field: OVS parse_ethertype returns FLOW_DL_TYPE_NONE unless LLC/SNAP.
    if (n >= off + 8 && frame[off] === 0xaa && frame[off + 1] === 0xaa && frame[off + 2] === 0x03 &&
        frame[off + 3] === 0 && frame[off + 4] === 0 && frame[off + 5] === 0) {
      type = u16(frame, off + 6);
      if (type >= 0x600) {
        off += 8;
      } else type = FLOW_DL_TYPE_NONE;
    } else type = FLOW_DL_TYPE_NONE;
  }
  k.dlType = type;
  if (type === FLOW_DL_TYPE_NONE) return k;
  k.l3Offset = off;

  if (type === 0x0800) return ipv4(frame, off, k);
  if (type === 0x86dd) return ipv6(frame, off, k);
  if (type === 0x0806 || type === 0x8035) {
    if (n < off + 28) return truncated('arp', 'header', off, off + 28, n);
    if (u16(frame, off) === 1 && u16(frame, off + 2) === 0x0800 && frame[off + 4] === 6 && frame[off + 5] === 4) {
      const op = u16(frame, off + 6);
      k.nwProto = op <= 0xff ? op : 0;
      k.arpSha = readMac(frame, off + 8);
      k.nwSrc = u32(frame, off + 14);
      k.arpTha = readMac(frame, off + 18);
      k.nwDst = u32(frame, off + 24);
    }
  }
  return k;
}

/** L4 fields of the header at `off`; `n` is where the IP payload ends (padding is not payload). */
function l4Ports(frame: Uint8Array, off: number, n: number, proto: number, k: FlowKey, layer: 'ipv4' | 'ipv6'): FlowKey | WireError {
  if (proto === 6 || proto === 17 || proto === 132) {
    const l = proto === 6 ? 'tcp' : 'udp';
    const need = proto === 6 ? 20 : 8;
    if (n < off + need) return truncated(l, 'header', off, off + need, n);
    k.l4Offset = off;
    k.tpSrc = u16(frame, off);
    k.tpDst = u16(frame, off + 2);
  } else if ((proto === 1 && layer === 'ipv4') || (proto === 58 && layer === 'ipv6')) {
    const l = proto === 1 ? 'icmp' : 'icmpv6';
    if (n < off + 4) return truncated(l, 'header', off, off + 4, n);
    k.l4Offset = off;
    k.tpSrc = frame[off]!;
    k.tpDst = frame[off + 1]!;
    if (proto === 58) neighborDiscovery(frame, off, n, k);
  }
  return k;
}

/**
 * OVS `parse_icmpv6` ND fields: NS/NA with code 0 and at least 24 bytes give the target; an
 * 8-byte SLL option gives `ndSll`, an 8-byte TLL option `ndTll`. A zero-length or overrunning
 * option, or a second SLL/TLL, makes the ND fields invalid: all three are cleared, as OVS does
 * (the frame itself still matches on its other fields).
 */
function neighborDiscovery(frame: Uint8Array, off: number, n: number, k: FlowKey): void {
  const type = frame[off]!;
  if ((type !== 135 && type !== 136) || frame[off + 1] !== 0 || n < off + 24) return;
  const t = k.ndTarget;
  for (let i = 0; i < 4; i++) t[i] = u32(frame, off + 8 + 4 * i);
  let p = off + 24;
  while (p + 8 <= n) {
    const optLen = frame[p + 1]! * 8;
    if (optLen === 0 || p + optLen > n) {
      t[0] = t[1] = t[2] = t[3] = 0;
      k.ndSll = 0;
      k.ndTll = 0;
      return;
    }
    const optType = frame[p]!;
    if (optLen === 8 && (optType === 1 || optType === 2)) {
      const mac = readMac(frame, p + 2);
      if ((optType === 1 ? k.ndSll : k.ndTll) !== 0) {
        t[0] = t[1] = t[2] = t[3] = 0;
        k.ndSll = 0;
        k.ndTll = 0;
        return;
      }
      if (optType === 1) k.ndSll = mac;
      else k.ndTll = mac;
    }
    p += optLen;
  }
}

function ipv4(frame: Uint8Array, off: number, k: FlowKey): FlowKey | WireError {
  const n = frame.length;
  if (n < off + 20) return truncated('ipv4', 'header', off, off + 20, n);
  const vihl = frame[off]!;
  if (vihl >>> 4 !== 4) return malformed('ipv4', 'version', off, `version is ${vihl >>> 4}, not 4`);
  const hl = (vihl & 0xf) * 4;
  if (hl < 20) return malformed('ipv4', 'ihl', off, `header length ${hl} < 20`);
  if (n < off + hl) return truncated('ipv4', 'options', off + 20, off + hl, n);
  const tl = u16(frame, off + 2);
  if (tl < hl) return malformed('ipv4', 'total_length', off + 2, `total length ${tl} < header length ${hl}`);
  if (n < off + tl) return truncated('ipv4', 'payload', off + hl, off + tl, n);
  k.nwTos = frame[off + 1]!;
  k.nwTtl = frame[off + 8]!;
  k.nwProto = frame[off + 9]!;
  k.nwSrc = u32(frame, off + 12);
  k.nwDst = u32(frame, off + 16);
  const frag = u16(frame, off + 6);
  if ((frag & 0x3fff) !== 0) {
    // OVS: MF or a non-zero offset makes a fragment; a non-zero offset a later one (no L4).
    k.nwFrag = (frag & 0x1fff) !== 0 ? 3 : 1;
    if (k.nwFrag === 3) return k;
  }
  return l4Ports(frame, off + hl, off + tl, k.nwProto, k, 'ipv4');
}

function ipv6(frame: Uint8Array, off: number, k: FlowKey): FlowKey | WireError {
  const n = frame.length;
  if (n < off + 40) return truncated('ipv6', 'header', off, off + 40, n);
  if (frame[off]! >>> 4 !== 6) return malformed('ipv6', 'version', off, `version is ${frame[off]! >>> 4}, not 6`);
  const plen = u16(frame, off + 4);
  const end = off + 40 + plen;
  if (n < end) return truncated('ipv6', 'payload', off + 40, end, n);
  k.nwTos = (u16(frame, off) >>> 4) & 0xff;
  k.nwTtl = frame[off + 7]!;
  const s = k.ipv6Src;
  const d = k.ipv6Dst;
  for (let i = 0; i < 4; i++) {
    s[i] = u32(frame, off + 8 + 4 * i);
    d[i] = u32(frame, off + 24 + 4 * i);
  }
  let nh = frame[off + 6]!;
  let p = off + 40;
  // OVS parse_ipv6_ext_hdrs.
  for (let guard = 0; guard < 16; guard++) {
    if (nh === 0 || nh === 43 || nh === 60 || nh === 51) {
      if (end < p + 8) return truncated('ipv6', 'extension_header', p, p + 8, end);
      const len = nh === 51 ? (frame[p + 1]! + 2) * 4 : (frame[p + 1]! + 1) * 8;
      if (end < p + len) return truncated('ipv6', 'extension_header', p, p + len, end);
      nh = frame[p]!;
      p += len;
    } else if (nh === 44) {
      if (end < p + 8) return truncated('ipv6', 'fragment_header', p, p + 8, end);
      const offlg = u16(frame, p + 2);
      const fragOff = offlg & 0xfff8;
      nh = frame[p]!;
      p += 8;
      // OVS: offset or M flag makes a fragment (an "atomic" fragment header does not).
      if ((offlg & 0xfff9) !== 0) k.nwFrag = fragOff !== 0 ? 3 : 1;
      if (fragOff !== 0) {
        k.nwProto = nh;
        return k;
      }
    } else break;
  }
  k.nwProto = nh;
  return l4Ports(frame, p, end, nh, k, 'ipv6');
}
