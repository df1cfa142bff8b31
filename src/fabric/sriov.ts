/**
 * SR-IOV in the fabric (issue 6): the bridge between the topology (`hosts.*.nics`, interfaces
 * with `model: vf`, scenario `vf:` / `sriov:` steps) and the device model in `src/sriov/`.
 *
 * The fabric builder calls, in this order:
 *   1. `validateSriov(model)` (from `vfab validate` and before building): every configuration
 *      error, positioned — VF index ≥ num_vfs, num_vfs > total_vfs, a VF handed to two VMs, qos
 *      or proto without vlan, min rate above max, knobs the NIC model's driver refuses, switchdev
 *      without a bridge, and the scenario's `vf:`/`sriov:` steps replayed in time order with the
 *      kernel's sriov_numvfs rules (EBUSY, ERANGE, EPERM while VFs are assigned). Duplicate VF
 *      MACs are reported by `topology/` (one MAC namespace for the whole fabric).
 *   2. `buildSriov(ctx)` after bridges, before links and VMs: PFs, VFs, ports (`hv1.pf0.uplink`,
 *      `hv1.pf0.vfN`), and with `bridge:` a port `hv1.br0.pf0` on that bridge: in switchdev mode
 *      the uplink representor (plus one representor per VF, `hv1.br0.pf0vf0`), in legacy mode
 *      the PF netdev itself, reached from VFs through the VEB for its MAC and its `fdb:` MACs.
 *   3. `attachVf(ctx, vm, iface)`: the VF (a GuestNic) for a `model: vf` interface. An interface
 *      `mac` is programmed through the PF, as libvirt does for `<interface type='hostdev'>`;
 *      `spoof_mac` makes the guest forge that source MAC on every frame (a MAC-spoofing guest).
 *   4. `applySriovAction(ctx, step)` at a step's time.
 *
 * The PFs of a built fabric are found with `sriovNics(ctx)` (used by `vfab nic`), and the run
 * summary gets a `nics` section (per PF: mode, path counters, per-VF config and counters); VF port
 * counters are under `ports["hv1.pf0.vfN"]` like every port.
 */
import { UserError } from '../errors.js';
import type { GuestNic } from '../port/nic.js';
import { connect, type Frame, type Port } from '../port/port.js';
import {
  NIC_MODELS, PhysicalFunction, applyKnobs, defaultVfConfig, isNicModel, type EswitchMode, type NicCaps, type VfConfig, type VfKnobs,
  type VirtualFunction,
} from '../sriov/index.js';
import type { InterfaceModel, NumVfsAction, PfModel, ScenarioStep, TopologyModel, VfAction, VmModel } from '../topology/model.js';
import type { VfConfigDoc } from '../topology/schema.js';
import { nearest, type YamlPath } from '../util/yaml-source.js';
import { formatMac, isMulticastMac, parseMac } from '../wire/mac.js';
import type { BuildContext } from './context.js';
import type { FabricFeature } from './feature.js';

const registry = new WeakMap<BuildContext, Map<string, PhysicalFunction>>();

/** The PFs of a built fabric by path (`hv1.pf0`), in topology order. */
export function sriovNics(ctx: BuildContext): ReadonlyMap<string, PhysicalFunction> {
  return registry.get(ctx) ?? new Map();
}

function knobsOf(doc: VfConfigDoc | Record<string, unknown>): VfKnobs {
  const k: VfKnobs = {};
  const d = doc as Record<string, unknown>;
  for (const key of ['mac', 'vlan', 'qos', 'proto', 'spoofchk', 'trust', 'state', 'max_tx_rate', 'min_tx_rate'] as const) {
    if (d[key] !== undefined) (k as Record<string, unknown>)[key] = d[key];
  }
  return k;
}

/** The raw `spoof_mac` of an interface (a guest behaviour, not device config). */
function spoofMacText(model: TopologyModel, iface: InterfaceModel): string | undefined {
  const v = (model.doc.vms?.[iface.vm]?.interfaces?.[iface.name] as { spoof_mac?: unknown } | undefined)?.spoof_mac;
  return typeof v === 'string' ? v : undefined;
}

