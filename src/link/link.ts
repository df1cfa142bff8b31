/**
 * A point-to-point link between two ports: a cable with a line rate, a propagation delay, a
 * bounded transmit queue per direction and optional random loss.
 *
 * Design
 * - Each direction is an independent FIFO transmitter (like a NIC's tx ring feeding a full-duplex
 *   cable). A frame handed to the link at time t starts serializing at max(t, end of the previous
 *   frame), takes `wireBits / bandwidth` to serialize, and arrives at the far port
 *   `delay` after its last bit left: arrival = start + serialization + delay.
 * - Serialization counts the bytes a frame really occupies on Ethernet: the frame padded to the
 *   60-byte minimum, plus FCS (4), preamble + SFD (8) and inter-frame gap (12): 24 bytes of
 *   overhead, so 64-byte frames on 10Gbit run at the textbook 14.88 Mpps (IEEE 802.3 clause 4).
 *   Times are rounded up to whole nanoseconds per frame.
 * - The queue holds frames that have not started serializing yet. When it already holds `queue`
 *   frames, a new one is tail-dropped and counted `queue-full` at the sending port (the Linux
 *   qdisc drop a `tc -s qdisc` would show on the sender).
 * - Loss draws from the link's own PRNG stream (`sim.prng.fork(label)`) once per frame, in frame
 *   order, so the same seed loses the same frames; a lost frame still uses its wire time and is
 *   counted `loss` at the sending port.
 * - Delivery is always a scheduled event, never a direct call. That is what breaks the call
 *   recursion between hosts and what makes a link the unit of parallel time in the fabric.
 * - Arrivals per direction are FIFO (serialization is, and the delay is constant), so a direction
 *   keeps its frames in flight in a ring and has at most one event queued: its head's arrival.
 *   Each frame still reserves the simulator's insertion sequence number when it is put on the
 *   wire, and when the head arrives the next frame is delivered in the same event only if the
 *   simulator would run it next anyway (`Simulation.runsNext`), so the global (time, seq) order,
 *   the event count and the run limits are exactly those of one event per frame; what is saved is
 *   a closure, an `EventId` and usually a calendar-queue round trip per frame.
 * - Down (a scenario `link_down`): both ports lose carrier (`Port.up = false`, so they drop new
 *   frames as `link-down`); frames queued or already on the wire are lost and counted `link-down`
 *   at their sender (at the time they would have arrived).
 *
 * Limits: the queue is bounded (default 1000 frames, like txqueuelen); nothing else grows.
 */
import { hopMeta, type Frame, type FrameMeta, type FrameReceiver, type Port } from '../port/port.js';
import type { Prng } from '../sim/prng.js';
import type { Simulation } from '../sim/simulation.js';
import { EventId } from '../sim/queue.js';
import type { EventSink } from '../port/nic.js';
import { BugError } from '../errors.js';
import { FqCodel, Red, type Qdisc, type QdiscConfig } from './qdisc.js';

export interface LinkOptions {
  sim: Simulation;
  /** Name used in events and as the PRNG fork label (`link0`, or `hv1.br0.uplink<->tor.p1`). */
  name: string;
  a: Port;
  b: Port;
  /** Line rate in bit/s (> 0). Default 10 Gbit/s. */
  bandwidthBps?: number;
  /** Propagation delay in ns. Default 0. */
  delayNs?: number;
  /** Frames waiting to be serialized, per direction. Default 1000. */
  queueFrames?: number;
  /** A queue discipline instead of the tail-drop FIFO (`fq_codel`, `red`); per direction. */
  qdisc?: QdiscConfig;
  /** MTU used for fq_codel's quantum and RED's defaults (default 1500). */
  mtu?: number;
  /** Loss probability per frame in [0, 1]. Default 0. */
  loss?: number;
  /** Loss stream; default `sim.prng.fork('link:' + name)`. */
  prng?: Prng;
  events?: EventSink;
}

/** Bytes a frame occupies on the wire besides its own (FCS + preamble/SFD + IFG). */
export const ETHERNET_WIRE_OVERHEAD = 24;
/** Minimum frame length without FCS; shorter frames are padded on the wire. */
export const ETHERNET_MIN_FRAME = 60;

