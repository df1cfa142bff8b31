/**
 * The IPv6 underlay at build time (issue 14): the IPv6 side of a host's underlay endpoint
 * (tunnel/underlay6.ts) and `TunnelPort6` for tunnel ports whose remote_ip is IPv6.
 */
import type { Port } from '../port/port.js';
import type { TunnelModel, UnderlayModel } from '../topology/model.js';
import type { GeneveOptionMap } from '../tunnel/tunnel-port.js';
import { TunnelPort6 } from '../tunnel/tunnel-port6.js';
import type { TunnelPort } from '../tunnel/tunnel-port.js';
import type { UnderlayEndpoint } from '../tunnel/underlay.js';
import { Underlay6 } from '../tunnel/underlay6.js';
import type { FabricContext } from './build.js';

export function attachUnderlay6(ctx: FabricContext, ep: UnderlayEndpoint, u: UnderlayModel): void {
  if (u.ipv6 === undefined) return;
  ep.v6 = new Underlay6({
    port: ep.port,
    sim: ctx.sim,
    mac: ep.mac,
    address: u.ipv6.address,
    prefixLength: u.ipv6.prefixLength,
    events: ctx.events,
    ...(u.gateway6 !== undefined ? { gateway: u.gateway6 } : {}),
  });
}

export function buildTunnelPort6(ep: UnderlayEndpoint, port: Port, t: TunnelModel, seed: number, datapath: 'netdev' | 'system', tlv: GeneveOptionMap | undefined): TunnelPort6 | undefined {
  if (ep.v6 === undefined) return undefined;
  const remoteIp = t.remoteIp === 'flow' ? 'flow' : t.remoteIp === 'ipv6' ? t.remoteIp6 : undefined;
  if (remoteIp === undefined) return undefined;
  return new TunnelPort6({ port, underlay: ep, type: t.type, remoteIp, vni: t.vni, dstPort: t.dstPort, hashSeed: seed, datapath, ...(tlv ? { tlv } : {}), ...(t.localIp6 ? { localIp: t.localIp6 } : {}) });
}

/** The IPv6 side of a `remote_ip: flow` port on a dual-stack underlay (one port, both families). */
export function attachFlow6(t4: TunnelPort, ep: UnderlayEndpoint, port: Port, t: TunnelModel, seed: number, datapath: 'netdev' | 'system', tlv: GeneveOptionMap | undefined): void {
  if (ep.v6 === undefined) return;
  t4.flow6 = new TunnelPort6({ port, underlay: ep, type: t.type, remoteIp: 'flow', vni: t.vni, dstPort: t.dstPort, hashSeed: seed, datapath, counters: t4.counters, attach: false, ...(tlv ? { tlv } : {}) });
}
