/**
 * `qemu-img dd` (qemu-img.c img_dd, QEMU 7.2): copies a block range of what the guest sees into a
 * new image. QEMU's arithmetic is kept, quirk included: the end of the copy is `count × bs` from
 * the start of the input (not from the skipped-to offset), so `count=20 skip=3` copies blocks 3 to
 * 19; a skip past that end prints "cannot skip to specified offset" and makes an empty image (exit 0).
 * A raw input counts in whole sectors, as QEMU's block layer sees it. Every block is written as data, as qemu-img writes it (no zero detection). Memory is bounded:
 * a large `bs` is copied in 2 MiB pieces (same bytes, same places).
 */
import { UserError } from '../errors.js';
import { createImage } from './api.js';
import { Chain, type BackendProvider } from './chain.js';
import { FileProvider } from './file-backend.adapter.js';
import { hostErrors } from './host-errors.js';

const PIECE = 2 * 1024 * 1024;
const MAX_BS = 2147483647;

export interface DdOptions {
  input: string;
  output: string;
  bs: number;
  count?: number;
  skip?: number;
  srcFormat?: 'qcow2' | 'raw';
  outFormat: 'qcow2' | 'raw';
}

let provider: BackendProvider | undefined;
function files(): BackendProvider {
  return (provider ??= new FileProvider());
}

/** Returns the warnings qemu-img prints without failing. */
export function ddImage(o: DdOptions, p: BackendProvider = files()): string[] {
  if (!Number.isInteger(o.bs) || o.bs < 1 || o.bs > MAX_BS) throw new UserError('CLI_BAD_OPTION', `Invalid bs specified. Must be between 1 and ${MAX_BS}.`, { where: 'bs=' });
  const warnings: string[] = [];
  const src = hostErrors(o.input, () => Chain.open(p, o.input, { readOnly: true, ...(o.srcFormat ? { format: o.srcFormat } : {}) }));
  try {
    // The block layer sees a raw file in whole 512-byte sectors (block.c bdrv_getlength is
    // total_sectors × 512): the tail past the file's end reads as zeros.
    const real = src.virtualSize;
    let size = src.format === 'raw' ? Math.ceil(real / 512) * 512 : real;
    // img_dd: count shortens the input first, then skip is checked against what is left.
    if (o.count !== undefined && o.count * o.bs < size) size = o.count * o.bs;
    let inPos: number;
    if (o.skip !== undefined && size < o.bs * o.skip) {
      warnings.push(`${o.input}: cannot skip to specified offset`);
      inPos = size;
    } else inPos = o.bs * (o.skip ?? 0);
    const outSize = Math.max(0, size - inPos);
    // Image creation rounds the size up to whole sectors (file-posix/qcow2 co_create_opts).
    hostErrors(o.output, () => createImage(o.output, { format: o.outFormat, size: Math.ceil(outSize / 512) * 512 }, p));
    const dst = hostErrors(o.output, () => Chain.open(p, o.output, { format: o.outFormat, noBacking: true }));
    try {
      const buf = new Uint8Array(Math.min(PIECE, Math.max(1, outSize)));
      for (let pos = inPos; pos < size; pos += buf.length) {
        const n = Math.min(buf.length, size - pos);
        const b = buf.subarray(0, n);
        const inFile = Math.max(0, Math.min(n, real - pos));
        if (inFile > 0) src.read(pos, b.subarray(0, inFile));
        b.fill(0, inFile);
        dst.write(pos - inPos, b);
      }
      dst.flush();
    } finally {
      dst.close();
    }
  } finally {
    src.close();
  }
  return warnings;
}
