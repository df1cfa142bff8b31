/**
 * Disk I/O inside a run (issue 13 item 3): the QoS engine (`qos/engine.ts`) runs on the fabric's
 * own simulation — one clock, one event queue — so fio jobs, throttles and storage devices share
 * time with frames, migrations and everything else in the scenario.
 *
 * The topology says it in the QoS files' words, parsed by the QoS files' code (`qos/file.ts`):
 *   hosts.hv1.backends.ssd: { parallelism, service, bandwidth }   → storage device `hv1.ssd`
 *   vms.vm1.disks.vda: { memory: 10GiB, backend: ssd, throttle: { iops-total: 500 } }
 *                                                                   → disk `vm1.vda` (+ policy)
 *   scenario: - at: 2s
 *               fio: { disk: vm1.vda, rw: randread, bs: 4k, iodepth: 4, runtime: 10s }
 *                                                                   → job, startdelay += at
 * so a topology with one host, those disks and `fio:` steps at time 0 is the same QoS model as
 * the equivalent QoS file, and the engine — same PRNG forks, same seed — gives the same numbers.
 * A disk's `backend:` names a device of the host the VM starts on; a migration does not move it
 * (shared storage). The I/O is timing only unless the disk says `data: true`: then each completed
 * I/O reads or writes its bytes in the open image (writes carry a 0x5a pattern, as `vfab qos` with images).
 *
 * Expectations: `expect:` lines whose head names a VM disk (`vm1.vda: read_iops >= 400`, the
 * colon optional), a throttle group, `burst:`, or that start with a storage metric (every disk)
 * are QoS expectations (`qos/expect.ts`, every metric × every form); the others are network ones
 * (`expect.ts`). Their measurement windows go into the engine before the run.
 *
 * Summary block `storage`: the fio-shaped JSON `vfab qos run --json` prints (`fio`, `disks`,
 * `backends`), as of the summary's time. Only built when the scenario has `fio:` steps.
 */
import { UserError, UserErrors } from '../errors.js';
import type { ScenarioStep, TopologyModel, FioAction } from '../topology/model.js';
import { nearest, type YamlPath } from '../util/yaml-source.js';
import { formatSize } from '../util/units.js';
import { QosEngine } from '../qos/engine.js';
import { ExpectParseError, parseExpectation, splitMetric, type Expectation } from '../qos/expect.js';
import { checkJobRegion, readDevice, readJob, readPolicy, type Err } from '../qos/file.js';
import type { DiskData, DiskSpec, GroupSpec, PolicySpec, QosModel } from '../qos/model.js';
import type { DiskRun } from '../qos/engine.js';
import { evaluateQosExpectation, expectationWindows, formatNs, qosResult, type ExpectationResult, type QosResult } from '../qos/run.js';
import type { StorageDevice, StorageDeviceSpec } from '../qos/storage-device.js';
import { qosLimitLines, thresholdLines } from '../qos/svg.js';
import type { BuildContext, SummarySection } from './context.js';
import type { FabricFeature } from './feature.js';
import { diskImages } from './disks.js';
import { nbdDiskSize, nbdTargets } from './nbd-disks.js';

/** Timeline resolution of in-run storage statistics (`max_iops`, `burst:` expectations). */
const INTERVAL_NS = 1_000_000_000;

type FioStep = ScenarioStep & { action: FioAction };

function fioSteps(model: TopologyModel): FioStep[] {
  return model.scenario.filter((s): s is FioStep => s.action.kind === 'fio');
}

/**
 * The QoS model of a topology's storage: devices per host, VM disks with their throttles and
 * implicit groups, fio jobs. `sizeOf` gives a disk's size when the topology does not (an image's
 * virtual size once opened); undefined = unknown (region checks skipped, as in `vfab validate`).
 */
