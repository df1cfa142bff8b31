/**
 * QoS files: YAML naming backends, disks (standalone, or VM disks of a topology), throttle groups,
 * fio-style jobs and, for `vfab qos test`, expectations. Parsed with positions: every mistake is a
 * `UserError` at `file:line:col` (exit 2).
 *
 *   topology: qos-burst.yaml        # optional: VM disks `vm1.vda` come from its vms.<vm>.disks
 *   seed: 1
 *   duration: 60s                   # optional cap on simulated time
 *   interval: 1s                    # timeline resolution (1ms … )
 *   backends: { ssd: { parallelism: 32, service: { lognormal: { p50: 200us, p99: 2ms } }, bandwidth: 2GiB } }
 *   disks:    { vm1.vda: { size: 10GiB, backend: ssd, policy: { iops-total: 500, iops-total-max: 2000, iops-total-max-length: 10 } } }
 *   groups:   { gold: { members: [vm1.vda, vm2.vda], policy: { total_iops_sec: 1000 } } }
 *   jobs:     { burst: { disk: vm1.vda, rw: randread, bs: 4k, iodepth: 8, runtime: 60s, time_based: true } }
 *   expect:   [ "vm1.vda: iops >= 450 over [10s, 60s]", "burst: vm1.vda iops >= 1800 for >= 9s" ]
 *
 * Policies: `kind: qemu` (default; QEMU, QMP or libvirt <iotune> names), `firecracker`
 * (`bandwidth`/`ops`: {size, one_time_burst, refill_time ms}), `io.max` (rbps/wbps/riops/wiops or
 * a `line`), `mclock` (reservation, limit, weight).
 */
import { z } from 'zod';
import { UserError, UserErrors } from '../errors.js';
import { parseYaml, validateYaml, nearest, type YamlPath, type YamlSource } from '../util/yaml-source.js';
import { zDuration, zSize } from '../util/zod-units.js';
import { parseDuration, parseSize, unitMessage } from '../util/units.js';
import { qemuLimitKeys, readQemuLimits } from '../block/throttle/qemu-config.js';
import { parseIoMax, type IoMaxLimits } from '../block/throttle/meters.js';
import type { TokenBucketConfig } from '../block/throttle/token-bucket.js';
import type { StorageDeviceSpec } from './storage-device.js';
import type { ServiceTimeSpec } from './service-time.js';
import type { DiskSpec, GroupSpec, PolicySpec, QosModel } from './model.js';
import { defaultJob, parseBs, parseBsrange, parseBssplit, parseRateBps, parseRateIops, type JobSpec } from './workload.js';
import { fioJobSchema, policySchema, storageDeviceSchema, type FioJobDoc, type ServiceDoc, type StorageDeviceDoc } from '../topology/storage-schema.js';
import { parseExpectation, ExpectParseError, type Expectation } from './expect.js';

const backendSchema = storageDeviceSchema;

const diskSchema = z.strictObject({
  size: zSize().optional(),
  image: z.string().optional().describe('qcow2/raw image for real I/O (with data: true), relative to the QoS file'),
  backend: z.string().optional(),
  policy: policySchema.optional(),
});

const groupSchema = z.strictObject({
  members: z.array(z.string()).min(1),
  policy: policySchema,
});

const jobSchema = fioJobSchema;

export const qosFileSchema = z.strictObject({
  topology: z.string().optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  duration: zDuration().optional(),
  interval: zDuration().optional(),
  data: z.boolean().optional().describe('move real data to the disks\' images (timing stays virtual)'),
  backends: z.record(z.string(), backendSchema).optional(),
  disks: z.record(z.string(), diskSchema).optional(),
  groups: z.record(z.string(), groupSchema).optional(),
  jobs: z.record(z.string(), jobSchema),
  expect: z.array(z.string()).optional(),
});

export interface TopologyDisks {
  /** `vm.disk` → size in bytes (undefined when the topology does not say) and image path (resolved). */
  disks: Map<string, { size: number | undefined; image?: string | undefined }>;
}