export interface LinkDirectionStats {
  frames: number;
  bytes: number;
  queueFull: number;
  lost: number;
  /** Frames lost because the link was down: the sending port's `link-down` drops (read-only). */
  readonly linkDown: number;
  /** Highest number of frames waiting at once. */
  maxQueued: number;
  /** Qdisc drops by reason (`codel`, `fq-overlimit`, `red-early`, `red-forced`, `red-limit`). */
  qdiscDrops: Record<string, number>;
  /** Frames ECN-marked (CE) by the qdisc. */
  ecnMarks: number;
}

/** Serialization time of a `len`-byte frame (no FCS) at `bps`, in whole ns (rounded up). */
export function serializationNs(len: number, bps: number): number {
  const wireBytes = Math.max(len, ETHERNET_MIN_FRAME) + ETHERNET_WIRE_OVERHEAD;
  return Math.ceil((wireBytes * 8 * 1e9) / bps);
}

class Direction implements FrameReceiver {
  /** Start times of frames accepted but maybe not yet started (a ring; FIFO so times ascend). */
  private starts: Float64Array;
  private head = 0;
  private count = 0;
  /** When the transmitter is free again. */
  busyUntil = 0;
  readonly stats: LinkDirectionStats;
  /** Set for fq_codel/red: frames wait in it and leave one by one as the transmitter frees. */
  qdisc: Qdisc | null = null;
  private txEvent = false;
  /**
   * Frames on the wire (or queued for it), in arrival order: a ring of (frame, hops, arrival time,
   * reserved insertion seq). Times and seqs both ascend. `arrival` is queued iff the ring is not
   * empty, except while `deliver` runs (it re-arms at its end).
   */
  private flight: Array<Frame | undefined> = new Array<Frame | undefined>(4).fill(undefined);
  private flightHops = new Int32Array(4);
  private flightTimes = new Float64Array(4);
  private flightSeqs = new Float64Array(4);
  private flightHead = 0;
  private flightCount = 0;
  private delivering = false;
  private arrival: EventId;

  constructor(
    private readonly link: Link,
    readonly from: Port,
    readonly to: Port,
    private readonly queueFrames: number,
  ) {
    // Grown on demand up to queueFrames + 1: a fabric of thousands of mostly idle links stays small.
    this.starts = new Float64Array(Math.min(16, queueFrames + 1));
    this.arrival = new EventId(0, 0, this.deliver);
    // One source of truth for link-down losses (issue 10 #15): the sending port's `link-down`
    // drops. A frame sent while the link is down is dropped by the port itself (carrier off)
    // and never reaches the link, so a separate link counter said 0 while the port counted.
    // Every link-down drop at `from` is a frame `from` tried to put on this link.
    const base = from.counters.drops['link-down'] ?? 0;
    this.stats = {
      frames: 0,
      bytes: 0,
      queueFull: 0,
      lost: 0,
      get linkDown(): number {
        return (from.counters.drops['link-down'] ?? 0) - base;
      },
      maxQueued: 0,
      qdiscDrops: {},
      ecnMarks: 0,
    };
  }

  private grow(): void {
    const cap = this.starts.length;
    const next = new Float64Array(Math.min(cap * 2, this.queueFrames + 1));
    for (let i = 0; i < this.count; i++) next[i] = this.starts[(this.head + i) % cap]!;
    this.starts = next;
    this.head = 0;
  }

  receive(frame: Frame, meta: FrameMeta): void {
    const link = this.link;
    const sim = link.sim;
    const now = sim.now;
    if (!link.up) {
      this.from.drop('link-down', frame);
      return;
    }
    if (this.qdisc !== null) {
      this.qdiscReceive(frame, meta.hops);
      return;
    }
    // Forget frames that have started serializing by now.
    const cap = this.starts.length;
    while (this.count > 0 && this.starts[this.head]! <= now) {
      this.head = this.head + 1 === cap ? 0 : this.head + 1;
      this.count--;
    }
    const start = this.busyUntil > now ? this.busyUntil : now;
    if (start > now) {
      // It would wait: it needs a queue slot.
      if (this.count >= this.queueFrames) {
        this.stats.queueFull++;
        this.from.drop('queue-full', frame);
        return;
      }
      if (this.count + 1 >= this.starts.length) this.grow();
      const ring = this.starts.length;
      let tail = this.head + this.count;
      if (tail >= ring) tail -= ring;
      this.starts[tail] = start;
      this.count++;
      if (this.count > this.stats.maxQueued) this.stats.maxQueued = this.count;
    }
    const end = start + this.serialization(frame.length);
    this.busyUntil = end;
    this.stats.frames++;
    this.stats.bytes += frame.length;
    if (link.loss > 0 && link.prng.float() < link.loss) {
      this.stats.lost++;
      this.from.drop('loss', frame);
      return;
    }
    this.launch(frame, meta.hops, end + link.delayNs);
  }