export function storageModel(model: TopologyModel, sizeOf: (vm: string, disk: string) => number | undefined, err: Err): QosModel {
  const devices: StorageDeviceSpec[] = [];
  const hostDevices = new Map<string, string[]>();
  for (const h of model.hosts) {
    const names: string[] = [];
    for (const [name, doc] of Object.entries(model.doc.hosts?.[h.name]?.backends ?? {})) {
      devices.push(readDevice(`${h.name}.${name}`, doc, [...h.yaml, 'backends', name], err));
      names.push(name);
    }
    hostDevices.set(h.name, names);
  }
  const disks: DiskSpec[] = [];
  const implicit = new Map<string, { policy: PolicySpec; members: string[] }>();
  for (const vm of model.vms) {
    for (const d of vm.disks) {
      const name = `${vm.name}.${d.name}`;
      const doc = d.doc;
      let backend: string | undefined;
      if (doc.backend !== undefined && doc.nbd === undefined) {
        const names = hostDevices.get(vm.host) ?? [];
        if (!names.includes(doc.backend)) {
          const guess = nearest(doc.backend, names);
          err([...d.yaml, 'backend'], `host ${vm.host} has no storage device "${doc.backend}"${guess ? `; did you mean "${guess}"?` : names.length ? ` (backends: ${names.join(', ')})` : ` (declare it under hosts.${vm.host}.backends)`}`);
        } else backend = `${vm.host}.${doc.backend}`;
      }
      const g: { name?: string; key?: string } = {};
      let policy = doc.throttle ? readPolicy(doc.throttle, [...d.yaml, 'throttle'], err, true, g) : undefined;
      if (g.name !== undefined && policy) {
        // libvirt <group_name> / QEMU throttle-group: the disks naming it share one set of limits
        const prev = implicit.get(g.name);
        if (prev && JSON.stringify(prev.policy) !== JSON.stringify(policy)) {
          err([...d.yaml, 'throttle'], `disk "${name}" gives group "${g.name}" other limits than disk "${prev.members[0]}" (QEMU keeps one set of limits per group)`);
        } else if (prev) prev.members.push(name);
        else implicit.set(g.name, { policy, members: [name] });
        policy = undefined;
      }
      disks.push({ name, size: doc.memory ?? doc.size ?? sizeOf(vm.name, d.name) ?? 0, backend, policy });
    }
  }
  const groups: GroupSpec[] = [...implicit].map(([name, g]) => ({ name, members: g.members, policy: g.policy }));
  const jobs = fioSteps(model).map((step) => {
    const path: YamlPath = [...step.yaml, 'fio'];
    const a = step.action;
    const disk = disks.find((d) => d.name === a.doc.disk);
    if (!disk) {
      const names = disks.map((d) => d.name);
      const guess = nearest(a.doc.disk, names);
      err([...path, 'disk'], `no disk "${a.doc.disk}"${guess ? `; did you mean "${guess}"?` : names.length ? ` (disks: ${names.join(', ')})` : ' (VM disks are vms.<vm>.disks.<name>, named vm.disk)'}`);
    }
    const spec = readJob(a.name, a.doc, path, err);
    // the step's time is when fio starts: a startdelay from the start of the run
    spec.startdelayNs += step.atNs;
    if (disk && disk.size > 0) checkJobRegion(spec, disk.size, path, err);
    return spec;
  });
  return { seed: model.seed ?? 1, durationNs: 0, intervalNs: INTERVAL_NS, backends: devices, disks, groups, jobs };
}

