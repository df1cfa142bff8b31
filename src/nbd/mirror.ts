/**
 * Block mirror over NBD: QEMU's drive-mirror (block/mirror.c) from a local image to an NBD export,
 * the storage half of a live migration of a VM whose disk is not shared.
 *
 * Model, as QEMU does it with `sync: full` to a target not known to read as zeros
 * (block/mirror.c `mirror_dirty_init`: an NBD target has no zero-init):
 * - the target is pre-zeroed first with NBD_CMD_WRITE_ZEROES of up to 2 GiB each (QEMU:
 *   `QEMU_ALIGN_DOWN(INT_MAX, granularity)` per request), then a dirty bitmap at `granularity`
 *   (QEMU: the cluster size, at most 64 KiB) is set where the source is allocated (data or zero
 *   clusters in any layer, `bdrv_is_allocated_above`); unallocated ranges are never looked at
 *   again. With `preZero: false` every chunk starts dirty instead (QEMU with a target whose
 *   contents are unknown and cannot write zeroes). The copy walks the bitmap in order, at most
 *   `maxInFlight` operations (QEMU: 16) of at most `bufSize`;
 * - each dirty range is looked up in the source: data is sent as NBD_CMD_WRITE, a range that
 *   reads as zeros as NBD_CMD_WRITE_ZEROES (QEMU's MIRROR_METHOD_ZERO) - so a thin 100 GiB disk
 *   with 3 GiB allocated sends 3 GiB of payload plus a few bytes per zero range;
 * - guest writes while the job runs (`guestWrote`) mark their chunks dirty again, and they are
 *   copied again (a chunk being copied when it is written is re-dirtied, never lost);
 * - when the bitmap first empties the job is `ready` (QEMU's BLOCK_JOB_READY); it keeps copying
 *   new dirt; `complete()` (QEMU job-complete, at switch-over with the guest paused) copies what
 *   is left, sends NBD_CMD_FLUSH, and reports.
 *
 * Invariant: once `complete` reports success, every byte of the source equals the target (the
 * tests check it with `qemu-img compare` against a real qemu-nbd target).
 */
import type { Chain } from '../block/chain.js';
import { ST_UNALLOC } from '../block/image.js';
import { chainStatus } from './block-export.js';
import type { NbdClient, NbdReply } from './client.js';
import { NBD_EIO } from './constants.js';

export interface MirrorOptions {
  /** Bytes per bitmap bit (default: the source's cluster size, at most 64 KiB). */
  granularity?: number;
  /** Largest single copy operation (default 1 MiB). */
  bufSize?: number;
  /** Operations in flight (default 16, QEMU's MAX_IN_FLIGHT). */
  maxInFlight?: number;
  /**
   * Read the source's bytes for each copy (default true). False: payloads of the right length
   * carry zeros and the source is only asked for its allocation map — a timing-only mirror
   * whose target is a sink (the fabric's data-less disks).
   */
  readData?: boolean;
  /** Pre-zero the target and copy only allocated ranges (default true, see the file comment). */
  preZero?: boolean;
  /**
   * QEMU drive-mirror `speed`, bytes per second (0 or absent = unlimited): the job's own rate limit
   * (blockjob.c `block_job_ratelimit_processed_bytes`/`block_job_ratelimit_sleep`,
   * include/qemu/ratelimit.h `ratelimit_calculate_delay`, 100 ms slices `BLOCK_JOB_SLICE_TIME`).
   * Only data copies count (block/mirror.c `mirror_iteration`: `io_bytes_acct` is 0 for ranges
   * written as zeroes). Needs `clock`.
   */
  speed?: number;
  /** Simulated time for `speed` and `readSource`. */
  clock?: { now(): number; after(ns: number, cb: () => void): void };
  /**
   * The source's read of a data copy as a timed operation (a storage device's queue and service
   * time): `done` when the bytes are read. Absent = the read takes no time.
   */
  readSource?(offset: number, length: number, done: () => void): void;
  onReady?(): void;
  /** The target failed a request (or the connection broke): the job stops copying. */
  onError?(message: string): void;
}

