/**
 * Semantic validation: turns the schema-checked document into a `TopologyModel`, checking what a
 * schema cannot: names, references between parts of the file, duplicates, and the combinations
 * of keys that only make sense together. Every problem becomes a `UserError` at the offending
 * node, and all of them are collected so a user fixes the file in one pass.
 *
 * Checks (codes are `TOPOLOGY_*`): BAD_NAME, DUPLICATE_NAME, UNKNOWN_HOST, UNKNOWN_BRIDGE,
 * UNKNOWN_PORT, UNKNOWN_VM, UNKNOWN_NIC, PORT_LINKED_TWICE, LINK_LOOPBACK, NOT_LINKABLE,
 * DUPLICATE_PORT, DUPLICATE_MAC, MULTICAST_MAC, DUPLICATE_IP, VLAN_CONFIG, INTERFACE_CONFIG,
 * FLOWS_CONFIG, SCENARIO_ACTION, NO_ADDRESS.
 */
import { UserError, type SourceLocation } from '../errors.js';
import { nearest, type YamlPath, type YamlSource } from '../util/yaml-source.js';
import { scalarSourceMap } from '../util/yaml-scalar-map.js';
import { isMap, isScalar, Scalar, type Node } from 'yaml';
import {
  DEFAULTS,
  type BridgeModel,
  type BridgePortModel,
  type FlowsSpec,
  type HostModel,
  type InterfaceModel,
  type LinkModel,
  type PortDecl,
  type PortKind,
  type ScenarioAction,
  type ScenarioStep,
  type TopologyModel,
  type VlanConfig,
  type VmModel,
} from './model.js';
import { resolveRouters } from './routers.js';
import { topologyPath } from './paths.js';
import { checkTunnelHost, resolveTunnelPort, resolveUnderlay } from './tunnels.js';
import { resolveHostInterfaces } from './host-interfaces.js';
import { l2Segments, type L2Segments } from './l2-segments.js';
import { openflowModel } from './openflow.js';
import { NAME_RE, SCENARIO_ACTIONS, type PortDoc, type SwitchDoc, type BridgeDoc, type InterfaceDoc, type TopologyDoc } from './schema.js';

export interface ResolveOptions {
  /** Topology name when the file has none (the file name without extension). */
  defaultName: string;
  /** Reads a file referenced by the topology (`flows_file`), relative to the topology file. */
  readFile?: (relPath: string) => { text: string; file: string };
  /** The raw text of the topology file (to place inline flow blocks exactly). */
  text: string;
}

function macFromText(s: string): number {
  return parseInt(s.replace(/:/g, ''), 16);
}

export function formatMacText(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return hex.match(/../g)!.join(':');
}

