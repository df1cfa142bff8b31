/**
 * A virtual function as the guest sees it: a `GuestNic` whose wire side is the NIC's embedded
 * switch (legacy VEB) or its representor (switchdev), never a host bridge port.
 *
 * The VF enforces what the PF driver programmed into the hardware for it, on transmit, in this
 * order (ixgbe/i40e data path):
 * 1. carrier: `state disable`, or `auto` with the PF link down → `link-down` drop;
 * 2. (legacy) anti-spoofing: with `spoofchk on`, a source MAC that is not one of the VF's MACs,
 *    or a guest VLAN tag the VF never registered, is dropped and counted `spoofed` (ixgbe counts
 *    MAC and VLAN anti-spoof hits together in SSVPC);
 * 3. (legacy) with a port VLAN, a guest-tagged frame is dropped as `vlan-filter` (the port VLAN is
 *    inserted by the NIC; mlx5's legacy ingress ACL admits only untagged frames then);
 * 4. `max_tx_rate`: the frame waits in the TX ring until the shaper lets it go (`tx-shaper.ts`).
 *
 * Guest-side requests that a PF polices go through `guestSetMac` / `guestAddMac` / `guestAddVlan`,
 * which answer like the PF driver answers the VF's mailbox message (trust rules, filter limits).
 *
 * Port wiring: `port.peer` is the eswitch ingress for this VF, set by the PF. The fabric must not
 * `connect()` a VF's port; it hands the VF itself to the guest stack.
 */
import type { Frame, FrameMeta, FrameReceiver } from '../port/port.js';
import { Port } from '../port/port.js';
import type { GuestNic } from '../port/nic.js';
import type { Simulation } from '../sim/index.js';
import { DelayLine } from '../sim/delay-line.js';
import { formatMac, isMulticastMac, readMac, BROADCAST_MAC } from '../wire/mac.js';
import type { VfConfig, EswitchMode } from './config.js';
import { TxShaper } from './tx-shaper.js';
import { outerTpid, outerTci, TPID_8021Q, TPID_8021AD } from './tags.js';

/** i40e: `I40E_VC_MAX_MAC_ADDR_PER_VF` / `I40E_VC_MAX_VLAN_PER_VF` for an untrusted VF. */
export const UNTRUSTED_FILTER_LIMIT = 16;

/** What the PF offers a VF (implemented by `PhysicalFunction`). */
export interface VfHost {
  readonly eswitchMode: EswitchMode;
  /** PF link (carrier on the uplink). */
  readonly linkUp: boolean;
  readonly sim: Simulation;
  /** The eswitch ingress: a frame the VF transmitted. */
  fromVf(vf: VirtualFunction, frame: Frame, meta: FrameMeta): void;
  /** The VF's MAC or VLAN filters changed (rebuild lookup tables). */
  filtersChanged(vf: VirtualFunction): void;
  event(e: { type: string; [field: string]: unknown }): void;
}

/** Counters beyond the port's rx/tx/drops (what `ip -s link show` and `ethtool -S` add). */
export interface VfStats {
  rx_broadcast: number;
  rx_multicast: number;
  /** Frames this VF sent that the VEB delivered to another VF without touching the uplink. */
  tx_veb: number;
  /** Frames this VF sent out of the PF uplink. */
  tx_uplink: number;
  /** Frames this VF sent to its representor (switchdev). */
  tx_representor: number;
  /** Frames that waited in the TX ring for `max_tx_rate` tokens. */
  tx_shaped: number;
}

export type GuestRequestResult = { ok: true } | { ok: false; errno: 'EPERM' | 'EINVAL' | 'ENOSPC'; message: string };

export class VirtualFunction implements GuestNic {
  readonly path: string;
  readonly mtu = 1500;
  readonly port: Port;
  readonly stats: VfStats = { rx_broadcast: 0, rx_multicast: 0, tx_veb: 0, tx_uplink: 0, tx_representor: 0, tx_shaped: 0 };
  /** Who uses the VF (a VM interface path), or null. */
  assignedTo: string | null = null;
  /** False once `sriov_numvfs` went to 0: the device is gone. */
  present = true;
  private cfg: VfConfig;
  private currentMac: number;
  /** Secondary unicast filters the guest added (macvlan, bonding). */
  readonly extraMacs = new Set<number>();
  /** 802.1Q VLAN filters the guest registered (VGT: `ip link add … type vlan id V`). */
  readonly guestVlans = new Set<number>();
  private receiver: ((frame: Frame) => void) | null = null;
  /**
   * Guest receive latency (interrupt + NAPI poll), like virtio's `rx_delay`; 0 = the guest sees
   * the frame in the same instant (the device model's default; the fabric sets the topology's).
   */
  rxDelayNs = 0;
  /**
   * The receive delay as one queued event per VF (sim/delay-line.ts: same order and event count as
   * an event per frame). Made for the delay in force; a changed delay gets a new line, and frames
   * already in the old one still come out at their own times.
   */
  private rxLine: DelayLine<Frame> | null = null;
  private readonly shaper: TxShaper;
  private spoofReported = false;

