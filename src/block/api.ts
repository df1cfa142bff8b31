/**
 * The block layer's public functions, in qemu-img vocabulary: create, open, info, check,
 * snapshot, commit, rebase. Every function takes a `BackendProvider` (files by default, memory
 * for tests and simulations), so the CLI commands stay thin.
 */
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { Chain, type BackendProvider, type ChainOpenOptions } from './chain.js';
import { FileProvider } from './file-backend.adapter.js';
import { ST_DATA, ST_ZERO, type Layer } from './image.js';
import { checkQcow2, type CheckResult } from './qcow2/check.js';
import { createQcow2, planQcow2 } from './qcow2/create.js';
import { INCOMPAT_CORRUPT, INCOMPAT_DIRTY, INCOMPAT_EXTL2, COMPAT_LAZY_REFCOUNTS, MAX_VIRTUAL_SIZE } from './qcow2/header.js';
import { Qcow2Image } from './qcow2/image.js';
import { applySnapshot, createSnapshot, deleteSnapshot, listSnapshots, type SnapshotInfo, type SnapshotTimes } from './qcow2/snapshot.js';
import { RawLayer } from './raw.js';
import { fillZeros, writePreallocated, type PreallocMode } from './qcow2/prealloc.js';
import { listBitmaps, type BitmapInfo } from './bitmap-verb.js';
import { bitmapExt } from './qcow2/bitmaps.js';
import { checkCreateDataFile, createWithDataFile } from './qcow2/data-file-create.js';
import { hasDataFile, isDataFileRaw } from './qcow2/data-file.js';

export type { CheckResult, SnapshotInfo, SnapshotTimes };

export interface CreateOptions {
  format?: 'qcow2' | 'raw';
  /** Bytes; defaults to the backing image's size. */
  size?: number;
  clusterSize?: number;
  /** qcow2 `-o extended_l2=on`: subclusters. */
  extendedL2?: boolean;
  backingFile?: string;
  backingFormat?: 'qcow2' | 'raw';
  refcountBits?: number;
  /** `-o preallocation=` (qcow2: block/qcow2.c; raw: falloc/full allocate the whole file). */
  preallocation?: PreallocMode;
  /** qcow2 `-o data_file=NAME`: guest data in a separate raw file (created, as qemu-img does). */
  dataFile?: string;
  /** qcow2 `-o data_file_raw=on`. */
  dataFileRaw?: boolean;
}

let defaultProvider: BackendProvider | undefined;
function files(): BackendProvider {
  return (defaultProvider ??= new FileProvider());
}

/** `qemu-img create`: a thin image, optionally on top of a backing image. */
export function createImage(name: string, opts: CreateOptions, provider: BackendProvider = files()): void {
  const format = opts.format ?? 'qcow2';
  let size = opts.size;
  if (opts.backingFile !== undefined) {
    if (format !== 'qcow2') throw new UserError('BLOCK_BAD_OPTION', `format '${format}' does not support backing files`, { where: '-b' });
    const resolved = provider.resolveBacking(name, opts.backingFile);
    if (!provider.exists(resolved)) {
      throw new UserError('BLOCK_NO_BACKING', `Could not open backing file '${opts.backingFile}' (resolved to '${resolved}'): No such file or directory`, { where: '-b' });
    }
    const backing = Chain.open(provider, resolved, { readOnly: true, forceShare: true, ...(opts.backingFormat ? { format: opts.backingFormat } : {}) });
    try {
      size ??= backing.virtualSize;
    } finally {
      backing.close();
    }
  }
  if (size === undefined) throw new UserError('BLOCK_BAD_OPTION', 'Image creation needs a size parameter', { where: 'SIZE' });
  // qcow2.c qcow2_co_create_opts ("Silently round up size") and file-posix.c raw_co_create_opts
  // both ROUND_UP the size to BDRV_SECTOR_SIZE: `create x.qcow2 3000000` makes a 3000320-byte disk.
  if (Number.isInteger(size) && size > 0) size = Math.ceil(size / 512) * 512;
  // Everything that can be refused is refused before the file is touched: an existing file is
  // truncated only once the image is sure to be written.
  const qopts = {
    size,
    ...(opts.clusterSize !== undefined ? { clusterSize: opts.clusterSize } : {}),
    ...(opts.extendedL2 ? { extendedL2: true } : {}),
    ...(opts.refcountBits !== undefined ? { refcountBits: opts.refcountBits } : {}),
    ...(opts.backingFile !== undefined ? { backingFile: opts.backingFile, backingFormat: opts.backingFormat ?? 'qcow2' } : {}),
    ...(opts.dataFile !== undefined ? { dataFile: opts.dataFile } : {}),
    ...(opts.dataFileRaw ? { dataFileRaw: true } : {}),
  };
  if (format === 'raw') {
    if (size < 0 || !Number.isInteger(size) || size > MAX_VIRTUAL_SIZE) throw new UserError('BLOCK_BAD_OPTION', `bad size ${size}`, { where: 'SIZE' });
  } else {
    planQcow2(qopts);
    if (opts.dataFile !== undefined) checkCreateDataFile(name, opts.dataFile, opts.preallocation ?? 'off');
    // qcow2.c qcow2_co_create: preallocation over a backing file needs subclusters.
    if (opts.backingFile !== undefined && (opts.preallocation ?? 'off') !== 'off' && !opts.extendedL2) {
      throw new UserError('QCOW2_BAD_OPTION', `${name}: Backing file and preallocation can only be used at the same time if extended_l2 is on`, { where: '-o preallocation' });
    }
  }
  if (opts.dataFile !== undefined && format === 'qcow2') {
    createWithDataFile(name, { ...qopts, dataFile: opts.dataFile }, opts.preallocation ?? 'off', provider);
    return;
  }
  const backend = provider.create(name);
  try {
    const pre = opts.preallocation ?? 'off';
    if (format === 'raw') {
      RawLayer.create(backend, size);
      // full writes zeros; falloc's unwritten extents read as holes (see resizeImage): sparse.
      // block/file-posix.c allocate_first_block: falloc also writes the first 4 KiB.
      if (pre === 'full') fillZeros(backend, 0, size);
      else if (pre === 'falloc') fillZeros(backend, 0, Math.min(4096, size));
      backend.close();
      return;
    }
    if (pre !== 'off') {
      writePreallocated(backend, qopts, pre);
      backend.close();
      return;
    }
    createQcow2(backend, qopts).close();
  } catch (e) {
    backend.close();
    // A create that failed half-way leaves no half image (qemu-img deletes it too, block.c
    // bdrv_co_delete_file_noerr).
    provider.remove?.(name);
    throw e;
  }
}

