/**
 * One qcow2 image file (a layer of a chain): cluster mapping, thin allocation, copy-on-write.
 *
 * Design (QEMU block/qcow2*.c as the reference):
 * - The L1 table lives in memory whole (≤ 32 MiB, QEMU's limit); L2 tables are read on demand
 *   into a bounded LRU (`l2CacheBytes`, default 4 MiB per image, QEMU docs/qcow2-cache.txt).
 * - Metadata is written through, entry by entry, in QEMU's order: refcount increment, then the
 *   data, then the L2 entry, then the L1 entry; freeing (refcount decrement) comes last. A process
 *   killed between two writes leaves at worst a leaked cluster (`check` reports leaks, QEMU does
 *   the same), never a table pointing at a cluster whose refcount says free.
 * - `flush()` is an fsync: writes acknowledged before it survive a crash.
 * - Sparse: a cluster allocated past the old end of the file is known to read as zeros, so a
 *   partial write into it writes only the guest bytes (QEMU's "skip zero COW" path,
 *   qcow2.c handle_alloc_space); the file is grown with ftruncate, never with zero bytes.
 * - COPIED (bit 63) is kept equal to "refcount is 1" in the active tables, as `qemu-img check`
 *   verifies (qcow2-refcount.c check_oflag_copied).
 */
import { LRUCache } from 'lru-cache';
import { BugError, UserError } from '../../errors.js';
import type { BlockBackend } from '../backend.js';
import { ST_DATA, ST_UNALLOC, ST_ZERO, type Layer, type LayerStatus, type StatusKind } from '../image.js';
import { COMPRESSED_HI, COPIED_HI, EXTL2_STRIDE, SUBCLUSTERS, ZERO_LO, bitmapAlloc, bitmapZero, entryOffset, setBitmap, setEntry } from './entries.js';
import {
  AUTOCLEAR_DATA_FILE_RAW,
  EXT_BITMAPS,
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  INCOMPAT_EXTL2,
  l1EntriesFor,
  parseHeader,
  putU64,
  serializeHeader,
  type Qcow2Header,
} from './header.js';
import { Refcounts, type RefcountHost } from './refcount.js';
import { AUTOCLEAR_BITMAPS, closeBitmaps, openBitmaps, type BitmapState } from './bitmaps.js';
import { parseSnapshotTable, type SnapshotEntry } from './snapshot-table.js';
import { SC_INVALID, SC_NORMAL, SC_UNALLOC_ALLOC, SC_UNALLOC_PLAIN, SC_ZERO_ALLOC, SC_ZERO_PLAIN, afterWrite, allNormal, cowRange, hasHostCluster, rangeMask, scType, type ExtEntry } from './subclusters.js';
import { checkDataFileFeatures, hasDataFile, isDataFileRaw, writeDataFileCluster, zeroDataFileCluster } from './data-file.js';
import { FS_BLOCK, isZero, isZeroRange, writeInPlace, writeSparse } from './host-writes.js';
import { COMPRESSED_BASE, compressCluster, decompressCluster, encodeCompressed, parseCompressed, type CompressedDesc } from './compressed.js';

export interface Qcow2OpenOptions {
  readOnly: boolean;
  /** L2 cache bound in bytes (default 4 MiB). */
  l2CacheBytes?: number;
  /** Opened by check: no repair of a dirty image on open (qemu BDRV_O_CHECK). */
  checkOnly?: boolean;
  /** fdatasync between dependent metadata writes (default true; the bench turns it off to show the cost). */
  barriers?: boolean;
}

export const DEFAULT_L2_CACHE_BYTES = 4 * 1024 * 1024;

export class Qcow2Image implements Layer, RefcountHost {
  readonly format = 'qcow2' as const;
  readonly cs: number;
  readonly clusterBits: number;
  readonly l2Entries: number;
  /** Extended L2 entries (incompatible bit 4): 128-bit entries, 32 subclusters per cluster. */
  readonly extL2: boolean;
  /** 8-byte words per L2 entry (1, or 2 with extended L2 entries). */
  readonly l2Step: number;
  /** Allocation unit: the subcluster size with extended L2 entries, else the cluster size. */
  readonly scSize: number;
  header: Qcow2Header;
  l1: Uint8Array;
  l1dv: DataView;
  snapshots: SnapshotEntry[];
  private l2cache: LRUCache<number, Uint8Array>;
  private rc: Refcounts | undefined;
  private backingReader: ((offset: number, buf: Uint8Array) => void) | undefined;
  private fileLen: number;
  private closed = false;
  barriers = true;
  /** Persistent dirty bitmaps of a read-write image (undefined: none, or read-only). */
  bitmapState: BitmapState | undefined;
  /** Inflated compressed clusters by host offset (small; cleared on compressed writes/frees). */
  private inflated = new LRUCache<number, Uint8Array>({ max: 8 });
  /** Next free byte for compressed data (QEMU s->free_byte_offset); 0: none. */
  private freeByte = 0;
  /** External data file (incompatible bit 2): guest clusters live there (data-file.ts). */
  readonly hasDataFile: boolean;
  /** The data file, opened by the chain (lazily for readers: `info` does not need it). */
  dataOpener: (() => BlockBackend) | undefined;
  private dataFileBackend: BlockBackend | undefined;

  private constructor(
    readonly backend: BlockBackend,
    header: Qcow2Header,
    readonly readOnly: boolean,
    l2CacheBytes: number,
  ) {
    this.header = header;
    this.clusterBits = header.clusterBits;
    this.cs = 2 ** header.clusterBits;
    this.extL2 = (header.incompatibleFeatures & INCOMPAT_EXTL2) !== 0;
    this.l2Step = this.extL2 ? 2 : 1;
    this.l2Entries = this.cs / (8 * this.l2Step);
    this.scSize = this.extL2 ? this.cs / SUBCLUSTERS : this.cs;
    this.hasDataFile = hasDataFile(header);
    this.l1 = new Uint8Array(header.l1Size * 8);
    this.l1dv = new DataView(this.l1.buffer);
    this.snapshots = [];
    this.l2cache = new LRUCache({ max: Math.max(4, Math.floor(l2CacheBytes / this.cs)) });
    this.fileLen = backend.size();
  }

  static open(backend: BlockBackend, opts: Qcow2OpenOptions): Qcow2Image {
    try {
      return Qcow2Image.openNamed(backend, opts);
    } catch (e) {
      // A refusal must name the file (a chain, compare and convert open several): header and
      // metadata checks locate by byte offset only, so the file name goes in front of the place.
      if (e instanceof UserError && !e.render().includes(backend.name)) {
        throw new UserError(e.code, e.message, { where: e.where ? `${backend.name}: ${e.where}` : backend.name, ...(e.hint ? { hint: e.hint } : {}) });
      }
      throw e;
    }
  }

