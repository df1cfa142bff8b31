/**
 * Assembling the world from a validated `TopologyModel`.
 *
 * Order (each step may use what the previous ones created):
 *   1. host bridges and physical switches (`vswitch/Bridge`), with their declared ports;
 *   2. SR-IOV physical functions (`sriov.ts`): PF uplinks, VFs, VEBs, representors;
 *   3. links between declared ports (`link/Link`);
 *   4. VMs: a `GuestStack` each, one NIC per interface (virtio-net plugged into its bridge on a
 *      port named `${vm}-${if}` with the interface's VLAN config, or an SR-IOV VF); a VF with
 *      `standby: ethX` and its virtio standby ethX are one guest interface, a `FailoverNic`
 *      (`failover.ts`), added once both NICs exist;
 *   5. disks (`disks.ts`);
 *   6. scenario steps, scheduled at their `at` time.
 *
 * The features (`features.ts`; contract in `feature.ts`) hook in at three stages: `devices` (step
 * 2: SR-IOV …), `vm` (end of each VM in step 4: failover …) and `attached` (step 5: disks …).
 *
 * Nothing here reads files except through `flows_file` (already read by `topology/`) and what the
 * extension modules do with `ctx.resolvePath`.
 */
import { join, isAbsolute } from 'node:path';
import { BugError, UserError, UserErrors } from '../errors.js';
import { formatIpv4 } from '../wire/ip.js';
import type { EventSink, FabricEvent } from '../port/nic.js';
import { connect, Port as PortCls, PortRegistry, type Port } from '../port/port.js';
import type { Simulation } from '../sim/simulation.js';
import { Link } from '../link/link.js';
import type { BridgeModel, TopologyModel, VlanConfig } from '../topology/model.js';
import { Bridge } from '../vswitch/index.js';
import { buildOpenflowBridge, initialFlows, type OpenflowBridge } from './openflow.js';
import { GuestStack } from '../guest/index.js';
import { VirtioNet } from '../vnic/index.js';
import type { BuildContext, HostRuntime, SummarySection, VmNicRuntime, VmRuntime } from './context.js';
import { attachVf } from './sriov.js';
import { buildRouters } from './routers.js';
import { bridgeTlvTable, buildTunnels } from './tunnels.js';
import { isStandby, standbyFeatures, standbyOf } from './failover.js';
import { FeatureSummaries } from './feature.js';
import { FABRIC_FEATURES } from './features.js';

export interface FabricBuildOptions {
  sim: Simulation;
  /** Every fabric event goes here too (the fabric also keeps them for the summary). */
  events: EventSink;
  baseDir: string;
  /** Called for each port registered, in registration order (capture hooks in). */
  onPort?: (port: Port) => void;
  /** `vfab validate`: build everything but open no disk image (no file is touched; `ctx.options.openFiles` false). */
  skipDisks?: boolean;
}

export class FabricContext implements BuildContext {
  readonly sim: Simulation;
  readonly model: TopologyModel;
  readonly events: EventSink;
  readonly ports = new PortRegistry();
  readonly bridges = new Map<string, Bridge>();
  readonly hosts = new Map<string, HostRuntime>();
  readonly vms = new Map<string, VmRuntime>();
  readonly links = new Map<string, Link>();
  readonly options: { baseDir: string; openFiles: boolean };
  readonly sections = new Map<string, SummarySection>();
  /** Ports in registration order (capture order = IDB order). */
  readonly portOrder: Port[] = [];
  /** Bridges driven over OpenFlow (fabric/openflow.ts); their sockets open when the run starts. */
  readonly openflow: OpenflowBridge[] = [];
  /** Registers each feature's summary block after its first hook (`feature.ts`). */
  readonly featureSummaries: FeatureSummaries = new FeatureSummaries(this);
  private readonly linkByPort = new Map<string, Link>();
  private readonly onPort: ((port: Port) => void) | undefined;

  constructor(model: TopologyModel, opts: FabricBuildOptions) {
    this.model = model;
    this.sim = opts.sim;
    this.events = opts.events;
    this.options = { baseDir: opts.baseDir, openFiles: !opts.skipDisks };
    this.onPort = opts.onPort;
  }

  get source() {
    return this.model.source;
  }

  linkAt(portPath: string): Link | undefined {
    return this.linkByPort.get(portPath);
  }

  registerPort(port: Port): Port {
    if (this.ports.get(port.path)) throw new BugError('FABRIC_DUPLICATE_PORT', `port ${port.path} registered twice`);
    this.ports.add(port);
    this.portOrder.push(port);
    this.onPort?.(port);
    return port;
  }

