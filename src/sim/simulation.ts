/**
 * A simulation: one virtual clock, one event queue, one seeded PRNG.
 *
 * A `Simulation` is an ordinary value (unlike ns-3's static `Simulator`): build one per run and
 * pass it to every component, so two simulations can share a process or a test file. Components
 * never read a wall clock; they ask `sim.now` and schedule with `sim.schedule(delay, fn)`.
 */
import type { PacketOrigins } from './packet-origins.js';
import { BugError } from '../errors.js';
import { EventQueue, type EventHandler, type EventId } from './queue.js';
import { Prng } from './prng.js';
import type { SimTime } from './time.js';

export interface RunOptions {
  /** Stop once the clock would pass this time; events at exactly `untilNs` still run. */
  untilNs?: SimTime;
  /** Stop after this many events (a safety valve against runaway models). */
  maxEvents?: number;
}

export interface RunResult {
  events: number;
  /** Why the run ended: the queue emptied, the time limit, the event limit, or `stop()`. */
  reason: 'idle' | 'until' | 'max-events' | 'stopped';
}

export class Simulation {
  private queue = new EventQueue();
  private nowNs: SimTime = 0;
  private stopRequested = false;
  /** Limits and event count of the run in progress (read by `runsNext`). */
  private runUntil = Number.NEGATIVE_INFINITY;
  private runMax = 0;
  private runEvents = 0;
  readonly prng: Prng;
  /** Events executed so far. */
  eventsRun = 0;
  /** Set by a capture that writes packet ids; devices relate the frames they re-create to it. */
  packetOrigins: PacketOrigins | undefined = undefined;

  constructor(readonly seed = 1) {
    this.prng = new Prng(seed);
  }

  get now(): SimTime {
    return this.nowNs;
  }

  /** Runs `handler` `delayNs` from now (0 = later in the current instant, after what is queued). */
  schedule(delayNs: SimTime, handler: EventHandler): EventId {
    // Simulated time is whole nanoseconds: NaN, fractions, infinities and negative delays are
    // caller bugs (a NaN time sorts nowhere and would corrupt the queue's order).
    if (!Number.isSafeInteger(delayNs) || delayNs < 0) throw new BugError('SIM_BAD_TIME', `cannot schedule after ${delayNs} ns: a delay is a whole number of ns >= 0`);
    return this.queue.push(this.nowNs + delayNs, handler);
  }

  /** Runs `handler` at absolute time `timeNs` (not before now). */
  scheduleAt(timeNs: SimTime, handler: EventHandler): EventId {
    if (!Number.isSafeInteger(timeNs)) throw new BugError('SIM_BAD_TIME', `cannot schedule at ${timeNs} ns: a time is a whole number of ns`);
    if (timeNs < this.nowNs) throw new BugError('SIM_BAD_TIME', `cannot schedule at ${timeNs} ns, now is ${this.nowNs} ns`);
    return this.queue.push(timeNs, handler);
  }

  /** Asks the running loop to return after the current event. */
  stop(): void {
    this.stopRequested = true;
  }

  /** Number of events still queued (cancelled ones included until they are skipped). */
  get pendingEvents(): number {
    return this.queue.size;
  }

  run(opts: RunOptions = {}): RunResult {
    const until = opts.untilNs ?? Number.POSITIVE_INFINITY;
    if (Number.isNaN(until) || (Number.isFinite(until) && !Number.isSafeInteger(until))) throw new BugError('SIM_BAD_TIME', `cannot run until ${until} ns: a time is a whole number of ns`);
    const maxEvents = opts.maxEvents ?? Number.POSITIVE_INFINITY;
    // A time already passed: nothing to run, and the clock never moves backwards.
    if (until < this.nowNs) return { events: 0, reason: 'until' };
    // A handler that runs the simulation itself gets its own limits; the outer run's come back after.
    const outer = { until: this.runUntil, max: this.runMax, events: this.runEvents };
    this.runUntil = until;
    this.runMax = maxEvents;
    this.runEvents = 0;
    this.stopRequested = false;
    try {
      return this.loop();
    } finally {
      this.runUntil = outer.until;
      this.runMax = outer.max;
      this.runEvents = outer.events;
    }
  }

  private loop(): RunResult {
    const queue = this.queue;
    for (;;) {
      if (this.stopRequested) return { events: this.runEvents, reason: 'stopped' };
      if (this.runEvents >= this.runMax) return { events: this.runEvents, reason: 'max-events' };
      const ev = queue.popUntil(this.runUntil);
      if (ev === undefined) {
        if (queue.peekTime() === undefined) return { events: this.runEvents, reason: 'idle' };
        this.nowNs = this.runUntil;
        return { events: this.runEvents, reason: 'until' };
      }
      this.nowNs = ev.time;
      ev.done = true;
      ev.handler();
      this.runEvents++;
      this.eventsRun++;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Held-back events (link arrivals). An owner whose events come out in (time, seq) order anyway
  // (a link direction: arrivals are FIFO) keeps them in its own ring and queues only the first;
  // each still takes its insertion sequence number when it is created, so the global order, the
  // event count and every `run` limit are exactly what one queued event per item would give.

  /** @internal Reserves the insertion sequence number an event created now would get. */
  reserveSeq(): number {
    return this.queue.reserveSeq();
  }

  /** @internal Queues `ev` at its own (time, seq); it must not be queued already. */
  requeue(ev: EventId): void {
    if (ev.time < this.nowNs) throw new BugError('SIM_BAD_TIME', `cannot schedule at ${ev.time} ns, now is ${this.nowNs} ns`);
    ev.done = false;
    this.queue.pushEvent(ev);
  }

  /**
   * @internal Called from inside a running event by an owner holding back its next event
   * (time, seq): when that event is the one the loop would run next (no queued event comes
   * first, and no limit or `stop()` ends the run before it), counts the current event as done,
   * moves the clock to `time` and returns true: the caller runs it now, in place of a queue
   * round trip. Otherwise returns false and the caller queues it (`requeue`).
   */
  runsNext(time: SimTime, seq: number): boolean {
    if (this.stopRequested || this.runEvents + 1 >= this.runMax || time > this.runUntil) return false;
    if (!this.queue.precedesAll(time, seq)) return false;
    this.runEvents++;
    this.eventsRun++;
    this.nowNs = time;
    return true;
  }
}
