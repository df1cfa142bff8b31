/**
 * Writing guest bytes into host clusters while keeping file holes as holes (node cannot punch
 * holes, so the only way to keep a cluster sparse is to not write its all-zero 4 KiB blocks).
 * `map` tells holes by their content (docs/disks.md "Holes inside data clusters").
 */
import type { BlockBackend } from '../backend.js';

/** File system block: the granule of holes in image files (ext4, xfs, tmpfs: 4 KiB). */
export const FS_BLOCK = 4096;

export function isZero(buf: Uint8Array): boolean {
  return isZeroRange(buf, 0, buf.length);
}

/** Whether bytes [from, to) of `buf` are all zero (word-wise where aligned). */
export function isZeroRange(buf: Uint8Array, from: number, to: number): boolean {
  let i = from;
  const abs = buf.byteOffset + i;
  if (abs % 4 === 0 && to - i >= 64) {
    const words = new Uint32Array(buf.buffer, abs, (to - i) >>> 2);
    for (let k = 0; k < words.length; k++) if (words[k] !== 0) return false;
    i += words.length * 4;
  }
  for (; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}


/**
 * Writes `buf` at host `at` into a cluster known to read as zeros (grown sparsely past the old
 * end of the file), skipping every all-zero file block so it stays a hole. QEMU gets the same
 * file (qcow2.c handle_alloc_space/is_zero_cow zero the COW regions with
 * BDRV_REQ_NO_FALLBACK, which punches holes), and `map` can then tell holes by their content.
 */
export function writeSparse(backend: BlockBackend, buf: Uint8Array, at: number): void {
  let run = -1;
  for (let b = 0; b < buf.length; b += FS_BLOCK) {
    const zero = isZeroRange(buf, b, Math.min(b + FS_BLOCK, buf.length));
    if (!zero && run < 0) run = b;
    else if (zero && run >= 0) {
      backend.pwrite(buf.subarray(run, b), at + run);
      run = -1;
    }
  }
  if (run >= 0) backend.pwrite(buf.subarray(run), at + run);
}


/**
 * Overwrites our own data cluster. A file block the write would leave reading as zeros and
 * that already reads as zeros is not written, so holes stay holes whatever the alignment (node
 * cannot punch holes, so zeros over existing data are still written as bytes).
 */
export function writeInPlace(backend: BlockBackend, piece: Uint8Array, host: number): void {
  const end = host + piece.length;
  let old: Uint8Array | undefined;
  let run = -1;
  for (let b = Math.floor(host / FS_BLOCK) * FS_BLOCK; b < end; b += FS_BLOCK) {
    const s = Math.max(b, host) - host;
    const e = Math.min(b + FS_BLOCK, end) - host;
    let skip = false;
    if (isZeroRange(piece, s, e)) {
      old ??= new Uint8Array(FS_BLOCK);
      backend.pread(old, b);
      skip = isZero(old);
    }
    if (!skip && run < 0) run = s;
    else if (skip && run >= 0) {
      backend.pwrite(piece.subarray(run, s), host + run);
      run = -1;
    }
  }
  if (run >= 0) backend.pwrite(piece.subarray(run), host + run);
}

