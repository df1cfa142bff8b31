/**
 * The byte queues of one connection, in stream offsets (SYN = offset 0, data byte i = offset
 * 1 + i), so no code outside the connection modules does modulo-2^32 arithmetic.
 *
 * - `SendBuffer`: bytes written and not yet acknowledged, kept as the caller's chunks (no copy:
 *   a bulk sender may write the same read-only chunk again and again). Bounded by the socket's
 *   send buffer; `copyOut` reads any range for a (re)transmission.
 * - `Reassembly`: out-of-order data above `rcv_nxt` as disjoint blocks, each remembering when it
 *   last grew so SACK blocks can be reported most-recent first (RFC 2018 §4).
 */

import { payloadSums, rangeSum, type PayloadSums } from './payload.js';

export class SendBuffer {
  private chunks: Uint8Array[] = [];
  /** Per chunk: its precomputed sums when declared immutable (`payload.ts`), else null. */
  private sums: Array<PayloadSums | null> = [];
  private starts: number[] = [];
  private head = 0;
  /** Stream offset of the first byte still held. */
  private base: number;
  /** Stream offset just past the last byte written. */
  end: number;
  /** Cursor for sequential reads (index of the chunk last read). */
  private cursor = 0;

  constructor(firstOffset: number) {
    this.base = firstOffset;
    this.end = firstOffset;
  }

  get bytes(): number {
    return this.end - this.base;
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.sums.push(payloadSums(data) ?? null);
    this.starts.push(this.end);
    this.end += data.length;
  }

  /** Drops bytes below `offset` (acknowledged). */
  release(offset: number): void {
    if (offset <= this.base) return;
    if (offset > this.end) offset = this.end;
    this.base = offset;
    const c = this.chunks;
    const s = this.starts;
    while (this.head < c.length && s[this.head]! + c[this.head]!.length <= offset) this.head++;
    if (this.head > 64 && this.head * 2 > c.length) {
      this.chunks = c.slice(this.head);
      this.sums = this.sums.slice(this.head);
      this.starts = s.slice(this.head);
      this.cursor = Math.max(0, this.cursor - this.head);
      this.head = 0;
    }
    if (this.cursor < this.head) this.cursor = this.head;
  }

  private find(offset: number): number {
    const s = this.starts;
    const c = this.chunks;
    let i = this.cursor;
    if (i < this.head || i >= c.length || s[i]! > offset) i = this.head;
    while (i < c.length && s[i]! + c[i]!.length <= offset) i++;
    return i;
  }

  /**
   * Copies stream bytes [from, from + len) to `dst` at `at` (a fresh, zeroed frame: all-zero
   * immutable chunks are skipped). Returns the bytes' unfolded 16-bit-word sum as placed at an
   * even offset when every chunk is immutable, else -1 (the caller sums the frame).
   */
  copyOut(from: number, len: number, dst: Uint8Array, at: number): number {
    let i = this.find(from);
    let off = from;
    let left = len;
    let sum = 0;
    let done = 0;
    while (left > 0) {
      const ch = this.chunks[i]!;
      const inChunk = off - this.starts[i]!;
      const n = Math.min(left, ch.length - inChunk);
      const ps = this.sums[i] ?? null;
      if (ps === null) {
        dst.set(n === ch.length ? ch : ch.subarray(inChunk, inChunk + n), at);
        sum = -1;
      } else if (!ps.zero) {
        dst.set(n === ch.length ? ch : ch.subarray(inChunk, inChunk + n), at);
        if (sum >= 0) sum += rangeSum(ps, ch, inChunk, n, (done & 1) === 0);
      } // an all-zero chunk: the fresh frame holds its bytes already, and they sum to 0
      at += n;
      off += n;
      left -= n;
      done += n;
      if (left > 0) i++;
    }
    this.cursor = i;
    return sum;
  }
}

/** SACK blocks a segment can carry at most (RFC 2018 §3: 4, or 3 with timestamps). */
const SACK_MAX = 4;
/** Tests turn the recency list off to check that it changes nothing (list on == full selection). */
export const sackRecentSwitch = { on: true };

interface Piece {
  off: number;
  data: Uint8Array;
}

interface Block {
  start: number;
  end: number;
  pieces: Piece[];
  /** Arrival stamp of the newest piece (for SACK ordering). */
  stamp: number;
}

export class Reassembly {
  private blocks: Block[] = [];
  private stamp = 0;
  /**
   * The up to `SACK_MAX` most recently changed blocks, newest first. Exact (the first
   * min(SACK_MAX, blocks) blocks by stamp) while `recentOk`: a block getting the newest stamp
   * moves to the front; losing a listed block (merged away, taken) clears `recentOk`, and the
   * next `sackBlocks` selects again over all blocks. A recovery with hundreds of holes then
   * costs O(1) per ACK, not O(blocks).
   */
  private recent: Block[] = [];
  private recentOk = true;
  /** Bytes held out of order. */
  bytes = 0;

  get empty(): boolean {
    return this.blocks.length === 0;
  }

  get count(): number {
    return this.blocks.length;
  }

  /** Right edge of the highest block (0 when empty). */
  get highest(): number {
    return this.blocks.length === 0 ? 0 : this.blocks[this.blocks.length - 1]!.end;
  }