/** Storage lines of `expect:` with their index in the list (see the file comment). */
export function storageExpectations(model: TopologyModel, errors: UserError[] = []): Array<{ index: number; exp: Expectation }> {
  const texts = (model.doc as { expect?: string[] }).expect ?? [];
  const disks = new Set(model.vms.flatMap((vm) => vm.disks.map((d) => `${vm.name}.${d.name}`)));
  const groups = new Set<string>();
  for (const vm of model.vms) {
    for (const d of vm.disks) {
      const t = d.doc.throttle;
      if (!t) continue;
      for (const [k, v] of Object.entries(t)) if (/group/.test(k) && typeof v === 'string') groups.add(v);
    }
  }
  const out: Array<{ index: number; exp: Expectation }> = [];
  // without VM disks every line is a network expectation (and reported as one when wrong)
  if (disks.size === 0) return out;
  texts.forEach((text, index) => {
    const head = /^\s*(\S+)/.exec(text)?.[1] ?? '';
    const name = head.endsWith(':') ? head.slice(0, -1) : head;
    let line: string;
    let shift = 0;
    if (head === 'burst:' || (head.endsWith(':') && (disks.has(name) || groups.has(name)))) line = text;
    else if (!head.endsWith(':') && (disks.has(name) || groups.has(name))) {
      // `vm1.vda read_iops >= 400`: the QoS grammar's `vm1.vda:` without the colon
      const at = text.indexOf(head) + head.length;
      line = `${text.slice(0, at)}:${text.slice(at)}`;
      shift = at;
    } else if (!head.endsWith(':') && splitMetric(head) !== undefined) line = text;
    else return;
    const r = parseExpectation(line);
    if (r instanceof ExpectParseError) {
      const col = shift > 0 && r.col > shift ? r.col - 1 : r.col;
      errors.push(model.source.error('EXPECT_SYNTAX', ['expect', index], `${r.message} (at column ${col + 1} of "${text}")`));
      return;
    }
    if (r.target !== undefined && !disks.has(r.target) && !groups.has(r.target)) {
      const guess = nearest(r.target, [...disks, ...groups]);
      errors.push(model.source.error('EXPECT_SYNTAX', ['expect', index], `expectation names no disk or group "${r.target}"${guess ? `; did you mean "${guess}"?` : ''}`));
      return;
    }
    out.push({ index, exp: { ...r, text } });
  });
  return out;
}

interface DiskIoRun {
  engine: QosEngine;
  exps: Array<{ index: number; exp: Expectation }>;
  /** The result as of `atNs` (statistics closed there). */
  cached: { atNs: number; result: QosResult } | undefined;
}

const runs = new WeakMap<BuildContext, DiskIoRun>();

function located(model: TopologyModel, errors: UserError[]): Err {
  return (path, msg, key = false) => errors.push(model.source.error('DISK_IO', path, msg, { key }));
}

/** Every storage configuration error of `model` (no file read: image sizes are unknown here). */
export function validateDiskIo(model: TopologyModel): UserError[] {
  const errors: UserError[] = [];
  storageModel(model, () => undefined, located(model, errors));
  storageExpectations(model, errors);
  return errors;
}

function buildDiskIo(ctx: BuildContext): void {
  const model = ctx.model;
  if (fioSteps(model).length === 0) return;
  const images = diskImages(ctx);
  const errors: UserError[] = [];
  const qos = storageModel(model, (vm, disk) => images.get(`${vm}.${disk}`)?.image.virtualSize ?? nbdDiskSize(ctx, `${vm}.${disk}`), located(model, errors));
  const exps = storageExpectations(model, errors);
  if (errors.length > 0) throw errors.length === 1 ? errors[0]! : new UserErrors(errors);
  // `data: true` disks: each completed I/O reads or writes its bytes in the open image
  const data = new Map<string, DiskData>();
  for (const vm of model.vms) {
    for (const d of vm.disks) {
      const img = images.get(`${vm.name}.${d.name}`)?.image;
      if (d.doc.data === true && img) data.set(`${vm.name}.${d.name}`, { read: (o, b) => img.read(o, b), write: (o, b) => img.write(o, b) });
    }
  }
  // network disks (`nbd:`): admitted I/Os travel over NBD to the storage host (nbd-disks.ts)
  const targets = nbdTargets(ctx);
  const engine = new QosEngine(qos, { sim: ctx.sim, windows: expectationWindows(exps.map((e) => e.exp), INTERVAL_NS), data, targets });
  for (const t of targets.values()) t.engine = engine;
  engine.start(0);
  runs.set(ctx, { engine, exps, cached: undefined });
}

/**
 * The engine's run of disk `name` (`vm.disk`), or undefined without fio steps: its `data` path and
 * `writeTap` are where a block mirror (`block-mirror.ts`) sees the guest's writes and pivots.
 */
export function storageDiskRun(ctx: BuildContext, name: string): DiskRun | undefined {
  const r = runs.get(ctx);
  return r?.engine.disks.find((d) => d.spec.name === name);
}

