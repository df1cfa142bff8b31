/**
 * One I/O in flight. Objects are pooled per job (one per unit of iodepth) and reused, and each has
 * its completion handler bound once at creation and re-arms its own completion event, so a
 * simulated I/O allocates nothing.
 */
import type { Direction } from '../block/throttle/leaky-bucket.js';
import type { EventId } from '../sim/queue.js';
import type { Simulation } from '../sim/simulation.js';

/** Where a completed I/O is reported (the engine). */
export interface IoSink {
  ioComplete(io: Io): void;
}

/**
 * @internal Whether I/O completions and throttle timers re-arm their event records (the default)
 * or take a new one each time; the results are the same (a test runs both and compares).
 */
export const eventRecords = { reuse: true };

export class Io {
  dir: Direction = 0;
  bytes = 0;
  offset = 0;
  /** Issued by the workload (fio's submission time). */
  submitNs = 0;
  /** Let through by the throttle. */
  admitNs = 0;
  /** Started service at the backend. */
  startNs = 0;
  /** Earliest time the pooled object may be reused (thinktime). */
  readyNs = 0;
  /** Index of the disk on its backend (mClock client). */
  client = 0;
  /** Intrusive queue link. */
  next: Io | null = null;
  readonly onComplete: () => void;
  /** The completion event last scheduled (`completeAt`), re-armed once it ran. */
  private ev: EventId | undefined = undefined;

  constructor(
    /** Index of the job run that owns this I/O. */
    readonly job: number,
    /** Index of the disk. */
    readonly disk: number,
    sink: IoSink,
  ) {
    // calls a method (not a closure made per engine), so the call target is the same in every run
    this.onComplete = () => sink.ioComplete(this);
  }

  /**
   * Schedules `onComplete` at absolute `timeNs`, exactly as `sim.scheduleAt(timeNs, onComplete)`
   * would (the same place among same-time events, one event), re-using the record of the previous
   * completion once it ran: an I/O has at most one completion pending, so a simulated I/O
   * allocates nothing.
   */
  completeAt(sim: Simulation, timeNs: number): void {
    const ev = this.ev;
    if (ev !== undefined && ev.done && !ev.cancelled && eventRecords.reuse && Number.isSafeInteger(timeNs)) {
      ev.time = timeNs;
      ev.seq = sim.reserveSeq();
      sim.requeue(ev);
    } else this.ev = sim.scheduleAt(timeNs, this.onComplete);
  }
}
