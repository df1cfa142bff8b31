/**
 * A throttle group: several disks (members) share one meter, served round-robin exactly as QEMU's
 * block/throttle-groups.c (7.2) does. A disk with limits of its own is a group of one (QEMU's
 * default group is named after the device).
 *
 * Per direction the group has one "token" (the member whose turn it is) and at most one armed
 * timer among its members (`any_timer_armed`). The functions below mirror QEMU's:
 * - `submit` = `throttle_group_co_io_limits_intercept`: pick the next member with queued requests
 *   (`next_throttle_token`), ask the meter whether it must wait (`throttle_group_schedule_timer`);
 *   the request queues if it must wait OR its disk already has queued requests of that direction;
 *   otherwise it is accounted and goes, and the next request is scheduled.
 * - `schedule_next_request`: the next member in turn with queued requests either gets a timer for
 *   its wait, or, when no wait is needed, the current member's own next request is woken at once
 *   ("give preference to requests from the current tgm"), else the token's timer fires now.
 * - timer callback: clears `any_timer_armed` and restarts that member's queue; the woken request is
 *   accounted WITHOUT being checked again (QEMU's coroutine resumes after the wait and accounts).
 *   Meters whose real implementation retries instead (Firecracker, cgroup) set `recheckOnTimer`.
 * Members are visited in QLIST order: QEMU inserts at the head, so the newest member comes first.
 *
 * Time and timers come from a `GateHost` (the simulation), so this file reads no clock.
 */
import type { Direction } from './leaky-bucket.js';

/** What a group needs to know about a request. */
export interface GateRequest {
  dir: Direction;
  bytes: number;
}

/** A rate meter: QEMU leaky buckets, a Firecracker token bucket, cgroup io.max. */
export interface Meter {
  /** Nanoseconds the next request (of `bytes`, direction `dir`) must wait at `nowNs`; 0 = go. */
  wait(dir: Direction, bytes: number, nowNs: number): number;
  /** Charges an admitted request. */
  account(dir: Direction, bytes: number, nowNs: number): void;
  /** True when a timer's wake-up re-checks the meter instead of admitting unconditionally. */
  readonly recheckOnTimer: boolean;
}

export interface GateHost<R> {
  now(): number;
  /** `timer_mod`: (re)arm the timer of `member` for `dir` at absolute `atNs`, replacing any previous. */
  armTimer(member: number, dir: Direction, atNs: number): void;
  /** The request leaves the throttle (goes on to the disk). */
  admit(req: R, member: number): void;
}

/** A bounded-growth FIFO (ring buffer) of requests; its capacity is a power of two (index by mask). */
class Fifo<R> {
  private buf: Array<R | undefined> = new Array<R | undefined>(8);
  private mask = 7;
  private head = 0;
  length = 0;
  push(r: R): void {
    if (this.length === this.buf.length) {
      const nb: Array<R | undefined> = new Array<R | undefined>(this.buf.length * 2);
      for (let i = 0; i < this.length; i++) nb[i] = this.buf[(this.head + i) % this.buf.length];
      this.buf = nb;
      this.mask = nb.length - 1;
      this.head = 0;
    }
    this.buf[(this.head + this.length) & this.mask] = r;
    this.length++;
  }
  peek(): R | undefined {
    return this.length ? this.buf[this.head] : undefined;
  }
  shift(): R | undefined {
    if (!this.length) return undefined;
    const r = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.length--;
    return r;
  }
}

/** Per-member statistics a report shows. */
export interface MemberThrottleStats {
  /** Requests that had to queue in the throttle. */
  throttled: number;
  /** Time (ns) with at least one request queued in the throttle. */
  throttledNs: number;
  /** Integral of the queue length over time (ns·requests), for the mean queue length. */
  queueNsSum: number;
  maxQueue: number;
}

export class ThrottleGroup<R extends GateRequest> {
  private readonly queues: Array<[Fifo<R>, Fifo<R>]> = [];
  private readonly timerPending: Array<[boolean, boolean]> = [];
  /** `tg->tokens[dir]`. */
  private readonly tokens: [number, number] = [0, 0];
  /** `tg->any_timer_armed[dir]`. */
  private readonly anyTimerArmed: [boolean, boolean] = [false, false];
  /** Requests queued per direction over all members (lets `nextToken` skip the scan when 0). */
  private readonly pending: [number, number] = [0, 0];
  readonly stats: MemberThrottleStats[] = [];
  private readonly lastChange: number[] = [];

  constructor(
    readonly name: string,
    readonly meter: Meter,
    private readonly host: GateHost<R>,
    readonly members: number,
  ) {
    for (let i = 0; i < members; i++) {
      this.queues.push([new Fifo(), new Fifo()]);
      this.timerPending.push([false, false]);
      this.stats.push({ throttled: 0, throttledNs: 0, queueNsSum: 0, maxQueue: 0 });
      this.lastChange.push(0);
    }
    // `throttle_group_register_tgm`: the first member registered holds both tokens.
    this.tokens[0] = 0;
    this.tokens[1] = 0;
  }

  /** Requests queued in the throttle for `member` (both directions). */
  queued(member: number): number {
    const q = this.queues[member]!;
    return q[0].length + q[1].length;
  }

