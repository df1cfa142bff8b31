/**
 * A VXLAN or Geneve tunnel port over an IPv6 underlay (`remote_ip: 2001:db8::12`): the IPv6
 * counterpart of tunnel-port.ts, for a host whose `underlay` has an `ipv6` address.
 *
 * Encap (wire/udp-tunnel6.ts): outer Ethernet/IPv6/UDP as OVS's userspace datapath and Linux's
 * vxlan/geneve devices send it: traffic class DSCP 0 with the inner packet's ECN bits (CE sent as
 * ECT(0): innerEcn, as the IPv4 port; OVS tnl_port_send, Linux ip_tunnel_ecn_encap), flow label 0,
 * hop limit 64, UDP checksum always
 * computed, source port from the inner flow hash in `udp_flow_src_port`'s range. A frame whose inner
 * packet exceeds the underlay MTU minus 70 (Linux `vxlan_headroom(VXLAN_F_IPV6)` /
 * `GENEVE_IPV6_HLEN`: 40 + 8 + 8 + 14, plus Geneve options) is dropped `mtu`; with the bridge's
 * `datapath_type: system` the port answers as the kernel's `skb_tunnel_check_pmtu` does
 * (wire/tunnel-pmtud.ts, next-hop MTU = underlay MTU − 70).
 *
 * Decap: packets from `remote_ip` on `dst_port` with VNI `key`; a non-zero outer UDP checksum must
 * verify (`bad-udp-checksum`), Geneve option rules and outer-CE handling (decapEcn: OVS
 * tnl_process_ecn) as tunnel-port.ts. A `remote_ip: flow` port drops `tunnel-to-self` a packet whose
 * tun_ipv6_dst is this endpoint (compose_output_action__ "Not tunneling to our own address"). The bridge sees tun_id and
 * the outer addresses as tun_ipv6_src/tun_ipv6_dst (tun_src/tun_dst stay 0), as OVS fills
 * flow->tunnel for an IPv6 tunnel.
 *
 * `remote_ip: flow` (vswitch.xml; ofproto/tunnel.c tnl_port_send, ofproto-dpif-xlate.c
 * native_tunnel_output): the outer destination is the packet's tun_ipv6_dst as the flows left it
 * (`set_field:2001:db8::2->tun_ipv6_dst`); such a port receives from any remote (tnl_find ranks an
 * exact remote first). The outer source is always the underlay's address: OVS's userspace datapath
 * takes the route's source for IPv6 whatever tun_ipv6_src says (native_tunnel_output seeds the
 * route lookup with tun_src only, an IPv4 address). On a dual-stack underlay one `remote_ip: flow`
 * port serves both families: tunnel-port.ts hands this port the frames whose flow set no IPv4
 * tun_dst but a tun_ipv6_dst (flow_tnl_dst: IPv4 first).
 */
import type { Frame, FrameMeta, FrameReceiver, Port, TunnelMeta } from '../port/port.js';
import type { Ipv6Words } from '../wire/ip.js';
import { udpFlowSrcPort } from '../wire/vxlan.js';
import { GENEVE_CRITICAL, GENEVE_OPTIONS_MAX, type GeneveOption } from '../wire/geneve.js';
import { UDP_TUNNEL6_OVERHEAD, encapUdpTunnel6, parseUdpTunnel6, type OuterHeaders6 } from '../wire/udp-tunnel6.js';
import { tunnelPmtudReply } from '../wire/tunnel-pmtud.js';
import { ipv6Equal, readIpv6At } from '../wire/ipv6-frame.js';
import type { UnderlayEndpoint } from './underlay.js';
import type { Underlay6 } from './underlay6.js';
import { decapEcn, innerEcn, innerHash, type GeneveOptionMap, type TunnelCounters, type TunnelType } from './tunnel-port.js';

export interface TunnelPort6Options {
  port: Port;
  underlay: UnderlayEndpoint;
  type: TunnelType;
  remoteIp: Ipv6Words | 'flow';
  vni: number | 'flow';
  dstPort: number;
  hashSeed: number;
  tlv?: GeneveOptionMap;
  datapath?: 'netdev' | 'system';
  /** Counters shared with the IPv4 side of a dual-stack `remote_ip: flow` port. */
  counters?: TunnelCounters;
  /** false: the IPv4 TunnelPort is the bridge port's peer and hands frames on (dual stack). */
  attach?: boolean;
  /**
   * OVS options:local_ip: the outer source, and the destination a received packet must have
   * (ofproto/tunnel.c tnl_find matches ipv6_dst against it). One the underlay does not own has no
   * route (ovs_router_lookup with that source fails in native_tunnel_output): sends are dropped
   * `no-route`, and nothing addressed to it arrives.
   */
  localIp?: Ipv6Words;
}

export class TunnelPort6 implements FrameReceiver {
  readonly counters: TunnelCounters;
  readonly type: TunnelType;
  private readonly v6: Underlay6;
  private readonly outer: OuterHeaders6;

  get underlayMtu(): number {
    return this.o.underlay.mtu;
  }

  get datapath(): 'netdev' | 'system' {
    return this.o.datapath ?? 'netdev';
  }

  /** Largest inner network packet that fits: underlay MTU − 70 (Linux's IPv6 tunnel headroom). */
  get tunnelMtu(): number {
    return this.o.underlay.mtu - UDP_TUNNEL6_OVERHEAD;
  }

