/**
 * qcow2 benchmarks, side by side with `qemu-img bench` on the same image files when qemu-img is
 * installed (same request count and size, `-t writeback`, queue depth 1 because vfab's I/O is
 * synchronous). "rand" is the oracle kit's odd-stride trick (SIZE × 162013, wrapping), which
 * visits every 4 KiB block once. Images: 256 MiB, base fully written (0xab), chains built from
 * empty overlays on top of it, thin images fresh for every write run.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage, openImage } from '../block/api.js';
import { RAND_STRIDE_BLOCKS, runBench } from '../block/bench.adapter.js';
import type { BenchContext } from './main.js';

export const keys = [
  'qcow2_randread_chain1_per_s',
  'qcow2_randread_chain8_per_s',
  'qcow2_randread_chain32_per_s',
  'qcow2_randwrite_thin_per_s',
  'qcow2_randwrite_thin_barriers_per_s',
  'qcow2_seqread_64k_mb_per_s',
  'qcow2_seqwrite_64k_mb_per_s',
  'raw_pread_4k_per_s',
  'qcow2_randread_chain1_qemu_per_s',
  'qcow2_randread_chain8_qemu_per_s',
  'qcow2_randread_chain32_qemu_per_s',
  'qcow2_randwrite_thin_qemu_per_s',
  'qcow2_seqread_64k_qemu_mb_per_s',
  'qcow2_seqwrite_64k_qemu_mb_per_s',
  'qcow2_randread_chain1_vs_qemu',
  'qcow2_randread_chain8_vs_qemu',
  'qcow2_randread_chain32_vs_qemu',
  'qcow2_randwrite_thin_vs_qemu',
  'qcow2_seqread_64k_vs_qemu',
  'qcow2_seqwrite_64k_vs_qemu',
  'qcow2_randread_chain1_vs_raw_pread',
];

const SIZE = 256 * 1024 * 1024;
const READS = 100_000;
const WRITES = 20_000;
const SEQ = SIZE / 65536;

function hasQemuImg(): boolean {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `qemu-img bench` → requests (or MiB when `mb`) per second. */
function qemuBench(img: string, args: string[], count: number, bytes: number, mb: boolean): number {
  const out = execFileSync('qemu-img', ['bench', '-f', 'qcow2', '-t', 'writeback', '-d', '1', '-c', String(count), '-s', String(bytes), ...args, img], { encoding: 'utf8' });
  const m = /Run completed in ([0-9.]+) seconds/.exec(out);
  if (!m) throw new Error(`unexpected qemu-img bench output: ${out}`);
  const s = Number(m[1]);
  return mb ? (count * bytes) / s / 1048576 : count / s;
}

