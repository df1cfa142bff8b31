/**
 * The live-migration orchestrator: pre-copy in virtual time, pause, switchover, resume, announce,
 * and the record the run summary prints.
 *
 * It takes small interfaces instead of the fabric so it is testable with fakes:
 * - the VM's NICs (`MigratableNic`: `pause/resume/requestAnnounce/onAnnounceAck/port` — what
 *   `vnic/VirtioNet` offers);
 * - `switchover(nic)`: moves the NIC's device port from its source bridge port to a new port on
 *   the destination bridge (same MAC and VLAN configuration) and returns the old bridge port, which
 *   stays behind as a dead end: frames the source fabric still forwards there are dropped and
 *   counted as `migration` drops (the source tap lives until the source QEMU is torn down);
 * - MAC tables (`MacTableView`) and fabric events for re-convergence (`reconverge.ts`).
 *
 * Timeline for a converging migration started at T (all virtual time):
 *   T .. T+r1 .. T+rN       live pre-copy rounds (VM runs, guest traffic flows)
 *   T+rN                     pause: NICs drop rx/tx as `migration`; stop-and-copy starts
 *   T+rN+downtime            switchover of every NIC, resume, announce starts
 * A migration that cannot converge ends at the end of its last round with "did not converge after
 * N rounds" and the VM never pauses (QEMU keeps the VM on the source when the migration fails).
 *
 * VFs: QEMU refuses to migrate a VM with an assigned VFIO device without migration support; the
 * usual way out is virtio-net failover (VIRTIO_NET_F_STANDBY, `hw/net/virtio-net.c`
 * `failover_*`): the VF is the primary, a virtio NIC with the same MAC the standby; QEMU unplugs the
 * primary before migration (`qemu_savevm_wait_unplug`), the guest's `net_failover` driver fails
 * over to the standby, and a VF is plugged back on the destination. A VM with an unpaired VF is
 * refused here with the reason in the record; paired VFs are handed to the `failover` hooks when
 * the fabric provides them, and refused otherwise.
 */
import type { EventId, Simulation } from '../sim/index.js';
import { formatTime } from '../sim/time.js';
import type { Port } from '../port/port.js';
import type { FabricEvent } from '../port/nic.js';
import { buildRarp as wireBuildRarp } from '../wire/build.js';
import { planPrecopy, type PrecopyPlan, type PrecopyRound } from './precopy.js';
import { Announcer, type AnnounceMode, type AnnounceNic, type AnnounceParams, type AnnounceReport } from './announce.js';
import { ReconvergenceTracker, type MacTableView, type TableConvergence } from './reconverge.js';
import { LossMeter, type LossCause } from './loss.js';
import type { MigrationStream, StreamEvents, StreamStats } from './stream.js';

export interface MigratableNic extends AnnounceNic {
  pause(): void;
  resume(): void;
  /** The VLAN the fabric learns this NIC's MAC in (access tag, 0 when untagged). */
  readonly vlan?: number;
}

/** An SR-IOV VF interface of the VM (model: vf). */
export interface VmVf {
  /** Interface path, e.g. `vm1.eth1`. */
  path: string;
  /** The VF it holds, e.g. `hv1.pf0.vf0`. */
  vf: string;
  /** Name of the paired virtio standby interface, if any. */
  standby?: string | null;
}

export interface MigrationSpec {
  vm: string;
  from: string;
  to: string;
  memoryBytes: number;
  dirtyRateBytesPerS: number;
  bandwidthBitPerS: number;
  maxDowntimeNs?: number;
  maxIterations?: number;
  announce: AnnounceMode;
  announceParams?: AnnounceParams;
  nics: readonly MigratableNic[];
  vfs?: readonly VmVf[];
}

export interface SwitchoverResult {
  /** Path of the NIC's new bridge port on the destination. */
  newPort: string;
  /** The source bridge port left behind (drops counted as `migration`), if any. */
  oldPort?: Port | null;
}

/** What `FailoverHooks.plug` did: the VF plugged (and its port), or why none was. */
export type VfPlugResult = { vf: string; port?: Port } | { vf: null; reason: string };

