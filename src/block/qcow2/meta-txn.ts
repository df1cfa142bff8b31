/**
 * Crash-atomic metadata transactions for internal snapshots (create, delete, apply).
 *
 * Why. A snapshot operation changes the refcounts of many clusters and the COPIED flags of the
 * active L1/L2 entries, and `qemu-img check` requires "COPIED set ⇔ refcount is 1" in the active
 * tables. No order of in-place writes keeps that true at every instant (the flag and the refcount
 * live in different clusters), so a kill in the middle used to leave OFLAG_COPIED errors.
 *
 * How. Nothing that the current header reaches is written. The new state is built in clusters
 * past the end of everything in use: copies of the L2 tables whose flags change, the new active
 * L1, the snapshot L1 and table, the refcount blocks that change and a new refcount table. After
 * a barrier (fdatasync) ONE write of header bytes 36..71 switches l1_size, l1_table_offset,
 * refcount_table_offset/clusters, nb_snapshots and snapshots_offset together, then a second
 * barrier. A kill or power loss before the switch leaves the old image untouched (the new
 * clusters are unreferenced and have refcount 0: not even leaks); after it, the new image is
 * complete. The old metadata has refcount 0 in the new refcounts (free space, reused later).
 *
 * Costs: every L2 table whose COPIED flags change is copied (snapshot create copies the tables
 * holding unshared data), and changed refcount blocks are rewritten whole. Memory: one map entry
 * per cluster whose refcount changes.
 */
import { UserError } from '../../errors.js';
import { COMPRESSED_HI, COPIED_HI, entryOffset } from './entries.js';
import { MAX_REFTABLE_BYTES, putU64 } from './header.js';
import type { Qcow2Image } from './image.js';
import { setRefcountEntry, type Refcounts } from './refcount.js';

export interface HeaderSwitch {
  l1Size: number;
  l1TableOffset: number;
  nbSnapshots: number;
  snapshotsOffset: number;
}

export class MetaTxn {
  private readonly rc: Refcounts;
  private readonly cs: number;
  /** Refcounts of the new state, where they differ from the old one. */
  private readonly next = new Map<number, number>();
  private nextFree: number;
  private readonly startSize: number;

  constructor(private readonly img: Qcow2Image) {
    img.settleRefcounts();
    this.rc = img.refcounts();
    this.cs = img.cs;
    this.startSize = img.backend.size();
    this.nextFree = Math.max(this.rc.end, Math.ceil(this.startSize / this.cs));
  }

  get(c: number): number {
    return this.next.get(c) ?? this.rc.get(c);
  }

  /** Changes a refcount of the new state; refuses (nothing written yet) on overflow or underflow. */
  add(c: number, d: number): number {
    const v = this.get(c) + d;
    if (v < 0) throw new UserError('QCOW2_CORRUPT', `${this.img.name}: refcount of cluster ${c} (offset ${c * this.cs}) would drop below zero`);
    if (v > this.rc.max) {
      throw new UserError('QCOW2_REFCOUNT_OVERFLOW', `${this.img.name}: refcount of cluster ${c} would exceed ${this.rc.max} (refcount_bits ${this.rc.bits})`);
    }
    this.next.set(c, v);
    return v;
  }

  /** `n` fresh clusters past everything in use (refcount 1 in the new state); returns the offset. */
  alloc(n: number): number {
    const c = this.nextFree;
    this.nextFree += n;
    for (let k = c; k < c + n; k++) this.next.set(k, 1);
    return c * this.cs;
  }

  put(bytes: Uint8Array, off: number): void {
    this.img.backend.pwrite(bytes, off);
  }

  /** +d on every L2 table and data cluster an L1 table reaches (QEMU qcow2_update_snapshot_refcount). */
  addReachable(l1: Uint8Array, d: number): void {
    const cs = this.cs;
    const dv = new DataView(l1.buffer, l1.byteOffset, l1.byteLength);
    for (let i = 0; i < l1.length / 8; i++) {
      const l2off = entryOffset(dv, i);
      if (l2off === 0) continue;
      const t = this.img.l2At(l2off);
      const tdv = new DataView(t.buffer, t.byteOffset, t.byteLength);
      for (let j = 0; j < this.img.l2Entries * this.img.l2Step; j += this.img.l2Step) {
        if (tdv.getUint32(j * 8) & COMPRESSED_HI) {
          throw new UserError('QCOW2_UNSUPPORTED_FEATURE', `${this.img.name}: compressed clusters are not supported (L2 entry at byte ${l2off + j * 8})`);
        }
        const host = entryOffset(tdv, j);
        if (host !== 0) this.add(host / cs, d);
      }
      this.add(l2off / cs, d);
    }
  }

