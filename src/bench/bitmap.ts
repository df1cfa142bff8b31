/**
 * Dirty-bitmap tracking cost: 4 KiB writes at the oracle kit's odd stride into an in-memory
 * 64 MiB qcow2 image, with one enabled persistent bitmap (64 KiB granularity) and without, over
 * clusters already allocated so the figure is the write path plus the marking, not allocation.
 */
import { createImage, openImage } from '../block/api.js';
import { bitmapVerb } from '../block/bitmap-verb.js';
import { MemoryProvider } from '../block/chain.js';
import type { BenchContext } from './main.js';

export const keys = ['bitmap_dirty_writes_per_s', 'bitmap_dirty_writes_vs_plain'];

const SIZE = 64 * 1024 * 1024;
const WRITES = 50_000;
const STRIDE = 162013;

function rate(withBitmap: boolean): number {
  const p = new MemoryProvider();
  createImage('b.qcow2', { size: SIZE }, p);
  const fill = openImage('b.qcow2', {}, p);
  const chunk = new Uint8Array(1 << 20).fill(0xab);
  for (let off = 0; off < SIZE; off += chunk.length) fill.write(off, chunk);
  fill.close();
  if (withBitmap) bitmapVerb('b.qcow2', 'inc', [{ op: 'add' }], {}, p);
  const c = openImage('b.qcow2', {}, p);
  const buf = new Uint8Array(4096).fill(0x5a);
  const blocks = SIZE / 4096;
  const t0 = performance.now();
  for (let i = 0; i < WRITES; i++) c.write(((i * STRIDE) % blocks) * 4096, buf);
  const s = (performance.now() - t0) / 1000;
  c.close();
  return WRITES / s;
}

export async function run(ctx: BenchContext): Promise<Record<string, number>> {
  ctx.log('bitmap dirty writes');
  const marked = await ctx.median(3, () => rate(true));
  const plain = await ctx.median(3, () => rate(false));
  return { bitmap_dirty_writes_per_s: Math.round(marked), bitmap_dirty_writes_vs_plain: Number((marked / plain).toFixed(3)) };
}
