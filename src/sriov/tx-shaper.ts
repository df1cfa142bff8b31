/**
 * `max_tx_rate`: a per-VF transmit rate limiter in virtual time.
 *
 * Real NICs shape, they do not police: ixgbe programs a per-queue rate (RTTBCNRC) and the VF's
 * descriptor ring simply drains slower, so the guest sees back-pressure and only a full ring loses
 * frames. We do the same: frames leave no faster than the rate (a token bucket one frame deep, i.e.
 * pacing), wait in a bounded FIFO the size of the VF's TX ring (ixgbevf `IXGBEVF_DEFAULT_TXD` =
 * 1024) and are refused only when that ring is full (`queue-full`).
 *
 * Arithmetic is exact integers (reference.md §6.5: no precision loss): time is kept in units of
 * `ns × rateMbps`, where a frame of B bytes costs `B × 8000` units (B·8 bits at R·10⁶ bit/s =
 * B·8000/R ns). The counted bytes are the frame as the guest handed it (what `tx_bytes` counts),
 * without preamble, FCS or inter-frame gap, so `tx_bytes / time ≤ max_tx_rate` holds exactly.
 */
import type { Simulation, EventId } from '../sim/index.js';

export const DEFAULT_TX_RING = 1024;

export class TxShaper {
  private rateMbps = 0;
  /** When the next frame may start, in ns × rateMbps. */
  private nextFreeU = 0;
  private queue: Uint8Array[] = [];
  private head = 0;
  private drainEvent: EventId | null = null;
  /** Frames that had to wait for tokens (shaped), for the counters. */
  delayed = 0;

  constructor(
    private readonly sim: Simulation,
    /** Sends a frame that is allowed to leave now. */
    private readonly emit: (frame: Uint8Array) => void,
    private readonly ringSize = DEFAULT_TX_RING,
  ) {}

  get rate(): number {
    return this.rateMbps;
  }

  /** Frames waiting for tokens. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Changes the rate (Mbit/s, 0 = unlimited: waiting frames leave at once). */
  setRate(mbps: number): void {
    if (mbps === this.rateMbps) return;
    const old = this.rateMbps;
    this.rateMbps = mbps;
    this.drainEvent?.cancel();
    this.drainEvent = null;
    if (mbps === 0) {
      this.nextFreeU = 0;
      while (this.queued > 0) this.emit(this.shift());
      return;
    }
    const nextFreeNs = old === 0 ? this.sim.now : Math.ceil(this.nextFreeU / old);
    this.nextFreeU = Math.max(nextFreeNs, this.sim.now) * mbps;
    if (this.queued > 0) this.scheduleDrain();
  }

  /** Hands a frame to the shaper. False when the ring is full (the caller counts the drop). */
  submit(frame: Uint8Array): boolean {
    const rate = this.rateMbps;
    if (rate === 0) {
      this.emit(frame);
      return true;
    }
    const nowU = this.sim.now * rate;
    if (this.queued === 0 && this.nextFreeU <= nowU) {
      this.nextFreeU = nowU + frame.length * 8000;
      this.emit(frame);
      return true;
    }
    if (this.queued >= this.ringSize) return false;
    this.queue.push(frame);
    this.delayed++;
    if (this.drainEvent === null) this.scheduleDrain();
    return true;
  }

  private shift(): Uint8Array {
    const f = this.queue[this.head]!;
    this.head++;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 256 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return f;
  }

  private scheduleDrain(): void {
    const at = Math.max(this.sim.now, Math.ceil(this.nextFreeU / this.rateMbps));
    this.drainEvent = this.sim.scheduleAt(at, () => this.drain());
  }

  private drain(): void {
    this.drainEvent = null;
    const rate = this.rateMbps;
    const nowU = this.sim.now * rate;
    while (this.queued > 0 && this.nextFreeU <= nowU) {
      const f = this.shift();
      this.nextFreeU += f.length * 8000;
      this.emit(f);
    }
    if (this.queued > 0) this.scheduleDrain();
  }
}
