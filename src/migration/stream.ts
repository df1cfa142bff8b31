/**
 * The migration stream over the fabric (issue 13, `migrate: { via: mgmt }`): QEMU's pre-copy loop
 * driving real TCP connections between two hypervisors' stacks.
 *
 * What QEMU does, and what this models
 * - Rounds (`dirty-sync-count`): round 1 sends all of RAM; each next round sends what the guest
 *   dirtied during the previous one. Dirtying follows a working-set model: a hot set `W` (default
 *   all of RAM) is re-dirtied every round, the rest is written once and so sent once (round 1):
 *   dirtied(round of length t) = min(W, D·(1 − throttle)·t). Page contents are a fixed pattern.
 * - Rate limit (`migration_rate_limit`, `migration/migration.c`): per `BUFFER_DELAY` window of
 *   100 ms the thread writes at most `max-bandwidth / 10` bytes, then sleeps to the window's end.
 *   `max-bandwidth` defaults to `MAX_THROTTLE` = 128 MiB/s (`migration/options.c`); 0 = none.
 *   Bytes count when the socket takes them (QEMU's blocking `qemu_fflush`): what TCP gets through
 *   the fabric is the other limit (a full send buffer blocks the writer until `onDrain`).
 * - Stop condition (`migration_update_counters` + `migration_iteration_run`): every 100 ms
 *   `bandwidth = bytes written in the window / window time` and
 *   `threshold = bandwidth × downtime-limit` (0 until the first window closes, so round 1 always
 *   runs); after a round, `pending < threshold` (or 0) stops the VM. vfab checks at round ends
 *   only (QEMU also checks mid-round; with the estimate it uses there the difference is small).
 * - Stop-and-copy (`migration_completion_precopy`): the rate limit is lifted
 *   (`migration_rate_set(RATE_LIMIT_DISABLED)`), the remainder is sent; downtime lasts until the
 *   destination has received every byte (it then starts the VM).
 * - Auto-converge (`migration/ram.c` `migration_trigger_throttle`, `mig_throttle_guest_down`): at
 *   a bitmap sync at least 1 s after the last period, if the bytes dirtied in the period exceed
 *   50 % (`throttle-trigger-threshold`) of the bytes sent in it twice in a row, the vCPUs are
 *   throttled: first `cpu-throttle-initial` (20 %), then `+cpu-throttle-increment` (10 %), at most
 *   99 % (`max-cpu-throttle`); a throttled guest dirties `(1 − pct/100)` as fast.
 * - multifd (`multifd-channels: N`): pages go out over N connections, each taking the next chunk
 *   when its socket has room; the main channel's control traffic is not modelled.
 * - Post-copy (`postcopy_start`): after round 1 the VM stops, the queued stream drains (device
 *   state follows it), and the VM runs on the destination. The rest is pushed in the background at
 *   full speed (`max-postcopy-bandwidth` 0); the guest faults on missing pages: a request goes
 *   back on channel 0's return path, the page is queued on channel 0 behind what is already in
 *   the socket (QEMU without postcopy-preempt), and the vCPU waits (`onStall`) for it. A failed
 *   connection in post-copy loses the VM: neither side has all of its memory.
 *
 * Invariants: bytes written = bytes the destination will receive; a round ends only when all its
 * bytes are written; every timer is cancelled when the stream ends. Costs: one TCP write per
 * 64 KiB chunk, one tick per 100 ms.
 */
import type { EventId, Simulation } from '../sim/index.js';
import { NS_PER_S, ms } from '../sim/time.js';

/**
 * The part of a TCP socket the stream uses (`tcp/StreamSocket` fits; migration/ does not import
 * tcp/, the fabric hands the sockets in through `StreamTransport`).
 */
export interface StreamSocket {
  readonly localPort: number;
  readonly remotePort: number;
  /** Queues bytes; returns how many the send buffer took (the rest: wait for `onDrain`). */
  write(data: Uint8Array): number;
  end(): void;
  abort(): void;
  onConnect: (() => void) | null;
  onData: ((chunk: Uint8Array) => void) | null;
  onDrain: (() => void) | null;
  onEnd: (() => void) | null;
}

