/**
 * A minimal guest network stack: ARP (with a cache, timeouts and retries), IPv4 with header
 * checksum validation, ICMP echo request/reply, UDP send/receive, and the gratuitous ARP /
 * unsolicited neighbour advertisements a Linux guest sends when asked to announce itself.
 *
 * It talks only to `GuestNic`s (virtio-net or SR-IOV VF), never to device internals. Frames are
 * processed synchronously when the NIC delivers them; timers (ARP retransmits, app schedules) run
 * on the `Simulation`. Every frame sent is at least 60 bytes (the wire builders pad).
 *
 * Receive follows Linux's order of checks (`ip_rcv_core`, `arp_process`, `icmp_rcv`, `udp_rcv`),
 * dropping and counting instead of throwing: frames not addressed to the interface (PACKET_OTHERHOST),
 * bad IPv4 version/length/header checksum, fragments (no reassembly), packets for other hosts (no
 * forwarding), bad ICMP/UDP checksums, UDP to a port nobody listens on.
 *
 * ICMP errors: UDP to a closed port answers port unreachable (Linux `__udp4_lib_rcv`, with Linux's
 * per-destination rate limit, `icmp-ratelimit.ts`); received destination-unreachable/time-exceeded go to `onIcmpError` subscribers
 * (traceroute), and fragmentation needed lowers the path MTU to that destination (RFC 1191,
 * Linux's min_pmtu 552 floor), so later sends larger than it are dropped as `mtu` (EMSGSIZE)
 * and TCP connections to it lower their MSS and resend (`TcpStack.fragNeeded`).
 *
 * Deliberate omissions: no IP fragmentation or reassembly (sends over the MTU are dropped as
 * `mtu`), IPv6 is used only for announcements
 * (received IPv6 frames are counted and ignored), no link-local IPv6 address is invented.
 */
import { UserError, isUserError } from '../errors.js';
import type { EventSink, GuestNic } from '../port/nic.js';
import type { Frame } from '../port/port.js';
import type { Simulation } from '../sim/simulation.js';
import { sumBytes, fold } from '../wire/checksum.js';
import { isUdpValid, markUdpValid } from '../wire/frame-alloc.js';
import {
  buildArpReply, buildArpRequest, buildGratuitousArp, buildIcmpEcho, buildNeighborAdvertisement, buildUdp, buildUdpFilled, buildUdpStamped,
} from '../wire/build.js';
import { formatIpv4, ipv4InSubnet, ipv4Mask, parseIpv4, parseIpv4Cidr, parseIpv6, type Ipv6Words } from '../wire/ip.js';
import { BROADCAST_MAC, macToBytes } from '../wire/mac.js';
import { ICMP_ERROR_PREC, buildIcmpErrorMessage, errorAllowedAt } from '../wire/icmp-error.js';
import { DropCounts } from './drop-counts.js';
import { buildIpv4Datagram, writeMac } from '../wire/ipv4-frame.js';
import { IcmpRateLimit } from './icmp-ratelimit.js';
import { DEFAULT_NEIGHBOR_OPTIONS, NeighborTable, type NeighborOptions } from './neighbor.js';
import { TcpStack, type TcpConfig, type TcpIpLayer } from '../tcp/index.js';
import { allocFrame } from '../tcp/payload.js';
import { UdpSink } from './udp-sink.js';
import type { UdpStampArgs } from '../wire/build.js';

export interface GuestStackOptions {
  /** VM name, e.g. `vm1`. */
  name: string;
  sim: Simulation;
  /** ARP retransmit interval (Linux retrans_time, default 1 s). */
  arpTimeoutNs?: number;
  /** ARP requests sent before resolution fails (Linux mcast_solicit, default 3). */
  arpRetries?: number;
  /** How long a confirmed entry stays REACHABLE (default 30 s). */
  arpReachableNs?: number;
  /** Packets queued per unresolved neighbour (default 101; oldest dropped when full). */
  arpQueueLen?: number;
  events?: EventSink;
}

export interface InterfaceConfig {
  /** `10.0.0.1/24` (a bare address means /32). */
  ipv4?: string;
  /** IPv6 addresses (`fd00::1/64` or `fd00::1`). */
  ipv6?: string[];
  /** Default IPv4 gateway. */
  gateway?: string;
}

export interface GuestInterface {
  readonly nic: GuestNic;
  readonly ipv4: number | null;
  readonly prefixLength: number;
  readonly ipv6: readonly Ipv6Words[];
  readonly gateway: number | null;
  readonly neighbors: NeighborTable;
}

