/**
 * Persistent dirty bitmaps: the qcow2 bitmaps extension (QEMU docs/interop/qcow2.txt "Bitmaps
 * extension", "Bitmap directory", "Bitmap table", "Bitmap data"; block/qcow2-bitmap.c).
 *
 * Layout. Header extension 0x23852875 (24 bytes: nb_bitmaps u32, reserved u32,
 * bitmap_directory_size u64, bitmap_directory_offset u64), valid only while autoclear bit 0 is
 * set. Each directory entry: bitmap_table_offset u64, bitmap_table_size u32, flags u32
 * (bit 0 in_use, bit 1 auto, bit 2 extra_data_compatible), type u8 (1 = dirty tracking),
 * granularity_bits u8, name_size u16, extra_data_size u32, extra data, name, padded to 8. The
 * bitmap table has one u64 per data cluster (bits 9-55 the host offset; 0 with bit 0 clear: all
 * zeros, with bit 0 set: all ones). Bit k of the bitmap is bit k%8 of byte k/8 of the data
 * (QEMU serialises little-endian longs, hbitmap_serialize_part).
 *
 * Life cycle (as QEMU's qcow2_load_dirty_bitmaps / qcow2_store_persistent_dirty_bitmaps): a
 * read-write open loads the enabled (`auto`) bitmaps into memory and marks them in_use on disk,
 * so a crash leaves them flagged inconsistent rather than silently stale; guest writes set bits in
 * memory; close stores the bits and clears in_use. A bitmap found in_use at open is inconsistent:
 * kept as it is, never tracked, only removable.
 *
 * Crash safety: a store writes the new data clusters, tables and directory into freshly allocated
 * clusters, then (barrier) switches the header extension in one write of cluster 0, then
 * (barrier) frees what the old directory used. A crash before the switch leaves the old bitmaps
 * plus leaked clusters (repairable with check -r leaks), never a directory pointing at garbage.
 *
 * Costs: each tracked bitmap holds ceil(size / granularity / 8) bytes (2 MiB per TiB at 64 KiB
 * granularity), bounded by QEMU's BME_MAX_PHYS_SIZE (512 MiB); marking a write is O(bytes of
 * bitmap touched).
 */
import { UserError } from '../../errors.js';
import { EXT_BITMAPS, putU64, u64 } from './header.js';
import type { Qcow2Image } from './image.js';

export const AUTOCLEAR_BITMAPS = 1;
export const BME_FLAG_IN_USE = 1;
export const BME_FLAG_AUTO = 2;
export const BME_FLAG_EXTRA_DATA_COMPATIBLE = 4;
const BME_RESERVED_FLAGS = ~7;
/** block/qcow2-bitmap.c limits. */
export const BME_MIN_GRANULARITY_BITS = 9;
export const BME_MAX_GRANULARITY_BITS = 31;
const BME_MAX_TABLE_SIZE = 0x8000000;
const BME_MAX_PHYS_SIZE = 0x20000000;
const BME_MAX_NAME_SIZE = 1023;
export const QCOW2_MAX_BITMAPS = 65535;
const QCOW2_MAX_BITMAP_DIRECTORY_SIZE = 1024 * QCOW2_MAX_BITMAPS;
const BT_DIRTY_TRACKING = 1;

export interface Bitmap {
  name: string;
  granularityBits: number;
  flags: number;
  type: number;
  extra: Uint8Array;
  tableOffset: number;
  tableSize: number;
  /** The bits, when loaded (tracked, or changed by a verb). */
  bits?: Uint8Array;
  /** Bits changed since load: the store writes new data clusters. */
  changed: boolean;
  /** Set bits on guest writes (enabled and consistent at open, or added enabled). */
  tracked: boolean;
}

interface ExtInfo {
  nb: number;
  dirSize: number;
  dirOffset: number;
}

function bad(img: Qcow2Image, what: string): UserError {
  return new UserError('QCOW2_BAD_BITMAPS', `${img.name}: invalid bitmaps extension: ${what}`, { where: img.name });
}

/** The extension's fields, or undefined when there is none or it is not valid (autoclear bit clear). */
export function bitmapExt(img: Qcow2Image): ExtInfo | undefined {
  const e = img.header.unknownExtensions.find((x) => x.type === EXT_BITMAPS);
  if (!e || !(img.header.autoclearFeatures & AUTOCLEAR_BITMAPS)) return undefined;
  if (e.data.length < 24) throw bad(img, `extension is ${e.data.length} bytes, must be 24`);
  const dv = new DataView(e.data.buffer, e.data.byteOffset, e.data.byteLength);
  return { nb: dv.getUint32(0), dirSize: u64(dv, 8), dirOffset: u64(dv, 16) };
}