/** QEMU `BUFFER_DELAY`: the rate-limit and bandwidth-measurement window. */
export const BUFFER_DELAY_NS = ms(100);
/** QEMU `MAX_THROTTLE`: default `max-bandwidth`, 128 MiB/s, in bit/s. */
export const DEFAULT_MAX_BANDWIDTH_BPS = 128 * 1024 * 1024 * 8;
/** libvirt's first migration port (`migration_port_min` 49152). */
export const MIGRATION_PORT = 49152;
export const PAGE_SIZE = 4096;
const CHUNK = 64 * 1024;
/** QEMU `throttle-trigger-threshold` default, percent. */
const THROTTLE_TRIGGER_PCT = 50;
/** QEMU `max-cpu-throttle` default, percent. */
const MAX_CPU_THROTTLE = 99;
/** A post-copy page request on the return path (`MIG_RP_MSG_REQ_PAGES`: header + RAMBlock offset + length). */
const PAGE_REQUEST_BYTES = 16;

export interface StreamParams {
  memoryBytes: number;
  dirtyRateBytesPerS: number;
  /** Hot set re-dirtied every round (default: all of memory). */
  workingSetBytes?: number;
  /** QEMU max-bandwidth in bit/s; 0 = unlimited. */
  maxBandwidthBitPerS: number;
  maxDowntimeNs: number;
  maxIterations: number;
  /** Parallel connections (multifd-channels), default 1. */
  channels: number;
  autoConverge?: { initialPct: number; incrementPct: number } | null;
  postcopy?: boolean;
}

/** How the stream reaches the destination (the fabric provides host TCP stacks). */
export interface StreamTransport {
  /** Opens channel `i` from the source host; `onError` gets a socket error (ETIMEDOUT, ECONNRESET …). */
  connect(i: number, onError: (err: string) => void): StreamSocket;
  /** Accepts the channels on the destination host; returns a function that stops listening. */
  listen(onAccept: (c: StreamSocket) => void): () => void;
}

/** One live round, times relative to the migration start. */
export interface StreamRound {
  round: number;
  start_ns: number;
  end_ns: number;
  bytes: number;
  /** QEMU's measured bandwidth when the round ended, bit/s. */
  bandwidth_bps: number;
  /** The stop condition's threshold then (bandwidth × downtime-limit), bytes. */
  threshold_bytes: number;
  /** Guest CPU throttle during the round (auto-converge), percent. */
  throttle_pct: number;
}

export interface StreamEvents {
  round(r: StreamRound): void;
  /** VM stops: stop-and-copy (or the post-copy switchover) of `bytes` starts. */
  pause(bytes: number): void;
  /** All pre-copy data is on the destination: switch over and resume there. */
  complete(downtimeNs: number): void;
  /** Post-copy: the VM runs on the destination after `downtimeNs`; `missing` bytes still on the source. */
  postcopyResume?(downtimeNs: number, missing: number): void;
  /** Post-copy: the vCPU blocks on a page fault (true) or runs again (false). */
  stall?(stalled: boolean): void;
  /** Post-copy finished: every page is on the destination. */
  postcopyDone?(): void;
  /** The stream broke or did not converge; `lost`: the VM is gone (post-copy). */
  fail(reason: string, lost: boolean): void;
}

export type StreamPhase = 'connecting' | 'precopy' | 'stopcopy' | 'postcopy-switch' | 'postcopy' | 'done' | 'failed';

export interface StreamStats {
  phase: StreamPhase;
  channels: number;
  max_bandwidth_bps: number;
  /** Last measured bandwidth (bit/s) and threshold (bytes). */
  bandwidth_bps: number;
  threshold_bytes: number;
  written_bytes: number;
  received_bytes: number;
  throttle_pct: number;
  postcopy: { faults: number; fault_wait_ns: number; max_fault_ns: number; missing_bytes: number; stalled_since_ns: number | null } | null;
}

export class MigrationStream {
  private phase: StreamPhase = 'connecting';
  private readonly chans: StreamSocket[] = [];
  private readonly chanWritten: number[] = [];
  private readonly chanReceived: number[] = [];
  private readonly dest: StreamSocket[] = [];
  /** Post-copy: requested page bytes not yet in channel 0's socket (sent before anything else there). */
  private urgent = 0;
  private requestBytes = 0;
  private connected = 0;
  private stopListen: (() => void) | null = null;
  private startNs = 0;
  private written = 0;
  private received = 0;
  private rr = 0;
  private readonly chunk = new Uint8Array(CHUNK).fill(0x5a);
  // round
  private roundNo = 0;
  private roundStart = 0;
  private roundBytes = 0;
  private remaining = 0;
  // rate limit + measurement window (migration_update_counters)
  private windowStart = 0;
  private windowWritten = 0;
  private bandwidthBps = 0;
  private threshold = 0;
  private tick: EventId | null = null;
  // auto-converge
  private throttlePct = 0;
  private periodStart = 0;
  private periodDirty = 0;
  private periodXfer = 0;
  private highCount = 0;
  // stop-copy / post-copy
  private pauseAt = 0;
  private missing = 0;
  private faultOut: { at: number; chanOffset: number } | null = null;
  private faultTimer: EventId | null = null;
  private faults = 0;
  private faultWaitNs = 0;
  private maxFaultNs = 0;
  private lastProgressNs = 0;

