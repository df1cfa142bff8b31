/**
 * qcow2 refcounts: the two-level refcount table, allocation and freeing of host clusters.
 *
 * Design. A writer loads the refcount table and all refcount blocks it points to once, on first
 * use (2 bytes per host cluster at the default refcount_order 4: 32 KiB of memory per GiB of
 * file at 64 KiB clusters), so allocation never reads the disk. Every change is written through
 * at once (only the bytes of the changed entry), BEFORE the caller writes any metadata that uses
 * the cluster: a crash can leak a cluster (refcount too high, like QEMU) but never leaves a
 * refcount too low (QEMU block/qcow2-refcount.c: "refcount updates before L2 updates").
 *
 * Allocation (QEMU alloc_clusters_noref): first free run from a hint, else at the end of the file.
 * A missing refcount block is placed on the very cluster being allocated, so it describes itself
 * (QEMU alloc_refcount_block does the same when it can). Growing the refcount table writes a new
 * table plus the blocks describing it past the end of the file, syncs, switches the header, then
 * frees the old table.
 */
import { BugError, UserError } from '../../errors.js';
import type { BlockBackend } from '../backend.js';
import { putU64, u64 } from './header.js';

export interface RefcountHost {
  readonly backend: BlockBackend;
  readonly clusterBits: number;
  readonly refcountOrder: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  /** Persists refcount_table_offset and refcount_table_clusters in the header (one write). */
  writeRefcountTableHeader(offset: number, clusters: number): void;
  /** What metadata (header, tables) lies in clusters [c, c+n), if any: a "free" cluster that does is corruption. */
  metadataOverlap?(c: number, n: number): string | undefined;
}

export class Refcounts {
  readonly cs: number;
  readonly bits: number;
  readonly perBlock: number;
  readonly max: number;
  private table: number[] = [];
  private blocks = new Map<number, Uint8Array>();
  private freeHint = 0;
  /** Clusters at or past this index have never been written since open: they read as zeros. */
  zeroFrom = 0;
  /** One past the highest cluster that is in use or lies inside the file. */
  end = 0;

  private constructor(private host: RefcountHost) {
    this.cs = 2 ** host.clusterBits;
    this.bits = 2 ** host.refcountOrder;
    this.perBlock = (this.cs * 8) / this.bits;
    // The reservation must fit well inside one refcount block's coverage: a range that always
    // reaches into a block not yet created makes alloc() create that block and search again
    // past it, forever (512-byte clusters with 16-bit refcounts cover exactly 256 clusters).
    this.poolClusters = Math.max(1, Math.min(256, Math.max(16, Math.floor(2 ** 20 / this.cs)), Math.floor(this.perBlock / 4)));
    this.max = this.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** this.bits - 1;
  }