function ipv4FromText(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

const IPV4_RE = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

class Resolver {
  readonly errors: UserError[] = [];
  readonly ports = new Map<string, PortDecl>();
  /** Top-level node names (hosts, switches, VMs) → where declared. */
  private nodes = new Map<string, YamlPath>();

  constructor(
    readonly source: YamlSource,
    readonly doc: TopologyDoc,
    readonly opts: ResolveOptions,
  ) {}

  err(code: string, path: YamlPath, message: string, o: { key?: boolean; hint?: string } = {}): void {
    this.errors.push(this.source.error(`TOPOLOGY_${code}`, path, message, o));
  }

  checkName(kind: string, name: string, path: YamlPath): boolean {
    if (NAME_RE.test(name)) return true;
    this.err('BAD_NAME', path, `${kind} name "${name}" must start with a letter or _ and use only letters, digits, _ and - (dots separate port paths)`, { key: true });
    return false;
  }

  declareNode(kind: string, name: string, path: YamlPath): void {
    if (!this.checkName(kind, name, path)) return;
    const prev = this.nodes.get(name);
    if (prev) {
      const at = this.source.locate(prev, { key: true });
      this.err('DUPLICATE_NAME', path, `${kind} name "${name}" is already used at line ${at.line} (hosts, switches and VMs share one namespace)`, { key: true });
      return;
    }
    this.nodes.set(name, path);
  }

  declarePort(path: string, kind: PortKind, linkable: boolean, yaml: YamlPath): void {
    const prev = this.ports.get(path);
    if (prev) {
      const at = this.source.locate(prev.yaml, { key: true });
      this.err('DUPLICATE_PORT', yaml, `port path "${path}" is already declared at line ${at.line}`, { key: true });
      return;
    }
    this.ports.set(path, { path, kind, linkable, yaml });
  }

  vlan(doc: { vlan_mode?: VlanConfig['vlanMode'] | undefined; tag?: number | undefined; trunks?: number[] | undefined }, yaml: YamlPath): VlanConfig {
    const v: VlanConfig = {};
    if (doc.vlan_mode !== undefined) v.vlanMode = doc.vlan_mode;
    if (doc.tag !== undefined) v.tag = doc.tag;
    if (doc.trunks !== undefined) v.trunks = doc.trunks;
    const mode = doc.vlan_mode ?? (doc.tag !== undefined ? 'access' : 'trunk');
    if (mode === 'access' && doc.trunks !== undefined && doc.trunks.length > 0) {
      this.err('VLAN_CONFIG', [...yaml, 'trunks'], `an access port carries one VLAN; "trunks" needs vlan_mode trunk, native-tagged or native-untagged`);
    }
    if (mode === 'access' && doc.vlan_mode === 'access' && doc.tag === undefined) {
      this.err('VLAN_CONFIG', [...yaml, 'vlan_mode'], `vlan_mode access needs a "tag"`);
    }
    if ((mode === 'native-tagged' || mode === 'native-untagged') && doc.tag === undefined) {
      this.err('VLAN_CONFIG', [...yaml, 'vlan_mode'], `vlan_mode ${mode} needs a "tag" (the native VLAN)`);
    }
    if (mode === 'trunk' && doc.tag !== undefined) {
      this.err('VLAN_CONFIG', [...yaml, 'tag'], `a trunk port has no "tag"; use vlan_mode native-tagged or native-untagged for a native VLAN`);
    }
    return v;
  }

  flows(doc: BridgeDoc | SwitchDoc, yaml: YamlPath): FlowsSpec | undefined {
    if (doc.flows !== undefined && doc.flows_file !== undefined) {
      this.err('FLOWS_CONFIG', [...yaml, 'flows_file'], `give either "flows" or "flows_file", not both`, { key: true });
      return undefined;
    }
    if (doc.flows !== undefined) return { text: doc.flows, origin: this.scalarOrigin([...yaml, 'flows']) };
    if (doc.flows_file !== undefined) {
      if (!this.opts.readFile) {
        this.err('FLOWS_CONFIG', [...yaml, 'flows_file'], `"flows_file" needs a topology loaded from a file`);
        return undefined;
      }
      try {
        const f = this.opts.readFile(doc.flows_file);
        return { text: f.text, origin: { file: f.file, line: 1, col: 1 } };
      } catch (e) {
        // a file-system problem is a user error naming the file; anything else is a bug and propagates
        if (!(e instanceof UserError)) throw e;
        this.err('READ', [...yaml, 'flows_file'], `flows file "${doc.flows_file}": ${e.message}`, e.hint ? { hint: e.hint } : {});
        return undefined;
      }
    }
    return undefined;
  }

  /**
   * Where a scalar's text is: its first character, plus a map from every offset of its value to
   * the source (folded, quoted and `|N` scalars do not keep the value's lines and columns).
   */
  scalarOrigin(path: YamlPath): FlowsSpec['origin'] {
    const origin = this.blockOrigin(path);
    const node = this.nodeAt(path);
    if (!node || !isScalar(node)) return origin;
    const key = this.source.locate(path, { key: true });
    const map = scalarSourceMap(this.opts.text, node, key.col - 1);
    if (!map) return origin;
    const lines = this.lineStarts();
    return {
      ...origin,
      position: (offset) => {
        const o = map(offset);
        // binary search of the line holding source offset o
        let lo = 0;
        let hi = lines.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (lines[mid]! <= o) lo = mid;
          else hi = mid - 1;
        }
        return { line: lo + 1, col: o - lines[lo]! + 1 };
      },
    };
  }

  private starts: number[] | undefined;
  private lineStarts(): number[] {
    if (!this.starts) {
      const t = this.opts.text;
      const s = [0];
      for (let i = t.indexOf('\n'); i >= 0; i = t.indexOf('\n', i + 1)) s.push(i + 1);
      this.starts = s;
    }
    return this.starts;
  }

  /** Position of the first character of a scalar's content (block scalars start on the next line). */
  blockOrigin(path: YamlPath): SourceLocation {
    const loc = this.source.locate(path);
    const node = this.nodeAt(path);
    if (node && isScalar(node) && (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED)) {
      const lines = this.opts.text.split('\n');
      // The content starts on the first non-empty line after the header line.
      for (let l = loc.line; l < lines.length; l++) {
        const line = lines[l]!;
        if (line.trim() === '') continue;
        return { file: loc.file, line: l + 1, col: line.length - line.trimStart().length + 1 };
      }
    }
    if (node && isScalar(node) && (node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE)) {
      return { ...loc, col: loc.col + 1 };
    }
    return loc;
  }

  private nodeAt(path: YamlPath): Node | undefined {
    let node: unknown = this.source.doc.contents;
    for (const seg of path) {
      if (!isMap(node)) return undefined;
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) return undefined;
      node = pair.value;
    }
    return node as Node | undefined;
  }

  bridgePorts(ownerPath: string, ports: Record<string, PortDoc> | undefined, yaml: YamlPath, kind: PortKind): BridgePortModel[] {
    const out: BridgePortModel[] = [];
    for (const [pname, pdoc] of Object.entries(ports ?? {})) {
      const py = [...yaml, 'ports', pname];
      if (!this.checkName('port', pname, py)) continue;
      const path = `${ownerPath}.${pname}`;
      this.declarePort(path, kind, true, py);
      const p: BridgePortModel = { name: pname, path, vlan: this.vlan(pdoc, py), yaml: py };
      if (pdoc.ofport !== undefined) p.ofport = pdoc.ofport;
      const tunnel = resolveTunnelPort(this, pdoc, py);
      if (tunnel) p.tunnel = tunnel;
      out.push(p);
    }
    return out;
  }

  bridge(name: string, path: string, host: string | undefined, doc: BridgeDoc | SwitchDoc, yaml: YamlPath): BridgeModel {
    const b: BridgeModel = {
      name,
      path,
      kind: host === undefined ? 'switch' : 'bridge',
      ports: this.bridgePorts(path, doc.ports, yaml, host === undefined ? 'switch-port' : 'bridge-port'),
      yaml,
    };
    if (host !== undefined) b.host = host;
    const flows = this.flows(doc, yaml);
    if (flows) b.flows = flows;
    if (doc.groups !== undefined) b.groups = { text: doc.groups, origin: this.scalarOrigin([...yaml, 'groups']) };
    if (doc.meters !== undefined) b.meters = { text: doc.meters, origin: this.scalarOrigin([...yaml, 'meters']) };
    if (doc.mac_aging !== undefined) b.macAgingNs = doc.mac_aging;
    if (doc.mac_table_size !== undefined) b.macTableSize = doc.mac_table_size;
    const of = 'fail_mode' in doc || 'controller' in doc || 'datapath_id' in doc ? openflowModel(doc) : undefined;
    if (of) b.openflow = of;
    // A session uses the highest version both sides allow (OpenFlow10 → 10 … OpenFlow15 → 15).
    if (doc.protocols !== undefined) b.protocols = Math.max(...doc.protocols.map((v) => 10 + Number(v.slice(-1)))) as BridgeModel['protocols'] & number;
    if (doc.strict !== undefined) b.strict = doc.strict;
    if (doc.tlv_map !== undefined) b.tlvMap = doc.tlv_map;
    if ('datapath_type' in doc && doc.datapath_type !== undefined) b.datapathType = doc.datapath_type;
    return b;
  }

  resolve(): TopologyModel {
    const doc = this.doc;
    const hosts: HostModel[] = [];
    for (const [hname, hdoc] of Object.entries(doc.hosts ?? {})) {
      const hy = ['hosts', hname];
      this.declareNode('host', hname, hy);
      const h: HostModel = { name: hname, bridges: [], nics: [], yaml: hy };
      const local = new Map<string, YamlPath>();
      const localName = (kind: string, n: string, y: YamlPath): boolean => {
        if (!this.checkName(kind, n, y)) return false;
        const prev = local.get(n);
        if (prev) {
          this.err('DUPLICATE_NAME', y, `"${n}" is already a bridge or NIC on host ${hname}`, { key: true });
          return false;
        }
        local.set(n, y);
        return true;
      };
      for (const [bname, bdoc] of Object.entries(hdoc.bridges ?? {})) {
        const by = [...hy, 'bridges', bname];
        if (!localName('bridge', bname, by)) continue;
        h.bridges.push(this.bridge(bname, `${hname}.${bname}`, hname, bdoc, by));
      }
      for (const [nname, ndoc] of Object.entries(hdoc.nics ?? {})) {
        const ny = [...hy, 'nics', nname];
        if (!localName('NIC', nname, ny)) continue;
        const path = `${hname}.${nname}`;
        const uplinkPath = `${path}.uplink`;
        this.declarePort(uplinkPath, 'pf-uplink', true, ny);
        for (let i = 0; i < (ndoc.num_vfs ?? 0); i++) this.declarePort(`${path}.vf${i}`, 'vf', false, ny);
        h.nics.push({ name: nname, host: hname, path, uplinkPath, doc: ndoc, yaml: ny });
        if (ndoc.bridge !== undefined && !h.bridges.some((b) => b.name === ndoc.bridge)) {
          this.unknown('UNKNOWN_BRIDGE', [...ny, 'bridge'], 'bridge', ndoc.bridge, h.bridges.map((b) => b.name), `on host ${hname}`);
        }
        this.checkMacText(ndoc.mac, [...ny, 'mac']);
        for (const [vi, vdoc] of Object.entries(ndoc.vfs ?? {})) this.checkMacText(vdoc.mac, [...ny, 'vfs', vi, 'mac']);
      }
      const underlay = resolveUnderlay(this, hname, hosts.length + 1, hdoc.underlay, hy);
      if (underlay) h.underlay = underlay;
      resolveHostInterfaces(this, h, hosts.length + 1, hdoc.interfaces, hy);
      checkTunnelHost(this, h);
      hosts.push(h);
    }

    const switches: BridgeModel[] = [];
    for (const [sname, sdoc] of Object.entries(doc.switches ?? {})) {
      const sy = ['switches', sname];
      this.declareNode('switch', sname, sy);
      switches.push(this.bridge(sname, sname, undefined, sdoc, sy));
    }

    const routers = resolveRouters(this, doc);
    const vms = this.vms(doc, hosts);
    const links = this.links(doc);
    const scenario = this.scenario(doc, vms);
    this.checkDuplicates(hosts, vms, l2Segments(hosts, switches, links, vms));

    const capture = {
      ports: doc.capture?.ports ?? ('all' as const),
      snaplen: doc.capture?.snaplen ?? DEFAULTS.snaplen,
      packetIds: doc.capture?.packet_ids === undefined || doc.capture.packet_ids === 'auto' ? hosts.some((h) => h.bridges.some((b) => b.ports.some((bp) => bp.tunnel !== undefined))) : doc.capture.packet_ids,
    };
    if (Array.isArray(capture.ports)) {
      capture.ports.forEach((pat, i) => {
        if (pat.includes('*')) return;
        if (!this.ports.has(pat) && !this.isBridgePath(pat, hosts, switches)) {
          this.unknown('UNKNOWN_PORT', ['capture', 'ports', i], 'port', pat, [...this.ports.keys()]);
        }
      });
    }

    const model: TopologyModel = {
      name: doc.name ?? this.opts.defaultName,
      file: this.source.file,
      source: this.source,
      doc,
      hosts,
      switches,
      routers,
      vms,
      links,
      scenario,
      capture,
      ports: this.ports,
    };
    if (doc.seed !== undefined) model.seed = doc.seed;
    if (doc.duration !== undefined) model.durationNs = doc.duration;
    return model;
  }

  private isBridgePath(p: string, hosts: HostModel[], switches: BridgeModel[]): boolean {
    return hosts.some((h) => h.bridges.some((b) => b.path === p)) || switches.some((s) => s.path === p);
  }

  unknown(code: string, yaml: YamlPath, kind: string, name: string, known: string[], where = ''): void {
    const guess = nearest(name, known);
    this.err(code, yaml, `unknown ${kind} "${name}"${where ? ` ${where}` : ''}${guess ? `; did you mean "${guess}"?` : ''}`, {
      ...(guess || known.length === 0 ? {} : { hint: `known: ${known.slice(0, 12).join(', ')}${known.length > 12 ? ', …' : ''}` }),
    });
  }

  private checkMacText(text: string | undefined, yaml: YamlPath): void {
    if (text === undefined) return;
    const n = macFromText(text);
    if (Math.floor(n / 0x100_0000_0000) & 1) {
      this.err('MULTICAST_MAC', yaml, `${text} is a multicast MAC (the I/G bit of the first octet is set); a NIC needs a unicast MAC such as 02:…`);
    }
  }

  private vms(doc: TopologyDoc, hosts: HostModel[]): VmModel[] {
    const vms: VmModel[] = [];
    for (const [vname, vdoc] of Object.entries(doc.vms ?? {})) {
      const vy = ['vms', vname];
      this.declareNode('VM', vname, vy);
      const host = hosts.find((h) => h.name === vdoc.host);
      if (!host) this.unknown('UNKNOWN_HOST', [...vy, 'host'], 'host', vdoc.host, hosts.map((h) => h.name));
      const vm: VmModel = { name: vname, host: vdoc.host, interfaces: [], disks: [], yaml: vy };
      if (vdoc.memory !== undefined) vm.memoryBytes = vdoc.memory;
      if (vdoc.dirty_rate !== undefined) vm.dirtyRateBytesPerS = vdoc.dirty_rate;
      for (const [iname, idoc] of Object.entries(vdoc.interfaces ?? {})) {
        const iy = [...vy, 'interfaces', iname];
        if (!this.checkName('interface', iname, iy)) continue;
        const iface = this.iface(vname, iname, idoc, iy, host);
        if (iface) vm.interfaces.push(iface);
      }
      for (const iface of vm.interfaces) {
        if (iface.standby !== undefined) {
          const sb = vm.interfaces.find((i) => i.name === iface.standby);
          if (!sb) this.unknown('INTERFACE_CONFIG', [...iface.yaml, 'standby'], 'interface', iface.standby, vm.interfaces.map((i) => i.name), `on VM ${vname}`);
          else if (sb.model !== 'virtio') this.err('INTERFACE_CONFIG', [...iface.yaml, 'standby'], `standby interface "${iface.standby}" must be a virtio interface`);
        }
      }
      for (const [dname, ddoc] of Object.entries(vdoc.disks ?? {})) {
        const dy = [...vy, 'disks', dname];
        if (!this.checkName('disk', dname, dy)) continue;
        vm.disks.push({
          name: dname,
          doc: ddoc,
          yaml: dy,
          ...(ddoc.image !== undefined ? { imagePath: topologyPath(this.source.file, ddoc.image) } : {}),
          ...(ddoc.backing !== undefined ? { backingPath: topologyPath(this.source.file, ddoc.backing) } : {}),
        });
      }
      vms.push(vm);
    }
    return vms;
  }

  private iface(vm: string, name: string, d: InterfaceDoc, yaml: YamlPath, host: HostModel | undefined): InterfaceModel | undefined {
    const model = d.model ?? 'virtio';
    const path = `${vm}.${name}`;
    const wrong = (keys: Array<keyof InterfaceDoc>, why: string): void => {
      for (const k of keys) if (d[k] !== undefined) this.err('INTERFACE_CONFIG', [...yaml, k], `"${k}" ${why}`, { key: true });
    };
    const iface: InterfaceModel = {
      vm,
      name,
      path,
      model,
      bridgePortName: `${vm}-${name}`,
      mac: 0,
      macText: '',
      macGenerated: d.mac === undefined,
      ipv6: d.ipv6 ?? [],
      vlan: this.vlan(d, yaml),
      queues: d.queues ?? DEFAULTS.queues,
      queueSize: d.queue_size ?? DEFAULTS.queueSize,
      mtu: d.mtu ?? DEFAULTS.mtu,
      rxDelayNs: d.rx_delay ?? DEFAULTS.rxDelayNs,
      yaml,
    };
    if (d.mac !== undefined) {
      iface.mac = macFromText(d.mac);
      iface.macText = d.mac.toLowerCase();
      this.checkMacText(d.mac, [...yaml, 'mac']);
    }
    if (d.ipv4 !== undefined) {
      const [addr, plen] = d.ipv4.split('/');
      iface.ipv4 = { address: ipv4FromText(addr!), prefixLength: Number(plen), text: d.ipv4 };
    }
    if (d.gateway !== undefined) iface.gateway = ipv4FromText(d.gateway);
    if (d.features !== undefined) iface.features = d.features;
    if (d.queue_size !== undefined && (d.queue_size & (d.queue_size - 1)) !== 0) {
      this.err('INTERFACE_CONFIG', [...yaml, 'queue_size'], `queue_size ${d.queue_size} is not a power of two (virtio split rings need 2^n, max 32768)`);
    }
    if (model === 'virtio') {
      wrong(['nic', 'vf', 'standby'], 'only applies to model: vf');
      this.declarePort(path, 'vm-nic', d.bridge === undefined, yaml);
      if (d.bridge !== undefined) {
        iface.bridge = d.bridge;
        if (host) {
          const br = host.bridges.find((b) => b.name === d.bridge);
          if (!br) {
            this.unknown('UNKNOWN_BRIDGE', [...yaml, 'bridge'], 'bridge', d.bridge, host.bridges.map((b) => b.name), `on host ${host.name}`);
          } else {
            iface.bridgePath = br.path;
            this.declarePort(`${br.path}.${iface.bridgePortName}`, 'vm-tap', false, yaml);
          }
        }
      } else {
        wrong(['vlan_mode', 'tag', 'trunks'], 'is a bridge port setting; this interface has no "bridge"');
      }
    } else {
      wrong(['bridge', 'queues', 'queue_size', 'features', 'rx_delay', 'vlan_mode', 'tag', 'trunks'], 'does not apply to model: vf (set the VF VLAN under hosts.*.nics.*.vfs)');
      this.declarePort(path, 'vm-nic', false, yaml);
      if (d.nic === undefined) this.err('INTERFACE_CONFIG', yaml, `model: vf needs "nic" (a physical function on host ${host?.name ?? '?'})`);
      if (d.vf === undefined) this.err('INTERFACE_CONFIG', yaml, `model: vf needs "vf" (the VF index)`);
      if (d.nic !== undefined) {
        iface.nic = d.nic;
        if (host && !host.nics.some((n) => n.name === d.nic)) {
          this.unknown('UNKNOWN_NIC', [...yaml, 'nic'], 'NIC', d.nic, host.nics.map((n) => n.name), `on host ${host.name}`);
        }
      }
      if (d.vf !== undefined) iface.vf = d.vf;
      if (d.standby !== undefined) iface.standby = d.standby;
    }
    return iface;
  }

  private links(doc: TopologyDoc): LinkModel[] {
    const used = new Map<string, YamlPath>();
    const links: LinkModel[] = [];
    const linkable = () => [...this.ports.values()].filter((p) => p.linkable).map((p) => p.path);
    (doc.links ?? []).forEach((l, i) => {
      const ly = ['links', i];
      for (const end of ['a', 'b'] as const) {
        const p = l[end];
        const decl = this.ports.get(p);
        if (!decl) {
          this.unknown('UNKNOWN_PORT', [...ly, end], 'port', p, linkable());
          continue;
        }
        if (!decl.linkable) {
          const why =
            decl.kind === 'vm-nic'
              ? 'it is a VM interface plugged into a bridge (remove its "bridge" to cable it)'
              : decl.kind === 'vm-tap'
                ? 'it is the bridge side of a VM interface'
                : 'it is an SR-IOV VF (VFs reach the wire through their PF uplink)';
          this.err('NOT_LINKABLE', [...ly, end], `port "${p}" cannot take a link: ${why}`);
          continue;
        }
        const prev = used.get(p);
        if (prev) {
          const at = this.source.locate(prev);
          this.err('PORT_LINKED_TWICE', [...ly, end], `port "${p}" already has a link (line ${at.line}); a port takes one link`);
          continue;
        }
        used.set(p, [...ly, end]);
      }
      if (l.a === l.b) this.err('LINK_LOOPBACK', [...ly, 'b'], `a link needs two different ports`);
      links.push({
        index: i,
        name: `link${i}`,
        a: l.a,
        b: l.b,
        bandwidthBps: l.bandwidth ?? DEFAULTS.linkBandwidthBps,
        delayNs: l.delay ?? DEFAULTS.linkDelayNs,
        queueFrames: typeof l.queue === 'number' ? l.queue : typeof l.queue === 'object' && l.queue.kind === 'fifo' ? (l.queue.limit ?? DEFAULTS.linkQueueFrames) : DEFAULTS.linkQueueFrames,
        ...(typeof l.queue === 'object' && l.queue.kind !== 'fifo'
          ? {
              qdisc: {
                kind: l.queue.kind,
                ...(l.queue.limit !== undefined ? { limit: l.queue.limit } : {}),
                ...(l.queue.target !== undefined ? { targetNs: l.queue.target } : {}),
                ...(l.queue.interval !== undefined ? { intervalNs: l.queue.interval } : {}),
                ...(l.queue.quantum !== undefined ? { quantum: l.queue.quantum } : {}),
                ...(l.queue.flows !== undefined ? { flows: l.queue.flows } : {}),
                ...(l.queue.ecn !== undefined ? { ecn: l.queue.ecn } : {}),
                ...(l.queue.min !== undefined ? { minBytes: l.queue.min } : {}),
                ...(l.queue.max !== undefined ? { maxBytes: l.queue.max } : {}),
                ...(l.queue.probability !== undefined ? { probability: l.queue.probability } : {}),
              },
            }
          : {}),
        loss: l.loss ?? 0,
        yaml: ly,
      });
      if (l.bandwidth !== undefined && l.bandwidth <= 0) this.err('INVALID', [...ly, 'bandwidth'], `"bandwidth" must be positive`);
    });
    return links;
  }

  /** Resolves a ping/UDP destination: an IPv4 address, a VM name, or vm.interface. */
  private destination(to: string, vms: VmModel[], yaml: YamlPath): number | undefined {
    if (IPV4_RE.test(to)) return ipv4FromText(to);
    const [vmName, ifName] = to.split('.', 2);
    const vm = vms.find((v) => v.name === vmName);
    if (!vm) {
      this.unknown('UNKNOWN_VM', yaml, 'destination', to, vms.map((v) => v.name), '(write an IPv4 address, a VM name or vm.interface)');
      return undefined;
    }
    const iface = ifName === undefined ? vm.interfaces.find((i) => i.ipv4) : vm.interfaces.find((i) => i.name === ifName);
    if (ifName !== undefined && !iface) {
      this.unknown('UNKNOWN_VM', yaml, 'interface', to, vm.interfaces.map((i) => i.path));
      return undefined;
    }
    if (!iface?.ipv4) {
      this.err('NO_ADDRESS', yaml, `"${to}" has no IPv4 address to send to`);
      return undefined;
    }
    return iface.ipv4.address;
  }

  private source_(from: string, vms: VmModel[], yaml: YamlPath): string | undefined {
    const [vmName] = from.split('.', 1);
    const vm = vms.find((v) => v.name === vmName);
    if (!vm) {
      this.unknown('UNKNOWN_VM', yaml, 'VM', from, vms.map((v) => v.name));
      return undefined;
    }
    if (!vm.interfaces.some((i) => i.ipv4)) {
      this.err('NO_ADDRESS', yaml, `VM ${vm.name} has no interface with an IPv4 address to send from`);
      return undefined;
    }
    return vm.name;
  }

  private scenario(doc: TopologyDoc, vms: VmModel[]): ScenarioStep[] {
    const steps: ScenarioStep[] = [];
    const appCount: Record<string, number> = {};
    const appNames = new Map<string, YamlPath>();
    const appName = (kind: string, given: string | undefined, yaml: YamlPath): string => {
      appCount[kind] = (appCount[kind] ?? 0) + 1;
      const name = given ?? `${kind}${appCount[kind]}`;
      const prev = appNames.get(name);
      if (prev) this.err('DUPLICATE_APP', [...yaml, 'name'], `app name "${name}" is already used at line ${this.source.locate(prev).line}`);
      else appNames.set(name, yaml);
      return name;
    };
    (doc.scenario ?? []).forEach((s, i) => {
      const sy = ['scenario', i];
      const present = SCENARIO_ACTIONS.filter((a) => s[a] !== undefined);
      if (present.length !== 1) {
        this.err('SCENARIO_ACTION', sy, present.length === 0
          ? `a scenario step needs one action: ${SCENARIO_ACTIONS.join(', ')}`
          : `a scenario step takes one action, this one has ${present.join(' and ')}; split it into two steps at the same time`);
        return;
      }
      const kind = present[0]!;
      let action: ScenarioAction | undefined;
      if (kind === 'ping' && s.ping) {
        const p = s.ping;
        const from = this.source_(p.from, vms, [...sy, 'ping', 'from']);
        const dst = this.destination(p.to, vms, [...sy, 'ping', 'to']);
        if (from !== undefined && dst !== undefined) {
          action = { kind: 'ping', name: appName('ping', p.name, [...sy, 'ping']), from, dst, dstText: formatIpv4(dst), count: p.count ?? DEFAULTS.pingCount, intervalNs: p.interval ?? DEFAULTS.pingIntervalNs, size: p.size ?? DEFAULTS.pingSize };
          if (action.intervalNs <= 0) this.err('INVALID', [...sy, 'ping', 'interval'], `"interval" must be positive`);
        }
      } else if (kind === 'udp' && s.udp) {
        const u = s.udp;
        const from = this.source_(u.from, vms, [...sy, 'udp', 'from']);
        const dst = this.destination(u.to, vms, [...sy, 'udp', 'to']);
        if (u.rate <= 0) this.err('INVALID', [...sy, 'udp', 'rate'], `"rate" must be positive`);
        if (from !== undefined && dst !== undefined) {
          const a: ScenarioAction = { kind: 'udp', name: appName('udp', u.name, [...sy, 'udp']), from, dst, dstText: formatIpv4(dst), port: u.port ?? DEFAULTS.udpPort, rateBps: u.rate, size: u.size ?? DEFAULTS.udpSize, durationNs: u.duration };
          if (u.src_port !== undefined) a.srcPort = u.src_port;
          action = a;
        }
      } else if (kind === 'iperf' && s.iperf) {
        const d = s.iperf;
        const y = [...sy, 'iperf'];
        const from = this.source_(d.from, vms, [...y, 'from']);
        const dst = this.destination(d.to, vms, [...y, 'to']);
        if (d.duration !== undefined && d.bytes !== undefined) this.err('INVALID', [...y, 'bytes'], `give "duration" or "bytes", not both (iperf3 -t or -n)`);
        if (d.duration !== undefined && d.duration <= 0) this.err('INVALID', [...y, 'duration'], `"duration" must be positive`);
        if (d.bytes !== undefined && d.bytes <= 0) this.err('INVALID', [...y, 'bytes'], `"bytes" must be positive`);
        if (d.interval !== undefined && d.interval <= 0) this.err('INVALID', [...y, 'interval'], `"interval" must be positive`);
        if (d.window !== undefined && (d.window < 4096 || d.window > 1 << 30)) this.err('INVALID', [...y, 'window'], `window ${d.window} bytes is outside 4KiB..1GiB`);
        if (from !== undefined && dst !== undefined) action = { kind: 'iperf', name: appName('iperf', d.name, y), from, dst, dstText: formatIpv4(dst), doc: d };
      } else if (kind === 'rpc' && s.rpc) {
        const d = s.rpc;
        const y = [...sy, 'rpc'];
        const from = this.source_(d.from, vms, [...y, 'from']);
        const dst = this.destination(d.to, vms, [...y, 'to']);
        if (d.duration <= 0) this.err('INVALID', [...y, 'duration'], `"duration" must be positive`);
        if (d.request !== undefined && (d.request < 1 || d.request > 1 << 30)) this.err('INVALID', [...y, 'request'], `request ${d.request} bytes is outside 1..1GiB`);
        if (d.response !== undefined && (d.response < 1 || d.response > 1 << 30)) this.err('INVALID', [...y, 'response'], `response ${d.response} bytes is outside 1..1GiB`);
        if (d.rate !== undefined && d.rate > 10_000_000) this.err('INVALID', [...y, 'rate'], `rate ${d.rate}/s is above 10000000/s`);
        if (d.interval !== undefined && d.interval <= 0) this.err('INVALID', [...y, 'interval'], `"interval" must be positive`);
        if (from !== undefined && dst !== undefined) action = { kind: 'rpc', name: appName('rpc', d.name, y), from, dst, dstText: formatIpv4(dst), doc: d };
      } else if ((kind === 'link_down' || kind === 'link_up') && s[kind] !== undefined) {
        const target = s[kind];
        if (!this.ports.has(target)) this.unknown('UNKNOWN_PORT', [...sy, kind], 'port', target, [...this.ports.keys()]);
        else action = { kind, target };
      } else if (kind === 'migrate' && s.migrate) {
        if (!vms.some((v) => v.name === s.migrate!.vm)) this.unknown('UNKNOWN_VM', [...sy, 'migrate', 'vm'], 'VM', s.migrate.vm, vms.map((v) => v.name));
        else action = { kind: 'migrate', doc: s.migrate };
      } else if (kind === 'vf' && s.vf) {
        action = { kind: 'vf', doc: s.vf };
      } else if (kind === 'traceroute' && s.traceroute) {
        const t = s.traceroute;
        const from = this.source_(t.from, vms, [...sy, 'traceroute', 'from']);
        const dst = this.destination(t.to, vms, [...sy, 'traceroute', 'to']);
        if (from !== undefined && dst !== undefined) {
          action = { kind: 'traceroute', from, dst, dstText: formatIpv4(dst), maxHops: t.max_hops ?? 30, waitNs: t.wait ?? 1_000_000_000 };
        }
      } else if (kind === 'sriov' && s.sriov) {
        action = { kind: 'sriov', doc: s.sriov };
      } else if (kind === 'flow_mod' && s.flow_mod) {
        action = { kind, bridge: s.flow_mod.bridge, command: s.flow_mod.command ?? 'add', text: s.flow_mod.flow };
      } else if (kind === 'group_mod' && s.group_mod) {
        action = { kind, bridge: s.group_mod.bridge, command: s.group_mod.command ?? 'add', text: s.group_mod.group };
      } else if (kind === 'meter_mod' && s.meter_mod) {
        action = { kind, bridge: s.meter_mod.bridge, command: s.meter_mod.command ?? 'add', text: s.meter_mod.meter };
      } else if (kind === 'fio' && s.fio) {
        // the disk and the job's options are checked with the QoS code by fabric/disk-io.ts
        action = { kind: 'fio', name: appName('fio', s.fio.name, [...sy, 'fio']), doc: s.fio };
      }
      if (action) steps.push({ index: i, atNs: s.at, action, yaml: sy });
    });
    return steps;
  }

  /**
   * MACs (after assigning defaults) must be unique across the fabric; IPv4 addresses within an L2
   * segment (l2-segments.ts), so tenants on separate bridges, VLANs or VNIs may reuse addresses.
   */
  private checkDuplicates(hosts: HostModel[], vms: VmModel[], segments: L2Segments): void {
    const macs = new Map<number, YamlPath>();
    const note = (mac: number, yaml: YamlPath, text: string): void => {
      const prev = macs.get(mac);
      if (prev) {
        const at = this.source.locate(prev);
        this.err('DUPLICATE_MAC', yaml, `MAC ${text} is already used at line ${at.line}`);
      } else macs.set(mac, yaml);
    };
    for (const h of hosts) {
      for (const n of h.nics) {
        if (n.doc.mac) note(macFromText(n.doc.mac), [...n.yaml, 'mac'], n.doc.mac);
        for (const [vi, v] of Object.entries(n.doc.vfs ?? {})) if (v.mac) note(macFromText(v.mac), [...n.yaml, 'vfs', vi, 'mac'], v.mac);
      }
    }
    // A VF and its failover standby share one MAC (net_failover requires it): noted once.
    const sharesStandbyMac = (vm: VmModel, i: InterfaceModel): boolean =>
      i.model === 'vf' && i.standby !== undefined && vm.interfaces.some((s) => s.name === i.standby && !s.macGenerated && s.mac === i.mac);
    for (const vm of vms) for (const i of vm.interfaces) if (!i.macGenerated && !sharesStandbyMac(vm, i)) note(i.mac, [...i.yaml, 'mac'], i.macText);
    // Assign QEMU-style 52:54:00:xx:xx:xx MACs to interfaces without one, in file order, skipping used ones.
    let next = 0x5254_0000_0001;
    for (const vm of vms) {
      for (const i of vm.interfaces) {
        if (!i.macGenerated) continue;
        if (i.model === 'vf') continue; // a VF's MAC comes from its PF configuration
        while (macs.has(next)) next++;
        i.mac = next;
        i.macText = formatMacText(next);
        macs.set(next, i.yaml);
        next++;
      }
    }
    const ips = new Map<string, { yaml: YamlPath; path: string }>();
    for (const vm of vms) {
      for (const i of vm.interfaces) {
        if (!i.ipv4) continue;
        const key = `${segments.of(i)} ${i.ipv4.address}`;
        const prev = ips.get(key);
        if (prev) {
          const at = this.source.locate(prev.yaml);
          this.err(
            'DUPLICATE_IP',
            [...i.yaml, 'ipv4'],
            `IPv4 address ${formatIpv4(i.ipv4.address)} is already used at line ${at.line} (${prev.path}) in the same L2 segment; tenants that reuse addresses need separate bridges, VLANs or VNIs`,
          );
        } else ips.set(key, { yaml: [...i.yaml, 'ipv4'], path: i.path });
      }
    }
    // Host interfaces (issue 13) live in the provider's own address plan: unique across hosts.
    const hostIps = new Map<number, YamlPath>();
    for (const h of hosts) {
      for (const i of h.interfaces ?? []) {
        const prev = hostIps.get(i.ipv4.address);
        if (prev) {
          const at = this.source.locate(prev);
          this.err('DUPLICATE_IP', [...i.yaml, 'ipv4'], `IPv4 address ${formatIpv4(i.ipv4.address)} is already used at line ${at.line}`);
        } else hostIps.set(i.ipv4.address, [...i.yaml, 'ipv4']);
      }
    }
  }
}

function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** Semantic validation; throws `UserErrors` (sorted by position) when anything is wrong. */
export function resolveTopology(source: YamlSource, doc: TopologyDoc, opts: ResolveOptions): { model: TopologyModel; errors: UserError[] } {
  const r = new Resolver(source, doc, opts);
  const model = r.resolve();
  return { model, errors: r.errors };
}
