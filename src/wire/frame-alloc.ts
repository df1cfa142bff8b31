/**
 * Frame memory and the "checksum already valid" hint for the per-frame path.
 *
 * - `allocFrame(n)`: a zeroed frame carved from a shared 64 KiB slab (64 KiB measured faster than 256 KiB or 1 MiB on the long_run world: less memory to zero and collect at once) (fresh memory, never
 *   handed out twice), 8-byte aligned so the 16-bit checksum views line up. A frame then costs
 *   one view object instead of an ArrayBuffer with its own backing store, which is what made
 *   frame building and GC a fifth of a UDP-heavy run. Ownership is the garbage collector's: a
 *   slab is freed when no frame cut from it is reachable, so retention is at most one slab per
 *   long-kept frame and no port or capture has to release anything (a capture copies the bytes
 *   into its own chunk buffer at once). Frames are never edited in place once sent (a switch
 *   that rewrites headers copies, `vswitch/rewrite.ts`), so views may be shared by every output
 *   of a flood without copies. (TCP cuts its segments the same way in `tcp/payload.ts`.)
 * - `markUdpValid(frame, csum)` / `isUdpValid(frame, csum)`: a UDP datagram whose checksum the
 *   sending guest's stack just computed, arriving at a receiver as the same object, is known
 *   good: the receiver skips re-summing it, as a Linux guest skips it for a virtio frame marked
 *   VIRTIO_NET_HDR_F_DATA_VALID (CHECKSUM_UNNECESSARY; virtio spec 1.2 §5.1.6.4.1). Any other
 *   frame (a copy, a rewritten frame, a decapsulated view, a test's hand-made bytes) is summed,
 *   once: a receiver that verified a frame marks it too, so the same unchanged frame reaching
 *   another receiver (a flood's copies share one view) is not summed again.
 *   The table is keyed by the checksum's low bits: a newer frame with the same bits replaces an
 *   older one, which is then simply verified. Retention: at most `VALID_SLOTS` frames.
 */

const SLAB = 64 * 1024;
const SLAB_MAX_FRAME = 16 * 1024;
let slab = new ArrayBuffer(SLAB);
let slabOff = 0;

/** A zeroed frame of `n` bytes (8-byte aligned; its own buffer when larger than 16 KiB). */
export function allocFrame(n: number): Uint8Array {
  if (n > SLAB_MAX_FRAME) return new Uint8Array(n);
  if (slabOff + n > SLAB) {
    slab = new ArrayBuffer(SLAB);
    slabOff = 0;
  }
  const v = new Uint8Array(slab, slabOff, n);
  slabOff += (n + 7) & ~7;
  return v;
}

const VALID_SLOTS = 4096;
const valid: Array<Uint8Array | null> = new Array<Uint8Array | null>(VALID_SLOTS).fill(null);

/** Records that `frame`'s UDP checksum `csum` was just computed over its current bytes. */
export function markUdpValid(frame: Uint8Array, csum: number): void {
  valid[csum & (VALID_SLOTS - 1)] = frame;
}

/** Whether `frame` (UDP checksum field `csum`) is one a guest stack checksummed, unchanged since. */
export function isUdpValid(frame: Uint8Array, csum: number): boolean {
  return valid[csum & (VALID_SLOTS - 1)] === frame;
}
