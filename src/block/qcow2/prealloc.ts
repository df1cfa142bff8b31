/**
 * `qemu-img create -f qcow2 -o preallocation=metadata|falloc|full`, laid out cluster for cluster
 * as QEMU 7.2 lays it out.
 *
 * Design. The layout is not a closed formula: QEMU's allocator leaves marks (a refcount block
 * placed on the cluster right after the data run that needed it; a refcount table that grows by
 * moving to the start of the next uncovered refcount-block range, the old table cluster freed
 * and reused by the next L2 table). So the plan replays QEMU's allocator on a refcount map in
 * memory (block/qcow2-refcount.c alloc_clusters_noref, update_refcount with its undo on
 * -EAGAIN, alloc_refcount_block, qcow2_refcount_area, qcow2_refcount_metadata_size) driven by
 * the calls qcow2_co_create and qcow2_co_truncate make, then writes the resulting image in one
 * pass. Costs: one number per host cluster in the plan (a 1 TiB image at 64 KiB clusters: 16 Mi
 * entries), which is why the size is bounded by the L1 limit checked in validateCreate.
 *
 * The "metadata" file ends at the end of the last cluster in use — which after a refcount table
 * move lies past the last data cluster (the reason a naive count comes out short).
 */
import type { BlockBackend } from '../backend.js';
import { putU64, serializeHeader } from './header.js';
import { setRefcountEntry } from './refcount.js';
import { planQcow2, type Qcow2CreateOptions } from './create.js';
import { setEntry } from './entries.js';

export type PreallocMode = 'off' | 'metadata' | 'falloc' | 'full';
export const PREALLOC_MODES: readonly PreallocMode[] = ['off', 'metadata', 'falloc', 'full'];

/** qapi PreallocMode parsing; undefined for a value QEMU refuses (qemu-img then exits 1). */
export function parsePrealloc(v: string): PreallocMode | undefined {
  return (PREALLOC_MODES as readonly string[]).includes(v) ? (v as PreallocMode) : undefined;
}

const AGAIN = -1;
const INT_MAX = 2 ** 31 - 1;

/** QEMU's cluster allocator replayed on cluster indices (not bytes). */
export class Allocator {
  readonly rc: number[] = [];
  /** Refcount table: refcount block cluster index per entry (0: none). */
  table: number[];
  tableAt = 1;
  tableClusters = 1;
  free = 0;
  /** Tables given up when the table moved, with the entries they held then (their bytes stay on disk). */
  readonly oldTables: { at: number; clusters: number; entries: number[] }[] = [];
  readonly perBlock: number;
  readonly perTableCluster: number;

  constructor(readonly cs: number, refcountOrder: number) {
    this.perBlock = (cs * 8) / 2 ** refcountOrder;
    this.perTableCluster = cs / 8;
    this.table = [2];
  }

  /** An allocator holding an existing image's refcounts (resize-prealloc.ts replays on it). */
  static fromImage(cs: number, refcountOrder: number, rc: number[], table: number[], tableAt: number, tableClusters: number): Allocator {
    const a = new Allocator(cs, refcountOrder);
    for (let c = 0; c < rc.length; c++) if (rc[c]) a.rc[c] = rc[c]!;
    a.table = table.slice();
    a.tableAt = tableAt;
    a.tableClusters = tableClusters;
    return a;
  }

  /** qcow2_free_clusters of one cluster (the free index moves back to it when it reaches 0). */
  release(c: number): void {
    this.dec(c);
  }

  /**
   * qcow2_alloc_clusters_at: as many of the `n` clusters from `off` as are free and covered by a
   * refcount block (a run reaching an uncovered block stops there); returns how many.
   */
  allocAtMost(off: number, n: number): number {
    let k = 0;
    while (k < n && this.covered(off + k) && this.refcount(off + k) === 0) k++;
    this.allocAt(off, k);
    return k;
  }

  private covered(c: number): boolean {
    return (this.table[Math.floor(c / this.perBlock)] ?? 0) !== 0;
  }

  refcount(c: number): number {
    return this.covered(c) ? (this.rc[c] ?? 0) : 0;
  }

