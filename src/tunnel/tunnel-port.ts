/**
 * A VXLAN or Geneve tunnel port on a bridge, as OVS defines them (`type=vxlan|geneve`, options
 * remote_ip, key, dst_port, csum; vswitchd/vswitch.xml "Tunnel Options").
 *
 * The bridge sees an ordinary port (`hv1.br0.vx0`): frames it switches there are encapsulated and
 * sent from the host's underlay endpoint to `remote_ip`; packets that arrive from `remote_ip` on
 * `dst_port` with VNI `key` are decapsulated and received on the port with their tunnel metadata
 * (tun_id = VNI, tun_src, tun_dst), so MAC learning learns remote MACs on the tunnel port and flows
 * can match `tun_id`/`tun_src` as in OVS.
 *
 * Flow-based tunnels (vswitch.xml: `remote_ip=flow`, `key=flow`): the outer destination is the
 * packet's `tun_dst` and the VNI the low 24 bits of its `tun_id`, as the bridge's flows left them
 * (`set_field:192.0.2.12->tun_dst`, `set_field:5001->tun_id`, `set_tunnel:5001`). A flow-based
 * port receives from any remote / with any VNI (underlay.ts demultiplexes as OVS's tnl_find). A
 * frame sent to a `remote_ip=flow` port with no tun_dst is dropped `no-tunnel-dst` (OVS cannot
 * route it either: ofproto-dpif-xlate.c native_tunnel_output fails and the datapath drops).
 *
 * Outer headers (OVS defaults for a tunnel port, `lib/netdev-native-tnl.c` / the kernel
 * `vport-vxlan` with ovs's `tunnel_key`): TTL 64, TOS DSCP 0 with the inner ECN bits (innerEcn), DF set (`options:df_default=true`), UDP
 * checksum zero over IPv4 unless `csum: true`, source port from the inner flow hash in Linux's
 * `udp_flow_src_port` range. A frame that does not fit the underlay MTU after the 50 bytes of
 * encapsulation is dropped and counted `mtu` on the tunnel port: OVS's userspace datapath sends no
 * ICMP for it; with the bridge's `datapath_type: system` (the kernel datapath) the port also answers
 * ICMP frag-needed / packet too big as Linux ≥ 5.9 does (pmtudReply; docs/overlay.md). Geneve
 * options count against the MTU, as the kernel's geneve_xmit_skb passes `GENEVE_IPV4_HLEN +
 * info->options_len` to skb_tunnel_check_pmtu.
 *
 * Geneve options (tun_metadata*): on encap the bridge's present fields (TunnelMeta.options, in
 * field order) become options; on decap an option the bridge's TLV map maps is passed on for its
 * field, an unmapped critical one drops the packet `geneve-critical-option` (RFC 8926 §3.5.1; OVS
 * tun_metadata_from_geneve__), an unmapped non-critical one is ignored, and a mapped one of the wrong
 * length drops it `geneve-option-length`. Without a map every option is unmapped. VXLAN ports carry
 * no options (OVS ignores tun_metadata on them).
 */
import { hopMeta, type Frame, type FrameMeta, type FrameReceiver, type Port, type TunnelMeta } from '../port/port.js';
import { encapVxlan, vxlanInnerAt, vxlanVniAt, VXLAN_OVERHEAD, type OuterHeaders } from '../wire/vxlan.js';
import { encapGeneve, parseGeneve, GENEVE_CRITICAL, GENEVE_OPTIONS_MAX, type GeneveOption } from '../wire/geneve.js';
import { readU32 } from '../wire/ipv4-frame.js';
import { fold } from '../wire/checksum.js';
import { tunnelPmtudReply } from '../wire/tunnel-pmtud.js';
import type { UnderlayEndpoint } from './underlay.js';
import { OuterTemplate } from './outer-template.js';
import { SourcePortCache } from './src-port.js';

export type TunnelType = 'vxlan' | 'geneve';

export interface TunnelPortOptions {
  /** The bridge-side port the tunnel serves (`hv1.br0.vx0`). */
  port: Port;
  underlay: UnderlayEndpoint;
  /** Default vxlan. */
  type?: TunnelType;
  remoteIp: number | 'flow';
  vni: number | 'flow';
  dstPort: number;
  csum: boolean;
  /** Seed of the source-port hash (per host). */
  hashSeed: number;
  /** The bridge's TLV map (Geneve options it understands; vswitch/tun-metadata.ts TlvTable). */
  tlv?: GeneveOptionMap;
  /**
   * The bridge's OVS datapath (vswitch.xml Bridge `datapath_type`): `netdev` (userspace, the
   * default here) drops an oversize frame silently; `system` (the kernel datapath, Linux ≥ 5.9)
   * also answers it with ICMP frag-needed / ICMPv6 packet too big (wire/tunnel-pmtud.ts).
   */
  datapath?: 'netdev' | 'system';
  /**
   * OVS options:local_ip: the outer source, and the destination tnl_find requires of received
   * packets. One the underlay does not own has no route: sends are dropped `no-route`.
   */
  localIp?: number;
}

