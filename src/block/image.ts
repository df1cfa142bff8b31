/**
 * The common interface of disk images (raw, qcow2, chains of them) and of one layer in a chain.
 */

/** One extent of `map` output, shaped like `qemu-img map --output=json`. */
export interface MapExtent {
  start: number;
  length: number;
  /** Layer that answers (0 = top); holes report the bottom layer, as qemu-img does. */
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
  /** Host offset in the answering layer's file when `data`. */
  offset?: number;
  /** Path of the answering layer (vfab extra). */
  file?: string;
  /** Compressed clusters (no host offset; not in qemu-img 7.2's JSON). */
  compressed?: boolean;
}

/** What a guest sees: a byte-addressed disk. */
export interface BlockImage {
  readonly format: 'qcow2' | 'raw';
  readonly virtualSize: number;
  readonly readOnly: boolean;
  /** Fills `buf` from `offset` (zeros past the end). */
  read(offset: number, buf: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
  /** Drops whole clusters in the range (they read as zeros); partial clusters are left alone, like QEMU. */
  discard(offset: number, length: number): void;
  /** `unmap` (default true): QEMU's BDRV_REQ_MAY_UNMAP, allocated clusters may be given back. */
  writeZeroes(offset: number, length: number, opts?: { unmap?: boolean }): void;
  /** Durability barrier: everything written before is on stable storage when it returns. */
  flush(): void;
  close(): void;
  allocationMap(): MapExtent[];
}

export const ST_UNALLOC = 0;
export const ST_ZERO = 1;
export const ST_DATA = 2;
export type StatusKind = typeof ST_UNALLOC | typeof ST_ZERO | typeof ST_DATA;

/** Status of a run of bytes in one layer: `length` bytes from the asked offset share it. */
export interface LayerStatus {
  kind: StatusKind;
  /** Host offset of the asked byte (data only). */
  host: number;
  length: number;
  /**
   * A zero or unallocated run that still has a host offset, even 0 (a preallocated zero cluster,
   * an unallocated subcluster of an allocated cluster, in an external data file at offset 0).
   */
  hostValid?: boolean;
}

/** One image file of a chain (qcow2 or raw), without its backing. */
export interface Layer {
  readonly format: 'qcow2' | 'raw';
  readonly name: string;
  readonly virtualSize: number;
  readonly readOnly: boolean;
  /** Allocation granule (cluster size for qcow2). */
  readonly granule: number;
  readonly backingFile: string | undefined;
  readonly backingFormat: string | undefined;
  status(offset: number): LayerStatus;
  /** Reads `buf.length` bytes of host file at `host`. */
  preadHost(buf: Uint8Array, host: number): void;
  write(offset: number, data: Uint8Array): void;
  discard(offset: number, length: number): void;
  writeZeroes(offset: number, length: number, opts?: { unmap?: boolean }): void;
  flush(): void;
  close(): void;
  /** Where COW reads of unallocated clusters go (the rest of the chain). */
  setBackingReader(fn: ((offset: number, buf: Uint8Array) => void) | undefined): void;
  fileAllocatedBytes(): number;
  fileSize(): number;
}