  constructor(
    private readonly sim: Simulation,
    readonly params: StreamParams,
    private readonly transport: StreamTransport,
    private readonly ev: StreamEvents,
  ) {}

  /** Opens the channels; round 1 starts when all are connected (QEMU's setup phase). */
  start(): void {
    this.startNs = this.sim.now;
    const n = Math.max(1, this.params.channels);
    this.stopListen = this.transport.listen((c) => {
      // the channel is known by its source port (accept order may differ from connect order)
      const i = this.chans.findIndex((s) => s.localPort === c.remotePort);
      if (i < 0) return c.abort();
      this.dest[i] = c;
      c.onData = (chunk) => this.onReceive(i, chunk.length);
      c.onEnd = () => c.end();
    });
    for (let i = 0; i < n; i++) {
      const c = this.transport.connect(i, (err) => this.broken(`migration channel ${i} failed: ${err}`));
      this.chans.push(c);
      this.chanWritten.push(0);
      this.chanReceived.push(0);
      // the return path: post-copy page requests from the destination
      c.onData = (chunk) => this.onPageRequest(i, chunk.length);
      c.onConnect = () => {
        if (++this.connected === n) this.beginPrecopy();
      };
      c.onDrain = () => this.pump();
    }
  }

  get state(): StreamPhase {
    return this.phase;
  }

  stats(): StreamStats {
    const pc = this.params.postcopy === true && (this.phase === 'postcopy' || this.missing > 0 || this.faults > 0);
    return {
      phase: this.phase,
      channels: this.chans.length,
      max_bandwidth_bps: this.params.maxBandwidthBitPerS,
      bandwidth_bps: Math.round(this.bandwidthBps * 8),
      threshold_bytes: Math.floor(this.threshold),
      written_bytes: this.written,
      received_bytes: this.received,
      throttle_pct: this.throttlePct,
      postcopy: pc
        ? {
            faults: this.faults,
            fault_wait_ns: this.faultWaitNs,
            max_fault_ns: this.maxFaultNs,
            missing_bytes: this.missing,
            stalled_since_ns: this.phase === 'postcopy' && this.sim.now - this.lastProgressNs > 0 ? this.lastProgressNs : null,
          }
        : null,
    };
  }

  /**
   * Fails the migration from outside (a block mirror of the VM's disks failed): the connections
   * are aborted and `fail` reports `reason`, as QEMU's `migrate_cancel` after libvirt sees a
   * failed storage job. No effect once done or failed.
   */
  abort(reason: string): void {
    if (this.phase === 'done' || this.phase === 'failed') return;
    this.fail(reason, this.phase === 'postcopy');
  }

  /** Stops everything (end of run, or a newer migration of the VM). */
  stop(): void {
    if (this.tick) this.tick.cancel();
    if (this.faultTimer) this.faultTimer.cancel();
    this.stopListen?.();
    this.stopListen = null;
  }

  private beginPrecopy(): void {
    this.phase = 'precopy';
    this.windowStart = this.sim.now;
    this.periodStart = this.sim.now;
    this.tick = this.sim.schedule(BUFFER_DELAY_NS, () => this.onTick());
    this.startRound(this.params.memoryBytes);
  }

  private startRound(bytes: number): void {
    this.roundNo++;
    this.roundStart = this.sim.now;
    this.roundBytes = bytes;
    this.remaining = bytes;
    this.pump();
  }

  /** migration_update_counters(): measure, set the threshold, open the next rate-limit window. */
  private onTick(): void {
    const now = this.sim.now;
    const spent = now - this.windowStart;
    if (spent > 0 && (this.phase === 'precopy' || this.phase === 'stopcopy')) {
      this.bandwidthBps = (this.windowWritten * NS_PER_S) / spent; // bytes/s
      this.threshold = (this.bandwidthBps * this.params.maxDowntimeNs) / NS_PER_S;
    }
    this.windowStart = now;
    this.windowWritten = 0;
    if (this.phase === 'done' || this.phase === 'failed') return;
    this.tick = this.sim.schedule(BUFFER_DELAY_NS, () => this.onTick());
    this.pump();
  }

