/**
 * virtio-net failover in the fabric (issue 7 item 6): a `model: vf` interface with
 * `standby: <virtio iface>` is one guest netdev, Linux's `net_failover` master (`FailoverNic`)
 * over the VF (primary) and the virtio NIC (standby), both with the same MAC.
 *
 * - `validateFailover(model)`: positioned errors — the standby must offer VIRTIO_NET_F_STANDBY
 *   (bit 62) when its `features` are written (without `features`, vfab adds `standby` to the
 *   default offer, as libvirt's `<teaming type='persistent'/>` turns on QEMU's `failover=on`); the
 *   VF's MAC must be the standby's (`net_failover_slave_pre_register` refuses other slaves); one
 *   VF per standby; addresses on one of the two interfaces only (the guest configures the master).
 * - `standbyFeatures(vm, iface)`: the feature offer to build a standby virtio NIC with.
 * - `addFailoverInterface(ctx, vm, vfIface)`: programs the VF's MAC, builds the `FailoverNic` and
 *   adds it to the guest stack instead of the two NICs (`build.ts`).
 * - `failoverHooks(ctx, vm)`: the live-migration hooks. Unplug = the guest loses the VF, the host
 *   hands it back and clears its MAC (`ip link set PF vf N mac 00:00:00:00:00:00`) so that frames
 *   for the MAC reach the PF netdev and the host bridge, and the bridge points the MAC at the
 *   standby's tap — the two steps of the source script in the kernel's
 *   `Documentation/networking/net_failover.rst` (`bridge fdb add $MAC dev $TAP_IF master`; here a
 *   learned entry). Plug = the first free VF of the PF with the same name on the target host,
 *   given the MAC (libvirt programs a hostdev interface's `<mac>` through the PF) and plugged as
 *   the new primary. Hot-plug and unplug take no time here (QEMU waits for the guest's unplug ack
 *   in the `wait-unplug` state; PCIe hot-plug takes ~1 s on real hosts).
 */
import { UserError } from '../errors.js';
import type { GuestNic } from '../port/nic.js';
import type { InterfaceModel, TopologyModel, VmModel } from '../topology/model.js';
import { formatIpv4 } from '../wire/ip.js';
import { formatMac, parseMac } from '../wire/mac.js';
import { defaultOfferedFeatures } from '../vnic/features.js';
import { FailoverNic, type FailoverHooks, type VfPlugResult, type VmVf } from '../migration/index.js';
import type { VirtualFunction } from '../sriov/index.js';
import type { BuildContext, VmRuntime } from './context.js';
import type { FabricFeature } from './feature.js';
import { sriovNics } from './sriov.js';

/** The virtio standby `iface` names (a `model: vf` interface with `standby:`), if valid. */
export function standbyOf(vm: VmModel, iface: InterfaceModel): InterfaceModel | undefined {
  if (iface.model !== 'vf' || iface.standby === undefined) return undefined;
  const sb = vm.interfaces.find((i) => i.name === iface.standby);
  return sb?.model === 'virtio' ? sb : undefined;
}

/** True when `iface` is the virtio standby of a VF of `vm` (the guest sees it through the master). */
export function isStandby(vm: VmModel, iface: InterfaceModel): boolean {
  return vm.interfaces.some((i) => standbyOf(vm, i) === iface);
}

/** The VF's MAC as configured: the interface's, else the PF's `vfs.N.mac`, else 0 (none). */
function configuredVfMac(model: TopologyModel, vm: VmModel, iface: InterfaceModel): { mac: number; field: 'mac' | 'vf' } | null {
  if (!iface.macGenerated) return { mac: iface.mac, field: 'mac' };
  const pf = model.hosts.find((h) => h.name === vm.host)?.nics.find((n) => n.name === iface.nic);
  const text = iface.vf !== undefined ? pf?.doc.vfs?.[iface.vf]?.mac : undefined;
  if (text === undefined) return null;
  return { mac: parseMac(text), field: 'vf' };
}

