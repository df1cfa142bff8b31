/**
 * `BuildContext`: everything the fabric builder knows about the world it is assembling, handed to
 * the extension modules that build and drive parts of it (`sriov.ts`, `migration.ts`, `disks.ts`).
 *
 * Contract for extension modules
 * - Read the validated topology from `model` (`model.hosts[].nics`, `model.vms[].disks`, …);
 *   report a user mistake with `source.error(code, yamlPath, message)` (every model object has
 *   `yaml`, its path in the file), throw it (or several as `UserErrors`).
 * - Every `Port` you create goes through `registerPort` (it lands in the summary's `ports`, and in
 *   the pcapng when the capture selects it, even when registered in the middle of a run).
 * - Plug and unplug VM NICs with `plugNic` / `unplugNic` (a migration moves a NIC by unplugging it
 *   from the source bridge and plugging it into the destination bridge; the VM's `host` and the
 *   NIC's `bridgePath`/`bridgePort` are updated).
 * - Report things for the summary with `addSummarySection(key, {json, text})` (`migrations`,
 *   `disks`, `nics` …) and fabric events with `events(...)`.
 * - Schedule on `sim` only; never read a wall clock.
 *
 * This interface only grows (additive changes), so extension modules keep compiling.
 */
import type { EventSink, GuestNic } from '../port/nic.js';
import type { Port, PortRegistry } from '../port/port.js';
import type { Simulation } from '../sim/simulation.js';
import type { YamlSource } from '../util/yaml-source.js';
import type { Link } from '../link/link.js';
import type { HostModel, InterfaceModel, TopologyModel, VlanConfig, VmModel } from '../topology/model.js';
import type { Bridge } from '../vswitch/index.js';
import type { GuestStack } from '../guest/index.js';
import type { VirtioNet } from '../vnic/index.js';

export interface HostRuntime {
  name: string;
  model: HostModel;
  /** Host bridges by name (`br0`). The same objects are in `BuildContext.bridges` by path. */
  bridges: Map<string, Bridge>;
}

export interface VmNicRuntime {
  iface: InterfaceModel;
  /** What the guest stack talks to (a VirtioNet, or an SR-IOV VF from `attachVf`). */
  nic: GuestNic;
  /** The virtio device when `iface.model === 'virtio'`. */
  virtio?: VirtioNet;
  /** Bridge the NIC is plugged into now (path, e.g. `hv1.br0`), and the bridge-side port. */
  bridgePath?: string;
  bridgePort?: Port;
}

export interface VmRuntime {
  name: string;
  model: VmModel;
  /** The host the VM runs on now (a migration changes it). */
  host: string;
  stack: GuestStack;
  /** NICs by interface name (`eth0`). */
  nics: Map<string, VmNicRuntime>;
}

/** A block of the run summary owned by an extension module (e.g. `migrations`, `disks`). */
export interface SummarySection {
  /** JSON-safe value placed under the section's key in `vfab run --json`. */
  json(): unknown;
  /** Lines for the human-readable summary (optional). */
  text?(): string[];
}

export interface BuildOptions {
  /** Folder of the topology file: relative paths in it (disk images, flows files) resolve here. */
  baseDir: string;
  /** False for `vfab validate`: features build without touching the file system (no images). */
  openFiles?: boolean;
}

export interface BuildContext {
  readonly sim: Simulation;
  readonly model: TopologyModel;
  /** `model.source`, for positioned errors. */
  readonly source: YamlSource;
  readonly events: EventSink;
  readonly ports: PortRegistry;
  /** Every bridge and physical switch by path (`hv1.br0`, `tor`). */
  readonly bridges: Map<string, Bridge>;
  readonly hosts: Map<string, HostRuntime>;
  readonly vms: Map<string, VmRuntime>;
  /** Links by name (`link0` …). */
  readonly links: Map<string, Link>;
  readonly options: BuildOptions;
  /** The link attached to a port path, if any. */
  linkAt(portPath: string): Link | undefined;
  /** Adds a port to the registry (summary, capture). Returns it. */
  registerPort(port: Port): Port;
  /**
   * Plugs VM `vm`'s NIC `ifName` into bridge `bridgePath` on a new bridge port named
   * `${vm}-${ifName}` with `vlan` (default: the interface's VLAN config). Returns the bridge port.
   */
  plugNic(vm: string, ifName: string, bridgePath: string, vlan?: VlanConfig): Port;
  /** Disconnects the NIC from its bridge port (the port stays in the summary, down). */
  unplugNic(vm: string, ifName: string): void;
  addSummarySection(key: string, section: SummarySection): void;
  /** Resolves a path written in the topology relative to its folder. */
  resolvePath(rel: string): string;
}
