/**
 * The event queue: a binary min-heap ordered by (time, insertion sequence).
 *
 * Determinism contract (after ns-3's `simulator.h`):
 * - events at the same timestamp run in the order they were scheduled (FIFO);
 * - `cancel` only marks the event; the queue skips it when it reaches the top, so cancelling is
 *   O(1) and always safe, even for an event that already ran or was already cancelled;
 * - nothing here reads a wall clock.
 *
 * The heap is 4-ary (half the depth of a binary heap: fewer levels to sift through, and the
 * four children of a node are adjacent in memory). It stores event records in one array; times and sequence numbers are plain numbers so a
 * comparison is two number compares, which is what keeps `sim_events_per_s` in the millions.
 */
import type { SimTime } from './time.js';

export type EventHandler = () => void;

/** A scheduled event. Holding one lets its owner cancel it; cancelling twice is harmless. */
export class EventId {
  /** @internal */ cancelled = false;
  /** @internal */ done = false;
  constructor(
    readonly time: SimTime,
    /** @internal */ readonly seq: number,
    /** @internal */ readonly handler: EventHandler,
  ) {}

  /** True while the event is still going to run. */
  get pending(): boolean {
    return !this.cancelled && !this.done;
  }

  cancel(): void {
    this.cancelled = true;
  }
}

export class EventQueue {
  private heap: EventId[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(time: SimTime, handler: EventHandler): EventId {
    const ev = new EventId(time, this.seq++, handler);
    const heap = this.heap;
    let i = heap.length;
    heap.push(ev);
    // sift up
    while (i > 0) {
      const parent = (i - 1) >> 2;
      const p = heap[parent]!;
      if (p.time < time || (p.time === time && p.seq < ev.seq)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = ev;
    return ev;
  }

  /** Time of the earliest live event, or undefined when none is left. */
  peekTime(): SimTime | undefined {
    this.dropCancelledTop();
    return this.heap[0]?.time;
  }

  /** Removes and returns the earliest live event. */
  pop(): EventId | undefined {
    this.dropCancelledTop();
    return this.popRaw();
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.popRaw();
  }

  private popRaw(): EventId | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      // sift down
      let i = 0;
      for (;;) {
        const first = 4 * i + 1;
        if (first >= n) break;
        let c = first;
        let child = heap[first]!;
        const end = first + 4 < n ? first + 4 : n;
        for (let j = first + 1; j < end; j++) {
          const jc = heap[j]!;
          if (jc.time < child.time || (jc.time === child.time && jc.seq < child.seq)) {
            c = j;
            child = jc;
          }
        }
        if (last.time < child.time || (last.time === child.time && last.seq < child.seq)) break;
        heap[i] = child;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}