export interface MirrorStats {
  /** Payload bytes sent as NBD_CMD_WRITE. */
  dataBytes: number;
  /** Bytes covered by NBD_CMD_WRITE_ZEROES. */
  zeroBytes: number;
  writes: number;
  zeroWrites: number;
  /** Chunks copied (data or zeros), re-copies included. */
  copiedChunks: number;
  /** Chunks copied more than once because the guest wrote them during the job. */
  recopiedChunks: number;
}

/** blockjob.h BLOCK_JOB_SLICE_TIME: the rate limit's accounting slice. */
const SLICE_NS = 100_000_000;

/** log2 of the chunks per block of the free-chunk summary. */
const BLOCK_SHIFT = 12;

export class MirrorJob {
  private readonly gran: number;
  private readonly bufSize: number;
  private readonly maxInFlight: number;
  private readonly dirty: Uint8Array;
  private dirtyCount: number;
  /** Chunks copied at least once (to count re-copies). */
  private readonly copied: Uint8Array;
  /**
   * Chunks with a copy in flight. A re-dirtied chunk waits for its earlier copy to finish: an NBD
   * server may reorder requests, and the newer copy must land last (block/mirror.c
   * mirror_wait_on_conflicts).
   */
  private readonly busy: Uint8Array;
  private cursor = 0;
  private inFlight = 0;
  private failed: NbdReply | null = null;
  private readySent = false;
  private completing: ((r: { error: number; message?: string }) => void) | null = null;
  readonly stats: MirrorStats = { dataBytes: 0, zeroBytes: 0, writes: 0, zeroWrites: 0, copiedChunks: 0, recopiedChunks: 0 };

  constructor(
    private readonly source: Chain,
    private readonly target: NbdClient,
    private readonly o: MirrorOptions = {},
  ) {
    this.gran = o.granularity ?? Math.min(source.granule, 65536);
    this.bufSize = Math.max(this.gran, o.bufSize ?? 1 << 20);
    this.maxInFlight = o.maxInFlight ?? 16;
    const chunks = Math.ceil(source.virtualSize / this.gran);
    this.copied = new Uint8Array(chunks);
    this.busy = new Uint8Array(chunks);
    if (o.preZero === false) {
      this.dirty = new Uint8Array(chunks).fill(1);
      this.dirtyCount = chunks;
      this.zeroAt = source.virtualSize;
    } else {
      this.dirty = new Uint8Array(chunks);
      this.dirtyCount = 0;
      // one pass over the allocation map (a thin image answers in runs, not per chunk)
      let pos = 0;
      for (const run of chainStatus(source, 0, source.virtualSize, Number.MAX_SAFE_INTEGER)) {
        if (run.kind !== ST_UNALLOC) {
          const last = Math.min(chunks - 1, Math.floor((pos + run.length - 1) / this.gran));
          for (let c = Math.floor(pos / this.gran); c <= last; c++) {
            if (this.dirty[c] === 0) {
              this.dirty[c] = 1;
              this.dirtyCount++;
            }
          }
        }
        pos += run.length;
      }
    }
    this.freeIn = new Uint32Array((chunks >>> BLOCK_SHIFT) + 1);
    for (let c = 0; c < chunks; c++) if (this.dirty[c] === 1) this.freeIn[c >>> BLOCK_SHIFT]!++;
  }

  /** The first chunk at or after `from` that is dirty and not being copied (or the chunk count). */
  private nextFree(from: number): number {
    const n = this.dirty.length;
    let c = from;
    while (c < n) {
      const b = c >>> BLOCK_SHIFT;
      if (this.freeIn[b] === 0) {
        c = (b + 1) << BLOCK_SHIFT;
        continue;
      }
      const end = Math.min(n, (b + 1) << BLOCK_SHIFT);
      for (; c < end; c++) if (this.dirty[c] === 1 && this.busy[c] === 0) return c;
    }
    return n;
  }

