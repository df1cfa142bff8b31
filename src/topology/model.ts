/**
 * The validated topology model: what `topology/` hands to `fabric/`.
 *
 * Everything here is resolved and checked: names are unique, every reference points at something
 * that exists, MACs are 48-bit integers, IPs are numbers, durations are nanoseconds, rates are
 * bit/s. Each object keeps `yaml`, its path in the file, so later stages (the fabric, SR-IOV,
 * migration, disks) can still report `file:line:col` through `model.source.error(code, yaml, msg)`.
 */
import type { OpenflowBridgeModel } from './openflow.js';
import type { SourceLocation } from '../errors.js';
import type { YamlPath, YamlSource } from '../util/yaml-source.js';
import type { Ipv6Words } from '../wire/ip.js';
import type {
  DiskDoc,
  IperfDoc,
  RpcDoc,
  MigrateDoc,
  FioActionDoc,
  NumVfsActionDoc,
  PfDoc,
  TopologyDoc,
  VfActionDoc,
} from './schema.js';

/** OVS Port VLAN columns, as validated. */
export interface VlanConfig {
  vlanMode?: 'access' | 'trunk' | 'native-tagged' | 'native-untagged';
  tag?: number;
  trunks?: number[];
}

export interface FlowsSpec {
  text: string;
  /**
   * Where the first line of `text` is, so flow syntax errors point into the topology or flows
   * file; `position` (when the text is a YAML scalar) maps any offset of `text` to its source.
   */
  origin: SourceLocation & { position?: (offset: number) => { line: number; col: number } };
}

/** A port of a bridge or switch declared under `ports:` (uplinks, patch ports). */
export interface BridgePortModel {
  name: string;
  /** Dotted path: `hv1.br0.uplink` or `tor.p1`. */
  path: string;
  vlan: VlanConfig;
  ofport?: number;
  /** A tunnel port (issue 14). */
  tunnel?: TunnelModel;
  yaml: YamlPath;
}

export interface TunnelModel {
  type: 'vxlan' | 'geneve';
  /** 'flow' = the packet's tun_dst (OVS options:remote_ip=flow); 'ipv6' = `remoteIp6` (an IPv6 underlay). */
  remoteIp: number | 'flow' | 'ipv6';
  /** OVS options:local_ip (IPv4): the outer source; received packets must be addressed to it. */
  localIp?: number;
  /** OVS options:local_ip (IPv6). */
  localIp6?: Ipv6Words;
  /** The IPv6 remote VTEP, when `remoteIp` is 'ipv6'. */
  remoteIp6?: Ipv6Words;
  /** 'flow' = the packet's tun_id (OVS options:key=flow). */
  vni: number | 'flow';
  dstPort: number;
  csum: boolean;
}

export interface UnderlayModel {
  /** `hv1.underlay`. */
  path: string;
  mac: number;
  /** Absent on an IPv6-only underlay. */
  ipv4?: Ipv4Assignment;
  gateway?: number;
  /** IPv6 underlay address (tunnel ports with an IPv6 remote_ip send from it). */
  ipv6?: Ipv6Assignment;
  gateway6?: Ipv6Words;
  mtu: number;
  yaml: YamlPath;
}

export interface Ipv6Assignment {
  address: Ipv6Words;
  prefixLength: number;
  /** As written (`2001:db8:1::11/64`). */
  text: string;
}

/** A host bridge or a physical switch (both are learning bridges). */
export interface BridgeModel {
  name: string;
  /** `hv1.br0` for a host bridge, `tor` for a switch. */
  path: string;
  /** Owning host, or undefined for a physical switch. */
  host?: string;
  kind: 'bridge' | 'switch';
  flows?: FlowsSpec;
  /** `ovs-ofctl add-groups` / `add-meters` texts with where they start. */
  groups?: FlowsSpec;
  meters?: FlowsSpec;
  macAgingNs?: number;
  macTableSize?: number;
  /** OpenFlow controller, fail mode, datapath id (host bridges only; topology/openflow.ts). */
  openflow?: OpenflowBridgeModel;
  /** OpenFlow version the flows are checked against (10..15), and strict flow checking. */
  protocols?: 10 | 11 | 12 | 13 | 14 | 15;
  strict?: boolean;
  /** `tlv_map:` (ovs-ofctl add-tlv-map text): the tun_metadataN fields (vswitch/tun-metadata.ts). */
  tlvMap?: string;
  /** OVS datapath_type (host bridges with tunnel ports care): absent = netdev. */
  datapathType?: 'netdev' | 'system';
  ports: BridgePortModel[];
  yaml: YamlPath;
}

