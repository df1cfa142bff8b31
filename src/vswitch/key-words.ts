/**
 * The bridge's per-frame key extraction: the packet words of the flow key (fields.ts layout)
 * written straight from the frame's bytes into a reused `Int32Array`, with no `FlowKey` object in
 * between and no 48-bit MAC arithmetic on doubles (a MAC's high word is its first two bytes, its
 * low word the next four).
 *
 * Design note. This is `extractFlowKey` (wire/extract.ts, OVS `miniflow_extract` semantics) fused
 * with `keyWordsFromFlowKey` and `keyWordsFromFrame`, and it must stay word-for-word equal to
 * them, including on truncated and malformed frames (the fields parsed before the bad layer are
 * kept, later ones are 0). test/vswitch/key-words.test.ts checks that over random, tagged,
 * truncated and bit-flipped frames. Keep the control flow parallel to extract.ts when changing
 * either. Words from `PACKET_WORDS` on (metadata, tunnel) and `W_IN_PORT` are not touched.
 *
 * It also reports what the bridge needs besides the words, so the frame is walked once: the L3
 * and L4 offsets (for rewrites and conntrack) and the VLAN tags seen (how many, the outer TPID),
 * which decide whether the exact-match cache may hold the frame (rewrite.ts `readTags` counts the
 * same tags: up to two 0x8100/0x88a8 tags, each needing 6 bytes from its start).
 */
import {
  W_ARP_SHA_HI, W_ARP_THA_HI, W_DL_DST_HI, W_DL_SRC_HI, W_DL_TYPE, W_IPV6_DST, W_IPV6_LABEL, W_IPV6_SRC,
  W_ND_TARGET, W_NW_DST, W_NW_FRAG, W_NW_PROTO, W_NW_SRC, W_NW_TOS, W_NW_TTL, W_TCP_FLAGS, W_TP_DST, W_TP_SRC, W_VLAN_TCI,
} from './fields.js';

/** What `extractKeyWords` found besides the words (one reused object per bridge). */
export interface KeyLayout {
  /** Byte offset of the L3 header, or -1 (as FlowKey.l3Offset). */
  l3: number;
  /** Byte offset of the L4 header, or -1 (as FlowKey.l4Offset). */
  l4: number;
  /** VLAN tags parsed (0..2), as rewrite.ts `readTags(frame).n`. */
  tags: number;
  /** The first tag's TPID when `tags > 0`. */
  tpid0: number;
}

export function emptyKeyLayout(): KeyLayout {
  return { l3: -1, l4: -1, tags: 0, tpid0: 0 };
}