  /** Length of the last frame serialized and its time: a flow's frames mostly repeat a few lengths. */
  private lastLen = -1;
  private lastNs = 0;

  /** `serializationNs(len, bandwidth)`, remembered for the last length. */
  private serialization(len: number): number {
    if (len !== this.lastLen) {
      this.lastLen = len;
      this.lastNs = serializationNs(len, this.link.bandwidthBps);
    }
    return this.lastNs;
  }

  /** Puts `frame` in flight, arriving at `at` (never before the previous frame's arrival). */
  private launch(frame: Frame, hops: number, at: number): void {
    const sim = this.link.sim;
    if (at < sim.now) throw new BugError('SIM_BAD_TIME', `cannot schedule at ${at} ns, now is ${sim.now} ns`);
    if (this.flightCount === this.flight.length) this.growFlight();
    const cap = this.flight.length;
    let i = this.flightHead + this.flightCount;
    if (i >= cap) i -= cap;
    this.flight[i] = frame;
    this.flightHops[i] = hops;
    this.flightTimes[i] = at;
    this.flightSeqs[i] = sim.reserveSeq();
    if (++this.flightCount === 1 && !this.delivering) this.arm();
  }

  private growFlight(): void {
    const cap = this.flight.length;
    const n = cap * 2;
    const frames = new Array<Frame | undefined>(n).fill(undefined);
    const hops = new Int32Array(n);
    const times = new Float64Array(n);
    const seqs = new Float64Array(n);
    for (let k = 0; k < this.flightCount; k++) {
      const j = (this.flightHead + k) % cap;
      frames[k] = this.flight[j];
      hops[k] = this.flightHops[j]!;
      times[k] = this.flightTimes[j]!;
      seqs[k] = this.flightSeqs[j]!;
    }
    this.flight = frames;
    this.flightHops = hops;
    this.flightTimes = times;
    this.flightSeqs = seqs;
    this.flightHead = 0;
  }

  /** Queues the arrival event for the head frame. */
  private arm(): void {
    const ev = this.arrival;
    const h = this.flightHead;
    ev.time = this.flightTimes[h]!;
    ev.seq = this.flightSeqs[h]!;
    this.link.sim.requeue(ev);
  }

  /** The head frame's arrival: delivers it, and the next ones while each is the simulator's next event. */
  private readonly deliver = (): void => {
    const sim = this.link.sim;
    const to = this.to;
    this.delivering = true;
    try {
      for (;;) {
        const h = this.flightHead;
        const frame = this.flight[h]!;
        const hops = this.flightHops[h]!;
        this.flight[h] = undefined;
        this.flightHead = h + 1 === this.flight.length ? 0 : h + 1;
        this.flightCount--;
        to.receive(frame, hopMeta(hops));
        if (this.flightCount === 0) return;
        const n = this.flightHead;
        if (!sim.runsNext(this.flightTimes[n]!, this.flightSeqs[n]!)) break;
      }
    } finally {
      this.delivering = false;
    }
    this.arm();
  };

  private qdiscReceive(frame: Frame, hops: number): void {
    const q = this.qdisc!;
    const now = this.link.sim.now;
    if (this.busyUntil <= now && q.length === 0 && !this.txEvent) {
      this.send(frame, hops);
      return;
    }
    q.enqueue(frame, now);
    this.hops = hops;
    if (q.length > this.stats.maxQueued) this.stats.maxQueued = q.length;
    if (!this.txEvent) this.armTx();
  }

  /** Hop count for frames leaving the qdisc (frames do not carry it; the last one seen is used). */
  private hops = 0;

  private armTx(): void {
    this.txEvent = true;
    const sim = this.link.sim;
    sim.scheduleAt(Math.max(sim.now, this.busyUntil), () => {
      this.txEvent = false;
      if (this.qdisc === null) return;
      const f = this.qdisc.dequeue(sim.now);
      this.stats.ecnMarks = this.qdisc.marks;
      if (f === null) return;
      this.send(f, this.hops);
      if (this.qdisc.length > 0) this.armTx();
    });
  }