/** Which Geneve options a bridge maps to fields, and their data length. */
export interface GeneveOptionMap {
  option(cls: number, type: number): { len: number } | undefined;
}

export interface TunnelCounters {
  encapsulated: number;
  decapsulated: number;
  /** Frames too big for the underlay after encapsulation (also the port's `mtu` drops). */
  mtu_drops: number;
  /** ICMP frag-needed / ICMPv6 packet-too-big messages answered for them (datapath_type system). */
  pmtud_icmp_sent: number;
}

export class TunnelPort implements FrameReceiver {
  readonly counters: TunnelCounters = { encapsulated: 0, decapsulated: 0, mtu_drops: 0, pmtud_icmp_sent: 0 };
  /**
   * A `remote_ip: flow` port on a dual-stack underlay: the IPv6 side (tunnel-port6.ts, sharing
   * these counters), which sends the frames whose flows set tun_ipv6_dst and no IPv4 tun_dst
   * (ofproto/tunnel.c flow_tnl_dst: the IPv4 destination first).
   */
  flow6?: { receive(inner: Frame, meta: FrameMeta): void };
  readonly type: TunnelType;
  /** Scratch outer-header record (one per port; encapsulation is synchronous). */
  private readonly outer: OuterHeaders;
  /** The same outer headers, precomputed for the per-frame fast path. */
  private readonly template: OuterTemplate;
  /** The outer UDP source port per inner flow (computed once per flow). */
  private readonly srcPorts: SourcePortCache;

  /** The underlay MTU this tunnel sends into (for the summary's explanation). */
  get underlayMtu(): number {
    return this.o.underlay.mtu;
  }

  /** The bridge's datapath type (the summary explains the drops by it). */
  get datapath(): 'netdev' | 'system' {
    return this.o.datapath ?? 'netdev';
  }

  /**
   * The largest inner network packet (frame minus its Ethernet header) that fits: the underlay MTU
   * minus Linux's tunnel headroom (`vxlan_headroom` / `GENEVE_IPV4_HLEN`: outer IPv4 20 + UDP 8 +
   * VXLAN/Geneve 8 + the inner Ethernet 14 = 50). vfab's Geneve ports send no options.
   */
  get tunnelMtu(): number {
    return this.o.underlay.mtu - VXLAN_OVERHEAD;
  }

  constructor(private readonly o: TunnelPortOptions) {
    this.type = o.type ?? 'vxlan';
    o.port.peer = this;
    const u = o.underlay;
    this.outer = { srcMac: u.mac, dstMac: 0, srcIp: o.localIp ?? u.ipv4, dstIp: 0, srcPort: 0, dstPort: o.dstPort, tos: 0, ttl: 64, ident: 0, dontFrag: true, csum: o.csum };
    this.template = new OuterTemplate(this.outer, this.type === 'geneve');
    this.srcPorts = new SourcePortCache(o.hashSeed);
    const geneve = this.type === 'geneve';
    u.listen({
      dstPort: o.dstPort,
      remote: o.remoteIp,
      vni: o.vni,
      ...(o.localIp !== undefined ? { local: o.localIp } : {}),
      vniOf: (f, at, end) => {
        if (!geneve) return vxlanVniAt(f, at, end);
        const v = parseGeneve(f.subarray(at, end));
        return typeof v === 'string' ? v : v.vni;
      },
      rx: (f, at, end) => this.decap(f, at, end),
    });
  }

