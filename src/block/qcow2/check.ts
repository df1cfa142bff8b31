/**
 * `qemu-img check` for qcow2 (QEMU block/qcow2-refcount.c qcow2_check_refcounts): recount every
 * reference from the metadata and compare with the stored refcounts.
 *
 * - stored < counted: corruption ("ERROR cluster N refcount=1 reference=2");
 * - stored > counted: leak ("Leaked cluster N refcount=1 reference=0"): space lost, data safe;
 * - COPIED flags in the active tables must say "refcount is 1" (check_oflag_copied);
 * - reserved bits in L1/L2 entries, unaligned offsets, references one cluster or more past the
 *   end of the file are corruptions (qcow2_inc_refcounts_imrt); refcounts stored for clusters
 *   past the end of the file are not compared (compare_refcounts stops at the file's end).
 *
 * Memory. Counted references live in a paged per-cluster array (cluster-counts.ts: pages only
 * where something is referenced; references past the end are errors, never counted), unlike
 * QEMU's flat table: the comparison walks only the ranges where something is counted or a
 * refcount block exists, so a sparse 1 TiB tail costs nothing. Stored refcounts are streamed block by block (a few clusters of cache), never loaded whole; the
 * L1 and refcount tables are bounded by QEMU's limits (32 MiB, 8 MiB). A hostile image claiming
 * millions of clusters past its end therefore costs nothing.
 *
 * Repair never makes an image worse: `-r leaks` only lowers refcounts that are too high (their
 * blocks exist); `-r all` with any refcount error rebuilds the whole refcount structure from the
 * counted references into fresh clusters past the end of the file, switches the header to it in
 * one write after a barrier, then fixes COPIED flags (QEMU rebuild_refcount_structure does the
 * same when the structure itself is damaged). The result is then checked again, and what is
 * reported as fixed is the difference.
 */
import { BugError, UserError } from '../../errors.js';
import { bitmapClusters } from './bitmaps.js';
import { ClusterCounts, PAGE, mergeRanges } from './cluster-counts.js';
import { COPIED_HI, entryOffset } from './entries.js';
import { MAX_REFTABLE_BYTES, putU64, u64 } from './header.js';
import { Qcow2Image } from './image.js';
import type { BlockBackend } from '../backend.js';
import { refcountEntry, setRefcountEntry } from './refcount.js';
import { serializeSnapshotTable } from './snapshot-table.js';
import { updateRefcounts } from './snapshot.js';

export interface CheckResult {
  filename: string;
  format: 'qcow2';
  checkErrors: number;
  corruptions: number;
  leaks: number;
  corruptionsFixed: number;
  leaksFixed: number;
  imageEndOffset: number;
  totalClusters: number;
  allocatedClusters: number;
  fragmentedClusters: number;
  compressedClusters: number;
  messages: string[];
}

/** L1E_RESERVED_MASK (bits 0-8, 56-62) and L2E_STD_RESERVED_MASK (bits 1-8, 56-61), block/qcow2.h. */
const L1_RESERVED_HI = 0x7f000000;
const L1_RESERVED_LO = 0x1ff;
const L2_RESERVED_HI = 0x3f000000;
const L2_RESERVED_LO = 0x1fe;

const hex = (hi: number, lo: number): string => (hi === 0 ? lo.toString(16) : hi.toString(16) + (lo >>> 0).toString(16).padStart(8, '0'));

interface Counted {
  refs: ClusterCounts;
  /** Clusters referenced past the end of the file (errors, not counted): a rebuild must avoid them. */
  pastEnd: Set<number>;
  /** More references past the end than `pastEnd` holds: a rebuild is refused. */
  pastEndOverflow: boolean;
  /** Clusters of the refcount structure itself (table and blocks), for a rebuild. */
  refStructure: number[];
  /** One past the last counted cluster (may pass the file's end by less than a cluster's worth). */
  countedEnd: number;
  corruptions: number;
  checkErrors: number;
  allocated: number;
  fragmented: number;
  compressed: number;
  messages: string[];
}

