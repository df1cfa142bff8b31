/**
 * Packet loss caused by a migration, measured end to end: frames other endpoints send to the VM's
 * MACs (unicast) from the pause on, minus the ones the VM receives.
 *
 * Why not count drops: a lost frame can die in many places — at the paused NIC (`migration`), at
 * the dead source port, flooded by a source bridge that forgot the MAC, or silently at a switch
 * whose stale entry points back out of the ingress port (OVS skips output to the input port) —
 * and a flooded frame leaves several copies. Matching sent against received frames is exact
 * whatever the path.
 *
 * Matching: a frame is identified by a 32-bit FNV-1a hash of its source MAC and everything after
 * its VLAN tags (bridges may push/pop tags on the way), plus its length. Frames with the same
 * identity (identical payloads) are matched newest first: the copy that arrives is the one sent
 * most recently, the older unmatched ones are those that died (FIFO matching would blame the
 * frames still in flight instead). A frame still unmatched
 * `graceNs` after it was sent counts as lost, so frames in flight when the summary is taken are
 * not. Memory is bounded: past `maxOutstanding` unmatched frames, further ones are counted as lost
 * without tracking.
 */
import type { Simulation } from '../sim/index.js';

/**
 * Why a frame sent to the VM never arrived (issue 10 #11). The window of a migration's meter
 * runs from the pause to the end of the run (or the VM's next migration), so later, unrelated
 * losses (a `link_down`, a full queue) fall inside it; each lost frame is attributed to the last
 * drop of one of its copies seen anywhere in the fabric, and only `migration` losses are the
 * migration's `packets_lost`:
 * - `migration`: dropped as `migration` (paused NIC, dead source port) or as `unplugged`, or
 *   vanished without any drop (a stale MAC entry pointing back out of the ingress port, which
 *   OVS skips): the migration window itself;
 * - `link_down`: a copy was dropped `link-down`;
 * - `queue`: `queue-full` or a device out of buffers (`no-rx-buffer`, `rx-ring-full`, …);
 * - `link_loss`: random loss on a lossy link (`loss`);
 * - `policy`: any other drop reason (flow `drop`, filters, VLAN, spoof checks, table miss).
 */
export type LossCause = 'migration' | 'link_down' | 'queue' | 'link_loss' | 'policy';
export const LOSS_CAUSES: readonly LossCause[] = ['migration', 'link_down', 'queue', 'link_loss', 'policy'];

export function lossCause(reason: string | undefined): LossCause {
  if (reason === undefined || reason === 'migration' || reason === 'unplugged') return 'migration';
  if (reason === 'link-down') return 'link_down';
  if (reason === 'queue-full' || /buffer|ring|queue/.test(reason)) return 'queue';
  if (reason === 'loss') return 'link_loss';
  return 'policy';
}
import type { Port } from '../port/port.js';
import { ms } from '../sim/time.js';

export interface LossMeterOptions {
  /** Unmatched frames younger than this are in flight, not lost (default 10 ms). */
  graceNs?: number;
  /** Tracked unmatched frames at most (default 100 000). */
  maxOutstanding?: number;
}

export class LossMeter {
  private readonly macs: Set<number>;
  private readonly outstanding = new Map<number, number[]>();
  private size = 0;
  private overflow = 0;
  private active = false;
  private stoppedAt: number | null = null;
  private readonly graceNs: number;
  private readonly maxOutstanding: number;
  private readonly unhooks: Array<() => void> = [];
  /** The last drop reason seen for a frame identity still outstanding (bounded like `outstanding`). */
  private readonly lastDrop = new Map<number, string>();
  /** Frames sent to the VM while active, and frames it received. */
  sent = 0;
  received = 0;

  constructor(
    private readonly sim: Simulation,
    macs: readonly number[],
    opts: LossMeterOptions = {},
  ) {
    this.macs = new Set(macs);
    this.graceNs = opts.graceNs ?? ms(10);
    this.maxOutstanding = opts.maxOutstanding ?? 100_000;
  }