export interface LoadQosOptions {
  /** Loads the topology a QoS file names (path as written, relative to the QoS file). */
  loadTopology?: (relPath: string) => TopologyDisks;
  /** Virtual size of an image file (path as written in the QoS file, or resolved from the topology). */
  imageSize?: (path: string, fromTopology: boolean) => number;
}

export interface QosFile {
  file: string;
  model: QosModel;
  expectations: Array<{ exp: Expectation; path: YamlPath }>;
  source: YamlSource;
  topology: string | undefined;
}

/** Parses and validates a QoS file's text. */
export function loadQosText(text: string, file = 'qos.yaml', opts: LoadQosOptions = {}): QosFile {
  const source = parseYaml(text, file);
  if (source.doc.contents === null) throw new UserError('QOS_EMPTY', 'the QoS file is empty', { location: { file, line: 1, col: 1 } });
  const doc = validateYaml(source, qosFileSchema, 'QOS');
  const errors: UserError[] = [];
  const err = (path: YamlPath, msg: string, key = false): void => {
    errors.push(source.error('QOS_INVALID', path, msg, { key }));
  };

  // topology disks
  let topo: TopologyDisks | undefined;
  if (doc.topology !== undefined) {
    if (!opts.loadTopology) err(['topology'], 'a topology file cannot be read here (library call without loadTopology)');
    else {
      try {
        topo = opts.loadTopology(doc.topology);
      } catch (e) {
        // An unreadable topology file is located at the `topology:` line of this file; errors
        // inside the topology file carry their own file:line:col and pass through.
        if (!(e instanceof UserError) || e.location !== undefined) throw e;
        throw source.error(e.code, ['topology'], `topology "${doc.topology}": ${e.message}`, e.hint ? { hint: e.hint } : {});
      }
    }
  }

  // backends
  const backends: StorageDeviceSpec[] = [];
  for (const [name, b] of Object.entries(doc.backends ?? {})) {
    backends.push(readDevice(name, b, ['backends', name], err));
  }
  const backendNames = backends.map((b) => b.name);

  // disks: topology disks first (declaration order), then the file's own
  const disks = new Map<string, DiskSpec>();
  /** Groups named by disks' policies (libvirt `group_name`, QEMU `group`). */
  const implicit = new Map<string, { policy: PolicySpec; members: string[]; path: YamlPath }>();
  const fromTopology = new Set<string>();
  for (const [name, t] of topo?.disks ?? []) {
    disks.set(name, { name, size: t.size ?? 0, backend: undefined, policy: undefined, image: t.image });
    if (t.image !== undefined) fromTopology.add(name);
  }
  for (const [name, d] of Object.entries(doc.disks ?? {})) {
    const path = ['disks', name];
    const known = disks.get(name);
    if (!known && topo && /\./.test(name) && d.size === undefined && d.image === undefined) {
      const guess = nearest(name, [...disks.keys()]);
      err(path, `disk "${name}" is not in the topology${guess ? `; did you mean "${guess}"?` : ''} (or give it a size to declare it here)`, true);
      continue;
    }
    let size = d.size ?? known?.size ?? 0;
    const image = d.image ?? known?.image;
    if (d.image !== undefined) fromTopology.delete(name);
    if (!size && image !== undefined && opts.imageSize) size = opts.imageSize(image, fromTopology.has(name));
    if (d.backend !== undefined && !backendNames.includes(d.backend)) {
      const guess = nearest(d.backend, backendNames);
      err([...path, 'backend'], `no backend "${d.backend}"${guess ? `; did you mean "${guess}"?` : backendNames.length ? ` (backends: ${backendNames.join(', ')})` : ' (declare it under backends:)'}`);
    }
    const g: { name?: string; key?: string } = {};
    let policy = d.policy ? readPolicy(d.policy, [...path, 'policy'], err, true, g) : undefined;
    if (g.name !== undefined && policy) {
      const prev = implicit.get(g.name);
      if (prev && JSON.stringify(prev.policy) !== JSON.stringify(policy)) {
        err([...path, 'policy'], `disk "${name}" gives group "${g.name}" other limits than disk "${prev.members[0]}" (QEMU keeps one set of limits per group)`);
      } else if (prev) prev.members.push(name);
      else implicit.set(g.name, { policy, members: [name], path: [...path, 'policy', g.key!] });
      policy = undefined;
    }
    disks.set(name, { name, size, backend: d.backend, policy, image });
  }
  for (const name of fromTopology) {
    const d = disks.get(name)!;
    if (!d.size && opts.imageSize) d.size = opts.imageSize(d.image!, true);
  }
  for (const d of disks.values()) if (!(d.size > 0)) err(['disks', d.name], `disk "${d.name}" needs a size`, true);

  // groups
  const groups: GroupSpec[] = [];
  const inGroup = new Map<string, string>();
  const inMclock = new Map<string, string>();
  for (const [name, g] of Object.entries(doc.groups ?? {})) {
    const path = ['groups', name];
    const policy = readPolicy(g.policy, [...path, 'policy'], err, false);
    if (policy?.kind === 'mclock') {
      // an mClock group: its members share one reservation/limit/weight at their (common) backend
      const backends = new Set<string | undefined>();
      g.members.forEach((m, i) => {
        const d = disks.get(m);
        if (!d) err([...path, 'members', i], `no disk "${m}"${nearestText(m, [...disks.keys()])}`);
        else if (inMclock.has(m)) err([...path, 'members', i], `disk "${m}" is already in mclock group "${inMclock.get(m)}"`);
        else if (d.policy?.kind === 'mclock') err([...path, 'members', i], `disk "${m}" has its own mclock policy; a disk in an mclock group takes the group's`);
        else {
          inMclock.set(m, name);
          backends.add(d.backend);
        }
      });
      if (backends.size > 1 || backends.has(undefined)) err([...path, 'members'], 'the members of an mclock group must share one declared backend (mClock schedules that backend\'s queue)');
      groups.push({ name, members: g.members, policy });
      continue;
    }
    g.members.forEach((m, i) => {
      const d = disks.get(m);
      if (!d) {
        const guess = nearest(m, [...disks.keys()]);
        err([...path, 'members', i], `no disk "${m}"${guess ? `; did you mean "${guess}"?` : ''}`);
      } else if (inGroup.has(m)) {
        err([...path, 'members', i], `disk "${m}" is already in group "${inGroup.get(m)}" (QEMU puts a disk in one throttle group)`);
      } else if (d.policy && d.policy.kind !== 'mclock') {
        err([...path, 'members', i], `disk "${m}" has its own throttle limits; a disk in a group takes the group's limits`);
      } else inGroup.set(m, name);
    });
    if (policy) groups.push({ name, members: g.members, policy });
    if (implicit.has(name)) err(implicit.get(name)!.path, `group "${name}" is also declared under groups:; declare it in one place`);
  }
  for (const [name, g] of implicit) {
    for (const m of g.members) {
      if (inGroup.has(m)) err(['disks', m], `disk "${m}" is already in group "${inGroup.get(m)}" (QEMU puts a disk in one throttle group)`, true);
      inGroup.set(m, name);
    }
    if (!doc.groups?.[name]) groups.push({ name, members: g.members, policy: g.policy });
  }

  // jobs
  const jobs: JobSpec[] = [];
  for (const [name, j] of Object.entries(doc.jobs)) {
    const path = ['jobs', name];
    if (!disks.has(j.disk)) {
      const guess = nearest(j.disk, [...disks.keys()]);
      err([...path, 'disk'], `no disk "${j.disk}"${guess ? `; did you mean "${guess}"?` : disks.size ? ` (disks: ${[...disks.keys()].join(', ')})` : ''}`);
      continue;
    }
    const spec = readJob(name, j, path, err);
    checkJobRegion(spec, disks.get(j.disk)!.size, path, err);
    jobs.push(spec);
  }
  // wait_for names earlier jobs (fio: "the waitee must be defined prior to the waiter job")
  jobs.forEach((spec, i) => {
    for (const w of spec.waitFor ?? []) {
      if (!jobs.slice(0, i).some((x) => x.name === w)) {
        const names = jobs.slice(0, i).map((x) => x.name);
        err(['jobs', spec.name, 'wait_for'], `wait_for "${w}" names no job declared before "${spec.name}"${nearestText(w, names)}`);
      }
    }
  });
  if (jobs.length === 0 && errors.length === 0) err(['jobs'], 'no jobs: add at least one job under jobs:');

  // expectations
  const expectations: QosFile['expectations'] = [];
  (doc.expect ?? []).forEach((t, i) => {
    const r = parseExpectation(t);
    const path = ['expect', i];
    if (r instanceof ExpectParseError) {
      const loc = source.locate(path);
      const quoted = /^["']/.test(lineAt(text, loc.line).slice(loc.col - 1));
      errors.push(new UserError('QOS_EXPECT', r.message, { location: { ...loc, col: loc.col + r.col + (quoted ? 1 : 0) } }));
      return;
    }
    const groupNames = groups.map((g) => g.name);
    const jobNames = jobs.map((j) => j.name);
    if (r.target !== undefined && !disks.has(r.target) && !groupNames.includes(r.target) && !jobNames.includes(r.target)) {
      const guess = nearest(r.target, [...disks.keys(), ...groupNames, ...jobNames]);
      err(path, `expectation names no disk, group or job "${r.target}"${guess ? `; did you mean "${guess}"?` : ''}`);
      return;
    }
    if (r.target !== undefined && jobNames.includes(r.target) && (disks.has(r.target) || groupNames.includes(r.target))) {
      err(path, `"${r.target}" is both a job and a ${disks.has(r.target) ? 'disk' : 'group'}; rename one so the expectation says which it measures`);
      return;
    }
    expectations.push({ exp: r, path });
  });

  if (errors.length > 0) {
    errors.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0));
    throw errors.length === 1 ? errors[0]! : new UserErrors(errors);
  }
  const model: QosModel = {
    seed: doc.seed ?? 1,
    durationNs: doc.duration ?? 0,
    intervalNs: doc.interval ?? 1_000_000_000,
    backends,
    disks: [...disks.values()],
    groups,
    jobs,
    data: doc.data ?? false,
  };
  if (model.data && !model.disks.some((d) => d.image !== undefined)) throw source.error('QOS_INVALID', ['data'], '"data: true" needs at least one disk with an image');
  if (model.intervalNs < 1_000_000) throw source.error('QOS_INVALID', ['interval'], '"interval" must be at least 1ms');
  return { file, model, expectations, source, topology: doc.topology };
}

