/**
 * A host's underlay IP endpoint (`hosts.hv1.underlay`): the address VXLAN tunnel ports send from,
 * one port `hv1.underlay` that takes a link to the routed underlay (a leaf router, a switch).
 *
 * It does only what a VTEP's kernel needs: ARP (answer for its address, resolve the next hop with
 * Linux's neighbour state machine), a default route through `gateway`, and UDP demultiplexing of
 * received tunnel packets to a tunnel port. The demultiplexing follows OVS (`ofproto/tunnel.c`
 * `tnl_find`): among the tunnels on the packet's UDP port, an exact key (VNI) beats `key=flow`, and
 * within that an exact `remote_ip` beats `remote_ip=flow`. Everything else addressed to it is
 * dropped and counted at the port (`not-for-us`, `no-tunnel`, `vni-mismatch`, …).
 */
import type { EventSink } from '../port/nic.js';
import { Port, hopMeta, type Frame, type FrameMeta } from '../port/port.js';
import type { Simulation } from '../sim/simulation.js';
import { ipv4HeaderSumOk } from '../wire/checksum.js';
import { buildArpReply, buildArpRequest } from '../wire/build.js';
import { formatIpv4, ipv4InSubnet } from '../wire/ip.js';
import { readU32 } from '../wire/ipv4-frame.js';
import { macToBytes } from '../wire/mac.js';
import { DEFAULT_NEIGHBOR_OPTIONS, NeighborTable } from '../guest/neighbor.js';
import type { Underlay6 } from './underlay6.js';

export interface UnderlayOptions {
  host: string;
  sim: Simulation;
  mac: number;
  ipv4: number;
  prefixLength: number;
  gateway?: number;
  /** IP MTU of the underlay interface (default 1500). */
  mtu: number;
  events?: EventSink;
}

/** What a tunnel port registers to receive: its UDP port, remote and key ('flow' = any). */
export interface TunnelRx {
  dstPort: number;
  remote: number | 'flow';
  vni: number | 'flow';
  /** OVS options:local_ip: the destination a packet must have (absent: any of ours). */
  local?: number;
  /**
   * Reads the VNI of a packet of this tunnel's type, or a drop reason: the IPv4 datagram is
   * `f[o, end)` of the received frame `f` (the receive path makes no view of it).
   */
  vniOf(f: Uint8Array, o: number, end: number): number | string;
  /** Receives the IPv4 datagram `f[o, end)` chosen for this tunnel (`vni` from its `vniOf`). */
  rx(f: Uint8Array, o: number, end: number, vni: number): void;
}

export class UnderlayEndpoint {
  readonly port: Port;
  readonly neighbors: NeighborTable;
  readonly mac: number;
  readonly ipv4: number;
  readonly mtu: number;
  private readonly prefixLength: number;
  private readonly gateway: number | undefined;
  private readonly listeners: TunnelRx[] = [];
  private ident = 1;
  /** The IPv6 side (underlay6.ts), when the underlay has an IPv6 address. */
  v6: Underlay6 | undefined;

  /** The simulation (tunnel ports relate the frames they encapsulate through its packetOrigins). */
  readonly sim: Simulation;

  constructor(opts: UnderlayOptions) {
    this.sim = opts.sim;
    this.mac = opts.mac;
    this.ipv4 = opts.ipv4;
    this.mtu = opts.mtu;
    this.prefixLength = opts.prefixLength;
    this.gateway = opts.gateway;
    this.port = new Port(`${opts.host}.underlay`, (f, meta) => this.receive(f, meta));
    this.neighbors = new NeighborTable(opts.sim, DEFAULT_NEIGHBOR_OPTIONS, {
      sendRequest: (ip, unicastMac) => {
        const f = buildArpRequest({ srcMac: this.mac, srcIp: this.ipv4, dstIp: ip });
        if (unicastMac !== null) macToBytes(unicastMac, f, 0);
        this.port.send(f, { hops: 0 });
      },
      drop: (reason, n) => {
        for (let i = 0; i < n; i++) this.port.drop(reason);
      },
      failed: (ip) => opts.events?.({ type: 'underlay-arp-failed', time_ns: opts.sim.now, port: this.port.path, ip: formatIpv4(ip) }),
    });
  }

  /** IPv4 identification for the next outer header (Linux picks a hashed id; vfab counts). */
  nextIdent(): number {
    const id = this.ident;
    this.ident = (id + 1) & 0xffff;
    return id;
  }