interface PfPlan {
  pf: PfModel;
  model: string;
  caps: NicCaps;
  total: number;
  num: number;
  mode: EswitchMode;
  /** Config per VF index as the topology sets it (the scenario replay mutates a copy). */
  configs: Map<number, VfConfig>;
  /** VF index → owner interface path. */
  assigned: Map<number, { owner: string; yaml: YamlPath }>;
}

/** All SR-IOV configuration errors in `model` (empty when fine). */
export function validateSriov(model: TopologyModel): UserError[] {
  const errors: UserError[] = [];
  const src = model.source;
  const err = (code: string, yaml: YamlPath, msg: string, hint?: string): void => {
    errors.push(src.error(code, yaml, msg, hint ? { hint } : {}));
  };
  const plans = new Map<string, PfPlan>();

  for (const h of model.hosts) {
    for (const n of h.nics) {
      const d = n.doc;
      const modelName = d.model ?? 'generic';
      const caps = NIC_MODELS[isNicModel(modelName) ? modelName : 'generic'];
      let total = d.total_vfs ?? caps.totalVfs;
      if (d.total_vfs !== undefined && d.total_vfs > caps.totalVfs) {
        err('SRIOV_TOTAL_VFS', [...n.yaml, 'total_vfs'], `total_vfs ${d.total_vfs} exceeds the ${modelName} hardware maximum of ${caps.totalVfs} (a driver can lower sriov_totalvfs, not raise it)`);
        total = caps.totalVfs;
      }
      const num = d.num_vfs ?? 0;
      if (num > total) {
        err('SRIOV_NUMVFS_RANGE', [...n.yaml, 'num_vfs'], `num_vfs ${num} is more than total_vfs ${total}: the kernel refuses it (echo ${num} > sriov_numvfs: ERANGE)`);
      }
      const mode: EswitchMode = d.eswitch ?? 'legacy';
      if (mode === 'switchdev') {
        if (!caps.switchdev) err('SRIOV_SWITCHDEV_UNSUPPORTED', [...n.yaml, 'eswitch'], `${modelName} has no switchdev eswitch mode (devlink: Operation not supported)`, 'use model mlx5 or ice for switchdev');
        if (d.bridge === undefined) {
          err('SRIOV_NEEDS_BRIDGE', [...n.yaml, 'eswitch'], 'eswitch: switchdev needs "bridge": the host bridge that gets the VF representor ports');
        } else if (!h.bridges.some((b) => b.name === d.bridge)) {
          const near = nearest(d.bridge, h.bridges.map((b) => b.name));
          err('SRIOV_UNKNOWN_BRIDGE', [...n.yaml, 'bridge'], `unknown bridge "${d.bridge}" on host ${h.name}${near ? ` (did you mean "${near}"?)` : ''}`);
        }
        if (d.fdb !== undefined) err('SRIOV_FDB_SWITCHDEV', [...n.yaml, 'fdb'], '"fdb" applies to eswitch: legacy (in switchdev mode the bridge switches VF traffic)');
        if (d.hwmode !== undefined) err('SRIOV_HWMODE_SWITCHDEV', [...n.yaml, 'hwmode'], 'hwmode (veb|vepa) applies to eswitch: legacy; in switchdev mode the bridge switches VF traffic');
      } else {
        if (d.fdb !== undefined && d.bridge === undefined) {
          err('SRIOV_FDB_NEEDS_BRIDGE', [...n.yaml, 'fdb'], '"fdb" lists MACs behind the PF netdev: give the PF a "bridge" to plug its netdev into');
        }
        if (d.hwmode === 'vepa' && !caps.vepa) err('SRIOV_VEPA_UNSUPPORTED', [...n.yaml, 'hwmode'], `${modelName} does not support hwmode vepa`);
      }
      const configs = new Map<number, VfConfig>();
      for (const [k, v] of Object.entries(d.vfs ?? {})) {
        const i = Number(k);
        if (i >= num) {
          err('SRIOV_VF_INDEX', [...n.yaml, 'vfs', k], `VF ${i} does not exist: num_vfs is ${num}${num > 0 ? ` (VFs 0..${num - 1})` : ''}`, `raise num_vfs to at least ${i + 1}`);
          continue;
        }
        const { config, problems } = applyKnobs(defaultVfConfig(), knobsOf(v), { caps, model: modelName, mode });
        for (const p of problems) err(p.code, [...n.yaml, 'vfs', k, p.field], `${n.path} VF ${i}: ${p.message} (${p.errno})`);
        configs.set(i, config);
      }
      plans.set(n.path, { pf: n, model: modelName, caps, total, num, mode, configs, assigned: new Map() });
    }
  }

  for (const vm of model.vms) {
    for (const iface of vm.interfaces) {
      const spoof = spoofMacText(model, iface);
      if (iface.model !== 'vf') {
        if (spoof !== undefined) err('SRIOV_SPOOF_MAC', [...iface.yaml, 'spoof_mac'], 'spoof_mac applies to model: vf interfaces (it shows SR-IOV spoof checking)');
        continue;
      }
      if (spoof !== undefined && isMulticastMac(parseMac(spoof))) err('SRIOV_SPOOF_MAC', [...iface.yaml, 'spoof_mac'], `spoof_mac ${spoof} must be a unicast MAC`);
      if (iface.nic === undefined || iface.vf === undefined) continue; // topology/ reported it
      const plan = plans.get(`${vm.host}.${iface.nic}`);
      if (!plan) continue;
      if (iface.vf >= plan.num) {
        err('SRIOV_VF_INDEX', [...iface.yaml, 'vf'], `${plan.pf.path} has no VF ${iface.vf}: num_vfs is ${plan.num}${plan.num > 0 ? ` (VFs 0..${plan.num - 1})` : ''}`);
        continue;
      }
      const prev = plan.assigned.get(iface.vf);
      if (prev) {
        const at = src.locate(prev.yaml);
        err('SRIOV_VF_ASSIGNED_TWICE', [...iface.yaml, 'vf'], `${plan.pf.path}.vf${iface.vf} is already given to ${prev.owner} (line ${at.line}): a VF is passed through to one VM`);
        continue;
      }
      plan.assigned.set(iface.vf, { owner: iface.path, yaml: [...iface.yaml, 'vf'] });
      const adminMac = plan.configs.get(iface.vf)?.mac ?? 0;
      if (!iface.macGenerated && adminMac !== 0 && adminMac !== iface.mac) {
        err('SRIOV_MAC_CONFLICT', [...iface.yaml, 'mac'], `${iface.path} mac ${iface.macText} differs from ${plan.pf.path} vfs.${iface.vf}.mac ${formatMac(adminMac)}: set the VF MAC in one place`);
      }
    }
  }

  // Replay the scenario's SR-IOV steps in time order with the kernel's rules.
  const steps = model.scenario
    .filter((s) => s.action.kind === 'vf' || s.action.kind === 'sriov')
    .sort((a, b) => a.atNs - b.atNs || a.index - b.index);
  const state = new Map<string, { num: number; configs: Map<number, VfConfig> }>();
  for (const [path, p] of plans) state.set(path, { num: p.num, configs: new Map(p.configs) });
  for (const s of steps) {
    const act = s.action as VfAction | NumVfsAction;
    const y = [...s.yaml, act.kind];
    const plan = plans.get(act.doc.nic);
    const st = state.get(act.doc.nic);
    if (!plan || !st) {
      const near = nearest(act.doc.nic, [...plans.keys()]);
      err('SRIOV_UNKNOWN_NIC', [...y, 'nic'], `unknown SR-IOV NIC "${act.doc.nic}"${near ? ` (did you mean "${near}"?)` : plans.size === 0 ? ' (no hosts.*.nics are declared)' : ''}`);
      continue;
    }
    if (act.kind === 'sriov') {
      const n = act.doc.num_vfs;
      if (n > plan.total) err('SRIOV_NUMVFS_RANGE', [...y, 'num_vfs'], `num_vfs ${n} is more than total_vfs ${plan.total} (ERANGE)`);
      else if (n === st.num) continue;
      else if (n === 0) {
        const used = [...plan.assigned.values()].map((a) => a.owner);
        if (used.length > 0) err('SRIOV_VFS_ASSIGNED', [...y, 'num_vfs'], `cannot disable the VFs of ${plan.pf.path} while ${used.join(', ')} use them (EPERM)`);
        else {
          st.num = 0;
          st.configs.clear();
        }
      } else if (st.num !== 0) {
        err('SRIOV_NUMVFS_BUSY', [...y, 'num_vfs'], `${st.num} VFs already enabled on ${plan.pf.path}. Disable before enabling ${n} VFs (EBUSY)`, 'add a step with num_vfs: 0 first, as with sysfs');
      } else st.num = n;
      continue;
    }
    const i = act.doc.vf;
    if (i >= st.num) {
      err('SRIOV_VF_INDEX', [...y, 'vf'], `${plan.pf.path} has no VF ${i} at this time: num_vfs is ${st.num}`);
      continue;
    }
    const { config, problems } = applyKnobs(st.configs.get(i) ?? defaultVfConfig(), knobsOf(act.doc), { caps: plan.caps, model: plan.model, mode: plan.mode });
    for (const p of problems) err(p.code, [...y, p.field], `${plan.pf.path} VF ${i}: ${p.message} (${p.errno})`);
    st.configs.set(i, config);
  }
  return errors;
}

