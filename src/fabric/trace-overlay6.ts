/**
 * `vfab trace` steps for an IPv6 underlay (issue 14): encapsulation / decapsulation of VXLAN and
 * Geneve over IPv6 at a host's underlay port, and each router's IPv6 route (the same lookup and
 * ECMP hash as router6.ts: `Ipv6Plane.resolveRoute`). Observes ports only, like trace-overlay.ts.
 */
import type { Frame, Port } from '../port/port.js';
import type { Router } from '../router/index.js';
import { formatIpv6 } from '../wire/ip.js';
import { ipv6Equal, readIpv6At } from '../wire/ipv6-frame.js';
import type { FabricContext } from './build.js';
import { routersOf } from './routers.js';
import type { OverlayTraceStep } from './trace-overlay.js';

export function hookOverlayTrace6(ctx: FabricContext, ports: Map<number, 'vxlan' | 'geneve'>, push: (s: OverlayTraceStep) => void): void {
  for (const h of ctx.model.hosts) {
    const me = h.underlay?.ipv6?.address;
    if (me === undefined) continue;
    const port = ctx.ports.get(h.underlay!.path);
    port?.onFrame((p, dir, f) => {
      if (f.length < 70 || f[12] !== 0x86 || f[13] !== 0xdd || f[20] !== 17) return;
      const dport = (f[56]! << 8) | f[57]!;
      const type = ports.get(dport);
      if (type === undefined) return;
      if (dir === 'rx' && !ipv6Equal(readIpv6At(f, 38), me)) return;
      push({ kind: dir === 'tx' ? 'encap' : 'decap', time_ns: ctx.sim.now, port: p.path, type, vni: (f[66]! << 16) | (f[67]! << 8) | f[68]!, src: `[${formatIpv6(readIpv6At(f, 22))}]`, dst: `[${formatIpv6(readIpv6At(f, 38))}]`, sport: (f[54]! << 8) | f[55]!, dport });
    });
  }
  for (const r of routersOf(ctx).values()) {
    if (r.v6 === undefined) continue;
    for (const i of r.interfaces) i.port.onFrame((p, dir, f) => dir === 'rx' && routeStep6(ctx, r, p, f, push));
  }
}

function routeStep6(ctx: FabricContext, r: Router, p: Port, f: Frame, push: (s: OverlayTraceStep) => void): void {
  const v6 = r.v6!;
  if (f.length < 54 || f[12] !== 0x86 || f[13] !== 0xdd || (f[0]! & 1) !== 0) return;
  const dst = readIpv6At(f, 38);
  if (v6.ifaces.some((i) => i.addr !== undefined && ipv6Equal(i.addr.address, dst))) return;
  const nh = f[20]!;
  const l4 = (nh === 6 || nh === 17) && f.length >= 58;
  const res = v6.resolveRoute(readIpv6At(f, 22), dst, nh, l4 ? (f[54]! << 8) | f[55]! : 0, l4 ? (f[56]! << 8) | f[57]! : 0);
  const base = { kind: 'route' as const, time_ns: ctx.sim.now, router: r.name, in: p.path, dst: formatIpv6(dst) };
  if (res === undefined) return push({ ...base, route: 'none', via: '-', out: '-' });
  push({
    ...base,
    route: `${formatIpv6(res.route.network)}/${res.route.prefixLength}${res.route.nextHops.length > 1 ? ` (ECMP ${res.route.nextHops.length} paths)` : ''}`,
    via: res.hop.via === undefined ? 'connected' : formatIpv6(res.hop.via),
    out: r.interfaces[res.hop.iface]!.port.path,
  });
}
