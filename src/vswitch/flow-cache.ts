/**
 * The exact-match cache (`FlowCache`) in front of the classifier: it maps a whole key to a
 * previous answer (EMC in OVS's userspace datapath, `lib/dpif-netdev-dfc.h`). It is an LRU map
 * keyed by a 30-bit hash of the key; each entry stores a copy of the key (hash collisions are
 * verified, not trusted) and the cache *generation* it was computed in. Callers bump the
 * generation on any change that may alter an answer (a rule added or removed, a MAC learned,
 * moved, aged out or evicted), which invalidates every entry in O(1); stale entries are
 * overwritten lazily or fall out by LRU.
 *
 * Why not `lru-cache` (used elsewhere): this lookup runs once per switched frame, and
 * lru-cache's `get` (options object, status/diagnostics checks, TTL and fetch bookkeeping) was
 * the largest self time of `frames_per_s`. The LRU here is the same policy (a hit or a set moves
 * the entry to the most-recent end; a set into a full cache replaces the least recent entry,
 * reusing its node and key buffer, so a steady state allocates nothing) on an intrusive
 * doubly-linked list over a `Map`.
 */
import { BugError } from '../errors.js';
import { W_TUN_FLAGS } from './fields.js';

/**
 * Words the cache keys on: the packet words plus pkt_mark and the tunnel words (tun_id, tun_src,
 * tun_dst, tun_flags), which a tunnel port sets on a decapsulated frame. The other metadata words
 * (registers, conntrack) are 0 whenever a packet enters a bridge.
 */
export const CACHE_WORDS = W_TUN_FLAGS + 1;
// hashKey and sameKey are unrolled over exactly 39 words.
if (CACHE_WORDS !== 39) throw new BugError('VSWITCH_CACHE_WORDS', `CACHE_WORDS is ${CACHE_WORDS}: update hashKey and sameKey`);

