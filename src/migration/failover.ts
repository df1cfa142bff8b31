/**
 * virtio-net failover (VIRTIO_NET_F_STANDBY) as the guest sees it: Linux's `net_failover`
 * (`drivers/net/net_failover.c`) master netdev over a primary (a passed-through VF) and a standby
 * (the virtio NIC that offered STANDBY), both with the same MAC.
 *
 * - Transmit (`net_failover_start_xmit`): through the primary while it is plugged and has carrier
 *   (`net_failover_xmit_ready`), else through the standby; with neither, the frame is dropped.
 * - Receive (`net_failover_handle_frame`): frames from the primary reach the master; frames from
 *   the standby reach it only while no primary is registered (with one, the handler returns
 *   `RX_HANDLER_EXACT`: the frame stays on the standby netdev, which has no address — so the
 *   guest does not see flooded frames twice).
 * - A slave must carry the master's MAC (`net_failover_slave_pre_register` refuses others).
 *
 * Live migration with a VF then goes: QEMU unplugs the primary before migrating
 * (`qemu_savevm_wait_unplug`, `hw/net/virtio-net.c` `failover_*`), traffic fails over to the
 * standby, the VM migrates like any virtio VM, and a VF on the destination PF is hot-plugged as
 * the new primary. `FailoverNic` is the guest-side piece; the fabric has to build the VM's
 * interface as one (the migration module's failover hooks use `unplugPrimary`/`plugPrimary`).
 */
import { UserError } from '../errors.js';
import type { GuestNic } from '../port/nic.js';
import type { Frame, Port } from '../port/port.js';
import { formatMac } from '../wire/mac.js';

export class FailoverNic implements GuestNic {
  private primaryNic: GuestNic | null = null;
  private rx: ((frame: Frame) => void) | null = null;
  private announceCbs: Array<() => void> = [];
  /** Frames dropped because no slave could send (neither plugged nor up). */
  txDrops = 0;
  /** Frames the standby received while a primary was registered (not passed to the master). */
  standbyRxIgnored = 0;
  /** Plug/unplug history, for the summary. */
  readonly log: string[] = [];

  constructor(
    /** The failover netdev's path (the interface name the guest configures), e.g. `vm1.eth1`. */
    readonly path: string,
    readonly standby: GuestNic,
    primary: GuestNic | null = null,
  ) {
    standby.setReceiver((f) => {
      if (this.primaryNic !== null) this.standbyRxIgnored++;
      else this.rx?.(f);
    });
    standby.onAnnounceRequest(() => this.announceCbs.forEach((cb) => cb()));
    if (primary) this.plugPrimary(primary);
  }

  get mac(): number {
    return this.standby.mac;
  }

  get mtu(): number {
    return Math.min(this.standby.mtu, this.primaryNic?.mtu ?? this.standby.mtu);
  }

  get primary(): GuestNic | null {
    return this.primaryNic;
  }

  /** The slave frames leave through now. */
  get active(): GuestNic {
    const p = this.primaryNic;
    return p !== null && p.linkUp ? p : this.standby;
  }

  /** The active slave's wire port. */
  get port(): Port {
    return this.active.port;
  }

  get linkUp(): boolean {
    return (this.primaryNic?.linkUp ?? false) || this.standby.linkUp;
  }

  transmit(frame: Frame): boolean {
    const out = this.active;
    if (!out.linkUp) {
      this.txDrops++;
      return false;
    }
    return out.transmit(frame);
  }

  setReceiver(rx: (frame: Frame) => void): void {
    this.rx = rx;
  }

  onAnnounceRequest(cb: () => void): void {
    this.announceCbs.push(cb);
  }

  /** Hot-plugs `nic` as the primary. Throws `UserError` when its MAC differs from the standby's. */
  plugPrimary(nic: GuestNic): void {
    if (nic.mac !== this.standby.mac) {
      throw new UserError(
        'MIGRATION_FAILOVER_MAC',
        `${nic.path} (${formatMac(nic.mac)}) cannot be the failover primary of ${this.path}: it must carry the standby's MAC ${formatMac(this.standby.mac)}`,
        { where: nic.path, hint: 'give the VF the same mac as its virtio standby (net_failover refuses other slaves)' },
      );
    }
    if (this.primaryNic === nic) return;
    if (this.primaryNic !== null) this.unplugPrimary();
    this.primaryNic = nic;
    nic.setReceiver((f) => {
      if (this.primaryNic === nic) this.rx?.(f);
    });
    this.log.push(`primary ${nic.path} plugged`);
  }

  /** Hot-unplugs the primary (traffic fails over to the standby). Returns it, or null. */
  unplugPrimary(): GuestNic | null {
    const p = this.primaryNic;
    if (p === null) return null;
    this.primaryNic = null;
    this.log.push(`primary ${p.path} unplugged, standby ${this.standby.path} active`);
    return p;
  }
}