/** VF failover hooks (STANDBY); optional — without them paired VFs are refused too. */
export interface FailoverHooks {
  /** Unplug the VF before migration; traffic fails over to the standby virtio NIC. */
  unplug(vf: VmVf): void;
  /**
   * Plug a VF of `host` as the new primary: on the destination after resume, or back on the
   * source when the migration failed (QEMU `failover_replug_primary`).
   */
  plug(vf: VmVf, host: string): VfPlugResult;
}

/** One VF's failover during a migration (the record's `failover` list). */
export interface FailoverStep {
  /** The VF interface, e.g. `vm2.eth1`. */
  interface: string;
  /** The virtio standby that carried the traffic meanwhile, e.g. `vm2.eth0`. */
  standby: string;
  /** The VF unplugged on the source, e.g. `hv1.pf0.vf0`. */
  source_vf: string;
  unplugged_ns: number;
  /** When a VF was plugged again (destination, or source after a failed migration). */
  plugged_ns: number | null;
  /** The VF plugged on the destination (null: none free, the VM stays on virtio). */
  dest_vf: string | null;
  /** Why no VF was plugged, or that the source VF was plugged back. */
  message: string | null;
}

export interface MigrationDeps {
  switchover(nic: MigratableNic): SwitchoverResult;
  /** Defaults to the wire builder (QEMU-identical 60-byte RARP). */
  buildRarp?: (mac: number) => Uint8Array;
  /** MAC tables to watch for re-convergence (all bridges and switches). */
  macTables?: () => readonly MacTableView[];
  /** Subscribes to fabric events (MAC moves …). */
  subscribe?: (cb: (ev: FabricEvent) => void) => unknown;
  /** Emits migration events into the fabric's event stream. */
  emit?: (ev: FabricEvent) => void;
  /**
   * Ports of the other endpoints (their NICs' device ports) whose frames to the VM are counted
   * for `packets_lost`. Without it, `packets_lost` falls back to the `migration` drop count.
   */
  senders?: () => readonly Port[];
  /** Every port of the fabric: drops there attribute lost frames to a cause (loss.ts). */
  allPorts?: () => readonly Port[];
  failover?: FailoverHooks;
  /**
   * The stream over the fabric (`migrate: { via }`, `stream.ts`): when given, rounds, pause and
   * switchover follow the TCP stream instead of the analytical plan (`precopy.ts`).
   */
  stream?: (events: StreamEvents) => MigrationStream;
  /** Post-copy: the VM's vCPU blocks on a page fault (true) and runs again (false). */
  stall?: (stalled: boolean) => void;
  /** Extra fields for the record's `stream` object (e.g. `via`, addresses). */
  streamInfo?: Record<string, unknown>;
  /**
   * Block migration (`storage: mirror`): the VM's local disks are mirrored to the destination
   * before the RAM stream starts (see `StorageMigration`).
   */
  storage?: StorageMigration;
  /**
   * Network disks (NBD) stay on their storage host: the destination opens its own connections
   * before the migration proper starts (its QEMU opens the drives at startup), the source's
   * requests drain when the VM stops, and the switchover moves the disks' I/O to the destination
   * (`pivot`). Same interface as `storage`; its record is the record's `nbd_disks`.
   */
  sharedDisks?: StorageMigration;
}

/**
 * The storage half of a block migration, as libvirt drives QEMU's drive-mirror over NBD
 * (`qemuMigrationSrcNBDStorageCopy`): start a mirror job per disk; once every job is ready
 * (BLOCK_JOB_READY) the RAM migration starts; the jobs keep copying the guest's writes while RAM
 * is copied; with the VM paused for stop-and-copy the jobs drain (QEMU drains all block I/O when
 * the VM stops) and the switchover waits for RAM and disks both.
 */
