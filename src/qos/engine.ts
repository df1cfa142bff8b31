/**
 * The QoS simulation: fio-style jobs issue I/Os to disks; each disk's throttle (QEMU leaky
 * buckets, Firecracker token buckets, cgroup io.max — per disk or shared by a round-robin group)
 * lets them through; the storage device (`StorageDevice`, a `backends:` entry) serves them (parallelism, service time, bandwidth, FIFO or
 * mClock); completions feed streaming histograms and timelines.
 *
 * Everything runs on a `Simulation` in integer nanoseconds. The per-I/O path allocates nothing:
 * I/O objects are pooled per job with their completion handler bound once, timers are bound once
 * per (member, direction), and statistics are fixed-size histograms. An hour of simulated I/O at
 * thousands of IOPS therefore runs in seconds and in constant memory.
 */
import { Simulation } from '../sim/simulation.js';
import type { EventId } from '../sim/queue.js';
import type { Prng } from '../sim/prng.js';
import { ThrottleGroup, type GateHost, type Meter } from '../block/throttle/group.js';
import { FirecrackerMeter, IoMaxMeter, QemuMeter } from '../block/throttle/meters.js';
import { FirecrackerRateLimiter } from '../block/throttle/token-bucket.js';
import type { Direction } from '../block/throttle/leaky-bucket.js';
import { StorageDevice, type MclockSpec } from './storage-device.js';
import type { BaseMetric } from './expect.js';
import { LogHistogram } from './histogram.js';
import { IntervalSeries, type SeriesMode } from './interval-series.js';
import { eventRecords, Io, type IoSink } from './io.js';
import { NULL_DEVICE, type DiskData, type DiskSpec, type PolicySpec, type QosModel } from './model.js';
import { Timeline } from './timeline.js';
import { cycleBs, isRandom, pickBs, readFraction, type JobSpec } from './workload.js';
import { BugError } from '../errors.js';

/** A measurement window (for expectations): completions of one disk, a group's members (or all) within [from, to). */
export interface WindowSpec {
  /** A disk, a declared throttle group or a job (every clone of it); undefined = every disk. */
  disk: string | undefined;
  fromNs: number;
  toNs: number;
  /** Also evaluate `metric` per timeline interval (burst and max_/min_ expectations). */
  series?: { intervalNs: number; metric: BaseMetric; mode: SeriesMode };
}

export class WindowStat {
  count = 0;
  reads = 0;
  bytes = 0;
  readBytes = 0;
  readonly hist = new LogHistogram();
  readonly series: IntervalSeries | undefined;
  constructor(readonly spec: WindowSpec) {
    const s = spec.series;
    this.series = s ? new IntervalSeries(s.intervalNs, spec.fromNs, spec.toNs, s.metric, s.mode) : undefined;
  }
}

/** Per-direction statistics of a job (fio's `read` / `write` sections). */
export class DirStats {
  ios = 0;
  bytes = 0;
  readonly clat = new LogHistogram();
}

export class JobRun {
  readonly stats: [DirStats, DirStats] = [new DirStats(), new DirStats()];
  readonly timeline: Timeline;
  issued = 0;
  bytesIssued = 0;
  inflight = 0;
  startNs = 0;
  /** Statistics start here (after ramp_time). */
  statsFromNs = 0;
  /** No I/O is issued from here on (runtime), or +inf. */
  endNs = Number.POSITIVE_INFINITY;
  lastCompletionNs = 0;
  done = false;
  /** Windows of expectations that name this job. */
  readonly windows: WindowStat[] = [];
  /** Scheduled to start (false while it waits for other jobs). */
  started = false;
  endNotified = false;
  /** When the job ended (its last I/O completed), or -1. */
  endedNs = -1;
  /** fio's `error`: the errno of the I/O error that ended the job (5 = EIO), 0 = none. */
  error = 0;
  /** I/Os that failed (not counted in the statistics). */
  failed = 0;
  readonly free: Io[] = [];
  nextRate: [number, number] = [0, 0];
  seqPos: number;
  /** Direction and size already drawn for the next I/O (kept while waiting on the rate). */
  pendingDir: Direction | -1 = -1;
  pendingBytes = 0;
  /** I/Os drawn per direction (the position in a `bssplit_order: fixed` cycle). */
  readonly drawn: [number, number] = [0, 0];
  wakeAt = -1;
  wakeEv: EventId | undefined;
  /** `blocks` = max(1, floor(region / blocksFor)), cached for the last block size (saves a division per I/O). */
  blocksFor = 0;
  blocks = 1;
  readonly wake: () => void;
  readonly readFrac: number;
  readonly random: boolean;
  readonly region: number;
  /** Stop issuing after this many I/Os / bytes (fio number_ios, size unless time_based); +inf = no cap. */
  readonly maxIos: number;
  readonly maxBytes: number;

