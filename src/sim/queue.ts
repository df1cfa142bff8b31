/**
 * The event queue: a calendar queue (R. Brown, "Calendar queues: a fast O(1) priority queue
 * implementation for the simulation event set problem", CACM 31(10), 1988) ordered by
 * (time, insertion sequence).
 *
 * Determinism contract (after ns-3's `simulator.h`):
 * - events at the same timestamp run in the order they were scheduled (FIFO);
 * - `cancel` only marks the event; the queue skips it when it reaches the front, so cancelling is
 *   O(1) and always safe, even for an event that already ran or was already cancelled;
 * - nothing here reads a wall clock.
 *
 * Layout: time is cut into buckets of `width` ns; bucket `floor(t / width) mod nb` holds a list
 * sorted by (time, seq). The lists are linked through typed arrays (struct of arrays: `times`,
 * `seqs`, `next`, with event records in a parallel array and freed slots on a free list), so a
 * push or pop touches a few numbers in contiguous memory and allocates nothing but the
 * `EventId` the caller gets back. Every list has a tail pointer: an event at or after its
 * bucket's last time (a same-instant burst, a timer re-armed later) is appended in O(1).
 *
 * Pop walks from the current bucket: the head of a bucket is due when it falls in the bucket's
 * current "year" window; after a full turn with nothing due (the next event is more than a year
 * ahead) it takes the smallest head directly. The order of what comes out is exactly (time, seq)
 * whatever the width; the width only affects speed. It is re-estimated whenever the bucket count
 * doubles or halves (the size crosses 2·nb or nb/2) from the spacing of the earliest events
 * (Brown's rule: three times the mean gap, gaps over twice the mean left out), and also when
 * pops keep falling back to the direct search or pushes keep walking long lists (a width that
 * no longer fits the workload; at most once per n operations, so the cost stays amortised).
 *
 * Costs: push and pop O(1) expected, O(n) worst case; a re-estimate O(n log n), amortised.
 */
import type { SimTime } from './time.js';

export type EventHandler = () => void;

