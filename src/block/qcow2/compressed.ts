/**
 * Compressed clusters (docs/interop/qcow2.txt "Compressed Clusters Descriptor").
 *
 * Design:
 * - An L2 entry with bit 62 set holds, below bit 62, a host byte offset in the low
 *   x = 62 - (cluster_bits - 8) bits and, above it, the number of additional 512-byte sectors
 *   the compressed data touches (qcow2-cluster.c qcow2_parse_compressed_l2_entry). x is always
 *   ≥ 49, so the split falls in the high 32-bit word: no BigInt is needed.
 * - The data is a raw deflate stream (zlib windowBits -12, qcow2-threads.c qcow2_compress). A
 *   read succeeds when the stream yields at least one whole cluster (qcow2_decompress accepts
 *   trailing bytes after the stream end, the descriptor's sector count rounds up).
 * - vfab reports compressed clusters to the chain as data at a synthetic, negative "host" offset
 *   (COMPRESSED_BASE + guest offset): runs stay contiguous, and `preadHost` of a negative offset
 *   decompresses. Map output gives them no offset, as QEMU does (no BDRV_BLOCK_OFFSET_VALID).
 * - Costs: one inflate per cluster read, cached in a small LRU keyed by host offset (cleared on
 *   any compressed write or free).
 */
import { deflateRawSync, inflateRawSync, constants } from 'node:zlib';
import { UserError, errorMessage } from '../../errors.js';

/** Synthetic host offsets of compressed data: COMPRESSED_BASE + guest offset (always < 0). */
export const COMPRESSED_BASE = -(2 ** 53);

export interface CompressedDesc {
  /** Host byte offset of the compressed stream. */
  coff: number;
  /** Bytes the descriptor covers from coff (sectors * 512 - coff % 512), as QEMU frees them. */
  csize: number;
  /** Sector count (nb_csectors). */
  nsec: number;
}

/** Decodes the descriptor of a compressed L2 entry (hi has bit 62 set). */
export function parseCompressed(hi: number, lo: number, clusterBits: number): CompressedDesc {
  const shiftHi = 62 - (clusterBits - 8) - 32;
  const offHi = hi & ((1 << shiftHi) - 1);
  const coff = offHi * 4294967296 + (lo >>> 0);
  const nsec = ((hi >>> shiftHi) & ((1 << (clusterBits - 8)) - 1)) + 1;
  return { coff, csize: nsec * 512 - (coff % 512), nsec };
}

/** Encodes a compressed L2 entry for `size` bytes of stream at `coff` (qcow2_alloc_compressed_cluster_offset). */
export function encodeCompressed(coff: number, size: number, clusterBits: number): [number, number] {
  const shiftHi = 62 - (clusterBits - 8) - 32;
  const nsec = Math.floor((coff + size - 1) / 512) - Math.floor(coff / 512) + 1;
  const hi = (0x40000000 | ((nsec - 1) << shiftHi) | Math.floor(coff / 4294967296)) >>> 0;
  return [hi, coff % 4294967296 >>> 0];
}

/**
 * Compresses one cluster as QEMU does (deflate, windowBits -12, memLevel 9, default level).
 * Undefined when the result would not fit in cluster_size - 1 bytes: QEMU then writes the
 * cluster uncompressed (qcow2.c qcow2_co_pwritev_compressed_task, -ENOMEM).
 */
export function compressCluster(data: Uint8Array, cs: number): Uint8Array | undefined {
  const out = deflateRawSync(data, { windowBits: 12, memLevel: 9, level: constants.Z_DEFAULT_COMPRESSION });
  return out.length <= cs - 1 ? new Uint8Array(out.buffer, out.byteOffset, out.length) : undefined;
}

/**
 * Inflates one cluster from its compressed bytes. `where` names the L2 entry for errors.
 * Deliberate difference: a stream that decodes to more than a cluster is refused as corrupt
 * (QEMU keeps the first cluster of it); QEMU's own writer never produces one.
 */
export function decompressCluster(raw: Uint8Array, cs: number, where: string): Uint8Array {
  let out: Buffer;
  try {
    out = inflateRawSync(raw, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: cs });
  } catch (e) {
    throw new UserError('QCOW2_CORRUPT', `${where}: compressed cluster does not inflate to ${cs} bytes (${errorMessage(e)})`);
  }
  if (out.length < cs) {
    throw new UserError('QCOW2_CORRUPT', `${where}: compressed cluster inflates to ${out.length} bytes, not the cluster size ${cs}`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, cs);
}
