/**
 * Cheap buffers for NBD's hot path (reply chunks, received payloads): carved from shared 256 KiB
 * slabs of fresh, zeroed memory that is never reused, so a 4 KiB read reply costs one view object
 * instead of an ArrayBuffer with its own backing store (allocation and garbage collection of
 * those dominated the NBD side of the profile). Semantics are those of `new Uint8Array(n)`: the
 * bytes start zeroed and belong to the caller for good; a slab is freed when no view of it is
 * reachable (a view kept long keeps its slab: at most 256 KiB per retained view).
 */
const SLAB = 256 * 1024;
const SLAB_MAX = 16 * 1024;
let slab = new ArrayBuffer(SLAB);
let slabView = new DataView(slab);
let slabOff = 0;

/** A zeroed buffer of `n` bytes (8-byte aligned in its slab). */
export function carve(n: number): Uint8Array {
  if (n > SLAB_MAX) return new Uint8Array(n);
  if (slabOff + n > SLAB) {
    slab = new ArrayBuffer(SLAB);
    slabView = new DataView(slab);
    slabOff = 0;
  }
  const v = new Uint8Array(slab, slabOff, n);
  slabOff += (n + 7) & ~7;
  return v;
}

/** The view `bufferView` made last, for buffers outside the slab (a connection's send ring). */
let lastBuffer: ArrayBufferLike | null = null;
let lastView: DataView | null = null;

/**
 * A DataView over the whole buffer of `b` (index it with `b.byteOffset + i`): the slab's own, made
 * once, or the one made for the same buffer last time (a send ring's buffer is used over and over).
 */
export function bufferView(b: Uint8Array): DataView {
  const buf = b.buffer;
  if (buf === slab) return slabView;
  if (buf !== lastBuffer) {
    lastBuffer = buf;
    lastView = new DataView(buf);
  }
  return lastView!;
}
