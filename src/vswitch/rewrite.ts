/**
 * Applies the header edits a flow made (the packet state after its actions) to the frame bytes
 * that leave an output port, as the datapath's `set`/`push_vlan`/`pop_vlan` actions would.
 *
 * Frames are never modified in place (the same bytes may go out of other ports unchanged): an
 * unchanged output reuses the input `Uint8Array`, a changed one gets a copy. Checksums: the IPv4
 * header checksum is recomputed; TCP/UDP/ICMP checksums are updated incrementally (RFC 1624) for
 * rewritten addresses and ports, so a checksum that was right stays right (a zero UDP checksum
 * stays zero: "no checksum").
 */
import {
  ETH_TYPE_ARP,
  ETH_TYPE_IP,
  ETH_TYPE_IPV6,
  ETH_TYPE_RARP,
  PACKET_WORDS,
  VLAN_CFI,
  W_ARP_SHA_HI,
  W_ARP_THA_HI,
  W_DL_DST_HI,
  W_DL_SRC_HI,
  W_DL_TYPE,
  W_IPV6_DST,
  W_IPV6_SRC,
  W_NW_DST,
  W_NW_PROTO,
  W_NW_SRC,
  W_NW_TOS,
  W_NW_TTL,
  W_TP_DST,
  W_TP_SRC,
  W_VLAN_TCI,
} from './fields.js';

/** The packet as the actions left it: key words plus the VLAN tag stack beyond the outer TCI. */
export interface PacketState {
  words: Int32Array;
  /** TPID of the outer tag (when words[W_VLAN_TCI] has CFI set). */
  tpid: number;
  /** Second (inner) tag as `tpid << 16 | tci`, or 0. */
  inner: number;
}

export function copyState(s: PacketState): PacketState {
  // slice() copies in one memcpy; Int32Array.from goes through the iterator protocol (3-4× slower).
  return { words: s.words.slice(), tpid: s.tpid, inner: s.inner };
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 255;
  b[o + 1] = v & 255;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 255;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}

export interface WireTags {
  n: number;
  tpid0: number;
  tci0: number;
  tpid1: number;
  tci1: number;
  etOff: number;
}

const scratchTags: WireTags = { n: 0, tpid0: 0, tci0: 0, tpid1: 0, tci1: 0, etOff: 12 };

/**
 * The VLAN tags on the wire: count, and where the inner ethertype is. Without `out` the result
 * is a shared scratch object, valid until the next call (the hot path allocates nothing).
 */
export function readTags(frame: Uint8Array, out: WireTags = scratchTags): WireTags {
  let off = 12;
  const r = out;
  r.n = 0;
  r.tpid0 = r.tci0 = r.tpid1 = r.tci1 = 0;
  r.etOff = 12;
  for (let i = 0; i < 2 && frame.length >= off + 6; i++) {
    const t = u16(frame, off);
    if (t !== 0x8100 && t !== 0x88a8) break;
    if (i === 0) {
      r.tpid0 = t;
      r.tci0 = u16(frame, off + 2);
    } else {
      r.tpid1 = t;
      r.tci1 = u16(frame, off + 2);
    }
    r.n++;
    off += 4;
  }
  r.etOff = off;
  return r;
}

/** Initial packet state for a frame whose key words are `words`. */
export function stateFromFrame(frame: Uint8Array, words: Int32Array, out: PacketState): PacketState {
  out.words.set(words);
  const t = readTags(frame);
  out.tpid = t.n > 0 ? t.tpid0 : 0x8100;
  out.inner = t.n > 1 ? (t.tpid1 << 16) | (t.tci1 & 0xefff) : 0;
  return out;
}