  /** Starts serializing `frame` now (qdisc path). */
  private send(frame: Frame, hops: number): void {
    const link = this.link;
    const sim = link.sim;
    const end = sim.now + this.serialization(frame.length);
    this.busyUntil = end;
    this.stats.frames++;
    this.stats.bytes += frame.length;
    if (link.loss > 0 && link.prng.float() < link.loss) {
      this.stats.lost++;
      this.from.drop('loss', frame);
      return;
    }
    this.launch(frame, hops, end + link.delayNs);
  }

  /** A qdisc drop: counted per reason on the link and at the sending port. */
  qdiscDrop(frame: Frame, reason: string): void {
    this.stats.qdiscDrops[reason] = (this.stats.qdiscDrops[reason] ?? 0) + 1;
    this.from.drop(reason, frame);
  }

  /** Forgets everything queued or in flight; each such frame is counted `link-down` at the sender when its arrival event fires. */
  flush(): void {
    if (this.qdisc !== null) {
      const now = this.link.sim.now;
      for (let f = this.qdisc.dequeue(now); f !== null; f = this.qdisc.dequeue(now)) {
        this.from.drop('link-down', f);
      }
    }
    this.count = 0;
    this.head = 0;
    this.busyUntil = this.link.sim.now;
    // Frames in flight are lost at the time they would have arrived, each as its own event at its
    // reserved place; new frames may now arrive before them, so they leave the ring.
    const sim = this.link.sim;
    const from = this.from;
    if (this.flightCount > 0) {
      this.arrival.cancel();
      this.arrival = new EventId(0, 0, this.deliver);
    }
    while (this.flightCount > 0) {
      const h = this.flightHead;
      const frame = this.flight[h]!;
      sim.requeue(new EventId(this.flightTimes[h]!, this.flightSeqs[h]!, () => from.drop('link-down', frame)));
      this.flight[h] = undefined;
      this.flightHead = h + 1 === this.flight.length ? 0 : h + 1;
      this.flightCount--;
    }
  }
}

export class Link {
  readonly sim: Simulation;
  readonly name: string;
  readonly a: Port;
  readonly b: Port;
  readonly bandwidthBps: number;
  readonly delayNs: number;
  readonly loss: number;
  readonly prng: Prng;
  private readonly ab: Direction;
  private readonly ba: Direction;
  private readonly events: EventSink | undefined;
  up = true;

  constructor(opts: LinkOptions) {
    this.sim = opts.sim;
    this.name = opts.name;
    this.a = opts.a;
    this.b = opts.b;
    this.bandwidthBps = opts.bandwidthBps ?? 10_000_000_000;
    if (!(this.bandwidthBps > 0)) throw new RangeError(`link ${opts.name}: bandwidth must be positive`);
    this.delayNs = Math.round(opts.delayNs ?? 0);
    this.loss = opts.loss ?? 0;
    this.prng = opts.prng ?? opts.sim.prng.fork(`link:${opts.name}`);
    this.events = opts.events;
    const q = opts.queueFrames ?? 1000;
    this.ab = new Direction(this, this.a, this.b, q);
    this.ba = new Direction(this, this.b, this.a, q);
    const qd = opts.qdisc;
    if (qd !== undefined && qd.kind !== 'fifo') {
      const mtu = opts.mtu ?? 1500;
      for (const d of [this.ab, this.ba]) {
        const hook = (f: Frame, reason: string): void => d.qdiscDrop(f, reason);
        d.qdisc = qd.kind === 'fq_codel' ? new FqCodel(qd, mtu, hook) : new Red(qd, mtu, this.prng.fork(d === this.ab ? 'red:ab' : 'red:ba'), 8e9 / this.bandwidthBps, hook);
      }
    }
    this.a.peer = this.ab;
    this.b.peer = this.ba;
  }

  /** Per-direction counters: `a→b` and `b→a`. */
  stats(): { ab: LinkDirectionStats; ba: LinkDirectionStats } {
    return { ab: { ...this.ab.stats, qdiscDrops: { ...this.ab.stats.qdiscDrops } }, ba: { ...this.ba.stats, qdiscDrops: { ...this.ba.stats.qdiscDrops } } };
  }

  /** Takes the cable down (both ends lose carrier) or brings it back up. */
  setUp(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    this.a.up = up;
    this.b.up = up;
    if (!up) {
      this.ab.flush();
      this.ba.flush();
    }
    this.events?.({ type: up ? 'link-up' : 'link-down', time_ns: this.sim.now, link: this.name, a: this.a.path, b: this.b.path });
  }
}