export interface PfModel {
  name: string;
  host: string;
  /** `hv1.pf0`. */
  path: string;
  /** The PF's uplink port path (a link end): `hv1.pf0.uplink`. */
  uplinkPath: string;
  doc: PfDoc;
  yaml: YamlPath;
}

export interface HostModel {
  name: string;
  bridges: BridgeModel[];
  nics: PfModel[];
  underlay?: UnderlayModel;
  /** The hypervisor's own IP interfaces (`hosts.X.interfaces`), file order. */
  interfaces?: HostInterfaceModel[];
  yaml: YamlPath;
}

/** A hypervisor's own IP interface (issue 13), port `hv1.mgmt`. */
export interface HostInterfaceModel {
  name: string;
  host: string;
  /** `hv1.mgmt`. */
  path: string;
  mac: number;
  ipv4: Ipv4Assignment;
  gateway?: number;
  mtu: number;
  /** The host bridge it is an internal port of (`hv1.br-mgmt`); absent = cabled by a link. */
  bridgePath?: string;
  vlan: VlanConfig;
  yaml: YamlPath;
}

export interface Ipv4Assignment {
  address: number;
  prefixLength: number;
  text: string;
}

export interface InterfaceModel {
  vm: string;
  name: string;
  /** `vm1.eth0`: the NIC's own (wire-side) port path. */
  path: string;
  model: 'virtio' | 'vf';
  /** For virtio on a bridge: the bridge name on the VM's host and its path. */
  bridge?: string;
  bridgePath?: string;
  /** Name of the bridge port the NIC plugs into (`vm1-eth0`, like a tap named after the VM NIC). */
  bridgePortName: string;
  mac: number;
  macText: string;
  /** True when the MAC was assigned by vfab (52:54:00:…), not written in the file. */
  macGenerated: boolean;
  ipv4?: Ipv4Assignment;
  ipv6: string[];
  gateway?: number;
  vlan: VlanConfig;
  queues: number;
  queueSize: number;
  mtu: number;
  /** Guest receive latency (interrupt + NAPI), ns. */
  rxDelayNs: number;
  /** Feature names as written (lower case), or undefined for the device default. */
  features?: string[];
  /** model vf: PF name on the VM's host, VF index, and the virtio standby interface name. */
  nic?: string;
  vf?: number;
  standby?: string;
  yaml: YamlPath;
}

export interface VmModel {
  name: string;
  host: string;
  memoryBytes?: number;
  dirtyRateBytesPerS?: number;
  interfaces: InterfaceModel[];
  disks: DiskModel[];
  yaml: YamlPath;
}

/**
 * A VM disk. `imagePath`/`backingPath` are `image`/`backing` resolved once, here, against the
 * topology file's folder (absolute paths kept): `vfab run` opens them and `vfab qos` (a QoS file
 * naming the topology) sizes them from the same paths.
 */
export interface DiskModel {
  name: string;
  doc: DiskDoc;
  yaml: YamlPath;
  imagePath?: string;
  backingPath?: string;
}

export interface LinkModel {
  index: number;
  /** `link0`, `link1` …: the link's name in events and in the PRNG fork label. */
  name: string;
  a: string;
  b: string;
  bandwidthBps: number;
  delayNs: number;
  queueFrames: number;
  /** fq_codel / red settings (absent: the tail-drop FIFO of `queueFrames`); `link/qdisc.ts` QdiscConfig. */
  qdisc?: {
    kind: 'fifo' | 'fq_codel' | 'red';
    limit?: number;
    targetNs?: number;
    intervalNs?: number;
    quantum?: number;
    flows?: number;
    ecn?: boolean;
    minBytes?: number;
    maxBytes?: number;
    probability?: number;
  };
  loss: number;
  yaml: YamlPath;
}

export interface PingAction {
  kind: 'ping';
  name: string;
  from: string;
  dst: number;
  dstText: string;
  count: number;
  intervalNs: number;
  size: number;
}

export interface UdpAction {
  kind: 'udp';
  name: string;
  from: string;
  dst: number;
  dstText: string;
  port: number;
  srcPort?: number;
  rateBps: number;
  size: number;
  durationNs: number;
}

export interface IperfAction {
  kind: 'iperf';
  name: string;
  from: string;
  dst: number;
  dstText: string;
  doc: IperfDoc;
}

