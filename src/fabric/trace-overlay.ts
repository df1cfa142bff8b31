/**
 * Overlay and routed-underlay steps for topology-mode `vfab trace` (issue 14 item 7): where the
 * traced packet is encapsulated (the host's underlay port sends a VXLAN/Geneve packet: type, VNI,
 * outer addresses and UDP ports), which route each router hop takes (the same longest-prefix match
 * and ECMP hash the router uses: `Router.resolveRoute`), and where it is decapsulated.
 *
 * Observes ports only (frame hooks): nothing here changes what the fabric does.
 */
import type { Frame, Port } from '../port/port.js';
import type { Router } from '../router/index.js';
import { formatIpv4 } from '../wire/ip.js';
import { readU32 } from '../wire/ipv4-frame.js';
import type { FabricContext } from './build.js';
import { routersOf } from './routers.js';
import { hookOverlayTrace6 } from './trace-overlay6.js';

interface TunnelHeaders {
  type: 'vxlan' | 'geneve';
  vni: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

export type OverlayTraceStep =
  | ({ kind: 'encap' | 'decap'; time_ns: number; port: string } & TunnelHeaders)
  | { kind: 'route'; time_ns: number; router: string; in: string; dst: string; route: string; via: string; out: string };

/** Adds the hooks; `push` receives the steps in simulation order. */
export function hookOverlayTrace(ctx: FabricContext, push: (s: OverlayTraceStep) => void): void {
  const tunnelPorts = new Map<number, 'vxlan' | 'geneve'>();
  for (const h of ctx.model.hosts) {
    for (const b of h.bridges) for (const p of b.ports) if (p.tunnel) tunnelPorts.set(p.tunnel.dstPort, p.tunnel.type);
  }
  for (const h of ctx.model.hosts) {
    if (!h.underlay) continue;
    const port = ctx.ports.get(h.underlay.path);
    if (!port) continue;
    port.onFrame((p, dir, f) => {
      const t = tunnelOf(f, tunnelPorts);
      if (t === undefined) return;
      // Sent = encapsulated here; received and addressed to this VTEP = about to be decapsulated.
      if (dir === 'rx' && readU32(f, 30) !== h.underlay!.ipv4?.address) return;
      push({ kind: dir === 'tx' ? 'encap' : 'decap', time_ns: ctx.sim.now, port: p.path, ...t });
    });
  }
  for (const r of routersOf(ctx).values()) {
    for (const i of r.interfaces) i.port.onFrame((p, dir, f) => dir === 'rx' && routeStep(ctx, r, p, f, push));
  }
  hookOverlayTrace6(ctx, tunnelPorts, push);
}

function tunnelOf(f: Frame, ports: Map<number, 'vxlan' | 'geneve'>): TunnelHeaders | undefined {
  if (f.length < 50 || f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 17) return undefined;
  const u = 14 + (f[14]! & 0x0f) * 4;
  if (f.length < u + 16) return undefined;
  const dport = (f[u + 2]! << 8) | f[u + 3]!;
  const type = ports.get(dport);
  if (type === undefined) return undefined;
  const h = u + 8;
  return { type, vni: (f[h + 4]! << 16) | (f[h + 5]! << 8) | f[h + 6]!, src: formatIpv4(readU32(f, 26)), dst: formatIpv4(readU32(f, 30)), sport: (f[u]! << 8) | f[u + 1]!, dport };
}

function routeStep(ctx: FabricContext, r: Router, p: Port, f: Frame, push: (s: OverlayTraceStep) => void): void {
  if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0x00 || (f[0]! & 1) !== 0) return;
  const dst = readU32(f, 30);
  if (r.interfaces.some((i) => i.cfg.ipv4 === dst)) return;
  const ihl = (f[14]! & 0x0f) * 4;
  const proto = f[23]!;
  const frag = ((f[20]! << 8) | f[21]!) & 0x3fff;
  const ports = (proto === 6 || proto === 17) && frag === 0 && f.length >= 14 + ihl + 4;
  const l4 = 14 + ihl;
  const res = r.resolveRoute(readU32(f, 26), dst, proto, ports ? (f[l4]! << 8) | f[l4 + 1]! : 0, ports ? (f[l4 + 2]! << 8) | f[l4 + 3]! : 0);
  const base = { kind: 'route' as const, time_ns: ctx.sim.now, router: r.name, in: p.path, dst: formatIpv4(dst) };
  if (res === undefined) return push({ ...base, route: 'none', via: '-', out: '-' });
  const out = r.interfaces[res.hop.iface]!;
  push({
    ...base,
    route: `${formatIpv4(res.route.network)}/${res.route.prefixLength}${res.route.nextHops.length > 1 ? ` (ECMP ${res.route.nextHops.length} paths)` : ''}`,
    via: res.hop.via === 0 ? 'connected' : formatIpv4(res.hop.via),
    out: out.port.path,
  });
}
