/**
 * Ports: the one abstraction every frame crosses.
 *
 * A frame is a whole Ethernet frame as bytes (`Uint8Array`): destination MAC first, no preamble,
 * no FCS. Every device (virtio NIC, SR-IOV VF, bridge port, physical switch port, link end) owns
 * `Port`s named by their dotted path (`vm1.eth0`, `hv1.br0.uplink`, `tor.p1`, `hv1.pf0.vf3`). The
 * path is the key of the JSON summary, the pcapng interface name and the name in error messages.
 *
 * Direction is the port owner's view: `send()` is a transmit out of this port towards its peer
 * (counted `tx`), `receive()` is a frame arriving into the port's owner (counted `rx`). Connecting
 * two ports (`connect(a, b)`) makes each the other's peer with no delay, which is what a tap or veth
 * inside one host is; a `link/` sits between two ports when time and loss matter.
 *
 * Tracing is decoupled from devices (ns-3): a port exposes typed hooks and pcap writers subscribe
 * to them; devices never import pcap.
 *
 * Frames carry simulation-only metadata in `FrameMeta`, never on the wire: `hops` counts how many
 * switching decisions the frame (and its flooded copies) has been through, so a bridging loop ends
 * as a reported storm instead of a hang.
 */
import type { GeneveOption } from '../wire/geneve.js';

export type Frame = Uint8Array;

export interface FrameMeta {
  /** Switching hops taken so far by this copy (see `MAX_HOPS`). */
  hops: number;
  /**
   * Tunnel metadata (OVS `flow->tunnel`): set by a tunnel port on a decapsulated frame (the bridge
   * matches it as tun_id/tun_src/tun_dst), and by a bridge on a frame it outputs to a tunnel port
   * (what `set_field:…->tun_dst` / `tun_id` left, used by `remote_ip=flow` / `key=flow`).
   */
  tunnel?: TunnelMeta;
}

export interface TunnelMeta {
  /** tun_id as two 32-bit words (most significant first); the VNI is the low 24 bits of `idLo`. */
  idHi: number;
  idLo: number;
  /** tun_src / tun_dst: outer IPv4 addresses (0 = unset). */
  src: number;
  dst: number;
  /** tun_ipv6_src / tun_ipv6_dst: outer IPv6 addresses, four 32-bit words (absent = unset, ::). */
  src6?: readonly [number, number, number, number];
  dst6?: readonly [number, number, number, number];
  /** Geneve options (tun_metadata*): received ones on decap, the bridge's present fields on encap. */
  options?: readonly GeneveOption[];
  /** tun_flags `oam` (FLOW_TNL_F_OAM): a Geneve packet's O bit on decap, the flows' flag on encap. */
  oam?: boolean;
}

/** Copies of a frame past this many switching hops are dropped as `loop` (a bridging loop). */
export const MAX_HOPS = 64;

/**
 * Shared, frozen metadata for a frame that carries nothing but its hop count: the per-frame path
 * (a NIC's transmit, a link's delivery) passes these instead of a fresh object per frame. Frozen,
 * so a receiver that kept one or tried to change it could not change what others see (receivers
 * read meta and build new objects for what they send on).
 */
const HOP_METAS: readonly FrameMeta[] = Array.from({ length: 2 * MAX_HOPS + 1 }, (_, hops) => Object.freeze({ hops }));

/** `{ hops }` as a shared frozen object (a fresh one past the table: a loop being cut off). */
export function hopMeta(hops: number): FrameMeta {
  return HOP_METAS[hops] ?? { hops };
}

export type Direction = 'rx' | 'tx';

/** Reasons a port drops a frame. Strings, so devices may add their own (`spoofed`, `migration`). */
export type DropReason = string;

export interface PortCounters {
  rx_packets: number;
  rx_bytes: number;
  tx_packets: number;
  tx_bytes: number;
  /** Drops by reason (`no-rx-buffer`, `queue-full`, `loss`, `link-down`, `vlan-filter`, `loop`, …). */
  drops: Record<DropReason, number>;
}