function countReferences(img: Qcow2Image): Counted {
  const cs = img.cs;
  const h = img.header;
  const fileSize = img.backend.size();
  const out: Counted = { refs: new ClusterCounts(), pastEnd: new Set(), pastEndOverflow: false, refStructure: [], countedEnd: 0, corruptions: 0, checkErrors: 0, allocated: 0, fragmented: 0, compressed: 0, messages: [] };
  const msg = (m: string): void => {
    if (out.messages.length < 10_000) out.messages.push(m);
  };
  // qcow2_inc_refcounts_imrt: a region ending one cluster or more past the end of the file is an
  // error and is not counted; a shorter overhang is counted, and the array grows to hold it (so a
  // file cut inside a refcount block still reports the L1 table past its end in image-end-offset).
  const inc = (off: number, size: number, structure = false): void => {
    if (size <= 0) return;
    if (off + size - fileSize >= cs) {
      msg(`ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x${off.toString(16)} size 0x${size.toString(16)}`);
      out.corruptions++;
      const lastPast = Math.floor((off + size - 1) / cs);
      for (let c = Math.floor(off / cs); c <= lastPast; c++) {
        if (out.pastEnd.size >= 1 << 20 || c > Number.MAX_SAFE_INTEGER / cs) {
          out.pastEndOverflow = true;
          break;
        }
        out.pastEnd.add(c);
      }
      return;
    }
    const last = Math.floor((off + size - 1) / cs);
    for (let c = Math.floor(off / cs); c <= last; c++) {
      out.refs.inc(c);
      if (structure) out.refStructure.push(c);
    }
    out.countedEnd = Math.max(out.countedEnd, last + 1);
  };
  inc(0, cs);
  const l2 = new Uint8Array(cs);
  const l2dv = new DataView(l2.buffer);
  let nextContiguous = 0;
  const walkL1 = (l1Off: number, l1Size: number, active: boolean): void => {
    inc(l1Off, l1Size * 8);
    if (l1Size === 0) return;
    const l1 = active ? img.l1 : new Uint8Array(l1Size * 8);
    if (!active) img.backend.pread(l1, l1Off);
    const dv = new DataView(l1.buffer, l1.byteOffset, l1.byteLength);
    for (let i = 0; i < l1Size; i++) {
      const hi = dv.getUint32(i * 8);
      const lo = dv.getUint32(i * 8 + 4);
      if (hi & L1_RESERVED_HI || lo & L1_RESERVED_LO) {
        msg(`ERROR found L1 entry with reserved bits set: ${hex(hi, lo)}`);
        out.corruptions++;
      }
      const l2off = entryOffset(dv, i);
      if (l2off === 0) continue;
      inc(l2off, cs);
      if (l2off % cs !== 0) {
        msg(`ERROR l2_offset=${l2off.toString(16)}: Table is not cluster aligned; L1 entry corrupted`);
        out.corruptions++;
        continue;
      }
      if (l2off >= fileSize) continue; // reads as zeros: no entries (already reported by inc)
      img.backend.pread(l2, l2off);
      walkL2(l2off, active);
    }
  };
  const walkL2 = (l2off: number, active: boolean): void => {
    const cb = img.clusterBits;
    for (let j = 0; j < img.l2Entries * img.l2Step; j += img.l2Step) {
      const hi = l2dv.getUint32(j * 8);
      const lo = l2dv.getUint32(j * 8 + 4);
      if (hi === 0 && lo === 0 && !(img.extL2 && l2dv.getUint32(j * 8 + 12) !== 0)) continue;
      if (hi & 0x40000000) {
        // Compressed (qcow2_parse_compressed_l2_entry): host offset in the low 62-(cb-8) bits,
        // then the number of additional 512-byte sectors.
        const e = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
        const shift = BigInt(62 - (cb - 8));
        const coff = Number(e & ((1n << shift) - 1n));
        const nsec = Number((e >> shift) & ((1n << BigInt(cb - 8)) - 1n)) + 1;
        if (hi & COPIED_HI) {
          msg(`ERROR: coffset=0x${coff.toString(16)}: copied flag must never be set for compressed clusters`);
          out.corruptions++;
        }
        // qcow2-refcount.c check_refcounts_l2: compressed clusters have no subclusters.
        if (img.extL2 && (l2dv.getUint32(j * 8 + 8) !== 0 || l2dv.getUint32(j * 8 + 12) !== 0)) {
          msg(`ERROR compressed cluster ${j / img.l2Step} with non-zero subcluster allocation bitmap, entry=${hex(hi, lo)}`);
          out.corruptions++;
          continue;
        }
        if (active) {
          out.allocated++;
          out.compressed++;
          out.fragmented++;
        }
        inc(coff, nsec * 512 - (coff % 512));
        continue;
      }
      if (hi & L2_RESERVED_HI || lo & L2_RESERVED_LO) {
        msg(`ERROR found l2 entry with reserved bits set: ${hex(hi, lo)}`);
        out.corruptions++;
      }
      const host = entryOffset(l2dv, j);
      // With a data file, COPIED marks data at host offset 0 (qcow2_get_cluster_type; the zero
      // flag does not count with subclusters).
      const dataAt0 = dataAtZero(img, hi, lo);
      if (img.extL2) {
        const zeroBits = l2dv.getUint32(j * 8 + 8);
        const allocBits = l2dv.getUint32(j * 8 + 12);
        if (host === 0 && !dataAt0 && allocBits !== 0) {
          msg('ERROR: Unallocated cluster has non-zero subcluster allocation map');
          out.corruptions++;
        } else if ((host !== 0 || dataAt0) && (zeroBits & allocBits) !== 0) {
          msg(`ERROR offset=${host.toString(16)}: Allocated cluster has corrupted subcluster allocation bitmap`);
          out.corruptions++;
        }
      }
      if (host === 0 && !dataAt0) continue;
      if (host % cs !== 0) {
        msg(lo & 1 ? `ERROR offset=${host.toString(16)}: Preallocated cluster is not properly aligned; L2 entry corrupted.` : `ERROR offset=${host.toString(16)}: Data cluster is not properly aligned; L2 entry corrupted.`);
        out.corruptions++;
      }
      if (active) {
        out.allocated++;
        if (nextContiguous !== 0 && host !== nextContiguous) out.fragmented++;
        nextContiguous = host + cs;
      }
      // check_refcounts_l2: clusters of an external data file are not refcounted.
      if (!img.hasDataFile) inc(host, cs);
    }
  };
  walkL1(h.l1TableOffset, h.l1Size, true);
  for (const sn of img.snapshots) walkL1(sn.l1TableOffset, sn.l1Size, false);
  if (h.nbSnapshots > 0) inc(h.snapshotsOffset, serializeSnapshotTable(img.snapshots).length);
  // qcow2-bitmap.c qcow2_check_bitmaps_refcounts: directory, bitmap tables and data clusters.
  try {
    for (const r of bitmapClusters(img)) inc(r.offset, r.size);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    msg(`ERROR ${e.message}`);
    out.corruptions++;
  }
  inc(h.refcountTableOffset, h.refcountTableClusters * cs, true);
  return out;
}

