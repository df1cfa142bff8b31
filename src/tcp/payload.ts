/**
 * Cheap bytes for TCP's hot path, with no effect on a single wire byte:
 *
 * - `allocFrame(n)`: frames carved from shared 256 KiB slabs (fresh, zeroed memory, never
 *   reused), so a segment costs one view object instead of one ArrayBuffer with its own backing
 *   store. A slab is freed when the last frame in it is unreachable; a frame kept long (a paused
 *   receiver's queued views) keeps its slab alive, so retention is at most one slab per frame,
 *   plus the 32 most recent slabs (8 MiB) the intact marks refer to.
 * - `immutablePayload(bytes)`: declares a chunk that will never change (iperf's pattern block, a
 *   shared zero block). Its byte sums by parity are precomputed, so the checksum of any range
 *   is O(1) (RFC 1071 §2: the sum is a plain sum of 16-bit words, so prefix sums compose), and an
 *   all-zero chunk is not even copied: a fresh frame already holds zeros.
 * - `zeroPayload(n)`: a read-only view of n zero bytes (n ≤ 1 MiB) for bulk senders.
 *
 * - `markIntact(frame)` / `isIntact(frame)`: a frame a vfab TCP checksummed and that reached a
 *   receiver as the same memory (the same slab, at the same offset; a stamp per 64-byte slab
 *   unit, so a mark survives however many frames are in flight). Switches, routers and tunnels
 *   never edit a frame in place (an edited frame is a copy, `vswitch/rewrite.ts`), so the
 *   receiving TCP can skip verifying it,
 *   as a Linux guest skips it for a virtio frame the host marked VIRTIO_NET_HDR_F_DATA_VALID
 *   (CHECKSUM_UNNECESSARY). Any other frame (a copy, a parsed capture, a test's hand-made bytes)
 *   is verified.
 *
 * Writing into a chunk after declaring it immutable corrupts checksums: that is the contract.
 */

const SLAB = 256 * 1024;
const SLAB_MAX_FRAME = 16 * 1024;
let slab = new ArrayBuffer(SLAB);
let slabOff = 0;
/** Frames take at least this many bytes of a slab, so each 64-byte unit holds at most one frame start. */
const UNIT = 64;
/**
 * Intact stamps of the current slab: one slot per 64-byte unit, holding the checksum and the exact
 * start (`stamp()`) of the frame that starts in it once a TCP has checksummed it. A slab is never
 * reused, so a slot names one frame for the slab's whole life.
 */
let stamps: Int32Array = new Int32Array(SLAB / UNIT);
/** The most recent slabs and their stamps (newest first); older frames are simply verified. */
const RECENT_SLABS = 32;
const recentSlabs: Array<ArrayBufferLike | null> = new Array<ArrayBufferLike | null>(RECENT_SLABS).fill(null);
const recentStamps: Array<Int32Array | null> = new Array<Int32Array | null>(RECENT_SLABS).fill(null);
let recentHead = 0;

function newSlab(): void {
  slab = new ArrayBuffer(SLAB);
  slabOff = 0;
  recentHead = recentHead === 0 ? RECENT_SLABS - 1 : recentHead - 1;
  // The slot's previous slab leaves the ring now (its frames are simply verified from here on),
  // so nothing reads its stamps again: they are cleared and reused for the new slab (16 KiB less
  // garbage per slab).
  const old = recentStamps[recentHead];
  stamps = old === null || old === undefined ? new Int32Array(SLAB / UNIT) : old.fill(0);
  recentSlabs[recentHead] = slab;
  recentStamps[recentHead] = stamps;
  // The ring changed: the receiver's cached slab may just have left it.
  seenSlab = null;
  seenStamps = null;
}
/**
 * The older slab `stampsOf` found last: a receiver checks frames in the order they were sent, so
 * some 170 frames in a row come from the same slab, some way back in the ring.
 */
let seenSlab: ArrayBufferLike | null = null;
let seenStamps: Int32Array | null = null;
newSlab();

/** A zeroed frame of `n` bytes (8-byte aligned, so 16-bit checksum views line up). */
export function allocFrame(n: number): Uint8Array {
  if (n > SLAB_MAX_FRAME) return new Uint8Array(n);
  if (slabOff + n > SLAB) newSlab();
  const v = new Uint8Array(slab, slabOff, n);
  slabOff += n < UNIT ? UNIT : (n + 7) & ~7;
  return v;
}

/** The stamps of the recent slab `buf`, if it is one. */
function stampsOf(buf: ArrayBufferLike): Int32Array | null {
  if (buf === slab) return stamps;
  if (buf === seenSlab) return seenStamps;
  for (let k = 0, i = recentHead; k < RECENT_SLABS; k++, i = i + 1 === RECENT_SLABS ? 0 : i + 1) {
    if (recentSlabs[i] === buf) {
      seenSlab = buf;
      seenStamps = recentStamps[i]!;
      return seenStamps;
    }
  }
  return null;
}