function nearestText(word: string, candidates: string[]): string {
  const g = nearest(word, candidates);
  return g ? `; did you mean "${g}"?` : '';
}

function lineAt(text: string, line: number): string {
  return text.split('\n')[line - 1] ?? '';
}

function sizePerSecond(v: number | string): number | string {
  try {
    return parseSize(typeof v === 'string' ? v.replace(/\s*\/\s*s$/, '') : v);
  } catch (e) {
    return unitMessage(e);
  }
}

/** Reports a mistake at `path` (`key`: at the key rather than its value). */
export type Err = (path: YamlPath, msg: string, key?: boolean) => void;

/** A `backends:` entry (a QoS file's, or a topology host's) as a storage device named `name`. */
export function readDevice(name: string, b: StorageDeviceDoc, path: YamlPath, err: Err): StorageDeviceSpec {
  const service = readService(b.service, [...path, 'service'], err);
  let bandwidth = 0;
  if (b.bandwidth !== undefined) {
    const v = sizePerSecond(b.bandwidth);
    if (typeof v === 'string') err([...path, 'bandwidth'], `"bandwidth": ${v}`);
    else bandwidth = v;
  }
  return { name, parallelism: b.parallelism ?? 32, service: service ?? { kind: 'fixed', ns: 100_000 }, bandwidth };
}