  plugNic(vm: string, ifName: string, bridgePath: string, vlan?: VlanConfig): Port {
    const rt = this.vms.get(vm);
    const nic = rt?.nics.get(ifName);
    const bridge = this.bridges.get(bridgePath);
    if (!rt || !nic) throw new BugError('FABRIC_NO_NIC', `no NIC ${vm}.${ifName}`);
    if (!bridge) throw new BugError('FABRIC_NO_BRIDGE', `no bridge ${bridgePath}`);
    if (nic.bridgePort) this.unplugNic(vm, ifName);
    const name = nic.iface.bridgePortName;
    const v = vlan ?? nic.iface.vlan;
    const existing = this.ports.get(`${bridgePath}.${name}`);
    let port: Port;
    if (existing) {
      // Plugging back into a bridge the NIC was on before (a migration back): reuse the port.
      port = existing;
      port.up = true;
    } else {
      port = bridge.addPort({
        name,
        ...(v.vlanMode !== undefined ? { vlanMode: v.vlanMode } : {}),
        ...(v.tag !== undefined ? { tag: v.tag } : {}),
        ...(v.trunks !== undefined ? { trunks: v.trunks } : {}),
      });
      this.registerPort(port);
    }
    connect(nic.nic.port, port);
    nic.bridgePath = bridgePath;
    nic.bridgePort = port;
    return port;
  }

  unplugNic(vm: string, ifName: string): void {
    const nic = this.vms.get(vm)?.nics.get(ifName);
    if (!nic?.bridgePort) return;
    // The bridge port stays (its counters stay in the summary; frames still switched to it are
    // dropped as link-down), but the MACs learned on it are forgotten, as when a tap goes away.
    const bridge = nic.bridgePath !== undefined ? this.bridges.get(nic.bridgePath) : undefined;
    const ofport = bridge?.ofportOf(nic.iface.bridgePortName);
    if (bridge && ofport !== undefined) bridge.mac.flush(ofport);
    nic.bridgePort.peer = null;
    nic.bridgePort.up = false;
    nic.nic.port.peer = null;
    delete nic.bridgePort;
    delete nic.bridgePath;
  }

  addSummarySection(key: string, section: SummarySection): void {
    this.sections.set(key, section);
  }

  resolvePath(rel: string): string {
    return isAbsolute(rel) ? rel : join(this.options.baseDir, rel);
  }

  addLink(l: { name: string; a: string; b: string; bandwidthBps: number; delayNs: number; queueFrames: number; loss: number; qdisc?: import('../link/qdisc.js').QdiscConfig }): Link {
    const a = this.ports.get(l.a);
    const b = this.ports.get(l.b);
    if (!a || !b) throw new BugError('FABRIC_NO_PORT', `link ${l.name}: port ${a ? l.b : l.a} was not built`);
    const link = new Link({ sim: this.sim, name: l.name, a, b, bandwidthBps: l.bandwidthBps, delayNs: l.delayNs, queueFrames: l.queueFrames, loss: l.loss, events: this.events, ...(l.qdisc ? { qdisc: l.qdisc } : {}) });
    this.links.set(l.name, link);
    this.linkByPort.set(l.a, link);
    this.linkByPort.set(l.b, link);
    return link;
  }
}

/**
 * Exact-match flow cache entries for the whole fabric. OVS gives each PMD thread an 8192-entry
 * EMC; a fabric of a thousand bridges would preallocate a thousand of those, so the budget is
 * shared: 8192 per bridge up to 128 bridges, then fewer (at least 256) per bridge.
 */
export const FABRIC_FLOW_CACHE_BUDGET = 1 << 20;

function flowCacheSize(bridges: number): number {
  return Math.max(256, Math.min(8192, Math.floor(FABRIC_FLOW_CACHE_BUDGET / Math.max(1, bridges))));
}

function buildBridge(ctx: FabricContext, m: BridgeModel, bridgeCount: number): Bridge {
  let bridge: Bridge;
  const tlv = bridgeTlvTable(ctx, m);
  try {
    bridge = new Bridge({
      path: m.path,
      sim: ctx.sim,
      events: ctx.events,
      cacheSize: flowCacheSize(bridgeCount),
      ...(initialFlows(m) !== undefined ? { flows: initialFlows(m)! } : {}),
      ...(m.flows ? { flowsOrigin: m.flows.origin } : {}),
      ...(m.groups ? { groups: m.groups.text, groupsOrigin: m.groups.origin } : {}),
      ...(m.meters ? { meters: m.meters.text, metersOrigin: m.meters.origin } : {}),
      ...(m.macAgingNs !== undefined ? { macAgingNs: m.macAgingNs } : {}),
      ...(m.macTableSize !== undefined ? { macTableSize: m.macTableSize } : {}),
      // A bridge with an OpenFlow controller speaks OpenFlow 1.3 (vfab's channel): its flows are
      // checked as 1.3 flows unless the topology names the versions itself.
      ...(m.protocols !== undefined ? { protocols: m.protocols } : m.openflow !== undefined ? { protocols: 13 as const } : {}),
      ...(m.strict !== undefined ? { strict: m.strict } : {}),
      ...(tlv ? { tlv } : {}),
    });
  } catch (e) {
    if (e instanceof UserError && !e.location) throw ctx.source.error(e.code, m.yaml, e.message);
    throw e;
  }
  ctx.bridges.set(m.path, bridge);
  // The bridge's LOCAL port (the host's internal interface in OVS) takes floods and ignores them.
  ctx.registerPort(bridge.local);
  connect(bridge.local, new PortCls(`${m.path}.LOCAL.host`, () => undefined));
  for (const p of m.ports) {
    const port = bridge.addPort({
      name: p.name,
      ...(p.ofport !== undefined ? { ofport: p.ofport } : {}),
      ...(p.vlan.vlanMode !== undefined ? { vlanMode: p.vlan.vlanMode } : {}),
      ...(p.vlan.tag !== undefined ? { tag: p.vlan.tag } : {}),
      ...(p.vlan.trunks !== undefined ? { trunks: p.vlan.trunks } : {}),
      ...(p.tunnel ? { tunnel: true } : {}),
    });
    ctx.registerPort(port);
  }
  if (m.openflow) ctx.openflow.push(buildOpenflowBridge(ctx, m, bridge, ctx.openflow.length + 1));
  return bridge;
}

