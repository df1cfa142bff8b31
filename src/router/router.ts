/**
 * An IPv4 router: L3 forwarding between interfaces, as Linux does it with ip_forward=1.
 *
 * What: each interface is a `Port` (`r1.p1`) with a MAC, an IPv4 address/prefix and an MTU. A
 * frame addressed to the interface MAC is checked (`ip_rcv_core`: version, header length, header
 * checksum, total length), delivered locally when it is for one of the router's addresses (echo
 * replies; UDP gets port unreachable, other protocols protocol unreachable, as Linux with no
 * listener), else forwarded (`ip_forward`):
 *   1. TTL <= 1 → ICMP time exceeded (type 11 code 0), dropped `ttl-exceeded` — checked before
 *      the route lookup, as `ip_forward` does, so a routing loop ends after at most TTL hops;
 *   2. longest-prefix route (`routes.ts`); none → ICMP net unreachable (3/0), dropped `no-route`;
 *      ECMP picks one next hop by the seeded five-tuple hash;
 *   3. larger than the egress MTU: DF set → ICMP fragmentation needed (3/4, next-hop MTU,
 *      RFC 1191), dropped `frag-needed`; DF clear → fragmented (`ip_do_fragment`);
 *   4. TTL decremented with the incremental checksum update of RFC 1624 (`ip_decrease_ttl`);
 *   5. next hop resolved by ARP (`guest/neighbor.ts`, Linux's neighbour state machine); when
 *      resolution fails the queued packets get ICMP host unreachable (3/1), as Linux's
 *      `ipv4_link_failure` sends.
 * ICMP errors are built by `wire/icmp-error.ts` (Linux quote length, TOS precedence 0xc0, DF
 * clear, TTL 64) with the source address of the interface that routes back to the offender (Linux
 * default, icmp_errors_use_inbound_ifaddr = 0), and never about ICMP errors, non-first fragments
 * or broadcast (RFC 1812 §4.3.2.7).
 *
 * Invariants: a router never learns MACs or floods; L2 switching is vswitch's. Frames leave with
 * `meta.hops = 0` (a new L2 domain; loops across routers are bounded by TTL instead).
 * ICMP errors are rate limited per destination as Linux does (`guest/icmp-ratelimit.ts`: 6 at
 * once, then 1/s), in simulation time. Deliberate differences from Linux: fragments copy the whole header (no option filtering); directed
 * broadcasts are not forwarded (Linux default) and are dropped as `broadcast`.
 * Costs: forwarding is one frame copy (the egress frame gets a new Ethernet header) and at most one
 * hash probe per prefix length in use.
 */
import type { EventSink } from '../port/nic.js';
import { Port, hopMeta, type Frame, type FrameMeta } from '../port/port.js';
import type { Simulation } from '../sim/simulation.js';
import { fold, ipv4HeaderSumOk, sumBytes } from '../wire/checksum.js';
import { allocFrame } from '../wire/frame-alloc.js';
import { buildArpReply, buildArpRequest } from '../wire/build.js';
import { ICMP_ERROR_PREC, IcmpErrorType, UnreachCode, buildIcmpErrorMessage, errorAllowed } from '../wire/icmp-error.js';
import { formatIpv4, ipv4InSubnet, ipv4Mask } from '../wire/ip.js';
import { buildIpv4Datagram, readU32, writeMac } from '../wire/ipv4-frame.js';
import { macToBytes } from '../wire/mac.js';
import { DEFAULT_NEIGHBOR_OPTIONS, NeighborTable } from '../guest/neighbor.js';
import { IcmpRateLimit } from '../guest/icmp-ratelimit.js';
import { fragmentIpv4 } from './fragment.js';
import { Ipv6Plane, type Ipv6Address, type StaticRoute6 } from './router6.js';
import { RouteTable, flowHash, selectHop, type NextHop, type Route } from './routes.js';

