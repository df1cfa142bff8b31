/**
 * A hypervisor's own network interface (issue 13): what the host kernel's IP stack sends through,
 * an OVS internal port or a physical NIC given an address (`hosts.hv1.interfaces.mgmt`).
 *
 * It implements `GuestNic`, so the host runs the very `GuestStack` (ARP, IPv4, ICMP, UDP, TCP) the
 * guests run: host-to-host traffic is frames on real ports, counted and captured like any other.
 * Unlike virtio-net there is no virtqueue and no guest receive latency: the host kernel handles a
 * frame where it arrives (an internal port is a netdev on the bridge itself). It never asks to
 * announce (no GUEST_ANNOUNCE). Its carrier is its port's `up`.
 */
import type { GuestNic } from './nic.js';
import { Port, type Frame } from './port.js';

export class HostNic implements GuestNic {
  readonly port: Port;
  private rx: ((frame: Frame) => void) | null = null;

  constructor(
    /** `hv1.mgmt`. */
    readonly path: string,
    readonly mac: number,
    readonly mtu: number,
  ) {
    this.port = new Port(path, (f) => {
      if (this.rx === null) this.port.drop('no-stack', f);
      else this.rx(f);
    });
  }

  get linkUp(): boolean {
    return this.port.up && this.port.peer !== null;
  }

  transmit(frame: Frame): boolean {
    if (frame.length > this.mtu + 18) {
      this.port.drop('mtu', frame);
      return false;
    }
    this.port.send(frame, { hops: 0 });
    return true;
  }

  setReceiver(rx: (frame: Frame) => void): void {
    this.rx = rx;
  }

  onAnnounceRequest(_cb: () => void): void {
    // a host interface has no GUEST_ANNOUNCE
  }
}
