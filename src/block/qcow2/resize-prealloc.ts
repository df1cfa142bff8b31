/**
 * `qemu-img resize [--preallocation=metadata|falloc|full]` growing a qcow2 image, laid out as
 * QEMU 7.2 lays it out (block/qcow2.c qcow2_co_truncate and preallocate_co; qcow2-cluster.c
 * qcow2_grow_l1_table, qcow2_alloc_host_offset, qcow2_alloc_cluster_link_l2).
 *
 * Design. As for create's preallocation (prealloc.ts), the layout is QEMU's allocator replayed:
 * the image's refcounts are loaded into the same Allocator, then the calls qcow2_co_truncate
 * makes (grow the L1 table exactly, then preallocate_co's allocations for `metadata`, or for
 * falloc/full a refcount area after the last used cluster, the data right after it and the L2
 * tables linked one slice at a time) are replayed on it. The plan is written in phases so that
 * a crash at any write leaves the image as it was, plus at worst leaked clusters:
 *  A. writes into clusters the old image did not use (new data, L2 tables, L1, refcount
 *     blocks and table); counts in the live refcount blocks only ever raised (max(old, new));
 *     tables point only at what is already written;
 *  B. the header switch (size, L1, refcount table) in one write;
 *  C. what lands in clusters the old image used (the freed L1 or refcount table reused), the
 *     pointers to it, then the final counts (the frees).
 * Costs: one number per host cluster of the image in memory (as create's plan).
 */
import { UserError } from '../../errors.js';
import { COMPRESSED_HI, COPIED_HI, entryOffset, setEntry } from './entries.js';
import { l1EntriesFor, putU64, serializeHeader } from './header.js';
import type { Qcow2Image } from './image.js';
import { Allocator, fillZeros, type PreallocMode } from './prealloc.js';
import { setRefcountEntry } from './refcount.js';

const INT_MAX = 2 ** 31 - 1;

type Entry = { kind: 'none' } | { kind: 'data'; host: number };

interface Plan {
  a: Allocator;
  l1At: number;
  l1Size: number;
  /** L2 table cluster by L1 index (after). */
  l2: number[];
  newL2: Set<number>;
  /** New guest cluster → host cluster mappings. */
  map: Map<number, number>;
  /** Byte ranges written with zeros, or copied from `src` (perform_cow). */
  cows: { at: number; len: number; src?: number }[];
  /** Range the file is grown over (falloc/full: bdrv_co_truncate with that mode). */
  fill?: [number, number];
  /** File length at least this (preallocate_co's final truncate). */
  minLength: number;
}

function refuse(img: Qcow2Image, why: string): never {
  throw new UserError('CLI_BAD_OPTION', `${img.name}: --preallocation on this image: ${why} (vfab does not replay that case of qcow2_co_truncate yet)`, {
    where: '--preallocation',
  });
}

/** Grows `img` (open read-write, no snapshots) to `newSize` with preallocation `mode`. */
export function resizeQcow2Prealloc(img: Qcow2Image, newSize: number, mode: PreallocMode): void {
  if (img.extL2) refuse(img, 'extended L2 entries');
  if (img.hasDataFile) refuse(img, 'external data file');
  if (img.bitmapState) refuse(img, 'persistent bitmaps');
  const h = img.header;
  const cs = img.cs;
  const rcs = img.refcounts();
  const orig: number[] = [];
  rcs.forEachNonZero((c) => {
    orig[c] = rcs.get(c);
  });
  const table = rcs.tableEntries().map((o) => o / cs);
  const a = Allocator.fromImage(cs, h.refcountOrder, orig, table, h.refcountTableOffset / cs, h.refcountTableClusters);
  const fileLen = img.backend.size();
  const plan = replay(img, a, newSize, mode, fileLen);
  writePlan(img, plan, orig, table, newSize);
}

function entryOf(img: Qcow2Image, l2: number[], g: number): Entry {
  const cs = img.cs;
  const l1i = Math.floor(g / img.l2Entries);
  if (!l2[l1i]) return { kind: 'none' };
  const t = img.l2At(l2[l1i] * cs);
  const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const j = g % img.l2Entries;
  const hi = dv.getUint32(j * 8);
  const lo = dv.getUint32(j * 8 + 4);
  if (hi & COMPRESSED_HI) refuse(img, 'the cluster holding the old end is compressed');
  const host = entryOffset(dv, j);
  if (host === 0) return { kind: 'none' }; // unallocated or a plain zero cluster: allocated anew
  if (lo & 1) refuse(img, 'the cluster holding the old end is a preallocated zero cluster');
  if (!(hi & COPIED_HI)) refuse(img, 'the cluster holding the old end is shared');
  return { kind: 'data', host: host / cs };
}

