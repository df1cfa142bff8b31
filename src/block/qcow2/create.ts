/**
 * Creating an empty qcow2 v3 image, laid out like `qemu-img create -f qcow2` (qcow2.c
 * qcow2_co_create): header in cluster 0, refcount table in cluster 1, the first refcount block
 * in cluster 2, then the L1 table. Nothing else is written: the image is thin.
 */
import { UserError } from '../../errors.js';
import type { BlockBackend } from '../backend.js';
import { AUTOCLEAR_DATA_FILE_RAW, INCOMPAT_DATA_FILE, INCOMPAT_EXTL2, MAX_CLUSTER_BITS, MAX_L1_BYTES, MAX_VIRTUAL_SIZE, MIN_CLUSTER_BITS, l1EntriesFor, putU64, serializeHeader, type Qcow2Header } from './header.js';
import { Qcow2Image } from './image.js';

export interface Qcow2CreateOptions {
  size: number;
  /** Bytes, power of two, 512 B – 2 MiB (default 64 KiB). */
  clusterSize?: number;
  backingFile?: string;
  backingFormat?: string;
  /** 1 … 64, power of two (default 16). */
  refcountBits?: number;
  /** Extended L2 entries: 32 subclusters per cluster (`-o extended_l2=on`; clusters ≥ 16 KiB). */
  extendedL2?: boolean;
  /** External data file name as stored in the header (`-o data_file=`). */
  dataFile?: string;
  /** `-o data_file_raw=on`: keep the data file a valid raw image (autoclear bit 1). */
  dataFileRaw?: boolean;
}

export function validateCreate(opts: Qcow2CreateOptions): { clusterBits: number; refcountOrder: number } {
  const cs = opts.clusterSize ?? 65536;
  const clusterBits = Math.log2(cs);
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new UserError('QCOW2_BAD_OPTION', `Cluster size must be a power of two between 512 and 2M (got ${cs})`, { where: 'cluster_size' });
  }
  const rb = opts.refcountBits ?? 16;
  const refcountOrder = Math.log2(rb);
  if (!Number.isInteger(refcountOrder) || refcountOrder < 0 || refcountOrder > 6) {
    throw new UserError('QCOW2_BAD_OPTION', `Refcount width must be a power of two and may not exceed 64 bits (got ${rb})`, { where: 'refcount_bits' });
  }
  if (!Number.isInteger(opts.size) || opts.size < 0 || opts.size > MAX_VIRTUAL_SIZE) {
    throw new UserError('QCOW2_BAD_OPTION', `Image size must be between 0 and 8 PiB (got ${opts.size})`, { where: 'size' });
  }
  if (opts.size % 512 !== 0) {
    throw new UserError('QCOW2_BAD_OPTION', `Image size must be a multiple of 512 bytes (got ${opts.size})`, { where: 'size' });
  }
  // qcow2.c qcow2_co_create: the same refusal, the same words.
  if (opts.extendedL2 && cs < 16384) {
    throw new UserError('QCOW2_BAD_OPTION', 'Extended L2 entries are only supported with cluster sizes of at least 16384 bytes', { where: 'extended_l2' });
  }
  // qcow2.c qcow2_co_create: its refusals and words.
  if (opts.dataFileRaw && opts.dataFile === undefined) {
    throw new UserError('QCOW2_BAD_OPTION', 'data-file-raw requires data-file', { where: 'data_file_raw' });
  }
  if (opts.dataFileRaw && opts.backingFile !== undefined) {
    throw new UserError('QCOW2_BAD_OPTION', 'Backing file and data-file-raw cannot be used at the same time', { where: 'data_file_raw' });
  }
  if (l1EntriesFor(opts.size, clusterBits, opts.extendedL2) * 8 > MAX_L1_BYTES) {
    throw new UserError('QCOW2_BAD_OPTION', `Image size ${opts.size} is too big for cluster size ${cs}: the L1 table would exceed 32 MiB`, { where: 'size' });
  }
  if (opts.backingFile !== undefined && opts.backingFile.length > 1023) {
    throw new UserError('QCOW2_BAD_OPTION', 'Backing file name is longer than 1023 bytes', { where: 'backing_file' });
  }
  return { clusterBits, refcountOrder };
}

/** Validates the options and builds the header of the new image (nothing is written). */
export function planQcow2(opts: Qcow2CreateOptions): Qcow2Header {
  const { clusterBits, refcountOrder } = validateCreate(opts);
  const cs = 2 ** clusterBits;
  const header: Qcow2Header = {
    version: 3,
    backingFileOffset: 0,
    backingFileSize: 0,
    clusterBits,
    size: 0, // set once the L1 table exists (the opener checks l1_size against size)
    cryptMethod: 0,
    l1Size: 0,
    l1TableOffset: 0,
    refcountTableOffset: cs,
    refcountTableClusters: 1,
    nbSnapshots: 0,
    snapshotsOffset: 0,
    incompatibleFeatures: (opts.extendedL2 ? INCOMPAT_EXTL2 : 0) | (opts.dataFile !== undefined ? INCOMPAT_DATA_FILE : 0),
    compatibleFeatures: 0,
    autoclearFeatures: opts.dataFileRaw ? AUTOCLEAR_DATA_FILE_RAW : 0,
    refcountOrder,
    headerLength: 112,
    compressionType: 0,
    backingFormat: opts.backingFile !== undefined ? (opts.backingFormat ?? 'qcow2') : undefined,
    backingFile: opts.backingFile,
    dataFile: opts.dataFile,
    dataFileAt: 0,
    unknownExtensions: [],
  };
  serializeHeader({ ...header }); // throws when the backing name does not fit in cluster 0
  return header;
}

/** Writes an empty image to `backend` (which must be empty) and returns it opened read-write. */
export function createQcow2(backend: BlockBackend, opts: Qcow2CreateOptions): Qcow2Image {
  const header = planQcow2(opts);
  const cs = 2 ** header.clusterBits;
  const refcountOrder = header.refcountOrder;
  const clusterBits = header.clusterBits;
  backend.truncate(0);
  backend.truncate(3 * cs);
  backend.pwrite(serializeHeader(header), 0);
  const table = new Uint8Array(8);
  putU64(new DataView(table.buffer), 0, 2 * cs);
  backend.pwrite(table, cs);
  // Refcount 1 for clusters 0, 1, 2 in the first block (any refcount width).
  const block = new Uint8Array(cs);
  const bits = 2 ** refcountOrder;
  for (let c = 0; c < 3; c++) {
    const bit = c * bits;
    if (bits >= 8) block[(bit + bits) / 8 - 1] = 1;
    else block[Math.floor(bit / 8)]! |= 1 << (bit % 8);
  }
  backend.pwrite(block, 2 * cs);
  const img = Qcow2Image.open(backend, { readOnly: false });
  const l1Size = l1EntriesFor(opts.size, clusterBits, opts.extendedL2);
  if (l1Size > 0) {
    const off = img.allocMeta(Math.ceil((l1Size * 8) / cs));
    img.header.l1Size = l1Size;
    img.header.l1TableOffset = off;
    img.reloadL1();
  }
  img.header.size = opts.size;
  img.writeHeader();
  return img;
}