function readService(v: ServiceDoc | undefined, path: YamlPath, err: Err): ServiceTimeSpec | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') {
    try {
      return { kind: 'fixed', ns: parseDuration(v) };
    } catch (e) {
      err(path, `"service": ${unitMessage(e)}`);
      return undefined;
    }
  }
  if ('fixed' in v) return { kind: 'fixed', ns: v.fixed };
  if ('lognormal' in v) {
    if (!(v.lognormal.p99 >= v.lognormal.p50) || !(v.lognormal.p50 > 0)) {
      err([...path, 'lognormal'], 'lognormal service time needs 0 < p50 <= p99');
      return undefined;
    }
    return { kind: 'lognormal', p50Ns: v.lognormal.p50, p99Ns: v.lognormal.p99 };
  }
  const points: Array<{ p: number; ns: number }> = [];
  for (const [k, ns] of Object.entries(v.table)) {
    const m = /^p(\d+(?:\.\d+)?)$/.exec(k);
    if (!m || Number(m[1]) > 100) {
      err([...path, 'table', k], `table keys are percentiles such as p50, p99, p99.9 (got "${k}")`, true);
      return undefined;
    }
    points.push({ p: Number(m[1]), ns });
  }
  points.sort((a, b) => a.p - b.p);
  for (let i = 1; i < points.length; i++) {
    if (points[i]!.ns < points[i - 1]!.ns) {
      err([...path, 'table'], 'table service times must not decrease as the percentile grows');
      return undefined;
    }
  }
  if (points.length === 0) {
    err([...path, 'table'], 'a table needs at least one percentile');
    return undefined;
  }
  return { kind: 'table', points };
}

