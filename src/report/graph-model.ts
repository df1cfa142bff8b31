/**
 * The topology as a drawable graph: the one structure every diagram format (`vfab graph` SVG,
 * HTML, DOT, mermaid, draw.io, and the run report) is rendered from.
 *
 * Built from the validated model alone (`topology/model.ts`): a topology that never ran draws
 * the same as one that did. Shape:
 * - a host is a container node holding its bridges, VMs, PFs and the VFs VMs use;
 * - physical switches and L3 routers are top-level nodes (a router's ports are its interfaces,
 *   labelled with their address);
 * - every port is a port on its node's edge (bridge ports, switch ports, VM NICs, PF uplinks);
 * - edges are either `link` (one per `links:` entry, labelled bandwidth · delay · VLANs) or
 *   `attach` (a VM NIC plugged into its bridge tap or its VF, a VF on its PF);
 * - a VM NIC's tenant is its access VLAN tag (colour key), else untagged.
 *
 * Order is the file's order (hosts, then switches; VMs by name order in the model), so the
 * output is deterministic.
 */
import type { TopologyModel, VlanConfig } from '../topology/model.js';
import { formatRate, formatDelay } from './format.js';

export type NodeKind = 'host' | 'bridge' | 'switch' | 'router' | 'vm' | 'pf' | 'vf';

export interface GPort {
  /** The port path as in the summary (`hv1.br0.uplink`, `vm1.eth0`). */
  id: string;
  label: string;
  /** Tooltip/detail lines (VLAN mode, MAC, IP). */
  detail: string[];
  tenant?: number;
  /** Faces up towards the VMs (taps, VF attachments) rather than down towards the switches. */
  up?: boolean;
}

export interface GNode {
  id: string;
  kind: NodeKind;
  label: string;
  parent?: string;
  ports: GPort[];
  detail: string[];
  /** VLAN of the VM's first tagged NIC, for colour. */
  tenant?: number;
}

export interface GEdge {
  id: string;
  kind: 'link' | 'attach';
  /** Port ids (a port belongs to exactly one node). */
  source: string;
  target: string;
  label: string;
  tenant?: number;
}

export interface FabricGraph {
  name: string;
  nodes: GNode[];
  edges: GEdge[];
  /** Port id -> node id. */
  portOwner: Map<string, string>;
  tenants: number[];
}

export function vlanText(v: VlanConfig): string {
  const parts: string[] = [];
  if (v.tag !== undefined) parts.push(`tag ${v.tag}`);
  if (v.trunks && v.trunks.length > 0) parts.push(`trunks ${v.trunks.join(',')}`);
  if (v.vlanMode && v.vlanMode !== 'access' && v.vlanMode !== 'trunk') parts.push(v.vlanMode);
  return parts.join(' ');
}