export async function run(ctx: BenchContext): Promise<Record<string, number | string | null>> {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-bench-qcow2-'));
  const out: Record<string, number | string | null> = {};
  const qemu = hasQemuImg();
  const rand = ['-S', String(4096 * RAND_STRIDE_BLOCKS)];
  try {
    const base = join(dir, 'base.qcow2');
    createImage(base, { size: SIZE });
    const b = openImage(base);
    const chunk = new Uint8Array(1 << 20).fill(0xab);
    for (let off = 0; off < SIZE; off += chunk.length) b.write(off, chunk);
    b.close();
    const raw = join(dir, 'base.raw');
    createImage(raw, { format: 'raw', size: SIZE });
    const fd = openSync(raw, 'r+');
    for (let off = 0; off < SIZE; off += chunk.length) writeSync(fd, chunk, 0, chunk.length, off);
    closeSync(fd);

    const tops = new Map<number, string>();
    for (const depth of [1, 8, 32]) {
      let prev = base;
      for (let l = 1; l <= depth; l++) {
        const img = join(dir, `c${depth}-l${l}.qcow2`);
        createImage(img, { backingFile: prev, backingFormat: 'qcow2' });
        prev = img;
      }
      tops.set(depth, prev);
    }

    for (const depth of [1, 8, 32]) {
      const top = tops.get(depth)!;
      ctx.log(`qcow2 randread chain${depth}`);
      const ours = await ctx.median(3, () => {
        const c = openImage(top, { readOnly: true });
        try {
          return runBench(c, { count: READS, size: 4096, write: false, pattern: 'rand' }).ops_per_s;
        } finally {
          c.close();
        }
      });
      out[`qcow2_randread_chain${depth}_per_s`] = Math.round(ours);
      if (qemu) {
        const theirs = await ctx.median(3, () => qemuBench(top, rand, READS, 4096, false));
        out[`qcow2_randread_chain${depth}_qemu_per_s`] = Math.round(theirs);
        out[`qcow2_randread_chain${depth}_vs_qemu`] = Number((ours / theirs).toFixed(2));
      }
    }

    ctx.log('raw pread 4k');
    const rawRate = await ctx.median(3, () => {
      const f = openSync(raw, 'r');
      const buf = new Uint8Array(4096);
      let off = 0;
      const t0 = performance.now();
      for (let i = 0; i < READS; i++) {
        readSync(f, buf, 0, 4096, off);
        off = (off + 4096 * RAND_STRIDE_BLOCKS) % SIZE;
      }
      const s = (performance.now() - t0) / 1000;
      closeSync(f);
      return READS / s;
    });
    out['raw_pread_4k_per_s'] = Math.round(rawRate);
    out['qcow2_randread_chain1_vs_raw_pread'] = Number(((out['qcow2_randread_chain1_per_s'] as number) / rawRate).toFixed(2));

    const fresh = (): string => {
      const t = join(dir, 'thin.qcow2');
      rmSync(t, { force: true });
      createImage(t, { size: SIZE });
      return t;
    };
    const vfabRun = (img: string, write: boolean, count: number, size: number, pattern: 'seq' | 'rand', barriers = false): { ops: number; mb: number } => {
      // Without barriers (the figures before they existed) unless asked: the barriers key shows their cost.
      const c = openImage(img, { readOnly: !write, barriers });
      try {
        const r = runBench(c, { count, size, write, pattern, fill: 0x5a });
        return { ops: r.ops_per_s, mb: r.mb_per_s };
      } finally {
        c.close();
      }
    };

    ctx.log('qcow2 randwrite thin');
    const rw = await ctx.median(3, () => vfabRun(fresh(), true, WRITES, 4096, 'rand').ops);
    out['qcow2_randwrite_thin_per_s'] = Math.round(rw);
    // vfab's default: fdatasync between dependent metadata writes (refcount before L2, L2 before
    // the frees it causes), reservations of 1 MiB amortising the refcount barrier.
    ctx.log('qcow2 randwrite thin, with metadata barriers');
    out['qcow2_randwrite_thin_barriers_per_s'] = Math.round(await ctx.median(3, () => vfabRun(fresh(), true, WRITES, 4096, 'rand', true).ops));
    ctx.log('qcow2 seq 64k');
    const sr = await ctx.median(3, () => vfabRun(base, false, SEQ, 65536, 'seq').mb);
    out['qcow2_seqread_64k_mb_per_s'] = Math.round(sr);
    const sw = await ctx.median(3, () => vfabRun(fresh(), true, SEQ, 65536, 'seq').mb);
    out['qcow2_seqwrite_64k_mb_per_s'] = Math.round(sw);
    if (qemu) {
      const qrw = await ctx.median(3, () => qemuBench(fresh(), ['-w', '--pattern=0x5a', ...rand], WRITES, 4096, false));
      out['qcow2_randwrite_thin_qemu_per_s'] = Math.round(qrw);
      out['qcow2_randwrite_thin_vs_qemu'] = Number((rw / qrw).toFixed(2));
      const qsr = await ctx.median(3, () => qemuBench(base, [], SEQ, 65536, true));
      out['qcow2_seqread_64k_qemu_mb_per_s'] = Math.round(qsr);
      out['qcow2_seqread_64k_vs_qemu'] = Number((sr / qsr).toFixed(2));
      const qsw = await ctx.median(3, () => qemuBench(fresh(), ['-w', '--pattern=0x5a'], SEQ, 65536, true));
      out['qcow2_seqwrite_64k_qemu_mb_per_s'] = Math.round(qsw);
      out['qcow2_seqwrite_64k_vs_qemu'] = Number((sw / qsw).toFixed(2));
    } else {
      for (const k of keys) if (k.includes('_qemu')) out[k] = null;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