/** All failover configuration errors in `model` (empty when fine). */
export function validateFailover(model: TopologyModel): UserError[] {
  const errors: UserError[] = [];
  for (const vm of model.vms) {
    const used = new Map<string, InterfaceModel>();
    for (const iface of vm.interfaces) {
      const sb = standbyOf(vm, iface);
      if (!sb) continue; // topology/ reported an unknown or non-virtio standby
      const prev = used.get(sb.name);
      if (prev) {
        errors.push(model.source.error('FAILOVER_STANDBY_TWICE', [...iface.yaml, 'standby'], `${sb.path} is already the standby of ${prev.path}: a virtio standby pairs with one VF`));
        continue;
      }
      used.set(sb.name, iface);
      if (sb.features !== undefined && !sb.features.includes('standby')) {
        errors.push(
          model.source.error(
            'FAILOVER_NO_STANDBY_FEATURE',
            [...sb.yaml, 'features'],
            `${sb.path} is the failover standby of ${iface.path} but does not offer "standby" (VIRTIO_NET_F_STANDBY, bit 62): the guest would not create a net_failover device`,
            { hint: 'add standby to its features (or leave features out: the default offer of a standby includes it)' },
          ),
        );
      }
      const vfMac = configuredVfMac(model, vm, iface);
      if (vfMac && vfMac.mac !== sb.mac) {
        errors.push(
          model.source.error(
            'FAILOVER_MAC',
            [...iface.yaml, vfMac.field],
            `${iface.path} has MAC ${formatMac(vfMac.mac)} but its standby ${sb.path} has ${sb.macText}: net_failover needs the same MAC on both`,
            { hint: `leave the VF's mac out (it takes the standby's) or set ${sb.macText}` },
          ),
        );
      }
      for (const key of ['ipv4', 'gateway'] as const) {
        if (iface[key] !== undefined && sb[key] !== undefined) {
          errors.push(model.source.error('FAILOVER_ADDRESS', [...iface.yaml, key], `${key} is set on both ${iface.path} and its standby ${sb.path}; the guest configures one failover netdev: set it on one of them`));
        }
      }
      if (iface.ipv6.length > 0 && sb.ipv6.length > 0) {
        errors.push(model.source.error('FAILOVER_ADDRESS', [...iface.yaml, 'ipv6'], `ipv6 is set on both ${iface.path} and its standby ${sb.path}; set it on one of them`));
      }
    }
  }
  return errors;
}

/**
 * The features a standby virtio NIC offers: as written, or QEMU's default offer plus `standby`
 * (libvirt `<teaming type='persistent'/>` → `-device virtio-net-pci,failover=on`).
 */
export function standbyFeatures(iface: InterfaceModel): string[] {
  return iface.features ?? [...defaultOfferedFeatures({ queuePairs: iface.queues, mtuSet: iface.mtu !== 1500 }), 'standby'];
}

/** Failover masters by VF interface path, per fabric. */
const masters = new WeakMap<BuildContext, Map<string, FailoverNic>>();

/** The failover netdev of VF interface `path` (`vm2.eth1`), if it has a standby. */
export function failoverNic(ctx: BuildContext, path: string): FailoverNic | undefined {
  return masters.get(ctx)?.get(path);
}

function vfOf(nic: GuestNic): VirtualFunction | undefined {
  return 'index' in nic && 'assignedTo' in nic ? (nic as VirtualFunction) : undefined;
}

function located(ctx: BuildContext, iface: InterfaceModel, e: unknown): unknown {
  if (e instanceof UserError && !e.location) return ctx.source.error(e.code, iface.yaml, e.message, e.hint ? { hint: e.hint } : {});
  return e;
}

/**
 * Builds the failover netdev of VF interface `vfIface` (both NICs already in `vm.nics`) and adds it
 * to the guest stack, with the addresses of whichever of the pair has them.
 */
