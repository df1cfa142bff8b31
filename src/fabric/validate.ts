/**
 * `vfab validate`: everything `vfab run` checks before simulating, in one pass.
 *
 * Phases: YAML syntax and schema (no model without them: these throw), then references
 * (`unknown host`), the feature checks (`FABRIC_FEATURES`: SR-IOV, failover, migration, disks …) and the build of the
 * fabric itself without disk images (flow tables with their port names, NIC options, links),
 * all reported together, sorted by position. Before, `validate` stopped at the first phase with
 * an error and never parsed flow tables, so `run` refused files `validate` called valid.
 *
 * When references are already wrong the later checks run on a partial model; an internal error
 * there is a consequence of the earlier errors and is dropped (the user sees the cause). With no
 * earlier error an internal error is a real bug and propagates.
 */
import { dirname } from 'node:path';
import { UserError, UserErrors } from '../errors.js';
import { Simulation } from '../sim/simulation.js';
import type { TopologyModel } from '../topology/model.js';
import { buildFabric } from './build.js';
import { FABRIC_FEATURES } from './features.js';

function userErrorsOf(e: unknown): UserError[] | undefined {
  if (e instanceof UserErrors) return e.errors;
  if (e instanceof UserError) return [e];
  return undefined;
}

/** Every problem of a resolved (possibly partial) model; `earlier` are the reference errors. */
export function validateModel(model: TopologyModel, earlier: UserError[] = []): UserError[] {
  const errors = [...earlier];
  const guard = (f: () => UserError[] | undefined): void => {
    try {
      const out = f();
      if (out) errors.push(...out);
    } catch (e) {
      const u = userErrorsOf(e);
      if (u) errors.push(...u);
      else if (errors.length === 0) throw e;
    }
  };
  for (const f of FABRIC_FEATURES) if (f.validate) guard(() => f.validate!(model));
  // flow tables, NIC options and links are checked by building the fabric (no disk opened);
  // the build re-checks some things the feature checks already reported (in its own words):
  // a line that already has an error keeps only that one
  const before = errors.length;
  guard(() => {
    buildFabric(model, { sim: new Simulation(1), events: () => undefined, baseDir: dirname(model.file), skipDisks: true });
    return undefined;
  });
  const lineOf = (e: UserError): string => (e.location ? `${e.location.file}:${e.location.line}` : `?${e.message}`);
  const known = new Set(errors.slice(0, before).map(lineOf));
  const built = errors.splice(before).filter((e) => !known.has(lineOf(e)));
  errors.push(...built);
  const seen = new Set<string>();
  const unique = errors.filter((e) => {
    const k = e.render();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  unique.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0));
  return unique;
}
