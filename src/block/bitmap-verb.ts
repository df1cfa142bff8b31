/**
 * `qemu-img bitmap` (qemu-img.c img_bitmap, QEMU 7.2): add, remove, clear, enable, disable and
 * merge persistent dirty bitmaps, applied in the order given, then stored once when the image
 * closes. Plus what qemu-img has no verb for: the dirty extents of a bitmap (what an incremental
 * backup copies), which QEMU shows only through qemu-nbd's `qemu:dirty-bitmap:NAME` context.
 */
import { UserError } from '../errors.js';
import { Chain, type BackendProvider } from './chain.js';
import { FileProvider } from './file-backend.adapter.js';
import {
  BME_FLAG_AUTO,
  BME_FLAG_IN_USE,
  QCOW2_MAX_BITMAPS,
  dirtyExtents,
  loadBits,
  loadDirectory,
  markRange,
  validGranularity,
  type Bitmap,
} from './qcow2/bitmaps.js';
import { BitmapState } from './qcow2/bitmaps.js';
import { Qcow2Image } from './qcow2/image.js';
import { hostErrors } from './host-errors.js';

export type BitmapOp = { op: 'add' | 'remove' | 'clear' | 'enable' | 'disable' } | { op: 'merge'; source: string };

export interface BitmapVerbOptions {
  format?: 'qcow2' | 'raw';
  /** -g: granularity in bytes (only with --add; default max(4 KiB, cluster size) as QEMU). */
  granularity?: number;
  /** -b/-F: the file holding the merge source (default: the image itself). */
  sourceFile?: string;
  sourceFormat?: 'qcow2' | 'raw';
}

let provider: BackendProvider | undefined;
function files(): BackendProvider {
  return (provider ??= new FileProvider());
}

function open(p: BackendProvider, name: string, readOnly: boolean, format: 'qcow2' | 'raw' | undefined): Chain {
  return hostErrors(name, () => Chain.open(p, name, { readOnly, noBacking: true, forceShare: readOnly, ...(format ? { format } : {}) }));
}

function qcow2Of(c: Chain, name: string): Qcow2Image {
  const top = c.layers[0];
  if (!(top instanceof Qcow2Image)) throw new UserError('BLOCK_BAD_FORMAT', `${name}: persistent bitmaps need a qcow2 image (this one is ${c.format})`, { where: name });
  return top;
}

const failed = (op: string, name: string, why: string): UserError => new UserError('BLOCK_BITMAP', `Operation ${op} on bitmap ${name} failed: ${why}`, { where: name });

/** Applies `ops` to bitmap `name` of `file` in order (qemu-img bitmap). */
export function bitmapVerb(file: string, name: string, ops: BitmapOp[], opts: BitmapVerbOptions = {}, p: BackendProvider = files()): void {
  if (ops.length === 0) throw new UserError('CLI_BAD_FLAG', 'Need at least one of --add, --remove, --clear, --enable, --disable, or --merge');
  if (opts.granularity !== undefined && !ops.some((o) => o.op === 'add')) throw new UserError('CLI_BAD_FLAG', 'granularity only supported with --add', { where: '-g' });
  if (opts.sourceFile !== undefined && !ops.some((o) => o.op === 'merge')) throw new UserError('CLI_BAD_FLAG', '-b only supported with --merge', { where: '-b' });
  // Merge sources in another file are read first (read-only, shared), so a refusal writes nothing.
  const sources = new Map<string, { bits: Uint8Array; g: number; size: number }>();
  if (opts.sourceFile !== undefined) {
    const sc = open(p, opts.sourceFile, true, opts.sourceFormat);
    try {
      const simg = qcow2Of(sc, opts.sourceFile);
      const list = loadDirectory(simg);
      for (const o of ops) {
        if (o.op !== 'merge') continue;
        const b = list.find((x) => x.name === o.source);
        if (!b) throw failed('merge', name, `Dirty bitmap '${o.source}' not found`);
        sources.set(o.source, { bits: loadBits(simg, b), g: b.granularityBits, size: simg.virtualSize });
      }
    } finally {
      sc.close();
    }
  }
  const c = open(p, file, false, opts.format);
  try {
    const img = qcow2Of(c, file);
    img.bitmapState ??= new BitmapState([], img);
    const st = img.bitmapState;
    for (const o of ops) {
      applyOp(img, st, name, o, opts, sources);
      st.dirty = true;
    }
  } finally {
    c.close();
  }
}