/** The engine's storage device `host.name` (a `backends:` entry), or undefined without fio steps. */
export function storageDevice(ctx: BuildContext, name: string): StorageDevice | undefined {
  return runs.get(ctx)?.engine.devices.get(name);
}

/** The storage result as of now (statistics closed at `ctx.sim.now`), or undefined without fio steps. */
export function storageResult(ctx: BuildContext): QosResult | undefined {
  const r = runs.get(ctx);
  if (!r) return undefined;
  const now = ctx.sim.now;
  if (r.cached?.atNs !== now) {
    r.engine.finish(now);
    r.cached = { atNs: now, result: qosResult(r.engine) };
  }
  return r.cached.result;
}

/** Verdicts of the storage expectations, by their index in `expect:` (empty without fio steps). */
export function storageVerdicts(ctx: BuildContext): Map<number, ExpectationResult> {
  const r = runs.get(ctx);
  const out = new Map<number, ExpectationResult>();
  if (!r) return out;
  storageResult(ctx);
  r.exps.forEach((e, i) => out.set(e.index, evaluateQosExpectation(e.exp, r.engine.windows[i]!, r.engine, r.engine.endNs)));
  return out;
}

function summary(ctx: BuildContext): SummarySection | undefined {
  if (!runs.has(ctx)) return undefined;
  return {
    json: () => {
      const r = storageResult(ctx)!;
      const run = runs.get(ctx)!;
      const th = thresholdLines(run.exps.map((e) => e.exp));
      const line = (l: { label: string; y: number }) => ({ label: l.label, y: l.y });
      const lim = qosLimitLines(run.engine);
      // a network disk's device is its export's (in the `nbd` block), not a local null device
      const net = nbdTargets(ctx);
      const disks = Object.fromEntries(Object.entries(r.disks).map(([k, d]) => [k, net.has(k) ? { ...d, backend: `nbd:${net.get(k)!.exportRef}` } : d]));
      const backends = Object.fromEntries(Object.entries(r.backends).filter(([k]) => !(k.startsWith('null:') && net.has(k.slice(5)))));
      return {
        completed_ios: r.completed_ios,
        fio: r.fio,
        disks,
        backends,
        // Per-interval rows per disk, the throttles' limits and the storage expectations'
        // thresholds: what the run report draws as the storage timeline (as `vfab qos run --report`).
        timelines: { interval_ns: r.timelines.interval_ns, disks: r.timelines.disks },
        limits: { iops: lim.iops.map(line), bw: lim.bw.map(line) },
        thresholds: { iops: th.iops.map(line), bw: th.bw.map(line), lat_ns: th.lat.map(line) },
      };
    },
    text: () => {
      const r = storageResult(ctx)!;
      return r.fio.jobs.map((j) => {
        const d = j.read.total_ios >= j.write.total_ios ? j.read : j.write;
        const p99 = d.clat_ns.percentile?.['99.000000'] ?? 0;
        const err = j.error ? `, error ${j.error}${j.error === 5 ? ' (EIO)' : ''}` : '';
        return `fio ${j.jobname}: ${j.read.total_ios ? `read ${Math.round(j.read.iops)} IOPS ${formatSize(j.read.bw_bytes)}/s` : ''}${j.read.total_ios && j.write.total_ios ? ', ' : ''}${j.write.total_ios ? `write ${Math.round(j.write.iops)} IOPS ${formatSize(j.write.bw_bytes)}/s` : ''}${d.total_ios ? `, clat p99 ${formatNs(p99)}` : 'no I/O completed'}${err}`;
      });
    },
  };
}

/** Disk I/O as a fabric feature (`feature.ts`): `fio:` steps, throttles, storage devices, the `storage` block. */
export const diskIoFeature: FabricFeature = {
  name: 'disk-io',
  summaryKey: 'storage',
  validate: validateDiskIo,
  // after `disks` (an image's size is known once it is open)
  build: { attached: buildDiskIo },
  // the jobs are scheduled by the engine when it is built (their `at` is a startdelay)
  actions: { fio: () => undefined },
  summary,
};