export interface RouterInterfaceConfig {
  name: string;
  mac: number;
  /**
   * Absent on an IPv6-only interface: no connected IPv4 subnet, no ARP answers; IPv4 routed out of
   * it still works (Linux forwards IPv4 on a device with no IPv4 address), and ICMP it originates
   * takes another interface's address (inet_select_addr falls back to any global address).
   */
  ipv4?: number;
  prefixLength: number;
  /** IP MTU (bytes of IP datagram; the frame adds 14). */
  mtu: number;
  /** IPv6 address (router6.ts forwards IPv6 when any interface has one). */
  ipv6?: Ipv6Address;
}

export interface StaticRoute {
  network: number;
  prefixLength: number;
  /** Gateways; more than one = an ECMP group. Each must be on a connected subnet. */
  via: number[];
}

export interface RouterOptions {
  name: string;
  sim: Simulation;
  interfaces: RouterInterfaceConfig[];
  routes?: StaticRoute[];
  /** ECMP hash seed (default: drawn from the simulation PRNG, forked by router name). */
  hashSeed?: number;
  events?: EventSink;
  /** IPv6 static routes (router6.ts). */
  routes6?: StaticRoute6[];
  /** Linux net.ipv6.fib_multipath_hash_policy for IPv6 ECMP: 1 (default here) or 0. */
  ipv6HashPolicy?: 0 | 1;
}

/** Per-interface router counters (the port itself counts rx/tx packets, bytes and drops). */
export interface RouterInterfaceCounters {
  forwarded_in: number;
  forwarded_out: number;
  delivered: number;
  icmp_out: number;
  fragments_out: number;
}

export interface RouterInterface {
  readonly index: number;
  readonly cfg: RouterInterfaceConfig;
  readonly port: Port;
  readonly neighbors: NeighborTable;
  readonly counters: RouterInterfaceCounters;
}

/** A packet queued for ARP resolution; `sent` flips when it leaves (else: host unreachable). */
interface Pending {
  ip: Uint8Array;
  inIface: number;
  sent: boolean;
}

export class Router {
  readonly name: string;
  readonly interfaces: RouterInterface[] = [];
  readonly table = new RouteTable();
  /** Router-wide counts of ICMP errors sent, keyed `type/code`. */
  readonly icmpSent: Record<string, number> = {};
  private readonly sim: Simulation;
  private readonly events: EventSink | undefined;
  private readonly seed: number;
  /** The router's addresses as int32 (`ip | 0`: small integers, see routes.ts). */
  private readonly addrs = new Set<number>();
  /** Per interface: its subnet's directed broadcast address, or -1 (/31 and /32 have none). */
  private readonly directedBroadcast: number[] = [];
  private readonly pending = new Map<string, Pending[]>();
  private ipId = 1;
  private readonly icmpLimit = new IcmpRateLimit();
  /** IPv6 forwarding, when an interface has an IPv6 address (router6.ts). */
  readonly v6: Ipv6Plane | undefined;

  constructor(opts: RouterOptions) {
    this.name = opts.name;
    this.sim = opts.sim;
    this.events = opts.events;
    this.seed = opts.hashSeed ?? opts.sim.prng.fork(`router:${opts.name}`).nextU32();
    opts.interfaces.forEach((cfg, index) => {
      const port = new Port(`${opts.name}.${cfg.name}`, (f, meta) => this.receive(index, f, meta));
      const neighbors = new NeighborTable(this.sim, DEFAULT_NEIGHBOR_OPTIONS, {
        sendRequest: (ip, unicastMac) => {
          const f = buildArpRequest({ srcMac: cfg.mac, srcIp: cfg.ipv4 ?? this.anyIpv4(), dstIp: ip });
          if (unicastMac !== null) macToBytes(unicastMac, f, 0);
          port.send(f, { hops: 0 });
        },
        drop: (reason, n) => {
          for (let i = 0; i < n; i++) port.drop(reason);
        },
        failed: (ip) => this.resolutionFailed(index, ip),
      });
      this.interfaces.push({ index, cfg, port, neighbors, counters: { forwarded_in: 0, forwarded_out: 0, delivered: 0, icmp_out: 0, fragments_out: 0 } });
      if (cfg.ipv4 === undefined) {
        this.directedBroadcast.push(-1);
        return;
      }
      this.addrs.add(cfg.ipv4 | 0);
      this.directedBroadcast.push(cfg.prefixLength < 31 ? (cfg.ipv4 | ~ipv4Mask(cfg.prefixLength)) >>> 0 : -1);
      this.table.add(cfg.ipv4, cfg.prefixLength, { via: 0, iface: index }, 'connected');
    });
    for (const r of opts.routes ?? []) {
      for (const via of r.via) {
        const iface = this.connectedIface(via);
        if (iface === undefined) throw new Error(`router ${this.name}: next hop ${formatIpv4(via)} is on no connected subnet`);
        this.table.add(r.network, r.prefixLength, { via, iface }, 'static');
      }
    }
    const v6 = opts.interfaces.map((c) => c.ipv6);
    this.v6 = v6.some((a) => a !== undefined) ? new Ipv6Plane(this.name, this.sim, this.seed, this.interfaces, v6, opts.routes6 ?? [], this.events, opts.ipv6HashPolicy ?? 1) : undefined;
  }