function replay(img: Qcow2Image, a: Allocator, newSize: number, mode: PreallocMode, fileLen: number): Plan {
  const h = img.header;
  const cs = img.cs;
  const perL2 = img.l2Entries;
  const old = h.size;
  const l2: number[] = [];
  for (let i = 0; i < h.l1Size; i++) l2.push(img.l1Offset(i) / cs);
  // qcow2_grow_l1_table(exact): the new table anywhere free, the old one freed after the switch.
  const l1Size = Math.max(h.l1Size, l1EntriesFor(newSize, img.clusterBits, false));
  let l1At = h.l1TableOffset / cs;
  let end = fileLen;
  if (l1Size > h.l1Size) {
    l1At = a.alloc(Math.ceil((l1Size * 8) / cs));
    end = Math.max(end, l1At * cs + l1Size * 8); // QEMU writes l1_size * 8 bytes, not whole clusters
    if (h.l1Size > 0) for (let i = 0; i < Math.ceil((h.l1Size * 8) / cs); i++) a.release(h.l1TableOffset / cs + i);
  }
  while (l2.length < l1Size) l2.push(0);
  const plan: Plan = { a, l1At, l1Size, l2, newL2: new Set(), map: new Map(), cows: [], minLength: 0 };
  // preallocation=off: qcow2_co_truncate only grows the L1 table (with the refcount blocks its
  // allocation needs, placed as QEMU places them) and writes the new size.
  if (mode === 'off') return plan;
  const g0 = Math.floor(old / cs);
  const head = old - g0 * cs;
  const first = head > 0 ? entryOf(img, l2, g0) : ({ kind: 'none' } as Entry);
  if (head > 0 && first.kind === 'none' && img.backingFile !== undefined) refuse(img, 'the cluster holding the old end would be copied from the backing file');
  const table = (l1i: number): void => {
    // get_cluster_table → l2_allocate
    if (!l2[l1i]) {
      l2[l1i] = a.alloc(1);
      plan.newL2.add(l1i);
    }
  };
  if (mode === 'metadata') {
    const chunk = Math.floor(INT_MAX / cs) * cs;
    let pos = old;
    let last = 0;
    while (pos < newSize) {
      const { done, host } = allocHostOffset(plan, img, pos, Math.min(newSize - pos, chunk), first, table);
      last = host + done;
      pos += done;
    }
    plan.minLength = last;
    return plan;
  }
  // falloc/full: qcow2_get_last_cluster below the file's end, then a refcount area there.
  let lastUsed = -1;
  for (let c = Math.ceil(end / cs) - 1; c >= 0; c--) {
    if (a.refcount(c) > 0) {
      lastUsed = c;
      break;
    }
  }
  const oldFile = lastUsed >= 0 ? lastUsed + 1 : Math.ceil(end / cs);
  const nData = Math.ceil(newSize / cs) - g0;
  const nL2 = Math.ceil(nData / perL2) + 1;
  const start = a.area(oldFile, nData + nL2, true);
  a.allocAt(start, nData);
  // The area's blocks and table were written before the file is truncated with the mode.
  end = Math.max(end, start * cs);
  plan.fill = [end, (start + nData) * cs];
  let g = g0;
  let host = start;
  while (g < g0 + nData) {
    const n = Math.min(g0 + nData - g, perL2 - (g % perL2));
    table(Math.floor(g / perL2));
    for (let k = 0; k < n; k++) plan.map.set(g + k, host + k);
    if (g === g0 && head > 0) {
      // perform_cow: the guest bytes before the old end move to the new cluster; the old one is
      // freed by this slice's link (qcow2_alloc_cluster_link_l2), before the next L2 table.
      plan.cows.push({ at: start * cs, len: head, ...(first.kind === 'data' ? { src: first.host * cs } : {}) });
      if (first.kind === 'data') a.release(first.host);
    }
    g += n;
    host += n;
  }
  return plan;
}

