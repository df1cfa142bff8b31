/**
 * The flow classifier: tuple space search (the exact-match cache in front of it is flow-cache.ts).
 *
 * What? Given a packet's key (KEY_WORDS 32-bit words, see fields.ts) find the highest-priority
 * rule whose (value, mask) matches: `(key[i] & mask[i]) === value[i]` for every word.
 *
 * Tuple space search (Srinivasan et al., SIGCOMM 1999; Open vSwitch `lib/classifier.h`). Thought
 * experiment: if every rule matched the same fields with the same masks, one hash table keyed by
 * the masked key would find the match in O(1). Real tables mix shapes (`tcp,tp_dst=22` and
 * `dl_dst=…`), so we keep one hash table, a *subtable* (subtable.ts), per distinct mask (a
 * "tuple"). A lookup masks the key with each subtable's mask, hashes the words that mask keeps,
 * probes that subtable, and keeps the best hit across subtables.
 *
 * Refinements:
 * - Subtables are sorted by the best rule they hold, (max priority, then the earliest-inserted
 *   rule at that priority), and the scan stops at the first subtable whose best rule cannot beat
 *   the match found so far (OVS: `classifier_lookup__` iterating its pvector by max priority; we
 *   also order ties by sequence so the early exit stays exact under our tie rule).
 * - Terms: a mask is a list of (word, word mask) terms, numbered per classifier. A subtable's hash
 *   is the XOR of per-term contributions, so a lookup computes each masked word and its
 *   contribution once and every subtable using that term reuses it (OVS gets a similar saving
 *   from hashing incrementally across its lookup stages). *Stages* make this lazy: each subtable
 *   in scan order lists the terms no earlier subtable used, and they are computed on reaching it,
 *   so an early exit never pays for terms of subtables it skipped.
 * - Entries (one per distinct masked value) live in typed arrays; each hash slot also carries its
 *   entry's best priority and sequence, so a probe reads one cache line and touches no objects.
 * - No branch on hit or miss. Whether a subtable holds the key's masked value is random per
 *   lookup, so a branch on it mispredicts about every other visit, and that (measured: the same
 *   code ran 2× faster on 4 repeating keys than on 4,096) cost more than all the arithmetic. A
 *   visit therefore trusts the 32-bit hash: the probe yields an entry or a sentinel that never
 *   wins, and the better of it and the best so far is kept with sign-mask arithmetic. Only the
 *   final winner is verified word by word; if it does not match (a hash collision with some
 *   other value) the lookup is redone by `exactLookup`, which verifies every candidate. While a
 *   subtable holds two entries with the same full hash (the fast path would see only one) every
 *   lookup is exact.
 *
 * Invariants:
 * - `rule.value` is pre-masked (`value[i] & ~mask[i] === 0`); priorities are 0 … 2^30 − 1 and
 *   sequence numbers stay below 2^30 (renumbered in order when exhausted), so both fit int32
 *   sign-mask arithmetic.
 * - Ties (same priority, overlapping matches) are "undefined" in OpenFlow; here the rule inserted
 *   first wins, everywhere (subtable order and early exit, entry order, the linear reference), so
 *   the fast path equals a linear scan exactly. Property tests check that equivalence, and a
 *   test builds real 32-bit hash collisions to exercise the verify-and-redo path.
 * - Subtables never stay empty: the last rule's removal deletes the subtable and releases its
 *   terms.
 *
 * Costs: a lookup visits at most one subtable per distinct mask and usually fewer (bench shape,
 * 20 masks, every subtable holding top-priority rules: ~13.5 visits, bounded by the tie rule);
 * each term in use is masked and multiplied once per lookup; a visit XORs its terms'
 * contributions, reads one slot (more only if its home slot holds another hash; slots are ≤ 1/8
 * full) and does ~15 integer ops to keep the better candidate; the winner costs one word-by-word
 * check. Measured (`npm run bench`, 2-core VM, same session): 1,000 rules over 20 masks, cache
 * off, ~2.1 M lookups/s (1.0 M before this design; OVS 3.1's C classifier 1.4–1.9 M/s with
 * wildcard tracking on this machine); 10,000 rules ~2.2 M/s (0.6 M before: fuller subtables no
 * longer add branch misses); OVS's own one-subtable benchmark shape ~10 M/s (~12 M/s before:
 * it visits one subtable, so the term bookkeeping shows). Memory ~300 B/rule at 10,000 rules.
 * Insert/remove are O(rules with the same mask and value) plus, when a subtable appeared, went
 * or changed its best rule, a re-sort of the (short) subtable list and rebuilt stage lists on the
 * next lookup (a rule joining a subtable below its best, as most learned flows do, needs
 * neither); removing a subtable's top-priority rule rescans its entries. Not implemented from OVS: staged lookup's early exit inside a subtable
 * and prefix tries, which exist to compute narrow megaflow wildcards for a datapath cache vfab
 * does not have; and versioning, which needs concurrent readers.
 */
