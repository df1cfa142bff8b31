/**
 * Backing chains: the disk a guest sees is the top layer, whose unallocated clusters read from
 * its backing image, recursively (QEMU block.c bdrv_co_block_status_above, qcow2 COW).
 *
 * Design: read speed independent of depth. A chain-wide index maps each granule (the smallest
 * cluster size in the chain) to the layer that answers it and the host offset there, so a read
 * costs one bounded-LRU lookup and one pread whatever the depth. Misses resolve top-down through
 * each layer's own L2 cache. Only the top layer is ever written by the chain, so a write just
 * forgets the granules it touched; commit/rebase/snapshot-apply forget everything.
 *
 * Limits: at most MAX_CHAIN_DEPTH layers (QEMU has no fixed limit, but users report trouble past
 * a few dozen; vfab's reads do not slow down with depth, the cost is one open file per layer).
 */
import { isAbsolute } from 'node:path';
import { LRUCache } from 'lru-cache';
import { UserError } from '../errors.js';
import { MemoryBackend, type BlockBackend } from './backend.js';
import { ST_DATA, ST_UNALLOC, type BlockImage, type Layer, type MapExtent, type StatusKind } from './image.js';
import { FS_BLOCK, Qcow2Image, isZeroRange } from './qcow2/image.js';
import { QCOW2_MAGIC } from './qcow2/header.js';
import { attachDataFile } from './qcow2/data-file.js';
import { RawLayer } from './raw.js';

export const MAX_CHAIN_DEPTH = 256;
export const DEFAULT_INDEX_ENTRIES = 1 << 18;

/** Where image bytes live: files (FileProvider in file-backend.adapter.ts) or memory. */
export interface BackendProvider {
  open(name: string, opts: { write: boolean; forceShare: boolean }): BlockBackend;
  /** A new empty backend (truncating an existing one), open for writing. */
  create(name: string): BlockBackend;
  /** The name a backing reference means, seen from `overlay` (relative to its directory for files). */
  resolveBacking(overlay: string, backing: string): string;
  exists(name: string): boolean;
  /** Deletes a half-created image (optional). */
  remove?(name: string): void;
  /** One key per underlying image whatever the spelling (loop detection); the name by default. */
  identity?(name: string): string;
}

/** Named in-memory backends: tests and memory-backed topology disks. */
export class MemoryProvider implements BackendProvider {
  constructor(readonly backends = new Map<string, BlockBackend>()) {}
  open(name: string): BlockBackend {
    const b = this.backends.get(name);
    if (!b) throw new UserError('BLOCK_NO_FILE', `Could not open '${name}': No such file or directory`, { where: name });
    return b;
  }
  create(name: string): BlockBackend {
    const b = new MemoryBackend(`memory:${name}`);
    this.backends.set(name, b);
    return b;
  }
  resolveBacking(_overlay: string, backing: string): string {
    return backing;
  }
  exists(name: string): boolean {
    return this.backends.has(name);
  }
}

/**
 * Path rules of QEMU (block.c bdrv_get_full_backing_filename → cutils.c path_combine): a relative
 * backing name is appended to the overlay's name up to its last '/', without normalising, so
 * `top.qcow2` → `base.qcow2` and `/d/top.qcow2` → `/d/base.qcow2`, the names qemu-img prints.
 */
export function resolveBackingPath(overlay: string, backing: string): string {
  if (isAbsolute(backing)) return backing;
  return overlay.slice(0, overlay.lastIndexOf('/') + 1) + backing;
}

export interface ChainOpenOptions {
  readOnly?: boolean;
  /** Open readers even if a writer holds the lock (qemu -U). */
  forceShare?: boolean;
  /** Format of the top image (probed when absent). */
  format?: 'qcow2' | 'raw';
  /** Also open the first backing layer read-write (commit). */
  backingWritable?: boolean;
  /** Also open the layer at this depth read-write (commit -b BASE). */
  writableDepth?: number;
  /** Open only the top layer (no backing chain): `info` without --backing-chain, rebase -u. */
  noBacking?: boolean;
  indexEntries?: number;
  l2CacheBytes?: number;
  /** Open for check: a dirty image is not repaired on open (qemu-img check, BDRV_O_CHECK). */
  checkOnly?: boolean;
  /** Metadata barriers (fdatasync) on the writable layers; default true. */
  barriers?: boolean;
}

interface IndexEntry {
  layer: number;
  kind: StatusKind;
  /** Host offset of the granule start in `layer` (data only). */
  host: number;
}

interface Resolved extends IndexEntry {
  /** Bytes from the asked offset sharing this answer. */
  length: number;
  /** A zero/unallocated answer whose host offset is valid even when it is 0 (LayerStatus.hostValid). */
  hostValid?: boolean;
}