export interface GuestCounters {
  rx_frames: number;
  tx_frames: number;
  arp_requests_sent: number;
  arp_replies_sent: number;
  arp_replies_received: number;
  arp_failures: number;
  icmp_echo_requests_received: number;
  icmp_echo_replies_sent: number;
  udp_datagrams_received: number;
  udp_datagrams_sent: number;
  announcements: number;
  /** Drops by reason, in first-drop order (a fresh object on each read). */
  readonly drops: Record<string, number>;
}

/** An ICMP error (destination unreachable, time exceeded) with the datagram it quotes. */
export type IcmpErrorHandler = (e: { srcIp: number; type: number; code: number; quote: Uint8Array; timeNs: number }) => void;

/** An echo reply handed to the ping app that owns the ICMP identifier. */
export type EchoReplyHandler = (reply: { srcIp: number; seq: number; dataLen: number; timeNs: number }) => void;

const stacksBySim = new WeakMap<Simulation, GuestStack[]>();

/** Drop reasons with fixed slots (DropCounts), so the per-frame ones are counted by number. */
const HOT_DROPS = ['udp-no-port', 'icmp-ratelimited'] as const;
const D_UDP_NO_PORT = 0;
const D_ICMP_RATELIMITED = 1;

function newCounters(drops: DropCounts): GuestCounters {
  return {
    rx_frames: 0, tx_frames: 0, arp_requests_sent: 0, arp_replies_sent: 0, arp_replies_received: 0, arp_failures: 0,
    icmp_echo_requests_received: 0, icmp_echo_replies_sent: 0, udp_datagrams_received: 0, udp_datagrams_sent: 0,
    announcements: 0,
    get drops(): Record<string, number> {
      return drops.record();
    },
  };
}

/** Guest stacks in `sim` that own IPv4 address `ip` (used to find a UDP receiver by address). */
export function findStacksByIpv4(sim: Simulation, ip: number): GuestStack[] {
  return (stacksBySim.get(sim) ?? []).filter((s) => s.interfaces.some((i) => i.ipv4 === ip));
}

export class GuestStack {
  readonly name: string;
  readonly sim: Simulation;
  readonly interfaces: GuestInterface[] = [];
  /** Drops by reason (counters.drops reads them). */
  private readonly dropCounts = new DropCounts(HOT_DROPS);
  readonly counters: GuestCounters = newCounters(this.dropCounts);
  private readonly events: EventSink | undefined;
  private readonly neighborOpts: NeighborOptions;
  private readonly sinks = new Map<number, UdpSink>();
  private readonly echoHandlers = new Map<number, EchoReplyHandler>();
  private nextIpId = 1;
  private nextEphemeral = 32768;
  private nextIcmpId = 0x1000;
  /** Path MTU learned from ICMP fragmentation needed (RFC 1191), by destination (bounded). */
  private readonly pathMtu = new Map<number, number>();
  private readonly icmpErrorHandlers: IcmpErrorHandler[] = [];
  private readonly icmpLimit = new IcmpRateLimit();
  private tcpStack: TcpStack | null = null;
  private tcpConfig: Partial<TcpConfig> | undefined;
  /** TCP output's last route and its destination (cleared when an interface is added). */
  private tcpRoute: { iface: GuestInterface; nextHop: number } | null = null;
  private tcpRouteDst = 0;

  constructor(opts: GuestStackOptions) {
    this.name = opts.name;
    this.sim = opts.sim;
    this.events = opts.events;
    this.neighborOpts = {
      ...DEFAULT_NEIGHBOR_OPTIONS,
      ...(opts.arpTimeoutNs !== undefined ? { retransNs: opts.arpTimeoutNs } : {}),
      ...(opts.arpRetries !== undefined ? { probes: Math.max(1, opts.arpRetries) } : {}),
      ...(opts.arpReachableNs !== undefined ? { reachableNs: opts.arpReachableNs } : {}),
      ...(opts.arpQueueLen !== undefined ? { queueLen: Math.max(1, opts.arpQueueLen) } : {}),
    };
    const list = stacksBySim.get(opts.sim) ?? [];
    list.push(this);
    stacksBySim.set(opts.sim, list);
  }