const FLOW_DL_TYPE_NONE = 0x05ff;

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
/** Big-endian 32 bits as a signed int32 (what an Int32Array word holds). */
function i32(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

/**
 * Writes packet words 1..PACKET_WORDS-1 of `frame` into `w` and its layout into `x`. The frame
 * must be at least 14 bytes (the bridge drops shorter ones before).
 */
export function extractKeyWords(frame: Uint8Array, w: Int32Array, x: KeyLayout): void {
  // Words 1..32 (dl_src … nd_target): `fill` with literal bounds (a loop bounded by imported
  // constants was a third slower: V8 re-reads and hole-checks module bindings per iteration).
  w.fill(0, 1, 33);
  x.l3 = -1;
  x.l4 = -1;
  x.tags = 0;
  x.tpid0 = 0;
  const n = frame.length;
  w[W_DL_DST_HI] = u16(frame, 0);
  w[W_DL_DST_HI + 1] = i32(frame, 2);
  w[W_DL_SRC_HI] = u16(frame, 6);
  w[W_DL_SRC_HI + 1] = i32(frame, 8);
  let off = 12;
  let type = u16(frame, off);
  for (let tags = 0; (type === 0x8100 || type === 0x88a8) && tags < 2; tags++) {
    if (n < off + 6) return;
    if (tags === 0) {
      x.tpid0 = type;
      w[W_VLAN_TCI] = (u16(frame, off + 2) & 0xefff) | 0x1000;
    }
    x.tags = tags + 1;
    off += 4;
    type = u16(frame, off);
  }
  off += 2;
  if (type < 0x600) {
    if (n >= off + 8 && frame[off] === 0xaa && frame[off + 1] === 0xaa && frame[off + 2] === 0x03 &&
        frame[off + 3] === 0 && frame[off + 4] === 0 && frame[off + 5] === 0) {
      type = u16(frame, off + 6);
      if (type >= 0x600) off += 8;
      else type = FLOW_DL_TYPE_NONE;
    } else type = FLOW_DL_TYPE_NONE;
  }
  w[W_DL_TYPE] = type;
  if (type === FLOW_DL_TYPE_NONE) return;
  x.l3 = off;
  if (type === 0x0800) ipv4(frame, off, w, x);
  else if (type === 0x86dd) {
    // ipv6_label is read whenever 4 bytes of the header are there (keyWordsFromFrame).
    if (n >= off + 4) w[W_IPV6_LABEL] = ((frame[off + 1]! & 0x0f) << 16) | (frame[off + 2]! << 8) | frame[off + 3]!;
    ipv6(frame, off, w, x);
  } else if (type === 0x0806 || type === 0x8035) {
    if (n < off + 28) return;
    if (u16(frame, off) === 1 && u16(frame, off + 2) === 0x0800 && frame[off + 4] === 6 && frame[off + 5] === 4) {
      const op = u16(frame, off + 6);
      w[W_NW_PROTO] = op <= 0xff ? op : 0;
      w[W_ARP_SHA_HI] = u16(frame, off + 8);
      w[W_ARP_SHA_HI + 1] = i32(frame, off + 10);
      w[W_NW_SRC] = i32(frame, off + 14);
      w[W_ARP_THA_HI] = u16(frame, off + 18);
      w[W_ARP_THA_HI + 1] = i32(frame, off + 20);
      w[W_NW_DST] = i32(frame, off + 24);
    }
  }
}

function l4Ports(frame: Uint8Array, off: number, n: number, proto: number, w: Int32Array, x: KeyLayout, v6: boolean): void {
  if (proto === 6 || proto === 17 || proto === 132) {
    if (n < off + (proto === 6 ? 20 : 8)) return;
    x.l4 = off;
    w[W_TP_SRC] = u16(frame, off);
    w[W_TP_DST] = u16(frame, off + 2);
    // tcp_flags: the frame holds 20 header bytes here, so the flags bytes are always there.
    if (proto === 6) w[W_TCP_FLAGS] = ((frame[off + 12]! & 0x0f) << 8) | frame[off + 13]!;
  } else if ((proto === 1 && !v6) || (proto === 58 && v6)) {
    if (n < off + 4) return;
    x.l4 = off;
    w[W_TP_SRC] = frame[off]!;
    w[W_TP_DST] = frame[off + 1]!;
    if (proto === 58) neighborDiscovery(frame, off, n, w);
  }
}

/** extract.ts `neighborDiscovery`, with nd_sll / nd_tll in the ARP SHA / THA words (as OVS). */
function neighborDiscovery(frame: Uint8Array, off: number, n: number, w: Int32Array): void {
  const type = frame[off]!;
  if ((type !== 135 && type !== 136) || frame[off + 1] !== 0 || n < off + 24) return;
  for (let i = 0; i < 4; i++) w[W_ND_TARGET + i] = i32(frame, off + 8 + 4 * i);
  let sll = -1;
  let tll = -1;
  let p = off + 24;
  while (p + 8 <= n) {
    const optLen = frame[p + 1]! * 8;
    if (optLen === 0 || p + optLen > n) {
      clearNd(w);
      return;
    }
    const optType = frame[p]!;
    if (optLen === 8 && (optType === 1 || optType === 2)) {
      // A second option of a kind seen before with a non-zero address invalidates all three
      // (extract.ts compares the stored MAC with 0: an all-zero first address does not count).
      const prev = optType === 1 ? sll : tll;
      if (prev >= 0 && (frame[prev]! | frame[prev + 1]! | frame[prev + 2]! | frame[prev + 3]! | frame[prev + 4]! | frame[prev + 5]!) !== 0) {
        clearNd(w);
        return;
      }
      if (optType === 1) sll = p + 2;
      else tll = p + 2;
    }
    p += optLen;
  }
  if (sll >= 0) setMac(frame, sll, w, W_ARP_SHA_HI);
  if (tll >= 0) setMac(frame, tll, w, W_ARP_THA_HI);
}

/** A zero MAC leaves the ARP words as they are (keyWordsFromFlowKey skips nd_sll/nd_tll of 0). */
function setMac(frame: Uint8Array, at: number, w: Int32Array, hi: number): void {
  const h = u16(frame, at);
  const l = i32(frame, at + 2);
  if (h === 0 && l === 0) return;
  w[hi] = h;
  w[hi + 1] = l;
}

function clearNd(w: Int32Array): void {
  for (let i = 0; i < 4; i++) w[W_ND_TARGET + i] = 0;
}

function ipv4(frame: Uint8Array, off: number, w: Int32Array, x: KeyLayout): void {
  const n = frame.length;
  if (n < off + 20) return;
  const vihl = frame[off]!;
  if (vihl >>> 4 !== 4) return;
  const hl = (vihl & 0xf) * 4;
  if (hl < 20 || n < off + hl) return;
  const tl = u16(frame, off + 2);
  if (tl < hl || n < off + tl) return;
  w[W_NW_TOS] = frame[off + 1]!;
  w[W_NW_TTL] = frame[off + 8]!;
  const proto = frame[off + 9]!;
  w[W_NW_PROTO] = proto;
  w[W_NW_SRC] = i32(frame, off + 12);
  w[W_NW_DST] = i32(frame, off + 16);
  const frag = u16(frame, off + 6);
  if ((frag & 0x3fff) !== 0) {
    const later = (frag & 0x1fff) !== 0;
    w[W_NW_FRAG] = later ? 3 : 1;
    if (later) return;
  }
  l4Ports(frame, off + hl, off + tl, proto, w, x, false);
}

function ipv6(frame: Uint8Array, off: number, w: Int32Array, x: KeyLayout): void {
  const n = frame.length;
  if (n < off + 40) return;
  if (frame[off]! >>> 4 !== 6) return;
  const end = off + 40 + u16(frame, off + 4);
  if (n < end) return;
  w[W_NW_TOS] = (u16(frame, off) >>> 4) & 0xff;
  w[W_NW_TTL] = frame[off + 7]!;
  for (let i = 0; i < 4; i++) {
    w[W_IPV6_SRC + i] = i32(frame, off + 8 + 4 * i);
    w[W_IPV6_DST + i] = i32(frame, off + 24 + 4 * i);
  }
  let nh = frame[off + 6]!;
  let p = off + 40;
  for (let guard = 0; guard < 16; guard++) {
    if (nh === 0 || nh === 43 || nh === 60 || nh === 51) {
      if (end < p + 8) return;
      const len = nh === 51 ? (frame[p + 1]! + 2) * 4 : (frame[p + 1]! + 1) * 8;
      if (end < p + len) return;
      nh = frame[p]!;
      p += len;
    } else if (nh === 44) {
      if (end < p + 8) return;
      const offlg = u16(frame, p + 2);
      const fragOff = offlg & 0xfff8;
      nh = frame[p]!;
      p += 8;
      if ((offlg & 0xfff9) !== 0) w[W_NW_FRAG] = fragOff !== 0 ? 3 : 1;
      if (fragOff !== 0) {
        w[W_NW_PROTO] = nh;
        return;
      }
    } else break;
  }
  w[W_NW_PROTO] = nh;
  l4Ports(frame, p, end, nh, w, x, true);
}