function located(ctx: BuildContext, yaml: YamlPath, e: unknown): unknown {
  if (e instanceof UserError && !e.location) return ctx.source.error(e.code, yaml, e.message, e.hint ? { hint: e.hint } : {});
  return e;
}

/** Builds PFs, VFs, VEBs and representors; registers their ports. */
export function buildSriov(ctx: BuildContext): void {
  const map = new Map<string, PhysicalFunction>();
  registry.set(ctx, map);
  for (const h of ctx.model.hosts) {
    for (const n of h.nics) {
      const d = n.doc;
      let pf: PhysicalFunction;
      try {
        pf = new PhysicalFunction({
          path: n.path,
          sim: ctx.sim,
          model: d.model ?? 'generic',
          ...(d.total_vfs !== undefined ? { totalVfs: d.total_vfs } : {}),
          eswitchMode: d.eswitch ?? 'legacy',
          hwmode: d.hwmode ?? 'veb',
          ...(d.mac !== undefined ? { mac: d.mac } : {}),
          events: ctx.events,
        });
        pf.setNumVfs(d.num_vfs ?? 0);
      } catch (e) {
        throw located(ctx, n.yaml, e);
      }
      for (const [k, v] of Object.entries(d.vfs ?? {})) {
        try {
          pf.configureVf(Number(k), knobsOf(v));
        } catch (e) {
          throw located(ctx, [...n.yaml, 'vfs', k], e);
        }
      }
      ctx.registerPort(pf.uplink);
      // No cable on the uplink = no carrier (NO-CARRIER in ip link): VFs in link-state auto are
      // down with it, as on real NICs; `state: enable` keeps VF-to-VF traffic up.
      if (!ctx.model.links.some((l) => l.a === n.uplinkPath || l.b === n.uplinkPath)) pf.setLinkUp(false);
      map.set(n.path, pf);
      if (d.bridge !== undefined) {
        // switchdev: the uplink representor; legacy: the PF netdev, one more VEB endpoint.
        const br = ctx.bridges.get(`${h.name}.${d.bridge}`);
        if (br) {
          const bp = br.addPort({ name: pf.name });
          connect(bp, pf.eswitchMode === 'switchdev' ? pf.uplinkRepresentor() : pf.hostPort());
          ctx.registerPort(bp);
        }
        for (const m of d.fdb ?? []) pf.addHostFdb(parseMac(m));
      }
      syncPorts(ctx, pf, h.name);
    }
  }
}