  /** alloc_clusters_noref: n free clusters in a row from the free index. */
  private noref(n: number): number {
    let i = 0;
    while (i < n) {
      const c = this.free++;
      if (this.refcount(c) !== 0) i = 0;
      else i++;
    }
    return this.free - n;
  }

  /** update_refcount; on -EAGAIN the clusters already counted are given back (its undo path). */
  private update(off: number, n: number, delta: 1 | -1): number {
    for (let c = off; c < off + n; c++) {
      if (!this.covered(c)) {
        const r = this.allocRefblock(c);
        if (r === AGAIN) {
          for (let u = off; u < c; u++) this.dec(u);
          // Measured against qemu-img 7.2: the search restarts at the run it had chosen even
          // when the run began exactly at the uncovered block (nothing to undo).
          if (off < this.free) this.free = off;
          return AGAIN;
        }
      }
      if (delta > 0) this.rc[c] = (this.rc[c] ?? 0) + 1;
      else this.dec(c);
    }
    return 0;
  }

  private dec(c: number): void {
    this.rc[c] = (this.rc[c] ?? 0) - 1;
    if (this.rc[c] === 0 && c < this.free) this.free = c;
  }

  /** qcow2_alloc_clusters. */
  alloc(n: number): number {
    for (;;) {
      const off = this.noref(n);
      if (this.update(off, n, 1) !== AGAIN) return off;
    }
  }

  /** qcow2_alloc_clusters_at (the range is known free and covered). */
  allocAt(off: number, n: number): void {
    for (let c = off; c < off + n; c++) this.rc[c] = (this.rc[c] ?? 0) + 1;
  }

  /** alloc_refcount_block for cluster `c`, whose refcount block does not exist yet. */
  private allocRefblock(c: number): number {
    const bi = Math.floor(c / this.perBlock);
    const nb = this.noref(1);
    if (Math.floor(nb / this.perBlock) === bi) this.rc[nb] = 1; // the block describes itself
    else if (this.update(nb, 1, 1) === AGAIN) return AGAIN;
    if (bi < this.tableClusters * this.perTableCluster) {
      this.table[bi] = nb;
      return AGAIN;
    }
    // The table is full: new table and blocks past everything, then the caller searches again.
    const blocksUsed = Math.ceil(Math.max(c + 1, nb + 1) / this.perBlock);
    this.area(blocksUsed * this.perBlock, 0, false, bi, nb);
    return AGAIN;
  }

  /** qcow2_refcount_metadata_size: refcount blocks needed for `clusters` (and themselves). */
  private metadataBlocks(clusters: number, generous: boolean): number {
    let table = 0;
    let blocks = 0;
    let n = 0;
    let last: number;
    do {
      last = n;
      blocks = Math.ceil((clusters + table + blocks) / this.perBlock);
      table = Math.ceil(blocks / this.perTableCluster);
      n = clusters + blocks + table;
      if (n === last && generous) {
        clusters += Math.ceil(table / 2);
        n = 0;
        generous = false;
      }
    } while (n !== last);
    return blocks;
  }

  /** qcow2_refcount_area: refcount blocks and a new table from cluster `start`; returns its end. */
  area(start: number, additional: number, exact: boolean, newIndex = 0, newBlock = 0): number {
    const total = this.metadataBlocks(start + additional, !exact);
    let size = exact ? total : total + Math.ceil(total / 2);
    size = Math.ceil(size / this.perTableCluster) * this.perTableCluster;
    const clusters = size / this.perTableCluster;
    const t: number[] = this.table.slice(0, size);
    if (newBlock) t[newIndex] = newBlock;
    const first = Math.floor(start / this.perBlock);
    let extra = 0;
    for (let i = first; i < total; i++) if (!t[i]) extra++;
    const tableAt = start + extra;
    const end = tableAt + clusters;
    let blockAt = start;
    for (let i = first; i < total; i++) {
      if (!t[i]) t[i] = blockAt++;
      const covered = i * this.perBlock;
      if (covered < end) {
        for (let j = Math.max(0, start - covered); j < Math.min(end - covered, this.perBlock); j++) this.rc[covered + j] = 1;
      }
    }
    const [oldAt, oldClusters] = [this.tableAt, this.tableClusters];
    this.oldTables.push({ at: oldAt, clusters: oldClusters, entries: this.table.slice() });
    this.table = t;
    this.tableAt = tableAt;
    this.tableClusters = clusters;
    for (let c = oldAt; c < oldAt + oldClusters; c++) this.dec(c); // qcow2_free_clusters(old table)
    return end;
  }