  addInterface(nic: GuestNic, cfg: InterfaceConfig): GuestInterface {
    const where = nic.path;
    let ipv4: number | null = null;
    let prefixLength = 32;
    let gateway: number | null = null;
    const ipv6: Ipv6Words[] = [];
    try {
      if (cfg.ipv4 !== undefined) {
        if (cfg.ipv4.includes('/')) {
          const c = parseIpv4Cidr(cfg.ipv4);
          ipv4 = c.address;
          prefixLength = c.prefixLength;
        } else ipv4 = parseIpv4(cfg.ipv4);
      }
      if (cfg.gateway !== undefined) gateway = parseIpv4(cfg.gateway);
      for (const a of cfg.ipv6 ?? []) ipv6.push(parseIpv6(a.split('/')[0]!));
    } catch (e) {
      if (isUserError(e)) throw new UserError(e.code, e.message, { where, ...(e.hint ? { hint: e.hint } : {}) });
      throw e;
    }
    if (gateway !== null && ipv4 !== null && !ipv4InSubnet(gateway, ipv4, prefixLength)) {
      throw new UserError('GUEST_GATEWAY_UNREACHABLE', `gateway ${formatIpv4(gateway)} is outside ${formatIpv4(ipv4)}/${prefixLength}`, { where });
    }
    const iface: GuestInterface = {
      nic,
      ipv4,
      prefixLength,
      ipv6,
      gateway,
      neighbors: new NeighborTable(this.sim, this.neighborOpts, {
        sendRequest: (ip, unicastMac) => this.sendArpRequest(iface, ip, unicastMac),
        drop: (reason, n) => this.drop(reason, n),
        failed: (ip) => {
          this.counters.arp_failures++;
          this.tcpStack?.unreachable(ip, (remote) => iface.gateway === ip && iface.ipv4 !== null && !ipv4InSubnet(remote, iface.ipv4, iface.prefixLength));
          this.events?.({ type: 'guest-arp-failed', time_ns: this.sim.now, vm: this.name, nic: nic.path, ip: formatIpv4(ip) });
        },
      }),
    };
    this.interfaces.push(iface);
    this.tcpRoute = null;
    this.udpRoute = null;
    nic.setReceiver((frame) => this.receive(iface, frame));
    nic.onAnnounceRequest(() => this.announce(nic));
    return iface;
  }

  /** Sends a gratuitous ARP per IPv4 address and an unsolicited NA per IPv6 address (netdev_notify_peers). */
  announce(nic?: GuestNic): void {
    for (const i of this.interfaces) {
      if (nic !== undefined && i.nic !== nic) continue;
      this.counters.announcements++;
      if (i.ipv4 !== null) this.tx(i, buildGratuitousArp({ mac: i.nic.mac, ip: i.ipv4 }));
      for (const a of i.ipv6) {
        this.tx(i, buildNeighborAdvertisement({ srcMac: i.nic.mac, srcIp6: a, targetIp6: a, unsolicited: true }));
      }
    }
  }

  /** Sets the defaults for this guest's TCP sockets (before first use of `tcp`). */
  configureTcp(config: Partial<TcpConfig>): void {
    this.tcpConfig = config;
  }

  /** The guest's TCP (created on first use): sockets, listeners, RST for closed ports. */
  get tcp(): TcpStack {
    if (this.tcpStack === null) {
      this.tcpStack = new TcpStack({
        sim: this.sim,
        ip: this.tcpIpLayer(),
        name: this.name,
        prng: this.sim.prng.fork(`tcp:${this.name}`),
        ...(this.tcpConfig ? { config: this.tcpConfig } : {}),
      });
    }
    return this.tcpStack;
  }

  /** The IPv4 output TCP uses: Ethernet + IPv4 headers written in front of the segment. */
  private tcpIpLayer(): TcpIpLayer {
    return {
      headroom: 34,
      route: (dst) => {
        const r = this.route(dst);
        // dst_mtu: the interface MTU, or the smaller path MTU learned for dst (RFC 1191).
        return r === null ? null : { src: r.iface.ipv4!, mtu: Math.min(r.iface.nic.mtu, this.pathMtu.get(dst) ?? 65535) };
      },
      allocate: (l4Len) => allocFrame(Math.max(34 + l4Len, 60)),
      output: (buf, src, dst, l4Len, ecn) => {
        // Routes depend only on the interfaces (fixed once added): the last one is reused, so a
        // bulk flow's segments allocate no route record.
        let route = this.tcpRoute;
        if (route === null || this.tcpRouteDst !== dst) {
          route = this.route(dst);
          if (route === null) return this.drop('no-route', 1);
          this.tcpRoute = route;
          this.tcpRouteDst = dst;
        }
        const { iface, nextHop } = route;
        if (20 + l4Len > iface.nic.mtu) return this.drop('mtu', 1);
        writeIpv4Header(buf, 14, src, dst, 20 + l4Len, this.ipId(), ecn);
        const smac = iface.nic.mac;
        writeMac(buf, 6, smac);
        buf[12] = 0x08;
        buf[13] = 0x00;
        // A resolved neighbour sends at once without a callback (resolve() would do the same).
        const known = iface.neighbors.usableMac(nextHop);
        if (known !== undefined) {
          writeMac(buf, 0, known);
          this.tx(iface, buf);
          return;
        }
        iface.neighbors.resolve(nextHop, (mac) => {
          writeMac(buf, 0, mac);
          this.tx(iface, buf);
        });
      },
    };
  }