  constructor(
    readonly index: number,
    readonly name: string,
    readonly clone: number,
    readonly spec: JobSpec,
    readonly disk: number,
    readonly diskSize: number,
    readonly prng: Prng,
    intervalNs: number,
    pump: (j: JobRun) => void,
  ) {
    this.timeline = new Timeline(intervalNs, true);
    this.readFrac = readFraction(spec.rw, spec.rwmixread);
    this.random = isRandom(spec.rw);
    this.region = Math.max(0, Math.min(spec.size ?? diskSize, diskSize - spec.offset));
    this.seqPos = 0;
    this.maxIos = spec.numberIos > 0 ? spec.numberIos : Number.POSITIVE_INFINITY;
    this.maxBytes = !spec.timeBased && this.region > 0 ? this.region : Number.POSITIVE_INFINITY;
    this.wake = () => {
      this.wakeAt = -1;
      pump(this);
    };
  }
}

/**
 * Where a disk's admitted I/Os go: its storage device, or something in front of a remote one (an
 * NBD connection, `fabric/nbd-disks.ts`). `submit` ends with `io.onComplete()` (or
 * `engine.ioFailed`); `finish` runs when the engine takes the completion.
 */
export interface IoTarget {
  submit(io: Io): void;
  finish(io: Io): void;
}

export class DiskRun {
  readonly hist = new LogHistogram();
  timeline: Timeline;
  /** The disk's only job, when it has exactly one: its statistics are the disk's (recorded once). */
  sole: JobRun | undefined;
  readonly windows: WindowStat[] = [];
  gate: ThrottleGroup<Io> | undefined;
  member = 0;
  /** Real data path (images), or undefined for a data-less disk. */
  data: DiskData | undefined;
  /** Told of every completed write (a block mirror's dirty bitmap, `fabric/block-mirror.ts`). */
  writeTap: ((offset: number, bytes: number) => void) | undefined;
  ios = 0;
  bytes = 0;
  /** Where admitted I/Os go (the device unless `EngineOptions.targets` names the disk). */
  target: IoTarget;
  constructor(
    readonly index: number,
    readonly spec: DiskSpec,
    readonly device: StorageDevice,
    readonly client: number,
    intervalNs: number,
  ) {
    this.timeline = new Timeline(intervalNs, true);
    this.target = device;
  }
}

export interface GroupRun {
  name: string;
  policy: PolicySpec;
  /** Disk indexes in member order. */
  members: number[];
  gate: ThrottleGroup<Io>;
  /** Whether it was declared as a group (false: a disk's own policy, a group of one). */
  declared: boolean;
}

export interface EngineOptions {
  windows?: WindowSpec[];
  sim?: Simulation;
  /** Data paths per disk name: each I/O also reads or writes its bytes there when it completes. */
  data?: ReadonlyMap<string, DiskData>;
  /** Called for each completion counted in the statistics (after ramp): fio per-I/O logs, json+ bins. */
  onIoComplete?: (j: JobRun, io: Io, nowNs: number, latNs: number) => void;
  /** Disks whose I/O goes elsewhere than their device once admitted (by disk name). */
  targets?: ReadonlyMap<string, IoTarget>;
}

export function meterFor(policy: PolicySpec, nowNs: number): Meter {
  switch (policy.kind) {
    case 'qemu':
      return new QemuMeter(policy.limits, nowNs);
    case 'firecracker':
      return new FirecrackerMeter(new FirecrackerRateLimiter({ bandwidth: policy.bandwidth, ops: policy.ops }, nowNs));
    case 'io.max':
      return new IoMaxMeter(policy.limits, nowNs);
    case 'mclock':
      throw new BugError('QOS_MCLOCK_METER', 'mClock is a backend scheduler, not a throttle meter');
  }
}

/**
 * The simulation side of a throttle group: its clock, its timers (one handler per member and
 * direction, bound once) and where admitted I/Os go. A class rather than an object of closures so
 * that every engine's group calls the same functions (V8 keeps the hot path optimised across runs).
 */
