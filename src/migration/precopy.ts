/**
 * Pre-copy live migration as a pure model in virtual time.
 *
 * Design: QEMU's migration thread (`migration/migration.c` `migration_thread` →
 * `migration_iteration_run`) loops: ask every device how much is still pending
 * (`qemu_savevm_state_pending_*`); if `pending_size == 0 || pending_size < threshold_size` it calls
 * `migration_completion()` — stop the VM, send the rest plus device state (stop-and-copy);
 * otherwise it sends another chunk (`qemu_savevm_state_iterate`). `threshold_size` is computed in
 * `migration_update_counters()` as `bandwidth_bytes_per_ms * downtime_limit_ms`, i.e. "what the link
 * can carry within the allowed downtime" — so the expected downtime is `pending / bandwidth`, and the
 * default `downtime-limit` is 300 ms (`DEFAULT_MIGRATE_SET_DOWNTIME`, `migration/options.c`).
 *
 * vfab turns that loop into rounds (the classic dirty-page-log view of it; QEMU's own counter is
 * `dirty-sync-count`):
 * - round 1 sends all of memory (QEMU's `threshold_size` stays 0 until the first
 *   `BUFFER_DELAY` = 100 ms of transfer has been measured, so the first pass always runs);
 * - each next round sends what the guest dirtied during the previous round, `dirty_rate × round
 *   duration`, bounded by the memory size (a page dirtied twice is sent once);
 * - before each next round the stop condition above is checked with the configured bandwidth
 *   standing in for QEMU's measured one; when it holds, the VM pauses and the remainder is sent:
 *   downtime = remainder / bandwidth.
 *
 * Non-convergence: when the dirty rate is at least the bandwidth, a round dirties at least as much
 * as it sent, so the pending size can never fall (S_{k+1} = min(M, S_k·D/B) ≥ S_k). QEMU would keep
 * iterating until cancelled (or throttle the guest with auto-converge, not modelled); vfab stops as
 * soon as convergence is impossible, or after `maxIterations` rounds, and reports "did not converge
 * after N rounds": the VM keeps running on the source.
 *
 * Deliberate simplifications (documented in docs/migration.md): the migration stream does not
 * travel over the simulated fabric (it is a separate management network); device state size is
 * ignored; the dirty rate is uniform (no working-set saturation beyond the memory bound); no
 * auto-converge, no postcopy, no compression/multifd. Times are integer nanoseconds relative to the
 * start of the migration.
 */
import { UserError } from '../errors.js';
import { NS_PER_S, ms } from '../sim/time.js';

/** QEMU `DEFAULT_MIGRATE_SET_DOWNTIME` / `downtime-limit` default: 300 ms. */
export const DEFAULT_MAX_DOWNTIME_NS = ms(300);
/**
 * Round cap. QEMU has none (it iterates until cancelled); 30 is the classic Xen
 * `xc_domain_save` precopy iteration cap (`DEF_MAX_ITERS` 29 + final), a sane bound for a model.
 */
export const DEFAULT_MAX_ITERATIONS = 30;

export interface PrecopyParams {
  /** Guest RAM in bytes. */
  memoryBytes: number;
  /** Bytes per second the guest dirties while running. */
  dirtyRateBytesPerS: number;
  /** Migration stream bandwidth in bit/s (QEMU `max-bandwidth` / `avail-switchover-bandwidth`). */
  bandwidthBitPerS: number;
  /** Allowed pause for the final copy (QEMU `downtime-limit`); default 300 ms. */
  maxDowntimeNs?: number;
  /** Live rounds before giving up; default 30. */
  maxIterations?: number;
}

export interface PrecopyRound {
  /** 1-based round number (round 1 = full memory pass). */
  round: number;
  start_ns: number;
  end_ns: number;
  bytes: number;
}

export interface PrecopyPlan {
  converged: boolean;
  /** Live (VM running) rounds. */
  rounds: PrecopyRound[];
  /** The stop-and-copy phase (VM paused), when converged. */
  stop_copy: { start_ns: number; end_ns: number; bytes: number } | null;
  /** All bytes sent: live rounds plus the stop-and-copy remainder. */
  transferred_bytes: number;
  /** VM pause length (0 when not converged: the VM never paused). */
  downtime_ns: number;
  /** When the migration ended (completed or given up), relative to its start. */
  end_ns: number;
  /** Bytes the stop condition allowed: bandwidth × max downtime (QEMU `threshold_size`). */
  threshold_bytes: number;
  /** Why it did not converge ("did not converge after N rounds: …"), else null. */
  failure: string | null;
}