  /**
   * Adds [off, off + data.length) (entirely above rcv_nxt). Returns the bytes that were new; 0
   * means a duplicate.
   */
  insert(off: number, data: Uint8Array): number {
    const end = off + data.length;
    const stamp = ++this.stamp;
    // Fast path: the segment extends the highest block (in-order arrival behind a hole).
    const last = this.blocks[this.blocks.length - 1];
    if (last !== undefined && last.end === off) {
      last.pieces.push({ off, data });
      last.end = end;
      last.stamp = stamp;
      this.touch(last);
      this.bytes += data.length;
      return data.length;
    }
    if (last === undefined || off > last.end) {
      const nb: Block = { start: off, end, pieces: [{ off, data }], stamp };
      this.blocks.push(nb);
      this.touch(nb);
      this.bytes += data.length;
      return data.length;
    }
    // The blocks [i, j] that overlap or touch [off, end] (blocks are sorted, disjoint and never
    // adjacent, so they are a run). Blocks below i end before off; blocks above j start after end.
    const blocks = this.blocks;
    let lo = 0;
    let hi = blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (blocks[mid]!.end < off) lo = mid + 1;
      else hi = mid;
    }
    const i = lo;
    let j = i - 1;
    while (j + 1 < blocks.length && blocks[j + 1]!.start <= end) j++;
    // The uncovered parts of [off, end) (the gaps between blocks i..j), in order.
    let added = 0;
    let cur = off;
    for (let k = i; k <= j; k++) {
      const b = blocks[k]!;
      if (b.start > cur && cur < end) added += Math.min(b.start, end) - cur;
      if (b.end > cur) cur = b.end;
    }
    if (cur < end) added += end - cur;
    if (added === 0) {
      // A duplicate still refreshes its block's recency (Linux moves it to the SACK front).
      for (let k = i; k <= j; k++) {
        const b = blocks[k]!;
        if (b.start <= off && b.end >= end) {
          b.stamp = stamp;
          this.touch(b);
        }
      }
      return 0;
    }
    this.bytes += added;
    if (j < i) {
      const nb: Block = { start: off, end, pieces: [{ off, data }], stamp };
      blocks.splice(i, 0, nb);
      this.touch(nb);
      return added;
    }
    // Merge blocks i..j and the new pieces into block i, in offset order: block i's pieces are
    // extended in place unless new data comes before them.
    const first = blocks[i]!;
    const pieces = off < first.start ? [] : first.pieces;
    cur = off;
    for (let k = i; k <= j; k++) {
      const b = blocks[k]!;
      if (b.start > cur && cur < end) pieces.push({ off: cur, data: data.subarray(cur - off, Math.min(b.start, end) - off) });
      if (b.pieces !== pieces) for (const p of b.pieces) pieces.push(p);
      if (b.end > cur) cur = b.end;
    }
    if (cur < end) pieces.push({ off: cur, data: data.subarray(cur - off) });
    first.pieces = pieces;
    if (off < first.start) first.start = off;
    first.end = Math.max(end, blocks[j]!.end);
    first.stamp = stamp;
    for (let k = i + 1; k <= j; k++) this.forget(blocks[k]!);
    if (j > i) blocks.splice(i + 1, j - i);
    this.touch(first);
    return added;
  }

  /** Removes and returns the pieces of a block starting at or below `rcvNxt` (in order), trimmed to start at rcvNxt. */
  take(rcvNxt: number): Uint8Array[] {
    const b = this.blocks[0];
    if (b === undefined || b.start > rcvNxt) return [];
    this.blocks.shift();
    this.forget(b);
    this.bytes -= b.end - b.start;
    const out: Uint8Array[] = [];
    for (const p of b.pieces) {
      const pend = p.off + p.data.length;
      if (pend <= rcvNxt) continue;
      out.push(p.off >= rcvNxt ? p.data : p.data.subarray(rcvNxt - p.off));
    }
    return out;
  }

  /** Block `b` just took the newest stamp: it heads the recency list. */
  private touch(b: Block): void {
    if (!this.recentOk) return;
    const r = this.recent;
    let k = r.indexOf(b);
    if (k < 0) {
      k = r.length < SACK_MAX ? r.length : SACK_MAX - 1;
      r[k] = b;
    }
    for (; k > 0; k--) r[k] = r[k - 1]!;
    r[0] = b;
  }

  /** Block `b` is gone: the list is no longer known to hold the newest blocks when it held `b`. */
  private forget(b: Block): void {
    if (this.recentOk && this.recent.includes(b)) this.recentOk = false;
  }

  /** Up to `max` (≤ 4) blocks as [start, end) offsets, most recently grown first. */
  sackBlocks(max: number, out: number[]): number {
    if (max > SACK_MAX) max = SACK_MAX;
    if (!this.recentOk || !sackRecentSwitch.on) this.selectRecent();
    const r = this.recent;
    const n = Math.min(max, r.length);
    for (let i = 0; i < n; i++) {
      const b = r[i]!;
      out[2 * i] = b.start;
      out[2 * i + 1] = b.end;
    }
    return n;
  }

  /**
   * Rebuilds the recency list: the SACK_MAX newest blocks in one pass (stamps are unique, so the
   * order is a sort's), without copying and sorting the block list.
   */
  private selectRecent(): void {
    const r = this.recent;
    r.length = 0;
    for (const b of this.blocks) {
      let k = r.length;
      if (k === SACK_MAX) {
        if (b.stamp < r[SACK_MAX - 1]!.stamp) continue;
        k--;
      }
      for (; k > 0 && r[k - 1]!.stamp < b.stamp; k--) r[k] = r[k - 1]!;
      r[k] = b;
    }
    this.recentOk = true;
  }
}