class EngineGateHost implements GateHost<Io> {
  private readonly timers: Array<[EventId | undefined, EventId | undefined]> = [];
  private readonly fire: Array<[() => void, () => void]> = [];
  constructor(
    private readonly sim: Simulation,
    private readonly disks: DiskRun[],
    private readonly members: number,
  ) {}

  bind(gate: ThrottleGroup<Io>): void {
    for (let m = 0; m < this.members; m++) {
      this.timers.push([undefined, undefined]);
      this.fire.push([() => gate.timerFired(m, 0), () => gate.timerFired(m, 1)]);
    }
  }

  now(): number {
    return this.sim.now;
  }

  armTimer(member: number, dir: Direction, at: number): void {
    const row = this.timers[member]!;
    const prev = row[dir];
    if (prev !== undefined && prev.done && !prev.cancelled && eventRecords.reuse && Number.isSafeInteger(at)) {
      // the timer already fired: re-arm its record (the same (time, seq) a new event would get)
      prev.time = at;
      prev.seq = this.sim.reserveSeq();
      this.sim.requeue(prev);
      return;
    }
    prev?.cancel();
    row[dir] = this.sim.scheduleAt(at, this.fire[member]![dir]);
  }

  admit(io: Io): void {
    io.admitNs = this.sim.now;
    this.disks[io.disk]!.target.submit(io);
  }
}

export class QosEngine implements IoSink {
  readonly sim: Simulation;
  readonly devices = new Map<string, StorageDevice>();
  readonly disks: DiskRun[] = [];
  readonly jobs: JobRun[] = [];
  readonly groups: GroupRun[] = [];
  readonly windows: WindowStat[] = [];
  private readonly diskByName = new Map<string, DiskRun>();
  private readonly pumpFn = (j: JobRun): void => this.pump(j);
  /** Completed I/Os (all jobs, including ramp). */
  completed = 0;
  endNs = 0;
  /** Bytes moved through data paths. */
  dataBytes = 0;
  private scratch = new Uint8Array(0);
  private readonly onIo: EngineOptions['onIoComplete'];

  constructor(readonly model: QosModel, opts: EngineOptions = {}) {
    this.sim = opts.sim ?? new Simulation(model.seed);
    this.onIo = opts.onIoComplete;
    const prng = this.sim.prng;
    // storage devices and their mClock clients (the PRNG stream keeps its historical name `backend:`)
    const specs = new Map(model.backends.map((b) => [b.name, b]));
    const onBackend = new Map<string, DiskSpec[]>();
    for (const d of model.disks) {
      const b = d.backend ?? `null:${d.name}`;
      if (d.backend !== undefined && !specs.has(d.backend)) throw new BugError('QOS_UNKNOWN_BACKEND', `disk ${d.name}: no backend ${d.backend}`);
      let list = onBackend.get(b);
      if (!list) onBackend.set(b, (list = []));
      list.push(d);
    }
    // mClock groups: their members share one client (reservation, limit, weight) at the backend
    const mclockGroupOf = new Map<string, string>();
    for (const g of model.groups) if (g.policy.kind === 'mclock') for (const m of g.members) mclockGroupOf.set(m, g.name);
    for (const [bname, ds] of onBackend) {
      const spec = specs.get(bname) ?? { ...NULL_DEVICE, name: bname };
      const uses = ds.some((d) => d.policy?.kind === 'mclock' || mclockGroupOf.has(d.name));
      const clients: MclockSpec[] = [];
      const clientOfGroup = new Map<string, number>();
      const clientOf = ds.map((d) => {
        const gname = mclockGroupOf.get(d.name);
        if (gname !== undefined) {
          let c = clientOfGroup.get(gname);
          if (c === undefined) {
            const gp = model.groups.find((g) => g.name === gname)!.policy;
            c = clients.push(gp.kind === 'mclock' ? gp.mclock : { reservation: 0, limit: 0, weight: 1 }) - 1;
            clientOfGroup.set(gname, c);
          }
          return c;
        }
        return clients.push(d.policy?.kind === 'mclock' ? d.policy.mclock : { reservation: 0, limit: 0, weight: 1 }) - 1;
      });
      const be = new StorageDevice(spec, this.sim, prng.fork(`backend:${bname}`), uses ? clients : undefined);
      this.devices.set(bname, be);
      ds.forEach((d, i) => {
        const run = new DiskRun(this.disks.length, d, be, uses ? clientOf[i]! : 0, model.intervalNs);
        this.disks.push(run);
        this.diskByName.set(d.name, run);
      });
    }
    // throttle groups: declared groups, then each disk with its own throttling policy (a group of one)
    for (const g of model.groups) if (g.policy.kind !== 'mclock') this.addGroup(g.name, g.policy, g.members.map((m) => this.disk(m).index), true);
    for (const d of this.disks) {
      const p = d.spec.policy;
      if (p && p.kind !== 'mclock') {
        if (d.gate) throw new BugError('QOS_TWO_GROUPS', `disk ${d.spec.name} is in a group and has its own limits`);
        this.addGroup(d.spec.name, p, [d.index], false);
      }
    }
    // jobs
    for (const spec of model.jobs) {
      const disk = this.disk(spec.disk);
      for (let c = 0; c < spec.numjobs; c++) {
        const name = spec.name;
        const j = new JobRun(this.jobs.length, name, c, spec, disk.index, disk.spec.size, prng.fork(`job:${name}:${c}`), model.intervalNs, this.pumpFn);
        for (let k = 0; k < spec.iodepth; k++) {
          const io = new Io(j.index, disk.index, this);
          io.client = disk.client;
          j.free.push(io);
        }
        this.jobs.push(j);
      }
    }
    // a disk with a single job shares that job's timeline and histograms instead of recording twice
    for (const d of this.disks) {
      const js = this.jobs.filter((j) => j.disk === d.index);
      if (js.length === 1) {
        d.sole = js[0]!;
        d.timeline = js[0]!.timeline;
      }
    }
    for (const [name, dp] of opts.data ?? []) this.disk(name).data = dp;
    for (const [name, t] of opts.targets ?? []) this.disk(name).target = t;
    for (const w of opts.windows ?? []) {
      const s = new WindowStat(w);
      this.windows.push(s);
      // a disk or group first, then a job (the loader refuses a name that is both)
      const byJob = w.disk !== undefined && !this.diskByName.has(w.disk) && !this.model.groups.some((g) => g.name === w.disk);
      if (byJob) {
        const js = this.jobs.filter((j) => j.name === w.disk);
        if (js.length === 0) throw new BugError('QOS_UNKNOWN_TARGET', `no disk, group or job ${w.disk}`);
        for (const j of js) j.windows.push(s);
      } else for (const d of this.targetDisks(w.disk)) d.windows.push(s);
    }
  }

