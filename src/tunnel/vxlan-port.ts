/**
 * A VXLAN tunnel port on a bridge, as OVS defines it (`type=vxlan`, options remote_ip, key,
 * dst_port, csum; vswitchd/vswitch.xml "Tunnel Options").
 *
 * The bridge sees an ordinary port (`hv1.br0.vx0`): frames it switches there are encapsulated and
 * sent from the host's underlay endpoint to `remote_ip`; VXLAN packets that arrive from
 * `remote_ip` on `dst_port` with VNI `key` are decapsulated and received on the port, so MAC
 * learning learns remote MACs on the tunnel port as OVS does.
 *
 * Outer headers (OVS defaults for a tunnel port, `lib/netdev-native-tnl.c` / the kernel
 * `vport-vxlan` with ovs's `tunnel_key`): TTL 64, TOS 0, DF set (`options:df_default=true`), UDP
 * checksum zero over IPv4 unless `csum: true`, source port from the inner flow hash in Linux's
 * `udp_flow_src_port` range. A frame that does not fit the underlay MTU after the 50 bytes of
 * encapsulation is dropped and counted `mtu` on the tunnel port: OVS sends no ICMP for it
 * (documented in docs/overlay.md). A decapsulated frame whose VNI differs is dropped
 * `vni-mismatch` at the underlay port.
 */
import type { Frame, FrameMeta, FrameReceiver, Port } from '../port/port.js';
import { flowHash } from '../router/routes.js';
import { encapVxlan, parseVxlan, udpFlowSrcPort, VXLAN_OVERHEAD } from '../wire/vxlan.js';
import { readU32 } from '../wire/ipv4-frame.js';
import type { UnderlayEndpoint } from './underlay.js';

export interface VxlanPortOptions {
  /** The bridge-side port the tunnel serves (`hv1.br0.vx0`). */
  port: Port;
  underlay: UnderlayEndpoint;
  remoteIp: number;
  vni: number;
  dstPort: number;
  csum: boolean;
  /** Seed of the source-port hash (per host). */
  hashSeed: number;
}

export interface VxlanCounters {
  encapsulated: number;
  decapsulated: number;
  /** Frames too big for the underlay after encapsulation (also the port's `mtu` drops). */
  mtu_drops: number;
}

export class VxlanPort implements FrameReceiver {
  readonly counters: VxlanCounters = { encapsulated: 0, decapsulated: 0, mtu_drops: 0 };

  /** The underlay MTU this tunnel sends into (for the summary's explanation). */
  get underlayMtu(): number {
    return this.o.underlay.mtu;
  }

  constructor(private readonly o: VxlanPortOptions) {
    o.port.peer = this;
    o.underlay.listen(o.remoteIp, o.dstPort, (ip) => this.decap(ip));
  }

  /** A frame the bridge sent out of the tunnel port: encapsulate and send. */
  receive(inner: Frame, _meta: FrameMeta): void {
    const o = this.o;
    if (inner.length + VXLAN_OVERHEAD - 14 > o.underlay.mtu) {
      this.counters.mtu_drops++;
      o.port.drop('mtu', inner);
      return;
    }
    const sport = udpFlowSrcPort(innerHash(o.hashSeed, inner));
    const ident = o.underlay.nextIdent();
    const ok = o.underlay.send(o.remoteIp, (dstMac) =>
      encapVxlan({ srcMac: o.underlay.mac, dstMac, srcIp: o.underlay.ipv4, dstIp: o.remoteIp, srcPort: sport, dstPort: o.dstPort, tos: 0, ttl: 64, ident, dontFrag: true, csum: o.csum }, o.vni, inner),
    );
    if (!ok) o.port.drop('no-route', inner);
    else this.counters.encapsulated++;
  }

  private decap(ip: Uint8Array): void {
    const v = parseVxlan(ip);
    const u = this.o.underlay.port;
    if (typeof v === 'string') return u.drop(v);
    if (v.vni !== this.o.vni) return u.drop('vni-mismatch');
    if (v.inner.length < 14) return u.drop('bad-vxlan');
    this.counters.decapsulated++;
    this.o.port.receive(v.inner.slice(), { hops: 0 });
  }
}

/** Hash of the inner flow: the IPv4 five-tuple when there is one, else the MAC addresses. */
function innerHash(seed: number, f: Uint8Array): number {
  if (f.length >= 34 && f[12] === 0x08 && f[13] === 0x00) {
    const ihl = (f[14]! & 0x0f) * 4;
    const proto = f[23]!;
    const l4 = 14 + ihl;
    const ports = (proto === 6 || proto === 17) && f.length >= l4 + 4;
    return flowHash(seed, readU32(f, 26), readU32(f, 30), proto, ports ? (f[l4]! << 8) | f[l4 + 1]! : 0, ports ? (f[l4 + 2]! << 8) | f[l4 + 3]! : 0);
  }
  return flowHash(seed, readU32(f, 0), readU32(f, 6), (f[4]! << 8) | f[5]!, (f[10]! << 8) | f[11]!, 0);
}
