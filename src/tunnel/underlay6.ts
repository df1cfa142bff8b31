/**
 * The IPv6 side of a host's underlay endpoint (`underlay: { ipv6: … }`): what a VTEP's kernel does
 * for an IPv6 underlay. It shares the `hv1.underlay` port with the IPv4 side (underlay.ts hands it
 * every 0x86DD frame), and does:
 * - Neighbor Discovery (RFC 4861): answers an NS for its address with a solicited NA (S, O; not R),
 *   learns the sender; resolves the next hop (on-link destination or `gateway`) with multicast NS,
 *   Linux's neighbour state machine (router/neighbor6.ts);
 * - UDP receive for tunnel ports: packets to its address, no extension headers, next header UDP,
 *   demultiplexed to a tunnel port as OVS's `tnl_find` does (exact key before `key: flow`); the
 *   tunnel port checks the outer UDP checksum (wire/udp-tunnel6.ts).
 * Anything else is dropped and counted at the port (`not-for-us`, `no-tunnel`, `vni-mismatch`,
 * `not-udp`, `ipv6-extension-header`).
 */
import type { EventSink } from '../port/nic.js';
import type { Frame } from '../port/port.js';
import type { Port } from '../port/port.js';
import type { Simulation } from '../sim/simulation.js';
import { formatIpv6, type Ipv6Words } from '../wire/ip.js';
import { ICMPV6, PROTO_ICMPV6, buildNeighborAdvert, buildNeighborSolicit, ipv6Equal, ipv6InPrefix, parseNd, readIpv6At } from '../wire/ipv6-frame.js';
import { udp6DstPort } from '../wire/udp-tunnel6.js';
import { Neighbor6Table } from '../router/neighbor6.js';

export interface Underlay6Options {
  port: Port;
  sim: Simulation;
  mac: number;
  address: Ipv6Words;
  prefixLength: number;
  gateway?: Ipv6Words;
  events?: EventSink;
}

/** What an IPv6 tunnel port registers to receive. */
export interface TunnelRx6 {
  dstPort: number;
  /** 'flow' (remote_ip=flow): any remote. */
  remote: Ipv6Words | 'flow';
  vni: number | 'flow';
  /** OVS options:local_ip: the destination a packet must have (absent: any of ours). */
  local?: Ipv6Words;
  /** The VNI of a packet of this tunnel's type, or a drop reason. */
  vniOf(ip6: Uint8Array): number | string;
  rx(ip6: Uint8Array): void;
}

export class Underlay6 {
  readonly neighbors: Neighbor6Table;
  readonly address: Ipv6Words;
  private readonly listeners: TunnelRx6[] = [];
  readonly nd = { in: 0, out: 0 };

  constructor(private readonly o: Underlay6Options) {
    this.address = o.address;
    this.neighbors = new Neighbor6Table(o.sim, {
      solicit: (target, unicastMac) => {
        this.nd.out++;
        o.port.send(buildNeighborSolicit(o.mac, o.address, target, unicastMac), { hops: 0 });
      },
      drop: (reason, n) => {
        for (let i = 0; i < n; i++) o.port.drop(reason);
      },
      failed: (target) => o.events?.({ type: 'underlay-nd-failed', time_ns: o.sim.now, port: o.port.path, ip: formatIpv6(target) }),
    });
  }

  /** The next hop towards `dst`: itself on-link, else the gateway, else undefined. */
  nextHop(dst: Ipv6Words): Ipv6Words | undefined {
    if (ipv6InPrefix(dst, this.o.address, this.o.prefixLength)) return dst;
    return this.o.gateway;
  }

  /** Sends a frame to `dst`: `build(dstMac)` makes it once the next hop's MAC is known. */
  send(dst: Ipv6Words, build: (dstMac: number) => Frame): boolean {
    const hop = this.nextHop(dst);
    if (hop === undefined) return false;
    const mac = this.neighbors.usableMac(hop);
    if (mac !== undefined) {
      this.o.port.send(build(mac), { hops: 0 });
      return true;
    }
    return this.neighbors.resolve(hop, (m) => this.o.port.send(build(m), { hops: 0 }));
  }

  listen(t: TunnelRx6): void {
    this.listeners.push(t);
  }

  /** A 0x86DD frame for this endpoint (the caller checked length, MTU and destination MAC). */
  receive(f: Frame): void {
    const port = this.o.port;
    if (f.length < 54 || f[14]! >> 4 !== 6) return port.drop('bad-ipv6-header');
    const plen = (f[18]! << 8) | f[19]!;
    if (54 + plen > f.length) return port.drop('bad-ipv6-length');
    const ip = f.subarray(14, 54 + plen);
    this.o.sim.packetOrigins?.relate(ip, f);
    const nh = ip[6]!;
    if (nh === PROTO_ICMPV6 && plen >= 1 && (ip[40] === ICMPV6.NeighborSolicit || ip[40] === ICMPV6.NeighborAdvert)) return this.receiveNd(ip);
    if (!ipv6Equal(readIpv6At(ip, 24), this.o.address)) return port.drop('not-for-us');
    if (nh === 0 || nh === 43 || nh === 44 || nh === 60) return port.drop('ipv6-extension-header');
    if (nh !== 17) return port.drop('not-udp');
    const dport = udp6DstPort(ip);
    if (dport < 0) return port.drop('bad-ipv6-length');
    this.demux(ip, readIpv6At(ip, 8), readIpv6At(ip, 24), dport);
  }

  /**
   * ofproto/tunnel.c tnl_find: among the ports on this UDP port, exact key before key=flow, then
   * exact remote before remote=flow (the order of tnl_match_maps).
   */
  private demux(ip: Uint8Array, src: Ipv6Words, dst: Ipv6Words, dport: number): void {
    let best: TunnelRx6 | undefined;
    let bestRank = 4;
    let vni: number | string | undefined;
    let any = false;
    for (const t of this.listeners) {
      if (t.dstPort !== dport || (t.remote !== 'flow' && !ipv6Equal(t.remote, src)) || (t.local !== undefined && !ipv6Equal(t.local, dst))) continue;
      any = true;
      vni ??= t.vniOf(ip);
      if (typeof vni === 'string') return this.o.port.drop(vni);
      if (t.vni !== 'flow' && t.vni !== vni) continue;
      const rank = (t.vni === 'flow' ? 2 : 0) + (t.remote === 'flow' ? 1 : 0);
      if (rank < bestRank) {
        best = t;
        bestRank = rank;
      }
    }
    if (best === undefined) return this.o.port.drop(any ? 'vni-mismatch' : 'no-tunnel');
    best.rx(ip);
  }

  private receiveNd(ip: Uint8Array): void {
    const nd = parseNd(ip);
    if (typeof nd === 'string') return this.o.port.drop(nd);
    this.nd.in++;
    const src = readIpv6At(ip, 8);
    if (nd.type === ICMPV6.NeighborSolicit) {
      if (!ipv6Equal(nd.target, this.o.address) || (src[0] === 0 && src[1] === 0 && src[2] === 0 && src[3] === 0)) return;
      if (nd.lladdr === undefined) return this.o.port.drop('bad-nd');
      this.neighbors.learn(src, nd.lladdr, false, true);
      this.nd.out++;
      this.o.port.send(buildNeighborAdvert(this.o.mac, this.o.address, nd.lladdr, src, false), { hops: 0 });
      return;
    }
    if (nd.lladdr !== undefined) this.neighbors.learn(nd.target, nd.lladdr, nd.solicited, false);
  }
}
