/**
 * VM disks in the fabric (issue 4, item 7) — OWNER: H3. Integration point between the topology
 * (`vms.*.disks.*`: `image` (+ `size`, `backing`, `format`, `backing_format`, `cluster_size`,
 * `readonly`) or `memory: SIZE`) and `src/block/`. The fabric builder calls:
 *
 *   1. `validateDisks(model)` from `vfab validate` and before building: every user error (neither
 *      or both of image/memory, size missing for a new image, bad cluster size …), positioned
 *      with `model.source.error(code, disk.yaml, msg)`.
 *   2. `buildDisks(ctx)` after the VMs exist: open or create each image (paths relative to the
 *      topology: `ctx.resolvePath(doc.image)`), and publish
 *      `ctx.addSummarySection('disks', {json, text})`: per disk `{vm, name, virtual_size,
 *      allocated_bytes, chain}`. Close images when the run ends (`closeDisks`).
 *
 * Until H3 lands the real implementation, a topology with disks is a positioned "not supported
 * yet" error.
 */
import { UserError } from '../errors.js';
import type { TopologyModel } from '../topology/model.js';
import type { BuildContext } from './context.js';

/** All disk configuration errors in `model` (empty when fine). */
export function validateDisks(model: TopologyModel): UserError[] {
  const errors: UserError[] = [];
  for (const vm of model.vms) {
    for (const d of vm.disks) errors.push(model.source.error('DISK_UNSUPPORTED', d.yaml, `disk "${d.name}" of VM ${vm.name}: VM disks are not supported yet (issue 4)`));
  }
  return errors;
}

/** Opens/creates every VM disk and registers the `disks` summary section. */
export function buildDisks(ctx: BuildContext): void {
  void ctx;
}

/** Flushes and closes every disk opened by `buildDisks` (run end, failure or Ctrl-C). */
export function closeDisks(ctx: BuildContext): void {
  void ctx;
}
