/**
 * Hosts as endpoints (issue 13): every host with `interfaces:` gets one `GuestStack` (named after
 * the host; its TCP PRNG fork is `tcp:<host>`) and a `HostNic` per interface, plugged into its host
 * bridge as an internal port or left for a `links:` entry to cable.
 *
 * API for features that talk host to host (migration streams, NBD):
 * - `hostStack(ctx, 'hv1')` → the host's `GuestStack` (`.tcp` is its `TcpStack`: `listen`,
 *   `connect`; see docs/tcp.md "The socket API"), or undefined when the host has no interfaces;
 * - `hostInterface(ctx, 'hv1', 'mgmt')` → `{ model, nic, stack }` (address in `model.ipv4.address`);
 * - `routeBetween(model, from, via, to)` (topology-level, no fabric needed) tells whether `via`
 *   reaches host `to` and at which address, for positioned validation errors.
 */
import { UserError } from '../errors.js';
import { GuestStack } from '../guest/index.js';
import { HostNic } from '../port/host-nic.js';
import { connect } from '../port/port.js';
import type { HostInterfaceModel, TopologyModel } from '../topology/model.js';
import { formatIpv4, ipv4InSubnet } from '../wire/ip.js';
import type { BuildContext } from './context.js';
import type { FabricFeature } from './feature.js';

export interface HostInterfaceRuntime {
  model: HostInterfaceModel;
  nic: HostNic;
  stack: GuestStack;
}

const byCtx = new WeakMap<BuildContext, Map<string, { stack: GuestStack; ifs: Map<string, HostInterfaceRuntime> }>>();

/** The host's IP stack, or undefined when it has no `interfaces:`. */
export function hostStack(ctx: BuildContext, host: string): GuestStack | undefined {
  return byCtx.get(ctx)?.get(host)?.stack;
}

/** One host interface at run time, or undefined. */
export function hostInterface(ctx: BuildContext, host: string, name: string): HostInterfaceRuntime | undefined {
  return byCtx.get(ctx)?.get(host)?.ifs.get(name);
}

export function buildHostInterfaces(ctx: BuildContext): void {
  for (const h of ctx.model.hosts) {
    if (!h.interfaces || h.interfaces.length === 0) continue;
    const stack = new GuestStack({ name: h.name, sim: ctx.sim, events: ctx.events });
    const ifs = new Map<string, HostInterfaceRuntime>();
    for (const m of h.interfaces) {
      const nic = new HostNic(m.path, m.mac, m.mtu);
      ctx.registerPort(nic.port);
      try {
        stack.addInterface(nic, { ipv4: m.ipv4.text, ...(m.gateway !== undefined ? { gateway: formatIpv4(m.gateway) } : {}) });
      } catch (e) {
        if (e instanceof UserError && !e.location) throw ctx.source.error(e.code, m.yaml, e.message);
        throw e;
      }
      if (m.bridgePath !== undefined) {
        const bridge = ctx.bridges.get(m.bridgePath)!;
        const bp = bridge.addPort({
          name: m.name,
          ...(m.vlan.vlanMode !== undefined ? { vlanMode: m.vlan.vlanMode } : {}),
          ...(m.vlan.tag !== undefined ? { tag: m.vlan.tag } : {}),
          ...(m.vlan.trunks !== undefined ? { trunks: m.vlan.trunks } : {}),
        });
        ctx.registerPort(bp);
        connect(nic.port, bp);
      }
      ifs.set(m.name, { model: m, nic, stack });
    }
    let map = byCtx.get(ctx);
    if (!map) byCtx.set(ctx, (map = new Map<string, { stack: GuestStack; ifs: Map<string, HostInterfaceRuntime> }>()));
    map.set(h.name, { stack, ifs });
  }
}

/**
 * The feature: host interfaces are devices (built before VMs and links, so `links:` can cable a
 * bridgeless one). No summary of its own: the ports carry the counters; no validation beyond what
 * `topology/host-interfaces.ts` resolves (names, bridge, addresses).
 */
export const hostInterfacesFeature: FabricFeature = {
  name: 'host_interfaces',
  build: { devices: buildHostInterfaces },
};

/**
 * Whether host `from`'s interface `via` can reach host `to`: `to`'s address on the same subnet (an
 * interface of `to` on `via`'s subnet, preferring one of the same name), else `to`'s same-named
 * interface through `via`'s gateway. Returns the destination address, or why not.
 */
export function routeBetween(model: TopologyModel, from: string, via: string, to: string): { ok: true; dst: number; iface: HostInterfaceModel } | { ok: false; why: string } {
  const src = model.hosts.find((h) => h.name === from)?.interfaces?.find((i) => i.name === via);
  if (!src) return { ok: false, why: `host ${from} has no interface "${via}"` };
  const dstIfs = model.hosts.find((h) => h.name === to)?.interfaces ?? [];
  if (dstIfs.length === 0) return { ok: false, why: `host ${to} has no interfaces: to receive on` };
  const onLink = dstIfs.filter((i) => ipv4InSubnet(i.ipv4.address, src.ipv4.address, src.ipv4.prefixLength));
  const pick = onLink.find((i) => i.name === via) ?? onLink[0];
  if (pick) return { ok: true, dst: pick.ipv4.address, iface: pick };
  if (src.gateway !== undefined) {
    const same = dstIfs.find((i) => i.name === via) ?? dstIfs[0]!;
    return { ok: true, dst: same.ipv4.address, iface: same };
  }
  return {
    ok: false,
    why: `${src.path} (${src.ipv4.text}, no gateway) has no route to host ${to} (${dstIfs.map((i) => `${i.path} ${i.ipv4.text}`).join(', ')})`,
  };
}
