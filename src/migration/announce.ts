/**
 * Post-migration announce: QEMU's self-announce (RARP) and the virtio GUEST_ANNOUNCE path (GARP/NA
 * sent by the guest), on QEMU's schedule, in virtual time.
 *
 * What QEMU does after an incoming migration (sources cited inline):
 * 1. `process_incoming_migration_bh()` (`migration/migration.c`) calls
 *    `qemu_announce_self(&mis->announce_timer, migrate_announce_params())` just before `vm_start()`.
 *    `qemu_announce_self_once()` (`net/announce.c`) runs at once, then re-arms itself with
 *    `qemu_announce_timer_step()`: delay = initial + (rounds − round − 1) · step, capped at max,
 *    where `round` counts down from `rounds`. With the defaults (initial 50, max 550, rounds 5,
 *    step 100 ms; `migration/options.c`) frames go out 0, 50, 200, 450 and 800 ms after resume.
 *    Each round, for every NIC, `qemu_announce_self_iter()` sends one 60-byte RARP
 *    (`announce_self_create()`: broadcast, ethertype 0x8035, op 3, sender = target = NIC MAC,
 *    IPs 0.0.0.0) and calls the NIC's `announce` hook.
 * 2. virtio-net's `post_load` (`hw/net/virtio-net.c` `virtio_net_post_load_device`), when the guest
 *    negotiated GUEST_ANNOUNCE and CTRL_VQ, resets the NIC's own `announce_timer` with the same
 *    `migrate_announce_params()` on QEMU_CLOCK_VIRTUAL and fires it "now" — i.e. as soon as the VM
 *    runs. `virtio_net_announce_timer()` decrements `round` and sets S_ANNOUNCE + config interrupt;
 *    the guest sends GARPs (IPv4) / unsolicited NAs (IPv6) and answers ANNOUNCE_ACK;
 *    `virtio_net_handle_announce()` clears the bit and, if rounds remain, calls
 *    `qemu_announce_timer_step()`. So **yes, the guest is asked every round** (5 times by default),
 *    paced by its ACKs: round k+1 comes `step(k)` after the ACK of round k, not on a fixed clock.
 * 3. While that virtio timer has rounds left, the self-announce hook `virtio_net_announce()`
 *    returns early ("let it trigger announcement so that we do not cause confusion"), so the guest
 *    is not asked twice per round.
 *
 * vfab modes (`announce:`): `both` = 1 + 2 (QEMU with a virtio guest); `rarp` = 1 only (as QEMU
 * with a guest that did not negotiate GUEST_ANNOUNCE); `garp` = 2 only — a NIC that cannot do
 * guest announce (no GUEST_ANNOUNCE/CTRL_VQ, or an SR-IOV VF) sends **nothing** in this mode,
 * exactly as QEMU would not announce it through the guest, and a warning says so; `none` = nothing
 * (announce-rounds 0).
 */
import type { EventId, Simulation } from '../sim/index.js';
import { ms } from '../sim/time.js';
import type { Port } from '../port/port.js';
import { UserError } from '../errors.js';
import { buildRarp as wireBuildRarp } from '../wire/build.js';

export type AnnounceMode = 'both' | 'rarp' | 'garp' | 'none';
export const ANNOUNCE_MODES: readonly AnnounceMode[] = ['both', 'rarp', 'garp', 'none'];

/** QEMU `AnnounceParameters` (qapi/net.json) in nanoseconds. */
export interface AnnounceParams {
  initialNs: number;
  maxNs: number;
  rounds: number;
  stepNs: number;
}

/** `migration/options.c` defaults: announce-initial 50, announce-max 550, rounds 5, step 100 ms. */
export const QEMU_ANNOUNCE_DEFAULTS: Readonly<AnnounceParams> = Object.freeze({
  initialNs: ms(50),
  maxNs: ms(550),
  rounds: 5,
  stepNs: ms(100),
});

/**
 * Validates like `migrate_params_check()` (`migration/options.c`): initial and max 0..100000 ms,
 * rounds 0..1000, step 1..10000 ms. Throws `UserError` naming the field.
 */
export function checkAnnounceParams(p: AnnounceParams, where = 'announce'): void {
  const bad = (field: string, range: string): never => {
    throw new UserError('MIGRATION_BAD_ANNOUNCE', `${where}_${field} expects a value between ${range} (as QEMU's migrate_params_check)`, {
      where: `${where}_${field}`,
    });
  };
  if (!(p.initialNs >= 0 && p.initialNs <= ms(100_000))) bad('initial', '0 and 100000 ms');
  if (!(p.maxNs >= 0 && p.maxNs <= ms(100_000))) bad('max', '0 and 100000 ms');
  if (!(Number.isInteger(p.rounds) && p.rounds >= 0 && p.rounds <= 1000)) bad('rounds', '0 and 1000');
  if (!(p.stepNs >= ms(1) && p.stepNs <= ms(10_000))) bad('step', '1 and 10000 ms');
}

