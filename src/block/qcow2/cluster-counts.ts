/**
 * Per-cluster reference counts for `check`, stored in pages allocated on first write.
 *
 * Why paged: QEMU's check keeps one refcount entry per cluster of the *file*, so a sparse file
 * with a 1 TiB hole and 4 KiB clusters costs it 512 MiB, and a loop over 268 M clusters. vfab
 * only pays for the pages that hold a reference, and `pages()` lets the comparison skip every
 * range where nothing is counted (the stored side skips absent refcount blocks the same way), so
 * check costs O(metadata), not O(file size).
 *
 * Invariant: a cluster whose page is absent has count 0. Counts saturate at 2^32-1.
 */
export const PAGE_BITS = 16;
export const PAGE = 1 << PAGE_BITS;

export class ClusterCounts {
  private map = new Map<number, Uint32Array>();

  get(c: number): number {
    const p = this.map.get(Math.floor(c / PAGE));
    return p ? p[c % PAGE]! : 0;
  }

  /** Adds one (saturating) and returns the new count. */
  inc(c: number): number {
    const pi = Math.floor(c / PAGE);
    let p = this.map.get(pi);
    if (!p) {
      p = new Uint32Array(PAGE);
      this.map.set(pi, p);
    }
    const i = c % PAGE;
    if (p[i]! < 0xffffffff) p[i]!++;
    return p[i]!;
  }

  dec(c: number): void {
    const p = this.map.get(Math.floor(c / PAGE));
    const i = c % PAGE;
    if (p && p[i]! > 0) p[i]!--;
  }

  /** Indices of the allocated pages (cluster range [i*PAGE, (i+1)*PAGE)), unordered. */
  pages(): number[] {
    return [...this.map.keys()];
  }
}

/** Sorted, merged union of half-open ranges, clipped to [0, limit). */
export function mergeRanges(ranges: [number, number][], limit: number): [number, number][] {
  const r = ranges.map(([a, b]): [number, number] => [Math.max(0, a), Math.min(limit, b)]).filter(([a, b]) => a < b);
  r.sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of r) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}