export interface StorageMigration {
  start(events: { ready(): void; fail(reason: string): void }): void;
  /** The VM is paused: copy what is still dirty and flush the targets; `done(null)` or why not. */
  complete(done: (error: string | null) => void): void;
  /** Switchover done: the VM's disks are now the targets (the mirror's pivot). */
  pivot(): void;
  /** The migration failed: stop copying; the VM keeps its source disks. */
  cancel(): void;
  /** The record's `storage` object. */
  record(): Record<string, unknown>;
}

/**
 * `postcopy`: running on the destination while pages still come from the source; `lost`: the
 * stream broke during post-copy, so neither host has all of the VM's memory.
 */
export type MigrationStatus = 'scheduled' | 'mirror' | 'precopy' | 'paused' | 'completed' | 'failed' | 'refused' | 'postcopy' | 'lost';

export interface TimelineEntry {
  time_ns: number;
  what: string;
}

/** The summary record (issue 7 shape plus detail fields). */
export interface MigrationRecord {
  vm: string;
  from: string;
  to: string;
  start_ns: number;
  status: MigrationStatus;
  /** Live pre-copy rounds completed so far (all of them once finished). */
  rounds: number;
  transferred_bytes: number;
  downtime_ns: number;
  converged: boolean;
  announce: { mode: AnnounceMode; frames: number; first_ns: number | null; last_ns: number | null } & Partial<AnnounceReport>;
  /**
   * Frames sent to the VM from the pause on that never arrived because of the migration
   * (see loss.ts); losses with another cause in the same window are in `losses`.
   */
  packets_lost: number;
  /** Every frame lost in the window, by cause: migration, link_down, queue, link_loss, policy. */
  losses: Record<LossCause, number>;
  /** Frames dropped as `migration` (at the paused NIC and the dead source port). */
  migration_drops: number;
  reconverged_ns: number | null;
  /** Why it failed or was refused. */
  message: string | null;
  pause_ns: number | null;
  resume_ns: number | null;
  precopy: PrecopyRound[];
  tables: TableConvergence[];
  timeline: TimelineEntry[];
  /** VF failover steps; present only when the VM holds VFs with a virtio standby. */
  failover?: FailoverStep[];
  /** The migration stream over the fabric (`via:` only). */
  stream?: StreamStats & Record<string, unknown>;
  /** Block migration of the disks (`storage: mirror` only). */
  storage?: Record<string, unknown>;
  /** Network disks that stayed on their storage host (`nbd:` disks): the connections' moves. */
  nbd_disks?: Record<string, unknown>;
}

export class LiveMigration {
  private status: MigrationStatus = 'scheduled';
  private startNs = 0;
  private plan: PrecopyPlan | null = null;
  private message: string | null = null;
  private pauseNs: number | null = null;
  private resumeNs: number | null = null;
  private announcer: Announcer | null = null;
  private tracker: ReconvergenceTracker | null = null;
  private migrationDrops = 0;
  private loss: LossMeter | null = null;
  private readonly timeline: TimelineEntry[] = [];
  private readonly failoverSteps: FailoverStep[] = [];
  private readonly timers: EventId[] = [];
  private readonly unhooks: Array<() => void> = [];
  private finished = false;
  private stream: MigrationStream | null = null;
  /** Block migration: RAM copied / disks in sync, each waiting for the other at switchover. */
  private ramDone = false;
  private storageDone = false;
  private sharedDone = false;

  constructor(
    private readonly sim: Simulation,
    readonly spec: MigrationSpec,
    private readonly deps: MigrationDeps,
  ) {}

  /** Schedules the migration to start at absolute time `atNs` (or now). */
  scheduleAt(atNs: number): void {
    this.timers.push(this.sim.scheduleAt(Math.max(atNs, this.sim.now), () => this.start()));
  }

  /** Where the migration stands now. */
  get state(): MigrationStatus {
    return this.status;
  }

  /** True while pre-copy or stop-and-copy is under way (or about to start). */
  get active(): boolean {
    return this.status === 'scheduled' || this.status === 'mirror' || this.status === 'precopy' || this.status === 'paused' || this.status === 'postcopy';
  }