  /**
   * Dirty chunks not in flight per block of 2^BLOCK_SHIFT chunks: the search for the next chunk to
   * copy skips clean blocks, so a pass over a mostly clean 100 GiB bitmap is cheap.
   */
  private freeIn: Uint32Array = new Uint32Array(0);

  /** Pre-zeroing reached here (the whole target once it equals `virtualSize`). */
  private zeroAt = 0;
  private zeroInFlight = 0;

  /** `speed`: the current slice, bytes accounted in it, and when the job may issue again. */
  private sliceStart = 0;
  private sliceEnd = -1;
  private dispatched = 0;
  private sleepUntil = 0;
  private sleeping = false;

  /** ratelimit_calculate_delay after `n` more bytes: the job sleeps until the slice that covers them ends. */
  private processed(n: number): void {
    const speed = this.o.speed ?? 0;
    const clock = this.o.clock;
    if (speed <= 0 || !clock || n === 0) return;
    const now = clock.now();
    const quota = (speed * SLICE_NS) / 1e9;
    if (this.sliceEnd < now) {
      this.sliceStart = now;
      this.sliceEnd = now + SLICE_NS;
      this.dispatched = 0;
    }
    this.dispatched += n;
    if (this.dispatched >= quota) {
      this.sliceEnd = this.sliceStart + Math.floor((this.dispatched / quota) * SLICE_NS);
      this.sleepUntil = this.sliceEnd;
    }
  }

  /** True (and a wake-up scheduled) while the rate limit holds the job. */
  private asleep(): boolean {
    const clock = this.o.clock;
    if (!clock || this.sleepUntil <= clock.now()) return false;
    if (!this.sleeping) {
      this.sleeping = true;
      clock.after(this.sleepUntil - clock.now(), () => {
        this.sleeping = false;
        this.pump();
      });
    }
    return true;
  }

  /** The granularity: bytes per bitmap bit (one "cluster" of the summary). */
  get granularity(): number {
    return this.gran;
  }

  /** The first error, once the job failed. */
  get error(): string | null {
    return this.failed ? (this.failed.message ?? `NBD error ${this.failed.error}`) : null;
  }

  get ready(): boolean {
    return this.readySent;
  }
  /** Bytes still to copy. */
  get remaining(): number {
    return this.dirtyCount * this.gran;
  }

  start(): void {
    this.pump();
  }

  /** The guest wrote `[offset, offset + length)` of the source. */
  guestWrote(offset: number, length: number): void {
    const first = Math.floor(offset / this.gran);
    const last = Math.min(this.dirty.length - 1, Math.floor((offset + Math.max(1, length) - 1) / this.gran));
    for (let i = first; i <= last; i++) {
      if (this.dirty[i] === 0) {
        this.dirty[i] = 1;
        this.dirtyCount++;
        if (this.busy[i] === 0) this.freeIn[i >>> BLOCK_SHIFT]!++;
      }
    }
    if (first < this.cursor) this.cursor = first;
    this.pump();
  }

  /** Switch-over: copy what is dirty, flush the target, then `cb`. */
  complete(cb: (r: { error: number; message?: string }) => void): void {
    this.completing = cb;
    this.pump();
  }

  private pump(): void {
    // Phase 1: pre-zero the target; data must not be copied before the zeroes land on it.
    const size = this.source.virtualSize;
    while (!this.failed && this.zeroAt < size && this.inFlight < this.maxInFlight) {
      // QEMU_ALIGN_DOWN(INT_MAX, granularity): fits NBD's 32-bit length
      const len = Math.min(size - this.zeroAt, Math.floor(0x7fffffff / this.gran) * this.gran);
      const done = (r: NbdReply): void => {
        this.inFlight--;
        this.zeroInFlight--;
        if (r.error !== 0 && !this.failed) {
          this.failed = r;
          this.o.onError?.(r.message ?? `NBD error ${r.error}`);
        }
        this.pump();
      };
      this.stats.zeroBytes += len;
      this.stats.zeroWrites++;
      this.inFlight++;
      this.zeroInFlight++;
      this.zeroAt += len;
      this.target.writeZeroes(this.zeroAt - len, len, done);
    }
    if (this.zeroAt < size || this.zeroInFlight > 0) {
      this.checkDone();
      return;
    }
    while (!this.failed && this.inFlight < this.maxInFlight && this.dirtyCount > 0) {
      if (this.asleep() || !this.issueNext()) break;
    }
    this.checkDone();
  }

