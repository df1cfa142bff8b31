/**
 * Serving the block layer over NBD: a `Chain` (qcow2/raw image with its backing files) as an
 * `NbdImage`, with block status from the chain's own allocation lookup so reads are answered
 * sparsely and NBD_CMD_BLOCK_STATUS reports base:allocation as QEMU does (nbd/server.c
 * `blockalloc_to_extents`: HOLE unless the range holds data, ZERO when it reads as zeros).
 */
import type { Chain } from '../block/chain.js';
import { ST_DATA } from '../block/image.js';
import { RawLayer } from '../block/raw.js';
import type { NbdImage, StatusRun } from './server.js';

/** Runs from `offset` covering `length` bytes; at most `maxRuns` (the rest reported as one run). */
export function chainStatus(chain: Chain, offset: number, length: number, maxRuns = 4096): StatusRun[] {
  const end = Math.min(offset + length, chain.virtualSize);
  // A lone raw image is data everywhere (RawLayer.status): one run, what the loop below finds.
  if (chain.layers.length === 1 && chain.layers[0] instanceof RawLayer) return end > offset ? [{ length: end - offset, zero: false, hole: false, kind: ST_DATA }] : [];
  const runs: StatusRun[] = [];
  let pos = offset;
  while (pos < end) {
    const r = chain.resolve(pos, 0, end - pos);
    const n = Math.max(1, Math.min(r.length, end - pos));
    // Data in any layer is data; a zero cluster or a hole at the bottom reads as zeros.
    const zero = r.kind !== ST_DATA;
    const hole = r.kind !== ST_DATA;
    const prev = runs[runs.length - 1];
    if (prev && prev.kind === r.kind) prev.length += n;
    else if (runs.length >= maxRuns) {
      prev!.length += end - pos;
      break;
    } else runs.push({ length: n, zero, hole, kind: r.kind });
    pos += n;
  }
  return runs;
}

/** The chain as an export image. */
export function chainImage(chain: Chain): NbdImage {
  return {
    get virtualSize() {
      return chain.virtualSize;
    },
    get readOnly() {
      return chain.readOnly;
    },
    read: (o, b) => chain.read(o, b),
    write: (o, d) => chain.write(o, d),
    discard: (o, n) => chain.discard(o, n),
    writeZeroes: (o, n) => chain.writeZeroes(o, n),
    flush: () => chain.flush(),
    blockStatus: (o, n) => chainStatus(chain, o, n),
    // Chain.read fills every byte (unallocated ranges and bytes past a backing file's end are
    // written as zeros; BlockBackend.pread reads past the end as zeros).
    readFills: true,
  };
}


