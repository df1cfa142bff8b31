/**
 * qemu-img verbs over whole images: convert, compare, measure, resize (qemu-img.c img_convert,
 * img_compare, img_measure, img_resize in QEMU 7.2).
 *
 * Design: every verb reads through `Chain` (so backing files are followed) in chunks of at most
 * CHUNK bytes, so memory stays bounded whatever the image size. Allocation decisions come from
 * `Chain.allocationMap()`, the same extents `disk map` prints, so vfab skips exactly the regions
 * qemu-img's block-status loop skips. Images are opened read-only unless the verb writes them.
 */
import { UserError } from '../errors.js';
import { createImage, type CreateOptions } from './api.js';
import { Chain, type BackendProvider, type ChainOpenOptions } from './chain.js';
import { FileProvider } from './file-backend.adapter.js';
import { ST_DATA, ST_UNALLOC, ST_ZERO, type MapExtent } from './image.js';
import { loadDirectory, resizeBitmaps } from './qcow2/bitmaps.js';
import { bitmapExtents } from './bitmap-verb.js';
import { l1EntriesFor, serializeHeader } from './qcow2/header.js';
import { Qcow2Image, isZeroRange } from './qcow2/image.js';
import { RawLayer } from './raw.js';
import { hostErrors } from './host-errors.js';
import { fillZeros, type PreallocMode } from './qcow2/prealloc.js';
import { resizeQcow2Prealloc } from './qcow2/resize-prealloc.js';
import { preallocateDataFileMetadata } from './qcow2/data-file.js';

/** Bytes read per step (qemu-img.c IO_BUF_SIZE is 2 MiB). */
const CHUNK = 2 * 1024 * 1024;
const SECTOR = 512;

let provider: BackendProvider | undefined;
function files(): BackendProvider {
  return (provider ??= new FileProvider());
}

/** Map extents as status kinds: ST_DATA, ST_ZERO (reads zero, allocated) or ST_UNALLOC. */
function kindOf(e: MapExtent): number {
  if (!e.present) return ST_UNALLOC;
  return e.data ? ST_DATA : ST_ZERO;
}

/** Chain.open with host errors (a directory, no permission) as located user errors naming the file. */
function openChain(p: BackendProvider, name: string, opts: ChainOpenOptions): Chain {
  return hostErrors(name, () => Chain.open(p, name, opts));
}

// ---- convert -------------------------------------------------------------------------------------

export interface ConvertOptions {
  srcFormat?: 'qcow2' | 'raw';
  outFormat: 'qcow2' | 'raw';
  /** -B: the output is an overlay of this file; only the source's top layer is copied (as qemu-img). */
  backingFile?: string;
  backingFormat?: 'qcow2' | 'raw';
  clusterSize?: number;
  refcountBits?: number;
  /** -o extended_l2=on: the output has subclusters. */
  extendedL2?: boolean;
  /** -o data_file=NAME: the output's guest data goes to this external data file. */
  dataFile?: string;
  /** -o data_file_raw=on (with dataFile). */
  dataFileRaw?: boolean;
  /** -n: write into an existing image. */
  noCreate?: boolean;
  /** --target-is-zero (only with -n): zero regions need no writes. */
  targetIsZero?: boolean;
  /** -S: runs of this many zero bytes (aligned) are left unwritten; 0 writes every byte. Default 4 KiB. */
  sparseSize?: number;
  /** -p: called with the percentage done. */
  progress?: (pct: number) => void;
  /**
   * vfab addition for incremental backups: copy only the extents dirty in this persistent bitmap
   * of the source's top image (needs -B: the output is an overlay of the previous backup).
   */
  dirtyBitmap?: string;
  /** -c: qcow2 output with every data cluster compressed (deflate). */
  compress?: boolean;
}