  /** Starts (or returns the existing) UDP receiver on `port`. */
  udpListen(port: number): UdpSink {
    let s = this.sinks.get(port);
    if (s === undefined) {
      s = new UdpSink(port);
      this.sinks.set(port, s);
    }
    return s;
  }

  udpSink(port: number): UdpSink | undefined {
    return this.sinks.get(port);
  }

  /** An ephemeral UDP port (sequential from 32768, Linux's ip_local_port_range start). */
  allocatePort(): number {
    const p = this.nextEphemeral;
    this.nextEphemeral = p >= 60999 ? 32768 : p + 1;
    return p;
  }

  /** Registers the handler for echo replies carrying ICMP identifier `id` (a ping socket). */
  registerEchoHandler(handler: EchoReplyHandler): number {
    const id = this.nextIcmpId++ & 0xffff;
    this.echoHandlers.set(id, handler);
    return id;
  }

  /** Sends an ICMP echo request; false when it could not be sent now (no route/too big). */
  sendEchoRequest(dst: number, id: number, seq: number, payloadLen: number): boolean {
    return this.sendIpv4(dst, 20 + 8 + payloadLen, (iface, dstMac, src) =>
      buildIcmpEcho({ srcMac: iface.nic.mac, dstMac, srcIp: src, dstIp: dst, ipId: this.ipId(), type: 'request', id, seq, payloadLen }),
    );
  }

  /** Subscribes to ICMP errors the stack receives (traceroute, tests). */
  onIcmpError(handler: IcmpErrorHandler): void {
    this.icmpErrorHandlers.push(handler);
  }

  /** The path MTU to `dst` learned from ICMP fragmentation needed, if any. */
  pathMtuTo(dst: number): number | undefined {
    return this.pathMtu.get(dst);
  }

  /** Sends one UDP datagram with `payload` (`ttl`: IP TTL, default 64). */
  sendUdp(dst: number, srcPort: number, dstPort: number, payload: Uint8Array, ttl?: number): boolean {
    const ok = this.sendIpv4(dst, 20 + 8 + payload.length, (iface, dstMac, src) =>
      buildUdp({ srcMac: iface.nic.mac, dstMac, srcIp: src, dstIp: dst, ipId: this.ipId(), srcPort, dstPort, payload, ...(ttl !== undefined ? { ttl } : {}) }),
    );
    if (ok) this.counters.udp_datagrams_sent++;
    return ok;
  }

  /**
   * Sends one UDP datagram of `len` bytes: the counting pattern, with `fill` writing over its
   * start straight into the frame (see `buildUdpFilled`). `fill` runs when the frame is built,
   * which is after ARP resolution when the neighbour is not known yet.
   */
  sendUdpFilled(dst: number, srcPort: number, dstPort: number, len: number, fill: (payload: Uint8Array) => void, fillLen?: number): boolean {
    const ok = this.sendIpv4(dst, 20 + 8 + len, (iface, dstMac, src) => {
      const f = buildUdpFilled({ srcMac: iface.nic.mac, dstMac, srcIp: src, dstIp: dst, ipId: this.ipId(), srcPort, dstPort, payloadLen: len, ...(fillLen !== undefined ? { fillLen } : {}) }, fill);
      // The checksum was just computed over these bytes: a receiver given this same frame may skip it.
      markUdpValid(f, (f[40]! << 8) | f[41]!);
      return f;
    });
    if (ok) this.counters.udp_datagrams_sent++;
    return ok;
  }

  /** The record `sendUdpStamped` fills per datagram (one per stack). */
  private readonly stamp: UdpStampArgs = { srcMac: 0, dstMac: 0, srcIp: 0, dstIp: 0, ipId: 0, srcPort: 0, dstPort: 0, payloadLen: 0, seq: 0, sentNs: 0 };
  /** The route `sendUdpStamped` used last, and its destination (reset when interfaces change). */
  private udpRoute: { iface: GuestInterface; nextHop: number } | null = null;
  private udpRouteDst = 0;