  private static openNamed(backend: BlockBackend, opts: Qcow2OpenOptions): Qcow2Image {
    const fileSize = backend.size();
    // Stage 1: the fixed header (cluster size, backing name place); stage 2: what of cluster 0 holds
    // the extensions and the name (at least 64 KiB, never past cluster 0 or the file).
    const probe = new Uint8Array(Math.min(fileSize, 4096));
    backend.pread(probe, 0);
    if (probe.length >= 24) {
      const pdv = new DataView(probe.buffer);
      const bits = pdv.getUint32(20);
      if (bits >= 9 && bits <= 21) {
        const nameEnd = pdv.getUint32(12) + pdv.getUint32(16);
        const want = Math.min(fileSize, 2 ** bits, Math.max(65536, pdv.getUint32(8) === 0 ? nameEnd : 0));
        if (want > probe.length) {
          const more = new Uint8Array(want);
          backend.pread(more, 0);
          return Qcow2Image.finishOpen(backend, parseHeader(more, fileSize), opts);
        }
      }
    }
    return Qcow2Image.finishOpen(backend, parseHeader(probe, fileSize), opts);
  }

  private static finishOpen(backend: BlockBackend, header: Qcow2Header, opts: Qcow2OpenOptions): Qcow2Image {
    if (!opts.readOnly && header.incompatibleFeatures & INCOMPAT_CORRUPT) {
      throw new UserError('QCOW2_CORRUPT', `${backend.name}: image is corrupt (corrupt bit, incompatible_features bit 1); cannot be opened read/write`, {
        hint: `run 'vfab disk check ${backend.name}' (or qemu-img check -r all) to see and repair it`,
      });
    }
    checkDataFileFeatures(header, backend.name);
    const img = new Qcow2Image(backend, header, opts.readOnly, opts.l2CacheBytes ?? DEFAULT_L2_CACHE_BYTES);
    img.barriers = opts.barriers ?? true;
    backend.pread(img.l1, header.l1TableOffset);
    for (let i = 0; i < header.l1Size; i++) {
      const off = entryOffset(img.l1dv, i);
      if (off % img.cs !== 0) {
        throw new UserError('QCOW2_CORRUPT', `L1 entry ${i} (byte ${header.l1TableOffset + i * 8}) points to unaligned L2 offset ${off}`);
      }
    }
    img.snapshots = parseSnapshotTable(backend, header.snapshotsOffset, header.nbSnapshots, img.cs, header.version);
    if (!opts.readOnly && !opts.checkOnly) img.openForWriting();
    return img;
  }

  private openForWriting(): void {
    const h = this.header;
    if (h.incompatibleFeatures & INCOMPAT_DIRTY) {
      // A dirty image (lazy refcounts, never cleanly closed): rebuild refcounts as QEMU does on open
      // (qcow2.c qcow2_do_open → qcow2_check with BDRV_FIX_ERRORS | BDRV_FIX_LEAKS).
      this.rebuildRefcounts();
      h.incompatibleFeatures &= ~INCOMPAT_DIRTY;
      this.writeHeader();
    }
    // Autoclear bits vfab does not maintain are cleared so others know (qcow2.txt); the bitmaps
    // bit stays while the extension is there: vfab keeps the bitmaps up to date (bitmaps.ts).
    const keep =
      (h.autoclearFeatures & AUTOCLEAR_BITMAPS && h.unknownExtensions.some((e) => e.type === EXT_BITMAPS) ? AUTOCLEAR_BITMAPS : 0) |
      (h.autoclearFeatures & AUTOCLEAR_DATA_FILE_RAW && this.hasDataFile ? AUTOCLEAR_DATA_FILE_RAW : 0);
    if (h.autoclearFeatures !== keep) {
      h.autoclearFeatures = keep;
      this.writeHeader();
    }
    this.bitmapState = openBitmaps(this);
  }

  /** Hook for check --repair: replaced by check.ts at import time to avoid a cycle. */
  static rebuild: ((img: Qcow2Image) => void) | undefined;
  private rebuildRefcounts(): void {
    Qcow2Image.rebuild?.(this);
    this.rc = undefined;
  }

  get name(): string {
    return this.backend.name;
  }
  get virtualSize(): number {
    return this.header.size;
  }
  get granule(): number {
    return this.scSize;
  }
  get backingFile(): string | undefined {
    return this.header.backingFile;
  }
  get backingFormat(): string | undefined {
    return this.header.backingFormat;
  }
  get refcountTableOffset(): number {
    return this.header.refcountTableOffset;
  }
  set refcountTableOffset(v: number) {
    this.header.refcountTableOffset = v;
  }
  get refcountTableClusters(): number {
    return this.header.refcountTableClusters;
  }
  set refcountTableClusters(v: number) {
    this.header.refcountTableClusters = v;
  }
  get refcountOrder(): number {
    return this.header.refcountOrder;
  }

  writeRefcountTableHeader(offset: number, clusters: number): void {
    const b = new Uint8Array(12);
    const dv = new DataView(b.buffer);
    putU64(dv, 0, offset);
    dv.setUint32(8, clusters);
    this.backend.pwrite(b, 48);
  }

  metadataOverlap(c: number, n: number): string | undefined {
    const cs = this.cs;
    const h = this.header;
    const hit = (off: number, bytes: number): boolean => bytes > 0 && off / cs < c + n && Math.ceil((off + bytes) / cs) > c;
    if (c === 0) return 'header';
    if (hit(h.refcountTableOffset, h.refcountTableClusters * cs)) return 'refcount table';
    if (hit(h.l1TableOffset, h.l1Size * 8)) return 'active L1 table';
    for (const s of this.snapshots) if (hit(s.l1TableOffset, s.l1Size * 8)) return `L1 table of snapshot ${s.id}`;
    if (h.nbSnapshots > 0 && hit(h.snapshotsOffset, 40 * h.nbSnapshots)) return 'snapshot table';
    return undefined;
  }

  /** Refcounts, loaded on first need (readers that never allocate never load them). */
  refcounts(): Refcounts {
    if (!this.rc) this.rc = Refcounts.load(this);
    return this.rc;
  }

  /** Drops cached refcounts and L2 tables (after a repair rewrote them). */
  resetCaches(): void {
    this.rc = undefined;
    this.l2cache.clear();
  }

  writeHeader(): void {
    this.backend.pwrite(serializeHeader(this.header), 0);
  }

  setBackingReader(fn: ((offset: number, buf: Uint8Array) => void) | undefined): void {
    this.backingReader = fn;
  }

  // ---- tables ---------------------------------------------------------------------------------

  /** L2 table at host offset `off` (cached). */
  l2At(off: number): Uint8Array {
    let t = this.l2cache.get(off);
    if (!t) {
      t = new Uint8Array(this.cs);
      this.backend.pread(t, off);
      this.l2cache.set(off, t);
    }
    return t;
  }

  l1Offset(i: number): number {
    return entryOffset(this.l1dv, i);
  }