/** `qemu-img convert`: copies what the guest sees (chain flattened unless -B) into a new image. */
export function convertImage(src: string, dst: string, opts: ConvertOptions, p: BackendProvider = files()): void {
  const sparse = opts.sparseSize ?? 4096;
  if (sparse !== 0 && (sparse % SECTOR !== 0 || sparse < 0)) {
    throw new UserError('CLI_BAD_OPTION', `Invalid buffer size for sparse output specified: ${sparse} (a multiple of 512)`, { where: '-S' });
  }
  if (opts.targetIsZero && !opts.noCreate) {
    throw new UserError('CLI_BAD_FLAG', '--target-is-zero requires use of -n flag', { where: '--target-is-zero' });
  }
  if (opts.noCreate && opts.backingFile !== undefined) {
    throw new UserError('CLI_BAD_FLAG', 'vfab: -B cannot be combined with -n (the target keeps its own backing)', { where: '-B' });
  }
  if (opts.compress) {
    // qemu-img.c img_convert: "Compression not supported for this file format" (exit 1 there).
    if (opts.outFormat !== 'qcow2') throw new UserError('CLI_BAD_FLAG', 'Compression not supported for this file format', { where: '-c' });
    if (opts.noCreate || opts.backingFile !== undefined || opts.dirtyBitmap !== undefined) {
      throw new UserError('CLI_BAD_FLAG', 'vfab: -c writes a new, flattened image only (not with -n, -B or --dirty-bitmap)', { where: '-c' });
    }
  }
  let dirty: { start: number; length: number }[] | undefined;
  if (opts.dirtyBitmap !== undefined) {
    if (opts.backingFile === undefined) {
      throw new UserError('CLI_BAD_FLAG', '--dirty-bitmap needs -B (the output is an overlay of the previous backup)', { where: '--dirty-bitmap' });
    }
    dirty = bitmapExtents(src, opts.dirtyBitmap, opts.srcFormat ? { format: opts.srcFormat } : {}, p).filter((e) => e.dirty);
  }
  const source = openChain(p, src, { readOnly: true, ...(opts.srcFormat ? { format: opts.srcFormat } : {}) });
  try {
    const size = source.virtualSize;
    if (!opts.noCreate) {
      const c: CreateOptions = { format: opts.outFormat, size };
      if (opts.clusterSize !== undefined) c.clusterSize = opts.clusterSize;
      if (opts.refcountBits !== undefined) c.refcountBits = opts.refcountBits;
      if (opts.extendedL2) c.extendedL2 = true;
      if (opts.dataFile !== undefined) c.dataFile = opts.dataFile;
      if (opts.dataFileRaw) c.dataFileRaw = true;
      if (opts.backingFile !== undefined) {
        c.backingFile = opts.backingFile;
        c.backingFormat = opts.backingFormat ?? 'qcow2';
      }
      hostErrors(dst, () => createImage(dst, c, p));
    }
    // The target is opened without its backing chain: convert writes only the top (as qemu-img).
    const target = openChain(p, dst, { format: opts.outFormat, noBacking: true });
    try {
      if (target.virtualSize < size) {
        throw new UserError('BLOCK_BAD_SIZE', `Output image is too small (${target.virtualSize} bytes; the source has ${size})`, { where: dst });
      }
      const hasBacking = opts.backingFile !== undefined;
      const zeroKnown = !opts.noCreate || opts.targetIsZero === true;
      const buf = new Uint8Array(CHUNK);
      if (dirty) {
        copyExtents(source, target, dirty, buf, opts.progress);
        target.flush();
        return;
      }
      if (opts.compress) {
        copyCompressed(source, target.layers[0] as Qcow2Image, sparse, opts.progress);
        target.flush();
        return;
      }
      let done = 0;
      opts.progress?.(0);
      for (const e of source.allocationMap()) {
        const kind = kindOf(e);
        for (let off = e.start; off < e.start + e.length; off += CHUNK) {
          const n = Math.min(CHUNK, e.start + e.length - off);
          if (hasBacking && (kind === ST_UNALLOC || e.depth > 0)) {
            // qemu-img.c img_convert: with a target backing file only what lies above the source's
            // own backing is copied (block status above bdrv_cow_bs); the rest is BLK_BACKING_FILE.
          } else if (kind !== ST_DATA && sparse !== 0) {
            // Reads as zeros: a fresh target already reads zero; otherwise write zeroes.
            if (!zeroKnown || hasBacking) target.writeZeroes(off, n);
          } else {
            const b = buf.subarray(0, n);
            source.read(off, b);
            // qemu-img.c convert_iteration_sectors: zero detection works on whole target clusters
            // (s->alignment), so a cluster holding any data is written whole.
            // With subclusters the skipped runs stay unallocated, and QEMU's alignment shows: it is
            // max(pow2floor(-S), request alignment) (img_convert s.alignment), not the cluster.
            const top = target.layers[0];
            const align = top instanceof Qcow2Image && !top.extL2 ? top.cs : SECTOR;
            writeSparse(target, off, b, sparse === 0 ? 0 : Math.max(sparse, align), zeroKnown && !hasBacking);
          }
          done += n;
          opts.progress?.((done / Math.max(1, size)) * 100);
        }
      }
      target.flush();
    } finally {
      target.close();
    }
  } finally {
    source.close();
  }
}