  /** Refuses a migration that has not started (e.g. another one of the VM is in progress). */
  refuse(reason: string): void {
    if (this.status !== 'scheduled') return;
    this.startNs = this.sim.now;
    this.status = 'refused';
    this.message = reason;
    this.note(`migration of ${this.spec.vm} refused: ${reason}`);
    this.emit('migration_refused', { reason });
  }

  /** Starts now. */
  start(): void {
    if (this.status !== 'scheduled') return;
    const s = this.spec;
    this.startNs = this.sim.now;
    const refusal = this.refusal();
    if (refusal !== null) {
      this.status = 'refused';
      this.message = refusal;
      this.note(`migration of ${s.vm} refused: ${refusal}`);
      this.emit('migration_refused', { reason: refusal });
      return;
    }
    // QEMU unplugs the primary in the migration's setup phase (`virtio_net_handle_migration_primary`
    // on PRECOPY_SETUP) and waits for the guest to release it before pre-copy (`wait-unplug`).
    for (const vf of s.vfs ?? []) {
      this.deps.failover!.unplug(vf);
      this.failoverSteps.push({
        interface: vf.path,
        standby: `${s.vm}.${vf.standby}`,
        source_vf: vf.vf,
        unplugged_ns: this.sim.now,
        plugged_ns: null,
        dest_vf: null,
        message: null,
      });
      this.note(`${vf.path}: VF ${vf.vf} unplugged, traffic fails over to standby ${s.vm}.${vf.standby}`);
    }
    const go = (): void => {
      if (this.deps.storage) this.startStorage(this.deps.storage);
      else this.startRam();
    };
    // the destination opens the network disks alongside (a handshake takes far less than a
    // pre-copy round); the switchover waits for it (`complete` reports a failure to open)
    if (this.deps.sharedDisks) this.openSharedDisks(this.deps.sharedDisks);
    go();
  }

  /** The destination's QEMU opens the VM's network disks: its own NBD connections and handshakes. */
  private openSharedDisks(sd: StorageMigration): void {
    const s = this.spec;
    this.note(`${s.to} opens ${s.vm}'s network disks (its own NBD connections)`);
    sd.start({
      ready: () => this.note(`${s.to} has ${s.vm}'s network disks open (NBD handshakes done)`),
      fail: (reason) => this.note(`${s.to} could not open ${s.vm}'s network disks: ${reason}`),
    });
  }

  /** Local disks mirrored and network disks drained: what the switchover waits for besides RAM. */
  private disksSettled(): boolean {
    return (!this.deps.storage || this.storageDone) && (!this.deps.sharedDisks || this.sharedDone);
  }

  /** Block migration first: the RAM migration starts when every disk's mirror is ready. */
  private startStorage(st: StorageMigration): void {
    const s = this.spec;
    this.status = 'mirror';
    this.note(`block mirror of ${s.vm}'s disks to ${s.to} starts (drive-mirror over NBD)`);
    this.emit('block_mirror_start', {});
    st.start({
      ready: () => {
        if (this.status !== 'mirror') return;
        this.note(`block mirror ready: ${s.vm}'s disks in sync on ${s.to}; RAM migration starts`);
        this.emit('block_mirror_ready', {});
        this.startRam();
      },
      fail: (reason) => {
        const why = `block mirror failed: ${reason}`;
        if (this.status === 'mirror') this.failed(why, false);
        else if (this.stream && (this.status === 'precopy' || this.status === 'paused')) this.stream.abort(why);
      },
    });
  }