/** Stored refcounts, read block by block through a small cache (check never loads them all). */
class StoredRefcounts {
  readonly perBlock: number;
  readonly bits: number;
  private cache = new Map<number, Uint8Array | null>();
  constructor(
    private img: Qcow2Image,
    readonly table: number[],
  ) {
    this.bits = 2 ** img.refcountOrder;
    this.perBlock = (img.cs * 8) / this.bits;
  }
  static read(img: Qcow2Image): StoredRefcounts {
    const raw = new Uint8Array(Math.min(img.header.refcountTableClusters * img.cs, MAX_REFTABLE_BYTES));
    img.backend.pread(raw, img.header.refcountTableOffset);
    const dv = new DataView(raw.buffer);
    const table: number[] = [];
    for (let i = 0; i < raw.length / 8; i++) table.push(u64(dv, i * 8));
    return new StoredRefcounts(img, table);
  }
  /** Offset of refcount block `bi`, or 0 when it is absent or unusable (unaligned, past the file). */
  blockOffset(bi: number): number {
    const raw = this.table[bi] ?? 0;
    const off = raw - (raw % 512);
    if (off === 0 || off % this.img.cs !== 0 || off >= this.img.backend.size()) return 0;
    return off;
  }
  get(c: number): number {
    const bi = Math.floor(c / this.perBlock);
    let b = this.cache.get(bi);
    if (b === undefined) {
      const off = this.blockOffset(bi);
      b = off === 0 ? null : new Uint8Array(this.img.cs);
      if (b) this.img.backend.pread(b, off);
      if (this.cache.size >= 8) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(bi, b);
    }
    return b ? refcountEntry(b, c - bi * this.perBlock, this.bits) : 0;
  }
}