/**
 * convert -c: every target cluster holding source data is written compressed, whole (the last
 * one zero-padded); with sparse detection on, a cluster reading as zeros is left unallocated
 * (qemu-img.c convert_co_write, s->compressed: buffer_is_zero skips it on a zero-init target).
 */
function copyCompressed(source: Chain, top: Qcow2Image, sparse: number, progress?: (pct: number) => void): void {
  const cs = top.cs;
  const size = source.virtualSize;
  const buf = new Uint8Array(cs);
  let next = 0;
  progress?.(0);
  for (const e of source.allocationMap()) {
    if (kindOf(e) !== ST_DATA && sparse !== 0) continue;
    const first = Math.max(next, Math.floor(e.start / cs));
    const last = Math.floor((e.start + e.length - 1) / cs);
    for (let ci = first; ci <= last; ci++) {
      const n = Math.min(cs, size - ci * cs);
      const b = buf.subarray(0, n);
      source.read(ci * cs, b);
      if (sparse === 0 || !isZeroRange(b, 0, n)) top.writeCompressed(ci, b);
      progress?.((Math.min(size, (ci + 1) * cs) / Math.max(1, size)) * 100);
    }
    next = Math.max(next, last + 1);
  }
  progress?.(100);
}

/** Copies what the guest sees in `extents` (data as data, zeros as zero clusters). */
function copyExtents(source: Chain, target: Chain, extents: { start: number; length: number }[], buf: Uint8Array, progress?: (pct: number) => void): void {
  const total = extents.reduce((a, e) => a + e.length, 0);
  let done = 0;
  progress?.(0);
  for (const e of extents) {
    for (let off = e.start; off < e.start + e.length; off += buf.length) {
      const n = Math.min(buf.length, e.start + e.length - off);
      const b = buf.subarray(0, n);
      source.read(off, b);
      if (isZeroRange(b, 0, n)) target.writeZeroes(off, n);
      else target.write(off, b);
      done += n;
      progress?.((done / Math.max(1, total)) * 100);
    }
  }
}

/** Writes `b` at `off`, skipping aligned all-zero runs of `sparse` bytes (qemu-img.c is_allocated_sectors_min). */
function writeSparse(target: Chain, off: number, b: Uint8Array, sparse: number, zeroKnown: boolean): void {
  if (sparse === 0) {
    target.write(off, b);
    return;
  }
  let i = 0;
  while (i < b.length) {
    const end = Math.min(b.length, i + sparse - ((off + i) % sparse));
    const zero = isZeroRange(b, i, end);
    let j = end;
    // Extend the run while blocks keep the same zero-ness.
    while (j < b.length) {
      const k = Math.min(b.length, j + sparse);
      if (isZeroRange(b, j, k) !== zero) break;
      j = k;
    }
    if (!zero) target.write(off + i, b.subarray(i, j));
    else if (!zeroKnown) target.writeZeroes(off + i, j - i);
    i = j;
  }
}

// ---- compare -------------------------------------------------------------------------------------

export interface CompareResult {
  /** 0 identical, 1 different (qemu-img's exit codes). */
  code: 0 | 1;
  lines: string[];
}

/** First non-zero 512-byte sector in `b`, as a byte index, or -1. */
function firstNonZeroSector(b: Uint8Array): number {
  for (let i = 0; i < b.length; i += SECTOR) if (!isZeroRange(b, i, Math.min(b.length, i + SECTOR))) return i;
  return -1;
}

