/**
 * The flow classifier: tuple space search with an exact-match cache in front.
 *
 * What? Given a packet's key (KEY_WORDS 32-bit words, see fields.ts) find the highest-priority
 * rule whose (value, mask) matches: `(key[i] & mask[i]) === value[i]` for every word.
 *
 * Tuple space search (Srinivasan et al., SIGCOMM 1999; Open vSwitch `lib/classifier.h`). Thought
 * experiment: if every rule matched the same fields with the same masks, one hash table keyed by
 * the masked key would find the match in O(1). Real tables mix shapes (`tcp,tp_dst=22` and
 * `dl_dst=…`), so we keep one hash table, a *subtable*, per distinct mask (a "tuple"). A lookup
 * masks the key with each subtable's mask, hashes the few words that mask keeps, probes that
 * subtable, and keeps the best hit across subtables.
 *
 * Refinements, as in OVS:
 * - Subtables are kept sorted by the highest priority they hold; the scan stops as soon as the
 *   next subtable's best priority is below the best match found so far. With a few
 *   high-priority shapes this turns "probe every subtable" into "probe one or two".
 * - Rules with the same mask and masked value share one bucket, sorted by priority, so the first
 *   hit in a bucket is the best one of that subtable.
 * - Hashing touches only the mask's non-zero words (precomputed index list) and uses integer
 *   mixing (Math.imul): no strings, no allocation per lookup.
 *
 * Invariants:
 * - `rule.value` is pre-masked (`value[i] & ~mask[i] === 0`).
 * - Ties (same priority, overlapping matches) are "undefined" in OpenFlow; here the rule inserted
 *   first wins, everywhere (subtable scan, bucket order, the linear reference), so the fast path
 *   equals a linear scan exactly. A property test checks that equivalence.
 * - Subtables never stay empty: the last rule's removal deletes the subtable.
 *
 * Costs: a miss costs one hash + one probe per subtable visited, so lookups scale with the number
 * of distinct masks, not rules (20 masks ⇒ ≤ 20 probes). Insert/remove are O(bucket) plus a
 * re-sort of the (short) subtable list. Not implemented from OVS: staged lookup (metadata, L2,
 * L3, L4 hashes) and prefix tries, which exist to compute narrow megaflow wildcards for a
 * datapath cache vfab does not have; and versioning, which needs concurrent readers.
 *
 * The exact-match cache (`FlowCache`) maps a whole key to a previous answer (EMC in OVS's
 * userspace datapath, `lib/dpif-netdev-dfc.h`). It is an `lru-cache` keyed by a 32-bit hash of
 * the key; each entry stores a copy of the key (hash collisions are verified, not trusted) and
 * the cache *generation* it was computed in. Callers bump the generation on any change that may
 * alter an answer (a rule added or removed, a MAC learned, moved, aged out or evicted), which
 * invalidates every entry in O(1); stale entries are overwritten lazily or fall out by LRU.
 */
import { LRUCache } from 'lru-cache';
import { KEY_WORDS, W_DL_TYPE, W_NW_PROTO } from './fields.js';

export interface ClsRule {
  priority: number;
  /** Insertion sequence: breaks priority ties (earlier wins). Set by `Classifier.insert`. */
  seq: number;
  value: Int32Array;
  mask: Int32Array;
}

function mix(h: number, w: number): number {
  return Math.imul(h ^ w, 0x9e3779b1);
}

function finalize(h: number): number {
  // 30 bits: stays a small integer (Smi) in V8, so nothing allocates or hashes doubles.
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/**
 * Hash of a whole key, for the exact-match cache. Words 0–13 (in_port … tp_dst) are mixed one by
 * one; the rarely used ARP hardware-address and IPv6 words (14–25) are XOR-folded into one word
 * first, which halves the multiplies. The cache verifies every word, so this only affects how
 * well keys spread, never correctness.
 */
export function hashKey(key: Int32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 14; i++) h = Math.imul(h ^ key[i]!, 0x9e3779b1);
  let f = 0;
  for (let i = 14; i < KEY_WORDS; i++) f = ((f << 5) | (f >>> 27)) ^ key[i]!;
  h = Math.imul(h ^ f, 0x9e3779b1);
  return finalize(h);
}

/** Orders rules: higher priority first, then earlier insertion. */
export function ruleBefore(a: ClsRule, b: ClsRule): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
}

class Subtable<R extends ClsRule> {
  /** Indices of the mask's non-zero words. */
  readonly idx: Int32Array;
  readonly mask: Int32Array;
  /**
   * Open-addressing hash table (linear probing) from masked-key hash to bucket: `slotHash[i]` is
   * the hash, `slotBucket[i]` the bucket index + 1 (0 = empty). A bucket holds the rules whose
   * masked values hash alike (normally one value), sorted by `ruleBefore`. Faster than a `Map`
   * on the lookup path; removal rebuilds the table (rules are removed rarely: timeouts, edits).
   */
  private slotHash = new Int32Array(8);
  private slotBucket = new Int32Array(8);
  private slotMask = 7;
  readonly buckets: R[][] = [];
  private bucketHash: number[] = [];
  maxPriority = -1;
  count = 0;
  private priorities = new Map<number, number>();

