/**
 * SR-IOV in the fabric (issue 6) — OWNER: H7. This file is the integration point between the
 * topology (`hosts.*.nics`, interfaces with `model: vf`, scenario `vf:` / `sriov:` steps) and
 * `src/sriov/`. The fabric builder calls, in this order:
 *
 *   1. `validateSriov(model)` from `vfab validate` and before building: return every user error
 *      (VF index ≥ num_vfs, num_vfs > total_vfs, a VF handed to two VMs, duplicate VF MACs, qos
 *      without vlan, min rate above max …), positioned with `model.source.error(code, yaml, msg)`.
 *   2. `buildSriov(ctx)` after host bridges and switches exist and BEFORE links and VMs: create each
 *      PF, its VFs and VEB, register every port with `ctx.registerPort` — the PF uplink at
 *      `pf.uplinkPath` (`hv1.pf0.uplink`: links attach to it by that path), VF ports at
 *      `hv1.pf0.vfN`, representors on `ctx.bridges.get(`${host}.${pf.doc.bridge}`)` (switchdev).
 *   3. `attachVf(ctx, vm, iface)` for every VM interface with `model: vf`: return the VF's GuestNic
 *      (the guest stack runs over it like over virtio).
 *   4. `applySriovAction(ctx, step)` at a scenario step's time for `vf:` and `sriov:` actions.
 *
 * Until H7 lands the real implementation, using SR-IOV keys is a positioned "not supported yet"
 * error, so everything else in a topology still validates and runs.
 */
import { UserError } from '../errors.js';
import type { GuestNic } from '../port/nic.js';
import type { InterfaceModel, NumVfsAction, ScenarioStep, TopologyModel, VfAction, VmModel } from '../topology/model.js';
import type { BuildContext } from './context.js';

/** All SR-IOV configuration errors in `model` (empty when fine). */
export function validateSriov(model: TopologyModel): UserError[] {
  const errors: UserError[] = [];
  const notYet = (yaml: ReadonlyArray<string | number>, what: string): void => {
    errors.push(model.source.error('SRIOV_UNSUPPORTED', yaml, `${what} is not supported yet (SR-IOV lands with issue 6)`));
  };
  for (const h of model.hosts) for (const n of h.nics) notYet(n.yaml, `SR-IOV NIC "${n.name}"`);
  for (const vm of model.vms) for (const i of vm.interfaces) if (i.model === 'vf') notYet([...i.yaml, 'model'], `interface model "vf"`);
  for (const s of model.scenario) if (s.action.kind === 'vf' || s.action.kind === 'sriov') notYet([...s.yaml, s.action.kind], `scenario action "${s.action.kind}"`);
  return errors;
}

/** Builds PFs, VFs, VEBs and representors; registers their ports. */
export function buildSriov(ctx: BuildContext): void {
  void ctx;
}

/** The GuestNic of the VF `iface` names (model: vf) for `vm`. */
export function attachVf(ctx: BuildContext, vm: VmModel, iface: InterfaceModel): GuestNic {
  throw ctx.source.error('SRIOV_UNSUPPORTED', [...iface.yaml, 'model'], `VM ${vm.name}: interface model "vf" is not supported yet`);
}

/** Applies a scenario `vf:` or `sriov:` step (called at `step.atNs`). */
export function applySriovAction(ctx: BuildContext, step: ScenarioStep & { action: VfAction | NumVfsAction }): void {
  throw ctx.source.error('SRIOV_UNSUPPORTED', [...step.yaml, step.action.kind], `scenario action "${step.action.kind}" is not supported yet`);
}
