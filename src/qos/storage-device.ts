/**
 * `StorageDevice`: the host storage device behind the disks — a service-time model, called a
 * "backend" in QoS and topology files (`backends:`, `backend: ssd`). Not the block layer's
 * `BlockBackend` (`src/block/`), which stores an image's bytes and knows no time. The device: it serves `parallelism` I/Os at once, each taking a
 * service time drawn from a distribution, with an optional bandwidth ceiling shared by all I/Os
 * (a transfer channel: an I/O also has to move its bytes at `bandwidth` bytes/s, one after the
 * other). Requests beyond the parallelism wait in a queue: FIFO, or per-disk queues served by
 * mClock (Gulati et al., OSDI 2010) when any disk on the backend has an mClock policy.
 *
 * mClock tags each disk's head request with R (reservation, spaced 1/r), L (limit, 1/l) and P
 * (proportional share, 1/w), each at least its arrival time. A free slot goes first to the
 * smallest R tag that is due (reservations), otherwise to the smallest P tag among disks under
 * their limit, and that disk's R tags move back by 1/r (the weight phase does not use up the
 * reservation). When every waiting disk is over its limit the backend idles until the earliest
 * L tag.
 *
 * The queue holds at most the I/Os the workloads keep in flight (their iodepth), so it is bounded.
 */
import type { Simulation } from '../sim/simulation.js';
import type { EventId } from '../sim/queue.js';
import type { Prng } from '../sim/prng.js';
import { ServiceTime, type ServiceTimeSpec } from './service-time.js';
import type { Io } from './io.js';

export interface StorageDeviceSpec {
  name: string;
  /** I/Os served at once (the device's internal queue depth). */
  parallelism: number;
  service: ServiceTimeSpec;
  /** Bytes per second through the device; 0 = no ceiling. */
  bandwidth: number;
}

export interface MclockSpec {
  /** Reserved IOPS (0 = none). */
  reservation: number;
  /** IOPS cap (0 = none). */
  limit: number;
  /** Share of what is left (> 0). */
  weight: number;
}

interface Client {
  spec: MclockSpec;
  head: Io | null;
  tail: Io | null;
  length: number;
  rLast: number;
  lLast: number;
  pLast: number;
  /** Tags of the current head. */
  r: number;
  l: number;
  p: number;
}

export class StorageDevice {
  busy = 0;
  /** Queued requests (waiting for a slot). */
  queued = 0;
  maxQueued = 0;
  /** Completed I/Os and busy-slot time, for utilisation. */
  served = 0;
  busyNsSum = 0;
  private readonly service: ServiceTime;
  private channelFreeAt = 0;
  private head: Io | null = null;
  private tail: Io | null = null;
  private readonly clients: Client[] = [];
  private wakeAt = -1;
  private wakeEv: EventId | undefined;
  private readonly wake = (): void => {
    this.wakeAt = -1;
    this.dispatch();
  };

  constructor(
    readonly spec: StorageDeviceSpec,
    private readonly sim: Simulation,
    private readonly prng: Prng,
    /** mClock settings per disk index (this backend's `Io.client`), or undefined for FIFO. */
    mclock: MclockSpec[] | undefined,
  ) {
    this.service = new ServiceTime(spec.service);
    if (mclock) for (const m of mclock) this.clients.push({ spec: m, head: null, tail: null, length: 0, rLast: 0, lLast: 0, pLast: 0, r: 0, l: 0, p: 0 });
  }

  get scheduler(): 'fifo' | 'mclock' {
    return this.clients.length ? 'mclock' : 'fifo';
  }

  submit(io: Io): void {
    if (this.clients.length === 0) {
      if (this.busy < this.spec.parallelism && this.head === null) return this.start(io);
      io.next = null;
      if (this.tail) this.tail.next = io;
      else this.head = io;
      this.tail = io;
    } else {
      const c = this.clients[io.client]!;
      io.next = null;
      if (c.tail) c.tail.next = io;
      else {
        c.head = io;
        this.tagHead(c, io);
      }
      c.tail = io;
      c.length++;
    }
    this.queued++;
    if (this.queued > this.maxQueued) this.maxQueued = this.queued;
    if (this.busy < this.spec.parallelism) this.dispatch();
  }

  /** Called by the engine when `io`'s service ends: frees its slot and starts the next one. */
  finish(io: Io): void {
    this.busy--;
    this.served++;
    this.busyNsSum += this.sim.now - io.startNs;
    if (this.queued > 0) this.dispatch();
  }

  private start(io: Io): void {
    const now = this.sim.now;
    this.busy++;
    io.startNs = now;
    let end = now + this.service.sample(this.prng);
    const bw = this.spec.bandwidth;
    if (bw > 0) {
      const from = this.channelFreeAt > now ? this.channelFreeAt : now;
      const xfer = from + Math.ceil((io.bytes * 1e9) / bw);
      this.channelFreeAt = xfer;
      if (xfer > end) end = xfer;
    }
    io.completeAt(this.sim, end);
  }

  private dispatch(): void {
    while (this.busy < this.spec.parallelism && this.queued > 0) {
      let io: Io | null;
      if (this.clients.length === 0) {
        io = this.head!;
        this.head = io.next;
        if (this.head === null) this.tail = null;
      } else {
        io = this.pickMclock();
        if (io === null) return;
      }
      io.next = null;
      this.queued--;
      this.start(io);
    }
  }

  private tagHead(c: Client, io: Io): void {
    const t = io.admitNs;
    const s = c.spec;
    c.r = s.reservation > 0 ? Math.max(c.rLast + 1e9 / s.reservation, t) : Number.POSITIVE_INFINITY;
    c.l = s.limit > 0 ? Math.max(c.lLast + 1e9 / s.limit, t) : t;
    c.p = Math.max(c.pLast + 1e9 / s.weight, t);
  }

  private pickMclock(): Io | null {
    const now = this.sim.now;
    let best = -1;
    let bestTag = Number.POSITIVE_INFINITY;
    // constraint phase: reservations that are due
    for (let i = 0; i < this.clients.length; i++) {
      const c = this.clients[i]!;
      if (c.head !== null && c.r <= now && c.r < bestTag) {
        best = i;
        bestTag = c.r;
      }
    }
    let weightPhase = false;
    if (best < 0) {
      weightPhase = true;
      let nextL = Number.POSITIVE_INFINITY;
      for (let i = 0; i < this.clients.length; i++) {
        const c = this.clients[i]!;
        if (c.head === null) continue;
        if (c.l <= now) {
          if (c.p < bestTag) {
            best = i;
            bestTag = c.p;
          }
        } else {
          if (c.l < nextL) nextL = c.l;
          if (c.r < nextL) nextL = c.r;
        }
      }
      if (best < 0) {
        const at = Math.ceil(nextL);
        if (this.wakeAt < 0 || at < this.wakeAt) {
          this.wakeEv?.cancel();
          this.wakeAt = at;
          this.wakeEv = this.sim.scheduleAt(at, this.wake);
        }
        return null;
      }
    }
    const c = this.clients[best]!;
    const io = c.head!;
    c.rLast = c.r;
    c.lLast = c.l;
    c.pLast = c.p;
    if (weightPhase && c.spec.reservation > 0) c.rLast -= 1e9 / c.spec.reservation;
    c.head = io.next;
    c.length--;
    if (c.head === null) c.tail = null;
    else this.tagHead(c, c.head);
    return io;
  }
}