/**
 * `qemu_announce_timer_step()`: the delay after a round when `round` rounds remain (already
 * decremented): initial + (rounds − round − 1) · step, and max when negative or above max.
 */
export function announceStepNs(p: AnnounceParams, remaining: number): number {
  const step = p.initialNs + (p.rounds - remaining - 1) * p.stepNs;
  return step < 0 || step > p.maxNs ? p.maxNs : step;
}

/** Offsets after resume of every self-announce round (defaults: 0, 50, 200, 450, 800 ms). */
export function announceOffsets(p: AnnounceParams): number[] {
  const out: number[] = [];
  let t = 0;
  for (let round = p.rounds; round > 0; ) {
    out.push(t);
    round--; // `if (--timer->round)` in qemu_announce_self_once()
    if (round > 0) t += announceStepNs(p, round);
  }
  return out;
}

/** What the announcer needs from a NIC (virtio-net or a VF; see `GuestNic`, `VirtioNet`). */
export interface AnnounceNic {
  readonly path: string;
  /** 48-bit MAC. */
  readonly mac: number;
  /** Device-side port: a frame sent here leaves the NIC towards its bridge. */
  readonly port: Port;
  /**
   * virtio GUEST_ANNOUNCE: sets S_ANNOUNCE and raises the config interrupt when the guest
   * negotiated GUEST_ANNOUNCE and CTRL_VQ; returns false (and does nothing) otherwise.
   */
  requestAnnounce?(): boolean;
  /** Subscribes to completed ANNOUNCE_ACKs (paces the next virtio round, as QEMU does). */
  onAnnounceAck?(cb: () => void): unknown;
}

export type AnnounceKind = 'rarp' | 'garp' | 'na';

export interface AnnounceFrameRecord {
  time_ns: number;
  nic: string;
  kind: AnnounceKind;
}

export interface AnnounceReport {
  mode: AnnounceMode;
  /** Announce frames (RARP + GARP + NA) that left the VM's NICs since `start()`. */
  frames: number;
  rarp: number;
  garp: number;
  na: number;
  /** Times the device asked the guest to announce (S_ANNOUNCE set). */
  guest_requests: number;
  first_ns: number | null;
  last_ns: number | null;
  warnings: string[];
}

export interface AnnouncerOptions {
  mode: AnnounceMode;
  params?: AnnounceParams;
  /** Builds QEMU's 60-byte RARP for a MAC; defaults to the `wire` builder. */
  buildRarp?: (mac: number) => Uint8Array;
}

/**
 * Runs the announce for one VM's NICs from `start()` (the resume instant) on. Also watches the
 * NICs' transmit side and counts announce frames, whoever sent them (hypervisor or guest).
 */
export class Announcer {
  readonly params: AnnounceParams;
  readonly log: AnnounceFrameRecord[] = [];
  private readonly report: AnnounceReport;
  private timers: EventId[] = [];
  private unhooks: Array<() => void> = [];
  private started = false;
  private stopped = false;

  constructor(
    private readonly sim: Simulation,
    private readonly nics: readonly AnnounceNic[],
    private readonly opts: AnnouncerOptions,
  ) {
    this.params = opts.params ?? { ...QEMU_ANNOUNCE_DEFAULTS };
    checkAnnounceParams(this.params);
    this.report = {
      mode: opts.mode,
      frames: 0,
      rarp: 0,
      garp: 0,
      na: 0,
      guest_requests: 0,
      first_ns: null,
      last_ns: null,
      warnings: [],
    };
  }

  /** Starts at `sim.now` (the VM just resumed on the destination). Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const nic of this.nics) this.watch(nic);
    const { mode } = this.opts;
    if (mode === 'none' || this.params.rounds === 0) return;
    // Self-announce first: qemu_announce_self() runs before vm_start() lets the virtual clock (and
    // with it the virtio announce timer) tick, so at the resume instant the RARP leaves first.
    if (mode === 'both' || mode === 'rarp') this.armSelfAnnounce(this.params.rounds);
    if (mode === 'both' || mode === 'garp') {
      for (const nic of this.nics) this.armGuestAnnounce(nic);
    }
  }

  /**
   * Also counts the announces `nicPath`'s guest sends through `port`: a VF plugged as the failover
   * primary (the guest's GARP/NA leave through it, while QEMU's RARP still leaves the virtio NIC).
   */
  watchPort(nicPath: string, port: Port): void {
    if (this.stopped || !this.started) return;
    this.watch({ path: nicPath, mac: 0, port });
  }