  /** The interface whose subnet holds `ip`, longest prefix first. */
  connectedIface(ip: number): number | undefined {
    let best: RouterInterface | undefined;
    for (const i of this.interfaces) {
      if (i.cfg.ipv4 !== undefined && ipv4InSubnet(ip, i.cfg.ipv4, i.cfg.prefixLength) && (best === undefined || i.cfg.prefixLength > best.cfg.prefixLength)) best = i;
    }
    return best?.index;
  }

  /** The route and next hop a packet would take (for `vfab trace` and tests). */
  resolveRoute(src: number, dst: number, proto: number, sport: number, dport: number): { route: Route; hop: NextHop } | undefined {
    const route = this.table.lookup(dst);
    if (route === undefined) return undefined;
    return { route, hop: this.hopFor(src, dst, proto, sport, dport)! };
  }

  // ---------------------------------------------------------------------------------------------

  private receive(ifi: number, f: Frame, _meta: FrameMeta): void {
    const itf = this.interfaces[ifi]!;
    if (f.length < 14) return itf.port.drop('runt');
    if (f.length > itf.cfg.mtu + 14) return itf.port.drop('mtu');
    const multicast = (f[0]! & 1) !== 0;
    if (!multicast && readMac(f, 0) !== itf.cfg.mac) return itf.port.drop('not-for-us');
    const type = (f[12]! << 8) | f[13]!;
    if (type === 0x0806) return this.receiveArp(itf, f);
    if (type === 0x86dd) return this.v6 !== undefined ? this.v6.receive(ifi, f) : itf.port.drop('ipv6-ignored');
    if (type !== 0x0800) return itf.port.drop('unknown-ethertype');
    if (multicast) return itf.port.drop('broadcast');
    this.receiveIpv4(itf, f);
  }

  /** Linux `arp_process`: answer requests for our address, learn the sender. */
  private receiveArp(itf: RouterInterface, f: Frame): void {
    if (f.length < 42 || f[14] !== 0 || f[15] !== 1 || f[16] !== 8 || f[17] !== 0) return itf.port.drop('bad-arp');
    const op = (f[20]! << 8) | f[21]!;
    const sha = readMac(f, 22);
    const spa = readU32(f, 28);
    const tpa = readU32(f, 38);
    if (spa === 0) return;
    if (op === 1 && tpa === itf.cfg.ipv4) {
      itf.neighbors.learn(spa, sha, false, true);
      itf.port.send(buildArpReply({ srcMac: itf.cfg.mac, srcIp: itf.cfg.ipv4, dstMac: sha, dstIp: spa }), { hops: 0 });
      return;
    }
    itf.neighbors.learn(spa, sha, op === 2 && tpa === itf.cfg.ipv4, false);
  }