export function bitCount(size: number, granularityBits: number): number {
  return Math.ceil(size / 2 ** granularityBits);
}

/** Bitmap table entries (data clusters) a bitmap of this size needs. */
export function tableSizeFor(size: number, granularityBits: number, cs: number): number {
  return Math.ceil(Math.ceil(bitCount(size, granularityBits) / 8) / cs);
}

/** Reads and validates the bitmap directory (qcow2-bitmap.c bitmap_list_load, check_dir_entry). */
export function loadDirectory(img: Qcow2Image): Bitmap[] {
  const ext = bitmapExt(img);
  if (!ext) return [];
  const cs = img.cs;
  const fileSize = img.backend.size();
  if (ext.nb === 0 || ext.nb > QCOW2_MAX_BITMAPS) throw bad(img, `nb_bitmaps is ${ext.nb}; must be 1 to ${QCOW2_MAX_BITMAPS}`);
  if (ext.dirSize === 0 || ext.dirSize > QCOW2_MAX_BITMAP_DIRECTORY_SIZE) throw bad(img, `bitmap_directory_size is ${ext.dirSize}; must be 1 to ${QCOW2_MAX_BITMAP_DIRECTORY_SIZE}`);
  if (ext.dirOffset % cs !== 0 || ext.dirOffset === 0) throw bad(img, `bitmap_directory_offset ${ext.dirOffset} is not a non-zero multiple of the cluster size`);
  if (ext.dirOffset + ext.dirSize > fileSize) throw bad(img, `bitmap directory [${ext.dirOffset}, +${ext.dirSize}) runs past the end of the file (${fileSize} bytes)`);
  const dir = new Uint8Array(ext.dirSize);
  img.backend.pread(dir, ext.dirOffset);
  const dv = new DataView(dir.buffer);
  const out: Bitmap[] = [];
  let off = 0;
  const names = new Set<string>();
  for (let i = 0; i < ext.nb; i++) {
    const at = `directory entry ${i} (byte ${ext.dirOffset + off})`;
    if (off + 24 > dir.length) throw bad(img, `${at} runs past bitmap_directory_size`);
    const tableOffset = u64(dv, off);
    const tableSize = dv.getUint32(off + 8);
    const flags = dv.getUint32(off + 12);
    const type = dv.getUint8(off + 16);
    const granularityBits = dv.getUint8(off + 17);
    const nameSize = dv.getUint16(off + 18);
    const extraSize = dv.getUint32(off + 20);
    const entryLen = Math.ceil((24 + extraSize + nameSize) / 8) * 8;
    if (extraSize > dir.length || off + 24 + extraSize + nameSize > dir.length) throw bad(img, `${at} runs past bitmap_directory_size`);
    const extra = dir.slice(off + 24, off + 24 + extraSize);
    const name = new TextDecoder().decode(dir.subarray(off + 24 + extraSize, off + 24 + extraSize + nameSize));
    if (nameSize === 0 || nameSize > BME_MAX_NAME_SIZE) throw bad(img, `${at}: name_size ${nameSize} must be 1 to ${BME_MAX_NAME_SIZE}`);
    if (names.has(name)) throw bad(img, `${at}: bitmap name '${name}' appears twice`);
    names.add(name);
    if (type !== BT_DIRTY_TRACKING) throw bad(img, `${at}: type ${type} (only 1, dirty tracking, is defined)`);
    if (flags & BME_RESERVED_FLAGS) throw bad(img, `${at}: reserved flag bits set (0x${flags.toString(16)})`);
    if (granularityBits < BME_MIN_GRANULARITY_BITS || granularityBits > BME_MAX_GRANULARITY_BITS) {
      throw bad(img, `${at}: granularity_bits ${granularityBits} must be ${BME_MIN_GRANULARITY_BITS} to ${BME_MAX_GRANULARITY_BITS}`);
    }
    if (extraSize !== 0 && !(flags & BME_FLAG_EXTRA_DATA_COMPATIBLE)) {
      throw new UserError('QCOW2_UNSUPPORTED_FEATURE', `${img.name}: bitmap '${name}' has extra data vfab does not understand (${at})`);
    }
    // check_dir_entry: an in-use bitmap may have a stale table; a consistent one must match the size.
    if (!(flags & BME_FLAG_IN_USE)) {
      const want = tableSizeFor(img.virtualSize, granularityBits, cs);
      if (tableSize !== want) throw bad(img, `${at}: bitmap_table_size ${tableSize}, a ${img.virtualSize}-byte image needs ${want}`);
    }
    if (tableSize > BME_MAX_TABLE_SIZE || tableSize * cs > BME_MAX_PHYS_SIZE) throw bad(img, `${at}: bitmap_table_size ${tableSize} is too large`);
    if (tableOffset % cs !== 0 || tableOffset === 0 || tableOffset + tableSize * 8 > fileSize) {
      throw bad(img, `${at}: bitmap_table_offset ${tableOffset} is unaligned or past the end of the file`);
    }
    out.push({ name, granularityBits, flags, type, extra, tableOffset, tableSize, changed: false, tracked: false });
    off += entryLen;
  }
  return out;
}