/** qcow2_alloc_host_offset for [start, start+bytes): handle_copied, then handle_alloc per L2 slice. */
function allocHostOffset(plan: Plan, img: Qcow2Image, start: number, bytes: number, first: Entry, table: (l1i: number) => void): { done: number; host: number } {
  const cs = img.cs;
  const perL2 = img.l2Entries;
  const a = plan.a;
  let remaining = bytes;
  let pos = start;
  let next = -1;
  let firstHost = -1;
  const g0 = Math.floor(img.header.size / cs);
  while (remaining > 0) {
    const g = Math.floor(pos / cs);
    const intra = pos - g * cs;
    table(Math.floor(g / perL2));
    if (g === g0 && first.kind === 'data' && intra > 0) {
      // handle_copied: the cluster holding the old end is ours already.
      const n = Math.min(remaining, cs - intra);
      firstHost = first.host * cs + intra;
      next = (first.host + 1) * cs;
      pos += n;
      remaining -= n;
      continue;
    }
    const want = Math.min(Math.ceil((intra + remaining) / cs), perL2 - (g % perL2));
    let host: number;
    let k = want;
    if (next < 0) host = a.alloc(want);
    else {
      host = next / cs;
      k = a.allocAtMost(host, want);
      if (k === 0) break;
    }
    for (let i = 0; i < k; i++) plan.map.set(g + i, host + i);
    const done = Math.min(remaining, k * cs - intra);
    // perform_cow: the head and tail of the allocation the request does not cover (zeros here).
    if (intra > 0) plan.cows.push({ at: host * cs, len: intra });
    const tail = (intra + done) % cs;
    if (tail > 0) plan.cows.push({ at: (host + k - 1) * cs + tail, len: cs - tail });
    if (firstHost < 0) firstHost = host * cs + intra;
    next = (host + k) * cs;
    pos += done;
    remaining -= done;
  }
  return { done: bytes - remaining, host: firstHost };
}