  private receiveIpv4(itf: RouterInterface, f: Frame): void {
    const o = 14;
    if (f.length < o + 20) return itf.port.drop('bad-ipv4-length');
    const vihl = f[o]!;
    const ihl = (vihl & 0x0f) * 4;
    if (vihl >> 4 !== 4 || ihl < 20 || f.length < o + ihl) return itf.port.drop('bad-ipv4-header');
    if (!ipv4HeaderSumOk(f, o, ihl)) return itf.port.drop('bad-ipv4-checksum');
    const total = (f[o + 2]! << 8) | f[o + 3]!;
    if (total < ihl || o + total > f.length) return itf.port.drop('bad-ipv4-length');
    // The header fields are read from `f` at offset 14; the datagram view (`datagram`) is made
    // only where a slow path needs it: the forwarding fast path makes no view.
    const dst = readU32(f, o + 16);
    if (this.addrs.has(dst | 0)) return this.deliverLocal(itf, this.datagram(f, total), ihl);
    // Limited broadcast, or the directed broadcast of the ingress subnet (host bits all ones).
    if (dst === 0xffffffff || dst === this.directedBroadcast[itf.index]) return itf.port.drop('broadcast');
    // ip_forward: TTL first (so a loop ends), then the route.
    if (f[o + 8]! <= 1) {
      itf.port.drop('ttl-exceeded');
      this.events?.({ type: 'ttl-exceeded', time_ns: this.sim.now, router: this.name, port: itf.port.path, src: formatIpv4(readU32(f, o + 12)), dst: formatIpv4(dst) });
      return this.icmpError(itf.index, this.datagram(f, total), IcmpErrorType.TimeExceeded, 0);
    }
    const proto = f[o + 9]!;
    const fragWord = (f[o + 6]! << 8) | f[o + 7]!;
    const l4Ports = (proto === 6 || proto === 17) && (fragWord & 0x3fff) === 0 && total >= ihl + 4;
    const l4 = o + ihl;
    const hop = this.hopFor(readU32(f, o + 12), dst, proto, l4Ports ? (f[l4]! << 8) | f[l4 + 1]! : 0, l4Ports ? (f[l4 + 2]! << 8) | f[l4 + 3]! : 0);
    if (hop === undefined) {
      itf.port.drop('no-route');
      return this.icmpError(itf.index, this.datagram(f, total), IcmpErrorType.DestUnreachable, UnreachCode.Net);
    }
    const out = this.interfaces[hop.iface]!;
    const df = (fragWord & 0x4000) !== 0;
    if (total > out.cfg.mtu && df) {
      itf.port.drop('frag-needed');
      return this.icmpError(itf.index, this.datagram(f, total), IcmpErrorType.DestUnreachable, UnreachCode.FragNeeded, out.cfg.mtu);
    }
    itf.counters.forwarded_in++;
    const nextHop = hop.via !== 0 ? hop.via : dst;
    if (total <= out.cfg.mtu) {
      const mac = out.neighbors.usableMac(nextHop);
      if (mac !== undefined) {
        // Fast path (next hop resolved, no fragmentation): the outgoing frame is built in one
        // allocation and the TTL decremented in it; the same bytes as copy + frameFor.
        const frame = this.forwardFrame(out, mac, f, total);
        decrementTtl(frame, o);
        out.counters.forwarded_out++;
        out.port.send(frame, hopMeta(0));
        return;
      }
    }
    const ip = this.datagram(f, total);
    const copy = ip.slice();
    this.sim.packetOrigins?.relate(copy, ip);
    decrementTtl(copy);
    if (total > out.cfg.mtu) {
      const frags = fragmentIpv4(copy, out.cfg.mtu);
      out.counters.fragments_out += frags.length;
      for (const fr of frags) this.output(out, nextHop, fr, itf.index);
    } else this.output(out, nextHop, copy, itf.index);
  }

  /** The IPv4 datagram of frame `f` (a view from offset 14, `total` bytes): the same packet. */
  private datagram(f: Frame, total: number): Uint8Array {
    const ip = f.subarray(14, 14 + total);
    this.sim.packetOrigins?.relate(ip, f);
    return ip;
  }

  /** The route's next hop for a flow: ECMP picks one by the seeded five-tuple hash. */
  private hopFor(src: number, dst: number, proto: number, sport: number, dport: number): NextHop | undefined {
    const route = this.table.lookup(dst);
    if (route === undefined) return undefined;
    const hops = route.nextHops;
    return hops.length === 1 ? hops[0]! : hops[selectHop(flowHash(this.seed, src, dst, proto, sport, dport), hops.length)]!;
  }