  constructor(private readonly o: TunnelPort6Options) {
    this.type = o.type;
    const v6 = o.underlay.v6;
    if (v6 === undefined) throw new Error(`tunnel ${o.port.path}: the host underlay has no IPv6 address`);
    this.v6 = v6;
    this.counters = o.counters ?? { encapsulated: 0, decapsulated: 0, mtu_drops: 0, pmtud_icmp_sent: 0 };
    if (o.attach !== false) o.port.peer = this;
    this.outer = { srcMac: o.underlay.mac, dstMac: 0, srcIp: o.localIp ?? v6.address, dstIp: o.remoteIp === 'flow' ? [0, 0, 0, 0] : o.remoteIp, srcPort: 0, dstPort: o.dstPort, tos: 0, ttl: 64, flowLabel: 0 };
    v6.listen({
      dstPort: o.dstPort,
      remote: o.remoteIp,
      vni: o.vni,
      ...(o.localIp ? { local: o.localIp } : {}),
      vniOf: (ip6) => {
        const v = parseUdpTunnel6(ip6, this.type);
        return typeof v === 'string' ? v : v.vni;
      },
      rx: (ip6) => this.decap(ip6),
    });
  }

  receive(inner: Frame, meta: FrameMeta): void {
    const o = this.o;
    const t = meta.tunnel;
    const remote = o.remoteIp === 'flow' ? t?.dst6 : o.remoteIp;
    // remote_ip=flow and no tun_ipv6_dst: OVS's route lookup of :: fails, nothing is sent.
    if (remote === undefined) return o.port.drop('no-tunnel-dst', inner);
    // ofproto-dpif-xlate.c compose_output_action__: "Not tunneling to our own address", as the IPv4
    // port (tunnel-port.ts): a decapsulated packet keeps tun_ipv6_dst = this endpoint, so a
    // remote_ip=flow port that would send it back to ourselves drops it, before the route lookup.
    const self = this.v6.address;
    if (remote[0] === self[0] && remote[1] === self[1] && remote[2] === self[2] && remote[3] === self[3]) return o.port.drop('tunnel-to-self', inner);
    if (o.localIp !== undefined && !ipv6Equal(o.localIp, this.v6.address)) return o.port.drop('no-route', inner);
    const vni = o.vni === 'flow' ? (t?.idLo ?? 0) & 0xffffff : o.vni;
    const options = this.type === 'geneve' ? (t?.options ?? []) : [];
    let optLen = 0;
    for (const op of options) optLen += 4 + op.data.length;
    if (optLen > GENEVE_OPTIONS_MAX) return o.port.drop('geneve-options-too-long', inner);
    if (inner.length - 14 + optLen > this.tunnelMtu) {
      this.counters.mtu_drops++;
      o.port.drop('mtu', inner);
      if (o.datapath === 'system') this.pmtudReply(inner, remote, vni, optLen);
      return;
    }
    const sport = udpFlowSrcPort(innerHash(o.hashSeed, inner));
    const ecn = innerEcn(inner);
    const dst: Ipv6Words = o.remoteIp === 'flow' ? [remote[0], remote[1], remote[2], remote[3]] : o.remoteIp;
    const ok = this.v6.send(dst, (dstMac) => {
      const h = this.outer;
      h.dstMac = dstMac;
      h.dstIp = dst;
      h.srcPort = sport;
      h.tos = ecn;
      const outer = encapUdpTunnel6(h, this.type, vni, inner, options);
      o.underlay.sim.packetOrigins?.relate(outer, inner);
      return outer;
    });
    if (!ok) o.port.drop('no-route', inner);
    else this.counters.encapsulated++;
  }

  private pmtudReply(inner: Frame, remote: readonly [number, number, number, number], vni: number, optLen: number): void {
    const reply = tunnelPmtudReply(inner, this.tunnelMtu - optLen);
    if (reply === undefined) return;
    this.counters.pmtud_icmp_sent++;
    // looped back as if received from the remote VTEP (tun_ipv6_src = remote, tun_ipv6_dst = local)
    const tunnel: TunnelMeta = { idHi: 0, idLo: vni, src: 0, dst: 0, src6: remote, dst6: this.outer.srcIp };
    this.o.underlay.sim.schedule(0, () => this.o.port.receive(reply, { hops: 0, tunnel }));
  }

  private decap(ip6: Uint8Array): void {
    const u = this.o.underlay.port;
    const v = parseUdpTunnel6(ip6, this.type);
    if (typeof v === 'string') return u.drop(v);
    let options: GeneveOption[] | undefined;
    if (this.type === 'geneve') {
      const tlv = this.o.tlv;
      for (const op of v.options) {
        const e = tlv?.option(op.cls, op.type);
        if (e === undefined) {
          if (op.type & GENEVE_CRITICAL) return u.drop('geneve-critical-option');
        } else if (e.len !== op.data.length) return u.drop('geneve-option-length');
      }
      if (tlv !== undefined && v.options.length > 0) options = v.options.map((op) => ({ cls: op.cls, type: op.type, data: op.data.slice() }));
    }
    if (v.inner.length < 14) return u.drop(`bad-${this.type}`);
    const tclass = ((ip6[0]! & 0x0f) << 4) | (ip6[1]! >> 4);
    const copy = decapEcn(v.inner, tclass, true);
    if (copy === undefined) return u.drop('ecn-ce-not-ect');
    this.counters.decapsulated++;
    const tunnel: TunnelMeta = { idHi: 0, idLo: v.vni, src: 0, dst: 0, src6: readIpv6At(ip6, 8), dst6: readIpv6At(ip6, 24), ...(options ? { options } : {}) };
    this.o.underlay.sim.packetOrigins?.relate(copy, ip6);
    this.o.port.receive(copy, { hops: 0, tunnel });
  }
}
