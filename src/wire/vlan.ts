/**
 * IEEE 802.1Q (TPID 0x8100) and 802.1ad (S-tag, TPID 0x88a8) tags. A tag sits between the source
 * MAC and the ethertype: TPID(2) TCI(2) where TCI = PCP(3) DEI(1) VID(12). `Tag` is a view over the
 * 4 bytes after the TPID position (TCI + the next ethertype), like smoltcp's `ieee802_1q`.
 *
 * `pushVlan`/`popVlan` copy (frames are shared between flooded copies and captures, so they are
 * never edited in place). `pushVlan` adds the new tag outermost, as OVS `push_vlan` does
 * (`lib/packets.c eth_push_vlan`); QinQ is push 0x8100 then push 0x88a8.
 */
import { type EtherType, MIN_FRAME_LEN } from './ethernet.js';
import { malformed, truncated, type WireError } from './errors.js';

export const TPID_8021Q = 0x8100;
export const TPID_8021AD = 0x88a8;
/** Old pre-standard QinQ TPIDs OVS also accepts as VLAN (`eth_type_vlan()`): 0x9100. */
export const TPID_9100 = 0x9100;

export function isVlanTpid(t: number): boolean {
  return t === TPID_8021Q || t === TPID_8021AD;
}

export const Field = {
  TCI: [0, 2],
  ETHERTYPE: [2, 4],
  PAYLOAD: 4,
} as const;

export const TAG_LEN = 4;

/** A view over TCI + inner ethertype (the bytes after a VLAN TPID). */
export class Tag {
  readonly view: DataView;
  constructor(readonly buffer: Uint8Array) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  static checked(buffer: Uint8Array): Tag | WireError {
    if (buffer.length < TAG_LEN) return truncated('vlan', 'tag', 0, TAG_LEN, buffer.length);
    return new Tag(buffer);
  }
  get tci(): number {
    return this.view.getUint16(0);
  }
  set tci(v: number) {
    this.view.setUint16(0, v);
  }
  get pcp(): number {
    return this.buffer[0]! >>> 5;
  }
  get dei(): boolean {
    return (this.buffer[0]! & 0x10) !== 0;
  }
  get vid(): number {
    return this.view.getUint16(0) & 0xfff;
  }
  get etherType(): EtherType {
    return this.view.getUint16(2) as EtherType;
  }
  set etherType(t: number) {
    this.view.setUint16(2, t);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(TAG_LEN);
  }
}

export interface Repr {
  vid: number;
  pcp: number;
  dei: boolean;
  etherType: EtherType;
}

export const Repr = {
  parse(tag: Tag): Repr {
    return { vid: tag.vid, pcp: tag.pcp, dei: tag.dei, etherType: tag.etherType };
  },
  bufferLen(_repr?: Repr): number {
    return TAG_LEN;
  },
  emit(repr: Repr, tag: Tag): void {
    tag.tci = makeTci(repr.vid, repr.pcp, repr.dei);
    tag.etherType = repr.etherType;
  },
};

export function makeTci(vid: number, pcp = 0, dei = false): number {
  return ((pcp & 7) << 13) | (dei ? 0x1000 : 0) | (vid & 0xfff);
}

export interface VlanTag {
  tpid: number;
  vid: number;
  pcp: number;
  dei: boolean;
}

/** The outermost tag of an Ethernet frame, or null when untagged or too short to hold one. */
export function readVlanTci(frame: Uint8Array): VlanTag | null {
  if (frame.length < 18) return null;
  const tpid = (frame[12]! << 8) | frame[13]!;
  if (!isVlanTpid(tpid)) return null;
  const tci = (frame[14]! << 8) | frame[15]!;
  return { tpid, vid: tci & 0xfff, pcp: tci >>> 13, dei: (tci & 0x1000) !== 0 };
}

export interface PushVlanOptions {
  vid: number;
  pcp?: number;
  dei?: boolean;
  tpid?: number;
}

/** A copy of `frame` with a new outermost tag. Throws RangeError on a frame shorter than 14 bytes. */
export function pushVlan(frame: Uint8Array, opts: PushVlanOptions): Uint8Array {
  if (frame.length < 14) throw new RangeError(`pushVlan: frame of ${frame.length} bytes has no Ethernet header`);
  const out = new Uint8Array(frame.length + TAG_LEN);
  out.set(frame.subarray(0, 12), 0);
  const tpid = opts.tpid ?? TPID_8021Q;
  const tci = makeTci(opts.vid, opts.pcp ?? 0, opts.dei ?? false);
  out[12] = tpid >>> 8;
  out[13] = tpid & 0xff;
  out[14] = tci >>> 8;
  out[15] = tci & 0xff;
  out.set(frame.subarray(12), 16);
  return out;
}

/**
 * A copy of `frame` without its outermost tag, padded back to 60 bytes if shorter (a NIC pads
 * short frames on the wire). An untagged frame comes back as an unchanged copy.
 */
export function popVlan(frame: Uint8Array): Uint8Array {
  if (frame.length < 18 || !isVlanTpid((frame[12]! << 8) | frame[13]!)) return frame.slice();
  const len = Math.max(frame.length - TAG_LEN, MIN_FRAME_LEN);
  const out = new Uint8Array(len);
  out.set(frame.subarray(0, 12), 0);
  out.set(frame.subarray(16), 12);
  return out;
}

/** Offset of the ethertype after all VLAN tags (12 when untagged), or a WireError. */
export function innerEtherTypeOffset(frame: Uint8Array): number | WireError {
  let off = 12;
  for (let depth = 0; ; depth++) {
    if (frame.length < off + 2) return truncated(off === 12 ? 'ethernet' : 'vlan', 'ethertype', off, off + 2, frame.length);
    const t = (frame[off]! << 8) | frame[off + 1]!;
    if (!isVlanTpid(t)) return off;
    if (depth >= 8) return malformed('vlan', 'tpid', off, 'more than 8 VLAN tags');
    off += TAG_LEN;
  }
}