  /** Loads the table and every block; `UserError` for offsets that point nowhere sensible. */
  static load(host: RefcountHost): Refcounts {
    const r = new Refcounts(host);
    const cs = r.cs;
    const fileSize = host.backend.size();
    const n = (host.refcountTableClusters * cs) / 8;
    const raw = new Uint8Array(n * 8);
    host.backend.pread(raw, host.refcountTableOffset);
    const dv = new DataView(raw.buffer);
    let last = Math.ceil(fileSize / cs);
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      const off = u64(dv, i * 8) - (dv.getUint32(i * 8 + 4) & 0x1ff);
      r.table.push(off);
      if (off === 0) continue;
      if (off % cs !== 0) {
        throw new UserError('QCOW2_CORRUPT', `refcount table entry ${i} (byte ${host.refcountTableOffset + i * 8}) points to unaligned offset ${off}`);
      }
      if (off >= fileSize) {
        throw new UserError('QCOW2_CORRUPT', `refcount block ${i} at ${off} (table byte ${host.refcountTableOffset + i * 8}) is past the end of the file`);
      }
      if (seen.has(off)) throw new UserError('QCOW2_CORRUPT', `refcount block ${i} at ${off} (table byte ${host.refcountTableOffset + i * 8}) is used twice`);
      seen.add(off);
      const block = new Uint8Array(cs);
      host.backend.pread(block, off);
      r.blocks.set(i, block);
      for (let k = r.perBlock - 1; k >= 0; k--) {
        if (r.entry(block, k) !== 0) {
          last = Math.max(last, i * r.perBlock + k + 1);
          break;
        }
      }
    }
    r.end = last;
    r.zeroFrom = Math.ceil(fileSize / cs);
    return r;
  }

  private entry(block: Uint8Array, k: number): number {
    return refcountEntry(block, k, this.bits);
  }

  /** Sets entry k of a block in memory; returns [byteOffset, byteLength] that changed. */
  private setEntry(block: Uint8Array, k: number, v: number): [number, number] {
    return setRefcountEntry(block, k, v, this.bits);
  }

  get(cluster: number): number {
    this.checkIndex(cluster);
    const bi = Math.floor(cluster / this.perBlock);
    const block = this.blocks.get(bi);
    if (!block) return 0;
    return this.entry(block, cluster - bi * this.perBlock);
  }

  /**
   * How many clusters below `end` have a non-zero refcount, counting no further than `stopAt`.
   * Absent refcount blocks are skipped whole (their clusters are all 0), so a sparse tail costs nothing.
   */
  countNonZero(end: number, stopAt: number): number {
    let count = 0;
    for (const bi of [...this.blocks.keys()].sort((a, b) => a - b)) {
      const block = this.blocks.get(bi)!;
      const last = Math.min(this.perBlock, end - bi * this.perBlock);
      for (let k = 0; k < last; k++) {
        if (this.entry(block, k) !== 0 && ++count >= stopAt) return count;
      }
    }
    return count;
  }

  /** Calls `fn` for every cluster with a non-zero stored refcount. */
  forEachNonZero(fn: (cluster: number) => void): void {
    for (const [bi, block] of this.blocks) {
      for (let k = 0; k < this.perBlock; k++) if (this.entry(block, k) !== 0) fn(bi * this.perBlock + k);
    }
  }

  /** Makes the allocator skip clusters below `n` (repair: they may be referenced). */
  reserveBelow(n: number): void {
    this.freeHint = Math.max(this.freeHint, n);
    this.end = Math.max(this.end, n);
  }

  /** A copy of refcount block `bi` as loaded (undefined when the table has no block there). */
  blockCopy(bi: number): Uint8Array | undefined {
    return this.blocks.get(bi)?.slice();
  }

  /** Table entries (block offsets), for check. */
  tableEntries(): readonly number[] {
    return this.table;
  }

  /** Changes a refcount by `delta` and writes the entry through. Freed clusters become allocatable. */
  /**
   * A cluster index comes from an offset in the image (offset / cluster size): one that is not a
   * whole, safe, non-negative number is a corrupt table entry, never an internal error.
   */
  private checkIndex(cluster: number): void {
    if (!Number.isSafeInteger(cluster) || cluster < 0) {
      throw new UserError('QCOW2_CORRUPT', `offset ${cluster * this.cs} is not a cluster-aligned offset inside the image's range`);
    }
  }

  update(cluster: number, delta: number): number {
    const cur = this.get(cluster);
    const v = cur + delta;
    if (v < 0) throw new UserError('QCOW2_CORRUPT', `refcount of cluster ${cluster} (offset ${cluster * this.cs}) would drop below zero`);
    if (v > this.max) throw new UserError('QCOW2_REFCOUNT_OVERFLOW', `refcount of cluster ${cluster} would exceed ${this.max} (refcount_bits ${this.bits})`);
    this.ensureCovered(cluster);
    this.store(cluster, v);
    if (v === 0 && cluster < this.freeHint) this.freeHint = cluster;
    return v;
  }

  private store(cluster: number, v: number): void {
    const bi = Math.floor(cluster / this.perBlock);
    const block = this.blocks.get(bi);
    const blockOff = this.table[bi];
    if (!block || !blockOff) throw new BugError('QCOW2_REFCOUNT', `no refcount block for cluster ${cluster}`);
    const [o, len] = this.setEntry(block, cluster - bi * this.perBlock, v);
    this.host.backend.pwrite(block.subarray(o, o + len), blockOff + o);
  }

  /**
   * Clusters reserved ahead: refcount 1 on disk (one write and one barrier for the lot), handed
   * out one allocation at a time with no further write. The refcount of a cluster is then
   * stable before any L2 entry points at it (QEMU: the L2 cache depends on the refcount cache,
   * qcow2_cache_set_dependency). A crash leaks what was reserved and unused; close gives it back.
   */
  private pool = { next: 0, end: 0, zeroFrom: 0 };
  private readonly poolClusters: number;
  /** Frees waiting for the barrier that makes the table updates dropping them durable. */
  private pendingFree: number[] = [];

  /**
   * Allocates `n` contiguous clusters (refcount 1). Returns the first host offset, whether the
   * clusters are known to read as zeros (fresh past the old end of file), and whether a new
   * reservation was written (the caller grows the file to `reservedEnd` and issues a barrier).
   */
  alloc(n: number): { offset: number; zero: boolean; reserved: boolean } {
    if (this.pool.end - this.pool.next >= n) {
      const c = this.pool.next;
      this.pool.next += n;
      return { offset: c * this.cs, zero: c >= this.pool.zeroFrom, reserved: false };
    }
    this.releasePool();
    const size = Math.max(n, this.poolClusters);
    for (;;) {
      const c = this.findFree(size);
      // QEMU's metadata overlap check (qcow2_pre_write_overlap_check): refcounts that call a
      // table "free" are corrupt; refuse rather than overwrite it.
      const what = this.host.metadataOverlap?.(c, size) ?? this.overlapsBlocks(c, size);
      if (what) {
        throw new UserError('QCOW2_CORRUPT', `${this.host.backend.name}: refcounts say cluster ${c} is free but it holds the ${what}; run 'vfab disk check -r all' first`);
      }
      let ready = true;
      for (let k = c; k < c + size; k++) {
        const bi = Math.floor(k / this.perBlock);
        if (!this.blocks.has(bi)) {
          // QEMU alloc_refcount_block puts the new block on the first free cluster
          // (alloc_clusters_noref), described by whichever block covers that cluster, and only
          // describes itself when no block does. Placing it on `k` instead would put a used
          // cluster inside every run longer than one block's reach, so such a run (a big L1
          // table with small clusters) could never be found: the search went on forever.
          const p = this.findFree(1);
          const pbi = Math.floor(p / this.perBlock);
          if (bi < this.table.length && pbi !== bi && this.blocks.has(pbi)) this.createBlockAt(bi, p);
          else this.createBlock(k);
          ready = false;
          break;
        }
      }
      if (!ready) continue;
      this.pool = { next: c + n, end: c + size, zeroFrom: this.zeroFrom };
      this.storeRange(c, size, 1);
      this.end = Math.max(this.end, c + size);
      this.zeroFrom = Math.max(this.zeroFrom, c + size);
      this.freeHint = c + size;
      return { offset: c * this.cs, zero: c >= this.pool.zeroFrom, reserved: true };
    }
  }

  /** One past the last reserved cluster (the file must reach it). */
  get reservedEnd(): number {
    return this.pool.end;
  }

  private overlapsBlocks(c: number, n: number): string | undefined {
    const cs = this.cs;
    for (const off of this.table) if (off !== 0 && off / cs >= c && off / cs < c + n) return 'refcount block';
    return undefined;
  }

  /** Gives back the reserved clusters no allocation used (close, snapshot transactions, flush). */
  releasePool(): void {
    const { next, end } = this.pool;
    if (end > next) {
      this.storeRange(next, end - next, 0);
      this.freeHint = Math.min(this.freeHint, next);
      if (this.end === end) this.end = next;
    }
    this.pool = { next: 0, end: 0, zeroFrom: 0 };
  }

  /**
   * Drops one reference after the table entry that held it was rewritten. Deferred until a
   * barrier has made that rewrite durable (QEMU: the refcount cache depends on the L2 cache when
   * freeing), so a power loss can leak the cluster but never free one still referenced.
   */
  free(cluster: number): void {
    this.pendingFree.push(cluster);
    if (this.pendingFree.length >= 64) this.applyFrees();
  }

  applyFrees(): void {
    if (this.pendingFree.length === 0) return;
    this.host.backend.barrier?.();
    const list = this.pendingFree;
    this.pendingFree = [];
    for (const c of list) this.update(c, -1);
  }

  /** Writes `v` into entries [c, c+n) with one pwrite per refcount block touched. */
  private storeRange(c: number, n: number, v: number): void {
    let k = c;
    while (k < c + n) {
      const bi = Math.floor(k / this.perBlock);
      const block = this.blocks.get(bi);
      const blockOff = this.table[bi];
      if (!block || !blockOff) throw new BugError('QCOW2_REFCOUNT', `no refcount block for cluster ${k}`);
      const last = Math.min(c + n, (bi + 1) * this.perBlock);
      let lo = Infinity;
      let hi = 0;
      for (; k < last; k++) {
        const [o, len] = this.setEntry(block, k - bi * this.perBlock, v);
        lo = Math.min(lo, o);
        hi = Math.max(hi, o + len);
      }
      this.host.backend.pwrite(block.subarray(lo, hi), blockOff + lo);
    }
  }

  private findFree(n: number): number {
    let c = this.freeHint;
    while (c < this.end) {
      let run = 0;
      while (run < n && c + run < this.end && this.get(c + run) === 0) run++;
      if (run === n || c + run >= this.end) return c;
      c += run + 1;
    }
    return Math.max(c, this.end);
  }

  private ensureCovered(cluster: number): void {
    const bi = Math.floor(cluster / this.perBlock);
    if (this.blocks.has(bi)) return;
    // A refcount for a cluster no block covers yet (freeing never needs this; allocation handles
    // it itself). Place a block at the end.
    const c = this.findFree(1);
    this.createBlock(c);
    if (!this.blocks.has(bi)) throw new BugError('QCOW2_REFCOUNT', `cannot cover cluster ${cluster}`);
  }

  /** A new (empty) refcount block for block index `bi` on free cluster `p`, which an existing block describes. */
  private createBlockAt(bi: number, p: number): void {
    this.host.backend.pwrite(new Uint8Array(this.cs), p * this.cs); // block content, its refcount, then the table pointer
    this.host.backend.barrier?.();
    this.storeRange(p, 1, 1);
    this.publishBlock(bi, p, new Uint8Array(this.cs));
    if (this.freeHint === p) this.freeHint = p + 1;
  }

  /** A new refcount block on free cluster `c`, describing itself. */
  private createBlock(c: number): void {
    const bi = Math.floor(c / this.perBlock);
    if (bi >= this.table.length) {
      this.growTable(bi);
      return;
    }
    const block = new Uint8Array(this.cs);
    this.setEntry(block, c - bi * this.perBlock, 1);
    this.host.backend.pwrite(block, c * this.cs); // block content first, then the table pointer
    this.publishBlock(bi, c, block);
  }

  /** Points the table's entry `bi` at the block written on cluster `at`, after a barrier. */
  private publishBlock(bi: number, at: number, block: Uint8Array): void {
    this.host.backend.barrier?.();
    const off = at * this.cs;
    this.blocks.set(bi, block);
    this.table[bi] = off;
    const ent = new Uint8Array(8);
    putU64(new DataView(ent.buffer), 0, off);
    this.host.backend.pwrite(ent, this.host.refcountTableOffset + bi * 8);
    this.end = Math.max(this.end, at + 1);
    this.zeroFrom = Math.max(this.zeroFrom, at + 1);
  }

  /** Moves the refcount table to a bigger place at the end of the file (QEMU alloc_refcount_block's grow path). */
  private growTable(needIndex: number): void {
    const cs = this.cs;
    const e = Math.max(this.end, this.zeroFrom);
    let tableClusters = Math.max(this.host.refcountTableClusters * 2, Math.ceil(((needIndex + 1) * 8) / cs));
    let newBlocks: number[] = [];
    for (let iter = 0; iter < 64; iter++) {
      const total = tableClusters + newBlocks.length;
      const need: number[] = [];
      for (let bi = Math.floor(e / this.perBlock); bi <= Math.floor((e + total - 1) / this.perBlock); bi++) {
        if (!this.blocks.has(bi)) need.push(bi);
      }
      const maxIndex = Math.max(needIndex, ...need);
      if ((maxIndex + 1) * 8 > tableClusters * cs) {
        tableClusters = Math.ceil(((maxIndex + 1) * 8) / cs);
        continue;
      }
      if (need.length === newBlocks.length && need.every((b, i) => b === newBlocks[i])) break;
      newBlocks = need;
    }
    if (tableClusters * cs > 8 * 1024 * 1024) throw new UserError('QCOW2_TOO_BIG', 'the refcount table would exceed 8 MiB; use a bigger cluster size');
    const tableOff = e * cs;
    newBlocks.forEach((bi, j) => {
      const off = (e + tableClusters + j) * cs;
      this.blocks.set(bi, new Uint8Array(cs));
      while (this.table.length <= bi) this.table.push(0);
      this.table[bi] = off;
    });
    const total = tableClusters + newBlocks.length;
    const touched = new Set<number>();
    for (let k = e; k < e + total; k++) {
      const bi = Math.floor(k / this.perBlock);
      this.setEntry(this.blocks.get(bi)!, k - bi * this.perBlock, 1);
      touched.add(bi);
    }
    for (const bi of touched) this.host.backend.pwrite(this.blocks.get(bi)!, this.table[bi]!);
    const entries = (tableClusters * cs) / 8;
    while (this.table.length < entries) this.table.push(0);
    const raw = new Uint8Array(tableClusters * cs);
    const dv = new DataView(raw.buffer);
    this.table.forEach((off, i) => putU64(dv, i * 8, off));
    this.host.backend.pwrite(raw, tableOff);
    this.host.backend.fsync();
    const oldOff = this.host.refcountTableOffset;
    const oldClusters = this.host.refcountTableClusters;
    this.host.refcountTableOffset = tableOff;
    this.host.refcountTableClusters = tableClusters;
    this.host.writeRefcountTableHeader(tableOff, tableClusters);
    this.host.backend.barrier?.();
    this.end = Math.max(this.end, e + total);
    this.zeroFrom = Math.max(this.zeroFrom, e + total);
    for (let k = 0; k < oldClusters; k++) this.update(oldOff / cs + k, -1);
  }
}