/** Registers VF ports and (switchdev) adds representor bridge ports not seen yet. */
function syncPorts(ctx: BuildContext, pf: PhysicalFunction, host: string): void {
  const pm = ctx.model.hosts.find((h) => h.name === host)?.nics.find((n) => n.path === pf.path);
  const br = pm?.doc.bridge !== undefined ? ctx.bridges.get(`${host}.${pm.doc.bridge}`) : undefined;
  for (const vf of pf.vfs) {
    if (ctx.ports.get(vf.port.path) === undefined) ctx.registerPort(vf.port);
    if (pf.eswitchMode === 'switchdev' && br && br.portByName(pf.representorName(vf.index)) === undefined) {
      const bp = br.addPort({ name: pf.representorName(vf.index) });
      connect(bp, pf.representor(vf.index));
      ctx.registerPort(bp);
    }
  }
}

/** A guest that forges its source MAC: every frame leaves with `spoofMac` as source. */
class SpoofingNic implements GuestNic {
  constructor(
    private readonly vf: VirtualFunction,
    readonly mac: number,
  ) {}
  get path(): string {
    return this.vf.path;
  }
  get mtu(): number {
    return this.vf.mtu;
  }
  get port(): Port {
    return this.vf.port;
  }
  get linkUp(): boolean {
    return this.vf.linkUp;
  }
  transmit(frame: Frame): boolean {
    return this.vf.transmit(frame);
  }
  setReceiver(rx: (frame: Frame) => void): void {
    this.vf.setReceiver(rx);
  }
  onAnnounceRequest(cb: () => void): void {
    this.vf.onAnnounceRequest(cb);
  }
}