export function buildGraph(model: TopologyModel): FabricGraph {
  const nodes: GNode[] = [];
  const edges: GEdge[] = [];
  const portOwner = new Map<string, string>();
  const portVlan = new Map<string, VlanConfig>();
  const byId = new Map<string, GNode>();
  const add = (n: GNode): GNode => {
    nodes.push(n);
    byId.set(n.id, n);
    for (const p of n.ports) portOwner.set(p.id, n.id);
    return n;
  };
  const addPort = (n: GNode, p: GPort): void => {
    if (portOwner.has(p.id)) return;
    n.ports.push(p);
    portOwner.set(p.id, n.id);
  };
  const tenants = new Set<number>();

  for (const h of model.hosts) {
    add({ id: h.name, kind: 'host', label: h.name, ports: [], detail: [`host ${h.name}`] });
    for (const b of h.bridges) {
      const detail = [`bridge ${b.path}`];
      if (b.flows) detail.push(`flows: ${b.flows.text.split('\n').filter((l) => l.trim()).length} rules`);
      const n = add({ id: b.path, kind: 'bridge', label: b.name, parent: h.name, ports: [], detail });
      for (const p of b.ports) {
        addPort(n, { id: p.path, label: p.name, detail: [p.path, vlanText(p.vlan)].filter((x) => x) });
        portVlan.set(p.path, p.vlan);
      }
    }
    for (const pf of h.nics) {
      const d = pf.doc;
      const n = add({ id: pf.path, kind: 'pf', label: pf.name, parent: h.name, ports: [], detail: [`PF ${pf.path}`, `model ${d.model ?? 'generic'}`, `eswitch ${d.eswitch ?? 'legacy'}`, `num_vfs ${d.num_vfs ?? 0}`] });
      addPort(n, { id: pf.uplinkPath, label: 'uplink', detail: [pf.uplinkPath] });
    }
  }
  for (const s of model.switches) {
    const n = add({ id: s.path, kind: 'switch', label: s.name, ports: [], detail: [`switch ${s.path}`] });
    for (const p of s.ports) {
      addPort(n, { id: p.path, label: p.name, detail: [p.path, vlanText(p.vlan)].filter((x) => x) });
      portVlan.set(p.path, p.vlan);
    }
  }
  for (const r of model.routers ?? []) {
    const routes = r.routes.map((rt) => `route ${ipText(rt.network)}/${rt.prefixLength} via ${rt.via.map(ipText).join(', ')}`);
    const n = add({ id: r.name, kind: 'router', label: r.name, ports: [], detail: [`router ${r.name}`, ...routes] });
    for (const i of r.interfaces) addPort(n, { id: i.path, label: i.name, detail: [i.path, ...(i.ipv4 ? [i.ipv4.text] : i.ipv6 ? [i.ipv6.text] : []), `mtu ${i.mtu}`] });
  }
  for (const vm of model.vms) {
    const tagged = vm.interfaces.find((i) => i.vlan.tag !== undefined);
    const vmNode = add({
      id: vm.name,
      kind: 'vm',
      label: vm.name,
      parent: vm.host,
      ports: [],
      detail: [`VM ${vm.name} on ${vm.host}`, ...(vm.memoryBytes !== undefined ? [`memory ${vm.memoryBytes} bytes`] : []), ...vm.disks.map((d) => `disk ${d.name}`)],
      ...(tagged?.vlan.tag !== undefined ? { tenant: tagged.vlan.tag } : {}),
    });
    for (const i of vm.interfaces) {
      const tenant = i.vlan.tag;
      if (tenant !== undefined) tenants.add(tenant);
      const detail = [i.path, `${i.model} ${i.macText}`, ...(i.ipv4 ? [i.ipv4.text] : []), ...i.ipv6, vlanText(i.vlan)].filter((x) => x);
      addPort(vmNode, { id: i.path, label: i.name, detail, ...(tenant !== undefined ? { tenant } : {}) });
      if (i.model === 'virtio' && i.bridgePath !== undefined) {
        const br = byId.get(i.bridgePath);
        if (!br) continue;
        const tap = `${i.bridgePath}.${i.bridgePortName}`;
        addPort(br, { id: tap, up: true, label: i.bridgePortName, detail: [tap, vlanText(i.vlan)].filter((x) => x), ...(tenant !== undefined ? { tenant } : {}) });
        edges.push({ id: `attach:${i.path}`, kind: 'attach', source: i.path, target: tap, label: '', ...(tenant !== undefined ? { tenant } : {}) });
      } else if (i.model === 'vf' && i.nic !== undefined && i.vf !== undefined) {
        const pfPath = `${vm.host}.${i.nic}`;
        const pf = byId.get(pfPath);
        if (!pf) continue;
        const vfId = `${pfPath}.vf${i.vf}`;
        const vfCfg = pf.kind === 'pf' ? model.hosts.find((h) => h.name === vm.host)?.nics.find((n) => n.name === i.nic)?.doc.vfs?.[String(i.vf)] : undefined;
        const vfTenant = vfCfg?.vlan !== undefined && vfCfg.vlan !== 0 ? vfCfg.vlan : tenant;
        if (vfTenant !== undefined) tenants.add(vfTenant);
        let vf = byId.get(vfId);
        if (!vf) {
          vf = add({ id: vfId, kind: 'vf', label: `vf${i.vf}`, parent: vm.host, ports: [], detail: [`VF ${vfId}`, ...(vfCfg?.vlan !== undefined ? [`vlan ${vfCfg.vlan}`] : [])], ...(vfTenant !== undefined ? { tenant: vfTenant } : {}) });
          addPort(vf, { id: `${vfId}:vm`, up: true, label: '', detail: [vfId] });
          addPort(vf, { id: `${vfId}:pf`, label: '', detail: [vfId] });
          const pfPort = `${pfPath}:vf${i.vf}`;
          addPort(pf, { id: pfPort, up: true, label: `vf${i.vf}`, detail: [vfId] });
          edges.push({ id: `attach:${vfId}`, kind: 'attach', source: `${vfId}:pf`, target: pfPort, label: '' });
        }
        if (vfTenant !== undefined && vmNode.tenant === undefined) vmNode.tenant = vfTenant;
        edges.push({ id: `attach:${i.path}`, kind: 'attach', source: i.path, target: `${vfId}:vm`, label: '', ...(vfTenant !== undefined ? { tenant: vfTenant } : {}) });
      }
    }
  }
  for (const l of model.links) {
    for (const end of [l.a, l.b]) {
      if (portOwner.has(end)) continue;
      // A link end the graph has no port for yet (a VM NIC wired straight to a link): put it on
      // the node whose id is the longest prefix of the path.
      const owner = [...byId.keys()].filter((id) => end.startsWith(`${id}.`)).sort((x, y) => y.length - x.length)[0];
      if (owner !== undefined) addPort(byId.get(owner)!, { id: end, label: end.slice(owner.length + 1), detail: [end] });
    }
    if (!portOwner.has(l.a) || !portOwner.has(l.b)) continue;
    const vlans = [portVlan.get(l.a), portVlan.get(l.b)].map((v) => (v ? vlanText(v) : '')).filter((x) => x);
    const uniq = [...new Set(vlans)];
    const label = [formatRate(l.bandwidthBps), formatDelay(l.delayNs), ...uniq, ...(l.loss > 0 ? [`loss ${+(l.loss * 100).toFixed(3)}%`] : [])].join(' · ');
    edges.push({ id: l.name, kind: 'link', source: l.a, target: l.b, label });
  }
  return { name: model.name, nodes, edges, portOwner, tenants: [...tenants].sort((a, b) => a - b) };
}

const ipText = (a: number): string => [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');

/** Stable colour per tenant (VLAN id), from a palette legible on white. */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
export function tenantColor(graph: FabricGraph, tenant: number | undefined): string {
  if (tenant === undefined) return '#555555';
  const i = graph.tenants.indexOf(tenant);
  return PALETTE[(i < 0 ? tenant : i) % PALETTE.length]!;
}