/** Entry `k` of a refcount block of `bits`-bit entries (1, 2, 4: low bits first, QEMU get_refcount_ro0..2). */
export function refcountEntry(block: Uint8Array, k: number, bits: number): number {
  switch (bits) {
    case 16:
      return (block[k * 2]! << 8) | block[k * 2 + 1]!;
    case 8:
      return block[k]!;
    case 32:
      return new DataView(block.buffer, block.byteOffset).getUint32(k * 4);
    case 64:
      return Math.min(Number.MAX_SAFE_INTEGER, u64(new DataView(block.buffer, block.byteOffset), k * 8));
    default: {
      const per = 8 / bits;
      const byte = block[Math.floor(k / per)]!;
      return (byte >> ((k % per) * bits)) & ((1 << bits) - 1);
    }
  }
}

/** Sets entry `k`; returns [byteOffset, byteLength] that changed. */
export function setRefcountEntry(block: Uint8Array, k: number, v: number, bits: number): [number, number] {
  switch (bits) {
    case 16:
      block[k * 2] = v >> 8;
      block[k * 2 + 1] = v & 0xff;
      return [k * 2, 2];
    case 8:
      block[k] = v;
      return [k, 1];
    case 32:
      new DataView(block.buffer, block.byteOffset).setUint32(k * 4, v);
      return [k * 4, 4];
    case 64:
      putU64(new DataView(block.buffer, block.byteOffset), k * 8, v);
      return [k * 8, 8];
    default: {
      const per = 8 / bits;
      const bi = Math.floor(k / per);
      const shift = (k % per) * bits;
      const mask = ((1 << bits) - 1) << shift;
      block[bi] = (block[bi]! & ~mask) | ((v << shift) & mask);
      return [bi, 1];
    }
  }
}