  /** Decoded extended L2 entry `j` of table `t`. */
  extEntry(t: Uint8Array, j: number): ExtEntry {
    const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
    const hi = dv.getUint32(j * EXTL2_STRIDE);
    if (hi & COMPRESSED_HI) return { host: 0, compressed: true, alloc: bitmapAlloc(dv, j), zero: bitmapZero(dv, j) };
    const host = entryOffset(dv, j * 2);
    // With a data file, offset 0 plus COPIED is guest cluster 0's place (qcow2_get_cluster_type).
    const mapped = host === 0 && this.hasDataFile && (hi & COPIED_HI) !== 0;
    return { host, ...(mapped ? { mapped } : {}), compressed: false, alloc: bitmapAlloc(dv, j), zero: bitmapZero(dv, j) };
  }

  /**
   * Classifies L2 entry `j` of table `t` (subcluster `sc` with extended L2 entries): kind and
   * host offset of the cluster (of the subcluster). With subclusters an unallocated subcluster of
   * an allocated cluster keeps its host offset (QCOW2_SUBCLUSTER_UNALLOCATED_ALLOC): qemu-img map
   * prints it when nothing below answers. The third value says the host offset is valid (it can
   * be 0 in an external data file; QEMU's BDRV_BLOCK_OFFSET_VALID).
   */
  private classify(t: Uint8Array, j: number, l2off: number, l1i: number, sc = 0): [StatusKind, number, boolean] {
    const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
    const jb = j * 8 * this.l2Step;
    const hi = dv.getUint32(jb);
    const lo = dv.getUint32(jb + 4);
    if (hi & COMPRESSED_HI) {
      // Compressed: data at a synthetic offset the chain hands back to preadHost (compressed.ts).
      this.compressedDesc(hi, lo, l2off + jb);
      return [ST_DATA, COMPRESSED_BASE + (l1i * this.l2Entries + j) * this.cs + sc * this.scSize, false];
    }
    const off = (hi & 0x00ffffff) * 4294967296 + ((lo & 0xfffffe00) >>> 0);
    if (this.extL2) {
      if (off % this.cs !== 0) {
        throw new UserError('QCOW2_CORRUPT', `${this.name}: L2 entry at byte ${l2off + jb} points to unaligned cluster offset ${off}`);
      }
      const e = this.extEntry(t, j);
      const ty = scType(e, sc);
      const at = off + sc * this.scSize;
      if (ty === SC_NORMAL) return [ST_DATA, at, true];
      if (ty === SC_ZERO_ALLOC) return [ST_ZERO, at, true];
      if (ty === SC_ZERO_PLAIN) return [ST_ZERO, 0, false];
      if (ty === SC_UNALLOC_ALLOC) return [ST_UNALLOC, at, true];
      if (ty === SC_UNALLOC_PLAIN) return [ST_UNALLOC, 0, false];
      throw this.invalidEntry(l2off + jb, e);
    }
    if (this.header.version >= 3 && lo & ZERO_LO) return [ST_ZERO, off, off !== 0];
    // Offset 0 is data at host offset 0 in a data file when COPIED is set (qcow2_get_cluster_type).
    if (off === 0 && !(this.hasDataFile && hi & COPIED_HI)) return [ST_UNALLOC, 0, false];
    if (off % this.cs !== 0) {
      throw new UserError('QCOW2_CORRUPT', `${this.name}: L2 entry at byte ${l2off + j * 8} points to unaligned cluster offset ${off}`);
    }
    return [ST_DATA, off, true];
  }

  /** QEMU's words for an entry qcow2_get_subcluster_type calls invalid (qcow2_signal_corruption). */
  private invalidEntry(at: number, e: ExtEntry): UserError {
    const l2 = Math.floor(at / this.cs) * this.cs;
    const index = (at - l2) / EXTL2_STRIDE;
    return new UserError('QCOW2_CORRUPT', `${this.name}: Invalid cluster entry found (L2 offset: 0x${l2.toString(16)}, L2 index: 0x${index.toString(16)}; extended L2 entry at byte ${at}: allocation bitmap 0x${e.alloc.toString(16)}, zero bitmap 0x${e.zero.toString(16)})`, {
      where: `byte ${at}`,
      hint: `run 'vfab disk check ${this.name}' (or qemu-img check)`,
    });
  }

  status(offset: number, maxLength = Infinity): LayerStatus {
    const cs = this.cs;
    const us = this.scSize;
    const per = cs / us;
    const ci = Math.floor(offset / cs);
    let u = Math.floor(offset / us);
    const intra = offset - u * us;
    const l1i = Math.floor(ci / this.l2Entries);
    const l2i = ci - l1i * this.l2Entries;
    const limit = Math.min(this.header.size, (l1i + 1) * this.l2Entries * cs, offset + maxLength);
    if (l1i >= this.header.l1Size) return { kind: ST_UNALLOC, host: 0, length: Math.max(0, limit - offset) };
    const l2off = this.l1Offset(l1i);
    if (l2off === 0) return { kind: ST_UNALLOC, host: 0, length: limit - offset };
    const t = this.l2At(l2off);
    const [kind, host, valid] = this.classify(t, l2i, l2off, l1i, u % per);
    // Data and preallocated zero clusters (ZERO_ALLOC) carry a host offset; a run continues
    // while the offsets stay contiguous (qcow2-cluster.c count_contiguous_subclusters).
    const hasHost = valid || kind === ST_DATA;
    const base = l1i * this.l2Entries;
    let end = (u + 1) * us;
    while (end < limit) {
      u++;
      const [k2, h2, v2] = this.classify(t, Math.floor(u / per) - base, l2off, l1i, u % per);
      if (k2 !== kind || (v2 || k2 === ST_DATA) !== hasHost || (hasHost && h2 !== host + (end - offset + intra))) break;
      end += us;
    }
    const st: LayerStatus = { kind, host: hasHost ? host + intra : 0, length: Math.min(end, limit) - offset };
    if (hasHost && kind !== ST_DATA) st.hostValid = true;
    return st;
  }

  /**
   * Whether QEMU looks into the image file for holes when it reports data clusters: qcow2.c
   * qcow2_co_block_status sets BDRV_BLOCK_RECURSE only when qcow2-refcount.c
   * qcow2_detect_metadata_preallocation finds at least max(real*10/9, real+2) clusters in use
   * (refcount > 0), `real` being the clusters the file really holds (st_blocks). Small thin images pass
   * that test (their metadata clusters are mostly holes); large well-filled ones do not.
   */
  looksPreallocated(): boolean {
    const cs = this.cs;
    const real = Math.floor(this.backend.allocatedBytes() / cs);
    const threshold = Math.max(Math.floor((real * 10) / 9), real + 2);
    const end = Math.ceil(this.backend.size() / cs);
    return this.refcounts().countNonZero(end, threshold) >= threshold;
  }