/** Opens an image with its backing chain (read-write top unless `readOnly`). */
export function openImage(name: string, opts: ChainOpenOptions = {}, provider: BackendProvider = files()): Chain {
  return Chain.open(provider, name, opts);
}

/** `qemu-img info --output=json`, one object per layer (top first). */
export interface ImageInfo {
  filename: string;
  format: 'qcow2' | 'raw';
  'virtual-size': number;
  'actual-size': number;
  'cluster-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
  'dirty-flag': boolean;
  snapshots?: { id: string; name: string; 'vm-state-size': number; 'date-sec': number; 'date-nsec': number; 'vm-clock-sec': number; 'vm-clock-nsec': number; icount?: number }[];
  'format-specific'?: {
    type: 'qcow2';
    data: {
      compat: string;
      'compression-type': string;
      'lazy-refcounts': boolean;
      bitmaps?: BitmapInfo[];
      'refcount-bits': number;
      'data-file'?: string;
      'data-file-raw'?: boolean;
      corrupt: boolean;
      'extended-l2': boolean;
    };
  };
}

/**
 * The snapshot's instruction count, when its extra data records one (qcow2-snapshot.c: icount
 * follows disk_size; -1 means none): qemu-img info lists it then (block/qapi.c has_icount).
 */
function icountOf(extra: Uint8Array | undefined): { icount?: number } {
  if (!extra || extra.length < 8) return {};
  const dv = new DataView(extra.buffer, extra.byteOffset, 8);
  const hi = dv.getUint32(0);
  const lo = dv.getUint32(4);
  if (hi === 0xffffffff && lo === 0xffffffff) return {};
  return { icount: hi * 4294967296 + lo };
}

function layerInfo(l: Layer, provider: BackendProvider): ImageInfo {
  const info: ImageInfo = {
    filename: l.name,
    format: l.format,
    'virtual-size': l.virtualSize,
    'actual-size': l.fileAllocatedBytes(),
    'dirty-flag': false,
  };
  if (l instanceof Qcow2Image) {
    const h = l.header;
    info['cluster-size'] = l.cs;
    if (h.backingFile !== undefined) {
      info['backing-filename'] = h.backingFile;
      info['full-backing-filename'] = provider.resolveBacking(l.name, h.backingFile);
      if (h.backingFormat !== undefined) info['backing-filename-format'] = h.backingFormat;
    }
    info['dirty-flag'] = (h.incompatibleFeatures & INCOMPAT_DIRTY) !== 0;
    if (l.snapshots.length > 0) {
      info.snapshots = listSnapshots(l).map((s) => ({
        id: s.id,
        name: s.name,
        'vm-state-size': s.vmStateSize,
        'date-sec': s.dateSec,
        'date-nsec': s.dateNsec,
        'vm-clock-sec': Math.floor(s.vmClockNsec / 1e9),
        'vm-clock-nsec': s.vmClockNsec % 1e9,
        ...icountOf(l.snapshots.find((e) => e.id === s.id)?.extra),
      }));
    }
    info['format-specific'] = {
      type: 'qcow2',
      data: {
        compat: h.version === 3 ? '1.1' : '0.10',
        'compression-type': h.compressionType === 1 ? 'zstd' : 'zlib',
        'lazy-refcounts': (h.compatibleFeatures & COMPAT_LAZY_REFCOUNTS) !== 0,
        // qcow2.c qcow2_get_specific_info: listed when the extension is valid (key order as QEMU's).
        ...(bitmapExt(l) ? { bitmaps: listBitmaps(l) } : {}),
        'refcount-bits': 2 ** h.refcountOrder,
        // qcow2_get_specific_info: the name when the image has one, the raw flag with a data file.
        ...(h.dataFile !== undefined ? { 'data-file': h.dataFile } : {}),
        ...(hasDataFile(h) ? { 'data-file-raw': isDataFileRaw(h) } : {}),
        corrupt: (h.incompatibleFeatures & INCOMPAT_CORRUPT) !== 0,
        'extended-l2': (h.incompatibleFeatures & INCOMPAT_EXTL2) !== 0,
      },
    };
  }
  return info;
}