  /** `throttle_group_co_io_limits_intercept`. Returns true when the request went through at once. */
  submit(member: number, req: R): boolean {
    const dir = req.dir;
    // time stands still during a call (the host only moves it between events): read it once
    const now = this.host.now();
    const token = this.nextToken(member, dir);
    const mustWait = this.scheduleTimer(token, dir, this.headBytes(token, dir, req.bytes), now);
    const q = this.queues[member]![dir];
    if (mustWait || q.length > 0) {
      this.noteQueue(member, now);
      q.push(req);
      this.pending[dir]++;
      this.stats[member]!.throttled++;
      const n = this.queued(member);
      if (n > this.stats[member]!.maxQueue) this.stats[member]!.maxQueue = n;
      return false;
    }
    this.go(member, req, now);
    return true;
  }

  /** The timer of `member` for `dir` fired (`timer_cb` → `throttle_group_restart_queue`). */
  timerFired(member: number, dir: Direction): void {
    this.timerPending[member]![dir] = false;
    this.anyTimerArmed[dir] = false;
    const now = this.host.now();
    const q = this.queues[member]![dir];
    const head = q.peek();
    if (head === undefined) {
      // empty queue: `throttle_group_restart_queue_entry` schedules the next request itself
      this.scheduleNext(member, dir, now);
      return;
    }
    if (this.meter.recheckOnTimer) {
      const w = this.meter.wait(dir, head.bytes, now);
      if (w > 0) {
        this.arm(member, dir, w, now);
        this.tokens[dir] = member;
        return;
      }
    }
    this.noteQueue(member, now);
    q.shift();
    this.pending[dir]--;
    this.go(member, head, now);
  }

  /** Accounts `req`, lets it through, and schedules what comes next; loops over same-instant wake-ups. */
  private go(member: number, req: R, now: number): void {
    const m = member;
    let r: R | undefined = req;
    while (r !== undefined) {
      const dir = r.dir;
      this.meter.account(dir, r.bytes, now);
      this.host.admit(r, m);
      r = this.scheduleNext(m, dir, now);
      if (r !== undefined) {
        this.noteQueue(m, now);
        this.queues[m]![dir].shift();
        this.pending[dir]--;
      }
    }
  }

  /**
   * `schedule_next_request`. Returns the current member's next request when it is woken at once
   * (the caller admits it), otherwise undefined.
   */
  private scheduleNext(member: number, dir: Direction, now: number): R | undefined {
    const token = this.nextToken(member, dir);
    const tq = this.queues[token]![dir];
    if (tq.length === 0) return undefined;
    const mustWait = this.scheduleTimer(token, dir, tq.peek()!.bytes, now);
    if (!mustWait) {
      const own = this.queues[member]![dir];
      if (own.length > 0) {
        this.tokens[dir] = member;
        return own.peek();
      }
      this.arm(token, dir, 0, now);
      this.anyTimerArmed[dir] = true;
      this.tokens[dir] = token;
    }
    return undefined;
  }

  /** `throttle_group_schedule_timer` + `throttle_schedule_timer`. */
  private scheduleTimer(member: number, dir: Direction, bytes: number, now: number): boolean {
    if (this.anyTimerArmed[dir]) return true;
    const wait = this.meter.wait(dir, bytes, now);
    if (wait === 0) return false;
    if (!this.timerPending[member]![dir]) this.arm(member, dir, wait, now);
    this.tokens[dir] = member;
    this.anyTimerArmed[dir] = true;
    return true;
  }

  private arm(member: number, dir: Direction, waitNs: number, now: number): void {
    this.timerPending[member]![dir] = true;
    this.host.armTimer(member, dir, now + waitNs);
  }

  /** `next_throttle_token`: round-robin over members with queued requests of `dir`. */
  private nextToken(member: number, dir: Direction): number {
    if (this.pending[dir] === 0) return member; // what the scan below ends with when nothing is queued
    const start = this.tokens[dir];
    let token = this.after(start);
    while (token !== start && this.queues[token]![dir].length === 0) token = this.after(token);
    if (token === start && this.queues[token]![dir].length === 0) token = member;
    return token;
  }

  /** `throttle_group_next_tgm` over a QLIST built with QLIST_INSERT_HEAD: newest member first. */
  private after(m: number): number {
    return m === 0 ? this.members - 1 : m - 1;
  }

  private headBytes(member: number, dir: Direction, fallback: number): number {
    return this.queues[member]![dir].peek()?.bytes ?? fallback;
  }

  /** Time-weighted queue statistics: call before the queue length of `member` changes. */
  private noteQueue(member: number, now: number): void {
    const n = this.queued(member);
    const dt = now - this.lastChange[member]!;
    if (n > 0 && dt > 0) {
      const s = this.stats[member]!;
      s.throttledNs += dt;
      s.queueNsSum += dt * n;
    }
    this.lastChange[member] = now;
  }

  /** Closes the time-weighted statistics at `nowNs` (end of a run). */
  flushStats(): void {
    const now = this.host.now();
    for (let m = 0; m < this.members; m++) this.noteQueue(m, now);
  }
}