  /** A frame the bridge sent out of the tunnel port: encapsulate and send. */
  receive(inner: Frame, meta: FrameMeta): void {
    const o = this.o;
    const t = meta.tunnel;
    const remote = o.remoteIp === 'flow' ? (t?.dst ?? 0) : o.remoteIp;
    if (remote === 0 && this.flow6 !== undefined && t?.dst6 !== undefined) {
      this.flow6.receive(inner, meta);
      return;
    }
    if (remote === 0) {
      o.port.drop('no-tunnel-dst', inner);
      return;
    }
    // ofproto-dpif-xlate.c compose_output_action__: "Not tunneling to our own address" (the
    // destination the packet arrived with; a decapsulated packet keeps tun_dst = this endpoint,
    // so a flow-based port that would send it back to ourselves drops it). OVS checks this before
    // the route lookup from local_ip (build_tunnel_send), hence the order here.
    if (remote === o.underlay.ipv4) {
      o.port.drop('tunnel-to-self', inner);
      return;
    }
    if (o.localIp !== undefined && o.localIp !== o.underlay.ipv4) {
      o.port.drop('no-route', inner);
      return;
    }
    const vni = o.vni === 'flow' ? (t?.idLo ?? 0) & 0xffffff : o.vni;
    const geneve = this.type === 'geneve';
    const options = geneve ? t?.options : undefined;
    let optLen = 0;
    if (options !== undefined) for (const op of options) optLen += 4 + op.data.length;
    if (optLen > GENEVE_OPTIONS_MAX) {
      o.port.drop('geneve-options-too-long', inner);
      return;
    }
    if (inner.length - 14 + optLen > this.tunnelMtu) {
      this.counters.mtu_drops++;
      o.port.drop('mtu', inner);
      if (o.datapath === 'system') this.pmtudReply(inner, remote, vni, optLen);
      return;
    }
    const h = this.outer;
    const ecn = innerEcn(inner);
    const oam = geneve && t?.oam === true;
    const sport = this.srcPorts.portOf(inner);
    const ident = o.underlay.nextIdent();
    // Fast path: the next hop's MAC is known and there are no options: the precomputed template,
    // no closure (the same bytes and order of effects as the send() below).
    const hop = o.underlay.nextHop(remote);
    const known = hop === undefined || oam || (options !== undefined && options.length > 0) ? undefined : o.underlay.neighbors.usableMac(hop);
    if (known !== undefined) {
      const outer = this.template.build(known, remote, ident, sport, vni, inner, ecn);
      o.underlay.sim.packetOrigins?.relate(outer, inner);
      o.underlay.port.send(outer, hopMeta(0));
      this.counters.encapsulated++;
      return;
    }
    // The build may run later (after ARP resolves): the scratch record is filled only then.
    const ok = o.underlay.send(remote, (dstMac) => {
      h.dstMac = dstMac;
      h.dstIp = remote;
      h.srcPort = sport;
      h.ident = ident;
      h.tos = ecn;
      const outer = geneve ? encapGeneve(h, vni, inner, options, oam) : encapVxlan(h, vni, inner);
      // one packet in the trace: the encapsulated copy keeps the inner frame's packet id
      o.underlay.sim.packetOrigins?.relate(outer, inner);
      return outer;
    });
    if (!ok) o.port.drop('no-route', inner);
    else this.counters.encapsulated++;
  }

  /**
   * The kernel datapath's answer to an oversize frame (skb_tunnel_check_pmtu with reply = an OVS
   * port): the ICMP is looped back by `vxlan_encap_bypass` / geneve's equivalent and received on
   * this tunnel port as if from `remote` (tun_src = remote, tun_dst = local, tun_id = the VNI), one
   * event later (netif_rx queues it for the next softirq, never inside the sender's transmit).
   */
  private pmtudReply(inner: Frame, remote: number, vni: number, optLen: number): void {
    const reply = tunnelPmtudReply(inner, this.tunnelMtu - optLen);
    if (reply === undefined) return;
    this.counters.pmtud_icmp_sent++;
    const tunnel: TunnelMeta = { idHi: 0, idLo: vni, src: remote, dst: this.o.underlay.ipv4 };
    this.o.underlay.sim.schedule(0, () => this.o.port.receive(reply, { hops: 0, tunnel }));
  }

  /** Decapsulates the IPv4 datagram `f[at, end)` (the received underlay frame `f`, read in place). */
  private decap(f: Uint8Array, at: number, end: number): void {
    const u = this.o.underlay.port;
    let inner: Uint8Array;
    let vni: number;
    let options: GeneveOption[] | undefined;
    let oam = false;
    if (this.type === 'geneve') {
      const g = parseGeneve(f.subarray(at, end));
      if (typeof g === 'string') return u.drop(g);
      const tlv = this.o.tlv;
      for (const op of g.options) {
        const e = tlv?.option(op.cls, op.type);
        if (e === undefined) {
          if (op.type & GENEVE_CRITICAL) return u.drop('geneve-critical-option');
        } else if (e.len !== op.data.length) return u.drop('geneve-option-length');
      }
      inner = g.inner;
      vni = g.vni;
      oam = g.oam;
      if (tlv !== undefined && g.options.length > 0) options = g.options.map((op) => ({ cls: op.cls, type: op.type, data: op.data.slice() }));
    } else {
      // the checks of parseVxlan without its view object (the demultiplexer ran them too, but
      // possibly with another tunnel type's parser on a shared UDP port)
      const v = vxlanVniAt(f, at, end);
      if (typeof v === 'string') return u.drop(v);
      inner = vxlanInnerAt(f, at);
      vni = v;
    }
    if (inner.length < 14) return u.drop(`bad-${this.type}`);
    const withEcn = decapEcn(inner, f[at + 1]!, false);
    if (withEcn === undefined) return u.drop('ecn-ce-not-ect');
    inner = withEcn;
    this.counters.decapsulated++;
    const src = readU32(f, at + 12);
    const dst = readU32(f, at + 16);
    const tunnel: TunnelMeta = options ? { idHi: 0, idLo: vni, src, dst, options } : { idHi: 0, idLo: vni, src, dst };
    if (oam) tunnel.oam = true;
    // The inner frame is passed on as a view into the received packet, not a copy: frames are
    // never edited in place once sent (wire/frame-alloc.ts), so the view cannot change under
    // the bridge or the guest, and it keeps the outer bytes alive only as long as it lives.
    this.o.underlay.sim.packetOrigins?.relate(inner, f);
    this.o.port.receive(inner, { hops: 0, tunnel });
  }
}