  constructor(
    private readonly host: VfHost,
    readonly index: number,
    pfPath: string,
    config: VfConfig,
    /** MAC the VF driver picks when the PF set none (ixgbevf: a random one). */
    private readonly driverMac: number,
    txRing?: number,
  ) {
    this.path = `${pfPath}.vf${index}`;
    this.cfg = config;
    this.currentMac = config.mac !== 0 ? config.mac : driverMac;
    this.port = new Port(this.path, (frame) => this.toGuest(frame));
    const ingress: FrameReceiver = { receive: (frame, meta) => host.fromVf(this, frame, meta) };
    this.port.peer = ingress;
    this.shaper = new TxShaper(host.sim, (f) => this.leave(f), txRing);
    this.shaper.setRate(config.max_tx_rate);
  }

  get config(): Readonly<VfConfig> {
    return this.cfg;
  }

  /** The MAC the VF uses now (admin MAC, or what the guest set when allowed). */
  get mac(): number {
    return this.currentMac;
  }

  /** Carrier as the guest sees it: `state enable` = up, `disable` = down, `auto` = the PF link. */
  get linkUp(): boolean {
    if (!this.present) return false;
    const s = this.cfg.state;
    return s === 'enable' || (s === 'auto' && this.host.linkUp);
  }

  /** Frames waiting for rate-limit tokens. */
  get txQueued(): number {
    return this.shaper.queued;
  }

  /** Brings a re-enabled VF back with a fresh configuration (the guest filters are gone). */
  reset(config: VfConfig): void {
    this.present = true;
    this.extraMacs.clear();
    this.guestVlans.clear();
    this.spoofReported = false;
    this.cfg = config;
    this.currentMac = config.mac !== 0 ? config.mac : this.driverMac;
    this.shaper.setRate(config.max_tx_rate);
  }

  /** Called by the PF after validation. An admin MAC change resets the guest's MAC (VF reset). */
  applyConfig(next: VfConfig): void {
    const prev = this.cfg;
    this.cfg = next;
    if (next.mac !== prev.mac) {
      this.currentMac = next.mac !== 0 ? next.mac : this.driverMac;
      this.extraMacs.clear();
      this.host.filtersChanged(this);
    } else if (next.vlan !== prev.vlan || next.proto !== prev.proto) {
      this.host.filtersChanged(this);
    }
    if (next.spoofchk !== prev.spoofchk) this.spoofReported = false;
    this.shaper.setRate(next.max_tx_rate);
  }

  transmit(frame: Frame): boolean {
    const port = this.port;
    if (!this.linkUp) {
      port.drop('link-down', frame);
      return false;
    }
    if (frame.length < 14) {
      port.drop('malformed', frame);
      return false;
    }
    if (this.host.eswitchMode === 'legacy') {
      const cfg = this.cfg;
      const tpid = outerTpid(frame);
      if (cfg.spoofchk) {
        const src = readMac(frame, 6);
        let ok = src === this.currentMac || this.extraMacs.has(src);
        // VLAN anti-spoof: a guest tag must be one the VF registered (VGT only).
        if (ok && tpid !== 0 && cfg.vlan === 0) ok = tpid === TPID_8021Q && this.guestVlans.has(outerTci(frame) & 0xfff);
        if (!ok) {
          this.spoofed(frame, src);
          return false;
        }
      }
      if (cfg.vlan !== 0 && tpid !== 0 && (cfg.proto === '802.1Q' || tpid === TPID_8021AD)) {
        port.drop('vlan-filter', frame);
        return false;
      }
    }
    if (this.shaper.rate === 0) {
      port.send(frame, { hops: 0 });
      return true;
    }
    const before = this.shaper.delayed;
    if (!this.shaper.submit(frame)) {
      port.drop('queue-full', frame);
      return false;
    }
    if (this.shaper.delayed !== before) this.stats.tx_shaped++;
    return true;
  }

  setReceiver(rx: (frame: Frame) => void): void {
    this.receiver = rx;
  }

  /** The guest driver went away (VF unplugged from the VM). */
  clearReceiver(): void {
    this.receiver = null;
  }

  /** VFs have no GUEST_ANNOUNCE: the callback is never run. */
  onAnnounceRequest(_cb: () => void): void {}