/** Bitmap table entries as host offsets (0: all zeros, -1: all ones). */
export function readTable(img: Qcow2Image, b: Bitmap): number[] {
  const raw = new Uint8Array(b.tableSize * 8);
  img.backend.pread(raw, b.tableOffset);
  const dv = new DataView(raw.buffer);
  const fileSize = img.backend.size();
  const out: number[] = [];
  for (let i = 0; i < b.tableSize; i++) {
    const hi = dv.getUint32(i * 8);
    const lo = dv.getUint32(i * 8 + 4);
    const off = (hi & 0x00ffffff) * 4294967296 + ((lo & 0xfffffe00) >>> 0);
    if (hi & 0xff000000 || lo & 0x1fe) throw bad(img, `bitmap '${b.name}' table entry ${i} (byte ${b.tableOffset + i * 8}) has reserved bits set`);
    if (off === 0) out.push(lo & 1 ? -1 : 0);
    else {
      if (off % img.cs !== 0 || off + img.cs > fileSize || lo & 1) throw bad(img, `bitmap '${b.name}' table entry ${i} (byte ${b.tableOffset + i * 8}) points to bad offset ${off}`);
      out.push(off);
    }
  }
  return out;
}

/** Loads a bitmap's bits into memory (the table says where its data clusters are). */
export function loadBits(img: Qcow2Image, b: Bitmap): Uint8Array {
  if (b.bits) return b.bits;
  if (b.flags & BME_FLAG_IN_USE) {
    throw new UserError('QCOW2_BITMAP_IN_USE', `${img.name}: bitmap '${b.name}' is inconsistent (in_use flag set: the image was not closed cleanly while it was tracked); remove it`, {
      where: b.name,
    });
  }
  const bytes = Math.ceil(bitCount(img.virtualSize, b.granularityBits) / 8);
  const bits = new Uint8Array(bytes);
  const cs = img.cs;
  readTable(img, b).forEach((host, i) => {
    const part = bits.subarray(i * cs, Math.min(bytes, (i + 1) * cs));
    if (host === -1) part.fill(0xff);
    else if (host !== 0) img.backend.pread(part, host);
  });
  // Bits past the end of the disk are not part of the bitmap.
  const nbits = bitCount(img.virtualSize, b.granularityBits);
  if (nbits % 8 !== 0 && bytes > 0) bits[bytes - 1]! &= (1 << nbits % 8) - 1;
  b.bits = bits;
  return bits;
}

/** Sets the bits covering guest bytes [offset, offset+length). */
export function markRange(bits: Uint8Array, granularityBits: number, offset: number, length: number): void {
  if (length <= 0) return;
  const g = 2 ** granularityBits;
  let k = Math.floor(offset / g);
  const last = Math.floor((offset + length - 1) / g);
  for (; k <= last && k % 8 !== 0; k++) bits[Math.floor(k / 8)]! |= 1 << (k & 7);
  if (k + 8 <= last + 1) {
    const from = k / 8;
    const to = Math.floor((last + 1) / 8);
    bits.fill(0xff, from, to);
    k = to * 8;
  }
  for (; k <= last; k++) bits[Math.floor(k / 8)]! |= 1 << (k & 7);
}