export function checkQcow2(img: Qcow2Image, opts: { repair?: 'leaks' | 'all' } = {}): CheckResult {
  const first = checkOnce(img);
  if (!opts.repair || (first.corruptions === 0 && first.leaks === 0)) return first.result;
  if (img.readOnly) throw new UserError('QCOW2_CHECK_READ_ONLY', 'cannot repair an image opened read-only');
  // Every byte the repair overwrites is kept, so a repair that would leave the image worse (its
  // metadata contradicts itself in ways a refcount rebuild cannot settle, e.g. L2 tables shared
  // by many L1 entries) is undone: an image is never left worse than it was. qemu-img fails
  // such repairs half-way ("metadata overlap check failed") and keeps what it wrote.
  const undo = recordUndo(img.backend);
  let after: CheckResult;
  try {
    if (opts.repair === 'all' && (first.refcountErrors > 0 || first.structureErrors > 0)) {
      rebuildRefcounts(img, first.counted);
    } else if (first.leaks > 0 && first.structureErrors === 0) {
      const rc = img.refcounts();
      for (const [c, d] of first.leakList) rc.update(c, -d);
    }
    if (opts.repair === 'all') {
      img.resetCaches();
      try {
        updateRefcounts(img, img.l1, img.header.l1TableOffset, 0);
      } catch (e) {
        if (!(e instanceof UserError)) throw e; // tables vfab cannot rewrite stay as they are
      }
    }
    img.backend.fsync();
    img.resetCaches();
    after = checkOnce(img).result;
  } catch (e) {
    if (undo.complete) {
      undo.rollback();
      img.abandon();
    }
    throw e;
  } finally {
    undo.stop();
  }
  if (after.corruptions > first.corruptions) {
    if (!undo.complete) throw new BugError('QCOW2_REPAIR', `repair of ${img.name} left ${after.corruptions} corruptions where there were ${first.corruptions}`);
    undo.rollback();
    img.abandon();
    throw new UserError('QCOW2_REPAIR_REFUSED', `${img.name}: repair would leave ${after.corruptions} corruptions where there were ${first.corruptions}; the image was left as it was`, { hint: 'its metadata contradicts itself beyond what a refcount rebuild can settle; copy the data out with `vfab disk convert` instead' });
  }
  return {
    ...after,
    messages: [...first.result.messages, ...after.messages.filter((m) => !first.result.messages.includes(m))],
    corruptionsFixed: first.corruptions - after.corruptions,
    leaksFixed: Math.max(0, first.leaks - after.leaks),
  };
}

interface CheckPass {
  result: CheckResult;
  counted: Counted;
  corruptions: number;
  leaks: number;
  /** Clusters whose stored refcount is below the count. */
  refcountErrors: number;
  /** Refcount table entries that are unusable (unaligned, outside the file, reserved bits). */
  structureErrors: number;
  leakList: [number, number][];
}

