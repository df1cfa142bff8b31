/**
 * `qemu-img bench` semantics over a BlockImage (qemu-img.c img_bench): COUNT requests of SIZE
 * bytes starting at OFFSET, each STEP bytes after the previous, wrapping at the end of the image.
 * vfab's I/O is synchronous, so the queue depth is always 1 (a `depth` above 1 is accepted and
 * reported, as qemu-img prints it, but requests still complete one by one).
 * "rand" is the oracle kit's trick: an odd stride of SIZE × 162013 visits every block once before
 * repeating, with no two neighbours in the same cluster. An adapter: it reads the wall clock.
 */
import type { BlockImage } from './image.js';

export const RAND_STRIDE_BLOCKS = 162013;

export interface BenchOptions {
  count: number;
  /** Request size in bytes (default 4 KiB). */
  size: number;
  write: boolean;
  pattern: 'seq' | 'rand';
  /** Bytes between request starts (default SIZE, or SIZE × 162013 for rand). */
  step?: number;
  offset?: number;
  depth?: number;
  /** Byte written by write runs (qemu-img bench --pattern, default 0). */
  fill?: number;
  /** Flush after the run (qemu-img bench flushes when the image closes). */
  flush?: boolean;
}

export interface BenchResult {
  requests: number;
  size: number;
  seconds: number;
  ops_per_s: number;
  mb_per_s: number;
}

export function benchStep(o: Pick<BenchOptions, 'size' | 'pattern' | 'step'>): number {
  return o.step ?? (o.pattern === 'rand' ? o.size * RAND_STRIDE_BLOCKS : o.size);
}

export function runBench(image: BlockImage, o: BenchOptions): BenchResult {
  const buf = new Uint8Array(o.size);
  if (o.write) buf.fill(o.fill ?? 0);
  const step = benchStep(o);
  const vs = image.virtualSize;
  let off = o.offset ?? 0;
  const t0 = performance.now();
  for (let i = 0; i < o.count; i++) {
    if (off + o.size > vs) off = 0;
    if (o.write) image.write(off, buf);
    else image.read(off, buf);
    off = (off + step) % vs;
  }
  if (o.flush !== false && o.write) image.flush();
  const seconds = (performance.now() - t0) / 1000;
  return {
    requests: o.count,
    size: o.size,
    seconds,
    ops_per_s: o.count / seconds,
    mb_per_s: (o.count * o.size) / seconds / (1024 * 1024),
  };
}
