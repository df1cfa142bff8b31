/**
 * A delay line: items that each come out a fixed time after they went in, with one simulator
 * event queued at a time instead of one per item.
 *
 * What and why: a constant delay keeps the items in FIFO order, so only the head's event needs to
 * be in the calendar queue; the rest wait in a ring (no closure, no `EventId` per item). Each item
 * still reserves the simulator's insertion sequence number when it goes in, and when the head
 * comes out the next one does in the same event only if the simulator would run it next anyway
 * (`Simulation.runsNext`); otherwise it is queued at its reserved place. So the order of
 * everything observable, the event count and every `run` limit (`untilNs`, `maxEvents`,
 * `stop()`) are exactly those of one `sim.schedule(delay, …)` per item.
 *
 * Invariants: times and reserved seqs ascend along the ring; the event is queued iff the ring is
 * not empty, except while the line is emptying (it re-arms at the end). Costs: O(1) per item; the
 * ring grows (doubling) to the most items in flight at once and stays there.
 */
import { BugError } from '../errors.js';
import { EventId } from './queue.js';
import type { Simulation } from './simulation.js';

/** What comes out: the item and two small integers that went in with it. */
export type DelayLineOutput<T> = (item: T, a: number, b: number) => void;

export class DelayLine<T> {
  private items: Array<T | undefined> = new Array<T | undefined>(4).fill(undefined);
  private as = new Int32Array(4);
  private bs = new Int32Array(4);
  private times = new Float64Array(4);
  private seqs = new Float64Array(4);
  private head = 0;
  private count = 0;
  private emptying = false;
  private readonly event: EventId;

  constructor(
    private readonly sim: Simulation,
    /** Whole ns (>= 0); fixed, which is what keeps the line in order. */
    readonly delayNs: number,
    private readonly output: DelayLineOutput<T>,
  ) {
    if (!Number.isSafeInteger(delayNs) || delayNs < 0) throw new BugError('SIM_BAD_TIME', `cannot delay by ${delayNs} ns: a delay is a whole number of ns >= 0`);
    this.event = new EventId(0, 0, this.drain);
  }

  /** Items in the line. */
  get length(): number {
    return this.count;
  }

  /** `item` (with `a`, `b`, 32-bit integers) comes out `delayNs` from now. */
  push(item: T, a: number, b: number): void {
    if (this.count === this.items.length) this.grow();
    const cap = this.items.length;
    let i = this.head + this.count;
    if (i >= cap) i -= cap;
    this.items[i] = item;
    this.as[i] = a;
    this.bs[i] = b;
    this.times[i] = this.sim.now + this.delayNs;
    this.seqs[i] = this.sim.reserveSeq();
    if (++this.count === 1 && !this.emptying) this.arm();
  }

  private grow(): void {
    const cap = this.items.length;
    const n = cap * 2;
    const items = new Array<T | undefined>(n).fill(undefined);
    const as = new Int32Array(n);
    const bs = new Int32Array(n);
    const times = new Float64Array(n);
    const seqs = new Float64Array(n);
    for (let k = 0; k < this.count; k++) {
      const j = (this.head + k) % cap;
      items[k] = this.items[j];
      as[k] = this.as[j]!;
      bs[k] = this.bs[j]!;
      times[k] = this.times[j]!;
      seqs[k] = this.seqs[j]!;
    }
    this.items = items;
    this.as = as;
    this.bs = bs;
    this.times = times;
    this.seqs = seqs;
    this.head = 0;
  }

  private arm(): void {
    const ev = this.event;
    ev.time = this.times[this.head]!;
    ev.seq = this.seqs[this.head]!;
    this.sim.requeue(ev);
  }

  /** The head's event: outputs it, and the next ones while each is the simulator's next event. */
  private readonly drain = (): void => {
    const sim = this.sim;
    this.emptying = true;
    try {
      for (;;) {
        const h = this.head;
        const item = this.items[h] as T;
        this.items[h] = undefined;
        this.head = h + 1 === this.items.length ? 0 : h + 1;
        this.count--;
        this.output(item, this.as[h]!, this.bs[h]!);
        if (this.count === 0) return;
        if (!sim.runsNext(this.times[this.head]!, this.seqs[this.head]!)) break;
      }
    } finally {
      this.emptying = false;
    }
    this.arm();
  };
}