  /**
   * `frameFor` for the datagram at offset 14 of the received frame `f` (`total` bytes): when `f`
   * holds exactly the datagram (no Ethernet padding) it is copied whole and its Ethernet header
   * overwritten, with no view of the datagram; padding is never copied (the output pads with zeros).
   */
  private forwardFrame(out: RouterInterface, mac: number, f: Frame, total: number): Uint8Array {
    const frame = allocFrame(Math.max(60, 14 + total));
    if (f.length === 14 + total) frame.set(f);
    else frame.set(f.subarray(14, 14 + total), 14);
    writeMac(frame, 0, mac);
    writeMac(frame, 6, out.cfg.mac);
    frame[12] = 0x08;
    frame[13] = 0x00;
    // the same packet on the next hop: it keeps its pcapng packet id
    this.sim.packetOrigins?.relate(frame, f);
    return frame;
  }

  /** The Ethernet frame carrying `ip` from `out` to `mac` (padded to the 60-byte minimum). */
  private frameFor(out: RouterInterface, mac: number, ip: Uint8Array): Uint8Array {
    // a slab view (wire/frame-alloc.ts: fresh zeroed memory, no backing store per frame)
    const frame = allocFrame(Math.max(60, 14 + ip.length));
    writeMac(frame, 0, mac);
    writeMac(frame, 6, out.cfg.mac);
    frame[12] = 0x08;
    frame[13] = 0x00;
    frame.set(ip, 14);
    // the same packet on the next hop: it keeps its pcapng packet id
    this.sim.packetOrigins?.relate(frame, ip);
    return frame;
  }

  /** Sends IP datagram `ip` out of `out` to `nextHop`, resolving its MAC. */
  private output(out: RouterInterface, nextHop: number, ip: Uint8Array, inIface: number): void {
    const known = out.neighbors.usableMac(nextHop);
    if (known !== undefined) {
      // Fast path (no callback, no pending record): the same frame resolve() would send.
      out.counters.forwarded_out++;
      out.port.send(this.frameFor(out, known, ip), hopMeta(0));
      return;
    }
    const p: Pending = { ip, inIface, sent: false };
    out.neighbors.resolve(nextHop, (mac) => {
      p.sent = true;
      out.counters.forwarded_out++;
      out.port.send(this.frameFor(out, mac, ip), hopMeta(0));
    });
    if (!p.sent) {
      // Waiting for ARP: remember it so a failed resolution can answer host unreachable.
      const key = `${out.index}/${nextHop}`;
      let list = this.pending.get(key);
      if (list === undefined) {
        list = [];
        this.pending.set(key, list);
      }
      if (list.length >= DEFAULT_NEIGHBOR_OPTIONS.queueLen) list.shift();
      list.push(p);
    }
  }

  private resolutionFailed(ifi: number, ip: number): void {
    const key = `${ifi}/${ip}`;
    const list = this.pending.get(key) ?? [];
    this.pending.delete(key);
    this.events?.({ type: 'router-arp-failed', time_ns: this.sim.now, router: this.name, port: this.interfaces[ifi]!.port.path, ip: formatIpv4(ip) });
    // The packets themselves were counted `arp-failed` once, on the egress interface, by its
    // neighbour table (NeighborTable drops its queue); here they only get their host unreachable.
    for (const p of list) {
      if (p.sent) continue;
      this.icmpError(p.inIface, p.ip, IcmpErrorType.DestUnreachable, UnreachCode.Host);
    }
  }