/** Builds everything but the scenario. */
export function buildFabric(model: TopologyModel, opts: FabricBuildOptions): FabricContext {
  const ctx = new FabricContext(model, opts);
  const bridgeCount = model.switches.length + model.hosts.reduce((n, h) => n + h.bridges.length, 0);
  for (const h of model.hosts) {
    const rt: HostRuntime = { name: h.name, model: h, bridges: new Map() };
    for (const b of h.bridges) rt.bridges.set(b.name, buildBridge(ctx, b, bridgeCount));
    ctx.hosts.set(h.name, rt);
  }
  for (const s of model.switches) buildBridge(ctx, s, bridgeCount);
  buildRouters(ctx);
  buildTunnels(ctx);
  for (const f of FABRIC_FEATURES) {
    if (!f.build?.devices) continue;
    f.build.devices(ctx);
    ctx.featureSummaries.ran(f);
  }
  // VM NIC ports are built before links so a VM interface without a bridge can be cabled.
  for (const vm of model.vms) {
    const stack = new GuestStack({ name: vm.name, sim: ctx.sim, events: ctx.events });
    const rt: VmRuntime = { name: vm.name, model: vm, host: vm.host, stack, nics: new Map() };
    ctx.vms.set(vm.name, rt);
    for (const iface of vm.interfaces) {
      let nicRt: VmNicRuntime;
      if (iface.model === 'virtio') {
        let virtio: VirtioNet;
        try {
          virtio = new VirtioNet({
            path: iface.path,
            sim: ctx.sim,
            mac: iface.mac,
            mtu: iface.mtu,
            queueSize: iface.queueSize,
            queuePairs: iface.queues,
            rxDelayNs: iface.rxDelayNs,
            events: ctx.events,
            ...(isStandby(vm, iface) ? { features: standbyFeatures(iface) } : iface.features ? { features: iface.features } : {}),
          });
        } catch (e) {
          if (e instanceof UserError && !e.location) throw ctx.source.error(e.code, iface.yaml, e.message, e.hint ? { hint: e.hint } : {});
          throw e;
        }
        ctx.registerPort(virtio.port);
        nicRt = { iface, nic: virtio, virtio };
      } else {
        const nic = attachVf(ctx, vm, iface);
        nicRt = { iface, nic };
      }
      rt.nics.set(iface.name, nicRt);
      // A failover pair is added to the stack as one netdev after the loop (it needs both NICs).
      const paired = standbyOf(vm, iface) !== undefined || isStandby(vm, iface);
      if (!paired) {
        try {
          stack.addInterface(nicRt.nic, {
            ...(iface.ipv4 ? { ipv4: iface.ipv4.text } : {}),
            ...(iface.ipv6.length > 0 ? { ipv6: iface.ipv6 } : {}),
            ...(iface.gateway !== undefined ? { gateway: formatIpv4(iface.gateway) } : {}),
          });
        } catch (e) {
          if (e instanceof UserError && !e.location) throw ctx.source.error(e.code, iface.yaml, e.message);
          throw e;
        }
      }
      if (iface.model === 'virtio' && iface.bridgePath !== undefined) ctx.plugNic(vm.name, iface.name, iface.bridgePath);
    }
    for (const f of FABRIC_FEATURES) {
      if (!f.build?.vm) continue;
      f.build.vm(ctx, rt);
      ctx.featureSummaries.ran(f);
    }
  }
  for (const l of model.links) ctx.addLink(l);
  // Flows may name ports (`in_port=uplink`); now that every port exists, a name still unknown
  // is a mistake in the file, not a port yet to come.
  const flowErrors = [...ctx.bridges.values()].map((b) => b.pendingFlowsError()).filter((e): e is UserError => e !== null);
  if (flowErrors.length === 1) throw flowErrors[0]!;
  if (flowErrors.length > 1) throw new UserErrors(flowErrors);
  for (const f of FABRIC_FEATURES) {
    if (!f.build?.attached) continue;
    f.build.attached(ctx);
    ctx.featureSummaries.ran(f);
  }
  return ctx;
}

/** Collects events in time order with per-type totals, bounded. */
export class EventLog {
  readonly list: FabricEvent[] = [];
  readonly totals: Record<string, number> = {};
  constructor(private readonly limit = 1000) {}
  readonly sink: EventSink = (e) => {
    this.totals[e.type] = (this.totals[e.type] ?? 0) + 1;
    if (this.list.length < this.limit) this.list.push(e);
  };
}
