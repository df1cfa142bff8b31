/**
 * External data files (qcow2.txt: incompatible feature bit 2, header extension 0x44415441,
 * autoclear bit 1 "raw external data"): guest clusters live in a separate file at host offset ==
 * guest offset, the qcow2 file holds only metadata.
 *
 * What QEMU 7.2 does and vfab copies (block/qcow2-cluster.c, qcow2.c, qcow2-refcount.c):
 * - An L2 entry with offset 0 is ambiguous; with a data file QCOW_OFLAG_COPIED says "allocated at
 *   host offset 0" (qcow2_get_cluster_type). Every data cluster carries COPIED: clusters of the
 *   data file are never refcounted, their refcount counts as 1 (check_oflag_copied).
 * - A write to a cluster that is not normal data allocates it at its own guest offset and copies
 *   the rest of the cluster (backing data or zeros) into the data file (handle_alloc, perform_cow).
 * - Write-zeroes keeps the entry's offset and COPIED and adds the zero flag (zero_in_l2_slice
 *   without BDRV_REQ_MAY_UNMAP; with it the entry becomes a plain zero cluster); with data_file_raw the zeros are also written to the data file
 *   (qcow2_subcluster_zeroize) so the raw file stays a valid image.
 * - Discard makes the cluster a plain zero cluster (or unallocated without backing and when it was
 *   not allocated) and discards the range in the data file (qcow2_free_any_cluster passes the
 *   discard through): vfab writes zeros there when the data file must stay valid (data_file_raw).
 * - The name is opened as given, relative to the current directory (QEMU 7.2 hands it to
 *   bdrv_open_child unchanged; `qemu-io dir/img.qcow2` looks for the data file in the current
 *   directory). vfab refuses an absolute name or one with a `..` component: an image must not
 *   make vfab write into any file of the system (docs/disks.md: deliberate difference).
 *
 * - Extended L2 entries work the same way per subcluster (image.ts writeInClusterExt,
 *   zeroClusterExt): a new cluster goes at its guest offset, only the written subclusters become
 *   allocated; preallocation (and data_file_raw) maps every cluster with an empty allocation
 *   bitmap (qcow2_alloc_cluster_link_l2 leaves the bitmap alone for m->prealloc), so its
 *   subclusters are "unallocated, host offset valid" until written.
 *
 * Not supported with a data file (refused, exit 2, as QEMU refuses them): compressed clusters and
 * internal snapshots.
 */
import { isAbsolute } from 'node:path';
import { UserError } from '../../errors.js';
import type { BlockBackend } from '../backend.js';
import { ST_DATA, ST_UNALLOC, ST_ZERO } from '../image.js';
import { COPIED_HI, ZERO_LO, entryOffset } from './entries.js';
import { writeInPlace } from './host-writes.js';
import { AUTOCLEAR_DATA_FILE_RAW, INCOMPAT_DATA_FILE, type Qcow2Header } from './header.js';

/** What data-file.ts needs of an image (Qcow2Image implements it). */
export interface DataFileHost {
  readonly name: string;
  readonly cs: number;
  readonly l2Entries: number;
  /** 8-byte words per L2 entry (2 with extended L2 entries). */
  readonly l2Step: number;
  readonly header: Qcow2Header;
  readonly dataBackend: BlockBackend;
  readonly dataRaw: boolean;
  l1Offset(i: number): number;
  l2At(off: number): Uint8Array;
  l2ForWrite(l1i: number): { t: Uint8Array; off: number };
  /** Writes the 8 bytes of entry `j` of the cached table `t` (at host `off`) to the file. */
  writeL2Words(t: Uint8Array, off: number, j: number): void;
  readBacking(offset: number, buf: Uint8Array): boolean;
  barrierData(): void;
}

export function hasDataFile(h: Qcow2Header): boolean {
  return (h.incompatibleFeatures & INCOMPAT_DATA_FILE) !== 0;
}

export function isDataFileRaw(h: Qcow2Header): boolean {
  return (h.autoclearFeatures & AUTOCLEAR_DATA_FILE_RAW) !== 0;
}

/**
 * The data file name an image asks for, checked: present (qcow2.c: "'data-file' is required for
 * this image"), relative and not climbing out of the current directory. Errors name the byte.
 */