/** Dirty extents [start, length) of a bitmap, in guest bytes, clipped to the disk. */
export function dirtyExtents(bits: Uint8Array, granularityBits: number, size: number): { start: number; length: number; dirty: boolean }[] {
  const g = 2 ** granularityBits;
  const n = bitCount(size, granularityBits);
  const out: { start: number; length: number; dirty: boolean }[] = [];
  let k = 0;
  while (k < n) {
    const d = (bits[Math.floor(k / 8)]! >> (k & 7)) & 1;
    let e = k + 1;
    while (e < n) {
      const byte = bits[Math.floor(e / 8)]!;
      if ((e & 7) === 0 && (byte === 0 || byte === 0xff) && (byte & 1) === d && e + 8 <= n) {
        e += 8;
        continue;
      }
      if (((byte >> (e & 7)) & 1) !== d) break;
      e++;
    }
    const start = k * g;
    out.push({ start, length: Math.min(size, e * g) - start, dirty: d === 1 });
    k = e;
  }
  return out;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function serializeDirectory(list: Bitmap[]): Uint8Array {
  const enc = new TextEncoder();
  const names = list.map((b) => enc.encode(b.name));
  let len = 0;
  list.forEach((b, i) => (len += Math.ceil((24 + b.extra.length + names[i]!.length) / 8) * 8));
  const dir = new Uint8Array(len);
  const dv = new DataView(dir.buffer);
  let off = 0;
  list.forEach((b, i) => {
    putU64(dv, off, b.tableOffset);
    dv.setUint32(off + 8, b.tableSize);
    dv.setUint32(off + 12, b.flags);
    dv.setUint8(off + 16, b.type);
    dv.setUint8(off + 17, b.granularityBits);
    dv.setUint16(off + 18, names[i]!.length);
    dv.setUint32(off + 20, b.extra.length);
    dir.set(b.extra, off + 24);
    dir.set(names[i]!, off + 24 + b.extra.length);
    off += Math.ceil((24 + b.extra.length + names[i]!.length) / 8) * 8;
  });
  return dir;
}

/**
 * Writes the bitmap list: new data and tables for changed bitmaps, a new directory, one header
 * write, then frees what the old state used (see the design note). `old` is the list as on disk.
 */
export function storeBitmaps(img: Qcow2Image, list: Bitmap[], removed: Bitmap[]): void {
  const cs = img.cs;
  const rc = img.refcounts();
  const toFree: number[] = [];
  const oldExt = bitmapExt(img);
  const freeTable = (b: Bitmap): void => {
    if (b.tableOffset === 0) return;
    for (const host of readTable(img, b)) if (host > 0) toFree.push(host / cs);
    for (let k = 0; k < Math.ceil((b.tableSize * 8) / cs); k++) toFree.push(b.tableOffset / cs + k);
  };
  for (const b of removed) freeTable(b);
  for (const b of list) {
    if (!b.changed || !b.bits) continue;
    const oldTable = { ...b };
    const size = tableSizeFor(img.virtualSize, b.granularityBits, cs);
    const table = new Uint8Array(Math.max(8, size * 8));
    const tdv = new DataView(table.buffer);
    for (let i = 0; i < size; i++) {
      const part = b.bits.subarray(i * cs, Math.min(b.bits.length, (i + 1) * cs));
      if (isZero(part)) continue; // qcow2-bitmap.c store_bitmap_data: zero clusters are not written
      const host = img.allocMeta(1);
      const buf = new Uint8Array(cs);
      buf.set(part);
      img.backend.pwrite(buf, host);
      putU64(tdv, i * 8, host);
    }
    const tOff = img.allocMeta(Math.ceil(table.length / cs));
    img.backend.pwrite(table, tOff);
    if (oldTable.tableOffset !== 0) freeTable(oldTable);
    b.tableOffset = tOff;
    b.tableSize = size;
    b.changed = false;
  }
  let dirOffset = 0;
  let dir: Uint8Array = new Uint8Array(0);
  if (list.length > 0) {
    dir = serializeDirectory(list);
    if (dir.length > QCOW2_MAX_BITMAP_DIRECTORY_SIZE) throw new UserError('QCOW2_TOO_BIG', `${img.name}: the bitmap directory would exceed ${QCOW2_MAX_BITMAP_DIRECTORY_SIZE} bytes`);
    dirOffset = img.allocMeta(Math.ceil(dir.length / cs));
    img.backend.pwrite(dir, dirOffset);
  }
  if (oldExt) for (let k = 0; k < Math.ceil(oldExt.dirSize / cs); k++) toFree.push(oldExt.dirOffset / cs + k);
  // Everything new is durable before the header points at it.
  img.backend.barrier?.();
  const h = img.header;
  h.unknownExtensions = h.unknownExtensions.filter((e) => e.type !== EXT_BITMAPS);
  if (list.length > 0) {
    const data = new Uint8Array(24);
    const dv = new DataView(data.buffer);
    dv.setUint32(0, list.length);
    putU64(dv, 8, dir.length);
    putU64(dv, 16, dirOffset);
    h.unknownExtensions.push({ type: EXT_BITMAPS, data });
    h.autoclearFeatures |= AUTOCLEAR_BITMAPS;
  } else h.autoclearFeatures &= ~AUTOCLEAR_BITMAPS;
  img.writeHeader();
  img.backend.barrier?.();
  for (const c of toFree) rc.update(c, -1);
}

/** Every cluster the bitmaps use (directory, tables, data), for check. Throws nothing on bad input: returns what it can. */
export function bitmapClusters(img: Qcow2Image): { offset: number; size: number }[] {
  const out: { offset: number; size: number }[] = [];
  const ext = bitmapExt(img);
  if (!ext) return out;
  out.push({ offset: ext.dirOffset, size: ext.dirSize });
  for (const b of loadDirectory(img)) {
    out.push({ offset: b.tableOffset, size: b.tableSize * 8 });
    for (const host of readTable(img, b)) if (host > 0) out.push({ offset: host, size: img.cs });
  }
  return out;
}

export function validGranularity(g: number): boolean {
  return Number.isInteger(g) && g >= 512 && g <= 2 ** BME_MAX_GRANULARITY_BITS && (g & (g - 1)) === 0;
}

/** The bitmaps of an image open read-write: what close() stores. */
export class BitmapState {
  removed: Bitmap[] = [];
  /** Something other than tracked bits changed (a verb ran): store on close. */
  dirty = false;
  /** The tracked bitmaps are flagged in_use on disk (done before the first guest write). */
  armed = false;
  constructor(
    public list: Bitmap[],
    private readonly img: Qcow2Image,
  ) {}

  find(name: string): Bitmap | undefined {
    return this.list.find((b) => b.name === name);
  }

  /** Guest bytes [offset, offset+length) are about to be written: every tracked bitmap marks them. */
  mark(offset: number, length: number): void {
    if (!this.armed && this.list.some((b) => b.tracked)) this.arm();
    for (const b of this.list) if (b.tracked && b.bits) markRange(b.bits, b.granularityBits, offset, length);
  }

  /**
   * qcow2-bitmap.c qcow2_load_dirty_bitmaps flags the bitmaps it will track in_use before any
   * write; vfab does it at the first write, so an open that never writes leaves the file alone.
   */
  private arm(): void {
    this.armed = true;
    for (const b of this.list) if (b.tracked) b.flags |= BME_FLAG_IN_USE;
    storeBitmaps(this.img, this.list, this.removed);
    this.removed = [];
  }
}

/** At a read-write open: the enabled, consistent bitmaps are loaded and will track writes. */
export function openBitmaps(img: Qcow2Image): BitmapState | undefined {
  if (!bitmapExt(img)) return undefined;
  const st = new BitmapState(loadDirectory(img), img);
  for (const b of st.list) {
    if (!(b.flags & BME_FLAG_AUTO) || b.flags & BME_FLAG_IN_USE) continue;
    loadBits(img, b);
    b.tracked = true;
  }
  return st;
}

/** At close: tracked bits are stored and in_use cleared (qcow2_store_persistent_dirty_bitmaps). */
export function closeBitmaps(img: Qcow2Image, st: BitmapState): void {
  let any = st.dirty || st.removed.length > 0 || st.list.some((b) => b.changed);
  if (st.armed) {
    for (const b of st.list) {
      if (!b.tracked) continue;
      b.flags &= ~BME_FLAG_IN_USE;
      b.changed = true;
      any = true;
    }
  }
  if (any) storeBitmaps(img, st.list, st.removed);
  st.removed = [];
  st.dirty = false;
  st.armed = false;
}

/**
 * The disk changes size: bitmaps follow (qcow2.c qcow2_co_truncate keeps persistent bitmaps and
 * bdrv_dirty_bitmap_truncate resizes them; bits past a shrunk end are dropped). Call before the
 * header's size changes.
 */
export function resizeBitmaps(img: Qcow2Image, st: BitmapState, newSize: number): void {
  for (const b of st.list) {
    if (b.flags & BME_FLAG_IN_USE && !b.tracked) continue;
    const old = loadBits(img, b);
    const nbits = bitCount(newSize, b.granularityBits);
    const bits = new Uint8Array(Math.ceil(nbits / 8));
    bits.set(old.subarray(0, Math.min(old.length, bits.length)));
    if (nbits % 8 !== 0 && bits.length > 0) bits[bits.length - 1]! &= (1 << nbits % 8) - 1;
    b.bits = bits;
    b.changed = true;
  }
  st.dirty = true;
}