/** The GuestNic of the VF `iface` names (model: vf) for `vm`. */
export function attachVf(ctx: BuildContext, vm: VmModel, iface: InterfaceModel): GuestNic {
  const pf = sriovNics(ctx).get(`${vm.host}.${iface.nic ?? ''}`);
  if (!pf || iface.vf === undefined) throw ctx.source.error('SRIOV_UNKNOWN_NIC', [...iface.yaml, 'nic'], `VM ${vm.name}: no SR-IOV NIC "${iface.nic ?? ''}" on host ${vm.host}`);
  let vf: VirtualFunction;
  try {
    vf = pf.assignVf(iface.vf, iface.path);
    // libvirt <interface type='hostdev'><mac/>: the MAC is set through the PF (an admin MAC).
    if (!iface.macGenerated && vf.config.mac === 0) pf.configureVf(iface.vf, { mac: iface.mac });
  } catch (e) {
    throw located(ctx, [...iface.yaml, 'vf'], e);
  }
  // The same guest receive latency (interrupt + NAPI) as a virtio NIC of this topology.
  vf.rxDelayNs = iface.rxDelayNs;
  const spoof = spoofMacText(ctx.model, iface);
  return spoof !== undefined ? new SpoofingNic(vf, parseMac(spoof)) : vf;
}

/** Applies a scenario `vf:` or `sriov:` step (called at `step.atNs`). */
export function applySriovAction(ctx: BuildContext, step: ScenarioStep & { action: VfAction | NumVfsAction }): void {
  const act = step.action;
  const y = [...step.yaml, act.kind];
  const pf = sriovNics(ctx).get(act.doc.nic);
  if (!pf) throw ctx.source.error('SRIOV_UNKNOWN_NIC', [...y, 'nic'], `unknown SR-IOV NIC "${act.doc.nic}"`);
  try {
    if (act.kind === 'sriov') {
      pf.setNumVfs(act.doc.num_vfs);
      syncPorts(ctx, pf, pf.path.slice(0, pf.path.lastIndexOf('.')));
    } else {
      pf.configureVf(act.doc.vf, knobsOf(act.doc));
    }
  } catch (e) {
    throw located(ctx, y, e);
  }
}