  /** Counts frames `port` transmits towards the VM (an other endpoint's NIC). */
  watchSender(port: Port): void {
    this.unhooks.push(
      port.onFrame((_p, dir, frame) => {
        if (!this.active || dir !== 'tx' || !this.macs.has(dstMac(frame))) return;
        this.sent++;
        if (this.size >= this.maxOutstanding) {
          this.overflow++;
          return;
        }
        const k = frameKey(frame);
        const q = this.outstanding.get(k);
        if (q) q.push(this.sim.now);
        else this.outstanding.set(k, [this.sim.now]);
        this.size++;
      }),
    );
  }

  /**
   * Counts frames arriving at the VM's NIC `port` while `delivering()` (not paused). A frame the
   * device then drops on that port (no rx buffer, filter, …) goes back to the unmatched ones.
   */
  watchReceiver(port: Port, delivering: () => boolean): void {
    const matched = new WeakMap<Uint8Array, { key: number; sentNs: number }>();
    this.unhooks.push(
      port.onFrame((_p, dir, frame) => {
        if (!this.active || dir !== 'rx' || !delivering() || !this.macs.has(dstMac(frame))) return;
        const k = frameKey(frame);
        const q = this.outstanding.get(k);
        if (!q) return; // sent before the meter started
        const sentNs = q.pop()!;
        this.size--;
        this.received++;
        if (q.length === 0) this.outstanding.delete(k);
        matched.set(frame, { key: k, sentNs });
      }),
    );
    this.unhooks.push(
      port.onDrop((_p, _reason, frame) => {
        const m = frame !== undefined ? matched.get(frame) : undefined;
        if (m === undefined) return;
        matched.delete(frame!);
        const q = this.outstanding.get(m.key);
        if (q) q.push(m.sentNs);
        else this.outstanding.set(m.key, [m.sentNs]);
        this.size++;
        this.received--;
      }),
    );
  }

  /**
   * Watches drops at any fabric port so that lost frames can be attributed to a cause; only
   * frames to the VM's MACs whose identity is outstanding are remembered.
   */
  watchDrops(port: Port): void {
    this.unhooks.push(
      port.onDrop((_p, reason, frame) => {
        if (!this.active || frame === undefined || !this.macs.has(dstMac(frame))) return;
        const k = frameKey(frame);
        if (this.outstanding.has(k)) this.lastDrop.set(k, reason);
      }),
    );
  }

  start(): void {
    this.active = true;
  }

  /** Stops counting and freezes the result (end of the run, or the VM migrates again). */
  stop(): void {
    if (this.active) this.stoppedAt = this.sim.now;
    this.active = false;
    for (const u of this.unhooks) u();
    this.unhooks.length = 0;
  }

  /** Frames sent to the VM that never arrived (older than the grace period when judged), all causes. */
  lost(): number {
    const by = this.lostByCause();
    return LOSS_CAUSES.reduce((n, c) => n + by[c], 0);
  }

  /** `lost()` split by cause (see `LossCause`); frames past the tracking bound count as `migration`. */
  lostByCause(): Record<LossCause, number> {
    const limit = (this.stoppedAt ?? this.sim.now) - this.graceNs;
    const out: Record<LossCause, number> = { migration: this.overflow, link_down: 0, queue: 0, link_loss: 0, policy: 0 };
    for (const [k, q] of this.outstanding) {
      let n = 0;
      for (const t of q) if (t <= limit) n++;
      if (n > 0) out[lossCause(this.lastDrop.get(k))] += n;
    }
    return out;
  }
}

function dstMac(f: Uint8Array): number {
  if (f.length < 14 || (f[0]! & 1) !== 0) return -1; // runt, multicast or broadcast
  let n = 0;
  for (let i = 0; i < 6; i++) n = n * 256 + f[i]!;
  return n;
}

/** FNV-1a over the source MAC and the bytes after the VLAN tags, mixed with the inner length. */
export function frameKey(f: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 6; i < 12; i++) h = Math.imul(h ^ f[i]!, 0x01000193);
  let off = 12;
  while (off + 4 <= f.length) {
    const t = (f[off]! << 8) | f[off + 1]!;
    if (t !== 0x8100 && t !== 0x88a8) break;
    off += 4;
  }
  for (let i = off; i < f.length; i++) h = Math.imul(h ^ f[i]!, 0x01000193);
  h = Math.imul(h ^ (f.length - off), 0x01000193);
  return h >>> 0;
}