export function dataFileName(h: Qcow2Header, image: string): string {
  const name = h.dataFile;
  if (name === undefined || name === '') {
    throw new UserError('QCOW2_NO_DATA_FILE', `Could not open '${image}': 'data-file' is required for this image (incompatible_features bit 2 is set, no external data file name extension)`, { where: 'byte 79' });
  }
  const where = `byte ${h.dataFileAt}`;
  if (name.includes('\0')) throw new UserError('QCOW2_BAD_DATA_FILE', `${image}: external data file name (${where}) contains a NUL byte`, { where });
  if (isAbsolute(name) || name.split(/[\\/]/).includes('..')) {
    throw new UserError('QCOW2_BAD_DATA_FILE', `${image}: external data file name '${name}' (${where}) is absolute or leaves the current directory; vfab opens only data files below the current directory`, {
      where,
      hint: `copy the data file here and point the image at it: vfab disk amend -o data_file=NAME ${image}`,
    });
  }
  return name;
}

/** Refusals shared by create and open (qcow2.c qcow2_co_create / qcow2_do_open). */
export function checkDataFileFeatures(h: Qcow2Header, image: string): void {
  if (!hasDataFile(h)) {
    if (isDataFileRaw(h)) {
      // qcow2.c qcow2_do_open: the raw bit without a data file is invalid.
      throw new UserError('QCOW2_BAD_HEADER', `${image}: data-file-raw requires a data file (autoclear_features bit 1 without incompatible_features bit 2, byte 95)`, { where: 'byte 95' });
    }
    return;
  }
  if (isDataFileRaw(h) && h.backingFile !== undefined) {
    throw new UserError('QCOW2_BAD_HEADER', `${image}: Backing file and data-file-raw cannot be used at the same time`, { where: 'byte 95' });
  }
}

/** Raw L2 entry words of guest cluster `ci` ([0, 0] when its L2 table is missing). */
function entryOf(img: DataFileHost, ci: number): { hi: number; lo: number } {
  const l1i = Math.floor(ci / img.l2Entries);
  const l2off = l1i < img.header.l1Size ? img.l1Offset(l1i) : 0;
  if (l2off === 0) return { hi: 0, lo: 0 };
  const dv = new DataView(img.l2At(l2off).buffer);
  const j = (ci - l1i * img.l2Entries) * img.l2Step;
  return { hi: dv.getUint32(j * 8), lo: dv.getUint32(j * 8 + 4) };
}

/** qcow2_get_cluster_type for an image with a data file (no compression, no subclusters). */
export function dataFileKind(hi: number, lo: number, v3: boolean): { kind: typeof ST_DATA | typeof ST_ZERO | typeof ST_UNALLOC; host: number; allocated: boolean } {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setUint32(0, hi);
  dv.setUint32(4, lo);
  const off = entryOffset(dv, 0);
  if (v3 && lo & ZERO_LO) return { kind: ST_ZERO, host: off, allocated: off !== 0 };
  if (off === 0 && !(hi & COPIED_HI)) return { kind: ST_UNALLOC, host: 0, allocated: false };
  return { kind: ST_DATA, host: off, allocated: true };
}

/** Sets the first word of guest cluster `ci`'s entry (an extended entry's bitmap is left alone). */
function putEntry(img: DataFileHost, ci: number, hi: number, lo: number): void {
  const l1i = Math.floor(ci / img.l2Entries);
  const j = (ci - l1i * img.l2Entries) * img.l2Step;
  const { t, off } = img.l2ForWrite(l1i);
  const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  dv.setUint32(j * 8, hi >>> 0);
  dv.setUint32(j * 8 + 4, lo >>> 0);
  img.writeL2Words(t, off, j);
}

/** Entry words of "data at host offset `host`, ours" (COPIED always set with a data file). */
function dataEntry(host: number): { hi: number; lo: number } {
  return { hi: (Math.floor(host / 4294967296) | COPIED_HI) >>> 0, lo: host % 4294967296 };
}

/** A write inside guest cluster `ci` of an image with a data file. */
export function writeDataFileCluster(img: DataFileHost, ci: number, intra: number, piece: Uint8Array): void {
  const cs = img.cs;
  const guest = ci * cs;
  const e = entryOf(img, ci);
  const k = dataFileKind(e.hi, e.lo, img.header.version >= 3);
  if (k.kind === ST_DATA) {
    // handle_copied: our own cluster (COPIED), rewritten in place at the entry's offset.
    img.dataBackend.pwrite(piece, k.host + intra);
    return;
  }
  // handle_alloc with a data file: the cluster goes at its guest offset; the bytes the write does
  // not cover come from the backing file (unallocated) or are zeros (zero clusters), written too
  // because the data file may hold stale bytes there (perform_cow). The copy covers the whole
  // cluster, past the end of the disk in a partial last cluster: the data file then ends at the
  // cluster's end, as qemu-io leaves it (checked against 7.2).
  let buf = piece;
  if (piece.length !== cs) {
    buf = new Uint8Array(cs);
    if (k.kind === ST_UNALLOC) img.readBacking(guest, buf.subarray(0, Math.min(cs, img.header.size - guest)));
    buf.set(piece, intra);
  }
  writeInPlace(img.dataBackend, buf, guest);
  img.barrierData(); // the data is stable before the L2 entry points at it
  const d = dataEntry(guest);
  putEntry(img, ci, d.hi, d.lo);
}