  /**
   * Sends one datagram of vfab's UDP CBR sender (`apps.ts`): `len` bytes of the counting pattern
   * with `seq` and `sentNs` stamped over its start, as `sendUdpFilled` with that fill and fillLen
   * min(len, 12) would (same bytes, same drops, same ARP behaviour). A neighbour that can be sent
   * to now (`NeighborTable.usableMac`) takes the direct path: no route record, no callback, no fill
   * closure per datagram; anything else goes through `sendUdpFilled`.
   */
  sendUdpStamped(dst: number, srcPort: number, dstPort: number, len: number, seq: number, sentNs: number): boolean {
    let route = this.udpRoute;
    if (route === null || this.udpRouteDst !== dst) {
      route = this.route(dst);
      this.udpRoute = route;
      this.udpRouteDst = dst;
    }
    const iface = route?.iface;
    const mac = route !== null && iface !== undefined && !isBroadcastFor(iface, dst) && 28 + len <= iface.nic.mtu && !this.pathMtu.has(dst) ? iface.neighbors.usableMac(route.nextHop) : undefined;
    if (mac === undefined || iface === undefined) {
      return this.sendUdpFilled(dst, srcPort, dstPort, len, (p) => {
        if (len >= 4) put32(p, 0, seq >>> 0);
        if (len >= 12) {
          put32(p, 4, Math.floor(sentNs / 0x1_0000_0000));
          put32(p, 8, sentNs >>> 0);
        }
      }, Math.min(len, 12));
    }
    const a = this.stamp;
    a.srcMac = iface.nic.mac;
    a.dstMac = mac;
    a.srcIp = iface.ipv4!;
    a.dstIp = dst;
    a.ipId = this.ipId();
    a.srcPort = srcPort;
    a.dstPort = dstPort;
    a.payloadLen = len;
    a.seq = seq;
    a.sentNs = sentNs;
    const f = buildUdpStamped(a);
    // The checksum was just computed over these bytes: a receiver given this same frame may skip it.
    markUdpValid(f, (f[40]! << 8) | f[41]!);
    this.tx(iface, f);
    this.counters.udp_datagrams_sent++;
    return true;
  }

  /** Routes an IPv4 packet of `ipLen` bytes to `dst`, resolving the next hop; `build` makes the frame. */
  private sendIpv4(dst: number, ipLen: number, build: (iface: GuestInterface, dstMac: number, src: number) => Frame): boolean {
    const route = this.route(dst);
    if (route === null) {
      this.drop('no-route', 1);
      return false;
    }
    const { iface, nextHop } = route;
    if (ipLen > Math.min(iface.nic.mtu, this.pathMtu.get(dst) ?? 65535)) {
      this.drop('mtu', 1);
      return false;
    }
    const src = iface.ipv4!;
    if (isBroadcastFor(iface, dst)) {
      this.tx(iface, build(iface, BROADCAST_MAC, src));
      return true;
    }
    iface.neighbors.resolve(nextHop, (mac) => this.tx(iface, build(iface, mac, src)));
    return true;
  }

  private route(dst: number): { iface: GuestInterface; nextHop: number } | null {
    let best: GuestInterface | null = null;
    for (const i of this.interfaces) {
      if (i.ipv4 === null) continue;
      if ((dst === 0xffffffff || ipv4InSubnet(dst, i.ipv4, i.prefixLength)) && (best === null || i.prefixLength > best.prefixLength)) best = i;
    }
    if (best !== null) return { iface: best, nextHop: dst };
    for (const i of this.interfaces) {
      if (i.ipv4 !== null && i.gateway !== null) return { iface: i, nextHop: i.gateway };
    }
    return null;
  }

  private ipId(): number {
    const id = this.nextIpId;
    this.nextIpId = (id + 1) & 0xffff;
    return id;
  }

  private sendArpRequest(iface: GuestInterface, ip: number, unicastMac: number | null): void {
    if (iface.ipv4 === null) return;
    const f = buildArpRequest({ srcMac: iface.nic.mac, srcIp: iface.ipv4, dstIp: ip });
    if (unicastMac !== null) macToBytes(unicastMac, f, 0);
    this.counters.arp_requests_sent++;
    this.tx(iface, f);
  }

  private tx(iface: GuestInterface, frame: Frame): void {
    this.counters.tx_frames++;
    iface.nic.transmit(frame);
  }

