/**
 * Flow hash for multiqueue queue selection.
 *
 * A multiqueue virtio-net backed by a tap spreads received frames like Linux's
 * `tun_automq_select_queue()` (drivers/net/tun.c): a symmetric flow hash of the frame
 * (`__skb_get_hash_symmetric`) scaled onto the active queues with `reciprocal_scale(hash, n)`;
 * the guest picks its transmit queue from the skb hash (`skb_tx_hash`) the same way. The hash here
 * is symmetric (both directions of a flow land on the same pair) and stable for a flow, which is the
 * property those paths rely on; the exact bit mixing is vfab's own (murmur3 finaliser), not
 * Linux's jhash.
 *
 * Only the fields a flow dissector would use are read: IPv4/IPv6 addresses, the L4 protocol and
 * TCP/UDP/SCTP ports (first fragment only); anything else hashes by MAC addresses and ethertype.
 * Reads are bounds-checked so malformed frames hash without throwing.
 */

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mix(h: number, v: number): number {
  return fmix((h ^ Math.imul(v >>> 0, 0xcc9e2d51)) + 0x9e3779b9);
}

function u16(f: Uint8Array, o: number): number {
  return o + 2 <= f.length ? (f[o]! << 8) | f[o + 1]! : 0;
}

function u32(f: Uint8Array, o: number): number {
  return o + 4 <= f.length ? ((f[o]! << 24) | (f[o + 1]! << 16) | (f[o + 2]! << 8) | f[o + 3]!) >>> 0 : 0;
}

/** Symmetric 32-bit flow hash of an Ethernet frame. */
export function symmetricFlowHash(frame: Uint8Array): number {
  let off = 12;
  let type = u16(frame, off);
  // Skip up to two VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8).
  for (let i = 0; i < 2 && (type === 0x8100 || type === 0x88a8); i++) {
    off += 4;
    type = u16(frame, off);
  }
  const l3 = off + 2;
  if (type === 0x0800 && l3 + 20 <= frame.length) {
    const ihl = (frame[l3]! & 0x0f) * 4;
    const proto = frame[l3 + 9]!;
    const a = u32(frame, l3 + 12);
    const b = u32(frame, l3 + 16);
    const frag = u16(frame, l3 + 6) & 0x1fff;
    let pa = 0;
    let pb = 0;
    if (frag === 0 && (proto === 6 || proto === 17 || proto === 132)) {
      pa = u16(frame, l3 + ihl);
      pb = u16(frame, l3 + ihl + 2);
    }
    return finish(proto, [a], [b], pa, pb);
  }
  if (type === 0x86dd && l3 + 40 <= frame.length) {
    const proto = frame[l3 + 6]!;
    const a = [u32(frame, l3 + 8), u32(frame, l3 + 12), u32(frame, l3 + 16), u32(frame, l3 + 20)];
    const b = [u32(frame, l3 + 24), u32(frame, l3 + 28), u32(frame, l3 + 32), u32(frame, l3 + 36)];
    let pa = 0;
    let pb = 0;
    if (proto === 6 || proto === 17 || proto === 132) {
      pa = u16(frame, l3 + 40);
      pb = u16(frame, l3 + 42);
    }
    return finish(proto, a, b, pa, pb);
  }
  const dst = [u32(frame, 0), u16(frame, 4)];
  const src = [u32(frame, 6), u16(frame, 10)];
  return finish(type, src, dst, 0, 0);
}

function less(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]!;
  }
  return false;
}

function finish(proto: number, a: number[], b: number[], pa: number, pb: number): number {
  // Order the endpoints so (a→b) and (b→a) hash alike, as __skb_get_hash_symmetric does.
  const swap = less(b, a) || (!less(a, b) && pb < pa);
  const [x, y] = swap ? [b, a] : [a, b];
  const [px, py] = swap ? [pb, pa] : [pa, pb];
  let h = mix(0x2f0b3c1d, proto);
  for (const v of x) h = mix(h, v);
  for (const v of y) h = mix(h, v);
  return mix(h, (px << 16) | py);
}

/** Linux `reciprocal_scale(val, ep_ro)`: maps a 32-bit hash onto [0, n). */
export function reciprocalScale(hash: number, n: number): number {
  return Math.floor(((hash >>> 0) * n) / 4294967296);
}
