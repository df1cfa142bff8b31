/**
 * The exact-match cache (`FlowCache`) in front of the classifier: it maps a whole key to a
 * previous answer (EMC in OVS's userspace datapath, `lib/dpif-netdev-dfc.h`). It is an
 * `lru-cache` keyed by a 32-bit hash of the key; each entry stores a copy of the key (hash
 * collisions are verified, not trusted) and the cache *generation* it was computed in. Callers
 * bump the generation on any change that may alter an answer (a rule added or removed, a MAC
 * learned, moved, aged out or evicted), which invalidates every entry in O(1); stale entries are
 * overwritten lazily or fall out by LRU.
 */
import { LRUCache } from 'lru-cache';
import { W_TUN_FLAGS } from './fields.js';

/**
 * Words the cache keys on: the packet words plus pkt_mark and the tunnel words (tun_id, tun_src,
 * tun_dst, tun_flags), which a tunnel port sets on a decapsulated frame. The other metadata words
 * (registers, conntrack) are 0 whenever a packet enters a bridge.
 */
export const CACHE_WORDS = W_TUN_FLAGS + 1;

function finalize(h: number): number {
  // 30 bits: stays a small integer (Smi) in V8, so nothing allocates or hashes doubles.
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/**
 * Hash of a whole key, for the exact-match cache. Only the CACHE_WORDS are keyed: the other
 * metadata words (registers, conntrack) are 0 whenever a packet enters a bridge. Words 0–13 (in_port … tp_dst) are mixed one by one; the rarely used ARP, IPv6,
 * TCP-flag, fragment and ND words (14..CACHE_WORDS-1, with pkt_mark and the tunnel words) are XOR-folded into one word
 * first, which halves the multiplies. The cache verifies every word, so this only affects how
 * well keys spread, never correctness.
 */
export function hashKey(key: Int32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 14; i++) h = Math.imul(h ^ key[i]!, 0x9e3779b1);
  let f = 0;
  for (let i = 14; i < CACHE_WORDS; i++) f = ((f << 5) | (f >>> 27)) ^ key[i]!;
  h = Math.imul(h ^ f, 0x9e3779b1);
  return finalize(h);
}

interface CacheEntry<V> {
  key: Int32Array;
  gen: number;
  value: V;
}

/** Exact-match cache over whole keys, invalidated by bumping `generation`. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- lru-cache's own bound: V is any non-nullish value
export class FlowCache<V extends {}> {
  private lru: LRUCache<number, CacheEntry<V>>;
  generation = 0;
  hits = 0;
  misses = 0;

  constructor(readonly max = 8192) {
    this.lru = new LRUCache<number, CacheEntry<V>>({ max });
  }

  /** Invalidates every entry (O(1)). */
  invalidate(): void {
    this.generation++;
  }

  /** `valid`: the caller's revalidation of an entry (false: a miss, as if invalidated). */
  get(key: Int32Array, hash = hashKey(key), valid?: (v: V) => boolean): V | undefined {
    const e = this.lru.get(hash);
    if (e !== undefined && e.gen === this.generation && (valid === undefined || valid(e.value))) {
      const k = e.key;
      let same = true;
      for (let i = 0; i < CACHE_WORDS; i++) {
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
    this.misses++;
    return undefined;
  }

  set(key: Int32Array, value: V, hash = hashKey(key)): void {
    this.lru.set(hash, { key: key.slice(0, CACHE_WORDS), gen: this.generation, value });
  }

  clear(): void {
    this.lru.clear();
    this.generation++;
  }

  get size(): number {
    return this.lru.size;
  }
}
