/**
 * The few VLAN-tag operations the NIC does in hardware: read the outer tag, insert one after the
 * source MAC, remove the outer one. Local to sriov/ because they run on the VEB hot path and need
 * nothing but the TPID/TCI bytes (the general 802.1Q codec lives in wire/).
 */

export const TPID_8021Q = 0x8100;
export const TPID_8021AD = 0x88a8;

/** TPID of the outer tag, or 0 when the frame is untagged (or too short to tell). */
export function outerTpid(frame: Uint8Array): number {
  if (frame.length < 18) return 0;
  const t = (frame[12]! << 8) | frame[13]!;
  return t === TPID_8021Q || t === TPID_8021AD ? t : 0;
}

/** TCI of the outer tag (caller checked `outerTpid` ≠ 0). */
export function outerTci(frame: Uint8Array): number {
  return (frame[14]! << 8) | frame[15]!;
}

/** A new frame with a tag (`tpid`, `tci`) inserted after the source MAC. */
export function pushTag(frame: Uint8Array, tpid: number, tci: number): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12), 0);
  out[12] = tpid >>> 8;
  out[13] = tpid & 0xff;
  out[14] = (tci >>> 8) & 0xff;
  out[15] = tci & 0xff;
  out.set(frame.subarray(12), 16);
  return out;
}

/** A new frame without its outer tag (caller checked there is one). */
export function popTag(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.length - 4);
  out.set(frame.subarray(0, 12), 0);
  out.set(frame.subarray(16), 12);
  return out;
}