function checkOnce(img: Qcow2Image): CheckPass {
  const cs = img.cs;
  const h = img.header;
  const fileSize = img.backend.size();
  const nb = Math.ceil(fileSize / cs);
  // qcow2_check_refcounts: a file of more than INT_MAX clusters is not checked (-EFBIG,
  // "Check failed: File too large", qemu-img exit 1), e.g. 512-byte clusters and a 1 TiB file.
  if (nb > 0x7fffffff) return tooLarge(img);
  const counted = countReferences(img);
  const messages = counted.messages;
  let corruptions = counted.corruptions;
  const stored = StoredRefcounts.read(img);
  // check_refblocks: every refcount block must be aligned, inside the file, referenced once.
  let structureErrors = 0;
  stored.table.forEach((raw, i) => {
    if (raw === 0) return;
    if (raw % 512 !== 0) {
      messages.push(`ERROR refcount table entry ${i} has reserved bits set`);
      structureErrors++;
      return;
    }
    if (raw % cs !== 0) {
      messages.push(`ERROR refcount block ${i} is not cluster aligned; refcount table entry corrupted`);
      structureErrors++;
      return;
    }
    if (raw / cs >= nb) {
      messages.push(`ERROR refcount block ${i} is outside image`);
      structureErrors++;
      return;
    }
    const c = raw / cs;
    const n = counted.refs.inc(c);
    counted.refStructure.push(c);
    if (n !== 1) {
      messages.push(`ERROR refcount block ${i} refcount=${n}`);
      structureErrors++;
    }
  });
  corruptions += structureErrors;
  let leaks = 0;
  let refcountErrors = 0;
  let highest = 0;
  const leakList: [number, number][] = [];
  // compare_refcounts walks every cluster of the file; outside a counted page and an existing
  // refcount block both sides are 0, so only those ranges are walked (same result, O(metadata)).
  const ranges: [number, number][] = counted.refs.pages().map((p) => [p * PAGE, (p + 1) * PAGE]);
  stored.table.forEach((_, bi) => {
    if (stored.blockOffset(bi) !== 0) ranges.push([bi * stored.perBlock, (bi + 1) * stored.perBlock]);
  });
  // compare_refcounts walks nb_clusters, which calculate_refcounts grew to the last counted cluster.
  for (const [from, to] of mergeRanges(ranges, Math.max(nb, counted.countedEnd))) {
    for (let c = from; c < to; c++) {
      const s = stored.get(c);
      const r = counted.refs.get(c);
      if (s > 0 || r > 0) highest = c;
      if (s === r) continue;
      if (s < r) {
        if (messages.length < 10_000) messages.push(`ERROR cluster ${c} refcount=${s} reference=${r}`);
        refcountErrors++;
      } else {
        if (messages.length < 10_000) messages.push(`Leaked cluster ${c} refcount=${s} reference=${r}`);
        leaks++;
        if (leakList.length < 1 << 22) leakList.push([c, s - r]);
      }
    }
  }
  corruptions += refcountErrors;
  // check_oflag_copied: the active tables' COPIED flags against the stored refcounts.
  const t = new Uint8Array(cs);
  const tdv = new DataView(t.buffer);
  for (let i = 0; i < h.l1Size; i++) {
    const l2off = img.l1Offset(i);
    if (l2off === 0 || l2off % cs !== 0 || l2off >= fileSize) continue;
    const r2 = stored.get(l2off / cs);
    if (img.isCopied(i) !== (r2 === 1)) {
      messages.push(`ERROR OFLAG_COPIED L2 cluster: l1_index=${i} l1_entry=${(img.isCopied(i) ? COPIED_HI * 4294967296 : 0) + l2off} refcount=${r2}`);
      corruptions++;
    }
    img.backend.pread(t, l2off);
    for (let j = 0; j < img.l2Entries * img.l2Step; j += img.l2Step) {
      const hi = tdv.getUint32(j * 8);
      if (hi & 0x40000000) continue;
      const host = entryOffset(tdv, j);
      const lo = tdv.getUint32(j * 8 + 4);
      const dataAt0 = host === 0 && dataAtZero(img, hi, lo);
      if ((host === 0 && !dataAt0) || host % cs !== 0) continue;
      // check_oflag_copied: a data file's clusters count as refcount 1; others read the stored
      // refcount (qcow2_get_refcount), also for a cluster past the end of a cut file whose
      // refcount block is still inside it.
      const r = img.hasDataFile ? 1 : stored.get(host / cs);
      if (((hi & COPIED_HI) !== 0) !== (r === 1)) {
        if (messages.length < 10_000) messages.push(`ERROR OFLAG_COPIED data cluster: l2_entry=${hex(hi, tdv.getUint32(j * 8 + 4))} refcount=${r}`);
        corruptions++;
      }
    }
  }
  const result: CheckResult = {
    filename: img.name,
    format: 'qcow2',
    checkErrors: counted.checkErrors,
    corruptions,
    leaks,
    corruptionsFixed: 0,
    leaksFixed: 0,
    imageEndOffset: (highest + 1) * cs,
    totalClusters: Math.ceil(h.size / cs),
    allocatedClusters: counted.allocated,
    fragmentedClusters: counted.fragmented,
    compressedClusters: counted.compressed,
    messages,
  };
  return { result, counted, corruptions, leaks, refcountErrors, structureErrors, leakList };
}