export function probeFormat(backend: BlockBackend): 'qcow2' | 'raw' {
  const b = new Uint8Array(4);
  backend.pread(b, 0);
  return new DataView(b.buffer).getUint32(0) === QCOW2_MAGIC ? 'qcow2' : 'raw';
}

export function openLayer(backend: BlockBackend, format: string, readOnly: boolean, l2CacheBytes?: number, checkOnly = false, barriers = true): Layer {
  if (format === 'qcow2') return Qcow2Image.open(backend, { readOnly, checkOnly, barriers, ...(l2CacheBytes !== undefined ? { l2CacheBytes } : {}) });
  if (format === 'raw') return new RawLayer(backend, readOnly);
  throw new UserError('BLOCK_UNKNOWN_FORMAT', `Unknown driver '${format}' (vfab knows qcow2 and raw)`, { where: backend.name });
}

/** The file a layer's host offsets point into: the data file of a qcow2 image that has one. */
function hostFileName(layer: Layer): string {
  return layer instanceof Qcow2Image && layer.header.dataFile !== undefined ? layer.header.dataFile : layer.name;
}

export class Chain implements BlockImage {
  readonly granule: number;
  /** Created on the first read (lru-cache preallocates `max` slots; opening must stay cheap). */
  private indexStore: LRUCache<number, IndexEntry> | undefined;
  private indexMax = DEFAULT_INDEX_ENTRIES;
  lookups = 0;
  misses = 0;

  constructor(readonly layers: Layer[]) {
    if (layers.length === 0) throw new UserError('BLOCK_EMPTY_CHAIN', 'a chain needs at least one image');
    this.granule = Math.min(...layers.filter((l) => l.format === 'qcow2').map((l) => l.granule), 65536);
    this.wireBacking();
  }

  private wireBacking(): void {
    this.layers.forEach((l, i) => {
      l.setBackingReader(i + 1 < this.layers.length ? (off, buf) => this.readFrom(i + 1, off, buf) : undefined);
    });
  }

  static open(provider: BackendProvider, name: string, opts: ChainOpenOptions = {}): Chain {
    const layers: Layer[] = [];
    const seen = new Set<string>();
    const names: string[] = [];
    let cur = name;
    let format: string | undefined = opts.format;
    try {
      for (let depth = 0; ; depth++) {
        const key = provider.identity ? provider.identity(cur) : cur;
        if (seen.has(key)) {
          throw new UserError('BLOCK_CHAIN_LOOP', `backing chain loop: '${cur}' is its own backing file (${[...names, cur].join(' -> ')})`, { where: name });
        }
        if (depth >= MAX_CHAIN_DEPTH) {
          throw new UserError('BLOCK_CHAIN_TOO_DEEP', `backing chain of '${name}' is deeper than ${MAX_CHAIN_DEPTH} images`, { where: name });
        }
        seen.add(key);
        names.push(cur);
        const write = depth === 0 ? !opts.readOnly : (depth === 1 && !!opts.backingWritable) || depth === opts.writableDepth;
        const backend = provider.open(cur, { write, forceShare: !!opts.forceShare });
        let layer: Layer;
        try {
          const probed = probeFormat(backend);
          layer = openLayer(backend, format ?? probed, !write, opts.l2CacheBytes, !!opts.checkOnly, opts.barriers ?? true);
        } catch (e) {
          backend.close();
          throw e;
        }
        if (layer instanceof Qcow2Image && layer.hasDataFile) {
          try {
            attachDataFile(layer, provider, !!opts.forceShare);
          } catch (e) {
            layer.close();
            throw e;
          }
        }
        layers.push(layer);
        if (opts.noBacking || layer.backingFile === undefined) break;
        const next = provider.resolveBacking(cur, layer.backingFile);
        if (!provider.exists(next)) {
          throw new UserError('BLOCK_NO_BACKING', `Could not open backing file '${layer.backingFile}' of '${cur}' (resolved to '${next}'): No such file or directory`, { where: cur });
        }
        cur = next;
        format = layer.backingFormat;
      }
    } catch (e) {
      for (const l of layers) l.close();
      throw e;
    }
    const chain = new Chain(layers);
    if (opts.indexEntries !== undefined) chain.indexMax = Math.max(16, opts.indexEntries);
    return chain;
  }

  private get index(): LRUCache<number, IndexEntry> {
    return (this.indexStore ??= new LRUCache({ max: this.indexMax }));
  }

  get top(): Layer {
    return this.layers[0]!;
  }
  get format(): 'qcow2' | 'raw' {
    return this.top.format;
  }
  get virtualSize(): number {
    return this.top.virtualSize;
  }
  get readOnly(): boolean {
    return this.top.readOnly;
  }