function applyOp(img: Qcow2Image, st: BitmapState, name: string, o: BitmapOp, opts: BitmapVerbOptions, sources: Map<string, { bits: Uint8Array; g: number; size: number }>): void {
  const need = (): Bitmap => {
    const b = st.find(name);
    if (!b) throw failed(o.op, name, `Dirty bitmap '${name}' not found`);
    return b;
  };
  const consistent = (b: Bitmap): void => {
    if (b.flags & BME_FLAG_IN_USE && !b.tracked) {
      throw failed(o.op, name, `Bitmap '${name}' is inconsistent and cannot be used`);
    }
  };
  switch (o.op) {
    case 'add': {
      if (st.find(name)) throw failed('add', name, `Bitmap already exists: ${name}`);
      if (new TextEncoder().encode(name).length > 1023) throw failed('add', name, 'Name length exceeds maximum (1023)');
      if (st.list.length >= QCOW2_MAX_BITMAPS) throw failed('add', name, `Maximum number of bitmaps (${QCOW2_MAX_BITMAPS}) reached`);
      // block/dirty-bitmap.c bdrv_get_default_bitmap_granularity: max(4 KiB, cluster size).
      const g = opts.granularity ?? Math.max(4096, img.cs);
      if (!validGranularity(g)) throw failed('add', name, 'Granularity must be power of 2 and at least 512');
      const b: Bitmap = { name, granularityBits: Math.log2(g), flags: BME_FLAG_AUTO, type: 1, extra: new Uint8Array(0), tableOffset: 0, tableSize: 0, changed: true, tracked: true };
      b.bits = new Uint8Array(Math.ceil(Math.ceil(img.virtualSize / g) / 8));
      st.list.push(b);
      return;
    }
    case 'remove': {
      const b = need();
      st.list = st.list.filter((x) => x !== b);
      if (b.tableOffset !== 0) st.removed.push(b);
      return;
    }
    case 'clear': {
      const b = need();
      consistent(b);
      loadBits(img, b).fill(0);
      b.changed = true;
      return;
    }
    case 'enable': {
      const b = need();
      consistent(b);
      loadBits(img, b);
      b.flags |= BME_FLAG_AUTO;
      b.tracked = true;
      return;
    }
    case 'disable': {
      const b = need();
      consistent(b);
      loadBits(img, b);
      b.flags &= ~BME_FLAG_AUTO;
      // The bits gathered while it was enabled are kept (close stores them).
      b.changed = true;
      b.tracked = false;
      b.flags &= ~BME_FLAG_IN_USE;
      return;
    }
    case 'merge': {
      const b = need();
      consistent(b);
      let src = sources.get(o.source);
      if (!src) {
        const sb = st.find(o.source);
        if (!sb) throw failed('merge', name, `Dirty bitmap '${o.source}' not found`);
        consistent(sb);
        src = { bits: loadBits(img, sb), g: sb.granularityBits, size: img.virtualSize };
      }
      // block/dirty-bitmap.c bdrv_merge_dirty_bitmap: sizes must match; granularities may differ.
      if (src.size !== img.virtualSize) throw failed('merge', name, 'Bitmaps are of different sizes and cannot be merged');
      const dst = loadBits(img, b);
      for (const e of dirtyExtents(src.bits, src.g, src.size)) if (e.dirty) markRange(dst, b.granularityBits, e.start, e.length);
      b.changed = true;
      return;
    }
  }
}

export interface BitmapInfo {
  name: string;
  granularity: number;
  flags: ('in-use' | 'auto')[];
}

/** The bitmaps of an image as `qemu-img info` lists them (format-specific data, "bitmaps"). */
export function listBitmaps(img: Qcow2Image): BitmapInfo[] {
  return loadDirectory(img).map((b) => ({
    flags: [...(b.flags & BME_FLAG_IN_USE ? (['in-use'] as const) : []), ...(b.flags & BME_FLAG_AUTO ? (['auto'] as const) : [])],
    name: b.name,
    granularity: 2 ** b.granularityBits,
  }));
}

/** Dirty (and clean) extents of bitmap `name`, read-only. */
export function bitmapExtents(file: string, name: string, opts: { format?: 'qcow2' | 'raw' } = {}, p: BackendProvider = files()): { start: number; length: number; dirty: boolean }[] {
  const c = open(p, file, true, opts.format);
  try {
    const img = qcow2Of(c, file);
    const b = loadDirectory(img).find((x) => x.name === name);
    if (!b) throw new UserError('BLOCK_BITMAP', `Dirty bitmap '${name}' not found in ${file}`, { where: name });
    return dirtyExtents(loadBits(img, b), b.granularityBits, img.virtualSize);
  } finally {
    c.close();
  }
}