function tooLarge(img: Qcow2Image): CheckPass {
  const result: CheckResult = {
    filename: img.name,
    format: 'qcow2',
    checkErrors: 1,
    corruptions: 0,
    leaks: 0,
    corruptionsFixed: 0,
    leaksFixed: 0,
    imageEndOffset: 0,
    totalClusters: Math.ceil(img.header.size / img.cs),
    allocatedClusters: 0,
    fragmentedClusters: 0,
    compressedClusters: 0,
    messages: ['Check failed: File too large'],
  };
  const counted: Counted = { refs: new ClusterCounts(), pastEnd: new Set(), pastEndOverflow: false, refStructure: [], countedEnd: 0, corruptions: 0, checkErrors: 1, allocated: 0, fragmented: 0, compressed: 0, messages: result.messages };
  return { result, counted, corruptions: 0, leaks: 0, refcountErrors: 0, structureErrors: 0, leakList: [] };
}

/**
 * Writes a new refcount structure (table + one block per `perBlock` clusters) describing exactly
 * the counted references, past the end of the file, then switches the header to it. The old
 * table and blocks are no longer counted, so they end up free. Nothing in use is overwritten:
 * every new cluster lies past the file's end.
 */
function rebuildRefcounts(img: Qcow2Image, counted: Counted): void {
  const cs = img.cs;
  const bits = 2 ** img.refcountOrder;
  const max = bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1;
  const perBlock = (cs * 8) / bits;
  const refs = counted.refs;
  for (const c of counted.refStructure) refs.dec(c);
  if (counted.pastEndOverflow) {
    throw new UserError('QCOW2_REPAIR_REFUSED', `${img.name}: too many references past the end of the file to rebuild the refcounts safely`);
  }
  const fileEnd = Math.ceil(img.backend.size() / cs);
  // The new structure goes past the end of the file, but never onto a cluster some table
  // references past the end (it would become in use twice).
  const past = [...counted.pastEnd].sort((a, b) => a - b);
  // Only blocks that describe something are written (QEMU rebuild_refcounts_write_refblocks
  // skips ranges nothing references): a sparse 1 TiB tail gets no blocks, not 512 MiB of zeros.
  const used = new Set<number>();
  for (const p of refs.pages()) {
    for (let c = p * PAGE; c < Math.min((p + 1) * PAGE, fileEnd); c++) if (refs.get(c) !== 0) used.add(Math.floor(c / perBlock));
  }
  let end = fileEnd;
  let tableClusters = 1;
  let blockList: number[] = [];
  for (let iter = 0; iter < 1_000_000; iter++) {
    // The new table and blocks, [end, end + tableClusters + blocks), need blocks of their own.
    let count = used.size;
    for (let k = 0; k < 64; k++) {
      const all = new Set(used);
      for (let bi = Math.floor(end / perBlock); bi <= Math.floor((end + tableClusters + count - 1) / perBlock); bi++) all.add(bi);
      blockList = [...all].sort((x, y) => x - y);
      const tc = Math.max(1, Math.ceil(((blockList[blockList.length - 1] ?? 0) + 1) * 8 / cs));
      if (blockList.length === count && tc === tableClusters) break;
      count = blockList.length;
      tableClusters = tc;
    }
    if (end - fileEnd > 1 << 20) throw new UserError('QCOW2_REPAIR_REFUSED', `${img.name}: references far past the end of the file leave no safe place for new refcounts`);
    const hit = past.find((c) => c >= end && c < end + tableClusters + blockList.length);
    if (hit === undefined) break;
    end = hit + 1;
  }
  if (tableClusters * cs > MAX_REFTABLE_BYTES) throw new UserError('QCOW2_TOO_BIG', `${img.name}: the rebuilt refcount table would exceed 8 MiB`);
  const tableOff = end * cs;
  const firstBlock = end + tableClusters;
  const newEnd = firstBlock + blockList.length;
  const table = new Uint8Array(tableClusters * cs);
  const tdv = new DataView(table.buffer);
  const block = new Uint8Array(cs);
  blockList.forEach((bi, j) => {
    block.fill(0);
    for (let k = 0; k < perBlock; k++) {
      const c = bi * perBlock + k;
      const v = c < fileEnd ? refs.get(c) : c >= end && c < newEnd ? 1 : 0;
      if (v > max) throw new UserError('QCOW2_REFCOUNT_OVERFLOW', `${img.name}: cluster ${c} has ${v} references, more than refcount_bits ${bits} can hold`);
      if (v !== 0) setRefcountEntry(block, k, v, bits);
    }
    img.backend.pwrite(block, (firstBlock + j) * cs);
    putU64(tdv, bi * 8, (firstBlock + j) * cs);
  });
  img.backend.pwrite(table, tableOff);
  // The new structure must be on disk before the header points at it (qcow2-refcount.c
  // rebuild_refcount_structure flushes before qcow2 header update too).
  img.backend.barrier?.();
  img.refcountTableOffset = tableOff;
  img.refcountTableClusters = tableClusters;
  img.writeRefcountTableHeader(tableOff, tableClusters);
  img.backend.barrier?.();
  img.resetCaches();
}

