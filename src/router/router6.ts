/**
 * IPv6 forwarding for a `Router` (issue 14, IPv6 underlay): what Linux does with
 * `net.ipv6.conf.all.forwarding=1`, kept apart from the IPv4 path in router.ts (which hands it
 * every 0x86DD frame).
 *
 * Receive (`ipv6_rcv` → `ip6_rcv_core`): version 6, payload length within the frame. Neighbor
 * Discovery first (RFC 4861, `ndisc_rcv`): an NS for one of our addresses is answered with a
 * solicited NA (R, S, O flags) and teaches us the sender (STALE, as `ndisc_recv_ns`); an NA updates
 * the cache (REACHABLE when solicited). Packets for our own addresses: echo requests get replies,
 * UDP gets port unreachable (1/4), other payloads are consumed. Forwarding (`ip6_route_input`
 * then `ip6_forward`), in Linux's order:
 *   1. route lookup (`routes6.ts`); none → ICMPv6 destination unreachable, no route (1/0),
 *      dropped `no-route` (`ip6_pkt_discard`, before the hop-limit check);
 *   2. hop limit ≤ 1 → ICMPv6 time exceeded (3/0), dropped `hop-limit-exceeded`;
 *   3. larger than the egress MTU → ICMPv6 packet too big (2/0, the MTU), dropped `packet-too-big`:
 *      routers never fragment IPv6 (RFC 8200 §5);
 *   4. hop limit decremented (no header checksum in IPv6);
 *   5. next hop resolved by ND; when resolution fails the queued packets get ICMPv6 address
 *      unreachable (1/3), as `ndisc_error_report` sends.
 * Link-local destinations and multicast are never forwarded (`link-local`, `multicast` drops).
 * ICMPv6 errors: wire/ipv6-frame.ts (quote ≤ 1232 bytes, hop limit 64); source = the address of
 * the interface that routes back to the offender (`icmp6_send` → `ipv6_dev_get_saddr`); rate
 * limited per destination like IPv4 errors except Packet Too Big, which Linux never limits
 * (`icmpv6_xrlim_allow`: "Do not limit pmtu discovery, it would break it").
 *
 * Costs: a forwarded packet is one frame allocation; a lookup is one pass over the IPv6 routes.
 */
import type { EventSink } from '../port/nic.js';
import type { Frame } from '../port/port.js';
import type { Simulation } from '../sim/simulation.js';
import { IcmpRateLimit } from '../guest/icmp-ratelimit.js';
import { formatIpv6, type Ipv6Words } from '../wire/ip.js';
import { writeMac } from '../wire/ipv4-frame.js';
import {
  DEFAULT_HOP_LIMIT,
  ICMPV6,
  PROTO_ICMPV6,
  UNREACH6,
  buildIcmpv6Error,
  buildIpv6Frame,
  buildNeighborAdvert,
  buildNeighborSolicit,
  icmpv6ErrorAllowed,
  ipv6Equal,
  ipv6InPrefix,
  ipv6Key,
  isIpv6LinkLocal,
  isIpv6Multicast,
  parseNd,
  readIpv6At,
  setIcmpv6Checksum,
  upperChecksumOk,
} from '../wire/ipv6-frame.js';
import { Neighbor6Table } from './neighbor6.js';
import { RouteTable6, flowHash6, flowHash6L3, pickHop6, type NextHop6, type Route6 } from './routes6.js';
import type { RouterInterface } from './router.js';

export interface Ipv6Address {
  address: Ipv6Words;
  prefixLength: number;
}

export interface StaticRoute6 {
  network: Ipv6Words;
  prefixLength: number;
  via: Ipv6Words[];
}

/** Per-interface IPv6 counters (drops are the port's, shared with IPv4). */
export interface Ipv6Counters {
  forwarded_in: number;
  forwarded_out: number;
  delivered: number;
  icmp_out: number;
  nd_in: number;
  nd_out: number;
}

interface Iface6 {
  base: RouterInterface;
  addr: Ipv6Address | undefined;
  neighbors: Neighbor6Table;
  counters: Ipv6Counters;
}

interface Pending6 {
  ip: Uint8Array;
  inIface: number;
  sent: boolean;
}

export class Ipv6Plane {
  readonly table = new RouteTable6();
  readonly ifaces: Iface6[] = [];
  /** ICMPv6 errors sent, keyed `type/code`. */
  readonly icmpSent: Record<string, number> = {};
  private readonly mine = new Set<string>();
  private readonly pending = new Map<string, Pending6[]>();
  private readonly limit = new IcmpRateLimit();
  private readonly limitIds = new Map<string, number>();