function writePlan(img: Qcow2Image, p: Plan, orig: number[], origTable: number[], newSize: number): void {
  const h = img.header;
  const cs = img.cs;
  const be = img.backend;
  const a = p.a;
  const bits = 2 ** h.refcountOrder;
  const wasFree = (c: number): boolean => !orig[c];
  const sync = (): void => {
    be.barrier?.();
  };
  // Refcount metadata must not land where the old image's metadata still lives until the switch.
  a.table.forEach((blk, i) => {
    if (blk && blk !== origTable[i] && !wasFree(blk)) refuse(img, 'a new refcount block would reuse a cluster freed by the resize');
  });
  if (a.tableAt * cs !== h.refcountTableOffset) {
    for (let c = a.tableAt; c < a.tableAt + a.tableClusters; c++) if (!wasFree(c)) refuse(img, 'the new refcount table would reuse a cluster freed by the resize');
  }
  // ---- A: nothing the old image reaches changes meaning.
  if (p.fill) fillZeros(be, p.fill[0], p.fill[1]);
  // preallocate_co's truncate: the file covers every data cluster before anything maps one.
  if (be.size() < p.minLength) be.truncate(p.minLength);
  const copyIn = (cw: { at: number; len: number; src?: number }): void => {
    const buf = new Uint8Array(cw.len);
    if (cw.src !== undefined) be.pread(buf, cw.src);
    be.pwrite(buf, cw.at);
  };
  const late = (c: number): boolean => !wasFree(c);
  for (const cw of p.cows) if (!late(Math.floor(cw.at / cs))) copyIn(cw);
  const blockBytes = (bi: number, counts: (c: number) => number): Uint8Array => {
    const b = new Uint8Array(cs);
    for (let j = 0; j < a.perBlock; j++) {
      const v = counts(bi * a.perBlock + j);
      if (v > 0) setRefcountEntry(b, j, v, bits);
    }
    return b;
  };
  const finalCount = (c: number): number => a.refcount(c);
  const raised = (c: number): number => Math.max(orig[c] ?? 0, a.refcount(c));
  // Refcount blocks (counts raised only) and tables given up on the way (their bytes stay).
  const onDisk = (c: number): number => orig[c] ?? 0;
  const same = (x: Uint8Array, y: Uint8Array): boolean => x.every((v, i) => v === y[i]);
  a.table.forEach((blk, bi) => {
    if (!blk) return;
    const mid = blockBytes(bi, raised);
    if (blk !== origTable[bi] || !same(mid, blockBytes(bi, onDisk))) be.pwrite(mid, blk * cs);
  });
  const tableBytes = (entries: number[], clusters: number): Uint8Array => {
    const buf = new Uint8Array(clusters * cs);
    const dv = new DataView(buf.buffer);
    entries.forEach((blk, i) => {
      if (blk && i * 8 < buf.length) putU64(dv, i * 8, blk * cs);
    });
    return buf;
  };
  for (const o of a.oldTables) if (wasFree(o.at)) be.pwrite(tableBytes(o.entries, o.clusters), o.at * cs);
  sync();
  if (a.tableAt * cs === h.refcountTableOffset) {
    // The live table: only entries for blocks written above are added.
    const dv = new DataView(new ArrayBuffer(8));
    a.table.forEach((blk, i) => {
      if (blk && blk !== origTable[i]) {
        putU64(dv, 0, blk * cs);
        be.pwrite(new Uint8Array(dv.buffer.slice(0)), h.refcountTableOffset + i * 8);
      }
    });
  } else be.pwrite(tableBytes(a.table, a.tableClusters), a.tableAt * cs);
  // L2 tables in free clusters; the live ones gain entries only for data already written.
  const perL2 = img.l2Entries;
  const byTable = new Map<number, [number, number][]>();
  for (const [g, host] of p.map) {
    const l1i = Math.floor(g / perL2);
    let list = byTable.get(l1i);
    if (!list) byTable.set(l1i, (list = []));
    list.push([g % perL2, host]);
  }
  const l2Bytes = (l1i: number, only: (host: number) => boolean): Uint8Array => {
    const t = p.newL2.has(l1i) ? new Uint8Array(cs) : img.l2At(p.l2[l1i]! * cs).slice();
    const dv = new DataView(t.buffer);
    for (const [j, host] of byTable.get(l1i) ?? []) if (only(host)) setEntry(dv, j, host * cs, true);
    return t;
  };
  const tables = new Set<number>([...byTable.keys(), ...p.newL2]);
  const deferredL2 = new Set<number>();
  for (const l1i of tables) {
    if (p.newL2.has(l1i) && late(p.l2[l1i]!)) deferredL2.add(l1i);
    else be.pwrite(l2Bytes(l1i, (host) => !late(host)), p.l2[l1i]! * cs);
  }
  sync();
  const l1Bytes = (ready: (l1i: number) => boolean): Uint8Array => {
    const l1 = new Uint8Array(p.l1Size * 8);
    const dv = new DataView(l1.buffer);
    p.l2.forEach((t, i) => {
      if (t && ready(i)) setEntry(dv, i, t * cs, true);
    });
    return l1;
  };
  const l1Moved = p.l1At * cs !== h.l1TableOffset || p.l1Size !== h.l1Size;
  const readyNow = (i: number): boolean => !deferredL2.has(i);
  if (l1Moved) be.pwrite(l1Bytes(readyNow), p.l1At * cs);
  // An L1 table that neither moves nor gains an L2 table is not written: QEMU writes L1 entries
  // only as l2_allocate links a table. (Rewriting it unchanged turned an L1 offset past the end of
  // a damaged file into a 1 TiB sparse file, where qemu-img resize leaves the length as it was.)
  else if ([...p.newL2].some(readyNow)) be.pwrite(l1Bytes(readyNow), h.l1TableOffset);
  sync();
  // ---- B: the header switch, one write.
  h.size = newSize;
  h.l1TableOffset = p.l1At * cs;
  h.l1Size = p.l1Size;
  h.refcountTableOffset = a.tableAt * cs;
  h.refcountTableClusters = a.tableClusters;
  // Only the fields QEMU rewrites (size, L1, refcount table: bytes 24..60, one sector): the rest
  // of the header stays as it is on disk (QEMU keeps a feature table out of small clusters).
  be.pwrite(serializeHeader(h).subarray(24, 60), 24);
  sync();
  // ---- C: clusters the old image used, the pointers to them, then the frees.
  for (const o of a.oldTables) if (!wasFree(o.at)) be.pwrite(tableBytes(o.entries, o.clusters), o.at * cs);
  for (const cw of p.cows) if (late(Math.floor(cw.at / cs))) copyIn(cw);
  for (const l1i of tables) {
    if (deferredL2.has(l1i) || (byTable.get(l1i) ?? []).some(([, host]) => late(host))) be.pwrite(l2Bytes(l1i, () => true), p.l2[l1i]! * cs);
  }
  sync();
  if (deferredL2.size > 0) be.pwrite(l1Bytes(() => true), p.l1At * cs);
  sync();
  a.table.forEach((blk, bi) => {
    if (!blk) return;
    const fin = blockBytes(bi, finalCount);
    if (!same(fin, blockBytes(bi, raised))) be.pwrite(fin, blk * cs);
  });
  be.fsync();
}