  /** The disks a target names: a disk, a declared group's members, or (undefined) all disks. */
  targetDisks(target: string | undefined): DiskRun[] {
    if (target === undefined) return this.disks;
    const d = this.diskByName.get(target);
    if (d) return [d];
    const g = this.model.groups.find((x) => x.name === target);
    if (g) return g.members.map((m) => this.disk(m));
    throw new BugError('QOS_UNKNOWN_TARGET', `no disk or group ${target}`);
  }

  disk(name: string): DiskRun {
    const d = this.diskByName.get(name);
    if (!d) throw new BugError('QOS_UNKNOWN_DISK', `no disk ${name}`);
    return d;
  }

  private addGroup(name: string, policy: PolicySpec, members: number[], declared: boolean): void {
    const host = new EngineGateHost(this.sim, this.disks, members.length);
    const gate: ThrottleGroup<Io> = new ThrottleGroup<Io>(name, meterFor(policy, this.sim.now), host, members.length);
    host.bind(gate);
    members.forEach((d, m) => {
      this.disks[d]!.gate = gate;
      this.disks[d]!.member = m;
    });
    this.groups.push({ name, policy, members, gate, declared });
  }

  /**
   * Schedules every job to start at `t0` + its startdelay, without running the simulation: the
   * fabric (`fabric/disk-io.ts`) starts an engine on its own clock, `run` drives a standalone one.
   */
  start(t0 = this.sim.now): void {
    this.t0 = t0;
    for (const j of this.jobs) if (!(j.spec.waitFor?.length)) this.startJob(j, t0 + j.spec.startdelayNs);
  }

  private t0 = 0;
  /** Jobs waiting for others (fio wait_for / stonewall), started when the last of those ends. */
  private startJob(j: JobRun, at: number): void {
    const s = j.spec;
    j.started = true;
    j.startNs = at;
    j.statsFromNs = j.startNs + s.rampNs;
    if (s.runtimeNs > 0) j.endNs = j.statsFromNs + s.runtimeNs;
    j.nextRate = [j.startNs, j.startNs];
    j.wakeAt = j.startNs;
    j.wakeEv = this.sim.scheduleAt(j.startNs, j.wake);
  }