  private startRam(): void {
    const s = this.spec;
    if (this.deps.stream) {
      this.startStream(this.deps.stream);
      return;
    }
    this.plan = planPrecopy({
      memoryBytes: s.memoryBytes,
      dirtyRateBytesPerS: s.dirtyRateBytesPerS,
      bandwidthBitPerS: s.bandwidthBitPerS,
      ...(s.maxDowntimeNs !== undefined ? { maxDowntimeNs: s.maxDowntimeNs } : {}),
      ...(s.maxIterations !== undefined ? { maxIterations: s.maxIterations } : {}),
    });
    this.status = 'precopy';
    this.note(`migration ${s.vm} ${s.from} → ${s.to} starts (pre-copy)`);
    this.emit('migration_start', {});
    const plan = this.plan;
    if (!plan.converged) {
      this.timers.push(
        this.sim.schedule(plan.end_ns, () => {
          this.status = 'failed';
          this.message = plan.failure;
          this.note(`${plan.failure ?? 'did not converge'}; ${s.vm} stays on ${s.from}`);
          this.emit('migration_failed', { reason: plan.failure });
          // QEMU plugs the primary back on the source (`failover_replug_primary` on PRECOPY_FAILED).
          this.plugVfs(s.from, true);
        }),
      );
      return;
    }
    const stop = plan.stop_copy!;
    this.timers.push(this.sim.schedule(stop.start_ns, () => this.pause()));
    this.timers.push(
      this.sim.schedule(stop.end_ns, () => {
        this.ramDone = true;
        // network disks' requests still in flight: the switchover waits for the drain
        if (this.disksSettled()) this.switchoverAndResume();
      }),
    );
  }

  /** Pre-copy (and post-copy) driven by the TCP stream: the plan fills in as it happens. */
  private startStream(make: (events: StreamEvents) => MigrationStream): void {
    const s = this.spec;
    const plan: PrecopyPlan = {
      converged: false, rounds: [], stop_copy: null, transferred_bytes: 0, downtime_ns: 0, end_ns: 0, threshold_bytes: 0, failure: null,
    };
    this.plan = plan;
    this.status = 'precopy';
    this.note(`migration ${s.vm} ${s.from} → ${s.to} starts (pre-copy over the fabric)`);
    this.emit('migration_start', {});
    const rel = (): number => this.sim.now - this.startNs;
    const shift = rel();
    this.stream = make({
      round: (r) => {
        // the stream counts from its own start; the plan from the migration's (a block mirror
        // may have run in between)
        plan.rounds.push({ ...r, start_ns: r.start_ns + shift, end_ns: r.end_ns + shift });
        plan.threshold_bytes = r.threshold_bytes;
      },
      pause: (bytes) => {
        plan.stop_copy = { start_ns: rel(), end_ns: rel(), bytes };
        this.pause();
      },
      complete: (downtimeNs) => {
        plan.converged = true;
        plan.downtime_ns = downtimeNs;
        plan.stop_copy!.end_ns = rel();
        plan.end_ns = rel();
        plan.transferred_bytes = this.stream!.stats().written_bytes;
        this.ramDone = true;
        if (this.deps.storage && !this.storageDone) {
          this.note('RAM copied; waiting for the block mirror to drain');
          return;
        }
        if (!this.disksSettled()) {
          this.note('RAM copied; waiting for the network disks\' requests to drain');
          return;
        }
        this.switchoverAndResume();
      },
      postcopyResume: (downtimeNs, missing) => {
        plan.converged = true;
        plan.downtime_ns = downtimeNs;
        plan.stop_copy!.end_ns = rel();
        this.switchoverAndResume();
        this.status = 'postcopy';
        this.note(`post-copy: ${s.vm} runs on ${s.to}; ${missing} bytes still on ${s.from}, pulled on page faults and pushed in the background`);
      },
      stall: (on) => this.deps.stall?.(on),
      postcopyDone: () => {
        plan.end_ns = rel();
        plan.transferred_bytes = this.stream!.stats().written_bytes;
        this.status = 'completed';
        const st = this.stream!.stats().postcopy;
        this.note(`post-copy done: every page on ${s.to} (${st?.faults ?? 0} page faults)`);
      },
      fail: (reason, lost) => {
        plan.failure = reason;
        plan.end_ns = rel();
        plan.transferred_bytes = this.stream!.stats().written_bytes;
        this.failed(reason, lost);
      },
    });
    this.stream.start();
  }

