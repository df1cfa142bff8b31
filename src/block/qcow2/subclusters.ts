/**
 * Subclusters of extended L2 entries (qcow2.txt "Extended L2 Entries"): what one subcluster is,
 * and which bytes of a cluster a guest write makes allocated.
 *
 * Design: pure functions over one decoded entry (host offset, compressed, allocation and zero
 * bitmaps), no I/O, so the image code stays a sequence of reads and writes and these rules can be
 * property-tested alone. The rules are QEMU's:
 * - block/qcow2.h qcow2_get_subcluster_type: a subcluster with both bits, or an unallocated
 *   cluster with allocation bits, is invalid (corruption);
 * - block/qcow2-cluster.c calculate_l2_meta: a write into our own cluster (keep the old host
 *   cluster) copies only inside the written subclusters that were not allocated; a write into a
 *   new cluster copies from the first allocated subcluster (or the written one) to the last.
 *   Exactly the subclusters of [from, to) become allocated (qcow2_alloc_cluster_link_l2).
 */

export const SC_NORMAL = 0;
export const SC_COMPRESSED = 1;
export const SC_ZERO_PLAIN = 2;
export const SC_ZERO_ALLOC = 3;
export const SC_UNALLOC_PLAIN = 4;
export const SC_UNALLOC_ALLOC = 5;
export const SC_INVALID = 6;
export type ScType = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/**
 * One extended L2 entry, decoded. `host` is the cluster's host offset (0: none, unless `mapped`).
 * With an external data file offset 0 is a real place (guest cluster 0), told apart by COPIED
 * (qcow2.h qcow2_get_cluster_type): `mapped` says so.
 */
export interface ExtEntry {
  host: number;
  mapped?: boolean;
  compressed: boolean;
  /** Allocation bits (bit x: subcluster x), unsigned 32-bit. */
  alloc: number;
  /** "Reads as zeros" bits, unsigned 32-bit. */
  zero: number;
}

/** Bits [first, end) of a 32-bit bitmap, unsigned. */
export function rangeMask(first: number, end: number): number {
  const n = end - first;
  if (n <= 0) return 0;
  return ((2 ** n - 1) * 2 ** first) >>> 0;
}

/** Count of trailing zero bits (32 for 0), as QEMU's ctz32. */
export function ctz32(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

/** Whether the entry has a host cluster (QCOW2_CLUSTER_NORMAL). */
export function hasHostCluster(e: ExtEntry): boolean {
  return !e.compressed && (e.host !== 0 || e.mapped === true);
}

export function scType(e: ExtEntry, sc: number): ScType {
  if (e.compressed) return SC_COMPRESSED;
  const bit = 2 ** sc;
  const has = (v: number): boolean => Math.floor((v >>> 0) / bit) % 2 === 1;
  if (hasHostCluster(e)) {
    if (((e.alloc & e.zero) >>> 0) !== 0) return SC_INVALID;
    if (has(e.zero)) return SC_ZERO_ALLOC;
    if (has(e.alloc)) return SC_NORMAL;
    return SC_UNALLOC_ALLOC;
  }
  if (e.alloc !== 0) return SC_INVALID;
  return has(e.zero) ? SC_ZERO_PLAIN : SC_UNALLOC_PLAIN;
}

/** Whether subclusters [first, last] are all allocated data (the write needs no metadata). */
export function allNormal(e: ExtEntry, first: number, last: number): boolean {
  for (let sc = first; sc <= last; sc++) if (scType(e, sc) !== SC_NORMAL) return false;
  return true;
}

/**
 * The byte range [from, to) of the cluster that a write of [intra, intra+len) writes (guest
 * bytes plus copy-on-write), for a write that keeps the old host cluster (`keepOld`) or moves to
 * a new one (qcow2-cluster.c calculate_l2_meta).
 */
export function cowRange(e: ExtEntry, intra: number, len: number, scSize: number, cs: number, keepOld: boolean): [number, number] {
  const first = Math.floor(intra / scSize);
  const last = Math.floor((intra + len - 1) / scSize);
  const t0 = scType(e, first);
  const t1 = scType(e, last);
  if (keepOld) {
    return [t0 === SC_NORMAL ? intra : first * scSize, t1 === SC_NORMAL ? intra + len : (last + 1) * scSize];
  }
  let from: number;
  let to: number;
  if (t0 === SC_COMPRESSED) from = 0;
  else if (t0 === SC_ZERO_PLAIN || t0 === SC_UNALLOC_PLAIN) from = first * scSize;
  else from = Math.min(first, ctz32(e.alloc)) * scSize; // skip leading zero/unallocated subclusters
  if (t1 === SC_COMPRESSED) to = cs;
  else if (t1 === SC_ZERO_PLAIN || t1 === SC_UNALLOC_PLAIN) to = (last + 1) * scSize;
  else to = cs - Math.min(31 - last, Math.clz32(e.alloc)) * scSize; // skip trailing ones
  return [from, to];
}

/** The bitmaps after bytes [from, to) of the cluster were written: allocated, not zero. */
export function afterWrite(e: ExtEntry, from: number, to: number, scSize: number): { alloc: number; zero: number } {
  const m = rangeMask(Math.floor(from / scSize), Math.ceil(to / scSize));
  return { alloc: (e.compressed ? m : (e.alloc | m)) >>> 0, zero: (e.compressed ? 0 : e.zero & ~m) >>> 0 };
}
