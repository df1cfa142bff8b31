/**
 * A VXLAN or Geneve tunnel port over an IPv6 underlay (`remote_ip: 2001:db8::12`): the IPv6
 * counterpart of tunnel-port.ts, for a host whose `underlay` has an `ipv6` address.
 *
 * Encap (wire/udp-tunnel6.ts): outer Ethernet/IPv6/UDP as OVS's userspace datapath and Linux's
 * vxlan/geneve devices send it: traffic class 0, flow label 0, hop limit 64, UDP checksum always
 * computed, source port from the inner flow hash in `udp_flow_src_port`'s range. A frame whose inner
 * packet exceeds the underlay MTU minus 70 (Linux `vxlan_headroom(VXLAN_F_IPV6)` /
 * `GENEVE_IPV6_HLEN`: 40 + 8 + 8 + 14, plus Geneve options) is dropped `mtu`; with the bridge's
 * `datapath_type: system` the port answers as the kernel's `skb_tunnel_check_pmtu` does
 * (wire/tunnel-pmtud.ts, next-hop MTU = underlay MTU − 70).
 *
 * Decap: packets from `remote_ip` on `dst_port` with VNI `key`; a non-zero outer UDP checksum must
 * verify (`bad-udp-checksum`), Geneve option rules as tunnel-port.ts. The bridge sees tun_id; the
 * IPv4 tun_src/tun_dst stay 0 (OVS would fill tun_ipv6_src/tun_ipv6_dst, which vfab's flows do not
 * match yet). `remote_ip: flow` is IPv4 only (tun_dst); an IPv6 flow-based port is not done.
 */
import type { Frame, FrameMeta, FrameReceiver, Port, TunnelMeta } from '../port/port.js';
import type { Ipv6Words } from '../wire/ip.js';
import { udpFlowSrcPort } from '../wire/vxlan.js';
import { GENEVE_CRITICAL, GENEVE_OPTIONS_MAX, type GeneveOption } from '../wire/geneve.js';
import { UDP_TUNNEL6_OVERHEAD, encapUdpTunnel6, parseUdpTunnel6, type OuterHeaders6 } from '../wire/udp-tunnel6.js';
import { tunnelPmtudReply } from '../wire/tunnel-pmtud.js';
import type { UnderlayEndpoint } from './underlay.js';
import type { Underlay6 } from './underlay6.js';
import { innerHash, type GeneveOptionMap, type TunnelCounters, type TunnelType } from './tunnel-port.js';

export interface TunnelPort6Options {
  port: Port;
  underlay: UnderlayEndpoint;
  type: TunnelType;
  remoteIp: Ipv6Words;
  vni: number | 'flow';
  dstPort: number;
  hashSeed: number;
  tlv?: GeneveOptionMap;
  datapath?: 'netdev' | 'system';
}

export class TunnelPort6 implements FrameReceiver {
  readonly counters: TunnelCounters = { encapsulated: 0, decapsulated: 0, mtu_drops: 0, pmtud_icmp_sent: 0 };
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
    o.port.peer = this;
    this.outer = { srcMac: o.underlay.mac, dstMac: 0, srcIp: v6.address, dstIp: o.remoteIp, srcPort: 0, dstPort: o.dstPort, tos: 0, ttl: 64, flowLabel: 0 };
    v6.listen({
      dstPort: o.dstPort,
      remote: o.remoteIp,
      vni: o.vni,
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
    const vni = o.vni === 'flow' ? (t?.idLo ?? 0) & 0xffffff : o.vni;
    const options = this.type === 'geneve' ? (t?.options ?? []) : [];
    let optLen = 0;
    for (const op of options) optLen += 4 + op.data.length;
    if (optLen > GENEVE_OPTIONS_MAX) return o.port.drop('geneve-options-too-long', inner);
    if (inner.length - 14 + optLen > this.tunnelMtu) {
      this.counters.mtu_drops++;
      o.port.drop('mtu', inner);
      if (o.datapath === 'system') this.pmtudReply(inner, vni, optLen);
      return;
    }
    const sport = udpFlowSrcPort(innerHash(o.hashSeed, inner));
    const ok = this.v6.send(o.remoteIp, (dstMac) => {
      const h = this.outer;
      h.dstMac = dstMac;
      h.srcPort = sport;
      const outer = encapUdpTunnel6(h, this.type, vni, inner, options);
      o.underlay.sim.packetOrigins?.relate(outer, inner);
      return outer;
    });
    if (!ok) o.port.drop('no-route', inner);
    else this.counters.encapsulated++;
  }

  private pmtudReply(inner: Frame, vni: number, optLen: number): void {
    const reply = tunnelPmtudReply(inner, this.tunnelMtu - optLen);
    if (reply === undefined) return;
    this.counters.pmtud_icmp_sent++;
    const tunnel: TunnelMeta = { idHi: 0, idLo: vni, src: 0, dst: 0 };
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
    this.counters.decapsulated++;
    const tunnel: TunnelMeta = { idHi: 0, idLo: v.vni, src: 0, dst: 0, ...(options ? { options } : {}) };
    const copy = v.inner.slice();
    this.o.underlay.sim.packetOrigins?.relate(copy, ip6);
    this.o.port.receive(copy, { hops: 0, tunnel });
  }
}