  /** The migration failed (or the VM is lost in post-copy); QEMU keeps the VM on the source. */
  private failed(reason: string, lost: boolean): void {
    const s = this.spec;
    this.message = reason;
    this.deps.storage?.cancel();
    this.deps.sharedDisks?.cancel();
    if (lost) {
      this.status = 'lost';
      for (const nic of s.nics) nic.pause();
      this.note(reason);
      this.emit('migration_lost', { reason });
      return;
    }
    const wasPaused = this.status === 'paused';
    this.status = 'failed';
    // QEMU resumes the source VM when the migration fails (migrate_fd_cleanup → vm_start).
    if (wasPaused) for (const nic of s.nics) nic.resume();
    this.note(`${reason}; ${s.vm} stays on ${s.from}${wasPaused ? ' (resumed)' : ''}`);
    this.emit('migration_failed', { reason });
    this.plugVfs(s.from, true);
  }

  private refusal(): string | null {
    const s = this.spec;
    const vfs = s.vfs ?? [];
    const unpaired = vfs.filter((v) => !v.standby);
    if (unpaired.length > 0) {
      const names = unpaired.map((v) => `${v.path} (${v.vf})`).join(', ');
      return (
        `${s.vm} holds SR-IOV VF ${names}: a passed-through VF cannot be live-migrated ` +
        `(QEMU: VFIO device without migration support blocks migration); pair it with a virtio ` +
        `standby interface (standby: <virtio iface>, VIRTIO_NET_F_STANDBY failover) or detach it`
      );
    }
    if (vfs.length > 0 && this.deps.failover === undefined) {
      return `${s.vm} holds SR-IOV VF ${vfs.map((v) => v.path).join(', ')} with a standby, but this fabric has no VF failover support`;
    }
    if (s.from === s.to) return `${s.vm} is already on ${s.to}`;
    return null;
  }

  private pause(): void {
    const s = this.spec;
    this.status = 'paused';
    this.pauseNs = this.sim.now;
    if (this.deps.senders) {
      const loss = new LossMeter(this.sim, s.nics.map((n) => n.mac));
      for (const p of this.deps.senders()) loss.watchSender(p);
      for (const nic of s.nics) loss.watchReceiver(nic.port, () => this.status !== 'paused');
      for (const p of this.deps.allPorts?.() ?? []) loss.watchDrops(p);
      loss.start();
      this.loss = loss;
    }
    for (const nic of s.nics) {
      this.countMigrationDrops(nic.port);
      nic.pause();
    }
    this.note(`${s.vm} paused for stop-and-copy (${this.plan!.stop_copy!.bytes} bytes)`);
    this.emit('migration_pause', {});
    if (this.deps.storage) this.drainStorage(this.deps.storage);
    if (this.deps.sharedDisks) this.drainSharedDisks(this.deps.sharedDisks);
  }

  /** With the VM paused, the mirrors copy their last dirty chunks and flush the targets. */
  private drainStorage(st: StorageMigration): void {
    st.complete((error) => {
      if (this.status !== 'paused') return;
      if (error !== null) {
        const why = `block mirror failed at switch-over: ${error}`;
        if (this.ramDone || !this.stream) this.failed(why, false);
        else this.stream.abort(why);
        return;
      }
      this.storageDone = true;
      this.note('block mirror drained: every disk in sync on the destination, targets flushed');
      this.settledWhilePaused();
    });
  }

  /** With the VM paused, the network disks' requests complete (bdrv_drain_all) and are flushed. */
  private drainSharedDisks(sd: StorageMigration): void {
    sd.complete((error) => {
      if (this.status !== 'paused') return;
      if (error !== null) {
        const why = `network disks failed to drain at switch-over: ${error}`;
        if (this.ramDone || !this.stream) this.failed(why, false);
        else this.stream.abort(why);
        return;
      }
      this.sharedDone = true;
      this.note('network disks drained: no request in flight on the source, flushed');
      this.settledWhilePaused();
    });
  }

  /** The disks are settled during stop-and-copy: switch over if RAM is done too. */
  private settledWhilePaused(): void {
    if (!this.ramDone || !this.disksSettled()) return;
    const plan = this.plan!;
    const rel = this.sim.now - this.startNs;
    plan.downtime_ns = this.sim.now - this.pauseNs!;
    plan.stop_copy!.end_ns = rel;
    plan.end_ns = rel;
    this.switchoverAndResume();
  }