  constructor(
    private readonly routerName: string,
    private readonly sim: Simulation,
    private readonly seed: number,
    interfaces: readonly RouterInterface[],
    addrs: ReadonlyArray<Ipv6Address | undefined>,
    routes: readonly StaticRoute6[],
    private readonly events?: EventSink,
    /** Linux net.ipv6.fib_multipath_hash_policy: 1 (five-tuple, vfab's default) or 0 (addresses, flow label, next header). */
    private readonly hashPolicy: 0 | 1 = 1,
  ) {
    interfaces.forEach((base, i) => {
      const addr = addrs[i];
      const neighbors = new Neighbor6Table(sim, {
        solicit: (target, unicastMac) => {
          if (addr === undefined) return;
          this.ifaces[i]!.counters.nd_out++;
          base.port.send(buildNeighborSolicit(base.cfg.mac, addr.address, target, unicastMac), { hops: 0 });
        },
        drop: (reason, n) => {
          for (let k = 0; k < n; k++) base.port.drop(reason);
        },
        failed: (target) => this.resolutionFailed(i, target),
      });
      this.ifaces.push({ base, addr, neighbors, counters: { forwarded_in: 0, forwarded_out: 0, delivered: 0, icmp_out: 0, nd_in: 0, nd_out: 0 } });
      if (addr !== undefined) {
        this.mine.add(ipv6Key(addr.address));
        this.table.add(addr.address, addr.prefixLength, { via: undefined, iface: i }, 'connected');
      }
    });
    for (const r of routes) {
      for (const via of r.via) {
        const iface = this.connectedIface(via);
        if (iface === undefined) throw new Error(`router ${routerName}: IPv6 next hop ${formatIpv6(via)} is on no connected subnet`);
        this.table.add(r.network, r.prefixLength, { via, iface }, 'static');
      }
    }
  }

  /** The `ipv6` part of the router's summary: per-interface counters, ICMPv6 errors, routes. */
  summary(): Record<string, unknown> {
    const ifs: Record<string, unknown> = {};
    for (const f of this.ifaces) if (f.addr) ifs[f.base.cfg.name] = { address: `${formatIpv6(f.addr.address)}/${f.addr.prefixLength}`, ...f.counters };
    return {
      interfaces: ifs,
      icmp_sent: { ...this.icmpSent },
      routes: this.table.all().map((r) => ({
        to: `${formatIpv6(r.network)}/${r.prefixLength}`,
        via: r.nextHops.map((h) => (h.via === undefined ? `dev ${this.ifaces[h.iface]!.base.cfg.name}` : formatIpv6(h.via))),
      })),
    };
  }

  connectedIface(a: Ipv6Words): number | undefined {
    let best: Iface6 | undefined;
    let bi: number | undefined;
    this.ifaces.forEach((f, i) => {
      if (f.addr && ipv6InPrefix(a, f.addr.address, f.addr.prefixLength) && (best === undefined || f.addr.prefixLength > best.addr!.prefixLength)) {
        best = f;
        bi = i;
      }
    });
    return bi;
  }

  /** The route and next hop a packet takes (trace and tests). */
  resolveRoute(src: Ipv6Words, dst: Ipv6Words, proto: number, sport: number, dport: number, flowLabel = 0): { route: Route6; hop: NextHop6 } | undefined {
    const route = this.table.lookup(dst);
    if (route === undefined) return undefined;
    const hash = this.hashPolicy === 0 ? flowHash6L3(this.seed, src, dst, flowLabel, proto) : flowHash6(this.seed, src, dst, proto, sport, dport);
    return { route, hop: pickHop6(route, hash) };
  }

