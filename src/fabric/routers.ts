/**
 * Routers (issue 14): builds a `router/Router` per `routers:` entry, registers its interface
 * ports (they take links like any port), schedules `traceroute` scenario steps, and reports the
 * `routers` and `traceroutes` summary sections.
 */
import { startTraceroute, type TracerouteApp } from '../guest/index.js';
import { Router } from '../router/index.js';
import type { ScenarioStep, TracerouteAction } from '../topology/model.js';
import { formatIpv4 } from '../wire/ip.js';
import type { FabricContext } from './build.js';

const routersByCtx = new WeakMap<FabricContext, Map<string, Router>>();

/** The routers built for `ctx` by name (for trace and tests). */
export function routersOf(ctx: FabricContext): Map<string, Router> {
  return routersByCtx.get(ctx) ?? new Map<string, Router>();
}

export function buildRouters(ctx: FabricContext): void {
  const models = ctx.model.routers ?? [];
  if (models.length === 0) return;
  const routers = new Map<string, Router>();
  routersByCtx.set(ctx, routers);
  for (const m of models) {
    const r = new Router({
      name: m.name,
      sim: ctx.sim,
      events: ctx.events,
      interfaces: m.interfaces.map((i) => ({ name: i.name, mac: i.mac, ...(i.ipv4 ? { ipv4: i.ipv4.address, prefixLength: i.ipv4.prefixLength } : { prefixLength: 0 }), mtu: i.mtu, ...(i.ipv6 ? { ipv6: { address: i.ipv6.address, prefixLength: i.ipv6.prefixLength } } : {}) })),
      routes: m.routes.map((rt) => ({ network: rt.network, prefixLength: rt.prefixLength, via: rt.via })),
      ...(m.routes6 ? { routes6: m.routes6.map((rt) => ({ network: rt.network, prefixLength: rt.prefixLength, via: rt.via })) } : {}),
      ...(m.ipv6HashPolicy !== undefined ? { ipv6HashPolicy: m.ipv6HashPolicy } : {}),
    });
    for (const i of r.interfaces) ctx.registerPort(i.port);
    routers.set(m.name, r);
  }
  ctx.addSummarySection('routers', {
    json: () => {
      const out: Record<string, unknown> = {};
      for (const [name, r] of routers) {
        const ifs: Record<string, unknown> = {};
        for (const i of r.interfaces) ifs[i.cfg.name] = { ...i.counters, drops: { ...i.port.counters.drops } };
        out[name] = {
          interfaces: ifs,
          icmp_sent: { ...r.icmpSent },
          routes: r.table.all().map((rt) => ({
            to: `${formatIpv4(rt.network)}/${rt.prefixLength}`,
            via: rt.nextHops.map((h) => (h.via === 0 ? `dev ${r.interfaces[h.iface]!.cfg.name}` : formatIpv4(h.via))),
          })),
          ...(r.v6 ? { ipv6: r.v6.summary() } : {}),
        };
      }
      return out;
    },
    text: () => {
      const lines: string[] = [];
      for (const [name, r] of routers) {
        const icmp = [...Object.entries(r.icmpSent).map(([k, v]) => `${k}:${v}`), ...Object.entries(r.v6?.icmpSent ?? {}).map(([k, v]) => `v6 ${k}:${v}`)].join(' ');
        const fwd = r.interfaces.reduce((n, i) => n + i.counters.forwarded_out, 0) + (r.v6?.ifaces.reduce((n, i) => n + i.counters.forwarded_out, 0) ?? 0);
        lines.push(`router ${name}: forwarded ${fwd}${icmp ? `, icmp errors ${icmp} (type/code)` : ''}`);
        for (const i of r.interfaces) {
          const d = Object.entries(i.port.counters.drops).map(([k, v]) => `${k} ${v}`).join(', ');
          if (d) lines.push(`  ${i.port.path}: drops ${d}`);
        }
      }
      return lines;
    },
  });
}

const traces = new WeakMap<FabricContext, Array<{ step: ScenarioStep; action: TracerouteAction; app: TracerouteApp | null }>>();

/** Schedules a `traceroute` scenario step; results land in the `traceroutes` summary section. */
export function scheduleTraceroute(ctx: FabricContext, step: ScenarioStep, action: TracerouteAction): void {
  let list = traces.get(ctx);
  if (list === undefined) {
    const l: Array<{ step: ScenarioStep; action: TracerouteAction; app: TracerouteApp | null }> = [];
    list = l;
    traces.set(ctx, l);
    ctx.addSummarySection('traceroutes', {
      json: () => l.map((t) => ({ from: t.action.from, to: t.action.dstText, start_ns: t.step.atNs, ...(t.app ? t.app.result() : { started: false }) })),
      text: () =>
        l.flatMap((t) => {
          const r = t.app?.result();
          if (!r) return [`traceroute ${t.action.from} -> ${t.action.dstText}: not started`];
          return [
            `traceroute ${t.action.from} -> ${t.action.dstText}: ${r.reached ? 'reached' : 'not reached'} in ${r.hops.length} hops`,
            ...r.hops.map((h) => `  ${String(h.ttl).padStart(2)}  ${h.ip ?? '*'}${h.rtt_ns !== null ? `  ${(h.rtt_ns / 1e6).toFixed(3)} ms` : ''}`),
          ];
        }),
    });
  }
  const entry = { step, action, app: null as TracerouteApp | null };
  list.push(entry);
  ctx.sim.scheduleAt(step.atNs, () => {
    const vm = ctx.vms.get(action.from)!;
    entry.app = startTraceroute(vm.stack, { dst: action.dst, maxHops: action.maxHops, waitNs: action.waitNs });
  });
}