/** A scheduled event. Holding one lets its owner cancel it; cancelling twice is harmless. */
export class EventId {
  /** @internal */ cancelled = false;
  /** @internal */ done = false;
  constructor(
    // Not readonly only so an owner with at most one pending event can re-arm the same record
    // (`EventQueue.pushEvent`, used by link arrivals); nobody else writes them.
    /** When it runs (absolute ns). */ public time: SimTime,
    /** @internal */ public seq: number,
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

const MIN_BUCKETS = 16;
/** Events sampled (earliest first) to estimate the bucket width. */
const WIDTH_SAMPLE = 64;
/** Direct searches or long list walks tolerated between two width estimates. */
const MISFIT_LIMIT = 32;
/** A push walking more list nodes than this counts as a misfit. */
const LONG_WALK = 32;

export class EventQueue {
  private cap = 1024;
  private times = new Float64Array(this.cap);
  private seqs = new Float64Array(this.cap);
  private next = new Int32Array(this.cap);
  private evs: Array<EventId | undefined> = new Array<EventId | undefined>(this.cap).fill(undefined);
  private free = -1;
  private used = 0;
  private nb = MIN_BUCKETS;
  private width = 1024;
  private head = new Int32Array(MIN_BUCKETS).fill(-1);
  private tail = new Int32Array(MIN_BUCKETS).fill(-1);
  private n = 0;
  private seq = 0;
  /** Bucket the next pop starts from, and the end of its current window (exclusive). */
  private cur = 0;
  private top = 1024;
  private misfits = 0;
  /** Pushes and pops since the last re-estimate: a misfit re-estimate waits for `n` of them (amortised). */
  private ops = 0;

  get size(): number {
    return this.n;
  }

  push(time: SimTime, handler: EventHandler): EventId {
    const ev = new EventId(time, this.seq++, handler);
    this.pushEvent(ev);
    return ev;
  }

  /**
   * Takes the next insertion sequence number without queueing anything: an event queued later
   * with it (`pushEvent`) keeps the place among same-time events it would have had if pushed now.
   */
  reserveSeq(): number {
    return this.seq++;
  }

  /**
   * Queues `ev` at its own (time, seq): a seq from `reserveSeq`, or a fresh one. The record must
   * not be queued already (a re-armed record must have run; cancelled ones are never re-used).
   */
  pushEvent(ev: EventId): void {
    const time = ev.time;
    const seq = ev.seq;
    let s = this.free;
    if (s >= 0) this.free = this.next[s]!;
    else {
      if (this.used === this.cap) this.grow();
      s = this.used++;
    }
    this.times[s] = time;
    this.seqs[s] = seq;
    this.evs[s] = ev;
    this.link(s);
    this.ops++;
    if (++this.n > 2 * this.nb) this.rebuild(this.nb * 2);
    else if (this.misfits > MISFIT_LIMIT && this.ops > this.n) this.rebuild(this.nb);
  }

  /** True when no live queued event comes before (time, seq) in the queue's order. */
  precedesAll(time: SimTime, seq: number): boolean {
    const b = this.find();
    if (b < 0) return true;
    const h = this.head[b]!;
    const t = this.times[h]!;
    return time < t || (time === t && seq < this.seqs[h]!);
  }

  /** Time of the earliest live event, or undefined when none is left. */
  peekTime(): SimTime | undefined {
    const b = this.find();
    return b < 0 ? undefined : this.times[this.head[b]!];
  }

  /** Removes and returns the earliest live event. */
  pop(): EventId | undefined {
    return this.popUntil(Number.POSITIVE_INFINITY);
  }

  /** Removes and returns the earliest live event if it is due at or before `until`. */
  popUntil(until: number): EventId | undefined {
    const b = this.find();
    if (b < 0 || this.times[this.head[b]!]! > until) return undefined;
    return this.take(b);
  }

  /** Inserts slot `s` into its bucket's list, keeping (time, seq) order. */
  private link(s: number): void {
    const times = this.times;
    const seqs = this.seqs;
    const next = this.next;
    const t = times[s]!;
    const q = seqs[s]!;
    const v = Math.floor(t / this.width);
    const i = v & (this.nb - 1);
    const tl = this.tail[i]!;
    if (tl < 0) {
      next[s] = -1;
      this.head[i] = s;
      this.tail[i] = s;
    } else if (times[tl]! < t || (times[tl] === t && seqs[tl]! < q)) {
      next[s] = -1;
      next[tl] = s;
      this.tail[i] = s;
    } else {
      let p = -1;
      let c = this.head[i]!;
      let walked = 0;
      while (c >= 0 && (times[c]! < t || (times[c] === t && seqs[c]! < q))) {
        p = c;
        c = next[c]!;
        walked++;
      }
      if (walked > LONG_WALK) this.misfits++;
      next[s] = c;
      if (p < 0) this.head[i] = s;
      else next[p] = s;
    }
    // Earlier than the window pop starts from (only a push into the past, or the first push).
    if (t < this.top - this.width) {
      this.cur = i;
      this.top = (v + 1) * this.width;
    }
  }

  /** The bucket whose head is the earliest live event (cancelled heads are dropped), or -1. */
  private find(): number {
    for (;;) {
      if (this.n === 0) return -1;
      const b = this.scan();
      const s = this.head[b]!;
      if (!this.evs[s]!.cancelled) return b;
      this.take(b);
    }
  }

  private scan(): number {
    const nb = this.nb;
    const mask = nb - 1;
    const w = this.width;
    const head = this.head;
    const times = this.times;
    let i = this.cur;
    let top = this.top;
    for (let k = 0; k < nb; k++) {
      const h = head[i]!;
      if (h >= 0 && times[h]! < top) {
        this.cur = i;
        this.top = top;
        return i;
      }
      i = (i + 1) & mask;
      top += w;
    }
    // Nothing within a year: the smallest head directly.
    this.misfits++;
    const seqs = this.seqs;
    let bi = -1;
    let bt = Number.POSITIVE_INFINITY;
    let bs = Number.POSITIVE_INFINITY;
    for (let j = 0; j < nb; j++) {
      const h = head[j]!;
      if (h >= 0 && (times[h]! < bt || (times[h] === bt && seqs[h]! < bs))) {
        bi = j;
        bt = times[h]!;
        bs = seqs[h]!;
      }
    }
    this.cur = bi;
    this.top = (Math.floor(bt / w) + 1) * w;
    return bi;
  }

  /** Unlinks the head of bucket `b` and returns its event. */
  private take(b: number): EventId {
    const s = this.head[b]!;
    const nx = this.next[s]!;
    this.head[b] = nx;
    if (nx < 0) this.tail[b] = -1;
    const ev = this.evs[s]!;
    this.evs[s] = undefined; // no reference kept to a popped event (its handler may hold a frame)
    this.next[s] = this.free;
    this.free = s;
    this.ops++;
    if (--this.n < this.nb / 2 && this.nb > MIN_BUCKETS) this.rebuild(this.nb / 2);
    else if (this.misfits > MISFIT_LIMIT && this.ops > this.n) this.rebuild(this.nb);
    return ev;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const times = new Float64Array(cap);
    times.set(this.times);
    const seqs = new Float64Array(cap);
    seqs.set(this.seqs);
    const next = new Int32Array(cap);
    next.set(this.next);
    this.times = times;
    this.seqs = seqs;
    this.next = next;
    for (let i = this.cap; i < cap; i++) this.evs.push(undefined);
    this.cap = cap;
  }

  /** Re-buckets every event into `nb` buckets with a freshly estimated width. */
  private rebuild(nb: number): void {
    this.ops = 0;
    const times = this.times;
    const seqs = this.seqs;
    const slots: number[] = [];
    for (let j = 0; j < this.nb; j++) for (let c = this.head[j]!; c >= 0; c = this.next[c]!) slots.push(c);
    slots.sort((a, b) => times[a]! - times[b]! || seqs[a]! - seqs[b]!);
    const k = Math.min(slots.length, WIDTH_SAMPLE);
    if (k > 1) {
      const mean = (times[slots[k - 1]!]! - times[slots[0]!]!) / (k - 1);
      let sum = 0;
      let m = 0;
      for (let j = 1; j < k; j++) {
        const gap = times[slots[j]!]! - times[slots[j - 1]!]!;
        if (gap <= 2 * mean) {
          sum += gap;
          m++;
        }
      }
      const w = m > 0 ? Math.ceil((3 * sum) / m) : 0;
      if (w >= 1) this.width = w;
    }
    this.nb = nb;
    this.head = new Int32Array(nb).fill(-1);
    this.tail = new Int32Array(nb).fill(-1);
    // Ascending order: every insertion is an O(1) append at its bucket's tail.
    this.top = Number.POSITIVE_INFINITY;
    for (const s of slots) this.link(s);
    if (slots.length > 0) {
      const v = Math.floor(times[slots[0]!]! / this.width);
      this.cur = v & (nb - 1);
      this.top = (v + 1) * this.width;
    } else {
      this.cur = 0;
      this.top = this.width;
    }
    this.misfits = 0;
  }
}