  private deliverLocal(itf: RouterInterface, ip: Uint8Array, ihl: number): void {
    itf.counters.delivered++;
    const proto = ip[9]!;
    const src = readU32(ip, 12);
    if (proto === 1) {
      if (ip.length < ihl + 8 || fold(sumBytes(ip, ihl, ip.length)) !== 0xffff) return itf.port.drop('bad-icmp');
      if (ip[ihl] !== 8) return; // errors and replies to the router are consumed
      const msg = ip.slice(ihl);
      msg[0] = 0;
      msg[2] = 0;
      msg[3] = 0;
      const c = ~fold(sumBytes(msg, 0, msg.length)) & 0xffff;
      msg[2] = c >>> 8;
      msg[3] = c & 0xff;
      return this.sendLocal(src, readU32(ip, 16), 1, ip[1]!, msg, false);
    }
    if (((ip[6]! << 8) | ip[7]!) & 0x3fff) return itf.port.drop('fragment');
    // No sockets on the router: UDP → port unreachable, other protocols → protocol unreachable
    // (Linux `udp_rcv` → `__udp4_lib_rcv`; `ip_local_deliver_finish` for unknown protocols). TCP
    // would get a RST from Linux; vfab's router drops it (`no-socket`).
    if (proto === 17) return this.icmpError(itf.index, ip, IcmpErrorType.DestUnreachable, UnreachCode.Port);
    if (proto === 6) return itf.port.drop('no-socket');
    this.icmpError(itf.index, ip, IcmpErrorType.DestUnreachable, UnreachCode.Protocol);
  }

  /** Sends an ICMP error about datagram `ip` received on interface `inIface`. */
  private icmpError(inIface: number, ip: Uint8Array, type: number, code: number, mtu = 0): void {
    if (!errorAllowed(ip)) return;
    const src = readU32(ip, 12);
    if (!this.icmpLimit.allow(src, type, this.sim.now)) {
      this.icmpSent['ratelimited'] = (this.icmpSent['ratelimited'] ?? 0) + 1;
      return;
    }
    const msg = buildIcmpErrorMessage(type, code, ip, mtu);
    const tos = (ip[1]! & 0x1e) | ICMP_ERROR_PREC;
    const k = `${type}/${code}`;
    this.icmpSent[k] = (this.icmpSent[k] ?? 0) + 1;
    this.interfaces[inIface]!.counters.icmp_out++;
    this.sendLocal(src, 0, 1, tos, msg, false);
  }

  /**
   * Sends a locally generated datagram to `dst` (source `src`, or 0 = the address of the egress
   * interface, Linux's preferred source). DF clear (ICMP sockets use IP_PMTUDISC_DONT in Linux).
   */
  private sendLocal(dst: number, src: number, proto: number, tos: number, l4: Uint8Array, df: boolean): void {
    const r = this.resolveRoute(0, dst, proto, 0, 0);
    if (r === undefined) {
      this.icmpSent['no-route-back'] = (this.icmpSent['no-route-back'] ?? 0) + 1;
      return;
    }
    const out = this.interfaces[r.hop.iface]!;
    const from = src !== 0 ? src : (out.cfg.ipv4 ?? this.anyIpv4());
    const ip = buildIpv4Datagram({ src: from, dst, protocol: proto, tos, ttl: 64, ident: this.nextId(), dontFrag: df }, l4);
    this.output(out, r.hop.via !== 0 ? r.hop.via : dst, ip, r.hop.iface);
  }

  /**
   * An IPv4 source for a packet leaving an interface with no IPv4 address: the first interface
   * that has one (Linux inet_select_addr: any global-scope address of the host), else 0.0.0.0.
   */
  private anyIpv4(): number {
    for (const i of this.interfaces) if (i.cfg.ipv4 !== undefined) return i.cfg.ipv4;
    return 0;
  }

  private nextId(): number {
    const id = this.ipId;
    this.ipId = (id + 1) & 0xffff;
    return id;
  }
}

/** `ip_decrease_ttl`: TTL - 1 and the RFC 1624 incremental header checksum update (header at `o`). */
export function decrementTtl(ip: Uint8Array, o = 0): void {
  ip[o + 8] = ip[o + 8]! - 1;
  // Linux: check += htons(0x0100); check + (check >= 0xFFFF), truncated to 16 bits.
  let sum = ((ip[o + 10]! << 8) | ip[o + 11]!) + 0x0100;
  sum = (sum + (sum >= 0xffff ? 1 : 0)) & 0xffff;
  ip[o + 10] = (sum >>> 8) & 0xff;
  ip[o + 11] = sum & 0xff;
}

function readMac(f: Uint8Array, o: number): number {
  return f[o]! * 2 ** 40 + f[o + 1]! * 2 ** 32 + readU32(f, o + 2);
}