  /**
   * The guest driver asks for a new primary MAC (ixgbevf `IXGBE_VF_SET_MAC_ADDR` mailbox message).
   * Refused when the PF set an administrative MAC and the VF is not trusted (ixgbe
   * `ixgbe_set_vf_mac_addr`: "VF attempted to override administratively set MAC address"; i40e
   * says "VF is not trusted" for the same rule, sriov-cni PR #232).
   */
  guestSetMac(mac: number): GuestRequestResult {
    if (mac === 0 || isMulticastMac(mac)) return { ok: false, errno: 'EINVAL', message: `${formatMac(mac)} is not a unicast MAC` };
    const cfg = this.cfg;
    if (cfg.mac !== 0 && !cfg.trust && mac !== cfg.mac) {
      const message = `VF ${this.index} is not trusted: attempted to override administratively set MAC address ${formatMac(cfg.mac)} with ${formatMac(mac)}`;
      this.host.event({ type: 'vf-mac-refused', port: this.path, mac: formatMac(mac), admin_mac: formatMac(cfg.mac) });
      return { ok: false, errno: 'EPERM', message };
    }
    if (mac !== this.currentMac) {
      this.currentMac = mac;
      this.host.filtersChanged(this);
      this.host.event({ type: 'vf-mac-change', port: this.path, mac: formatMac(mac) });
    }
    return { ok: true };
  }

  /** A secondary unicast filter (i40e: limited for untrusted VFs). */
  guestAddMac(mac: number): GuestRequestResult {
    if (mac === 0 || isMulticastMac(mac)) return { ok: false, errno: 'EINVAL', message: `${formatMac(mac)} is not a unicast MAC` };
    if (!this.cfg.trust && this.extraMacs.size + 1 >= UNTRUSTED_FILTER_LIMIT) {
      return { ok: false, errno: 'EPERM', message: 'Cannot add more MAC addresses, VF is not trusted, switch the VF to trusted to add more functionality' };
    }
    this.extraMacs.add(mac);
    this.host.filtersChanged(this);
    return { ok: true };
  }

  /** A guest VLAN filter (VGT). Refused with a port VLAN; limited for untrusted VFs (i40e). */
  guestAddVlan(vid: number): GuestRequestResult {
    if (!Number.isInteger(vid) || vid < 1 || vid > 4094) return { ok: false, errno: 'EINVAL', message: `VLAN ${vid} is out of range 1..4094` };
    if (this.cfg.vlan !== 0) return { ok: false, errno: 'EPERM', message: `VF ${this.index} has port VLAN ${this.cfg.vlan}: the guest cannot add VLAN filters` };
    if (!this.cfg.trust && !this.guestVlans.has(vid) && this.guestVlans.size >= UNTRUSTED_FILTER_LIMIT) {
      return { ok: false, errno: 'ENOSPC', message: 'VF is not trusted, switch the VF to trusted mode, in order to add more VLAN addresses' };
    }
    this.guestVlans.add(vid);
    this.host.filtersChanged(this);
    return { ok: true };
  }

  /** Whether the VF receives traffic of VEB domain `key` (port VLAN, or untagged + guest VLANs). */
  acceptsKey(key: number): boolean {
    const cfg = this.cfg;
    if (cfg.vlan !== 0) return key === (cfg.proto === '802.1ad' ? cfg.vlan + 4096 : cfg.vlan);
    return key === 0 || (key < 4096 && this.guestVlans.has(key));
  }

  /** The VEB key of this VF's port VLAN (0 when none). */
  get portKey(): number {
    const cfg = this.cfg;
    return cfg.vlan === 0 ? 0 : cfg.proto === '802.1ad' ? cfg.vlan + 4096 : cfg.vlan;
  }

  /** The eswitch delivers a frame to this VF (already stripped/tagged as the VF must see it). */
  deliver(frame: Frame, meta: FrameMeta): void {
    if (!this.linkUp) {
      this.port.drop('link-down', frame);
      return;
    }
    this.port.receive(frame, meta);
  }

  /** Sends a frame the shaper released (it may have waited: re-check the carrier). */
  private leave(frame: Frame): void {
    if (!this.linkUp) {
      this.port.drop('link-down', frame);
      return;
    }
    this.port.send(frame, { hops: 0 });
  }

  private toGuest(frame: Frame): void {
    if ((frame[0]! & 1) === 1) {
      if (readMac(frame, 0) === BROADCAST_MAC) this.stats.rx_broadcast++;
      else this.stats.rx_multicast++;
    }
    if (this.rxDelayNs === 0) this.handToGuest(frame);
    else {
      if (this.rxLine === null || this.rxLine.delayNs !== this.rxDelayNs) this.rxLine = new DelayLine(this.host.sim, this.rxDelayNs, (f) => this.handToGuest(f));
      this.rxLine.push(frame, 0, 0);
    }
  }

  private handToGuest(frame: Frame): void {
    const rx = this.receiver;
    if (rx === null) this.port.drop('no-driver', frame);
    else rx(frame);
  }

  private spoofed(frame: Frame, src: number): void {
    this.port.drop('spoofed', frame);
    // ixgbe logs "Spoofed packets detected" once per watchdog pass; we report the first one.
    if (!this.spoofReported) {
      this.spoofReported = true;
      this.host.event({ type: 'vf-spoofed', port: this.path, src_mac: formatMac(src), vf_mac: formatMac(this.currentMac) });
    }
  }
}