export function addFailoverInterface(ctx: BuildContext, vm: VmRuntime, vfIface: InterfaceModel): FailoverNic {
  const sbIface = standbyOf(vm.model, vfIface)!;
  const vfRt = vm.nics.get(vfIface.name)!;
  const sbRt = vm.nics.get(sbIface.name)!;
  const vf = vfOf(vfRt.nic);
  const pf = sriovNics(ctx).get(`${vm.host}.${vfIface.nic ?? ''}`);
  let fo: FailoverNic;
  try {
    // libvirt's hostdev <mac>: the standby's MAC, set through the PF when the VF has none.
    if (vf && pf && vf.config.mac === 0) pf.configureVf(vf.index, { mac: sbIface.mac });
    fo = new FailoverNic(sbIface.path, sbRt.nic, vfRt.nic);
  } catch (e) {
    throw located(ctx, vfIface, e);
  }
  let m = masters.get(ctx);
  if (!m) masters.set(ctx, (m = new Map<string, FailoverNic>()));
  m.set(vfIface.path, fo);
  const cfgOf = (i: InterfaceModel) => ({
    ...(i.ipv4 ? { ipv4: i.ipv4.text } : {}),
    ...(i.ipv6.length > 0 ? { ipv6: i.ipv6 } : {}),
    ...(i.gateway !== undefined ? { gateway: formatIpv4(i.gateway) } : {}),
  });
  try {
    vm.stack.addInterface(fo, { ...cfgOf(sbIface), ...cfgOf(vfIface) });
  } catch (e) {
    throw located(ctx, vfIface, e);
  }
  return fo;
}

/** Live-migration hooks for `vm`'s failover pairs (see the file comment). */
export function failoverHooks(ctx: BuildContext, vm: VmRuntime): FailoverHooks {
  const ifaceOf = (v: VmVf): InterfaceModel => vm.model.interfaces.find((i) => i.path === v.path)!;
  return {
    unplug: (v) => {
      const iface = ifaceOf(v);
      const fo = failoverNic(ctx, v.path)!;
      const primary = fo.unplugPrimary();
      const vf = primary ? vfOf(primary) : undefined;
      const pf = sriovNics(ctx).get(vf?.path.slice(0, vf.path.lastIndexOf('.')) ?? '');
      if (vf && pf) {
        pf.releaseVf(vf.index);
        pf.configureVf(vf.index, { mac: 0 });
      }
      // The standby's bridge learns the MAC on the tap at once (the script's `bridge fdb add`).
      const sb = vm.nics.get(iface.standby!);
      const bridge = sb?.bridgePath !== undefined ? ctx.bridges.get(sb.bridgePath) : undefined;
      const ofport = bridge?.ofportOf(sb!.iface.bridgePortName);
      if (bridge && ofport !== undefined) bridge.mac.learn(fo.mac, sb!.iface.vlan.tag ?? 0, ofport, bridge.nowNs());
    },
    plug: (v, host): VfPlugResult => {
      const iface = ifaceOf(v);
      const fo = failoverNic(ctx, v.path)!;
      const pfPath = `${host}.${iface.nic ?? ''}`;
      const pf = sriovNics(ctx).get(pfPath);
      if (!pf) return { vf: null, reason: `${host} has no SR-IOV NIC ${iface.nic ?? ''}` };
      const free = pf.vfs.find((x) => x.present && x.assignedTo === null);
      if (!free) return { vf: null, reason: `no free VF on ${pfPath} (${pf.numVfs} VFs, all assigned)` };
      pf.assignVf(free.index, iface.path);
      pf.configureVf(free.index, { mac: fo.mac });
      free.rxDelayNs = iface.rxDelayNs;
      fo.plugPrimary(free);
      const rt = vm.nics.get(iface.name);
      if (rt) rt.nic = free;
      return { vf: free.path, port: free.port };
    },
  };
}

/** Failover as a fabric feature (`feature.ts`): one master per VF/standby pair, as each VM is built. */
export const failoverFeature: FabricFeature = {
  name: 'failover',
  validate: validateFailover,
  build: {
    vm: (ctx, vm) => {
      for (const iface of vm.model.interfaces) if (standbyOf(vm.model, iface)) addFailoverInterface(ctx, vm, iface);
    },
  },
};