  /** One past the last cluster with a refcount. */
  lastUsed(): number {
    for (let c = this.rc.length - 1; c >= 0; c--) if ((this.rc[c] ?? 0) > 0 && this.covered(c)) return c + 1;
    return 0;
  }
}

export interface PreallocPlan {
  cs: number;
  /** Host cluster of each L2 table, by L1 index. */
  l2: number[];
  /** Host cluster of each guest cluster's data. */
  data: number[];
  l1At: number;
  l1Size: number;
  alloc: Allocator;
  /** Final file length in bytes. */
  fileLength: number;
  /** Byte range a falloc/full preallocation writes (QEMU truncates the file with that mode). */
  fill?: [number, number];
}

/** Replays qcow2_co_create + qcow2_co_truncate(size, mode) for a new, empty image. */
export function planPrealloc(size: number, cs: number, refcountOrder: number, mode: Exclude<PreallocMode, 'off'>, extL2 = false): PreallocPlan {
  const a = new Allocator(cs, refcountOrder);
  a.alloc(3); // header, refcount table, first refcount block
  const perL2 = cs / (extL2 ? 16 : 8);
  const nData = Math.ceil(size / cs);
  const l1Size = Math.ceil(nData / perL2);
  const l1At = l1Size > 0 ? a.alloc(Math.ceil((l1Size * 8) / cs)) : 0; // qcow2_grow_l1_table(exact)
  const l2: number[] = new Array<number>(l1Size).fill(0);
  const data: number[] = new Array<number>(nData).fill(0);
  let fill: [number, number] | undefined;
  let lengthFloor = 0;
  if (mode === 'metadata') {
    // preallocate_co: one qcow2_alloc_host_offset per L2 slice (slice = table at the default
    // l2-cache-entry-size) and per INT_MAX-aligned chunk; the L2 table before its data.
    const chunk = Math.floor(INT_MAX / cs);
    let g = 0;
    while (g < nData) {
      let left = Math.min(nData - g, chunk);
      while (left > 0) {
        const l1i = Math.floor(g / perL2);
        if (!l2[l1i]) l2[l1i] = a.alloc(1);
        const n = Math.min(left, perL2 - (g % perL2));
        const host = a.alloc(n);
        for (let k = 0; k < n; k++) data[g + k] = host + k;
        g += n;
        left -= n;
      }
    }
  } else {
    // qcow2_co_truncate PREALLOC_MODE_FALLOC/FULL: refcount structures sized for the data and
    // its L2 tables right after the file, the data after them, L2 tables allocated as linked.
    const oldEnd = a.lastUsed();
    const nL2 = Math.ceil(nData / perL2) + 1;
    const start = a.area(oldEnd, nData + nL2, true);
    a.allocAt(start, nData);
    fill = [oldEnd * cs, (start + nData) * cs];
    lengthFloor = (start + nData) * cs;
    for (let g = 0; g < nData; g++) data[g] = start + g;
    for (let i = 0; i < l1Size; i++) l2[i] = a.alloc(1);
  }
  const fileLength = Math.max(a.lastUsed() * cs, lengthFloor);
  return { cs, l2, data, l1At, l1Size, alloc: a, fileLength, ...(fill ? { fill } : {}) };
}

/** Writes zeros over [from, to) in 1 MiB pieces (what falloc/full leave behind). */
export function fillZeros(backend: BlockBackend, from: number, to: number): void {
  if (to <= from) return;
  const zero = new Uint8Array(Math.min(1 << 20, to - from));
  for (let o = from; o < to; o += zero.length) backend.pwrite(zero.subarray(0, Math.min(zero.length, to - o)), o);
}