/**
 * The ECN bits the outer header inherits from the inner packet (IPv4 TOS or IPv6 traffic class,
 * after one 802.1Q tag if present): OVS ofproto/tunnel.c tnl_port_send ("ECN fields are always
 * inherited", CE becomes ECT(0)), as Linux's INET_ECN_encapsulate (include/net/inet_ecn.h) does for
 * the kernel's vxlan/geneve devices. A non-IP inner frame leaves them 0.
 */
export function innerEcn(inner: Uint8Array): number {
  let t = 12;
  let type = (inner[t]! << 8) | inner[t + 1]!;
  if (type === 0x8100 && inner.length >= 18) {
    t = 16;
    type = (inner[t]! << 8) | inner[t + 1]!;
  }
  let ecn: number;
  if (type === 0x0800 && inner.length > t + 3) ecn = inner[t + 3]! & 3;
  else if (type === 0x86dd && inner.length > t + 3) ecn = (inner[t + 3]! >> 4) & 3;
  else return 0;
  return ecn === 3 ? 2 : ecn;
}

/**
 * The ECN handling on decapsulation (`outerTos`: the outer IPv4 TOS or IPv6 traffic class), as OVS's
 * ofproto/tunnel.c tnl_process_ecn does for every packet received on a tunnel port: when the outer
 * header is CE and the inner packet is IPv4 or IPv6 (after one 802.1Q tag), an inner Not-ECT packet
 * is dropped ("dropping tunnel packet marked ECN CE but is not ECN capable"; vfab counts it
 * `ecn-ce-not-ect` on the underlay port) and an ECN-capable one is marked CE (RFC 6040 §4.2; Linux's
 * INET_ECN_decapsulate in the vxlan/geneve receive path does the same for these cases). Outer
 * Not-ECT/ECT leave the inner packet alone (OVS; Linux's INET_ECN_decapsulate also turns inner ECT(0) into ECT(1)
 * under an outer ECT(1), RFC 6040's full table, which OVS's userspace datapath does not:
 * docs/overlay.md). Returns the frame to deliver (`inner` itself, or a marked copy: received frames
 * are never edited in place; always a copy when `copy`), or undefined to drop it.
 */
export function decapEcn(inner: Uint8Array, outerTos: number, copy: boolean): Uint8Array | undefined {
  if ((outerTos & 3) !== 3) return copy ? inner.slice() : inner;
  let t = 12;
  let type = (inner[t]! << 8) | inner[t + 1]!;
  if (type === 0x8100 && inner.length >= 18) {
    t = 16;
    type = (inner[t]! << 8) | inner[t + 1]!;
  }
  const ip = t + 2;
  if (type === 0x0800 && inner.length >= ip + 20) {
    const tos = inner[ip + 1]!;
    if ((tos & 3) === 0) return undefined;
    if ((tos & 3) === 3) return copy ? inner.slice() : inner;
    const out = inner.slice();
    // RFC 1624 incremental update of the header checksum (as Linux's IP_ECN_set_ce)
    const old = (out[ip]! << 8) | tos;
    out[ip + 1] = tos | 3;
    const hc = (out[ip + 10]! << 8) | out[ip + 11]!;
    const c = ~fold((~hc & 0xffff) + (~old & 0xffff) + (old | 3)) & 0xffff;
    out[ip + 10] = c >>> 8;
    out[ip + 11] = c & 0xff;
    return out;
  }
  if (type === 0x86dd && inner.length >= ip + 40) {
    const ecn = (inner[ip + 1]! >> 4) & 3;
    if (ecn === 0) return undefined;
    if (ecn === 3) return copy ? inner.slice() : inner;
    const out = inner.slice();
    out[ip + 1] = inner[ip + 1]! | 0x30;
    return out;
  }
  return copy ? inner.slice() : inner;
}

/** The VXLAN-only name, kept for existing callers. */
export const VxlanPort = TunnelPort;

/** The inner flow hash (src-port.ts); tunnel-port6.ts imports it from here. */
export { innerHash } from './src-port.js';