export type FrameHook = (port: Port, dir: Direction, frame: Frame) => void;
export type DropHook = (port: Port, reason: DropReason, frame: Frame | undefined) => void;

export interface FrameReceiver {
  receive(frame: Frame, meta: FrameMeta): void;
}

export class Port implements FrameReceiver {
  readonly counters: PortCounters = { rx_packets: 0, rx_bytes: 0, tx_packets: 0, tx_bytes: 0, drops: {} };
  /** Where `send()` delivers; null = not connected (frames are dropped as `unconnected`). */
  peer: FrameReceiver | null = null;
  private isUp = true;
  private frameHooks: FrameHook[] = [];
  private stateHooks: ((port: Port, up: boolean) => void)[] = [];
  private dropHooks: DropHook[] = [];

  constructor(
    readonly path: string,
    /** Called for every frame the port receives while up. */
    private readonly onReceive: (frame: Frame, meta: FrameMeta, port: Port) => void,
  ) {}

  /** Administrative/carrier state; a down port neither sends nor receives (`link-down` drops). */
  get up(): boolean {
    return this.isUp;
  }
  set up(v: boolean) {
    if (v === this.isUp) return;
    this.isUp = v;
    for (const h of this.stateHooks) h(this, v);
  }

  /** Subscribes to up/down changes (an OpenFlow bridge sends PORT_STATUS). Returns an unsubscribe function. */
  onState(hook: (port: Port, up: boolean) => void): () => void {
    this.stateHooks.push(hook);
    return () => {
      this.stateHooks = this.stateHooks.filter((h) => h !== hook);
    };
  }

  /** Transmits `frame` to the peer. */
  send(frame: Frame, meta: FrameMeta): void {
    if (!this.up) {
      this.drop('link-down', frame);
      return;
    }
    const c = this.counters;
    c.tx_packets++;
    c.tx_bytes += frame.length;
    const hooks = this.frameHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i]!(this, 'tx', frame);
    const peer = this.peer;
    if (peer === null) this.drop('unconnected', frame);
    else peer.receive(frame, meta);
  }

  /** Accepts a frame arriving at this port and hands it to the owner. */
  receive(frame: Frame, meta: FrameMeta): void {
    if (!this.up) {
      this.drop('link-down', frame);
      return;
    }
    const c = this.counters;
    c.rx_packets++;
    c.rx_bytes += frame.length;
    const hooks = this.frameHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i]!(this, 'rx', frame);
    this.onReceive(frame, meta, this);
  }

  /** Counts a drop at this port and tells drop hooks. */
  drop(reason: DropReason, frame?: Frame): void {
    const d = this.counters.drops;
    d[reason] = (d[reason] ?? 0) + 1;
    const hooks = this.dropHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i]!(this, reason, frame);
  }

  /** Subscribes to every frame the port sends or receives. Returns an unsubscribe function. */
  onFrame(hook: FrameHook): () => void {
    this.frameHooks.push(hook);
    return () => {
      this.frameHooks = this.frameHooks.filter((h) => h !== hook);
    };
  }

  onDrop(hook: DropHook): () => void {
    this.dropHooks.push(hook);
    return () => {
      this.dropHooks = this.dropHooks.filter((h) => h !== hook);
    };
  }
}

/** Connects two ports back to back with no delay (a tap or veth pair inside one host). */
export function connect(a: Port, b: Port): void {
  a.peer = b;
  b.peer = a;
}

/** A registry of ports by path, so summaries and captures can find them in a stable order. */
export class PortRegistry {
  private byPath = new Map<string, Port>();

  add(port: Port): Port {
    if (this.byPath.has(port.path)) throw new Error(`duplicate port path ${port.path}`);
    this.byPath.set(port.path, port);
    return port;
  }

  get(path: string): Port | undefined {
    return this.byPath.get(path);
  }

  /** All ports sorted by path (stable output order). */
  all(): Port[] {
    return [...this.byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}