/** Nanoseconds to send `bytes` at `bitPerS`, rounded up to a whole ns. */
export function transferNs(bytes: number, bitPerS: number): number {
  if (bytes <= 0) return 0;
  return Math.ceil((bytes * 8 * NS_PER_S) / bitPerS);
}

function check(ok: boolean, field: string, message: string): void {
  if (!ok) throw new UserError('MIGRATION_BAD_PARAMETER', message, { where: field });
}

/** Plans a pre-copy migration. Pure and deterministic; throws `UserError` on nonsense input. */
export function planPrecopy(p: PrecopyParams): PrecopyPlan {
  const maxDowntimeNs = p.maxDowntimeNs ?? DEFAULT_MAX_DOWNTIME_NS;
  const maxIterations = p.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  check(Number.isFinite(p.memoryBytes) && p.memoryBytes > 0, 'memory', 'VM memory must be a positive size');
  check(Number.isFinite(p.dirtyRateBytesPerS) && p.dirtyRateBytesPerS >= 0, 'dirty_rate', 'dirty rate must be ≥ 0 bytes/s');
  check(Number.isFinite(p.bandwidthBitPerS) && p.bandwidthBitPerS > 0, 'bandwidth', 'migration bandwidth must be positive');
  check(Number.isFinite(maxDowntimeNs) && maxDowntimeNs >= 0, 'max_downtime', 'max_downtime must be ≥ 0');
  check(Number.isInteger(maxIterations) && maxIterations >= 1, 'max_iterations', 'max_iterations must be an integer ≥ 1');

  const M = p.memoryBytes;
  const D = p.dirtyRateBytesPerS;
  const B = p.bandwidthBitPerS;
  // migration_update_counters(): threshold_size = bandwidth (bytes/ms) * downtime_limit (ms).
  const threshold = (B / 8) * (maxDowntimeNs / NS_PER_S);
  const bandwidthBytesPerS = B / 8;

  const rounds: PrecopyRound[] = [];
  let t = 0;
  let transferred = 0;
  let pending = M; // round 1: everything
  for (;;) {
    const roundNs = transferNs(pending, B);
    const r: PrecopyRound = { round: rounds.length + 1, start_ns: t, end_ns: t + roundNs, bytes: pending };
    rounds.push(r);
    t += roundNs;
    transferred += pending;
    // What the guest dirtied meanwhile; a page dirtied twice is sent once, so at most all of RAM.
    pending = Math.min(M, Math.round((D * roundNs) / NS_PER_S));

    // migration_iteration_run(): `if (!pending_size || pending_size < s->threshold_size)` → complete.
    if (pending === 0 || pending < threshold) {
      const downtime = transferNs(pending, B);
      return {
        converged: true,
        rounds,
        stop_copy: { start_ns: t, end_ns: t + downtime, bytes: pending },
        transferred_bytes: transferred + pending,
        downtime_ns: downtime,
        end_ns: t + downtime,
        threshold_bytes: threshold,
        failure: null,
      };
    }
    const n = rounds.length;
    let why: string | null = null;
    if (D >= bandwidthBytesPerS) {
      why = `dirty rate ${fmtRate(D)} ≥ migration bandwidth ${fmtRate(bandwidthBytesPerS)}`;
    } else if (n >= maxIterations) {
      why = `max_iterations ${maxIterations} reached with ${pending} bytes pending > ${Math.floor(threshold)} allowed in ${maxDowntimeNs / 1e6} ms`;
    }
    if (why !== null) {
      return {
        converged: false,
        rounds,
        stop_copy: null,
        transferred_bytes: transferred,
        downtime_ns: 0,
        end_ns: t,
        threshold_bytes: threshold,
        failure: `did not converge after ${n} round${n === 1 ? '' : 's'}: ${why}`,
      };
    }
  }
}

function fmtRate(bytesPerS: number): string {
  const mib = bytesPerS / (1024 * 1024);
  return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB/s`;
}