/** Writes a preallocated image into the empty `backend` (the header as createQcow2 writes it). */
export function writePreallocated(backend: BlockBackend, opts: Qcow2CreateOptions, mode: Exclude<PreallocMode, 'off'>): void {
  const header = planQcow2(opts);
  const cs = 2 ** header.clusterBits;
  const ext = opts.extendedL2 === true;
  const p = planPrealloc(opts.size, cs, header.refcountOrder, mode, ext);
  const a = p.alloc;
  backend.truncate(0);
  if (p.fill) {
    // falloc and full both leave the range allocated and zero (Node has no fallocate; writing
    // zeros gives the same bytes, the same map and the same allocated size).
    fillZeros(backend, p.fill[0], p.fill[1]);
  }
  header.size = opts.size;
  header.l1Size = p.l1Size;
  header.l1TableOffset = p.l1At * cs;
  header.refcountTableOffset = a.tableAt * cs;
  header.refcountTableClusters = a.tableClusters;
  const hbuf = new Uint8Array(cs);
  hbuf.set(serializeHeader(header));
  backend.pwrite(hbuf, 0);
  // A freed table's clusters are reused unwritten: their old bytes stay (QEMU reads them back).
  for (const o of a.oldTables) {
    const buf = new Uint8Array(o.clusters * cs);
    const dv = new DataView(buf.buffer);
    o.entries.forEach((blk, i) => {
      if (blk && i * 8 < buf.length) putU64(dv, i * 8, blk * cs);
    });
    backend.pwrite(buf, o.at * cs);
  }
  // Refcount table and blocks: whole clusters, as QEMU writes them.
  const tbuf = new Uint8Array(a.tableClusters * cs);
  const tdv = new DataView(tbuf.buffer);
  const bits = 2 ** header.refcountOrder;
  a.table.forEach((blk, i) => {
    if (!blk) return;
    putU64(tdv, i * 8, blk * cs);
    const b = new Uint8Array(cs);
    for (let j = 0; j < a.perBlock; j++) {
      const v = a.rc[i * a.perBlock + j] ?? 0;
      if (v > 0) setRefcountEntry(b, j, v, bits);
    }
    backend.pwrite(b, blk * cs);
  });
  backend.pwrite(tbuf, a.tableAt * cs);
  if (p.l1Size > 0) {
    // QEMU writes l1_size * 8 bytes of L1 (qcow2_grow_l1_table) and whole L2 clusters.
    const l1 = new Uint8Array(p.l1Size * 8);
    const l1dv = new DataView(l1.buffer);
    // Extended L2 entries: qcow2_alloc_cluster_link_l2 with m->prealloc leaves the subcluster
    // bitmap at 0 (allocated cluster, every subcluster unallocated: reads zeros or the backing
    // file), as qemu-img 7.2 writes it.
    const step = ext ? 2 : 1;
    const perL2 = cs / (8 * step);
    p.l2.forEach((t, i) => {
      setEntry(l1dv, i, t * cs, true);
      const l2 = new Uint8Array(cs);
      const dv = new DataView(l2.buffer);
      for (let k = 0; k < perL2 && i * perL2 + k < p.data.length; k++) setEntry(dv, k * step, p.data[i * perL2 + k]! * cs, true);
      backend.pwrite(l2, t * cs);
    });
    backend.pwrite(l1, p.l1At * cs);
  }
  // preallocate_co allocates the last, partial cluster as a write of `size % cs` bytes would:
  // the rest of that cluster (with subclusters: of that subcluster) is copied on write (zeros),
  // so the file holds it — and with subclusters ends there when that cluster is the last.
  const tail = opts.size % cs;
  const sc = ext ? cs / 32 : cs;
  let length = p.fileLength;
  if (mode === 'metadata' && p.data.length > 0) {
    const last = p.data[p.data.length - 1]!;
    const cowEnd = Math.ceil((tail || cs) / sc) * sc;
    if (tail !== 0) fillZeros(backend, last * cs + tail, last * cs + cowEnd);
    if (ext && cowEnd < cs && length === (last + 1) * cs) {
      let metaEnd = 0;
      for (let c = last - 1; c >= 0; c--) {
        if (a.refcount(c) > 0) {
          metaEnd = c + 1;
          break;
        }
      }
      length = Math.max(metaEnd * cs, last * cs + cowEnd);
    }
  }
  backend.truncate(length);
}