  /**
   * The active L1 table of the new state: COPIED flags recomputed from the new refcounts. An L2
   * table whose flags change is copied to a fresh cluster (never rewritten in place: the old
   * state still uses it); the active path moves to the copy, so data refcounts do not change.
   */
  activeL1(l1: Uint8Array): Uint8Array {
    const cs = this.cs;
    const out = l1.slice();
    const dv = new DataView(out.buffer);
    for (let i = 0; i < out.length / 8; i++) {
      let l2off = entryOffset(dv, i);
      if (l2off === 0) {
        dv.setUint32(i * 8, dv.getUint32(i * 8) & ~COPIED_HI);
        continue;
      }
      const t = this.img.l2At(l2off);
      let copy: Uint8Array | undefined;
      const tdv = new DataView(t.buffer, t.byteOffset, t.byteLength);
      for (let j = 0; j < this.img.l2Entries * this.img.l2Step; j += this.img.l2Step) {
        const hi = tdv.getUint32(j * 8);
        const host = entryOffset(tdv, j);
        if (host === 0) continue;
        const want = this.get(host / cs) === 1 ? COPIED_HI : 0;
        if ((hi & COPIED_HI) !== want) {
          copy ??= t.slice();
          new DataView(copy.buffer).setUint32(j * 8, ((hi & ~COPIED_HI) | want) >>> 0);
        }
      }
      if (copy) {
        const off = this.alloc(1);
        this.put(copy, off);
        this.add(l2off / cs, -1);
        l2off = off;
      }
      const hi = Math.floor(l2off / 4294967296) | (this.get(l2off / cs) === 1 ? COPIED_HI : 0);
      dv.setUint32(i * 8, hi >>> 0);
      dv.setUint32(i * 8 + 4, (l2off % 4294967296) >>> 0);
    }
    return out;
  }

  /** Frees (−1) `n` clusters from offset `off` in the new state. */
  release(off: number, bytes: number): void {
    if (off === 0 || bytes === 0) return;
    for (let k = 0; k < Math.ceil(bytes / this.cs); k++) this.add(off / this.cs + k, -1);
  }

  /** Writes the new refcount structure and switches the header to the new state in one write. */
  commit(sw: HeaderSwitch): void {
    const cs = this.cs;
    const img = this.img;
    const per = this.rc.perBlock;
    const oldTable = this.rc.tableEntries();
    const relocated = new Map<number, number>();
    let tableOff = 0;
    let tableClusters = 0;
    const oldTableOff = img.refcountTableOffset;
    const oldTableClusters = img.refcountTableClusters;
    this.release(oldTableOff, oldTableClusters * cs);
    // Fixpoint: relocating a block or the table changes refcounts, which may touch more blocks.
    for (let iter = 0; ; iter++) {
      if (iter > 1000) throw new UserError('QCOW2_TOO_BIG', `${img.name}: refcount structure does not converge`);
      let changed = false;
      for (const c of [...this.next.keys()]) {
        const bi = Math.floor(c / per);
        if (relocated.has(bi)) continue;
        const off = this.alloc(1);
        relocated.set(bi, off);
        const old = oldTable[bi] ?? 0;
        if (old !== 0) this.add(old / cs, -1);
        changed = true;
      }
      let maxBi = oldTable.length - 1;
      for (const bi of relocated.keys()) maxBi = Math.max(maxBi, bi);
      const need = Math.max(oldTableClusters, Math.ceil(((maxBi + 1) * 8) / cs));
      if (need > tableClusters) {
        if (tableClusters > 0) this.release(tableOff, tableClusters * cs);
        tableClusters = need;
        if (tableClusters * cs > MAX_REFTABLE_BYTES) throw new UserError('QCOW2_TOO_BIG', `${img.name}: the refcount table would exceed 8 MiB; use a bigger cluster size`);
        tableOff = this.alloc(tableClusters);
        changed = true;
      }
      if (!changed) break;
    }
    // Blocks: the old content plus the new values.
    const byBlock = new Map<number, [number, number][]>();
    for (const [c, v] of this.next) {
      const bi = Math.floor(c / per);
      let l = byBlock.get(bi);
      if (!l) byBlock.set(bi, (l = []));
      l.push([c - bi * per, v]);
    }
    for (const [bi, off] of relocated) {
      const block = this.rc.blockCopy(bi) ?? new Uint8Array(cs);
      for (const [k, v] of byBlock.get(bi) ?? []) setRefcountEntry(block, k, v, this.rc.bits);
      this.put(block, off);
    }
    const table = new Uint8Array(tableClusters * cs);
    const tdv = new DataView(table.buffer);
    oldTable.forEach((off, bi) => putU64(tdv, bi * 8, relocated.get(bi) ?? off));
    for (const [bi, off] of relocated) putU64(tdv, bi * 8, off);
    this.put(table, tableOff);
    if (img.backend.size() < this.nextFree * cs) img.backend.truncate(this.nextFree * cs);
    // Everything above must be stable before the header points at it.
    img.backend.barrier?.();
    const hb = new Uint8Array(36);
    const dv = new DataView(hb.buffer);
    dv.setUint32(0, sw.l1Size);
    putU64(dv, 4, sw.l1TableOffset);
    putU64(dv, 12, tableOff);
    dv.setUint32(20, tableClusters);
    dv.setUint32(24, sw.nbSnapshots);
    putU64(dv, 28, sw.snapshotsOffset);
    img.backend.pwrite(hb, 36);
    img.backend.barrier?.();
    const h = img.header;
    h.l1Size = sw.l1Size;
    h.l1TableOffset = sw.l1TableOffset;
    h.refcountTableOffset = tableOff;
    h.refcountTableClusters = tableClusters;
    h.nbSnapshots = sw.nbSnapshots;
    h.snapshotsOffset = sw.snapshotsOffset;
    img.afterMetadataSwitch();
  }

  /** Gives back the file growth of a transaction that was refused before its commit. */
  abort(): void {
    if (this.img.backend.size() > this.startSize) this.img.backend.truncate(this.startSize);
  }
}