function vfJson(pf: PhysicalFunction, vf: VirtualFunction): Record<string, unknown> {
  const c = vf.config;
  return {
    mac: formatMac(vf.mac),
    admin_mac: c.mac === 0 ? null : formatMac(c.mac),
    vlan: c.vlan,
    qos: c.qos,
    proto: c.proto,
    spoofchk: c.spoofchk,
    trust: c.trust,
    state: c.state,
    link_up: vf.linkUp,
    max_tx_rate: c.max_tx_rate,
    min_tx_rate: c.min_tx_rate,
    assigned_to: vf.assignedTo,
    ...(pf.eswitchMode === 'switchdev' ? { representor: pf.representorName(vf.index) } : {}),
    counters: pf.vfCounters(vf.index),
  };
}

/** One PF as JSON (the `nics` summary section and `vfab nic --json`). */
export function nicJson(pf: PhysicalFunction): Record<string, unknown> {
  return {
    model: pf.model,
    eswitch: pf.eswitchMode,
    hwmode: pf.hwmode,
    mac: formatMac(pf.mac),
    link_up: pf.linkUp,
    total_vfs: pf.totalVfs,
    num_vfs: pf.numVfs,
    stats: { ...pf.stats },
    vfs: Object.fromEntries(pf.vfs.map((vf) => [`vf${vf.index}`, vfJson(pf, vf)])),
  };
}

function nicsJson(map: Map<string, PhysicalFunction>): Record<string, unknown> {
  return Object.fromEntries([...map].map(([path, pf]) => [path, nicJson(pf)]));
}

/** Per-VF counter lines (`vfab nic` and the run summary). */
export function nicText(pf: PhysicalFunction): string[] {
  const s = pf.stats;
  const lines = [
    `${pf.path} (${pf.model}, ${pf.eswitchMode}${pf.eswitchMode === 'legacy' ? ` ${pf.hwmode}` : ''}): ${pf.numVfs}/${pf.totalVfs} VFs, link ${pf.linkUp ? 'up' : 'down'}; ` +
      (pf.eswitchMode === 'legacy'
        ? `veb unicast ${s.veb_unicast}, veb flood copies ${s.veb_flood_copies}, uplink tx ${s.uplink_tx} rx ${s.uplink_rx} (no VF match ${s.uplink_rx_no_vf})` +
          (s.host_tx + s.host_rx > 0 ? `, PF netdev tx ${s.host_tx} rx ${s.host_rx}` : '')
        : `representors tx ${s.representor_tx} rx ${s.representor_rx}, uplink tx ${s.uplink_tx} rx ${s.uplink_rx}`),
  ];
  for (const vf of pf.vfs) {
    const c = pf.vfCounters(vf.index);
    const where = pf.eswitchMode === 'switchdev' ? `rep ${c.tx_representor}` : `veb ${c.tx_veb}, uplink ${c.tx_uplink}`;
    const drops = Object.entries(c.drops).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(
      `  vf${vf.index} ${formatMac(vf.mac)}${vf.config.vlan ? ` vlan ${vf.config.vlan}` : ''}${vf.assignedTo ? ` -> ${vf.assignedTo}` : ''}: ` +
        `tx ${c.tx_packets} (${where}) rx ${c.rx_packets}${drops ? `; drops: ${drops}` : ''}`,
    );
  }
  return lines;
}

function nicsText(map: Map<string, PhysicalFunction>): string[] {
  return [...map.values()].flatMap((pf) => nicText(pf));
}

/** SR-IOV as a fabric feature (`feature.ts`): PFs before VMs, `vf:`/`sriov:` steps, the `nics` block. */
export const sriovFeature: FabricFeature = {
  name: 'sriov',
  summaryKey: 'nics',
  validate: validateSriov,
  build: { devices: buildSriov },
  actions: {
    vf: (ctx, step) => ctx.sim.scheduleAt(step.atNs, () => applySriovAction(ctx, step as ScenarioStep & { action: VfAction })),
    sriov: (ctx, step) => ctx.sim.scheduleAt(step.atNs, () => applySriovAction(ctx, step as ScenarioStep & { action: NumVfsAction })),
  },
  summary: (ctx) => {
    const map = registry.get(ctx);
    return map && map.size > 0 ? { json: () => nicsJson(map), text: () => nicsText(map) } : undefined;
  },
};