  /**
   * A job ended: start the jobs waiting for it once every job they wait for has ended (fio
   * backend.c: a waiter starts when no waitee runs; its startdelay still counts from the start of
   * the run, `utime_since_genesis`).
   */
  private jobEnded(j: JobRun): void {
    if (j.endNotified) return;
    j.endNotified = true;
    j.endedNs = this.sim.now;
    for (const w of this.jobs) {
      if (w.started || !w.spec.waitFor?.includes(j.name)) continue;
      if (this.jobs.every((x) => !w.spec.waitFor!.includes(x.name) || x.endNotified)) {
        this.startJob(w, Math.max(this.sim.now, this.t0 + w.spec.startdelayNs));
      }
    }
  }

  /** Closes the statistics at `endNs` (the end of the run): throttle queues, timelines, disk histograms. */
  finish(endNs: number): void {
    this.endNs = endNs;
    for (const g of this.groups) g.gate.flushStats();
    for (const j of this.jobs) j.timeline.finish(this.endNs);
    for (const d of this.disks) {
      if (d.sole) {
        d.hist.reset();
        d.hist.merge(d.sole.stats[0].clat);
        d.hist.merge(d.sole.stats[1].clat);
      } else d.timeline.finish(this.endNs);
    }
  }

  /** Starts every job (after its startdelay) and runs to the end; `onProgress` is called between slices. */
  run(opts: { onProgress?: (nowNs: number, endNs: number) => void; maxEvents?: number } = {}): void {
    const t0 = this.sim.now;
    this.start(t0);
    const limit = this.model.durationNs > 0 ? t0 + this.model.durationNs : Number.POSITIVE_INFINITY;
    const guess = Number.isFinite(limit) ? limit : Math.max(...this.jobs.map((j) => (Number.isFinite(j.endNs) ? j.endNs : 0)), t0 + 1e9);
    const slice = Math.max(1_000_000, Math.round((guess - t0) / 100));
    for (let until = t0 + slice; ; until += slice) {
      const r = this.sim.run({ untilNs: Math.min(until, limit), ...(opts.maxEvents !== undefined ? { maxEvents: opts.maxEvents } : {}) });
      opts.onProgress?.(this.sim.now, Number.isFinite(limit) ? limit : guess);
      if (r.reason === 'idle' || r.reason === 'max-events' || r.reason === 'stopped' || this.sim.now >= limit) break;
    }
    this.finish(Number.isFinite(limit) ? Math.min(this.sim.now, limit) : this.sim.now);
  }

  /** Issues as many I/Os as the job's depth, rate and thinktime allow now. */
  private pump(j: JobRun): void {
    if (j.done) return;
    const s = j.spec;
    const now = this.sim.now;
    const free = j.free;
    while (free.length > 0) {
      // fio: stop at runtime, after number_ios, or (unless time_based) once `size` bytes are done
      if (now >= j.endNs || j.issued >= j.maxIos || j.bytesIssued >= j.maxBytes) {
        j.done = j.inflight === 0;
        if (j.done) this.jobEnded(j);
        return;
      }
      // with thinktime the oldest free slot is the first to be ready; otherwise any will do
      const fromFront = s.thinktimeNs > 0;
      const io = fromFront ? free[0]! : free[free.length - 1]!;
      if (io.readyNs > now) return this.wakeAtTime(j, io.readyNs);
      if (j.pendingDir < 0) {
        const prng = j.prng;
        const dir: Direction = j.readFrac >= 1 ? 0 : j.readFrac <= 0 ? 1 : prng.float() < j.readFrac ? 0 : 1;
        const c = s.bs[dir];
        j.pendingDir = dir;
        // A fixed cycle draws no random number: the seeded stream of other choices is unchanged.
        j.pendingBytes = c.sizes.length === 1 ? c.sizes[0]! : c.cycle ? cycleBs(c, j.drawn[dir]++) : pickBs(c, prng.float());
      }
      const dir = j.pendingDir as Direction;
      const rate = s.rateIops[dir];
      const bps = s.rateBps?.[dir] ?? 0;
      if (rate > 0 || bps > 0) {
        const at = j.nextRate[dir];
        if (at > now) return this.wakeAtTime(j, Math.ceil(at));
        // fio `rate` (bytes/s) wins over `rate_iops`: the next I/O of this direction may go after
        // this one's bytes at that rate (options.c: rate_iops is only used when rate is unset)
        j.nextRate[dir] = at + (bps > 0 ? (j.pendingBytes * 1e9) / bps : 1e9 / rate);
      }
      if (fromFront) free.shift();
      else free.pop();
      const bytes = j.pendingBytes;
      j.pendingDir = -1;
      io.dir = dir;
      io.bytes = bytes;
      if (j.random) {
        if (j.blocksFor !== bytes) {
          j.blocksFor = bytes;
          j.blocks = Math.max(1, Math.floor(j.region / bytes));
        }
        io.offset = s.offset + Math.floor(j.prng.float() * j.blocks) * bytes;
      } else {
        if (j.seqPos + bytes > j.region) j.seqPos = 0;
        io.offset = s.offset + j.seqPos;
        j.seqPos += bytes;
      }
      io.submitNs = now;
      j.issued++;
      j.bytesIssued += bytes;
      j.inflight++;
      const d = this.disks[io.disk]!;
      if (d.gate) d.gate.submit(d.member, io);
      else {
        io.admitNs = now;
        d.target.submit(io);
      }
    }
  }