const POLICY_KINDS = ['qemu', 'libvirt', 'firecracker', 'io.max', 'cgroup', 'mclock'];

/** A YAML scalar as text; a mapping or list shows as JSON, not "[object Object]". */
function scalarText(v: unknown): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/**
 * A throttle policy (every kind: qemu/libvirt, firecracker, io.max/cgroup, mclock) at `path`. On a
 * disk, a qemu policy naming a group (`group_name`) fills `group` and is shared by the group.
 */
export function readPolicy(p: Record<string, unknown>, path: YamlPath, err: Err, onDisk: boolean, group?: { name?: string; key?: string }): PolicySpec | undefined {
  const kind = p['kind'] === undefined ? 'qemu' : scalarText(p['kind']);
  if (!POLICY_KINDS.includes(kind)) {
    const guess = nearest(kind, POLICY_KINDS);
    err([...path, 'kind'], `unknown policy kind "${kind}"${guess ? `; did you mean "${guess}"?` : `; expected one of ${POLICY_KINDS.join(', ')}`}`);
    return undefined;
  }
  if (kind === 'qemu' || kind === 'libvirt') {
    const r = readQemuLimits(p, (_k, v) => {
      if (typeof v === 'number') return v;
      if (typeof v === 'string') {
        const s = sizePerSecond(v);
        if (typeof s === 'number') return s;
        try {
          return parseDuration(v) / 1e9;
        } catch {
          return s;
        }
      }
      return `expected a number, got ${JSON.stringify(v)}`;
    });
    for (const pr of r.problems) {
      if (pr.key && pr.message.startsWith('unknown throttle limit')) {
        const guess = nearest(pr.key, qemuLimitKeys());
        err([...path, pr.key], `${pr.message}${guess ? `; did you mean "${guess}"?` : ''}`, true);
      } else err(pr.key ? [...path, pr.key] : path, pr.message, pr.key !== undefined && false);
    }
    if (r.group !== undefined) {
      // libvirt's <group_name>: disks naming the same group share one set of limits
      const key = Object.keys(p).find((k) => /group/.test(k))!;
      if (group && onDisk) {
        group.name = r.group;
        group.key = key;
      } else err([...path, key], 'a group\'s policy cannot name another group', true);
    }
    if (r.problems.length) return undefined;
    if (!r.limits.buckets.some((b) => b.avg > 0)) {
      err(path, 'the policy sets no limit (e.g. iops-total: 500)');
      return undefined;
    }
    return { kind: 'qemu', limits: r.limits };
  }
  if (kind === 'firecracker') {
    const tb = (name: string): TokenBucketConfig | undefined | null => {
      const v = p[name];
      if (v === undefined) return undefined;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        err([...path, name], `"${name}" is a token bucket: {size, one_time_burst, refill_time}`);
        return null;
      }
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!['size', 'one_time_burst', 'refill_time'].includes(k)) err([...path, name, k], `unknown key "${k}" in a token bucket (size, one_time_burst, refill_time)`, true);
      const size = o['size'];
      const refill = o['refill_time'];
      const otb = o['one_time_burst'] ?? 0;
      if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0) {
        err([...path, name, 'size'], '"size" must be a whole number > 0 (bytes or ops)');
        return null;
      }
      if (typeof refill !== 'number' || !Number.isInteger(refill) || refill <= 0) {
        err([...path, name, 'refill_time'], '"refill_time" must be a whole number of milliseconds > 0');
        return null;
      }
      if (typeof otb !== 'number' || !Number.isInteger(otb) || otb < 0) {
        err([...path, name, 'one_time_burst'], '"one_time_burst" must be a whole number >= 0');
        return null;
      }
      return { size, oneTimeBurst: otb, refillTimeMs: refill };
    };
    for (const k of Object.keys(p)) if (!['kind', 'bandwidth', 'ops'].includes(k)) err([...path, k], `unknown key "${k}" in a firecracker policy (bandwidth, ops)`, true);
    const bandwidth = tb('bandwidth');
    const ops = tb('ops');
    if (bandwidth === null || ops === null) return undefined;
    if (!bandwidth && !ops) {
      err(path, 'a firecracker policy needs a bandwidth or an ops token bucket');
      return undefined;
    }
    return { kind: 'firecracker', bandwidth, ops };
  }
  if (kind === 'io.max' || kind === 'cgroup') {
    let limits: IoMaxLimits = { rbps: 0, wbps: 0, riops: 0, wiops: 0 };
    if (p['line'] !== undefined) {
      const r = parseIoMax(scalarText(p['line']));
      if (typeof r === 'string') {
        err([...path, 'line'], r);
        return undefined;
      }
      limits = r;
    }
    for (const [k, v] of Object.entries(p)) {
      if (k === 'kind' || k === 'line') continue;
      if (!['rbps', 'wbps', 'riops', 'wiops'].includes(k)) {
        err([...path, k], `unknown key "${k}" in an io.max policy (rbps, wbps, riops, wiops, line)`, true);
        continue;
      }
      const n = v === 'max' ? 0 : typeof v === 'number' ? v : typeof v === 'string' ? sizePerSecond(v) : NaN;
      if (typeof n !== 'number' || !(n >= 0)) err([...path, k], `"${k}" must be a number or "max"`);
      else limits[k as keyof IoMaxLimits] = n;
    }
    if (!limits.rbps && !limits.wbps && !limits.riops && !limits.wiops) {
      err(path, 'the io.max policy sets no limit');
      return undefined;
    }
    return { kind: 'io.max', limits };
  }
  // mclock (on a disk, or on a group whose members share it)
  const read = (k: string, def: number): number => {
    const v = p[k];
    if (v === undefined) return def;
    if (typeof v !== 'number' || v < 0) {
      err([...path, k], `"${k}" must be a number >= 0`);
      return def;
    }
    return v;
  };
  for (const k of Object.keys(p)) if (!['kind', 'reservation', 'limit', 'weight'].includes(k)) err([...path, k], `unknown key "${k}" in an mclock policy (reservation, limit, weight)`, true);
  const mclock = { reservation: read('reservation', 0), limit: read('limit', 0), weight: read('weight', 1) };
  if (!(mclock.weight > 0)) err([...path, 'weight'], '"weight" must be more than 0');
  if (mclock.limit && mclock.reservation > mclock.limit) err([...path, 'reservation'], 'the reservation is above the limit');
  return { kind: 'mclock', mclock };
}