function csumReplace16(sum: number, old16: number, new16: number): number {
  let s = (~sum & 0xffff) + (~old16 & 0xffff) + (new16 & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
function csumReplace32(sum: number, old32: number, new32: number): number {
  sum = csumReplace16(sum, (old32 >>> 16) & 0xffff, (new32 >>> 16) & 0xffff);
  return csumReplace16(sum, old32 & 0xffff, new32 & 0xffff);
}

function ipv4HeaderChecksum(b: Uint8Array, off: number, hl: number): number {
  let s = 0;
  for (let i = 0; i < hl; i += 2) if (i !== 10) s += u16(b, off + i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * The bytes that leave for `st`. `orig` are the input key words, `l3`/`l4` the input's header
 * offsets (-1 when absent).
 */
export function rewriteFrame(frame: Uint8Array, orig: Int32Array, l3: number, l4: number, st: PacketState): Uint8Array {
  const w = st.words;
  let same = true;
  // Only packet words reach the wire; registers and other metadata never change the bytes.
  for (let i = 0; i < PACKET_WORDS; i++) {
    if (i !== 0 && i !== W_VLAN_TCI && w[i] !== orig[i]) {
      same = false;
      break;
    }
  }
  const t = readTags(frame);
  const wantOuter = (w[W_VLAN_TCI]! & VLAN_CFI) !== 0;
  const wantN = wantOuter ? (st.inner !== 0 ? 2 : 1) : 0;
  const origInner = t.n > 1 ? (t.tpid1 << 16) | (t.tci1 & 0xefff) : 0;
  const tagsSame =
    wantN === t.n &&
    (wantN === 0 || (st.tpid === t.tpid0 && (w[W_VLAN_TCI]! & 0xefff) === (t.tci0 & 0xefff))) &&
    (wantN < 2 || st.inner === origInner);
  if (same && tagsSame) return frame;

  // Layer 2: MACs and tags.
  const newEt = 12 + 4 * wantN;
  const delta = newEt - t.etOff;
  // Popping a tag off a minimum-size frame keeps it at 60 bytes, as a NIC pads on the wire.
  const out = new Uint8Array(Math.max(frame.length + delta, Math.min(frame.length, 60)));
  out.set(frame.subarray(t.etOff, Math.min(frame.length, t.etOff + out.length - newEt)), newEt);
  const dst = (w[W_DL_DST_HI]! & 0xffff) * 0x1_0000_0000 + (w[W_DL_DST_HI + 1]! >>> 0);
  const src = (w[W_DL_SRC_HI]! & 0xffff) * 0x1_0000_0000 + (w[W_DL_SRC_HI + 1]! >>> 0);
  put16(out, 0, Math.floor(dst / 0x1_0000_0000));
  put32(out, 2, dst % 0x1_0000_0000);
  put16(out, 6, Math.floor(src / 0x1_0000_0000));
  put32(out, 8, src % 0x1_0000_0000);
  if (wantN >= 1) {
    put16(out, 12, st.tpid);
    put16(out, 14, w[W_VLAN_TCI]! & 0xefff);
  }
  if (wantN === 2) {
    put16(out, 16, st.inner >>> 16);
    put16(out, 18, st.inner & 0xffff);
  }
  if (same) return out;

  const dlType = orig[W_DL_TYPE]!;
  const L3 = l3 >= 0 ? l3 + delta : -1;
  const L4 = l4 >= 0 ? l4 + delta : -1;
  if (L3 < 0) return out;
  if (dlType === ETH_TYPE_IP && out.length >= L3 + 20) {
    const hl = (out[L3]! & 0xf) * 4;
    out[L3 + 1] = w[W_NW_TOS]! & 0xff;
    out[L3 + 8] = w[W_NW_TTL]! & 0xff;
    put32(out, L3 + 12, w[W_NW_SRC]!);
    put32(out, L3 + 16, w[W_NW_DST]!);
    if (out.length >= L3 + hl) put16(out, L3 + 10, ipv4HeaderChecksum(out, L3, hl));
    fixL4(out, L4, orig, w, true);
  } else if (dlType === ETH_TYPE_IPV6 && out.length >= L3 + 40) {
    const vtf = u16(out, L3);
    put16(out, L3, (vtf & 0xf00f) | ((w[W_NW_TOS]! & 0xff) << 4));
    out[L3 + 7] = w[W_NW_TTL]! & 0xff;
    for (let i = 0; i < 4; i++) {
      put32(out, L3 + 8 + 4 * i, w[W_IPV6_SRC + i]!);
      put32(out, L3 + 24 + 4 * i, w[W_IPV6_DST + i]!);
    }
    fixL4(out, L4, orig, w, false);
  } else if ((dlType === ETH_TYPE_ARP || dlType === ETH_TYPE_RARP) && out.length >= L3 + 28) {
    put16(out, L3 + 6, w[W_NW_PROTO]! & 0xff);
    put16(out, L3 + 8, w[W_ARP_SHA_HI]!);
    put32(out, L3 + 10, w[W_ARP_SHA_HI + 1]!);
    put32(out, L3 + 14, w[W_NW_SRC]!);
    put16(out, L3 + 18, w[W_ARP_THA_HI]!);
    put32(out, L3 + 20, w[W_ARP_THA_HI + 1]!);
    put32(out, L3 + 24, w[W_NW_DST]!);
  }
  return out;
}

function fixL4(out: Uint8Array, L4: number, orig: Int32Array, w: Int32Array, v4: boolean): void {
  if (L4 < 0) return;
  const proto = orig[W_NW_PROTO]!;
  let csOff: number;
  if (proto === 6) csOff = L4 + 16;
  else if (proto === 17) csOff = L4 + 6;
  else if ((proto === 1 && v4) || (proto === 58 && !v4)) csOff = L4 + 2;
  else return;
  if (out.length < csOff + 2) return;
  let sum = u16(out, csOff);
  const udpNoCsum = proto === 17 && sum === 0;
  // Pseudo-header addresses (not for ICMPv4).
  if (!(proto === 1 && v4)) {
    if (v4) {
      sum = csumReplace32(sum, orig[W_NW_SRC]!, w[W_NW_SRC]!);
      sum = csumReplace32(sum, orig[W_NW_DST]!, w[W_NW_DST]!);
    } else {
      for (let i = 0; i < 4; i++) {
        sum = csumReplace32(sum, orig[W_IPV6_SRC + i]!, w[W_IPV6_SRC + i]!);
        sum = csumReplace32(sum, orig[W_IPV6_DST + i]!, w[W_IPV6_DST + i]!);
      }
    }
  }
  if (proto === 1 || proto === 58) {
    const o16 = ((orig[W_TP_SRC]! & 0xff) << 8) | (orig[W_TP_DST]! & 0xff);
    const n16 = ((w[W_TP_SRC]! & 0xff) << 8) | (w[W_TP_DST]! & 0xff);
    out[L4] = w[W_TP_SRC]! & 0xff;
    out[L4 + 1] = w[W_TP_DST]! & 0xff;
    sum = csumReplace16(sum, o16, n16);
  } else {
    put16(out, L4, w[W_TP_SRC]!);
    put16(out, L4 + 2, w[W_TP_DST]!);
    sum = csumReplace16(sum, orig[W_TP_SRC]!, w[W_TP_SRC]!);
    sum = csumReplace16(sum, orig[W_TP_DST]!, w[W_TP_DST]!);
  }
  if (udpNoCsum) return;
  if (proto === 17 && sum === 0) sum = 0xffff;
  put16(out, csOff, sum);
}