  private switchoverAndResume(): void {
    const s = this.spec;
    // Snapshot the MAC tables as the paused VM left them, before the switchover changes them.
    if (this.deps.macTables) {
      this.tracker = new ReconvergenceTracker(
        this.sim,
        s.nics.map((n) => ({ mac: n.mac, vlan: n.vlan ?? 0 })),
        this.deps.macTables,
      );
      this.tracker.snapshot();
    }
    const moved: string[] = [];
    for (const nic of s.nics) {
      const r = this.deps.switchover(nic);
      if (r.oldPort) this.countMigrationDrops(r.oldPort);
      moved.push(`${nic.path} → ${r.newPort}`);
    }
    this.note(`switchover: ${moved.join(', ')}`);
    this.deps.storage?.pivot();
    this.deps.sharedDisks?.pivot();
    // Watch the tables before anything from the new location is seen.
    if (this.tracker) {
      this.tracker.arm();
      const sub = this.deps.subscribe?.((ev) => this.tracker?.onEvent(ev));
      if (typeof sub === 'function') this.unhooks.push(sub as () => void);
    }
    for (const nic of s.nics) nic.resume();
    this.resumeNs = this.sim.now;
    this.status = 'completed';
    this.note(`${s.vm} resumed on ${s.to} after ${formatTime(this.plan!.downtime_ns)} downtime`);
    this.emit('migration_resume', { downtime_ns: this.plan!.downtime_ns });
    this.announcer = new Announcer(this.sim, s.nics, {
      mode: s.announce,
      ...(s.announceParams ? { params: s.announceParams } : {}),
      buildRarp: this.deps.buildRarp ?? wireBuildRarp,
    });
    this.announcer.start();
    this.plugVfs(s.to, false);
  }

  /** Plugs a VF for each failover pair on `host` (destination, or back on the source). */
  private plugVfs(host: string, back: boolean): void {
    const s = this.spec;
    (s.vfs ?? []).forEach((vf, i) => {
      const r = this.deps.failover!.plug(vf, host);
      const step = this.failoverSteps[i];
      if (r.vf === null) {
        if (step) step.message = r.reason;
        this.note(`${vf.path}: no VF plugged on ${host} (${r.reason}); traffic stays on standby ${s.vm}.${vf.standby}`);
        return;
      }
      if (r.port && !back) {
        this.loss?.watchReceiver(r.port, () => this.status !== 'paused');
        this.announcer?.watchPort(`${s.vm}.${vf.standby}`, r.port);
      }
      if (step) {
        step.plugged_ns = this.sim.now;
        if (back) step.message = `migration failed: ${r.vf} plugged back on ${host}`;
        else step.dest_vf = r.vf;
      }
      this.note(`${vf.path}: VF ${r.vf} plugged on ${host}; traffic fails back from the standby`);
    });
  }

  private countMigrationDrops(port: Port): void {
    this.unhooks.push(
      port.onDrop((_p, reason) => {
        if (reason === 'migration') this.migrationDrops++;
      }),
    );
  }

