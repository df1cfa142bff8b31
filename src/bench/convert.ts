/**
 * `disk convert` of a 1 GiB thin chain (base + overlay, 96 MiB of data in scattered 1 MiB runs,
 * 32 MiB of it rewritten in the overlay) flattened into a new qcow2, timed for vfab and for
 * `qemu-img convert -O qcow2` on the same chain in the same run. The figure is virtual MiB
 * flattened per second (as `qemu-img convert` progress counts them); the ratio is vfab / qemu-img.
 * Without qemu-img the chain is built by vfab and only vfab is timed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage, openImage } from '../block/api.js';
import { convertImage } from '../block/verbs.js';
import type { BenchContext } from './main.js';

export const keys = ['convert_mb_per_s', 'convert_vs_qemu_img'];

const SIZE = 1 << 30;
const MiB = 1 << 20;

function buildChain(dir: string): string {
  const base = join(dir, 'base.qcow2');
  const top = join(dir, 'top.qcow2');
  createImage(base, { size: SIZE });
  const b = openImage(base);
  const chunk = new Uint8Array(MiB);
  for (let i = 0; i < 96; i++) {
    chunk.fill((i % 250) + 1);
    b.write(((i * 337) % 1024) * MiB, chunk);
  }
  b.close();
  createImage(top, { backingFile: 'base.qcow2', backingFormat: 'qcow2' });
  const t = openImage(top);
  for (let i = 0; i < 32; i++) {
    chunk.fill(0xee - i);
    t.write(((i * 611) % 1024) * MiB, chunk);
  }
  t.close();
  return top;
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

export async function run(ctx: BenchContext): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'vfab-bench-convert-'));
  try {
    ctx.log('convert: building a 1 GiB thin chain');
    const top = buildChain(dir);
    const hasQemu = spawnSync('qemu-img', ['--version']).status === 0;
    let n = 0;
    const vfab = await ctx.median(3, () => {
      const out = join(dir, `v${n++}.qcow2`);
      const s = timed(() => convertImage(top, out, { outFormat: 'qcow2' }));
      rmSync(out, { force: true });
      return SIZE / MiB / s;
    });
    const figures: Record<string, number> = { convert_mb_per_s: Math.round(vfab) };
    if (hasQemu) {
      const qemu = await ctx.median(3, () => {
        const out = join(dir, `q${n++}.qcow2`);
        const s = timed(() => {
          const r = spawnSync('qemu-img', ['convert', '-O', 'qcow2', top, out]);
          if (r.status !== 0) throw new Error(`qemu-img convert failed: ${String(r.stderr)}`);
        });
        rmSync(out, { force: true });
        return SIZE / MiB / s;
      });
      figures['convert_vs_qemu_img'] = Number((vfab / qemu).toFixed(3));
    } else ctx.log('convert: qemu-img not found; convert_vs_qemu_img not measured');
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