  /** The next hop towards `dst`, or undefined when neither on-link nor a gateway is set. */
  nextHop(dst: number): number | undefined {
    if (ipv4InSubnet(dst, this.ipv4, this.prefixLength)) return dst;
    return this.gateway;
  }

  /** Sends a frame to `dst`: `build(dstMac)` makes it once the next hop's MAC is known. */
  send(dst: number, build: (dstMac: number) => Frame): boolean {
    const hop = this.nextHop(dst);
    if (hop === undefined) return false;
    const mac = this.neighbors.usableMac(hop);
    if (mac !== undefined) this.port.send(build(mac), hopMeta(0));
    else this.neighbors.resolve(hop, (m) => this.port.send(build(m), hopMeta(0)));
    return true;
  }

  /** Registers a tunnel port's receiver. */
  listen(t: TunnelRx): void {
    this.listeners.push(t);
  }

  /** ofproto/tunnel.c tnl_find: exact key before key=flow, then exact remote before remote=flow. */
  private demux(f: Uint8Array, o: number, end: number, src: number, dport: number): void {
    let best: TunnelRx | undefined;
    let bestRank = 4;
    let vni: number | string | undefined;
    let any = false;
    for (const t of this.listeners) {
      if (t.dstPort !== dport || (t.remote !== 'flow' && t.remote !== src) || (t.local !== undefined && t.local !== this.ipv4)) continue;
      any = true;
      vni ??= t.vniOf(f, o, end);
      if (typeof vni === 'string') return this.port.drop(vni);
      if (t.vni !== 'flow' && t.vni !== vni) continue;
      const rank = (t.vni === 'flow' ? 2 : 0) + (t.remote === 'flow' ? 1 : 0);
      if (rank < bestRank) {
        best = t;
        bestRank = rank;
      }
    }
    if (best === undefined || typeof vni !== 'number') return this.port.drop(any ? 'vni-mismatch' : 'no-tunnel');
    best.rx(f, o, end, vni);
  }

  private receive(f: Frame, _meta: FrameMeta): void {
    if (f.length < 14) return this.port.drop('runt');
    if (f.length > this.mtu + 14) return this.port.drop('mtu');
    const type = (f[12]! << 8) | f[13]!;
    if (type === 0x0806) return this.receiveArp(f);
    if ((f[0]! & 1) === 0 && readMac(f, 0) !== this.mac) return this.port.drop('not-for-us');
    if (type === 0x86dd && this.v6 !== undefined) return this.v6.receive(f);
    if (type !== 0x0800) return this.port.drop('unknown-ethertype');
    if (f.length < 34) return this.port.drop('bad-ipv4-length');
    const ihl = (f[14]! & 0x0f) * 4;
    if (f[14]! >> 4 !== 4 || ihl < 20 || !ipv4HeaderSumOk(f, 14, ihl)) return this.port.drop('bad-ipv4-header');
    const total = (f[16]! << 8) | f[17]!;
    if (14 + total > f.length || total < ihl + 8) return this.port.drop('bad-ipv4-length');
    // The datagram is read in place (f[14, 14 + total)): no view of it is made; the tunnel port
    // makes one of the inner frame only.
    if (readU32(f, 30) !== this.ipv4) return this.port.drop('not-for-us');
    if (((f[20]! << 8) | f[21]!) & 0x3fff) return this.port.drop('fragment');
    if (f[23] !== 17) return this.port.drop('not-udp');
    const u = 14 + ihl;
    const dport = (f[u + 2]! << 8) | f[u + 3]!;
    this.demux(f, 14, 14 + total, readU32(f, 26), dport);
  }

  private receiveArp(f: Frame): void {
    if (f.length < 42) return this.port.drop('bad-arp');
    const op = (f[20]! << 8) | f[21]!;
    const sha = readMac(f, 22);
    const spa = readU32(f, 28);
    const tpa = readU32(f, 38);
    if (spa === 0) return;
    if (op === 1 && tpa === this.ipv4) {
      this.neighbors.learn(spa, sha, false, true);
      this.port.send(buildArpReply({ srcMac: this.mac, srcIp: this.ipv4, dstMac: sha, dstIp: spa }), { hops: 0 });
      return;
    }
    this.neighbors.learn(spa, sha, op === 2 && tpa === this.ipv4, false);
  }
}

function readMac(f: Uint8Array, o: number): number {
  return f[o]! * 2 ** 40 + f[o + 1]! * 2 ** 32 + readU32(f, o + 2);
}
