/**
 * Split virtqueue occupancy model (virtio 1.2 §2.7, `split-ring.tex`).
 *
 * vfab does not move descriptors through guest memory; it models what matters for traffic: how
 * many descriptor chains the driver has made available and the device has not yet used. For an rx
 * queue that is the number of posted receive buffers (none posted = the frame is dropped,
 * `no-rx-buffer`); for a tx queue it is the number of frames the guest queued that the device has
 * not yet transmitted (ring full = the transmit is dropped, `tx-queue-full`). The ring never holds
 * more than `size` chains, as with a real ring of `size` descriptors and one descriptor per chain
 * (Linux uses indirect descriptors or VIRTIO_F_ANY_LAYOUT, so header + data take one slot).
 */
import { UserError } from '../errors.js';

/** Spec maximum for a split queue ("Queue Size … maximum 32768"). */
export const MAX_QUEUE_SIZE = 32768;

export type QueueKind = 'rx' | 'tx' | 'ctrl';

/** Per-queue counters, named like Linux's virtio_net ethtool stats (`rx_queue_0_packets`…). */
export interface QueueCounters {
  /** Frames (rx/tx) or commands (ctrl) the device completed on this queue. */
  packets: number;
  bytes: number;
  /** Drops charged to this queue by reason. */
  drops: Record<string, number>;
  /** Descriptor chains the device marked used (a merged rx frame uses several). */
  used_buffers: number;
  /** Highest number of chains outstanding at once. */
  peak_outstanding: number;
}

export function validateQueueSize(size: number, where: string): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_QUEUE_SIZE || (size & (size - 1)) !== 0) {
    throw new UserError('VNIC_QUEUE_SIZE', `virtqueue size ${size} is not a power of two between 1 and ${MAX_QUEUE_SIZE}`, {
      where,
      hint: 'split virtqueues must have a power-of-two size (virtio 1.2 §2.7); QEMU defaults to 256',
    });
  }
}

export class Virtqueue {
  /** Chains made available by the driver and not yet used by the device. */
  outstanding = 0;
  readonly counters: QueueCounters = { packets: 0, bytes: 0, drops: {}, used_buffers: 0, peak_outstanding: 0 };

  constructor(
    /** Index in the device's queue layout (rx0=0, tx0=1, …, ctrl=2N). */
    readonly index: number,
    readonly name: string,
    readonly kind: QueueKind,
    readonly size: number,
  ) {}

  /** Free ring slots. */
  get free(): number {
    return this.size - this.outstanding;
  }

  /** The driver makes up to `n` chains available; returns how many fit. */
  makeAvailable(n: number): number {
    const k = Math.max(0, Math.min(n, this.free));
    this.outstanding += k;
    if (this.outstanding > this.counters.peak_outstanding) this.counters.peak_outstanding = this.outstanding;
    return k;
  }

  /** The device uses `n` chains (must be outstanding). */
  use(n: number): void {
    this.outstanding -= n;
    this.counters.used_buffers += n;
  }

  countDrop(reason: string): void {
    const d = this.counters.drops;
    d[reason] = (d[reason] ?? 0) + 1;
  }
}