  /** Cancels pending rounds and stops counting frames. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) t.cancel();
    this.timers = [];
    for (const u of this.unhooks) u();
    this.unhooks = [];
  }

  result(): AnnounceReport {
    return { ...this.report, warnings: [...this.report.warnings] };
  }

  private armSelfAnnounce(round: number): void {
    // qemu_announce_self_once(): announce on every NIC, then `if (--round) step()`.
    const build = this.opts.buildRarp ?? wireBuildRarp;
    for (const nic of this.nics) nic.port.send(build(nic.mac), { hops: 0 });
    const remaining = round - 1;
    if (remaining > 0) {
      this.timers.push(this.sim.schedule(announceStepNs(this.params, remaining), () => this.armSelfAnnounce(remaining)));
    }
  }

  private armGuestAnnounce(nic: AnnounceNic): void {
    if (nic.requestAnnounce === undefined) {
      this.report.warnings.push(
        `${nic.path}: not a virtio NIC, so no guest announce; ${this.opts.mode === 'garp' ? 'with announce: garp nothing announces it (QEMU would only send RARP)' : 'only RARP announces it'}`,
      );
      return;
    }
    let round = this.params.rounds;
    let waitingAck = false;
    const hasAck = nic.onAnnounceAck !== undefined;
    const fire = (): void => {
      // virtio_net_announce_timer(): round--, then S_ANNOUNCE + config interrupt.
      round--;
      const ok = nic.requestAnnounce!();
      if (!ok) {
        this.report.warnings.push(
          `${nic.path}: guest did not negotiate GUEST_ANNOUNCE (needs CTRL_VQ), so the guest is never asked to announce; ${this.opts.mode === 'garp' ? 'with announce: garp nothing announces it (QEMU would only send RARP)' : 'only RARP announces it'}`,
        );
        return;
      }
      this.report.guest_requests++;
      if (hasAck) waitingAck = true;
      else if (round > 0) {
        // No ACK signal from this device model: treat the ACK as immediate.
        this.timers.push(this.sim.schedule(announceStepNs(this.params, round), fire));
      }
    };
    if (hasAck) {
      const un = nic.onAnnounceAck!(() => {
        // virtio_net_handle_announce(): clear S_ANNOUNCE; `if (round) qemu_announce_timer_step()`.
        if (!waitingAck || this.stopped) return;
        waitingAck = false;
        if (round > 0) this.timers.push(this.sim.schedule(announceStepNs(this.params, round), fire));
      });
      if (typeof un === 'function') this.unhooks.push(un as () => void);
    }
    // post_load: timer_mod(now) on the virtual clock → fires once the VM runs (after the RARP).
    this.timers.push(this.sim.schedule(0, fire));
  }

  private watch(nic: AnnounceNic): void {
    const un = nic.port.onFrame((_port, dir, frame) => {
      if (dir !== 'tx') return;
      const kind = classifyAnnounce(frame);
      if (kind === null) return;
      const r = this.report;
      r.frames++;
      r[kind]++;
      const now = this.sim.now;
      if (r.first_ns === null) r.first_ns = now;
      r.last_ns = now;
      this.log.push({ time_ns: now, nic: nic.path, kind });
    });
    this.unhooks.push(un);
  }
}

const ETH_ARP = 0x0806;
const ETH_RARP = 0x8035;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = [0x8100, 0x88a8];

/**
 * Classifies a frame as an announce: RARP (ethertype 0x8035), gratuitous ARP (OVS
 * `is_gratuitous_arp()`, `ofproto/ofproto-dpif-xlate.c`: broadcast destination and either a reply
 * or a request with SPA == TPA) or an unsolicited neighbour advertisement (ICMPv6 type 136 without
 * the Solicited flag, RFC 4861 §7.2.6). Never throws: short frames are just "not an announce".
 */
export function classifyAnnounce(f: Uint8Array): AnnounceKind | null {
  if (f.length < 14) return null;
  let off = 12;
  let type = (f[off]! << 8) | f[off + 1]!;
  while (ETH_VLAN.includes(type) && f.length >= off + 6) {
    off += 4;
    type = (f[off]! << 8) | f[off + 1]!;
  }
  const p = off + 2; // payload
  if (type === ETH_RARP) return 'rarp';
  if (type === ETH_ARP) {
    if (f.length < p + 28) return null;
    let bcast = true;
    for (let i = 0; i < 6; i++) if (f[i] !== 0xff) bcast = false;
    if (!bcast) return null;
    const op = (f[p + 6]! << 8) | f[p + 7]!;
    if (op === 2) return 'garp';
    if (op === 1) {
      for (let i = 0; i < 4; i++) if (f[p + 14 + i] !== f[p + 24 + i]) return null;
      return 'garp';
    }
    return null;
  }
  if (type === ETH_IPV6) {
    // Fixed IPv6 header (40 bytes), next header ICMPv6 (58), type 136, S flag (0x40) clear.
    if (f.length < p + 40 + 8) return null;
    if (f[p + 6] !== 58) return null;
    if (f[p + 40] !== 136) return null;
    if ((f[p + 44]! & 0x40) !== 0) return null;
    return 'na';
  }
  return null;
}