  /** Ends observation (call at the end of the run). Idempotent. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.tracker?.finish();
    this.announcer?.stop();
    this.loss?.stop();
    this.stream?.stop();
    for (const u of this.unhooks) u();
    this.unhooks.length = 0;
  }

  record(): MigrationRecord {
    const s = this.spec;
    const plan = this.plan;
    const now = this.sim.now;
    const done = this.status === 'completed' || this.status === 'failed' || this.status === 'lost' || this.status === 'postcopy';
    const roundsSoFar = plan ? plan.rounds.filter((r) => done || this.startNs + r.end_ns <= now) : [];
    const ann = this.announcer?.result();
    const losses: Record<LossCause, number> = this.loss
      ? this.loss.lostByCause()
      : { migration: this.migrationDrops, link_down: 0, queue: 0, link_loss: 0, policy: 0 };
    const bytes = plan
      ? this.stream
        ? this.stream.stats().written_bytes
        : this.status === 'completed'
        ? plan.transferred_bytes
        : roundsSoFar.reduce((a, r) => a + r.bytes, 0)
      : 0;
    return {
      vm: s.vm,
      from: s.from,
      to: s.to,
      start_ns: this.startNs,
      status: this.status,
      rounds: roundsSoFar.length,
      transferred_bytes: bytes,
      downtime_ns:
        this.status === 'completed' || this.status === 'postcopy' || (this.status === 'lost' && this.resumeNs !== null)
          ? plan!.downtime_ns
          : this.pauseNs !== null && this.status === 'paused'
            ? now - this.pauseNs
            : 0,
      converged: plan?.converged === true && this.status !== 'refused',
      announce: ann
        ? { ...ann }
        : { mode: s.announce, frames: 0, first_ns: null, last_ns: null },
      packets_lost: losses.migration,
      losses,
      migration_drops: this.migrationDrops,
      reconverged_ns: this.tracker?.reconvergedNs ?? null,
      message: this.message,
      pause_ns: this.pauseNs,
      resume_ns: this.resumeNs,
      precopy: roundsSoFar.map((r) => ({ ...r, start_ns: r.start_ns + this.startNs, end_ns: r.end_ns + this.startNs })),
      tables: this.tracker?.details() ?? [],
      timeline: this.fullTimeline(roundsSoFar, ann),
      ...((s.vfs ?? []).length > 0 ? { failover: this.failoverSteps.map((f) => ({ ...f })) } : {}),
      ...(this.stream ? { stream: { ...(this.deps.streamInfo ?? {}), ...this.stream.stats() } } : {}),
      ...(this.deps.storage ? { storage: this.deps.storage.record() } : {}),
      ...(this.deps.sharedDisks ? { nbd_disks: this.deps.sharedDisks.record() } : {}),
    };
  }

  private fullTimeline(rounds: PrecopyRound[], ann: AnnounceReport | undefined): TimelineEntry[] {
    // Round ends first, so at equal times "round N done" precedes the pause it leads to.
    const out: TimelineEntry[] = rounds.map((r) => {
      // stream rounds (stream.ts) also carry QEMU's measured bandwidth and the guest throttle
      const x = r as PrecopyRound & { bandwidth_bps?: number; throttle_pct?: number };
      const extra = x.bandwidth_bps !== undefined ? `, measured ${(x.bandwidth_bps / 1e9).toFixed(2)} Gbit/s${x.throttle_pct ? `, CPU throttle ${x.throttle_pct}%` : ''}` : '';
      return { time_ns: this.startNs + r.end_ns, what: `pre-copy round ${r.round} done (${r.bytes} bytes${extra})` };
    });
    out.push(...this.timeline);
    if (ann && this.announcer) {
      // One line per instant and NIC: "RARP + GARP + NA from vm2.eth0".
      let last: { t: number; nic: string; kinds: string[] } | null = null;
      const flush = (): void => {
        if (last) out.push({ time_ns: last.t, what: `${last.kinds.join(' + ')} from ${last.nic}` });
      };
      for (const f of this.announcer.log) {
        if (last && last.t === f.time_ns && last.nic === f.nic) {
          if (!last.kinds.includes(f.kind.toUpperCase())) last.kinds.push(f.kind.toUpperCase());
          continue;
        }
        flush();
        last = { t: f.time_ns, nic: f.nic, kinds: [f.kind.toUpperCase()] };
      }
      flush();
    }
    const rc = this.tracker?.reconvergedNs;
    if (rc !== undefined && rc !== null) out.push({ time_ns: rc, what: 'all MAC tables point at the new location' });
    // Stable: by time, then by insertion order.
    return out.map((e, i) => ({ e, i })).sort((a, b) => a.e.time_ns - b.e.time_ns || a.i - b.i).map((x) => x.e);
  }

  private note(what: string): void {
    this.timeline.push({ time_ns: this.sim.now, what });
  }

  private emit(type: string, extra: Record<string, unknown>): void {
    this.deps.emit?.({ type, time_ns: this.sim.now, vm: this.spec.vm, from: this.spec.from, to: this.spec.to, ...extra });
  }
}
