/**
 * L1/L2 table entries (docs/interop/qcow2.txt "Cluster mapping"), decoded without BigInt:
 * bits 9–55 host offset, bit 63 COPIED (refcount exactly 1), L2 bit 62 compressed, L2 bit 0 zero.
 */
export const COPIED_HI = 0x80000000;
export const COMPRESSED_HI = 0x40000000;
export const ZERO_LO = 1;

export function entryOffset(dv: DataView, i: number): number {
  return (dv.getUint32(i * 8) & 0x00ffffff) * 4294967296 + ((dv.getUint32(i * 8 + 4) & 0xfffffe00) >>> 0);
}

export function entryHi(dv: DataView, i: number): number {
  return dv.getUint32(i * 8);
}

export function entryLo(dv: DataView, i: number): number {
  return dv.getUint32(i * 8 + 4);
}

/** Writes entry i as `offset | flags`. */
export function setEntry(dv: DataView, i: number, offset: number, copied: boolean, zero = false): void {
  const hi = Math.floor(offset / 4294967296) | (copied ? COPIED_HI : 0);
  const lo = (offset % 4294967296) | (zero ? ZERO_LO : 0);
  dv.setUint32(i * 8, hi >>> 0);
  dv.setUint32(i * 8 + 4, lo >>> 0);
}

/**
 * Extended L2 entries (qcow2.txt "Extended L2 Entries", incompatible bit 4): 128 bits, the
 * standard descriptor (bit 0 unused) then a 64-bit subcluster bitmap whose high word (bytes
 * 8–11) has one "reads as zeros" bit per subcluster and whose low word (bytes 12–15) one
 * "allocated" bit; bit x is subcluster x.
 */
export const EXTL2_STRIDE = 16;
export const SUBCLUSTERS = 32;

export function bitmapZero(dv: DataView, j: number): number {
  return dv.getUint32(j * EXTL2_STRIDE + 8);
}

export function bitmapAlloc(dv: DataView, j: number): number {
  return dv.getUint32(j * EXTL2_STRIDE + 12);
}

export function setBitmap(dv: DataView, j: number, alloc: number, zero: number): void {
  dv.setUint32(j * EXTL2_STRIDE + 8, zero >>> 0);
  dv.setUint32(j * EXTL2_STRIDE + 12, alloc >>> 0);
}