  private limited(): boolean {
    return this.phase === 'precopy' && this.params.maxBandwidthBitPerS > 0;
  }

  /** Writes as much as the rate limit and the sockets take. */
  private pump(): void {
    for (;;) {
      if (this.phase !== 'precopy' && this.phase !== 'stopcopy' && this.phase !== 'postcopy-switch' && this.phase !== 'postcopy') return;
      if (this.urgent > 0) {
        const n = this.chans[0]!.write(this.chunk.subarray(0, Math.min(CHUNK, this.urgent)));
        if (n === 0) return; // channel 0 full: onDrain
        this.urgent -= n;
        this.chanWritten[0]! += n;
        this.written += n;
        continue;
      }
      if (this.remaining <= 0) {
        this.remaining = 0;
        this.endOfSending();
        return;
      }
      let allowed = this.remaining;
      if (this.limited()) {
        const budget = this.params.maxBandwidthBitPerS / 8 / (NS_PER_S / BUFFER_DELAY_NS);
        allowed = Math.min(allowed, Math.floor(budget - this.windowWritten));
        if (allowed <= 0) return; // sleep to the window's end (onTick)
      }
      let wrote = 0;
      for (let k = 0; k < this.chans.length && wrote === 0; k++) {
        const i = (this.rr + k) % this.chans.length;
        const n = this.chans[i]!.write(this.chunk.subarray(0, Math.min(CHUNK, allowed)));
        if (n > 0) {
          wrote = n;
          this.chanWritten[i]! += n;
          this.rr = (i + 1) % this.chans.length;
        }
      }
      if (wrote === 0) return; // every socket is full: onDrain
      this.written += wrote;
      this.windowWritten += wrote;
      this.periodXfer += wrote;
      this.remaining -= wrote;
    }
  }

  /** Everything of the current phase is in the sockets. */
  private endOfSending(): void {
    if (this.phase === 'precopy') this.endOfRound();
    else this.checkDelivered();
  }

  private endOfRound(): void {
    const p = this.params;
    const now = this.sim.now;
    const t = now - this.roundStart;
    const w = Math.min(p.workingSetBytes ?? p.memoryBytes, p.memoryBytes);
    const rate = p.dirtyRateBytesPerS * (1 - this.throttlePct / 100);
    const dirtied = Math.min(w, Math.round((rate * t) / NS_PER_S));
    this.ev.round({
      round: this.roundNo,
      start_ns: this.roundStart - this.startNs,
      end_ns: now - this.startNs,
      bytes: this.roundBytes,
      bandwidth_bps: Math.round(this.bandwidthBps * 8),
      threshold_bytes: Math.floor(this.threshold),
      throttle_pct: this.throttlePct,
    });
    this.periodDirty += dirtied;
    this.autoConverge(now);
    const pending = dirtied;
    if (pending === 0 || pending < this.threshold) {
      this.phase = 'stopcopy';
      this.pauseAt = now;
      this.ev.pause(pending);
      this.remaining = pending;
      this.pump();
      return;
    }
    if (p.postcopy) {
      // postcopy_start(): stop, drain what is queued, run on the destination, pull the rest.
      this.phase = 'postcopy-switch';
      this.pauseAt = now;
      this.missing = pending;
      this.ev.pause(0);
      this.checkDelivered();
      return;
    }
    if (this.roundNo >= p.maxIterations) {
      this.fail(`did not converge after ${this.roundNo} rounds: max_iterations ${p.maxIterations} reached with ${pending} bytes pending > ${Math.floor(this.threshold)} allowed in ${p.maxDowntimeNs / 1e6} ms (measured ${(this.bandwidthBps * 8 / 1e6).toFixed(1)} Mbit/s)`);
      return;
    }
    this.startRound(pending);
  }

  /** ram.c migration_trigger_throttle: periods of at least 1 s between bitmap syncs. */
  private autoConverge(now: number): void {
    const ac = this.params.autoConverge;
    if (!ac || now - this.periodStart <= ms(1000)) return;
    if (this.periodDirty > (this.periodXfer * THROTTLE_TRIGGER_PCT) / 100 && ++this.highCount >= 2) {
      this.highCount = 0;
      // mig_throttle_guest_down(): initial on first use, then + increment, capped.
      this.throttlePct = this.throttlePct === 0 ? ac.initialPct : Math.min(this.throttlePct + ac.incrementPct, MAX_CPU_THROTTLE);
    }
    this.periodStart = now;
    this.periodDirty = 0;
    this.periodXfer = 0;
  }