  preadHost(buf: Uint8Array, host: number): void {
    if (host >= 0) {
      (this.hasDataFile ? this.dataBackend : this.backend).pread(buf, host);
      return;
    }
    // Compressed clusters: inflate each cluster the range touches.
    const cs = this.cs;
    let guest = host - COMPRESSED_BASE;
    let done = 0;
    while (done < buf.length) {
      const ci = Math.floor(guest / cs);
      const intra = guest - ci * cs;
      const n = Math.min(cs - intra, buf.length - done);
      buf.set(this.inflatedCluster(ci).subarray(intra, intra + n), done);
      done += n;
      guest += n;
    }
  }

  /** Validated descriptor of a compressed L2 entry at byte `at`. */
  private compressedDesc(hi: number, lo: number, at: number): CompressedDesc {
    const d = parseCompressed(hi, lo, this.clusterBits);
    // A COPIED flag here is corruption `check` reports; reads ignore it as QEMU's do
    // (qcow2_get_subcluster_type looks at bit 62 only).
    if (d.coff < this.cs || d.coff >= this.backend.size()) {
      throw new UserError('QCOW2_CORRUPT', `${this.name}: compressed L2 entry at byte ${at} points to offset ${d.coff}, outside the image file's data`);
    }
    return d;
  }

  /** Descriptor of guest cluster `ci` when it is compressed in this layer. */
  private compressedAt(ci: number): CompressedDesc | undefined {
    const l1i = Math.floor(ci / this.l2Entries);
    const j = ci - l1i * this.l2Entries;
    const l2off = l1i < this.header.l1Size ? this.l1Offset(l1i) : 0;
    if (l2off === 0) return undefined;
    const dv = new DataView(this.l2At(l2off).buffer);
    const jb = j * 8 * this.l2Step;
    const hi = dv.getUint32(jb);
    if (!(hi & COMPRESSED_HI)) return undefined;
    return this.compressedDesc(hi, dv.getUint32(jb + 4), l2off + jb);
  }

  private inflatedCluster(ci: number): Uint8Array {
    const d = this.compressedAt(ci);
    if (!d) throw new BugError('QCOW2_COMPRESSED', `cluster ${ci} of ${this.name} is not compressed`);
    let out = this.inflated.get(d.coff);
    if (!out) {
      const raw = new Uint8Array(Math.min(d.csize, this.backend.size() - d.coff));
      this.backend.pread(raw, d.coff);
      out = decompressCluster(raw, this.cs, `${this.name}: guest cluster ${ci} (host offset ${d.coff})`);
      this.inflated.set(d.coff, out);
    }
    return out;
  }

  /** Drops one reference to every cluster a compressed descriptor's bytes touch (qcow2_free_any_cluster). */
  private freeCompressed(d: CompressedDesc): void {
    const rc = this.refcounts();
    const first = Math.floor(d.coff / this.cs);
    const last = Math.floor((d.coff + d.csize - 1) / this.cs);
    for (let c = first; c <= last; c++) rc.free(c);
    this.inflated.clear();
  }

  /**
   * Byte allocation for compressed data (qcow2-refcount.c qcow2_alloc_bytes): compressed streams
   * are packed one after another; each allocation adds one reference to every cluster it touches.
   */
  private allocBytes(size: number): number {
    const cs = this.cs;
    const rc = this.refcounts();
    const off = this.freeByte;
    const inCl = off % cs;
    const free = off === 0 || inCl === 0 ? 0 : cs - inCl;
    if (free >= size) {
      rc.update(Math.floor(off / cs), 1);
      this.freeByte = off + size;
      return off;
    }
    const fresh = this.allocClusters(1);
    if (free > 0 && fresh.offset === off + free) {
      rc.update(Math.floor(off / cs), 1);
      this.freeByte = off + size;
      return off;
    }
    this.freeByte = fresh.offset + size;
    return fresh.offset;
  }

  /**
   * Writes guest cluster `ci` compressed (qemu-img convert -c; qcow2.c
   * qcow2_co_pwritev_compressed_part). Only a whole cluster (or the image's last, partial one,
   * zero-padded) into an unallocated cluster, as QEMU; data that does not compress is written
   * as a normal cluster.
   */
  writeCompressed(ci: number, data: Uint8Array): void {
    const cs = this.cs;
    const start = ci * cs;
    this.checkWrite(start, data.length);
    if (this.hasDataFile) {
      // qcow2.c qcow2_co_pwritev_compressed_part: -ENOTSUP with a data file.
      throw new UserError('QCOW2_UNSUPPORTED', `${this.name}: compressed clusters cannot be written to an image with an external data file (Operation not supported)`, { where: `guest offset ${start}` });
    }
    if (data.length !== cs && start + data.length !== this.header.size) {
      throw new UserError('BLOCK_BAD_REQUEST', `${this.name}: compressed writes must cover a whole cluster (guest offset ${start})`);
    }
    const l1i = Math.floor(ci / this.l2Entries);
    const j = ci - l1i * this.l2Entries;
    const l2off = this.l1Offset(l1i);
    const jb = j * 8 * this.l2Step;
    if (l2off !== 0) {
      const dv = new DataView(this.l2At(l2off).buffer);
      if (dv.getUint32(jb) !== 0 || dv.getUint32(jb + 4) !== 0) {
        // qcow2_alloc_compressed_cluster_offset: "Compression can't overwrite anything".
        throw new UserError('BLOCK_BAD_REQUEST', `${this.name}: cannot write a compressed cluster over an allocated one (guest offset ${start})`);
      }
    }
    const full = data.length === cs ? data : (() => {
      const b = new Uint8Array(cs);
      b.set(data);
      return b;
    })();
    const packed = compressCluster(full, cs);
    if (!packed) {
      this.write(start, data);
      return;
    }
    this.bitmapState?.mark(start, data.length);
    const { t, off } = this.l2ForWrite(l1i);
    const coff = this.allocBytes(packed.length);
    this.cover(coff + packed.length);
    this.backend.pwrite(packed, coff);
    this.inflated.clear();
    this.barrier();
    const [hi, lo] = encodeCompressed(coff, packed.length, this.clusterBits);
    const tdv = new DataView(t.buffer, t.byteOffset, t.byteLength);
    tdv.setUint32(jb, hi);
    tdv.setUint32(jb + 4, lo);
    // Compressed clusters have no subclusters: the bitmap is 0 (qcow2_alloc_compressed_cluster_offset).
    if (this.extL2) setBitmap(tdv, j, 0, 0);
    this.backend.pwrite(t.subarray(jb, jb + 8 * this.l2Step), off + jb);
  }

  // ---- writes ---------------------------------------------------------------------------------