/** First differing 512-byte sector (qemu-img.c compare_buffers works in sectors). */
function firstDiffSector(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i += SECTOR) {
    const end = Math.min(a.length, i + SECTOR);
    for (let k = i; k < end; k++) if (a[k] !== b[k]) return i;
  }
  return -1;
}

/** Extents of a map, walked in step with another (split at both maps' boundaries). */
function statusAt(map: MapExtent[], idx: { i: number }, off: number): { kind: number; end: number } {
  while (idx.i < map.length && map[idx.i]!.start + map[idx.i]!.length <= off) idx.i++;
  const e = map[idx.i];
  if (!e) return { kind: ST_UNALLOC, end: Infinity };
  return { kind: kindOf(e), end: e.start + e.length };
}

/**
 * `qemu-img compare` (qemu-img.c img_compare): 0 with "Images are identical.", 1 with
 * "Content mismatch at offset N!" (N: first differing 512-byte sector). With `strict`, different
 * sizes or allocation states are mismatches too.
 */
export function compareImages(
  a: string,
  b: string,
  opts: { formatA?: 'qcow2' | 'raw'; formatB?: 'qcow2' | 'raw'; strict?: boolean; forceShare?: boolean } = {},
  p: BackendProvider = files(),
): CompareResult {
  const c1 = openChain(p, a, { readOnly: true, forceShare: opts.forceShare ?? false, ...(opts.formatA ? { format: opts.formatA } : {}) });
  try {
    const c2 = openChain(p, b, { readOnly: true, forceShare: opts.forceShare ?? false, ...(opts.formatB ? { format: opts.formatB } : {}) });
    try {
      return compareChains(c1, c2, opts.strict ?? false);
    } finally {
      c2.close();
    }
  } finally {
    c1.close();
  }
}

function compareChains(c1: Chain, c2: Chain, strict: boolean): CompareResult {
  const lines: string[] = [];
  const s1 = c1.virtualSize;
  const s2 = c2.virtualSize;
  if (strict && s1 !== s2) return { code: 1, lines: ['Strict mode: Image size mismatch!'] };
  const common = Math.min(s1, s2);
  const m1 = c1.allocationMap();
  const m2 = c2.allocationMap();
  const i1 = { i: 0 };
  const i2 = { i: 0 };
  const b1 = new Uint8Array(CHUNK);
  const b2 = new Uint8Array(CHUNK);
  let off = 0;
  while (off < common) {
    const st1 = statusAt(m1, i1, off);
    const st2 = statusAt(m2, i2, off);
    const n = Math.min(st1.end, st2.end, common, off + CHUNK) - off;
    // Block status includes BDRV_BLOCK_EOF (block/io.c bdrv_co_block_status) when the extent runs
    // to the end of the image, so a run that ends at EOF in one image only differs in strict mode.
    const eof1 = st1.end >= s1;
    const eof2 = st2.end >= s2;
    if (strict && (st1.kind !== st2.kind || eof1 !== eof2)) return { code: 1, lines: [`Strict mode: Offset ${off} block status mismatch!`] };
    if (!(st1.kind !== ST_DATA && st2.kind !== ST_DATA)) {
      const x = b1.subarray(0, n);
      const y = b2.subarray(0, n);
      c1.read(off, x);
      c2.read(off, y);
      const d = firstDiffSector(x, y);
      if (d >= 0) return { code: 1, lines: [`Content mismatch at offset ${off + d}!`] };
    }
    off += n;
  }
  if (s1 !== s2) {
    lines.push('Warning: Image size mismatch!');
    const big = s1 > s2 ? c1 : c2;
    const map = s1 > s2 ? m1 : m2;
    for (const e of map) {
      if (e.start + e.length <= common || kindOf(e) !== ST_DATA) continue;
      for (let o = Math.max(e.start, common); o < e.start + e.length; o += CHUNK) {
        const x = b1.subarray(0, Math.min(CHUNK, e.start + e.length - o));
        big.read(o, x);
        const z = firstNonZeroSector(x);
        if (z >= 0) return { code: 1, lines: [...lines, `Content mismatch at offset ${o + z}!`] };
      }
    }
  }
  lines.push('Images are identical.');
  return { code: 0, lines };
}

