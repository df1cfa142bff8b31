/**
 * A guest stack's drop counters by reason, kept per frame without string-keyed writes: reasons
 * the receive path counts are slots of a typed array (one shared `drop(reason, n)` writing
 * `record[reason]` made that store megamorphic, a tenth of the receive path's time). `record()`
 * gives the familiar `{ reason: count }` object, its keys in the order the reasons first
 * occurred, as the object it replaces had them.
 */
export class DropCounts {
  private readonly counts: Float64Array;
  private readonly slotOf = new Map<string, number>();
  private readonly names: string[] = [];
  /** Slots in the order of their first drop. */
  private readonly order: number[] = [];
  private readonly seen: Uint8Array;

  /** `reasons`: the reasons given slots up front (others get one on first use, up to `max`). */
  constructor(reasons: readonly string[], max = 256) {
    this.counts = new Float64Array(max);
    this.seen = new Uint8Array(max);
    for (const r of reasons) this.slot(r);
  }

  /** The slot of `reason` (given one on first use). */
  slot(reason: string): number {
    let s = this.slotOf.get(reason);
    if (s === undefined) {
      s = this.names.length;
      if (s >= this.counts.length) throw new RangeError(`more than ${this.counts.length} drop reasons`);
      this.names.push(reason);
      this.slotOf.set(reason, s);
    }
    return s;
  }

  /** Counts `n` drops in slot `s`. */
  add(s: number, n: number): void {
    if (this.seen[s] === 0) {
      this.seen[s] = 1;
      this.order.push(s);
    }
    this.counts[s]! += n;
  }

  /** `{ reason: count }` in first-drop order (a fresh object). */
  record(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.order) out[this.names[s]!] = this.counts[s]!;
    return out;
  }
}