export function imageInfo(
  name: string,
  opts: { backingChain?: boolean; forceShare?: boolean; format?: 'qcow2' | 'raw' } = {},
  provider: BackendProvider = files(),
): ImageInfo[] {
  const chain = Chain.open(provider, name, {
    readOnly: true,
    forceShare: opts.forceShare ?? false,
    noBacking: !opts.backingChain,
    ...(opts.format ? { format: opts.format } : {}),
  });
  try {
    return chain.layers.map((l) => layerInfo(l, provider));
  } finally {
    chain.close();
  }
}

/** `qemu-img check [-r leaks|all]`. Raw images have nothing to check. */
export function checkImage(
  name: string,
  opts: { repair?: 'leaks' | 'all'; format?: 'qcow2' | 'raw'; forceShare?: boolean } = {},
  provider: BackendProvider = files(),
): CheckResult {
  if (opts.repair && opts.forceShare) throw new UserError('BLOCK_BAD_OPTION', '-U (--force-share) cannot be used with -r: repair needs the write lock', { where: '-U' });
  const chain = Chain.open(provider, name, {
    readOnly: !opts.repair,
    noBacking: true,
    forceShare: !!opts.forceShare,
    // A dirty image is checked as it is (qemu-img opens with BDRV_O_CHECK: no repair on open).
    checkOnly: true,
    ...(opts.format ? { format: opts.format } : {}),
  });
  try {
    const top = chain.top;
    if (!(top instanceof Qcow2Image)) {
      throw new UserError('BLOCK_CHECK_UNSUPPORTED', `This image format does not support checks (${top.format})`, { where: name });
    }
    return checkQcow2(top, opts.repair ? { repair: opts.repair } : {});
  } finally {
    chain.close();
  }
}

function qcow2Top(chain: Chain, what: string): Qcow2Image {
  const top = chain.top;
  if (!(top instanceof Qcow2Image)) throw new UserError('BLOCK_UNSUPPORTED', `${what} needs a qcow2 image, '${top.name}' is ${top.format}`);
  return top;
}

/** Internal snapshots on the top image of `name` (qemu-img snapshot). */
export function snapshotImage(
  name: string,
  op: { create: string; times?: SnapshotTimes } | { apply: string } | { delete: string } | { list: true },
  provider: BackendProvider = files(),
): SnapshotInfo[] {
  const readOnly = 'list' in op;
  const chain = Chain.open(provider, name, { readOnly, noBacking: true, forceShare: readOnly });
  try {
    const img = qcow2Top(chain, 'snapshots');
    if ('create' in op) createSnapshot(img, op.create, op.times ?? {});
    else if ('apply' in op) applySnapshot(img, op.apply);
    else if ('delete' in op) deleteSnapshot(img, op.delete);
    if (!readOnly) img.flush();
    return listSnapshots(img);
  } finally {
    chain.close();
  }
}

/** Copies every allocated extent of `chain.top` into `dst` (zero extents as write-zeroes). */
function copyAllocated(top: Layer, dst: { write(o: number, d: Uint8Array): void; writeZeroes(o: number, n: number): void }): number {
  let copied = 0;
  const size = top.virtualSize;
  const chunk = 1 << 20;
  let p = 0;
  while (p < size) {
    const st = top.status(p);
    const n = Math.max(1, Math.min(st.length, size - p));
    if (st.kind === ST_DATA) {
      for (let q = 0; q < n; q += chunk) {
        const m = Math.min(chunk, n - q);
        const buf = new Uint8Array(m);
        top.preadHost(buf, st.host + q);
        dst.write(p + q, buf);
      }
      copied += n;
    } else if (st.kind === ST_ZERO) {
      dst.writeZeroes(p, n);
      copied += n;
    }
    p += n;
  }
  return copied;
}