  /** Sends the next dirty run (data or zeros); false when none is left before the end. */
  private issueNext(): boolean {
    const n = this.dirty.length;
    const free = (c: number): boolean => this.dirty[c] === 1 && this.busy[c] === 0;
    let i = this.nextFree(this.cursor);
    // Wrap: dirt behind the cursor (written after the walk passed it).
    if (i >= n) i = this.nextFree(0);
    if (i >= n) return false;
    const offset = i * this.gran;
    const maxLen = Math.min(this.bufSize, this.source.virtualSize - offset);
    // The run of this status, inside the dirty chunks.
    const status = { ...chainStatus(this.source, offset, maxLen, 1)[0]! };
    // A chunk mixing data and zeros (a run shorter than the granularity) is copied as data.
    if (status.length < Math.min(this.gran, maxLen)) {
      status.zero = false;
      status.length = this.gran;
    }
    let len = Math.min(status.length, maxLen);
    let end = i;
    while (end < n && free(end) && (end - i) * this.gran < len) end++;
    len = Math.min(len, (end - i) * this.gran, this.source.virtualSize - offset);
    // Round to whole chunks unless at the end of the disk.
    if (offset + len < this.source.virtualSize) len = Math.max(this.gran, Math.floor(len / this.gran) * this.gran);
    const chunks = Math.ceil(len / this.gran);
    for (let c = i; c < i + chunks; c++) {
      this.dirty[c] = 0;
      this.dirtyCount--;
      this.stats.copiedChunks++;
      if (this.copied[c]) this.stats.recopiedChunks++;
      this.copied[c] = 1;
      this.busy[c] = 1;
    }
    for (let c = i; c < i + chunks; c++) this.freeIn[c >>> BLOCK_SHIFT]!--;
    this.cursor = i + chunks;
    this.inFlight++;
    const done = (r: NbdReply): void => {
      this.inFlight--;
      this.busy.fill(0, i, i + chunks);
      for (let c = i; c < i + chunks; c++) if (this.dirty[c] === 1) this.freeIn[c >>> BLOCK_SHIFT]!++;
      if (r.error !== 0 && !this.failed) {
        this.failed = r;
        this.o.onError?.(r.message ?? `NBD error ${r.error}`);
      }
      this.pump();
    };
    if (status.zero) {
      this.stats.zeroBytes += len;
      this.stats.zeroWrites++;
      this.target.writeZeroes(offset, len, done);
    } else {
      this.stats.dataBytes += len;
      this.stats.writes++;
      this.processed(len);
      const copy = (): void => {
        // a read that ends after the connection died: the copy fails like the write would
        if (!this.target.ready) return done({ error: NBD_EIO, message: 'NBD connection lost' });
        const data = new Uint8Array(len);
        if (this.o.readData !== false) this.source.read(offset, data);
        this.target.write(offset, data, done);
      };
      if (this.o.readSource) this.o.readSource(offset, len, copy);
      else copy();
    }
    return true;
  }

  private checkDone(): void {
    if (this.failed) {
      const cb = this.completing;
      this.completing = null;
      cb?.({ error: this.failed.error, message: this.failed.message ?? 'mirror target failed' });
      return;
    }
    if (this.dirtyCount > 0 || this.inFlight > 0) return;
    if (!this.readySent) {
      this.readySent = true;
      this.o.onReady?.();
    }
    if (this.completing) {
      const cb = this.completing;
      this.completing = null;
      this.target.flush((r) => cb(r.error === 0 ? { error: 0 } : { error: r.error, message: r.message ?? 'flush failed' }));
    }
  }
}