  private onReceive(i: number, n: number): void {
    this.received += n;
    this.chanReceived[i] = (this.chanReceived[i] ?? 0) + n;
    if (this.phase === 'postcopy') {
      this.lastProgressNs = this.sim.now;
      this.missing = Math.max(0, this.missing - n);
      if (this.faultOut && i === 0 && this.chanReceived[0]! >= this.faultOut.chanOffset) this.faultServed();
    }
    this.checkDelivered();
  }

  /** Called when the sender or the receiver made progress: is the phase's data all there? */
  private checkDelivered(): void {
    if (this.remaining > 0 || this.urgent > 0 || this.received < this.written) return;
    const now = this.sim.now;
    if (this.phase === 'stopcopy') {
      this.phase = 'done';
      this.stop();
      for (const c of this.chans) c.end();
      this.ev.complete(now - this.pauseAt);
    } else if (this.phase === 'postcopy-switch') {
      this.phase = 'postcopy';
      this.lastProgressNs = now;
      this.ev.postcopyResume?.(now - this.pauseAt, this.missing);
      // background push of everything still missing, at full speed
      this.remaining = this.missing;
      this.scheduleFault();
      this.pump();
    } else if (this.phase === 'postcopy' && this.missing === 0 && this.faultOut === null) {
      this.phase = 'done';
      this.stop();
      for (const c of this.chans) c.end();
      this.ev.postcopyDone?.();
    }
  }

  /**
   * The guest on the destination touches its hot set at the dirty rate; a touch hits a missing
   * page with probability missing / hot set. Deterministic: the next fault comes after the time
   * it takes to touch hotSet/missing pages (the mean gap), one outstanding fault (one vCPU).
   */
  private scheduleFault(): void {
    if (this.phase !== 'postcopy' || this.missing === 0 || this.faultOut !== null) return;
    const p = this.params;
    const touchPerS = p.dirtyRateBytesPerS / PAGE_SIZE;
    if (touchPerS <= 0) return;
    const hot = Math.min(p.workingSetBytes ?? p.memoryBytes, p.memoryBytes);
    const gapNs = Math.max(1, Math.round((NS_PER_S / touchPerS) * (hot / this.missing)));
    this.faultTimer = this.sim.schedule(gapNs, () => this.fault());
  }

  private fault(): void {
    if (this.phase !== 'postcopy' || this.missing === 0) return;
    this.faults++;
    // The request goes back on channel 0's return path; the source queues the page on channel 0
    // ahead of its own backlog but behind what that socket already holds (no postcopy-preempt).
    this.faultOut = { at: this.sim.now, chanOffset: Number.POSITIVE_INFINITY };
    this.dest[0]?.write(this.chunk.subarray(0, PAGE_REQUEST_BYTES));
    this.ev.stall?.(true);
  }

  /** Source side: page requests arriving on channel `i`'s return path. */
  private onPageRequest(i: number, n: number): void {
    if (i !== 0 || this.phase !== 'postcopy') return;
    this.requestBytes += n;
    while (this.requestBytes >= PAGE_REQUEST_BYTES) {
      this.requestBytes -= PAGE_REQUEST_BYTES;
      this.urgent += PAGE_SIZE;
      this.remaining = Math.max(0, this.remaining - PAGE_SIZE); // that page leaves the background set
      if (this.faultOut) this.faultOut.chanOffset = this.chanWritten[0]! + this.urgent;
    }
    this.pump();
  }

  private faultServed(): void {
    const f = this.faultOut!;
    const wait = this.sim.now - f.at;
    this.faultWaitNs += wait;
    this.maxFaultNs = Math.max(this.maxFaultNs, wait);
    this.faultOut = null;
    this.ev.stall?.(false);
    this.scheduleFault();
  }

  private broken(reason: string): void {
    if (this.phase === 'done' || this.phase === 'failed') return;
    const lost = this.phase === 'postcopy';
    if (lost && this.faultOut) this.ev.stall?.(false);
    this.fail(lost ? `VM lost: ${reason} during post-copy with ${this.missing} bytes of its memory still on the source` : reason, lost);
  }

  private fail(reason: string, lost = false): void {
    this.phase = 'failed';
    this.stop();
    for (const c of this.chans) c.abort();
    this.ev.fail(reason, lost);
  }
}
