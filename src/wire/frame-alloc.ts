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
 *
 * Why not a pool with explicit ownership (issue 19 asked for one; measured, not landed). A pool
 * would hand the same view object out again once the last holder released it (refcount per
 * frame: +1 per output port, queue or capture that keeps it, -1 when transmitted, delivered or
 * dropped; a debug mode poisoning released bytes), saving the view's construction, the slab's
 * zeroing and the collector's work. Its best case was measured on the `long_run` world (issue 19's
 * ns-3 race, 200,000 datagrams of 1,042 bytes): a free list per frame length with no reference
 * counting at all, the UDP CBR sender taking from it and the receiving guest putting back, which
 * is correct only in that world (unicast, learned MACs, no capture): `vfab run --json` CPU
 * (user + sys), 5 interleaved runs on the shared 2-core machine at load 16, median 1.18 s with
 * the slab, 1.09 s with the free list (-8 % of the process, about -13 % of the simulation; same
 * JSON). A real pool adds the refcount traffic to that. What it would cost to make it safe: a
 * frame here is a plain `Uint8Array` that any receiver may keep, so every place that keeps or
 * fans out a frame must take a reference, and one missed is a silent use-after-release (a
 * recycled buffer rewritten under a queued frame: wrong bytes in a pcap, wrong statistics), not
 * an error. The holders: link queues and qdiscs, the vNIC's receive delay line, stall queue and
 * TX backlog, a bridge's outputs (one view sent to several ports by a flood or by `outFrame`'s
 * unchanged outputs), the VEB's flood, OpenFlow packet-in and `ofproto/trace`
 * results, the capture's packet-id `WeakMap` and `sim.packetOrigins` (keyed by identity: a
 * recycled view would inherit an old packet id), the "valid" table below (also by identity),
 * TCP's out-of-order and receive queues (see docs/tcp.md), and every library caller of
 * `Port.setReceiver`/`onFrame`, which the API lets keep frames. Against a gain of that size, the
 * slab stays: GC ownership cannot be wrong.
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