  /**
   * Pre-filter: one selective word of the mask (not dl_type/nw_proto, which most rules share) and
   * a 2048-bit set of its masked values' hashes. A key whose word is not in the set cannot match
   * any rule here, so the subtable is skipped after one AND, one multiply and one bit test
   * instead of a full hash and probe (the same goal as OVS's staged lookup: misses cost less).
   */
  readonly filterWord: number;
  readonly filterMask: number;
  private filter = new Int32Array(64);

  constructor(mask: Int32Array) {
    this.mask = mask;
    const idx: number[] = [];
    for (let i = 0; i < KEY_WORDS; i++) if (mask[i] !== 0) idx.push(i);
    this.idx = Int32Array.from(idx);
    const pick = idx.filter((i) => i !== W_DL_TYPE && i !== W_NW_PROTO);
    this.filterWord = pick.length > 0 ? pick[pick.length - 1]! : -1;
    this.filterMask = this.filterWord >= 0 ? mask[this.filterWord]! : 0;
  }

  /** Whether the pre-filter admits masked word value `v`. */
  admits(v: number): boolean {
    const b = Math.imul(v, 0x9e3779b1) >>> 21;
    return (this.filter[b >>> 5]! & (1 << (b & 31))) !== 0;
  }

  private addToFilter(value: Int32Array): void {
    if (this.filterWord < 0) return;
    const b = Math.imul(value[this.filterWord]!, 0x9e3779b1) >>> 21;
    this.filter[b >>> 5] = this.filter[b >>> 5]! | (1 << (b & 31));
  }

  hashMasked(key: Int32Array): number {
    const idx = this.idx;
    const mask = this.mask;
    let h = 0x811c9dc5;
    for (let j = 0; j < idx.length; j++) {
      const i = idx[j]!;
      h = mix(h, key[i]! & mask[i]!);
    }
    return finalize(h);
  }

  /** Same hash for a rule's (already masked) value. */
  hashValue(value: Int32Array): number {
    const idx = this.idx;
    let h = 0x811c9dc5;
    for (let j = 0; j < idx.length; j++) h = mix(h, value[idx[j]!]!);
    return finalize(h);
  }

  /** The bucket for hash `h`, or undefined. */
  find(h: number): R[] | undefined {
    const sh = this.slotHash;
    const sb = this.slotBucket;
    const m = this.slotMask;
    let i = h & m;
    for (;;) {
      const b = sb[i]!;
      if (b === 0) return undefined;
      if (sh[i] === h) return this.buckets[b - 1];
      i = (i + 1) & m;
    }
  }

  private place(h: number, bucketIndex: number): void {
    const m = this.slotMask;
    let i = h & m;
    while (this.slotBucket[i] !== 0) i = (i + 1) & m;
    this.slotHash[i] = h;
    this.slotBucket[i] = bucketIndex + 1;
  }

  private rehash(size: number): void {
    this.slotHash = new Int32Array(size);
    this.slotBucket = new Int32Array(size);
    this.slotMask = size - 1;
    for (let b = 0; b < this.buckets.length; b++) this.place(this.bucketHash[b]!, b);
  }

  insert(r: R): void {
    const h = this.hashValue(r.value);
    let b = this.find(h);
    if (!b) {
      b = [];
      this.buckets.push(b);
      this.bucketHash.push(h);
      if (this.buckets.length * 2 > this.slotMask + 1) this.rehash((this.slotMask + 1) * 2);
      else this.place(h, this.buckets.length - 1);
    }
    this.addToFilter(r.value);
    let pos = b.length;
    while (pos > 0 && ruleBefore(r, b[pos - 1]!)) pos--;
    b.splice(pos, 0, r);
    this.count++;
    this.priorities.set(r.priority, (this.priorities.get(r.priority) ?? 0) + 1);
    if (r.priority > this.maxPriority) this.maxPriority = r.priority;
  }

  remove(r: R): boolean {
    const h = this.hashValue(r.value);
    const b = this.find(h);
    if (!b) return false;
    const i = b.indexOf(r);
    if (i < 0) return false;
    b.splice(i, 1);
    if (b.length === 0) {
      const bi = this.buckets.indexOf(b);
      this.buckets.splice(bi, 1);
      this.bucketHash.splice(bi, 1);
      this.rehash(this.slotMask + 1);
    }
    this.filter.fill(0);
    for (const bucket of this.buckets) for (const x of bucket) this.addToFilter(x.value);
    this.count--;
    const n = (this.priorities.get(r.priority) ?? 1) - 1;
    if (n === 0) {
      this.priorities.delete(r.priority);
      if (r.priority === this.maxPriority) {
        let m = -1;
        for (const p of this.priorities.keys()) if (p > m) m = p;
        this.maxPriority = m;
      }
    } else this.priorities.set(r.priority, n);
    return true;
  }
}

