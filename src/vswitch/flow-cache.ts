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
// hashKey and the per-hit comparison use the literal 39 (see hashKey).
if (CACHE_WORDS !== 39) throw new BugError('VSWITCH_CACHE_WORDS', `CACHE_WORDS is ${CACHE_WORDS}: update hashKey and FlowCache.get`);

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
 * multiply chains, and the loop bounds are literals (bounds read from module constants were
 * re-read per iteration: a third slower). The cache verifies every word, so the hash only affects
 * how well keys spread, never correctness.
 */
export function hashKey(key: Int32Array): number {
  let a = 0x811c9dc5;
  let b = 0x2545f491;
  for (let i = 0; i < 14; i += 2) {
    a = Math.imul(a ^ key[i]!, 0x9e3779b1);
    b = Math.imul(b ^ key[i + 1]!, 0x85ebca6b);
  }
  let f = 0;
  let g = key[38]!; // CACHE_WORDS - 1 (checked below)
  for (let i = 14; i < 38; i += 2) {
    f = ((f << 5) | (f >>> 27)) ^ key[i]!;
    g = ((g << 7) | (g >>> 25)) ^ key[i + 1]!;
  }
  return finalize(Math.imul(a ^ f, 0x9e3779b1) ^ Math.imul(b ^ g, 0xc2b2ae35));
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
        const k = e.key;
        let same = true;
        for (let i = 0; i < 39; i++) {
          if (k[i] !== key[i]) {
            same = false;
            break;
          }
        }
        if (same) {
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
