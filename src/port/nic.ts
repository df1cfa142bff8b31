/**
 * What a guest network stack talks to: a NIC seen from inside the VM.
 *
 * Both the virtio-net device model (`vnic/`) and an SR-IOV virtual function (`sriov/`) implement
 * it, so `guest/` runs unchanged over either. The device side of the NIC is a `Port` (its `port`
 * field) that the fabric connects to a bridge port, a VEB, or a link.
 */
import type { Frame, Port } from './port.js';

export interface GuestNic {
  /** The device's dotted path, e.g. `vm1.eth0`. */
  readonly path: string;
  /** The NIC's MAC as a 48-bit integer. */
  readonly mac: number;
  readonly mtu: number;
  /** The wire side, connected by the fabric. Its counters are the NIC's port counters. */
  readonly port: Port;
  /** Guest driver transmits one frame. Returns false when the device dropped it (counted). */
  transmit(frame: Frame): boolean;
  /** Registers the guest's receive path (one receiver per NIC). */
  setReceiver(rx: (frame: Frame) => void): void;
  /** Carrier as the guest sees it. */
  readonly linkUp: boolean;
  /**
   * Registers a callback run when the device asks the guest to announce itself (virtio
   * GUEST_ANNOUNCE: status bit S_ANNOUNCE set + config interrupt). Devices without the feature never
   * call it.
   */
  onAnnounceRequest(cb: () => void): void;
}

/** Fabric-wide event sink for things the summary reports (MAC moves, packet-ins, loops, …). */
export interface FabricEvent {
  type: string;
  time_ns: number;
  [field: string]: unknown;
}
export type EventSink = (event: FabricEvent) => void;