  private drop(reason: string, n: number): void {
    const dc = this.dropCounts;
    dc.add(dc.slot(reason), n);
  }

  // ---------------------------------------------------------------------------------------------
  // Receive

  private receive(iface: GuestInterface, f: Frame): void {
    this.counters.rx_frames++;
    if (f.length < 14) return this.drop('runt', 1);
    // eth_type_trans: frames for another unicast MAC are PACKET_OTHERHOST and dropped by IP/ARP.
    if ((f[0]! & 1) === 0 && !this.isNicMac(f, iface.nic.mac)) return this.drop('not-for-us', 1);
    const type = (f[12]! << 8) | f[13]!;
    if (type === 0x0806) this.receiveArp(iface, f);
    else if (type === 0x0800) this.receiveIpv4(iface, f);
    else if (type === 0x86dd) this.drop('ipv6-ignored', 1);
    else this.drop('unknown-ethertype', 1);
  }

  /** The MAC `isNicMac` last compared against, split as a frame's bytes are read (16 + 32 bits). */
  private rxMac = -1;
  private rxMacHi = -1;
  private rxMacLo = -1;

  /** Whether f[0, 6) is `mac`, compared as two integers (no float arithmetic per frame). */
  private isNicMac(f: Frame, mac: number): boolean {
    if (mac !== this.rxMac) {
      this.rxMac = mac;
      this.rxMacHi = Math.floor(mac / 2 ** 32);
      this.rxMacLo = mac % 2 ** 32;
    }
    return ((f[0]! << 8) | f[1]!) === this.rxMacHi && readU32(f, 2) === this.rxMacLo;
  }

  /** Linux `arp_process`. */
  private receiveArp(iface: GuestInterface, f: Frame): void {
    if (f.length < 14 + 28) return this.drop('bad-arp', 1);
    const htype = (f[14]! << 8) | f[15]!;
    const ptype = (f[16]! << 8) | f[17]!;
    if (htype !== 1 || ptype !== 0x0800 || f[18] !== 6 || f[19] !== 4) return this.drop('bad-arp', 1);
    const op = (f[20]! << 8) | f[21]!;
    const sha = readMac48(f, 22);
    const spa = readU32(f, 28);
    const tpa = readU32(f, 38);
    if (iface.ipv4 === null) return;
    if (op !== 1 && op !== 2) return this.drop('bad-arp', 1);
    if ((sha & 0x010000000000) !== 0) return this.drop('bad-arp', 1);
    if (spa === 0) {
      // An ARP probe (RFC 5227 duplicate address detection): Linux answers it when it owns the
      // target, to the prober's MAC with TPA 0.0.0.0, and learns nothing (arp_process, sip == 0).
      if (op === 1 && tpa === iface.ipv4) {
        this.counters.arp_replies_sent++;
        this.tx(iface, buildArpReply({ srcMac: iface.nic.mac, srcIp: iface.ipv4, dstMac: sha, dstIp: 0 }));
      }
      return;
    }
    if (op === 1 && tpa === iface.ipv4 && spa !== tpa) {
      this.iface4Learn(iface, spa, sha, false, true);
      this.counters.arp_replies_sent++;
      this.tx(iface, buildArpReply({ srcMac: iface.nic.mac, srcIp: iface.ipv4, dstMac: sha, dstIp: spa }));
      return;
    }
    if (spa === iface.ipv4) return this.drop('arp-address-conflict', 1);
    if (op === 2) this.counters.arp_replies_received++;
    // Replies to us confirm; anything else (gratuitous ARP, requests for others) only updates.
    const confirmed = op === 2 && tpa === iface.ipv4 && readMac48(f, 0) === iface.nic.mac;
    this.iface4Learn(iface, spa, sha, confirmed, false);
  }

  private iface4Learn(iface: GuestInterface, ip: number, mac: number, confirmed: boolean, create: boolean): void {
    iface.neighbors.learn(ip, mac, confirmed, create);
  }