// ---- measure -------------------------------------------------------------------------------------

export interface MeasureResult {
  required: number;
  'fully-allocated': number;
  /** Present when both the source and the output format are qcow2 (qemu-img prints it then). */
  bitmaps?: number;
}

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
const roundUp = (a: number, b: number): number => ceilDiv(a, b) * b;

/** block/qcow2-refcount.c qcow2_refcount_metadata_size: the fixed point of refcount blocks + table. */
function refcountMetadataSize(clusters: number, cs: number, refcountOrder: number): number {
  const perTable = cs / 8;
  const perBlock = (cs * 8) / 2 ** refcountOrder;
  let table = 0;
  let blocks = 0;
  let n = 0;
  let last: number;
  do {
    last = n;
    blocks = ceilDiv(clusters + table + blocks, perBlock);
    table = ceilDiv(blocks, perTable);
    n = clusters + blocks + table;
  } while (n !== last);
  return (blocks + table) * cs;
}

/**
 * block/qcow2.c qcow2_calc_prealloc_size: header, L2s, L1, refcounts and all data clusters.
 * Extended L2 entries are 16 bytes (L2E_SIZE_EXTENDED), normal ones 8.
 */
export function qcow2PreallocSize(size: number, cs: number, refcountOrder: number, extendedL2 = false): number {
  const aligned = roundUp(size, cs);
  const l2e = extendedL2 ? 16 : 8;
  let meta = cs;
  let nl2e = aligned / cs;
  nl2e = roundUp(nl2e, cs / l2e);
  meta += nl2e * l2e;
  let nl1e = (nl2e * l2e) / cs;
  nl1e = roundUp(nl1e, cs / 8);
  meta += nl1e * 8;
  meta += refcountMetadataSize((meta + aligned) / cs, cs, refcountOrder);
  return meta + aligned;
}

export interface MeasureOptions {
  outFormat: 'qcow2' | 'raw';
  size?: number;
  srcFormat?: 'qcow2' | 'raw';
  clusterSize?: number;
  refcountBits?: number;
  /** `-o extended_l2=on`: 16-byte L2 entries. */
  extendedL2?: boolean;
  /** `-o preallocation=`: falloc and full make every data cluster required. */
  preallocation?: PreallocMode;
  /** `-o backing_file=`: qcow2_measure then counts every cluster of the source as required. */
  hasBacking?: boolean;
  forceShare?: boolean;
}