function finalize(h: number): number {
  // 30 bits: stays a small integer (Smi) in V8, so nothing allocates or hashes doubles.
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/**
 * Hash of a whole key, for the exact-match cache. Only the CACHE_WORDS are keyed: the other
 * metadata words (registers, conntrack) are 0 whenever a packet enters a bridge. Words 0–13
 * (in_port … tp_dst) are mixed by multiplication, the rarely used ARP, IPv6, TCP-flag, fragment
 * and ND words (14..CACHE_WORDS-1, with pkt_mark and the tunnel words) XOR-folded with
 * rotations. Each runs as two independent lanes (even and odd words), so the CPU overlaps the
 * multiply chains, and it is unrolled with literal indices: as loops (bounded by a module
 * constant, then by a literal) the hash and the per-hit comparison took two to three times as
 * long in V8. The cache verifies every word, so the hash only affects
 * how well keys spread, never correctness.
 */
export function hashKey(k: Int32Array): number {
  let a = 0x811c9dc5;
  let b = 0x2545f491;
  a = Math.imul(a ^ k[0]!, 0x9e3779b1);
  b = Math.imul(b ^ k[1]!, 0x85ebca6b);
  a = Math.imul(a ^ k[2]!, 0x9e3779b1);
  b = Math.imul(b ^ k[3]!, 0x85ebca6b);
  a = Math.imul(a ^ k[4]!, 0x9e3779b1);
  b = Math.imul(b ^ k[5]!, 0x85ebca6b);
  a = Math.imul(a ^ k[6]!, 0x9e3779b1);
  b = Math.imul(b ^ k[7]!, 0x85ebca6b);
  a = Math.imul(a ^ k[8]!, 0x9e3779b1);
  b = Math.imul(b ^ k[9]!, 0x85ebca6b);
  a = Math.imul(a ^ k[10]!, 0x9e3779b1);
  b = Math.imul(b ^ k[11]!, 0x85ebca6b);
  a = Math.imul(a ^ k[12]!, 0x9e3779b1);
  b = Math.imul(b ^ k[13]!, 0x85ebca6b);
  let f = 0;
  let g = k[38]!; // CACHE_WORDS - 1 (checked at module load)
  f = ((f << 5) | (f >>> 27)) ^ k[14]!;
  g = ((g << 7) | (g >>> 25)) ^ k[15]!;
  f = ((f << 5) | (f >>> 27)) ^ k[16]!;
  g = ((g << 7) | (g >>> 25)) ^ k[17]!;
  f = ((f << 5) | (f >>> 27)) ^ k[18]!;
  g = ((g << 7) | (g >>> 25)) ^ k[19]!;
  f = ((f << 5) | (f >>> 27)) ^ k[20]!;
  g = ((g << 7) | (g >>> 25)) ^ k[21]!;
  f = ((f << 5) | (f >>> 27)) ^ k[22]!;
  g = ((g << 7) | (g >>> 25)) ^ k[23]!;
  f = ((f << 5) | (f >>> 27)) ^ k[24]!;
  g = ((g << 7) | (g >>> 25)) ^ k[25]!;
  f = ((f << 5) | (f >>> 27)) ^ k[26]!;
  g = ((g << 7) | (g >>> 25)) ^ k[27]!;
  f = ((f << 5) | (f >>> 27)) ^ k[28]!;
  g = ((g << 7) | (g >>> 25)) ^ k[29]!;
  f = ((f << 5) | (f >>> 27)) ^ k[30]!;
  g = ((g << 7) | (g >>> 25)) ^ k[31]!;
  f = ((f << 5) | (f >>> 27)) ^ k[32]!;
  g = ((g << 7) | (g >>> 25)) ^ k[33]!;
  f = ((f << 5) | (f >>> 27)) ^ k[34]!;
  g = ((g << 7) | (g >>> 25)) ^ k[35]!;
  f = ((f << 5) | (f >>> 27)) ^ k[36]!;
  g = ((g << 7) | (g >>> 25)) ^ k[37]!;
  return finalize(Math.imul(a ^ f, 0x9e3779b1) ^ Math.imul(b ^ g, 0xc2b2ae35));
}

/** Whether the first CACHE_WORDS words of `a` and `b` are equal (unrolled, branch-free: see hashKey). */
export function sameKey(a: Int32Array, b: Int32Array): boolean {
  return (
    (a[0]! ^ b[0]!) | (a[1]! ^ b[1]!) | (a[2]! ^ b[2]!) | (a[3]! ^ b[3]!) | (a[4]! ^ b[4]!) | (a[5]! ^ b[5]!) |
    (a[6]! ^ b[6]!) | (a[7]! ^ b[7]!) | (a[8]! ^ b[8]!) | (a[9]! ^ b[9]!) | (a[10]! ^ b[10]!) | (a[11]! ^ b[11]!) |
    (a[12]! ^ b[12]!) | (a[13]! ^ b[13]!) | (a[14]! ^ b[14]!) | (a[15]! ^ b[15]!) | (a[16]! ^ b[16]!) | (a[17]! ^ b[17]!) |
    (a[18]! ^ b[18]!) | (a[19]! ^ b[19]!) | (a[20]! ^ b[20]!) | (a[21]! ^ b[21]!) | (a[22]! ^ b[22]!) | (a[23]! ^ b[23]!) |
    (a[24]! ^ b[24]!) | (a[25]! ^ b[25]!) | (a[26]! ^ b[26]!) | (a[27]! ^ b[27]!) | (a[28]! ^ b[28]!) | (a[29]! ^ b[29]!) |
    (a[30]! ^ b[30]!) | (a[31]! ^ b[31]!) | (a[32]! ^ b[32]!) | (a[33]! ^ b[33]!) | (a[34]! ^ b[34]!) | (a[35]! ^ b[35]!) |
    (a[36]! ^ b[36]!) | (a[37]! ^ b[37]!) | (a[38]! ^ b[38]!)
  ) === 0;
}

interface Node<V> {
  hash: number;
  key: Int32Array;
  gen: number;
  value: V;
  /** Towards the least recently used end (null: this is the head). */
  prev: Node<V> | null;
  /** Towards the most recently used end (null: this is the tail). */
  next: Node<V> | null;
}

/** Exact-match cache over whole keys, invalidated by bumping `generation`. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- V is any non-nullish value (undefined means "miss")
export class FlowCache<V extends {}> {
  private readonly map = new Map<number, Node<V>>();
  /** Least recently used. */
  private head: Node<V> | null = null;
  /** Most recently used. */
  private tail: Node<V> | null = null;
  generation = 0;
  hits = 0;
  misses = 0;

  constructor(readonly max = 8192) {
    if (!Number.isInteger(max) || max < 1) throw new BugError('VSWITCH_CACHE_SIZE', `flow cache size ${max} is not a positive integer`);
  }

  /** Invalidates every entry (O(1)). */
  invalidate(): void {
    this.generation++;
  }

  private touch(n: Node<V>): void {
    if (n === this.tail) return;
    // Unlink (n is not the tail, so n.next is set).
    const p = n.prev;
    const nx = n.next!;
    if (p === null) this.head = nx;
    else p.next = nx;
    nx.prev = p;
    // Append at the tail.
    n.prev = this.tail;
    n.next = null;
    this.tail!.next = n;
    this.tail = n;
  }

  /** `valid`: the caller's revalidation of an entry (false: a miss, as if invalidated). */
  get(key: Int32Array, hash = hashKey(key), valid?: (v: V) => boolean): V | undefined {
    const e = this.map.get(hash);
    if (e !== undefined) {
      this.touch(e);
      if (e.gen === this.generation && (valid === undefined || valid(e.value))) {
        if (sameKey(e.key, key)) {
          this.hits++;
          return e.value;
        }
      }
    }
    this.misses++;
    return undefined;
  }

  set(key: Int32Array, value: V, hash = hashKey(key)): void {
    let n = this.map.get(hash);
    if (n !== undefined) {
      this.touch(n);
    } else if (this.map.size >= this.max) {
      // Full: the least recently used node becomes this entry.
      n = this.head!;
      this.map.delete(n.hash);
      this.map.set(hash, n);
      n.hash = hash;
      this.touch(n);
    } else {
      n = { hash, key: new Int32Array(CACHE_WORDS), gen: 0, value, prev: this.tail, next: null };
      if (this.tail === null) this.head = n;
      else this.tail.next = n;
      this.tail = n;
      this.map.set(hash, n);
    }
    const k = n.key;
    for (let i = 0; i < CACHE_WORDS; i++) k[i] = key[i]!;
    n.gen = this.generation;
    n.value = value;
  }

  clear(): void {
    this.map.clear();
    this.head = this.tail = null;
    this.generation++;
  }

  get size(): number {
    return this.map.size;
  }
}