  /** Linux `ip_rcv_core` checks, then local delivery. */
  private receiveIpv4(iface: GuestInterface, f: Frame): void {
    const o = 14;
    if (f.length < o + 20) return this.drop('bad-ipv4-length', 1);
    const vihl = f[o]!;
    const ihl = (vihl & 0x0f) * 4;
    if (vihl >> 4 !== 4 || ihl < 20 || f.length < o + ihl) return this.drop('bad-ipv4-header', 1);
    if (fold(sumBytes(f, o, o + ihl)) !== 0xffff) return this.drop('bad-ipv4-checksum', 1);
    const total = (f[o + 2]! << 8) | f[o + 3]!;
    if (total < ihl || o + total > f.length) return this.drop('bad-ipv4-length', 1);
    const fragWord = (f[o + 6]! << 8) | f[o + 7]!;
    if ((fragWord & 0x3fff) !== 0) return this.drop('fragment', 1);
    const proto = f[o + 9]!;
    const src = readU32(f, o + 12);
    const dst = readU32(f, o + 16);
    let mine = false;
    for (let k = 0; k < this.interfaces.length; k++) if (this.interfaces[k]!.ipv4 === dst) mine = true;
    // Limited broadcast, or the directed broadcast of the interface's subnet: (dst | mask) all
    // ones with dst in the subnet is dst === (address | ~mask) (for a /32 the address itself).
    const bcast = dst === 0xffffffff || (iface.ipv4 !== null && dst === ((iface.ipv4 | ~ipv4Mask(iface.prefixLength)) >>> 0));
    if (!mine && !bcast) return this.drop('not-for-us', 1);
    const l4 = o + ihl;
    const l4Len = total - ihl;
    if (proto === 1) this.receiveIcmp(src, dst, f, l4, l4Len, bcast);
    else if (proto === 17) this.receiveUdp(src, dst, f, l4, l4Len);
    else if (proto === 6) {
      if (bcast) return this.drop('tcp-broadcast', 1);
      this.tcp.input(src, dst, f, l4, l4Len, f[o + 1]! & 3);
    }
    else this.drop('unknown-protocol', 1);
  }

  private receiveIcmp(src: number, dst: number, f: Frame, l4: number, len: number, bcast: boolean): void {
    if (len < 8) return this.drop('bad-icmp', 1);
    if (fold(sumBytes(f, l4, l4 + len)) !== 0xffff) return this.drop('bad-icmp-checksum', 1);
    const type = f[l4]!;
    const id = (f[l4 + 4]! << 8) | f[l4 + 5]!;
    const seq = (f[l4 + 6]! << 8) | f[l4 + 7]!;
    if (type === 8) {
      this.counters.icmp_echo_requests_received++;
      if (bcast) return; // Linux icmp_echo_ignore_broadcasts = 1
      const data = f.slice(l4 + 8, l4 + len);
      const ok = this.sendIpv4(src, 20 + 8 + data.length, (iface, dstMac) =>
        buildIcmpEcho({ srcMac: iface.nic.mac, dstMac, srcIp: dst, dstIp: src, ipId: this.ipId(), type: 'reply', id, seq, payload: data }),
      );
      if (ok) this.counters.icmp_echo_replies_sent++;
      return;
    }
    if (type === 0) {
      const h = this.echoHandlers.get(id);
      if (h === undefined) return this.drop('icmp-no-socket', 1);
      h({ srcIp: src, seq, dataLen: len - 8, timeNs: this.sim.now });
      return;
    }
    if ((type === 3 || type === 11) && len >= 8 + 20) {
      // Linux icmp_unreach: frag-needed lowers the route's PMTU (never below 552, min_pmtu).
      const quote = f.subarray(l4 + 8, l4 + len);
      if (type === 3 && f[l4 + 1] === 4) {
        const mtu = Math.max(552, (f[l4 + 6]! << 8) | f[l4 + 7]!);
        const qdst = readU32(quote, 16);
        if (this.pathMtu.size >= 4096 && !this.pathMtu.has(qdst)) this.pathMtu.clear();
        this.pathMtu.set(qdst, Math.min(mtu, this.pathMtu.get(qdst) ?? 65535));
        // tcp_v4_err → tcp_v4_mtu_reduced: the connection the quote names lowers its MSS.
        if (quote[9] === 6 && this.tcpStack !== null) this.tcpStack.fragNeeded(quote, this.pathMtu.get(qdst)!);
      }
      for (const h of this.icmpErrorHandlers) h({ srcIp: src, type, code: f[l4 + 1]!, quote, timeNs: this.sim.now });
      return;
    }
    this.drop('icmp-ignored', 1);
  }

  /** Linux `__udp4_lib_rcv` with no socket: ICMP port unreachable quoting the datagram. */
  private sendPortUnreachable(f: Uint8Array, start: number, end: number, to: number): void {
    if (!errorAllowedAt(f, start, end)) return;
    if (!this.icmpLimit.allow(to, 3, this.sim.now)) return this.dropCounts.add(D_ICMP_RATELIMITED, 1);
    // The quoted datagram as a view only now: most are rate-limited above.
    const ip = f.subarray(start, end);
    const msg = buildIcmpErrorMessage(3, 3, ip);
    this.sendIpv4(to, 20 + msg.length, (iface, dstMac) => icmpFrame(iface.nic.mac, dstMac, readU32(ip, 16), to, this.ipId(), msg));
  }