/** `qemu-img measure` (block/qcow2.c qcow2_measure, block/raw-format.c raw_measure). */
export function measureImage(file: string | undefined, opts: MeasureOptions, p: BackendProvider = files()): MeasureResult {
  if ((file === undefined) === (opts.size === undefined)) {
    throw new UserError('CLI_BAD_FLAG', 'Either --size N or one filename must be specified.', { where: file ?? '--size' });
  }
  let size = opts.size ?? 0;
  // block/qcow2.c qcow2_measure: the extended-L2 refusal comes with the option parsing.
  if (opts.outFormat === 'qcow2' && opts.extendedL2 && (opts.clusterSize ?? 65536) < 16384) {
    throw new UserError('QCOW2_BAD_OPTION', 'Extended L2 entries are only supported with cluster sizes of at least 16384 bytes', { where: '-o extended_l2' });
  }
  let dataBytes = 0;
  let srcIsQcow2 = false;
  let bitmaps: { name: string; granularity: number }[] = [];
  if (file !== undefined) {
    const c = openChain(p, file, { readOnly: true, forceShare: opts.forceShare ?? false, ...(opts.srcFormat ? { format: opts.srcFormat } : {}) });
    try {
      size = c.virtualSize;
      const top = c.layers[0];
      srcIsQcow2 = top instanceof Qcow2Image;
      if (top instanceof Qcow2Image) bitmaps = loadDirectory(top).map((b) => ({ name: b.name, granularity: 2 ** b.granularityBits }));
      const cs = opts.clusterSize ?? 65536;
      // Data clusters only: zero extents cost nothing in qcow2 v3 (qcow2_measure skips BDRV_BLOCK_ZERO).
      let countedTo = 0;
      for (const e of c.allocationMap()) {
        if (kindOf(e) !== ST_DATA) continue;
        const from = Math.max(Math.floor(e.start / cs) * cs, countedTo);
        const to = roundUp(e.start + e.length, cs);
        if (to > from) dataBytes += to - from;
        countedTo = Math.max(countedTo, to);
      }
    } finally {
      c.close();
    }
  }
  // block/qcow2.c qcow2_measure rounds the virtual size up to whole sectors first.
  size = roundUp(size, SECTOR);
  if (opts.outFormat === 'raw') return { required: size, 'fully-allocated': size };
  const cs = opts.clusterSize ?? 65536;
  const order = Math.log2(opts.refcountBits ?? 16);
  // block/qcow2.c qcow2_measure: virtual_size = ROUND_UP(size, cluster_size); with a backing file
  // every cluster of the source counts (required = virtual_size), and so with falloc/full.
  const aligned = roundUp(size, cs);
  if (file !== undefined && opts.hasBacking) dataBytes = aligned;
  if (opts.preallocation === 'falloc' || opts.preallocation === 'full') dataBytes = aligned;
  const full = qcow2PreallocSize(aligned, cs, order, opts.extendedL2 ?? false);
  // block/qcow2.c qcow2_measure: required = fully_allocated - virtual_size + data clusters.
  const out: MeasureResult = { required: full - aligned + dataBytes, 'fully-allocated': full };
  if (srcIsQcow2) {
    // qcow2_measure: every persistent bitmap counted fully allocated, its table, and the directory.
    let bm = 0;
    let dirBytes = 0;
    for (const b of bitmaps) {
      const clusters = Math.ceil(Math.ceil(Math.ceil(size / b.granularity) / 8) / cs);
      bm += clusters * cs + roundUp(clusters * 8, cs);
      dirBytes += roundUp(24 + new TextEncoder().encode(b.name).length, 8); // calc_dir_entry_size
    }
    out.bitmaps = bm + roundUp(dirBytes, cs);
  }
  return out;
}

// ---- resize --------------------------------------------------------------------------------------

/**
 * `qemu-img resize` (qemu-img.c img_resize, block/qcow2.c qcow2_co_truncate). Growing a qcow2
 * image past its L1 table moves the table (qcow2_grow_l1_table with exact size); shrinking needs
 * `shrink` and discards everything past the new end. Images with snapshots cannot be resized.
 */