export interface CommitOptions {
  /** -b: the image of the chain to commit into (default: the immediate backing file); implies -d. */
  base?: string;
  /** -d: leave the top image as it is (not emptied). */
  keepTop?: boolean;
  /** -p: called with the percentage done. */
  progress?: (pct: number) => void;
}

/** Depth of `base` in the chain of `name` (qemu-img.c img_commit: bdrv_find_backing_image). */
function baseDepth(name: string, base: string, provider: BackendProvider): number {
  const c = Chain.open(provider, name, { readOnly: true, forceShare: true });
  try {
    const want = resolve(base);
    const k = c.layers.findIndex((l, i) => i > 0 && (l.name === base || resolve(l.name) === want));
    if (k < 0) throw new UserError('BLOCK_NO_BACKING', `Did not find '${base}' in the backing chain of '${name}'`, { where: '-b' });
    return k;
  } finally {
    c.close();
  }
}

/**
 * `qemu-img commit [-b BASE] [-d] [-p] FILE`: copies what the layers above BASE hold into it
 * (deepest first, so upper layers win), then empties the top unless -d or -b (qemu-img: "-b
 * implies -d", the images between would be invalid otherwise).
 */
export function commitImage(name: string, provider: BackendProvider = files(), opts: CommitOptions = {}): { bytes: number; into: string } {
  const depth = opts.base !== undefined ? baseDepth(name, opts.base, provider) : 1;
  const chain = Chain.open(provider, name, depth === 1 ? { backingWritable: true } : { writableDepth: depth });
  try {
    const top = qcow2Top(chain, 'commit');
    if (chain.layers.length < 2) throw new UserError('BLOCK_NO_BACKING', `Image '${name}' does not have a backing file`, { where: name });
    const below = new Chain(chain.layers.slice(depth));
    if (below.virtualSize < top.virtualSize) {
      throw new UserError('BLOCK_COMMIT_SIZE', `Top image '${name}' is larger than base image '${below.top.name}'; vfab does not resize the base`);
    }
    opts.progress?.(0);
    let bytes = 0;
    for (let i = depth - 1; i >= 0; i--) {
      bytes += copyAllocated(chain.layers[i]!, below);
      opts.progress?.(((depth - i) / depth) * 100);
    }
    below.flush();
    if (!opts.keepTop && opts.base === undefined) {
      top.makeEmpty();
      top.flush();
    }
    return { bytes, into: below.top.name };
  } finally {
    chain.close();
  }
}

/**
 * `qemu-img rebase -b NEW [-F FMT] [-u] FILE`: change (or with `newBacking` undefined, drop)
 * the backing file. Safe mode copies into the top every cluster whose content would change.
 */
export function rebaseImage(
  name: string,
  newBacking: string | undefined,
  opts: { backingFormat?: 'qcow2' | 'raw'; unsafe?: boolean } = {},
  provider: BackendProvider = files(),
): { copiedBytes: number } {
  const chain = Chain.open(provider, name, { noBacking: !!opts.unsafe });
  let next: Chain | undefined;
  try {
    const top = qcow2Top(chain, 'rebase');
    let copied = 0;
    if (!opts.unsafe) {
      if (newBacking !== undefined) {
        const resolved = provider.resolveBacking(name, newBacking);
        if (!provider.exists(resolved)) {
          throw new UserError('BLOCK_NO_BACKING', `Could not open new backing file '${newBacking}' (resolved to '${resolved}')`, { where: '-b' });
        }
        next = Chain.open(provider, resolved, { readOnly: true, forceShare: true, ...(opts.backingFormat ? { format: opts.backingFormat } : {}) });
      }
      const cs = top.cs;
      const a = new Uint8Array(cs);
      const b = new Uint8Array(cs);
      for (let p = 0; p < top.virtualSize; p += cs) {
        const st = top.status(p, cs);
        if (st.kind !== 0) continue;
        const n = Math.min(cs, top.virtualSize - p);
        const oa = a.subarray(0, n);
        const ob = b.subarray(0, n);
        if (chain.layers.length > 1) chain.readFrom(1, p, oa);
        else oa.fill(0);
        if (next) next.read(p, ob);
        else ob.fill(0);
        let same = true;
        for (let i = 0; i < n; i++) {
          if (oa[i] !== ob[i]) {
            same = false;
            break;
          }
        }
        if (!same) {
          top.write(p, oa.slice());
          copied += n;
        }
      }
    }
    top.setBacking(newBacking, newBacking !== undefined ? (opts.backingFormat ?? (next?.format ?? 'qcow2')) : undefined);
    top.flush();
    return { copiedBytes: copied };
  } finally {
    next?.close();
    chain.close();
  }
}