  /** An 0x86DD frame received on interface `ifi` (already checked for length, MTU and MAC). */
  receive(ifi: number, f: Frame): void {
    const itf = this.ifaces[ifi]!;
    const port = itf.base.port;
    if (itf.addr === undefined) return port.drop('ipv6-no-address');
    if (f.length < 54 || f[14]! >> 4 !== 6) return port.drop('bad-ipv6-header');
    const plen = (f[18]! << 8) | f[19]!;
    if (54 + plen > f.length) return port.drop('bad-ipv6-length');
    const ip = f.subarray(14, 54 + plen);
    this.sim.packetOrigins?.relate(ip, f);
    const dst = readIpv6At(ip, 24);
    const nh = ip[6]!;
    if (nh === PROTO_ICMPV6 && plen >= 1 && (ip[40] === ICMPV6.NeighborSolicit || ip[40] === ICMPV6.NeighborAdvert)) return this.receiveNd(itf, ip);
    if (this.mine.has(ipv6Key(dst))) return this.deliverLocal(itf, ip);
    if (isIpv6Multicast(dst)) return port.drop('multicast');
    if (isIpv6LinkLocal(dst)) return port.drop('link-local');
    const src = readIpv6At(ip, 8);
    const l4 = nh === 6 || nh === 17;
    const r = this.resolveRoute(src, dst, nh, l4 && plen >= 4 ? (ip[40]! << 8) | ip[41]! : 0, l4 && plen >= 4 ? (ip[42]! << 8) | ip[43]! : 0, ((ip[1]! & 0x0f) << 16) | (ip[2]! << 8) | ip[3]!);
    if (r === undefined) {
      port.drop('no-route');
      return this.icmpError(ifi, ip, ICMPV6.DestUnreach, UNREACH6.NoRoute, 0);
    }
    if (ip[7]! <= 1) {
      port.drop('hop-limit-exceeded');
      this.events?.({ type: 'ttl-exceeded', time_ns: this.sim.now, router: this.routerName, port: port.path, src: formatIpv6(src), dst: formatIpv6(dst) });
      return this.icmpError(ifi, ip, ICMPV6.TimeExceeded, 0, 0);
    }
    const out = this.ifaces[r.hop.iface]!;
    if (ip.length > out.base.cfg.mtu) {
      port.drop('packet-too-big');
      return this.icmpError(ifi, ip, ICMPV6.PacketTooBig, 0, out.base.cfg.mtu);
    }
    itf.counters.forwarded_in++;
    const copy = ip.slice();
    this.sim.packetOrigins?.relate(copy, ip);
    copy[7] = copy[7]! - 1;
    this.output(r.hop.iface, r.hop.via ?? dst, copy, ifi);
  }

  private receiveNd(itf: Iface6, ip: Uint8Array): void {
    const port = itf.base.port;
    const nd = parseNd(ip);
    if (typeof nd === 'string') return port.drop(nd);
    itf.counters.nd_in++;
    const src = readIpv6At(ip, 8);
    const me = itf.addr!.address;
    if (nd.type === ICMPV6.NeighborSolicit) {
      if (!ipv6Equal(nd.target, me)) return; // not ours (no proxy ND)
      if (src[0] === 0 && src[1] === 0 && src[2] === 0 && src[3] === 0) return; // DAD probe: vfab never claims duplicates
      if (nd.lladdr === undefined) return port.drop('bad-nd');
      itf.neighbors.learn(src, nd.lladdr, false, true);
      itf.counters.nd_out++;
      port.send(buildNeighborAdvert(itf.base.cfg.mac, me, nd.lladdr, src, true), { hops: 0 });
      return;
    }
    if (nd.lladdr !== undefined) itf.neighbors.learn(nd.target, nd.lladdr, nd.solicited, false);
  }

  private deliverLocal(itf: Iface6, ip: Uint8Array): void {
    itf.counters.delivered++;
    const nh = ip[6]!;
    const src = readIpv6At(ip, 8);
    const dst = readIpv6At(ip, 24);
    if (nh === PROTO_ICMPV6) {
      const msg = ip.subarray(40);
      if (msg.length < 8 || !upperChecksumOk(msg, src, dst, PROTO_ICMPV6)) return itf.base.port.drop('bad-icmpv6');
      if (msg[0] !== ICMPV6.EchoRequest) return;
      const reply = msg.slice();
      reply[0] = ICMPV6.EchoReply;
      setIcmpv6Checksum(reply, dst, src);
      return this.sendLocal(src, dst, reply);
    }
    // No sockets on the router: UDP → port unreachable (udpv6_rcv → __udp6_lib_rcv); others consumed.
    if (nh === 17) return this.icmpError(itf.base.index, ip, ICMPV6.DestUnreach, UNREACH6.Port, 0);
    itf.base.port.drop('no-socket');
  }

