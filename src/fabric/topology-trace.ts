/**
 * Topology-mode trace: follows one packet from a VM interface across the whole fabric, hop by
 * hop (each bridge's table lookups and matched rules, links, physical switches), and says where
 * its copies end up and why the others were dropped.
 *
 * How: the fabric is built (not run: no scenario), every guest is cut off (frames towards a VM
 * NIC are recorded as "delivered" instead of reaching the guest, and guests cannot transmit), so
 * only the traced packet and its copies move. The packet is handed to whatever the NIC is
 * connected to (a bridge port, an SR-IOV switch …) with `hops = 0`, then the simulation runs
 * until idle (links add their delays; at most `maxNs` of virtual time). MAC learning happens as
 * it would for a real packet.
 *
 * Lives in fabric/, not vswitch/: it builds a whole fabric, and vswitch/ sits below fabric/ in the
 * layer table (eslint.config.js).
 */
import { UserError } from '../errors.js';
import { buildFabric } from './build.js';
import { Port, type FrameReceiver } from '../port/port.js';
import { Simulation } from '../sim/simulation.js';
import type { TopologyModel } from '../topology/model.js';
import { dirname } from 'node:path';
import type { BridgeTraceEvent } from '../vswitch/bridge.js';
import { W_DL_SRC_HI, W_VLAN_TCI, VLAN_CFI } from '../vswitch/fields.js';
import { parseTraceFlow } from '../vswitch/flow-parser.js';
import { buildTraceFrame } from '../vswitch/trace-packet.js';
import { hookOverlayTrace, type OverlayTraceStep } from './trace-overlay.js';

export type TopologyTraceStep =
  | ({ kind: 'bridge'; time_ns: number } & BridgeTraceEvent)
  | { kind: 'link'; time_ns: number; from: string; to: string }
  | { kind: 'deliver'; time_ns: number; to: string; vlan: number | null }
  | { kind: 'drop'; time_ns: number; port: string; reason: string }
  | OverlayTraceStep;

export interface TopologyTraceResult {
  from: string;
  packet: string;
  steps: TopologyTraceStep[];
  /** VM interfaces that received a copy. */
  delivered: string[];
  /** Drops anywhere along the way (port path and reason). */
  drops: { port: string; reason: string }[];
}

export interface TopologyTraceOptions {
  /** VM interface path the packet leaves from, e.g. `vm1.eth0`. */
  from: string;
  /** `ofproto/trace` flow; `dl_src` defaults to the interface's MAC. */
  packet: string;
  seed?: number;
  /** Virtual-time limit (default 1 s). */
  maxNs?: number;
  /** Folder for relative paths in the topology (default: the file's folder). */
  baseDir?: string;
}

function vlanOf(frame: Uint8Array): number | null {
  if (frame.length < 16) return null;
  const t = (frame[12]! << 8) | frame[13]!;
  return t === 0x8100 || t === 0x88a8 ? ((frame[14]! << 8) | frame[15]!) & 0xfff : null;
}