import { KEY_WORDS } from './fields.js';
import { MAX_SEQ, Subtable, ruleBefore, termHash, termSeed } from './subtable.js';

export { FlowCache, hashKey } from './flow-cache.js';
export { ruleBefore } from './subtable.js';

export interface ClsRule {
  /** 0 … 2^30 − 1 (OpenFlow uses 0 … 65535). */
  priority: number;
  /** Insertion sequence: breaks priority ties (earlier wins). Set by `Classifier.insert`. */
  seq: number;
  value: Int32Array;
  mask: Int32Array;
}

function sameMask(a: Int32Array, b: Int32Array): boolean {
  for (let i = 0; i < KEY_WORDS; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The subtable key of a mask: its nonzero words only (a mask keeps few of the KEY_WORDS). */
function maskKey(m: Int32Array): string {
  let k = '';
  for (let i = 0; i < KEY_WORDS; i++) if (m[i] !== 0) k += `${i}:${m[i]},`;
  return k;
}

export class Classifier<R extends ClsRule> {
  /** Sorted by (maxPriority desc, minSeqAtMax asc) once `order()` ran; see `dirty`. */
  private subtables: Subtable<R>[] = [];
  private byMask = new Map<string, Subtable<R>>();
  private nextSeq = 0;
  private n = 0;
  /** Subtables with duplicate entry hashes (see `lookup`). */
  private dupHashes = 0;
  /** The subtable last inserted into or looked up by mask (a subtable left empty is gone: count 0). */
  private lastSt: Subtable<R> | undefined = undefined;
  /** Subtable order or stage lists are stale (set by insert/remove, fixed by the next lookup). */
  private dirty = false;

  // Terms: distinct (word, word mask) pairs used by some subtable, with a reference count.
  private termIds = new Map<number, number>();
  private termWord = new Int32Array(8);
  private termMask = new Int32Array(8);
  private termSeeds = new Int32Array(8);
  private termRefs = new Int32Array(8);
  private freeTerms: number[] = [];
  private nTerms = 0;
  /** Per-lookup scratch: a term's hash contribution, by term id. */
  private th = new Int32Array(8);
  /**
   * Stages: `stageTerms[stageOff[s] … stageOff[s+1]]` are the terms subtable `s` (in scan
   * order) uses and no earlier subtable does. The lookup computes them on reaching subtable s,
   * so a scan that stops early never pays for the terms of subtables it did not visit.
   * `stageWord`, `stageMask`, `stageSeed` copy those terms' word, mask and seed, in the same
   * order. Of these, the ones before `stageStoreOff[s]` are used by no later subtable, so their
   * contributions are not stored. `reuseTerms[reuseOff[s] … reuseOff[s+1]]` are its other terms,
   * computed earlier.
   */
  private stageOff = new Int32Array(1);
  private stageStoreOff = new Int32Array(0);
  private stageTerms = new Int32Array(0);
  private stageWord = new Int32Array(0);
  private stageMask = new Int32Array(0);
  private stageSeed = new Int32Array(0);
  private reuseOff = new Int32Array(1);
  private reuseTerms = new Int32Array(0);

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
    if (!Number.isInteger(r.priority) || r.priority < 0 || r.priority > 0x3fffffff) {
      throw new RangeError(`classifier rule priority ${r.priority} is not an integer in 0…2^30−1`);
    }
    if (this.nextSeq >= MAX_SEQ) this.renumber();
    r.seq = this.nextSeq++;
    let st = this.subtableOf(r.mask);
    if (!st) {
      const mk = maskKey(r.mask);
      st = this.newSubtable(Int32Array.from(r.mask));
      this.byMask.set(mk, st);
      this.subtables.push(st);
      this.dirty = true;
    }
    const mp = st.maxPriority;
    const ms = st.minSeqAtMax;
    const dups = st.dupHashes;
    st.insert(r);
    this.lastSt = st;
    this.n++;
    this.settle(st, mp, ms, dups);
  }

  /**
   * After a rule went into or out of an existing subtable: the scan order and stage lists depend
   * only on each subtable's best (priority, sequence) and on the set of subtables, so they are
   * rebuilt (lazily, by the next lookup) only when those changed. A learned flow joining a
   * subtable below its best rule therefore costs no re-sort. The duplicate-hash count is kept
   * exact either way.
   */
  private settle(st: Subtable<R>, mp: number, ms: number, dups: number): void {
    if (st.maxPriority !== mp || st.minSeqAtMax !== ms) this.dirty = true;
    if (!this.dirty) this.dupHashes += st.dupHashes - dups;
  }

  /**
   * The subtable holding rules with exactly `mask`, if any. Rules often come with the mask of the
   * previous one (learned flows share theirs), so the last subtable used is tried first (its mask
   * compared word by word) before building the mask's key.
   */
  private subtableOf(mask: Int32Array): Subtable<R> | undefined {
    const last = this.lastSt;
    if (last !== undefined && last.count > 0 && sameMask(last.mask, mask)) return last;
    const st = this.byMask.get(maskKey(mask));
    if (st !== undefined) this.lastSt = st;
    return st;
  }

  /**
   * The rule with exactly this priority and match, if any (OVS `classifier_find_rule_exactly`:
   * an OpenFlow "identical" flow). `value` must be masked by `mask`, as a rule's is.
   */
  findExact(priority: number, value: Int32Array, mask: Int32Array): R | null {
    const st = this.subtableOf(mask);
    if (st === undefined) return null;
    const list = st.entryRules(value);
    if (list !== null) for (let i = 0; i < list.length; i++) if (list[i]!.priority === priority) return list[i]!;
    return null;
  }

  remove(r: R): boolean {
    const st = this.subtableOf(r.mask);
    if (!st) return false;
    const mp = st.maxPriority;
    const ms = st.minSeqAtMax;
    const dups = st.dupHashes;
    if (!st.remove(r)) return false;
    this.n--;
    if (st.count === 0) {
      this.byMask.delete(maskKey(st.mask));
      this.subtables.splice(this.subtables.indexOf(st), 1);
      for (let j = 0; j < st.k; j++) this.releaseTerm(st.terms[j]!);
      this.dirty = true;
    } else this.settle(st, mp, ms, dups);
    return true;
  }

  /** Packs sequence numbers back to 0 … n−1, keeping their order (after ~2^30 inserts). */
  private renumber(): void {
    const all = this.subtables.flatMap((st) => st.rules.flat()).sort((a, b) => a.seq - b.seq);
    all.forEach((r, i) => (r.seq = i));
    this.nextSeq = all.length;
    for (const st of this.subtables) st.refresh();
    this.dirty = true;
  }

  private newSubtable(mask: Int32Array): Subtable<R> {
    const terms: number[] = [];
    const words: number[] = [];
    const seeds: number[] = [];
    for (let i = 0; i < KEY_WORDS; i++) {
      if (mask[i] === 0) continue;
      const t = this.acquireTerm(i, mask[i]!);
      terms.push(t);
      words.push(i);
      seeds.push(this.termSeeds[t]!);
    }
    return new Subtable<R>(mask, Int32Array.from(terms), Int32Array.from(words), Int32Array.from(seeds));
  }

  private acquireTerm(word: number, mask: number): number {
    const key = word * 0x1_0000_0000 + (mask >>> 0);
    let t = this.termIds.get(key);
    if (t === undefined) {
      t = this.freeTerms.pop() ?? this.nTerms++;
      if (t >= this.termWord.length) {
        const n = 2 * this.termWord.length;
        for (const name of ['termWord', 'termMask', 'termSeeds', 'termRefs', 'th'] as const) {
          const a = new Int32Array(n);
          a.set(this[name]);
          this[name] = a;
        }
      }
      this.termIds.set(key, t);
      this.termWord[t] = word;
      this.termMask[t] = mask;
      this.termSeeds[t] = termSeed(word, mask);
      this.termRefs[t] = 0;
    }
    this.termRefs[t]!++;
    return t;
  }

  private releaseTerm(t: number): void {
    if (--this.termRefs[t]! > 0) return;
    this.termIds.delete(this.termWord[t]! * 0x1_0000_0000 + (this.termMask[t]! >>> 0));
    this.freeTerms.push(t);
  }

  /** Sorts subtables by their best possible rule and rebuilds the stage lists. */
  private order(): void {
    this.subtables.sort((a, b) => b.maxPriority - a.maxPriority || a.minSeqAtMax - b.minSeqAtMax);
    const seen = new Uint8Array(this.termWord.length);
    const reused = new Uint8Array(this.termWord.length);
    for (const st of this.subtables) {
      for (const t of st.terms) {
        if (seen[t] === 1) reused[t] = 1;
        seen[t] = 1;
      }
    }
    seen.fill(0);
    const off = new Int32Array(this.subtables.length + 1);
    const storeOff = new Int32Array(this.subtables.length);
    const reuseOff = new Int32Array(this.subtables.length + 1);
    const list: number[] = [];
    const reuse: number[] = [];
    this.subtables.forEach((st, s) => {
      // New terms that no later subtable uses first: their contributions need not be stored.
      for (const pass of [0, 1]) {
        if (pass === 1) storeOff[s] = list.length;
        for (let j = 0; j < st.k; j++) {
          const t = st.terms[j]!;
          if (reused[t] !== pass) continue;
          if (seen[t] === 0) {
            seen[t] = 2;
            list.push(t);
          } else if (pass === 1 && seen[t] === 1) reuse.push(t);
        }
      }
      for (let j = 0; j < st.k; j++) seen[st.terms[j]!] = 1;
      off[s + 1] = list.length;
      reuseOff[s + 1] = reuse.length;
    });
    this.stageStoreOff = storeOff;
    this.stageOff = off;
    this.stageTerms = Int32Array.from(list);
    this.stageWord = Int32Array.from(list, (t) => this.termWord[t]!);
    this.stageMask = Int32Array.from(list, (t) => this.termMask[t]!);
    this.stageSeed = Int32Array.from(list, (t) => this.termSeeds[t]!);
    this.reuseOff = reuseOff;
    this.reuseTerms = Int32Array.from(reuse);
    this.dupHashes = this.subtables.reduce((n, st) => n + st.dupHashes, 0);
    this.dirty = false;
  }

  /**
   * The best rule matching `key`, or null. Allocation-free (after a change, one re-sort).
   *
   * Per subtable the hit or miss is random, so branches on it mispredict about every other
   * visit; that, not arithmetic, dominated the cost. So a visit trusts the 32-bit hash: the probe
   * yields an entry (or the sentinel 0) and the better of it and the best so far is chosen with
   * sign-mask arithmetic, no branch. Only the final winner is verified word by word; if it does
   * not match (a hash collision with some other value) the lookup is redone by `exactLookup`.
   * That is exact: every true match in a visited subtable was a candidate, and the scan stopped
   * on the winner's bound, so a verified winner is the true best. Subtables holding two entries
   * with one hash would hide the second from this scheme; while any exists, lookups go exact.
   */
  lookup(key: Int32Array): R | null {
    if (this.dirty) this.order();
    if (this.dupHashes > 0) return this.exactLookup(key);
    const sts = this.subtables;
    let bestPri = -1;
    let bestSeq = 0;
    let bestS = -1;
    let bestE = 0;
    for (let s = 0; s < sts.length; s++) {
      const st = sts[s]!;
      // Sorted order: once a subtable's best rule cannot beat the match, no later one can.
      const mp = st.maxPriority;
      if (mp < bestPri || (mp === bestPri && st.minSeqAtMax >= bestSeq)) break;
      const h = this.subtableHash(s, key);
      const slots = st.slots;
      let b = 4 * (h >>> st.slotShift);
      let sh = slots[b]!;
      let e1 = slots[b + 1]!;
      if (sh !== h && e1 !== 0) {
        // Home slot taken by another entry (rare at ≤ 1/8 load): probe on.
        const m = 4 * st.slotMask;
        do {
          b = (b + 4) & m;
          sh = slots[b]!;
          e1 = slots[b + 1]!;
        } while (sh !== h && e1 !== 0);
      }
      // The slot's entry, priority and sequence if its hash matched, else (0, −1, 0): never best.
      const x = sh ^ h;
      const hit = ~((x | -x) >> 31);
      const e = e1 & hit;
      const p = slots[b + 2]! | ~hit;
      const q = slots[b + 3]! & hit;
      // take = −1 if (p, q) beats (bestPri, bestSeq): higher priority, or equal and earlier.
      const dp = p ^ bestPri;
      const take = ((bestPri - p) >> 31) | (~((dp | -dp) >> 31) & ((q - bestSeq) >> 31));
      bestPri = (p & take) | (bestPri & ~take);
      bestSeq = (q & take) | (bestSeq & ~take);
      bestS = (s & take) | (bestS & ~take);
      bestE = (e & take) | (bestE & ~take);
    }
    if (bestS < 0) return null;
    const st = sts[bestS]!;
    const k = st.k;
    const vals = st.vals;
    const words = st.words;
    const wm = st.wordMasks;
    const base = (bestE - 1) * k;
    let diff = 0;
    for (let j = 0; j < k; j++) diff |= (key[words[j]!]! & wm[j]!) ^ vals[base + j]!;
    return diff === 0 ? st.rules[bestE - 1]![0]! : this.exactLookup(key);
  }

  /**
   * The hash of `key` under subtable `s`'s mask: the XOR of its terms' hashes. Terms this subtable
   * is the first to use are computed and stored in `th`; terms an earlier subtable already
   * computed in this lookup are read back, so a shared (word, mask) piece is hashed once.
   */
  private subtableHash(s: number, key: Int32Array): number {
    const th = this.th;
    const sw = this.stageWord;
    const sm = this.stageMask;
    const ss = this.stageSeed;
    const newTerms = this.stageTerms;
    const reTerms = this.reuseTerms;
    let h = 0;
    const q1 = this.stageStoreOff[s]!;
    for (let q = this.stageOff[s]!; q < q1; q++) h ^= termHash(key[sw[q]!]! & sm[q]!, ss[q]!);
    for (let q = q1, qe = this.stageOff[s + 1]!; q < qe; q++) {
      const c = termHash(key[sw[q]!]! & sm[q]!, ss[q]!);
      th[newTerms[q]!] = c;
      h ^= c;
    }
    for (let q = this.reuseOff[s]!, qe = this.reuseOff[s + 1]!; q < qe; q++) h ^= th[reTerms[q]!]!;
    return h;
  }

  /**
   * The same search with every candidate verified before it can become the best: used when some
   * subtable holds two entries with the same full hash, or when `lookup`'s final check fails.
   */
  private exactLookup(key: Int32Array): R | null {
    const sts = this.subtables;
    let best: R | null = null;
    let bestPri = -1;
    let bestSeq = 0;
    for (let s = 0; s < sts.length; s++) {
      const st = sts[s]!;
      // Sorted order: once a subtable's best rule cannot beat the match, no later one can.
      const mp = st.maxPriority;
      if (mp < bestPri || (mp === bestPri && st.minSeqAtMax >= bestSeq)) break;
      const h = this.subtableHash(s, key);
      const k = st.k;
      const slots = st.slots;
      const m = st.slotMask;
      for (let i = h >>> st.slotShift; ; i = (i + 1) & m) {
        const e1 = slots[4 * i + 1]!;
        if (e1 === 0) break;
        if (slots[4 * i] !== h) continue;
        // Only an entry that would beat the best so far is worth verifying; one that would not
        // is skipped even if it matches (an equal-hash entry further on might still beat it).
        const p = st.headPri[e1]!;
        const q = st.headSeq[e1]!;
        if (p < bestPri || (p === bestPri && q > bestSeq)) continue;
        const vals = st.vals;
        const words = st.words;
        const wm = st.wordMasks;
        const base = (e1 - 1) * k;
        let diff = 0;
        for (let j = 0; j < k; j++) diff |= (key[words[j]!]! & wm[j]!) ^ vals[base + j]!;
        if (diff !== 0) continue;
        best = st.rules[e1 - 1]![0]!;
        bestPri = p;
        bestSeq = q;
        break;
      }
    }
    return best;
  }

  /** The subtables in lookup order (for megaflow.ts's trace-only wildcard tracking). */
  subtablesInOrder(): readonly Subtable<R>[] {
    if (this.dirty) this.order();
    return this.subtables;
  }

  /** Every rule, in priority order (highest first, then insertion order). */
  rules(): R[] {
    const all: R[] = [];
    for (const st of this.subtables) for (const list of st.rules) all.push(...list);
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