function sameMask(a: Int32Array, b: Int32Array): boolean {
  for (let i = 0; i < KEY_WORDS; i++) if (a[i] !== b[i]) return false;
  return true;
}

function maskHash(m: Int32Array): number {
  return hashKey(m);
}

export class Classifier<R extends ClsRule> {
  /** Sorted by maxPriority, highest first. */
  private subtables: Subtable<R>[] = [];
  private byMask = new Map<number, Subtable<R>[]>();
  private nextSeq = 0;
  private n = 0;

  get size(): number {
    return this.n;
  }

  get subtableCount(): number {
    return this.subtables.length;
  }

  insert(r: R): void {
    for (let i = 0; i < KEY_WORDS; i++) {
      if ((r.value[i]! & ~r.mask[i]!) !== 0) throw new RangeError('classifier rule value is not masked');
    }
    r.seq = this.nextSeq++;
    const mh = maskHash(r.mask);
    let list = this.byMask.get(mh);
    if (!list) {
      list = [];
      this.byMask.set(mh, list);
    }
    let st = list.find((s) => sameMask(s.mask, r.mask));
    if (!st) {
      st = new Subtable<R>(Int32Array.from(r.mask));
      list.push(st);
      this.subtables.push(st);
    }
    st.insert(r);
    this.n++;
    this.sortSubtables();
  }

  remove(r: R): boolean {
    const mh = maskHash(r.mask);
    const list = this.byMask.get(mh);
    const st = list?.find((s) => sameMask(s.mask, r.mask));
    if (!list || !st || !st.remove(r)) return false;
    this.n--;
    if (st.count === 0) {
      list.splice(list.indexOf(st), 1);
      if (list.length === 0) this.byMask.delete(mh);
      this.subtables.splice(this.subtables.indexOf(st), 1);
    }
    this.sortSubtables();
    return true;
  }

  private sortSubtables(): void {
    this.subtables.sort((a, b) => b.maxPriority - a.maxPriority);
  }

  /** The best rule matching `key`, or null. Allocation-free. */
  lookup(key: Int32Array): R | null {
    const sts = this.subtables;
    let best: R | null = null;
    let bestPri = -1;
    for (let s = 0; s < sts.length; s++) {
      const st = sts[s]!;
      if (st.maxPriority < bestPri) break;
      const fw = st.filterWord;
      if (fw >= 0 && !st.admits(key[fw]! & st.filterMask)) continue;
      const idx = st.idx;
      const mask = st.mask;
      const n = idx.length;
      let h = 0x811c9dc5;
      for (let j = 0; j < n; j++) {
        const i = idx[j]!;
        h = Math.imul(h ^ (key[i]! & mask[i]!), 0x9e3779b1);
      }
      const bucket = st.find((h ^ (h >>> 15)) & 0x3fffffff);
      if (bucket === undefined) continue;
      for (let b = 0; b < bucket.length; b++) {
        const r = bucket[b]!;
        if (r.priority < bestPri) break;
        const v = r.value;
        let j = 0;
        for (; j < n; j++) {
          const i = idx[j]!;
          if ((key[i]! & mask[i]!) !== v[i]) break;
        }
        if (j === n) {
          if (best === null || ruleBefore(r, best)) {
            best = r;
            bestPri = r.priority;
          }
          break;
        }
      }
    }
    return best;
  }

  /** Every rule, in priority order (highest first, then insertion order). */
  rules(): R[] {
    const all: R[] = [];
    for (const st of this.subtables) for (const b of st.buckets) all.push(...b);
    return all.sort((a, b) => (ruleBefore(a, b) ? -1 : ruleBefore(b, a) ? 1 : 0));
  }
}

/** The reference: a linear scan over rules in priority order (used by the property test). */
export function linearLookup<R extends ClsRule>(rules: readonly R[], key: Int32Array): R | null {
  let best: R | null = null;
  for (const r of rules) {
    let ok = true;
    for (let i = 0; i < KEY_WORDS; i++) {
      if ((key[i]! & r.mask[i]!) !== r.value[i]) {
        ok = false;
        break;
      }
    }
    if (ok && (best === null || ruleBefore(r, best))) best = r;
  }
  return best;
}

interface CacheEntry<V> {
  key: Int32Array;
  gen: number;
  value: V;
}

/** Exact-match cache over whole keys, invalidated by bumping `generation`. */
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

  get(key: Int32Array, hash = hashKey(key)): V | undefined {
    const e = this.lru.get(hash);
    if (e !== undefined && e.gen === this.generation) {
      const k = e.key;
      let same = true;
      for (let i = 0; i < KEY_WORDS; i++) {
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
    this.lru.set(hash, { key: Int32Array.from(key), gen: this.generation, value });
  }

  clear(): void {
    this.lru.clear();
    this.generation++;
  }

  get size(): number {
    return this.lru.size;
  }
}
