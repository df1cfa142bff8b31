/**
 * Tunnel ports (issue 14): a host `underlay` endpoint per host that has one, and a `TunnelPort`
 * behind every `type: vxlan` / `type: geneve` bridge port. Summary section `tunnels`: per tunnel port, frames
 * encapsulated/decapsulated (drops are on the ports: `mtu` on the tunnel port, `vni-mismatch`,
 * `no-tunnel` on the underlay port).
 */
import { TunnelPort, UnderlayEndpoint } from '../tunnel/index.js';
import type { FabricContext } from './build.js';
import { TunnelPort6 } from '../tunnel/tunnel-port6.js';
import { attachFlow6, attachUnderlay6, buildTunnelPort6 } from './tunnels6.js';
import { UserError } from '../errors.js';
import type { BridgeModel } from '../topology/model.js';
import { TlvTable } from '../vswitch/tun-metadata.js';

/** A bridge's `tlv_map:` as its TLV table; a bad map is an error at the `tlv_map` field. */
export function bridgeTlvTable(ctx: FabricContext, m: BridgeModel): TlvTable | undefined {
  if (m.tlvMap === undefined) return undefined;
  try {
    return TlvTable.fromText(m.tlvMap, `${m.path} tlv_map`);
  } catch (e) {
    if (e instanceof UserError) throw ctx.source.error(e.code, [...m.yaml, 'tlv_map'], e.message);
    throw e;
  }
}

export function buildTunnels(ctx: FabricContext): void {
  const tunnels = new Map<string, TunnelPort | TunnelPort6>();
  for (const h of ctx.model.hosts) {
    if (!h.underlay) continue;
    const u = h.underlay;
    const ep = new UnderlayEndpoint({
      host: h.name,
      sim: ctx.sim,
      mac: u.mac,
      // an IPv6-only underlay has no IPv4 address (0.0.0.0/32: never matches, answers no ARP)
      ipv4: u.ipv4?.address ?? 0,
      prefixLength: u.ipv4?.prefixLength ?? 32,
      mtu: u.mtu,
      events: ctx.events,
      ...(u.gateway !== undefined ? { gateway: u.gateway } : {}),
    });
    ctx.registerPort(ep.port);
    attachUnderlay6(ctx, ep, u);
    const seed = ctx.sim.prng.fork(`vxlan:${h.name}`).nextU32();
    for (const b of h.bridges) {
      for (const p of b.ports) {
        if (!p.tunnel) continue;
        const port = ctx.ports.get(p.path);
        if (!port) continue;
        const tlv = ctx.bridges.get(b.path)?.tlv;
        const datapath = b.datapathType ?? 'netdev';
        // remote_ip: flow on an IPv6-only underlay: the IPv6 flow-based port alone
        // (or with an IPv6 local_ip, which fixes the port's family)
        const v6only = p.tunnel.remoteIp === 'flow' && (u.ipv4 === undefined || p.tunnel.localIp6 !== undefined);
        const t6 = p.tunnel.remoteIp === 'ipv6' || v6only ? buildTunnelPort6(ep, port, p.tunnel, seed, datapath, tlv) : undefined;
        if (t6) {
          tunnels.set(p.path, t6);
          continue;
        }
        if (p.tunnel.remoteIp === 'ipv6' || v6only) continue;
        const t4 = new TunnelPort({ port, underlay: ep, type: p.tunnel.type, remoteIp: p.tunnel.remoteIp, vni: p.tunnel.vni, dstPort: p.tunnel.dstPort, csum: p.tunnel.csum, hashSeed: seed, datapath, ...(tlv ? { tlv } : {}), ...(p.tunnel.localIp !== undefined ? { localIp: p.tunnel.localIp } : {}) });
        // remote_ip: flow on a dual-stack underlay also sends and receives over IPv6 (not with an IPv4 local_ip)
        if (p.tunnel.remoteIp === 'flow' && p.tunnel.localIp === undefined) attachFlow6(t4, ep, port, p.tunnel, seed, datapath, tlv);
        tunnels.set(p.path, t4);
      }
    }
  }
  if (tunnels.size === 0) return;
  ctx.addSummarySection('tunnels', {
    json: () => Object.fromEntries([...tunnels].map(([k, t]) => [k, { ...t.counters }])),
    text: () =>
      [...tunnels].map(([k, t]) => {
        const c = t.counters;
        const pmtud = t.datapath === 'system' ? `; answered ${c.pmtud_icmp_sent} with ICMP frag-needed or packet too big (next-hop MTU ${t.tunnelMtu}, datapath_type system)` : '; no ICMP back (datapath_type netdev: senders never learn the path MTU)';
        const why = c.mtu_drops > 0 ? `; dropped ${c.mtu_drops} too big for the underlay (frame + ${t instanceof TunnelPort6 ? 56 : 36} > underlay MTU ${t.underlayMtu}: reason mtu)${pmtud}` : '';
        return `${k}: encapsulated ${c.encapsulated}, decapsulated ${c.decapsulated}${why}`;
      }),
  });
}