/**
 * Whole cluster `ci` zeroed (`discard` false: write-zeroes without unmap), discarded, or emptied
 * (`full`: commit's makeEmpty) — qcow2-cluster.c zero_in_l2_slice / discard_in_l2_slice.
 */
export function zeroDataFileCluster(img: DataFileHost, ci: number, discard: boolean, full: boolean, unmap: boolean): void {
  const cs = img.cs;
  const guest = ci * cs;
  const e = entryOf(img, ci);
  const k = dataFileKind(e.hi, e.lo, img.header.version >= 3);
  const len = Math.min(cs, img.header.size - guest);
  let hi: number;
  let lo: number;
  if (full) {
    hi = 0;
    lo = 0;
  } else if (discard) {
    const zero = img.header.backingFile !== undefined || k.allocated;
    hi = 0;
    lo = zero ? ZERO_LO : 0;
    // The discard reaches the data file (discard passthrough); a raw data file must read zeros.
    if (k.allocated && img.dataRaw) writeInPlace(img.dataBackend, new Uint8Array(len), k.host);
  } else {
    // qcow2_subcluster_zeroize: the raw data file gets the zeros first.
    if (img.dataRaw) writeInPlace(img.dataBackend, new Uint8Array(len), guest);
    // With BDRV_REQ_MAY_UNMAP an allocated cluster is let go (its discard reaches the data file,
    // which already reads zeros when it is raw); without, it keeps its place.
    hi = unmap && k.allocated ? 0 : e.hi;
    lo = ((unmap && k.allocated ? 0 : e.lo) | ZERO_LO) >>> 0;
    if (img.header.version < 3) throw new UserError('QCOW2_UNSUPPORTED_FEATURE', `${img.name}: data files need qcow2 version 3`);
  }
  if (hi === e.hi && lo === e.lo) return;
  if (hi === 0 && lo === 0 && e.hi === 0 && e.lo === 0) return;
  if (img.l1Offset(Math.floor(ci / img.l2Entries)) === 0 && hi === 0 && lo === 0) return;
  putEntry(img, ci, hi, lo);
}

/**
 * `preallocation=metadata` (and the metadata part of falloc/full) with a data file
 * (qcow2.c preallocate_co: every cluster mapped at its guest offset, COPIED). With extended L2
 * entries the subcluster bitmap is left as it is (qcow2_alloc_cluster_link_l2 with m->prealloc).
 */
export function preallocateDataFileMetadata(img: DataFileHost, from: number, to: number): void {
  const cs = img.cs;
  // preallocate_co extends the data file to the end of the last allocation: the disk's end
  // rounded up to the allocation unit (a cluster, a subcluster with extended L2 entries).
  const unit = img.l2Step === 2 ? cs / 32 : cs;
  const end = Math.ceil(to / unit) * unit;
  if (img.dataBackend.size() < end) img.dataBackend.truncate(end);
  for (let ci = Math.floor(from / cs); ci * cs < to; ci++) {
    const e = entryOf(img, ci);
    if (img.l2Step === 2 ? e.hi & COPIED_HI || e.lo !== 0 || (e.hi & 0x00ffffff) !== 0 : dataFileKind(e.hi, e.lo, true).kind === ST_DATA) continue;
    const d = dataEntry(ci * cs);
    putEntry(img, ci, d.hi, d.lo);
  }
}

/**
 * Gives `img` its data file: the name is checked now (a hostile name fails the open, located),
 * the file is opened now for a writer (qemu-io fails at open when it is missing) and at the first
 * data access for a reader (qemu-img info does not need it).
 */
export function attachDataFile(
  img: DataFileHost & { dataOpener: (() => BlockBackend) | undefined; readonly readOnly: boolean },
  provider: { open(name: string, opts: { write: boolean; forceShare: boolean }): BlockBackend; exists(name: string): boolean },
  forceShare: boolean,
): void {
  const name = dataFileName(img.header, img.name);
  img.dataOpener = () => {
    if (!provider.exists(name)) {
      throw new UserError('QCOW2_NO_DATA_FILE', `Could not open '${img.name}': Could not open '${name}': No such file or directory`, { where: `byte ${img.header.dataFileAt}` });
    }
    return provider.open(name, { write: !img.readOnly, forceShare });
  };
  if (!img.readOnly) img.dataBackend.size(); // a writer opens it now
}
