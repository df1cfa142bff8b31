/**
 * A simulation: one virtual clock, one event queue, one seeded PRNG.
 *
 * A `Simulation` is an ordinary value (unlike ns-3's static `Simulator`): build one per run and
 * pass it to every component, so two simulations can share a process or a test file. Components
 * never read a wall clock; they ask `sim.now` and schedule with `sim.schedule(delay, fn)`.
 */
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
  readonly prng: Prng;
  /** Events executed so far. */
  eventsRun = 0;

  constructor(readonly seed = 1) {
    this.prng = new Prng(seed);
  }

  get now(): SimTime {
    return this.nowNs;
  }

  /** Runs `handler` `delayNs` from now (0 = later in the current instant, after what is queued). */
  schedule(delayNs: SimTime, handler: EventHandler): EventId {
    if (!(delayNs >= 0)) throw new RangeError(`cannot schedule ${delayNs} ns in the past`);
    return this.queue.push(this.nowNs + delayNs, handler);
  }

  /** Runs `handler` at absolute time `timeNs` (not before now). */
  scheduleAt(timeNs: SimTime, handler: EventHandler): EventId {
    if (timeNs < this.nowNs) throw new RangeError(`cannot schedule at ${timeNs} ns, now is ${this.nowNs} ns`);
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
    const maxEvents = opts.maxEvents ?? Number.POSITIVE_INFINITY;
    let events = 0;
    this.stopRequested = false;
    for (;;) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- handlers call stop(); TS keeps the `= false` narrowing across them
      if (this.stopRequested) return { events, reason: 'stopped' };
      if (events >= maxEvents) return { events, reason: 'max-events' };
      const t = this.queue.peekTime();
      if (t === undefined) return { events, reason: 'idle' };
      if (t > until) {
        this.nowNs = until;
        return { events, reason: 'until' };
      }
      const ev = this.queue.pop()!;
      this.nowNs = ev.time;
      ev.done = true;
      ev.handler();
      events++;
      this.eventsRun++;
    }
  }
}