  /** Which layer answers `offset`, looking from layer `from` down. */
  resolve(offset: number, from = 0, maxLength = Infinity): Resolved {
    let length = maxLength;
    for (let i = from; i < this.layers.length; i++) {
      const l = this.layers[i]!;
      if (offset >= l.virtualSize) {
        // Past the end of a (smaller) backing image: a hole of the layer above, reading zeros with
        // no further fall-through (QEMU bdrv_co_block_status_above; qemu-img map shows it so).
        return { layer: Math.max(from, i - 1), kind: ST_UNALLOC, host: 0, length: Math.min(length, this.virtualSize - offset) };
      }
      const st = l instanceof Qcow2Image ? l.status(offset, length) : l.status(offset);
      length = Math.min(length, st.length, l.virtualSize - offset);
      if (st.kind !== ST_UNALLOC) return { layer: i, kind: st.kind, host: st.host, length, ...(st.hostValid ? { hostValid: true } : {}) };
      // An unallocated subcluster of an allocated cluster in the bottom layer keeps its host
      // offset (qcow2.c qcow2_co_block_status sets BDRV_BLOCK_OFFSET_VALID; qemu-img map prints it).
      if (i === this.layers.length - 1) return { layer: i, kind: ST_UNALLOC, host: st.host, length, ...(st.hostValid ? { hostValid: true } : {}) };
    }
    return { layer: this.layers.length - 1, kind: ST_UNALLOC, host: 0, length };
  }

  read(offset: number, buf: Uint8Array): void {
    this.readFrom(0, offset, buf);
  }

  /** Reads as seen from layer `from` (0 = the guest view; 1 = what COW copies from). */
  readFrom(from: number, offset: number, buf: Uint8Array): void {
    const G = this.granule;
    const size = from === 0 ? this.virtualSize : this.layers[from]!.virtualSize;
    // A lone raw image maps every offset to itself (RawLayer.status: all data, host = offset), so
    // the index has nothing to cache: read straight through (the NBD export's hot path).
    if (from === 0 && this.layers.length === 1 && this.layers[0] instanceof RawLayer) {
      const n = Math.max(0, Math.min(buf.length, size - offset));
      if (n > 0) this.layers[0].preadHost(n === buf.length ? buf : buf.subarray(0, n), offset);
      if (n < buf.length) buf.fill(0, n);
      return;
    }
    let p = offset;
    const end = offset + buf.length;
    while (p < end) {
      if (p >= size) {
        buf.fill(0, p - offset);
        return;
      }
      const g = Math.floor(p / G);
      const intra = p - g * G;
      this.lookups++;
      let e = this.index.get(g);
      let layer: number;
      let kind: StatusKind;
      let host: number;
      let n: number;
      if (e && e.layer >= from) {
        layer = e.layer;
        kind = e.kind;
        host = e.kind === ST_DATA ? e.host + intra : 0;
        n = Math.min(G - intra, end - p, size - p);
      } else {
        this.misses++;
        const r = this.resolve(g * G, from, G);
        if (r.length >= G && from === 0) {
          e = { layer: r.layer, kind: r.kind, host: r.host };
          this.index.set(g, e);
        }
        if (r.length >= G || intra < r.length) {
          layer = r.layer;
          kind = r.kind;
          host = r.kind === ST_DATA ? r.host + intra : 0;
          n = Math.min(r.length - intra, end - p, size - p);
        } else {
          const r2 = this.resolve(p, from, G - intra);
          layer = r2.layer;
          kind = r2.kind;
          host = r2.host;
          n = Math.min(r2.length, end - p, size - p);
        }
      }
      const piece = buf.subarray(p - offset, p - offset + n);
      if (kind === ST_DATA) this.layers[layer]!.preadHost(piece, host);
      else piece.fill(0);
      p += n;
    }
  }

  private forget(offset: number, length: number): void {
    const G = this.granule;
    const first = Math.floor(offset / G);
    const last = Math.floor((offset + Math.max(length, 1) - 1) / G);
    if (!this.indexStore) return;
    if (last - first > this.index.size) this.index.clear();
    else for (let g = first; g <= last; g++) this.index.delete(g);
  }

  /** Forgets every cached mapping (after commit, rebase, snapshot apply). */
  invalidate(): void {
    this.indexStore?.clear();
  }

  write(offset: number, data: Uint8Array): void {
    this.top.write(offset, data);
    this.forget(offset, data.length);
  }

  discard(offset: number, length: number): void {
    this.top.discard(offset, length);
    this.forget(offset, length);
  }

  writeZeroes(offset: number, length: number, opts?: { unmap?: boolean }): void {
    this.top.writeZeroes(offset, length, opts);
    this.forget(offset, length);
  }

  flush(): void {
    for (const l of this.layers) if (!l.readOnly) l.flush();
  }

  close(): void {
    for (const l of this.layers) l.close();
  }

