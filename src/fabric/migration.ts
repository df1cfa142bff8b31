/**
 * Live migration in the fabric (issue 7) — OWNER: H8. Integration point between the topology
 * (`vms.*.memory`, `vms.*.dirty_rate`, scenario `migrate:` steps, interfaces' `standby`) and
 * `src/migration/`. The fabric builder calls:
 *
 *   1. `validateMigration(model)` from `vfab validate` and before building: every user error
 *      (unknown destination host, destination = source, a VF without a virtio standby, missing
 *      memory size, announce parameter errors …), positioned with `model.source.error(…)`.
 *   2. `scheduleMigration(ctx, step)` at build time for each `migrate:` step: schedule the
 *      migration at `step.atNs` on `ctx.sim`. Pause the VM's NICs (`VmNicRuntime.virtio.pause()`),
 *      move them with `ctx.unplugNic(vm, if)` + `ctx.plugNic(vm, if, destBridgePath)`, resume,
 *      announce; set `ctx.vms.get(vm).host`; record the result and publish it with
 *      `ctx.addSummarySection('migrations', {json, text})` (once; keep a list in a WeakMap keyed
 *      by ctx, or similar).
 *
 * Until H8 lands the real implementation, a `migrate:` step is a positioned "not supported yet"
 * error (memory/dirty_rate alone are accepted and ignored).
 */
import { UserError } from '../errors.js';
import type { MigrateAction, ScenarioStep, TopologyModel } from '../topology/model.js';
import type { BuildContext } from './context.js';

/** All migration configuration errors in `model` (empty when fine). */
export function validateMigration(model: TopologyModel): UserError[] {
  const errors: UserError[] = [];
  for (const s of model.scenario) {
    if (s.action.kind === 'migrate') {
      errors.push(model.source.error('MIGRATION_UNSUPPORTED', [...s.yaml, 'migrate'], `scenario action "migrate" is not supported yet (live migration lands with issue 7)`));
    }
  }
  return errors;
}

/** Schedules one `migrate:` step on `ctx.sim` (called once per step, at build time). */
export function scheduleMigration(ctx: BuildContext, step: ScenarioStep & { action: MigrateAction }): void {
  throw ctx.source.error('MIGRATION_UNSUPPORTED', [...step.yaml, 'migrate'], `scenario action "migrate" is not supported yet`);
}