export function resizeImage(
  file: string,
  newSize: number,
  opts: { format?: 'qcow2' | 'raw'; shrink?: boolean; preallocation?: PreallocMode },
  p: BackendProvider = files(),
): 'resized' | 'needs-shrink' {
  const c = openChain(p, file, { noBacking: true, ...(opts.format ? { format: opts.format } : {}) });
  try {
    const old = c.virtualSize;
    const top = c.layers[0]!;
    if (newSize < old && !opts.shrink) {
      return 'needs-shrink'; // qemu-img exits 1 with "Use the --shrink option…"
    }
    if (top instanceof RawLayer) {
      top.backend.truncate(newSize);
      // file-posix raw_co_truncate with PREALLOC_MODE_FULL writes zeros over the new range. falloc
      // (fallocate) leaves unwritten extents that SEEK_DATA reports as holes; Node has no
      // fallocate, so vfab grows sparsely: same map, smaller disk size (docs/disks.md).
      if (opts.preallocation === 'full' && newSize > old) fillZeros(top.backend, old, newSize);
      top.virtualSize = newSize;
      return 'resized';
    }
    if (!(top instanceof Qcow2Image)) throw new UserError('BLOCK_BAD_FORMAT', `cannot resize '${file}'`, { where: file });
    if (newSize % SECTOR !== 0) throw new UserError('BLOCK_BAD_SIZE', `qcow2 sizes must be multiples of 512 (got ${newSize})`, { where: file });
    if (top.snapshots.length > 0) throw new UserError('BLOCK_HAS_SNAPSHOTS', "Can't resize an image which has snapshots", { where: file });
    const pre = opts.preallocation ?? 'off';
    // Growing is QEMU's allocator replayed (resize-prealloc.ts), with or without preallocation, so
    // the new L1 table and refcount blocks land where qemu-img puts them; images it does not
    // replay (extended L2, data file, bitmaps) take the plain path below when not preallocating.
    const replayable = !top.extL2 && !top.hasDataFile && !top.bitmapState;
    if (newSize > old && (pre !== 'off' || replayable)) {
      // qcow2_co_truncate with preallocation: QEMU's allocator replayed (resize-prealloc.ts).
      try {
        resizeQcow2Prealloc(top, newSize, pre);
      } catch (e) {
        // Half-written: closing normally would settle the stale in-memory refcounts and cut the
        // file at their end. Left as the phases left it, the image is the old one plus leaks.
        top.abandon();
        throw e;
      }
      top.afterMetadataSwitch();
      return 'resized';
    }
    if (top.bitmapState) resizeBitmaps(top, top.bitmapState, newSize);
    if (newSize < old) {
      top.discard(newSize, roundUp(old, top.cs) - newSize);
      // The tail of a partial last cluster must read zero after a later grow.
      const tail = roundUp(newSize, top.cs) - newSize;
      if (tail > 0 && newSize > 0) top.writeZeroes(newSize, Math.min(tail, old - newSize));
    } else {
      growL1(top, l1EntriesFor(newSize, Math.log2(top.cs), top.extL2));
      // qcow2_co_truncate: with data_file_raw the new part is mapped 1:1 like the rest
      // (preallocation=metadata is forced, as at create; checked against qemu-img 7.2).
      if (top.hasDataFile && top.dataRaw) preallocateDataFileMetadata(top, old, newSize);
    }
    top.header.size = newSize;
    // qcow2_co_truncate updates only the size field (bdrv_pwrite_sync at offsetof(QCowHeader,
    // size)); rewriting the whole header would add a feature-name table QEMU leaves out of
    // images with small clusters. Images with bitmaps get their whole header when the bitmaps are
    // stored, as QEMU's qcow2_update_header does then.
    writeHeaderBytes(top, 24, 32);
    top.flush();
    // qcow2_co_truncate: an external data file is truncated to the new virtual size too, growing
    // or shrinking (checked against qemu-img 7.2: `data_file_raw` or not, the file ends at the new
    // size), so a raw consumer of the data file sees the whole disk.
    if (top.hasDataFile) top.dataBackend.truncate(newSize);
    return 'resized';
  } finally {
    c.close();
  }
}

/** block/qcow2-cluster.c qcow2_grow_l1_table: new table, header points at it, old one freed. */
/** Writes header bytes [from, to) from the in-memory header, leaving the rest on disk as it is. */
function writeHeaderBytes(img: Qcow2Image, from: number, to: number): void {
  img.backend.pwrite(serializeHeader(img.header).subarray(from, to), from);
}

function growL1(img: Qcow2Image, entries: number): void {
  const h = img.header;
  if (entries <= h.l1Size) return;
  const cs = img.cs;
  const off = img.allocMeta(roundUp(entries * 8, cs) / cs);
  // qcow2_grow_l1_table writes new_l1_size * L1E_SIZE bytes, not the whole cluster: the image
  // file may end inside the new table's cluster, as qemu-img leaves it.
  const table = new Uint8Array(entries * 8);
  const old = new Uint8Array(h.l1Size * 8);
  if (h.l1Size > 0) img.backend.pread(old, h.l1TableOffset);
  table.set(old, 0);
  img.backend.pwrite(table, off);
  img.flush();
  const oldOff = h.l1TableOffset;
  const oldClusters = ceilDiv(h.l1Size * 8, cs);
  h.l1TableOffset = off;
  h.l1Size = entries;
  writeHeaderBytes(img, 36, 48); // l1_size and l1_table_offset, one write as QEMU does
  img.reloadL1();
  const rc = img.refcounts();
  for (let i = 0; i < oldClusters && oldOff > 0; i++) rc.update(oldOff / cs + i, -1);
}
