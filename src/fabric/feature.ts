/**
 * `FabricFeature`: the one shape every subsystem of a fabric has (SR-IOV, failover, migration,
 * disks, disk I/O + QoS, storage exports …). `checkTopology`/`validateModel`, `buildFabric`, the
 * scenario and `Fabric.close` loop over `FABRIC_FEATURES` (`features.ts`) instead of naming each
 * subsystem; a new subsystem is a new module exporting a feature plus one line in that list.
 *
 * Hooks (all optional) and what each may do:
 *
 * - `validate(model)`: every user mistake the feature can see in the topology, as positioned
 *   `UserError`s (`model.source.error(code, yamlPath, msg)`), returned, not thrown. Pure: reads the
 *   model only, opens no file, builds nothing. Runs for `vfab validate` and before every build, on
 *   a model whose references may already be wrong (`validateModel` drops internal errors then).
 * - `build`: creates the feature's runtime objects; up to three stage functions, called by
 *   `buildFabric` in this order:
 *     1. `devices(ctx)` — bridges, switches, routers and tunnels exist; VMs and links do not
 *        (SR-IOV PFs/VFs, host interfaces: things VMs and links attach to);
 *     2. `vm(ctx, vm)` — once per VM in topology order, after that VM's NICs exist and before the
 *        next VM is built (failover masters: a guest netdev over two NICs);
 *     3. `attached(ctx)` — every port, NIC and link exists and flow tables are checked (disks,
 *        QoS engines, storage exports: things that use the network, not shape it).
 *   Within a stage, features run in list order. A build may throw positioned `UserError`s (bad
 *   input the validator could not see, e.g. a missing image file). With `ctx.options.openFiles`
 *   false (`vfab validate`) a build must not touch the file system.
 * - `actions`: scenario action kinds the feature owns (`fio`, `migrate`, `vf` …) → a scheduler
 *   called once per step at build time, in scenario order; it schedules on `ctx.sim` (at
 *   `step.atNs` or later) and never reads a wall clock. An action kind belongs to one feature.
 * - `summary(ctx)`: the feature's block of the run summary (`vfab run --json` key `summaryKey`,
 *   default `name`), or undefined when it has nothing to say. Called once, right after the first
 *   of the feature's hooks that ran (a build stage or an action): that moment fixes the key's
 *   place in the summary JSON, so the bytes of existing summaries do not move.
 * - `close(ctx)`: releases what `build` opened (image files, locks). Idempotent; runs on success,
 *   failure and Ctrl-C.
 *
 * Invariants: features keep per-fabric state in a `WeakMap<BuildContext, …>` (never module
 * globals: two fabrics in one process are independent); they talk to each other only through
 * exported functions of their modules (e.g. `diskImages(ctx)`), never through the list order
 * beyond what the stages above promise; everything is deterministic (sim time, seeded PRNG forks
 * named after the feature's objects).
 */
import type { UserError } from '../errors.js';
import type { ScenarioStep, TopologyModel } from '../topology/model.js';
import type { BuildContext, SummarySection, VmRuntime } from './context.js';

export interface FeatureBuild {
  devices?(ctx: BuildContext): void;
  vm?(ctx: BuildContext, vm: VmRuntime): void;
  attached?(ctx: BuildContext): void;
}

export type ActionScheduler = (ctx: BuildContext, step: ScenarioStep) => void;

export interface FabricFeature {
  /** Short name (`sriov`, `disks` …); the default summary key. */
  readonly name: string;
  validate?(model: TopologyModel): UserError[];
  readonly build?: FeatureBuild;
  readonly actions?: Readonly<Record<string, ActionScheduler>>;
  /** Key of the summary block (default `name`). */
  readonly summaryKey?: string;
  summary?(ctx: BuildContext): SummarySection | undefined;
  close?(ctx: BuildContext): void;
}

/** Calls each feature's `summary` once, after its first hook ran (see the file comment). */
export class FeatureSummaries {
  private readonly done = new Set<FabricFeature>();
  constructor(private readonly ctx: BuildContext) {}

  /** `f` just ran a hook: register its summary block if this was its first. */
  ran(f: FabricFeature): void {
    if (this.done.has(f)) return;
    this.done.add(f);
    const s = f.summary?.(this.ctx);
    if (s) this.ctx.addSummarySection(f.summaryKey ?? f.name, s);
  }
}
