/**
 * Reusable send buffers for one connection over vfab's TCP (the NBD server's read replies).
 *
 * `TcpConnection.write` keeps a chunk by reference until its bytes are acknowledged, so a reply
 * needs memory of its own until then; fresh memory per reply (`carve`) costs far more than the
 * reply's bytes (zeroed pages, then garbage collection). The ring hands out regions of one buffer
 * in the order they are sent and takes each back once TCP acknowledged every byte of it: from
 * then on TCP never reads it again (it copies into frames when it transmits, and retransmits only
 * unacknowledged bytes).
 *
 * Invariants: a region is live from `alloc` until `reclaim` sees `acked` (the writer's count of
 * bytes TCP acknowledged, in the writer's own stream offsets) at or past the region's last byte;
 * live regions never overlap; a region is zeroed when handed out (what `new Uint8Array(n)` gives)
 * unless the writer says it writes every byte.
 * The writer must send what `alloc` returned before the next `alloc`, or drop it: a region still
 * unsent at the next `alloc` was dropped (an image read failed) and is free once the ones before
 * it are. When the ring is full (the peer is slow to acknowledge) `alloc` returns null and the
 * caller falls back to fresh memory, so nothing ever waits on the ring.
 *
 * Costs: one `size`-byte buffer per connection that sends replies, made on first use; O(1) per
 * alloc and per reclaimed region.
 */
const DEFAULT_SIZE = 256 * 1024;
/** Live regions at most (each a message in flight). */
const SLOTS = 1024;

export class SendRing {
  private mem: Uint8Array | null = null;
  /** Next free byte, and the first byte of the oldest live region (both 0 when none is live). */
  private head = 0;
  private tail = 0;
  /** Bytes below this have been handed out before (reuse must zero them). */
  private dirty = 0;
  /** Live regions in order: start in the ring, and stream end once sent (-1 before, 0 when dropped). */
  private readonly starts = new Int32Array(SLOTS);
  private readonly ends = new Float64Array(SLOTS);
  private front = 0;
  private count = 0;
  /** The region `alloc` returned last, until it is sent. */
  private last: Uint8Array | null = null;

  constructor(
    readonly size = DEFAULT_SIZE,
    /** Larger messages take fresh memory (one must not fill the ring alone). */
    readonly maxMessage = size >> 2,
  ) {}

  /**
   * A zeroed region of `n` bytes, or null (too large, or the ring is full). `acked` as in
   * `reclaim`. `zero` false: the caller writes every byte, so reused bytes are not cleared.
   */
  alloc(n: number, acked: number, zero = true): Uint8Array | null {
    if (n > this.maxMessage || n === 0) return null;
    if (this.last !== null) {
      // never sent: the writer dropped it
      this.ends[(this.front + this.count - 1) % SLOTS] = 0;
      this.last = null;
    }
    this.reclaim(acked);
    if (this.count === SLOTS) return null;
    const sz = (n + 7) & ~7;
    let at: number;
    if (this.count === 0 || this.head > this.tail) {
      // free: [head, size) and [0, tail)
      if (this.head + sz <= this.size) at = this.head;
      else if (sz <= this.tail) at = 0;
      else return null;
    } else if (this.head + sz <= this.tail) at = this.head;
    else return null;
    const mem = (this.mem ??= new Uint8Array(this.size));
    const v = mem.subarray(at, at + n);
    if (zero && at < this.dirty) v.fill(0, 0, Math.min(n, this.dirty - at));
    if (at + sz > this.dirty) this.dirty = at + sz;
    const slot = (this.front + this.count) % SLOTS;
    this.starts[slot] = at;
    this.ends[slot] = -1;
    if (this.count === 0) this.tail = at;
    this.count++;
    this.head = at + sz;
    this.last = v;
    return v;
  }

  /** Whether `b` is the region handed out last and not sent yet. */
  isPending(b: Uint8Array): boolean {
    return b === this.last;
  }

  /** The pending region was sent; its last byte is stream offset `streamEnd - 1`. */
  sent(streamEnd: number): void {
    this.ends[(this.front + this.count - 1) % SLOTS] = streamEnd;
    this.last = null;
  }

  /** Takes back the regions whose bytes are all below stream offset `acked` (in the writer's offsets). */
  reclaim(acked: number): void {
    while (this.count > 0) {
      const e = this.ends[this.front]!;
      if (e < 0 || e > acked) break;
      this.front = (this.front + 1) % SLOTS;
      this.count--;
    }
    if (this.count === 0) {
      this.head = 0;
      this.tail = 0;
    } else this.tail = this.starts[this.front]!;
  }

  /** Live regions (for tests). */
  get live(): number {
    return this.count;
  }
}