  /**
   * `qemu-img map`: extents with the layer that answers, merged like qemu-img.c dump_map
   * (entry_mergeable: same flags, depth and file, contiguous offsets).
   *
   * Holes inside data. QEMU asks the file system (file-posix.c find_allocation, SEEK_DATA /
   * SEEK_HOLE) for the host range of a data cluster when the qcow2 layer looks preallocated
   * (Qcow2Image.looksPreallocated; io.c bdrv_co_block_status, BDRV_BLOCK_RECURSE), and always
   * for raw layers: a hole is reported zero:true (qcow2: data:true too; raw: data:false). Node
   * cannot seek for holes, so vfab reads the range and calls each all-zero 4 KiB file block a
   * hole. vfab never writes such blocks into fresh clusters, so on images it wrote the answers
   * agree; zeros written as bytes (by the guest, or over old data) are the known difference:
   * QEMU says zero:false there.
   */
  allocationMap(): MapExtent[] {
    const out: MapExtent[] = [];
    const size = this.virtualSize;
    const holesSeen = new Map<number, boolean>();
    // Raw files: once blocks holding data add up to what the file really stores (st_blocks),
    // the rest must be holes and is not read (a 1 TiB sparse raw disk maps without reading it).
    const rawLeft = new Map<number, number>();
    const seesHoles = (i: number): boolean => {
      let v = holesSeen.get(i);
      if (v === undefined) {
        const l = this.layers[i]!;
        v = l instanceof Qcow2Image ? l.looksPreallocated() : true;
        holesSeen.set(i, v);
      }
      return v;
    };
    const push = (ext: MapExtent): void => {
      const prev = out[out.length - 1];
      if (
        prev &&
        prev.depth === ext.depth &&
        prev.present === ext.present &&
        prev.zero === ext.zero &&
        prev.data === ext.data &&
        prev.file === ext.file &&
        (prev.offset === undefined) === (ext.offset === undefined) &&
        (prev.offset === undefined || prev.offset + prev.length === ext.offset)
      ) {
        prev.length += ext.length;
      } else out.push(ext);
    };
    let p = 0;
    while (p < size) {
      const r = this.resolve(p, 0, size - p);
      const n = Math.max(1, Math.min(r.length, size - p));
      const layer = this.layers[r.layer]!;
      if (r.kind === ST_DATA && r.host >= 0 && seesHoles(r.layer)) {
        const raw = layer.format === 'raw';
        if (raw && !rawLeft.has(r.layer)) rawLeft.set(r.layer, layer.fileAllocatedBytes());
        const budget = raw ? { left: rawLeft.get(r.layer)! } : undefined;
        this.scanHoles(layer, r.host, n, budget, (q, len, hole) =>
          push({ start: p + q, length: len, depth: r.layer, present: true, zero: hole, data: !(raw && hole), offset: r.host + q, file: hostFileName(layer) }),
        );
        if (budget) rawLeft.set(r.layer, budget.left);
      } else {
        const ext: MapExtent = {
          start: p,
          length: n,
          depth: r.layer,
          present: r.kind !== ST_UNALLOC,
          zero: r.kind !== ST_DATA,
          data: r.kind === ST_DATA,
        };
        // Data and preallocated zero clusters have a host offset (qcow2.c qcow2_co_block_status).
        // Compressed clusters (negative synthetic host) have none: QEMU gives them no
        // BDRV_BLOCK_OFFSET_VALID (qcow2_co_block_status, QCOW2_SUBCLUSTER_COMPRESSED).
        if (r.kind === ST_DATA && r.host < 0) ext.compressed = true;
        else if (r.kind === ST_DATA || r.host > 0 || r.hostValid) {
          ext.offset = r.host;
          ext.file = hostFileName(layer);
        }
        push(ext);
      }
      p += n;
    }
    return out;
  }

  /**
   * Calls `emit(q, len, hole)` for the pieces of host range [host, host+n), cut at 4 KiB file
   * blocks. With a `budget` of allocated bytes left, stops reading once it is spent: the rest is
   * holes.
   */
  private scanHoles(layer: Layer, host: number, n: number, budget: { left: number } | undefined, emit: (q: number, len: number, hole: boolean) => void): void {
    const CHUNK = 1 << 20;
    const buf = new Uint8Array(Math.min(CHUNK, n));
    for (let q = 0; q < n; ) {
      if (budget && budget.left <= 0) {
        emit(q, n - q, true);
        return;
      }
      const m = Math.min(CHUNK, n - q);
      const view = buf.subarray(0, m);
      layer.preadHost(view, host + q);
      for (let i = 0; i < m; ) {
        const h = host + q + i;
        const e = Math.min(m, i + FS_BLOCK - (h % FS_BLOCK));
        const hole = isZeroRange(view, i, e);
        if (budget && !hole) budget.left -= FS_BLOCK;
        emit(q + i, e - i, hole);
        i = e;
      }
      q += m;
    }
  }
}