  /** The optional real I/O: the bytes of a completed request go to (or come from) the image. */
  private moveData(dp: DiskData, io: Io): void {
    if (this.scratch.length < io.bytes) {
      this.scratch = new Uint8Array(io.bytes);
      this.scratch.fill(0x5a);
    }
    const buf = this.scratch.subarray(0, io.bytes);
    if (io.dir === 0) dp.read(io.offset, buf);
    else {
      buf.fill(0x5a);
      dp.write(io.offset, buf);
    }
    this.dataBytes += io.bytes;
  }

  private wakeAtTime(j: JobRun, at: number): void {
    if (j.wakeAt >= 0 && j.wakeAt <= at) return;
    j.wakeEv?.cancel();
    j.wakeAt = at;
    j.wakeEv = this.sim.scheduleAt(at, j.wake);
  }

  /**
   * An I/O failed (`errno`, e.g. 5 = EIO): it is not counted, and its job ends as fio's does on an
   * I/O error without `continue_on_error` (the job's `error` is set; nothing more is issued).
   */
  ioFailed(io: Io, errno: number): void {
    const d = this.disks[io.disk]!;
    d.target.finish(io);
    const j = this.jobs[io.job]!;
    j.inflight--;
    j.failed++;
    if (j.error === 0) j.error = errno;
    j.wakeEv?.cancel();
    j.wakeAt = -1;
    j.done = true;
    j.free.push(io);
  }

  /** @internal An I/O's service ended (called by `Io.onComplete`). */
  ioComplete(io: Io): void {
    const now = this.sim.now;
    const d = this.disks[io.disk]!;
    d.target.finish(io);
    const lat = now - io.submitNs;
    const dir = io.dir;
    const bytes = io.bytes;
    if (d.data !== undefined) this.moveData(d.data, io);
    if (dir === 1 && d.writeTap !== undefined) d.writeTap(io.offset, bytes);
    this.completed++;
    const j = this.jobs[io.job]!;
    j.inflight--;
    j.lastCompletionNs = now;
    if (now >= j.statsFromNs) {
      const st = j.stats[dir];
      st.ios++;
      st.bytes += bytes;
      st.clat.record(lat);
      j.timeline.add(now, dir, bytes, lat);
      if (this.onIo !== undefined) this.onIo(j, io, now, lat);
      d.ios++;
      d.bytes += bytes;
      if (d.sole === undefined) {
        d.hist.record(lat);
        d.timeline.add(now, dir, bytes, lat);
      }
    }
    if (d.windows.length) recordWindows(d.windows, now, dir, bytes, lat);
    if (j.windows.length) recordWindows(j.windows, now, dir, bytes, lat);
    io.readyNs = now + j.spec.thinktimeNs;
    j.free.push(io);
    this.pump(j);
    if (j.inflight === 0 && !j.done && j.wakeAt < 0) j.done = true;
    if (j.done) this.jobEnded(j);
  }
}

function recordWindows(ws: readonly WindowStat[], now: number, dir: Direction, bytes: number, lat: number): void {
  for (let k = 0; k < ws.length; k++) {
    const w = ws[k]!;
    if (now >= w.spec.fromNs && now < w.spec.toNs) {
      w.count++;
      if (dir === 0) {
        w.reads++;
        w.readBytes += bytes;
      }
      w.bytes += bytes;
      w.hist.record(lat);
      w.series?.add(now, dir, bytes, lat);
    }
  }
}