// Dirty images are repaired on read-write open (see Qcow2Image.openForWriting).
Qcow2Image.rebuild = (img) => {
  checkQcow2(img, { repair: 'all' });
};

/** Most bytes of old contents an undo log keeps (beyond it the repair can no longer be undone). */
const UNDO_LIMIT = 256 << 20;

/**
 * Records what writes and truncations on `backend` overwrite until `stop()`, so `rollback()` can
 * put the old bytes back (newest first) and restore the length. Instance methods shadow the
 * backend's own while recording.
 */
function recordUndo(backend: BlockBackend): { rollback(): void; stop(): void; readonly complete: boolean } {
  const pwrite = backend.pwrite.bind(backend);
  const truncate = backend.truncate.bind(backend);
  const size0 = backend.size();
  const log: Array<[number, Uint8Array]> = [];
  let kept = 0;
  let complete = true;
  const keep = (offset: number, length: number): void => {
    const n = Math.min(length, size0 - offset);
    if (n <= 0 || !complete) return;
    if (kept + n > UNDO_LIMIT) {
      complete = false;
      return;
    }
    const old = new Uint8Array(n);
    backend.pread(old, offset);
    log.push([offset, old]);
    kept += n;
  };
  const hooks = backend as { pwrite: BlockBackend['pwrite']; truncate: BlockBackend['truncate'] };
  const own = { pwrite: Object.getOwnPropertyDescriptor(backend, 'pwrite'), truncate: Object.getOwnPropertyDescriptor(backend, 'truncate') };
  hooks.pwrite = (data, offset) => {
    keep(offset, data.length);
    pwrite(data, offset);
  };
  hooks.truncate = (length) => {
    keep(length, size0 - length);
    truncate(length);
  };
  // back to the backend's own methods (its prototype's, or own properties it had)
  const stop = (): void => {
    const h = hooks as Partial<typeof hooks>;
    if (own.pwrite) Object.defineProperty(backend, 'pwrite', own.pwrite);
    else delete h.pwrite;
    if (own.truncate) Object.defineProperty(backend, 'truncate', own.truncate);
    else delete h.truncate;
  };
  return {
    get complete() {
      return complete;
    },
    stop,
    rollback() {
      stop();
      for (let i = log.length - 1; i >= 0; i--) pwrite(log[i]![1], log[i]![0]);
      truncate(size0);
      backend.fsync();
    },
  };
}

/**
 * Whether an entry with offset 0 is a data cluster at offset 0 of the external data file
 * (qcow2.h qcow2_get_cluster_type: COPIED set; without subclusters, the zero flag clear).
 */
function dataAtZero(img: { hasDataFile: boolean; extL2: boolean }, hi: number, lo: number): boolean {
  return img.hasDataFile && (hi & 0x00ffffff) === 0 && ((lo & 0xfffffe00) >>> 0) === 0 && (hi & COPIED_HI) !== 0 && (img.extL2 || !(lo & 1));
}