/** Prefix sums of the bytes at even and odd offsets of one immutable buffer region. */
export interface PayloadSums {
  /** The region's byteOffset in its buffer (chunks may be subarrays of it). */
  readonly base: number;
  /** The region's length in bytes. */
  readonly length: number;
  /** Prefix sums (length + 1 entries each); empty for an all-zero region, whose every sum is 0. */
  readonly even: Float64Array;
  readonly odd: Float64Array;
  readonly zero: boolean;
}

const NO_SUMS = new Float64Array(0);

const registry = new WeakMap<ArrayBufferLike, PayloadSums>();

/** Declares `bytes` (and every subarray of it) immutable; returns it for chaining. */
export function immutablePayload(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  // An all-zero region needs no prefix sums: every range sums to 0 (a 1 MiB zero block saves
  // 16 MiB of sums, and each segment two random reads of them).
  let nonZero = false;
  for (let i = 0; i < n && !nonZero; i++) nonZero = bytes[i] !== 0;
  if (!nonZero) {
    registry.set(bytes.buffer, { base: bytes.byteOffset, length: n, even: NO_SUMS, odd: NO_SUMS, zero: true });
    return bytes;
  }
  const even = new Float64Array(n + 1);
  const odd = new Float64Array(n + 1);
  let e = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    if (i & 1) o += bytes[i]!;
    else e += bytes[i]!;
    even[i + 1] = e;
    odd[i + 1] = o;
  }
  registry.set(bytes.buffer, { base: bytes.byteOffset, length: n, even, odd, zero: false });
  return bytes;
}

/** The sums for `chunk` when it lies in a region declared immutable (one region per buffer). */
export function payloadSums(chunk: Uint8Array): PayloadSums | undefined {
  const s = registry.get(chunk.buffer);
  if (s === undefined) return undefined;
  const from = chunk.byteOffset - s.base;
  return from >= 0 && from + chunk.length <= s.length ? s : undefined;
}

/**
 * The unfolded 16-bit-word sum of chunk[from, from + n) placed at an even offset of the segment
 * when `evenStart`, else at an odd one (its first byte is then a low-order byte).
 */
export function rangeSum(s: PayloadSums, chunk: Uint8Array, from: number, n: number, evenStart: boolean): number {
  if (s.zero) return 0;
  const a = chunk.byteOffset - s.base + from;
  const b = a + n;
  const e = s.even[b]! - s.even[a]!;
  const o = s.odd[b]! - s.odd[a]!;
  // Bytes at even region offsets are high-order when the range starts at an even region offset
  // and lands on an even segment offset (or both odd); otherwise the roles swap.
  return (a & 1) === (evenStart ? 0 : 1) ? e * 256 + o : o * 256 + e;
}

/** Built on first use (a 1 MiB scan to find it all zero, which a run without TCP never needs). */
let ZERO: Uint8Array | undefined;

/** `n` zero bytes (n ≤ 1 MiB), shared: never write into it. */
export function zeroPayload(n: number): Uint8Array {
  ZERO ??= immutablePayload(new Uint8Array(1 << 20));
  return ZERO.subarray(0, n);
}

/**
 * Frames outside the slabs (larger than `SLAB_MAX_FRAME`) recently checksummed, by the low bits
 * of their checksum (a WeakSet costs more than the sum it saves). A slot holds one frame: a newer
 * frame with colliding bits replaces it, and the older one is then simply verified. Retention: at
 * most `INTACT_SLOTS` frames (and the `RECENT_SLABS` slabs, 8 MiB, for slab frames).
 */
const INTACT_SLOTS = 4096;
const intact: Array<Uint8Array | null> = new Array<Uint8Array | null>(INTACT_SLOTS).fill(null);

/** A non-zero slot value naming a frame's offset within its 64-byte unit and its checksum. */
function stamp(byteOffset: number, csum: number): number {
  return ((byteOffset & (UNIT - 1)) << 17) | 0x10000 | csum;
}

/** Records that `frame`'s TCP checksum `csum` was just computed over its current bytes. */
export function markIntact(frame: Uint8Array, csum: number): void {
  const st = stampsOf(frame.buffer);
  if (st !== null) st[frame.byteOffset >>> 6] = stamp(frame.byteOffset, csum);
  else intact[csum & (INTACT_SLOTS - 1)] = frame;
}

/**
 * Whether `frame` (TCP checksum field `csum`) is one a vfab TCP checksummed, unchanged since. A
 * frame from a slab is recognised by its place in memory, so any number of frames in flight keep
 * their mark (a checksum-keyed table lost marks to collisions when a link queue held hundreds).
 */
export function isIntact(frame: Uint8Array, csum: number): boolean {
  const st = stampsOf(frame.buffer);
  if (st !== null) return st[frame.byteOffset >>> 6] === stamp(frame.byteOffset, csum);
  return intact[csum & (INTACT_SLOTS - 1)] === frame;
}