  private receiveUdp(src: number, dst: number, f: Frame, l4: number, len: number): void {
    if (len < 8) return this.drop('bad-udp', 1);
    const ulen = (f[l4 + 4]! << 8) | f[l4 + 5]!;
    if (ulen < 8 || ulen > len) return this.drop('bad-udp', 1);
    const csum = (f[l4 + 6]! << 8) | f[l4 + 7]!;
    if (csum !== 0 && !isUdpValid(f, csum)) {
      const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 17 + ulen;
      if (fold(sumBytes(f, l4, l4 + ulen, pseudo)) !== 0xffff) return this.drop('bad-udp-checksum', 1);
      // Verified once: the same unchanged frame reaching another receiver (a flood, a resend of
      // the same buffer) is not summed again (frame-alloc.ts: frames are not edited once sent).
      markUdpValid(f, csum);
    }
    const sport = (f[l4]! << 8) | f[l4 + 1]!;
    const dport = (f[l4 + 2]! << 8) | f[l4 + 3]!;
    const sink = this.sinks.get(dport);
    if (sink === undefined) {
      this.dropCounts.add(D_UDP_NO_PORT, 1);
      return this.sendPortUnreachable(f, 14, l4 + ulen, src);
    }
    this.counters.udp_datagrams_received++;
    sink.deliverAt(src, sport, f, l4 + 8, ulen - 8, this.sim.now);
  }
}

/** Ethernet + IPv4 around an ICMP message (DF clear, TOS 0xc0: Linux `icmp_send`). */
function icmpFrame(srcMac: number, dstMac: number, src: number, dst: number, ident: number, msg: Uint8Array): Frame {
  const ip = buildIpv4Datagram({ src, dst, protocol: 1, tos: ICMP_ERROR_PREC, ttl: 64, ident, dontFrag: false }, msg);
  const frame = new Uint8Array(Math.max(60, 14 + ip.length));
  writeMac(frame, 0, dstMac);
  writeMac(frame, 6, srcMac);
  frame[12] = 0x08;
  frame.set(ip, 14);
  return frame;
}

/** IPv4 header as Linux sends TCP: DF set, TTL 64, ECN bits from TCP, header checksum. */
function writeIpv4Header(b: Uint8Array, o: number, src: number, dst: number, total: number, id: number, ecn: number): void {
  b[o] = 0x45;
  b[o + 1] = ecn & 3;
  b[o + 2] = total >>> 8;
  b[o + 3] = total & 0xff;
  b[o + 4] = id >>> 8;
  b[o + 5] = id & 0xff;
  b[o + 6] = 0x40;
  b[o + 7] = 0;
  b[o + 8] = 64;
  b[o + 9] = 6;
  b[o + 10] = 0;
  b[o + 11] = 0;
  b[o + 12] = src >>> 24;
  b[o + 13] = (src >>> 16) & 0xff;
  b[o + 14] = (src >>> 8) & 0xff;
  b[o + 15] = src & 0xff;
  b[o + 16] = dst >>> 24;
  b[o + 17] = (dst >>> 16) & 0xff;
  b[o + 18] = (dst >>> 8) & 0xff;
  b[o + 19] = dst & 0xff;
  const c = ~fold(sumBytes(b, o, o + 20)) & 0xffff;
  b[o + 10] = c >>> 8;
  b[o + 11] = c & 0xff;
}

function readU32(f: Uint8Array, o: number): number {
  return ((f[o]! << 24) | (f[o + 1]! << 16) | (f[o + 2]! << 8) | f[o + 3]!) >>> 0;
}

function readMac48(f: Uint8Array, o: number): number {
  return f[o]! * 2 ** 40 + f[o + 1]! * 2 ** 32 + readU32(f, o + 2);
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Whether `dst` is the limited broadcast or `iface`'s directed broadcast (sent to ff:ff:ff:ff:ff:ff). */
function isBroadcastFor(iface: GuestInterface, dst: number): boolean {
  const src = iface.ipv4!;
  return dst === 0xffffffff || (iface.prefixLength < 31 && ((dst | ipv4Mask(iface.prefixLength)) >>> 0) === 0xffffffff && ipv4InSubnet(dst, src, iface.prefixLength));
}