  private icmpError(inIface: number, ip: Uint8Array, type: number, code: number, param: number): void {
    if (!icmpv6ErrorAllowed(ip, type)) return;
    const src = readIpv6At(ip, 8);
    if (type !== ICMPV6.PacketTooBig && !this.limit.allow(this.limitId(src), type, this.sim.now)) {
      this.icmpSent['ratelimited'] = (this.icmpSent['ratelimited'] ?? 0) + 1;
      return;
    }
    const r = this.resolveRoute([0, 0, 0, 0], src, PROTO_ICMPV6, 0, 0);
    if (r === undefined || this.ifaces[r.hop.iface]!.addr === undefined) {
      this.icmpSent['no-route-back'] = (this.icmpSent['no-route-back'] ?? 0) + 1;
      return;
    }
    const from = this.ifaces[r.hop.iface]!.addr!.address;
    const msg = buildIcmpv6Error(type, code, param, ip, from, src);
    const k = `${type}/${code}`;
    this.icmpSent[k] = (this.icmpSent[k] ?? 0) + 1;
    this.ifaces[inIface]!.counters.icmp_out++;
    this.sendLocal(src, from, msg);
  }

  private limitId(a: Ipv6Words): number {
    const k = ipv6Key(a);
    let id = this.limitIds.get(k);
    if (id === undefined) {
      if (this.limitIds.size >= 4096) this.limitIds.clear(); // bounded; Linux's inet_peer cache is too
      id = this.limitIds.size + 1;
      this.limitIds.set(k, id);
    }
    return id;
  }

  /** Sends a locally generated ICMPv6 message `msg` (checksum set) to `dst` from `src`. */
  private sendLocal(dst: Ipv6Words, src: Ipv6Words, msg: Uint8Array): void {
    const r = this.resolveRoute([0, 0, 0, 0], dst, PROTO_ICMPV6, 0, 0);
    if (r === undefined) return;
    const ip = new Uint8Array(40 + msg.length);
    const frame = buildIpv6Frame(0, 0, { src, dst, nextHeader: PROTO_ICMPV6, hopLimit: DEFAULT_HOP_LIMIT, flowLabel: icmpFlowLabel(this.seed, src, dst) }, msg);
    ip.set(frame.subarray(14, 54 + msg.length));
    this.output(r.hop.iface, r.hop.via ?? dst, ip, r.hop.iface);
  }

  private frameFor(out: Iface6, mac: number, ip: Uint8Array): Uint8Array {
    const frame = new Uint8Array(Math.max(60, 14 + ip.length));
    writeMac(frame, 0, mac);
    writeMac(frame, 6, out.base.cfg.mac);
    frame[12] = 0x86;
    frame[13] = 0xdd;
    frame.set(ip, 14);
    this.sim.packetOrigins?.relate(frame, ip);
    return frame;
  }

  private output(oi: number, nextHop: Ipv6Words, ip: Uint8Array, inIface: number): void {
    const out = this.ifaces[oi]!;
    const known = out.neighbors.usableMac(nextHop);
    if (known !== undefined) {
      out.counters.forwarded_out++;
      out.base.port.send(this.frameFor(out, known, ip), { hops: 0 });
      return;
    }
    const p: Pending6 = { ip, inIface, sent: false };
    const ok = out.neighbors.resolve(nextHop, (mac) => {
      p.sent = true;
      out.counters.forwarded_out++;
      out.base.port.send(this.frameFor(out, mac, ip), { hops: 0 });
    });
    if (!ok) return out.base.port.drop('neigh-table-full');
    if (!p.sent) {
      const key = `${oi}/${ipv6Key(nextHop)}`;
      let list = this.pending.get(key);
      if (list === undefined) this.pending.set(key, (list = []));
      if (list.length >= 101) list.shift();
      list.push(p);
    }
  }

  private resolutionFailed(ifi: number, target: Ipv6Words): void {
    const key = `${ifi}/${ipv6Key(target)}`;
    const list = this.pending.get(key) ?? [];
    this.pending.delete(key);
    this.events?.({ type: 'router-nd-failed', time_ns: this.sim.now, router: this.routerName, port: this.ifaces[ifi]!.base.port.path, ip: formatIpv6(target) });
    for (const p of list) {
      if (p.sent) continue;
      this.ifaces[p.inIface]!.base.port.drop('nd-failed');
      this.icmpError(p.inIface, p.ip, ICMPV6.DestUnreach, UNREACH6.Address, 0);
    }
  }
}

/**
 * The flow label of a locally generated packet: Linux's `ip6_make_flowlabel` with auto flow labels
 * (the default) takes 20 bits of the flow hash; vfab uses its own seeded hash of the addresses.
 */
function icmpFlowLabel(seed: number, src: Ipv6Words, dst: Ipv6Words): number {
  return flowHash6(seed, src, dst, PROTO_ICMPV6, 0, 0) & 0xfffff;
}