  private checkWrite(offset: number, length: number): void {
    if (this.closed) throw new UserError('BLOCK_CLOSED', `${this.name} is closed`);
    if (this.readOnly) throw new UserError('BLOCK_READ_ONLY', `${this.name} is open read-only`);
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.header.size) {
      throw new UserError('BLOCK_OUT_OF_RANGE', `request [${offset}, ${offset + length}) is outside the ${this.header.size}-byte image`);
    }
  }

  /** Grows the file sparsely so an allocated cluster lies inside it (chunks, to save syscalls). */
  private cover(hostEnd: number): void {
    if (hostEnd <= this.fileLen) return;
    const step = Math.min(64 * 1024 * 1024, Math.max(this.cs, Math.floor(this.fileLen / 8)));
    const target = Math.ceil(Math.max(hostEnd, this.fileLen + step) / this.cs) * this.cs;
    this.backend.truncate(target);
    this.fileLen = target;
  }

  private allocClusters(n: number): { offset: number; zero: boolean } {
    const rc = this.refcounts();
    const a = rc.alloc(n);
    if (a.reserved) {
      // The file covers the reservation and its refcounts are stable before anything points there.
      this.cover(rc.reservedEnd * this.cs);
      this.barrier();
    }
    return a;
  }

  /** Ordering barrier between dependent metadata writes (fdatasync); off with `barriers: false`. */
  private barrier(): void {
    if (this.barriers) this.backend.barrier?.();
  }

  // ---- external data file (data-file.ts) ---------------------------------------------------------

  get dataBackend(): BlockBackend {
    if (!this.dataFileBackend) {
      if (!this.dataOpener) throw new BugError('QCOW2_DATA_FILE', `${this.name}: data file not attached`);
      this.dataFileBackend = this.dataOpener();
    }
    return this.dataFileBackend;
  }
  get dataRaw(): boolean {
    return isDataFileRaw(this.header);
  }
  barrierData(): void {
    if (this.barriers) this.dataBackend.barrier?.();
  }
  readBacking(offset: number, buf: Uint8Array): boolean {
    this.backingReader?.(offset, buf);
    return this.backingReader !== undefined;
  }
  writeL2Words(t: Uint8Array, off: number, j: number): void {
    this.backend.pwrite(t.subarray(j * 8, j * 8 + 8), off + j * 8);
  }

  private writeL1Entry(i: number, l2off: number): void {
    setEntry(this.l1dv, i, l2off, l2off !== 0);
    this.backend.pwrite(this.l1.subarray(i * 8, i * 8 + 8), this.header.l1TableOffset + i * 8);
  }

  /**
   * The L2 table for L1 index `l1i`, ready to be modified: allocated if missing, copied if a
   * snapshot shares it (refcount > 1, QEMU qcow2-cluster.c l2_allocate).
   */
  l2ForWrite(l1i: number): { t: Uint8Array; off: number } {
    const rc = this.refcounts();
    const old = this.l1Offset(l1i);
    if (old !== 0 && rc.get(old / this.cs) === 1) return { t: this.l2At(old), off: old };
    const { offset } = this.allocClusters(1);
    const t = old === 0 ? new Uint8Array(this.cs) : this.l2At(old).slice();
    this.backend.pwrite(t, offset);
    this.l2cache.set(offset, t);
    this.barrier(); // the new table is on disk before L1 points at it
    this.writeL1Entry(l1i, offset);
    if (old !== 0) rc.free(old / this.cs);
    return { t, off: offset };
  }

  private setL2(t: Uint8Array, l2off: number, j: number, host: number, copied: boolean, zero: boolean): void {
    setEntry(new DataView(t.buffer, t.byteOffset, t.byteLength), j, host, copied, zero);
    this.backend.pwrite(t.subarray(j * 8, j * 8 + 8), l2off + j * 8);
  }

  write(offset: number, data: Uint8Array): void {
    this.checkWrite(offset, data.length);
    this.bitmapState?.mark(offset, data.length);
    let done = 0;
    while (done < data.length) {
      const pos = offset + done;
      const ci = Math.floor(pos / this.cs);
      const intra = pos - ci * this.cs;
      const n = Math.min(this.cs - intra, data.length - done);
      this.writeInCluster(ci, intra, data.subarray(done, done + n));
      done += n;
    }
  }

  private writeInCluster(ci: number, intra: number, piece: Uint8Array): void {
    if (this.extL2) {
      this.writeInClusterExt(ci, intra, piece);
      return;
    }
    if (this.hasDataFile) {
      writeDataFileCluster(this, ci, intra, piece);
      return;
    }
    const cs = this.cs;
    const l1i = Math.floor(ci / this.l2Entries);
    const j = ci - l1i * this.l2Entries;
    const l2off = this.l1Offset(l1i);
    const rc = this.refcounts();
    let kind: StatusKind = ST_UNALLOC;
    let host = 0;
    if (l2off !== 0) {
      [kind, host] = this.classify(this.l2At(l2off), j, l2off, l1i);
      // Fast path: our own data cluster (refcount 1): overwrite in place.
      if (kind === ST_DATA && host > 0 && rc.get(host / cs) === 1 && rc.get(l2off / cs) === 1) {
        writeInPlace(this.backend, piece, host + intra);
        return;
      }
    }
    // A compressed cluster is copied out to a normal one (qcow2.c: compressed clusters are
    // never rewritten in place); its bytes' references are dropped after the L2 entry moves.
    const comp = host < 0 ? this.compressedAt(ci) : undefined;
    const { t, off } = this.l2ForWrite(l1i);
    if (kind === ST_DATA && host > 0 && rc.get(host / cs) === 1) {
      writeInPlace(this.backend, piece, host + intra);
      return;
    }
    // A new cluster: copy-on-write the bytes the write does not cover.
    const fresh = this.allocClusters(1);
    let copiedData = false;
    if (piece.length === cs) {
      if (fresh.zero) writeSparse(this.backend, piece, fresh.offset);
      else this.backend.pwrite(piece, fresh.offset);
    } else {
      const buf = new Uint8Array(cs);
      let srcZero = true;
      if (kind === ST_DATA) {
        this.preadHost(buf, host);
        srcZero = isZero(buf);
      } else if (kind === ST_UNALLOC && this.backingReader) {
        this.backingReader(ci * cs, buf);
        srcZero = isZero(buf);
      }
      buf.set(piece, intra);
      copiedData = !srcZero;
      if (!fresh.zero) {
        this.backend.pwrite(buf, fresh.offset);
      } else if (srcZero) {
        // Only the file blocks the guest bytes touch; the COW regions stay holes.
        const ws = Math.floor(intra / FS_BLOCK) * FS_BLOCK;
        const we = Math.min(cs, Math.ceil((intra + piece.length) / FS_BLOCK) * FS_BLOCK);
        writeSparse(this.backend, buf.subarray(ws, we), fresh.offset + ws);
      } else {
        writeSparse(this.backend, buf, fresh.offset);
      }
    }
    // A cluster that does not read as zeros on its own (reused space) or that holds copied data
    // must be on disk before the L2 entry points at it, or a power loss would show stale bytes
    // where flushed data (or zeros) were (QEMU: perform_cow, then qcow2_cache_depends_on_flush).
    if (!fresh.zero || copiedData) this.barrier();
    this.setL2(t, off, j, fresh.offset, true, false);
    if (comp) this.freeCompressed(comp);
    else if ((kind === ST_DATA || kind === ST_ZERO) && host !== 0) rc.free(host / cs);
  }

  // ---- extended L2 entries (subclusters) --------------------------------------------------------

  /**
   * A write inside one cluster of an image with subclusters (qcow2-cluster.c handle_copied /
   * handle_alloc, calculate_l2_meta, qcow2_alloc_cluster_link_l2): only the written subclusters
   * become allocated, and copy-on-write fills only their unwritten parts.
   *
   * With an external data file (qcow2-cluster.c do_alloc_cluster_offset, cluster_needs_new_alloc)
   * the data goes to the data file, a new cluster is placed at its own guest offset, and a cluster
   * already mapped there (COPIED, never refcounted) is kept; nothing is freed.
   */
  private writeInClusterExt(ci: number, intra: number, piece: Uint8Array): void {
    const cs = this.cs;
    const us = this.scSize;
    const l1i = Math.floor(ci / this.l2Entries);
    const j = ci - l1i * this.l2Entries;
    const rc = this.refcounts();
    const { t, off } = this.l2ForWrite(l1i);
    const e = this.extEntry(t, j);
    if (scType(e, 0) === SC_INVALID) throw this.invalidEntry(off + j * EXTL2_STRIDE, e);
    const df = this.hasDataFile;
    const dataOut = df ? this.dataBackend : this.backend;
    const keepOld = df ? hasHostCluster(e) && this.copiedAt(t, j) : !e.compressed && e.host !== 0 && rc.get(e.host / cs) === 1;
    const first = Math.floor(intra / us);
    const last = Math.floor((intra + piece.length - 1) / us);
    if (keepOld && allNormal(e, first, last)) {
      writeInPlace(dataOut, piece, e.host + intra);
      return;
    }
    const [from, to] = cowRange(e, intra, piece.length, us, cs, keepOld);
    const buf = new Uint8Array(to - from);
    let copied = false;
    if (from < intra || to > intra + piece.length) {
      this.readOwn(ci * cs + from, buf);
      copied = !isZero(buf);
    }
    buf.set(piece, intra - from);
    const bits = afterWrite(e, from, to, us);
    const comp = e.compressed ? this.compressedAt(ci) : undefined;
    // With a data file the copy goes past the end of the disk in a partial last cluster (the data
    // file then ends at the subcluster's end, as qemu-io leaves it; readOwn gives zeros there).
    const out = buf;
    if (keepOld) {
      writeInPlace(dataOut, out, e.host + from);
      if (df) this.barrierData();
      else this.barrier(); // the bytes are there before the bitmap says so
      this.setL2Ext(t, off, j, e.host, bits.alloc, bits.zero, true);
      return;
    }
    if (df) {
      // The data file may hold stale bytes: the whole range is written (perform_cow).
      writeInPlace(dataOut, out, ci * cs + from);
      this.barrierData();
      this.setL2Ext(t, off, j, ci * cs, bits.alloc, bits.zero, true);
      return;
    }
    const fresh = this.allocClusters(1);
    if (fresh.zero) writeSparse(this.backend, buf, fresh.offset + from);
    else this.backend.pwrite(buf, fresh.offset + from);
    if (!fresh.zero || copied) this.barrier();
    this.setL2Ext(t, off, j, fresh.offset, bits.alloc, bits.zero);
    if (comp) this.freeCompressed(comp);
    else if (e.host !== 0) rc.free(e.host / cs);
  }

  /** COPIED flag of entry `j` of table `t` (both entry widths). */
  private copiedAt(t: Uint8Array, j: number): boolean {
    return (new DataView(t.buffer, t.byteOffset, t.byteLength).getUint32(j * 8 * this.l2Step) & COPIED_HI) !== 0;
  }

  /** This layer's view of guest bytes (the backing answers unallocated parts): the COW source. */
  private readOwn(offset: number, buf: Uint8Array): void {
    let p = 0;
    while (p < buf.length) {
      const st = this.status(offset + p, buf.length - p);
      const n = Math.min(st.length, buf.length - p);
      if (n <= 0) {
        buf.fill(0, p);
        return;
      }
      const piece = buf.subarray(p, p + n);
      if (st.kind === ST_DATA) this.preadHost(piece, st.host);
      else if (st.kind === ST_UNALLOC && this.backingReader) this.backingReader(offset + p, piece);
      else piece.fill(0);
      p += n;
    }
  }

  /**
   * Writes extended entry `j` (COPIED set when it has a host cluster, which is then ours; `mapped`
   * says so for data-file offset 0).
   */
  private setL2Ext(t: Uint8Array, l2off: number, j: number, host: number, alloc: number, zero: number, mapped = false): void {
    const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
    setEntry(dv, j * 2, host, host !== 0 || mapped);
    setBitmap(dv, j, alloc, zero);
    this.backend.pwrite(t.subarray(j * EXTL2_STRIDE, (j + 1) * EXTL2_STRIDE), l2off + j * EXTL2_STRIDE);
  }

  /**
   * A whole cluster discarded or zeroed (qcow2-cluster.c discard_in_l2_slice, zero_in_l2_slice).
   * Discard gives the host cluster back and the entry says "all zeros" (or unallocated when
   * nothing below could show through). Write-zeroes sets every zero bit and keeps the host
   * cluster unless `unmap` (BDRV_REQ_MAY_UNMAP: `qemu-io write -z -u`, convert) or it is
   * compressed. With a data file nothing is refcounted; the discard reaches the data file, which
   * vfab zeroes when it must stay a valid raw image (qcow2_free_any_cluster passthrough).
   */
  private zeroClusterExt(ci: number, discard: boolean, full: boolean, unmap: boolean): void {
    const l1i = Math.floor(ci / this.l2Entries);
    const j = ci - l1i * this.l2Entries;
    const l2off = this.l1Offset(l1i);
    const e: ExtEntry = l2off !== 0 ? this.extEntry(this.l2At(l2off), j) : { host: 0, compressed: false, alloc: 0, zero: 0 };
    const hasHost = hasHostCluster(e);
    const allocated = hasHost || e.compressed;
    const df = this.hasDataFile;
    const len = Math.min(this.cs, this.header.size - ci * this.cs);
    // qcow2_subcluster_zeroize: a raw data file gets the zeros first.
    if (df && this.dataRaw && !discard && !full) writeInPlace(this.dataBackend, new Uint8Array(len), ci * this.cs);
    let host = 0;
    let mapped = false;
    let zero: number;
    if (full) zero = 0;
    else if (discard) {
      if (!(this.header.backingFile !== undefined || allocated)) return;
      zero = 0xffffffff;
    } else {
      zero = 0xffffffff;
      if (hasHost && !unmap) {
        host = e.host;
        mapped = true;
      }
    }
    const freeing = allocated && !mapped;
    if (l2off === 0 && zero === 0) return;
    if (!freeing && !e.compressed && e.host === host && e.alloc === 0 && e.zero === zero && (e.mapped === true) === (mapped && host === 0)) return;
    const comp = e.compressed ? this.compressedAt(ci) : undefined;
    const { t, off } = this.l2ForWrite(l1i);
    this.setL2Ext(t, off, j, host, 0, zero, mapped);
    if (!freeing) return;
    if (comp) this.freeCompressed(comp);
    else if (df) {
      if (this.dataRaw && discard) writeInPlace(this.dataBackend, new Uint8Array(len), e.host);
    } else this.refcounts().free(e.host / this.cs);
  }

  /**
   * Write-zeroes with subclusters (io.c splits at the subcluster size; qcow2.c
   * qcow2_co_pwrite_zeroes, qcow2_subcluster_zeroize): whole subclusters get their zero bit,
   * whole clusters a zero entry, and a piece of a subcluster is a zero subcluster only when the
   * rest of it already reads as zeros and it holds no data; otherwise zero bytes are written.
   */
  private writeZeroesExt(offset: number, length: number, unmap: boolean): void {
    const us = this.scSize;
    const size = this.header.size;
    const end = offset + length;
    const firstU = Math.ceil(offset / us);
    const endU = end >= size ? Math.ceil(size / us) : Math.floor(end / us);
    if (endU <= firstU) {
      const split = Math.min(end, firstU * us);
      if (split > offset) this.zeroPartialSc(offset, split - offset);
      if (end > split) this.zeroPartialSc(split, end - split);
      return;
    }
    if (offset < firstU * us) this.zeroPartialSc(offset, firstU * us - offset);
    const alignedEnd = Math.min(endU * us, size);
    const cs = this.cs;
    let p = firstU * us;
    while (p < alignedEnd) {
      const ci = Math.floor(p / cs);
      const cEnd = (ci + 1) * cs;
      if (p % cs === 0 && (cEnd <= alignedEnd || alignedEnd >= size)) {
        this.zeroClusters(ci, 1, false, false, unmap);
        p = cEnd;
        continue;
      }
      const stop = Math.min(cEnd, alignedEnd);
      this.zeroSubclusters(ci, (p - ci * cs) / us, Math.ceil((stop - p) / us));
      p = stop;
    }
    if (end > alignedEnd) this.zeroPartialSc(alignedEnd, end - alignedEnd);
  }

  private zeroPartialSc(pos: number, len: number): void {
    const us = this.scSize;
    const uStart = Math.floor(pos / us) * us;
    const uEnd = Math.min(uStart + us, this.header.size);
    const st = this.status(uStart, us);
    if (st.kind === ST_ZERO) return;
    if (st.kind === ST_UNALLOC) {
      const buf = new Uint8Array(uEnd - uStart);
      this.backingReader?.(uStart, buf);
      if (isZeroRange(buf, 0, pos - uStart) && isZeroRange(buf, pos + len - uStart, buf.length)) {
        const ci = Math.floor(pos / this.cs);
        this.zeroSubclusters(ci, (uStart - ci * this.cs) / us, 1);
        return;
      }
    }
    this.write(pos, new Uint8Array(len));
  }

  /** Sets zero bits on subclusters [sc, sc+n) of cluster `ci` (qcow2-cluster.c zero_l2_subclusters). */
  private zeroSubclusters(ci: number, sc: number, n: number): void {
    const l1i = Math.floor(ci / this.l2Entries);
    const j = ci - l1i * this.l2Entries;
    const l2off = this.l1Offset(l1i);
    const start = ci * this.cs + sc * this.scSize;
    const bytes = Math.min(n * this.scSize, this.header.size - start);
    if (l2off !== 0 && this.extEntry(this.l2At(l2off), j).compressed) {
      // -ENOTSUP for compressed clusters: io.c writes zero bytes instead.
      this.write(start, new Uint8Array(bytes));
      return;
    }
    // qcow2_subcluster_zeroize: a raw data file gets the zeros first.
    if (this.hasDataFile && this.dataRaw) writeInPlace(this.dataBackend, new Uint8Array(bytes), start);
    const { t, off } = this.l2ForWrite(l1i);
    const e = this.extEntry(t, j);
    const m = rangeMask(sc, sc + n);
    const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
    setBitmap(dv, j, (e.alloc & ~m) >>> 0, (e.zero | m) >>> 0);
    this.backend.pwrite(t.subarray(j * EXTL2_STRIDE + 8, (j + 1) * EXTL2_STRIDE), off + j * EXTL2_STRIDE + 8);
  }

  /**
   * Sets whole clusters [first, first+count) to zero-reading entries and frees their host
   * clusters (QEMU qcow2-cluster.c discard_in_l2_slice / zero_in_l2_slice with unmap).
   * `discard`: an unallocated cluster with no backing stays unallocated.
   */
  private zeroClusters(first: number, count: number, discard: boolean, full = false, unmap = true): void {
    const rc = this.refcounts();
    const v3 = this.header.version >= 3;
    for (let ci = first; ci < first + count; ci++) {
      if (this.extL2) {
        this.zeroClusterExt(ci, discard, full, unmap);
        continue;
      }
      if (this.hasDataFile) {
        zeroDataFileCluster(this, ci, discard, full, unmap);
        continue;
      }
      const l1i = Math.floor(ci / this.l2Entries);
      const j = ci - l1i * this.l2Entries;
      const l2off = this.l1Offset(l1i);
      let kind: StatusKind = ST_UNALLOC;
      let host = 0;
      if (l2off !== 0) [kind, host] = this.classify(this.l2At(l2off), j, l2off, l1i);
      const allocated = host !== 0;
      const hasBacking = this.header.backingFile !== undefined;
      if (!v3 && !discard) {
        // Version 2 has no zero flag: write zero bytes.
        this.write(ci * this.cs, new Uint8Array(Math.min(this.cs, this.header.size - ci * this.cs)));
        continue;
      }
      if (v3 && !discard && !full && !unmap && host > 0) {
        // zero_in_l2_slice without BDRV_REQ_MAY_UNMAP: the entry keeps its cluster (and COPIED)
        // and gains the zero flag (QCOW2_CLUSTER_ZERO_ALLOC).
        if (kind === ST_ZERO) continue;
        const { t, off } = this.l2ForWrite(l1i);
        this.setL2(t, off, j, host, this.copiedAt(t, j), true);
        continue;
      }
      let wantZero: boolean;
      if (!v3) wantZero = false;
      else if (full) wantZero = false;
      else if (discard) wantZero = hasBacking || allocated;
      else wantZero = true;
      if (!wantZero && kind === ST_UNALLOC) continue;
      if (wantZero && kind === ST_ZERO && !allocated) continue;
      if (l2off === 0 && !wantZero) continue;
      const comp = host < 0 ? this.compressedAt(ci) : undefined;
      const { t, off } = this.l2ForWrite(l1i);
      this.setL2(t, off, j, 0, false, wantZero);
      if (comp) this.freeCompressed(comp);
      else if (allocated) rc.free(host / this.cs);
    }
  }

  discard(offset: number, length: number): void {
    this.checkWrite(offset, length);
    this.bitmapState?.mark(offset, length);
    const first = Math.ceil(offset / this.cs);
    // The tail cluster counts as whole when the range reaches the end of the disk (QEMU does too).
    const endC = offset + length >= this.header.size ? Math.ceil(this.header.size / this.cs) : Math.floor((offset + length) / this.cs);
    if (endC > first) this.zeroClusters(first, endC - first, true);
  }

  /**
   * Write-zeroes. `unmap` (default true) is QEMU's BDRV_REQ_MAY_UNMAP: allocated clusters may be
   * given back (`qemu-img convert`, NBD without NO_HOLE, `qemu-io write -z -u`); without it
   * (`qemu-io write -z`) they stay allocated and read as zeros (qcow2-cluster.c zero_in_l2_slice).
   */
  writeZeroes(offset: number, length: number, opts: { unmap?: boolean } = {}): void {
    this.checkWrite(offset, length);
    this.bitmapState?.mark(offset, length);
    const unmap = opts.unmap ?? true;
    if (this.extL2) {
      this.writeZeroesExt(offset, length, unmap);
      return;
    }
    const cs = this.cs;
    const end = offset + length;
    const first = Math.ceil(offset / cs);
    const endC = end >= this.header.size ? Math.ceil(this.header.size / cs) : Math.floor(end / cs);
    if (endC <= first) {
      // Inside one cluster, or the partial ends of two.
      const split = Math.min(end, first * cs);
      if (split > offset) this.zeroPartial(offset, split - offset);
      if (end > split) this.zeroPartial(split, end - split);
      return;
    }
    if (offset < first * cs) this.zeroPartial(offset, first * cs - offset);
    this.zeroClusters(first, endC - first, false, false, unmap);
    const tail = Math.min(endC * cs, this.header.size);
    if (end > tail) this.zeroPartial(tail, end - tail);
  }

  /**
   * Write-zeroes of part of one cluster, as qcow2.c qcow2_co_pwrite_zeroes does it: when the
   * cluster is not allocated (or already zero) and the rest of it reads as zeros, the whole
   * cluster becomes a zero cluster; otherwise zero bytes are written (io.c's bounce-buffer
   * fallback on -ENOTSUP). QEMU asks block status whether the rest is zero; vfab reads it, so a
   * backing cluster holding stored zero bytes counts as zero here (QEMU would write the bytes).
   */
  private zeroPartial(pos: number, len: number): void {
    const cs = this.cs;
    const ci = Math.floor(pos / cs);
    const cStart = ci * cs;
    const cEnd = Math.min(cStart + cs, this.header.size);
    if (this.header.version >= 3) {
      const st = this.status(cStart, cs);
      if (st.kind === ST_ZERO) return;
      if (st.kind === ST_UNALLOC) {
        const buf = new Uint8Array(cEnd - cStart);
        this.backingReader?.(cStart, buf);
        if (isZeroRange(buf, 0, pos - cStart) && isZeroRange(buf, pos + len - cStart, buf.length)) {
          this.zeroClusters(ci, 1, false);
          return;
        }
      }
    }
    this.write(pos, new Uint8Array(len));
  }

  /** Every cluster becomes unallocated again (reads fall through): commit empties the top this way. */
  makeEmpty(): void {
    this.checkWrite(0, 0);
    this.zeroClusters(0, Math.ceil(this.header.size / this.cs), true, true);
  }

  /** Points the image at another backing file (or none); the header is rewritten in one write. */
  setBacking(file: string | undefined, format: string | undefined): void {
    this.checkWrite(0, 0);
    this.header.backingFile = file;
    this.header.backingFormat = file !== undefined ? format : undefined;
    this.writeHeader();
  }

  flush(): void {
    if (this.readOnly) return;
    this.rc?.applyFrees();
    this.dataFileBackend?.fsync();
    this.backend.fsync();
  }

  /** Applies deferred frees and gives back reserved clusters (before metadata transactions). */
  settleRefcounts(): void {
    if (!this.rc) return;
    this.rc.releasePool();
    this.rc.applyFrees();
  }

  /**
   * Closes without writing anything: after a repair was rolled back (check.ts) the in-memory
   * metadata no longer matches the file, and settling it on close would write stale state.
   */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    this.dataFileBackend?.close();
    this.backend.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.bitmapState && !this.readOnly) closeBitmaps(this, this.bitmapState);
    } catch (e) {
      this.backend.close();
      throw e;
    }
    if (!this.readOnly && this.rc) {
      this.settleRefcounts();
      // Give back the sparse growth past the last used cluster (it is free space).
      const end = this.rc.end * this.cs;
      if (this.backend.size() > end && end > 0) this.backend.truncate(end);
      this.backend.fsync();
    }
    if (this.dataFileBackend && !this.readOnly) this.dataFileBackend.fsync();
    this.dataFileBackend?.close();
    this.backend.close();
  }

  fileAllocatedBytes(): number {
    return this.backend.allocatedBytes();
  }

  fileSize(): number {
    return this.backend.size();
  }

  // ---- used by snapshot.ts / check.ts ----------------------------------------------------------

  /** After a metadata transaction switched the header: forget caches, re-read L1, re-measure the file. */
  afterMetadataSwitch(): void {
    this.resetCaches();
    this.reloadL1();
    this.fileLen = this.backend.size();
  }

  /** Re-reads the L1 table from `header.l1TableOffset` (after it moved). */
  reloadL1(): void {
    this.l1 = new Uint8Array(this.header.l1Size * 8);
    this.l1dv = new DataView(this.l1.buffer);
    this.backend.pread(this.l1, this.header.l1TableOffset);
  }

  /** Allocates `n` contiguous clusters (refcount 1) for metadata. */
  allocMeta(n: number): number {
    return this.allocClusters(n).offset;
  }

  /** Writes an L2 table wholly (metadata rewrites) and refreshes the cache. */
  writeL2(off: number, t: Uint8Array): void {
    this.backend.pwrite(t, off);
    this.l2cache.set(off, t);
  }

  isCopied(i: number): boolean {
    return (this.l1dv.getUint32(i * 8) & COPIED_HI) !== 0;
  }
}

export { FS_BLOCK, isZero, isZeroRange };
export { l1EntriesFor };