export interface RpcAction {
  kind: 'rpc';
  name: string;
  from: string;
  dst: number;
  dstText: string;
  doc: RpcDoc;
}

export interface LinkStateAction {
  kind: 'link_down' | 'link_up';
  /** A port path; when it is a link end the whole link goes down/up. */
  target: string;
}

export interface MigrateAction {
  kind: 'migrate';
  doc: MigrateDoc;
}

export interface VfAction {
  kind: 'vf';
  doc: VfActionDoc;
}

export interface NumVfsAction {
  kind: 'sriov';
  doc: NumVfsActionDoc;
}

export interface TracerouteAction {
  kind: 'traceroute';
  from: string;
  dst: number;
  dstText: string;
  maxHops: number;
  waitNs: number;
}

/** flow_mod / group_mod / meter_mod: ovs-ofctl text applied to a bridge's tables at `at`. */
export interface TableModAction {
  kind: 'flow_mod' | 'group_mod' | 'meter_mod';
  bridge: string;
  command: string;
  text: string;
}

/** `fio:` — an fio job on VM disk `doc.disk` (`vm.disk`), run by the fabric's disk I/O feature. */
export interface FioAction {
  kind: 'fio';
  name: string;
  doc: FioActionDoc;
}

export type ScenarioAction = TracerouteAction | PingAction | UdpAction | IperfAction | RpcAction | LinkStateAction | MigrateAction | VfAction | NumVfsAction | FioAction | TableModAction;

export interface ScenarioStep {
  index: number;
  atNs: number;
  action: ScenarioAction;
  /** YAML path of the step; the action's own node is `[...yaml, action.kind]`. */
  yaml: YamlPath;
}

export interface CaptureModel {
  /** 'all' or a list of port paths / globs. */
  ports: 'all' | string[];
  snaplen: number;
  /** Write pcapng epb_packetid (resolved from 'auto': true when a bridge has a tunnel port). */
  packetIds: boolean;
}

export type PortKind = 'host-underlay' | 'host-if' | 'router-port' | 'bridge-port' | 'vm-tap' | 'switch-port' | 'vm-nic' | 'pf-uplink' | 'vf';

export interface PortDecl {
  path: string;
  kind: PortKind;
  /** True when a link may attach here. */
  linkable: boolean;
  yaml: YamlPath;
}

export interface RouterInterfaceModel {
  name: string;
  /** `r1.p1`. */
  path: string;
  mac: number;
  /** Absent on an IPv6-only interface. */
  ipv4?: Ipv4Assignment;
  ipv6?: Ipv6Assignment;
  mtu: number;
  yaml: YamlPath;
}

/** An IPv6 static route (`to: 2001:db8:2::/48` or `default` with IPv6 next hops). */
export interface Route6Model {
  network: Ipv6Words;
  prefixLength: number;
  via: Ipv6Words[];
  yaml: YamlPath;
}

export interface RouteModel {
  network: number;
  prefixLength: number;
  via: number[];
  yaml: YamlPath;
}

/** An L3 router (issue 14), built by `fabric/routers.ts`. */
export interface RouterModel {
  name: string;
  interfaces: RouterInterfaceModel[];
  routes: RouteModel[];
  /** IPv6 static routes (absent = none). */
  routes6?: Route6Model[];
  /** Linux net.ipv6.fib_multipath_hash_policy (absent = 1). */
  ipv6HashPolicy?: 0 | 1;
  yaml: YamlPath;
}

export interface TopologyModel {
  name: string;
  file: string;
  source: YamlSource;
  seed?: number;
  durationNs?: number;
  doc: TopologyDoc;
  hosts: HostModel[];
  /** Physical switches. */
  switches: BridgeModel[];
  /** L3 routers (absent in models built before routers existed = none). */
  routers?: RouterModel[];
  vms: VmModel[];
  links: LinkModel[];
  scenario: ScenarioStep[];
  capture: CaptureModel;
  /** Every port path the topology declares, in declaration order. */
  ports: Map<string, PortDecl>;
}

export const DEFAULTS = {
  linkBandwidthBps: 10_000_000_000,
  linkDelayNs: 0,
  linkQueueFrames: 1000,
  queues: 1,
  queueSize: 256,
  mtu: 1500,
  rxDelayNs: 10_000,
  pingCount: 5,
  pingIntervalNs: 1_000_000_000,
  pingSize: 56,
  udpPort: 5001,
  udpSize: 1000,
  snaplen: 65535,
  durationNs: 10_000_000_000,
} as const;
