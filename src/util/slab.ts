/**
 * Short-lived byte buffers cut from 256 KiB slabs (bump allocation, 8-byte aligned). A fresh
 * typed array per simulated frame (zeroed, tracked by the GC one by one) was the
 * largest cost of a simulated TCP stream; cutting them from a slab makes it one allocation per
 * ~170 full frames. Each piece is handed out once, so it is zeroed like a new array, and a slab is
 * freed when the last piece cut from it is. Pieces share an ArrayBuffer: users must respect
 * `byteOffset` (every DataView/Uint16Array over them does). No state beyond the current slab: the
 * bytes returned never depend on what was allocated before, so runs stay deterministic.
 */
const SLAB_BYTES = 256 * 1024;
/** Larger requests get their own array (a big piece would waste the rest of a slab). */
const MAX_PIECE = SLAB_BYTES / 4;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** A zeroed `n`-byte array, usually a view into a shared slab. */
export function slabBytes(n: number): Uint8Array {
  if (n > MAX_PIECE) return new Uint8Array(n);
  if (used + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const b = new Uint8Array(slab, used, n);
  used += (n + 7) & ~7;
  return b;
}