/** fio time options: a bare number is seconds (runtime, ramp_time, startdelay) or microseconds (thinktime). */
function fioTime(v: number | string | undefined, bareUnitNs: number, path: YamlPath, err: Err): number {
  if (v === undefined) return 0;
  if (typeof v === 'number' || /^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * bareUnitNs);
  try {
    return parseDuration(v);
  } catch (e) {
    err(path, unitMessage(e));
    return 0;
  }
}

/** The job's offset and block sizes fit in its disk of `size` bytes (0 = unknown: not checked). */
export function checkJobRegion(spec: JobSpec, size: number, path: YamlPath, err: Err): void {
  if (size > 0 && spec.offset >= size) err([...path, 'offset'], `offset ${spec.offset} is not inside disk "${spec.disk}" (${size} bytes)`);
  else if (size > 0 && Math.max(...spec.bs[0].sizes, ...spec.bs[1].sizes) > size - spec.offset) err([...path, spec.bs[0].sizes.length > 1 ? 'bssplit' : 'bs'], `a block is larger than the region of disk "${spec.disk}" it can address`);
}

/** An fio job (a QoS file's `jobs:` entry, a topology's `fio:` action) named `name`. */
export function readJob(name: string, j: FioJobDoc, path: YamlPath, err: Err): JobSpec {
  const s = defaultJob(name, j.disk);
  s.rw = j.rw ?? j.readwrite ?? 'read';
  if (j.rwmixread !== undefined) s.rwmixread = j.rwmixread;
  else if (j.rwmixwrite !== undefined) s.rwmixread = 100 - j.rwmixwrite;
  const bsText = j.bs ?? j.blocksize;
  if (bsText !== undefined) {
    const r = parseBs(bsText);
    if (typeof r === 'string') err([...path, j.bs !== undefined ? 'bs' : 'blocksize'], r);
    else s.bs = r;
  }
  if (j.bsrange !== undefined) {
    const r = parseBsrange(j.bsrange);
    if (typeof r === 'string') err([...path, 'bsrange'], r);
    else s.bs = r;
  }
  if (j.bssplit !== undefined) {
    const r = parseBssplit(j.bssplit, j.bssplit_order ?? 'random');
    if (typeof r === 'string') err([...path, 'bssplit'], r);
    else s.bs = r;
  }
  if (j.iodepth !== undefined) s.iodepth = j.iodepth;
  if (j.numjobs !== undefined) s.numjobs = j.numjobs;
  if (j.rate_iops !== undefined) {
    const r = parseRateIops(j.rate_iops);
    if (typeof r === 'string') err([...path, 'rate_iops'], r);
    else s.rateIops = r;
  }
  if (j.rate !== undefined) {
    const r = parseRateBps(j.rate);
    if (typeof r === 'string') err([...path, 'rate'], r);
    else s.rateBps = r;
  }
  if (j.write_lat_log !== undefined || j.write_bw_log !== undefined || j.write_iops_log !== undefined) {
    const on = (v: boolean | number | undefined, def: boolean): boolean => (v === undefined ? def : v === true || (typeof v === 'number' && v !== 0));
    s.logs = { lat: j.write_lat_log, bw: j.write_bw_log, iops: j.write_iops_log, avgMs: j.log_avg_msec ?? 0, perJob: on(j.per_job_logs, true), offset: on(j.log_offset, false) };
  }
  if (j.wait_for !== undefined) s.waitFor = typeof j.wait_for === 'string' ? [j.wait_for] : j.wait_for;
  if (j.size !== undefined) s.size = j.size;
  if (j.offset !== undefined) s.offset = j.offset;
  if (j.number_ios !== undefined) s.numberIos = j.number_ios;
  s.runtimeNs = fioTime(j.runtime, 1e9, [...path, 'runtime'], err);
  s.rampNs = fioTime(j.ramp_time, 1e9, [...path, 'ramp_time'], err);
  s.startdelayNs = fioTime(j.startdelay, 1e9, [...path, 'startdelay'], err);
  s.thinktimeNs = fioTime(j.thinktime, 1e3, [...path, 'thinktime'], err);
  s.timeBased = j.time_based === true || (typeof j.time_based === 'number' && j.time_based !== 0);
  if (s.timeBased && s.runtimeNs === 0) err([...path, 'time_based'], 'time_based needs a runtime (fio would run forever)');
  return s;
}