export function traceTopology(model: TopologyModel, opts: TopologyTraceOptions): TopologyTraceResult {
  const sim = new Simulation(opts.seed ?? model.seed ?? 1);
  const ctx = buildFabric(model, { sim, events: () => undefined, baseDir: opts.baseDir ?? dirname(model.file) });
  const [vmName, ifName] = [opts.from.slice(0, opts.from.indexOf('.')), opts.from.slice(opts.from.indexOf('.') + 1)];
  const vm = ctx.vms.get(vmName);
  const nicRt = vm?.nics.get(ifName);
  if (!vm || !nicRt) {
    const known = [...ctx.vms.values()].flatMap((v) => [...v.nics.keys()].map((n) => `${v.name}.${n}`));
    throw new UserError('TRACE_UNKNOWN_FROM', `no VM interface ${opts.from}`, { where: '--from', hint: `one of: ${known.join(', ')}` });
  }
  const steps: TopologyTraceStep[] = [];
  const delivered: string[] = [];
  const drops: { port: string; reason: string }[] = [];

  // Cut every guest off: record frames towards a NIC, silence the NIC's own transmissions.
  const nicPorts = new Map<Port, string>();
  for (const v of ctx.vms.values()) for (const [n, rt] of v.nics) nicPorts.set(rt.nic.port, `${v.name}.${n}`);
  const entry = nicRt.nic.port.peer;
  if (entry === null) throw new UserError('TRACE_UNCONNECTED', `${opts.from} is not connected to anything`, { where: '--from' });
  const all = ctx.ports.all();
  for (const p of all) {
    const nicPath = p.peer instanceof Port ? nicPorts.get(p.peer) : undefined;
    if (nicPath !== undefined) {
      const recorder: FrameReceiver = {
        receive: (frame) => {
          delivered.push(nicPath);
          steps.push({ kind: 'deliver', time_ns: sim.now, to: nicPath, vlan: vlanOf(frame) });
        },
      };
      p.peer = recorder;
    }
  }
  for (const np of nicPorts.keys()) np.peer = null;
  for (const p of all) {
    if (nicPorts.has(p)) continue;
    p.onDrop((port, reason) => {
      drops.push({ port: port.path, reason });
      steps.push({ kind: 'drop', time_ns: sim.now, port: port.path, reason });
    });
    const link = ctx.linkAt(p.path);
    if (link) {
      const to = link.a === p ? link.b.path : link.a === p ? '?' : link.b === p ? link.a.path : '?';
      p.onFrame((port, dir) => {
        if (dir === 'tx') steps.push({ kind: 'link', time_ns: sim.now, from: port.path, to });
      });
    }
  }
  for (const br of ctx.bridges.values()) br.setTraceHook((e) => steps.push({ kind: 'bridge', time_ns: sim.now, ...e }));
  hookOverlayTrace(ctx, (s) => steps.push(s));

  const { value, mask } = parseTraceFlow(opts.packet, { file: '--packet' });
  if (mask[W_DL_SRC_HI] === 0 && mask[W_DL_SRC_HI + 1] === 0) {
    const mac = nicRt.nic.mac;
    value[W_DL_SRC_HI] = Math.floor(mac / 0x1_0000_0000);
    value[W_DL_SRC_HI + 1] = mac % 0x1_0000_0000;
  }
  if ((value[W_VLAN_TCI]! & VLAN_CFI) === 0) value[W_VLAN_TCI] = 0;
  const frame = buildTraceFrame(value);
  sim.schedule(0, () => entry.receive(frame, { hops: 0 }));
  sim.run({ untilNs: opts.maxNs ?? 1_000_000_000, maxEvents: 10_000_000 });
  return { from: opts.from, packet: opts.packet, steps, delivered, drops };
}

/** Human-readable rendering, one step per line. */
export function renderTopologyTrace(r: TopologyTraceResult): string {
  const out: string[] = [`trace ${r.packet} from ${r.from}`];
  const t = (ns: number): string => `${(ns / 1000).toFixed(3).padStart(10)} us`;
  for (const s of r.steps) {
    switch (s.kind) {
      case 'bridge':
        out.push(`${t(s.time_ns)}  bridge ${s.bridge}: in ${s.inPort} (hop ${s.hops})`);
        for (const l of s.log) out.push(`${' '.repeat(18)}${l}`);
        out.push(
          `${' '.repeat(18)}=> ${s.outputs.length ? s.outputs.map((o) => (o.vlan === null ? o.port : `${o.port} (vlan ${o.vlan})`)).join(', ') : `drop (${s.drop})`}`,
        );
        break;
      case 'link':
        out.push(`${t(s.time_ns)}  link ${s.from} -> ${s.to}`);
        break;
      case 'deliver':
        out.push(`${t(s.time_ns)}  delivered to ${s.to}${s.vlan === null ? '' : ` (vlan ${s.vlan})`}`);
        break;
      case 'drop':
        out.push(`${t(s.time_ns)}  dropped at ${s.port}: ${s.reason}`);
        break;
      case 'encap':
      case 'decap':
        out.push(`${t(s.time_ns)}  ${s.kind === 'encap' ? 'encapsulated' : 'decapsulated'} at ${s.port}: ${s.type.toUpperCase()} VNI ${s.vni}, ${s.src}:${s.sport} -> ${s.dst}:${s.dport}`);
        break;
      case 'route':
        out.push(`${t(s.time_ns)}  router ${s.router}: in ${s.in}, to ${s.dst}: route ${s.route} via ${s.via} out ${s.out}`);
        break;
    }
  }
  out.push(r.delivered.length ? `delivered to: ${[...new Set(r.delivered)].join(', ')}` : 'delivered to: nobody');
  return `${out.join('\n')}\n`;
}

