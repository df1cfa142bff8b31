/**
 * One subtable of the tuple space search classifier (classifier.ts has the design essay): every
 * rule here has the same mask, so a key can match at most one masked value here.
 *
 * Layout, chosen for the lookup loop in `Classifier.lookup` (no objects touched until a match):
 * - The mask is a list of *terms* (word index, word mask), numbered by the classifier so that
 *   subtables sharing a term share its per-lookup work (masked word + its hash contribution).
 * - An *entry* is one distinct masked value. `vals[e*k + j]` is its word for term j; `rules[e]`
 *   its rules, sorted by `ruleBefore`, so the head is the entry's best; `headPri[e+1]` and
 *   `headSeq[e+1]` copy the head's priority and sequence number into typed arrays. Index 0 is a
 *   sentinel (priority −1, never the best) that a lookup lands on when the probe finds nothing,
 *   which lets it pick the better candidate with integer arithmetic instead of branches.
 * - `slots` is an open-addressing table (linear probing, ≤ 1/8 full so a probe usually ends at
 *   the first slot) of 4 words per slot: an entry's hash, its index + 1 (0 = empty), and its
 *   head's priority and sequence number again, so a probe reads one cache line. An empty slot
 *   reads (0, 0, −1, MAX_SEQ): priority −1 never beats anything.
 *   Entries with colliding hashes get separate slots; a lookup verifies every word before
 *   trusting a slot, so collisions cost time, never correctness. Removal uses backward-shift
 *   deletion (no tombstones) and moves the last entry into the hole, so entries stay dense.
 */
import type { ClsRule } from './classifier.js';

/** Odd multiplier of `termHash` (2^32 / golden ratio); exported so tests can build collisions. */
export const TERM_MULT = 0x9e3779b1 | 0;

/**
 * Hash contribution of masked word `v` for a term with seed `seed`: one multiply (Knuth's
 * multiplicative hashing). A subtable's hash is the XOR of its terms' contributions and its home
 * slot is the hash's top bits, which depend on every bit of every word.
 */
export function termHash(v: number, seed: number): number {
  return Math.imul(v ^ seed, TERM_MULT);
}

/** A term's seed, derived from (word, mask) so equal terms hash alike in every classifier. */
export function termSeed(word: number, mask: number): number {
  let h = Math.imul(word + 1, TERM_MULT) ^ mask;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b); // murmur3 fmix32
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Orders rules: higher priority first, then earlier insertion. */
export function ruleBefore(a: ClsRule, b: ClsRule): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
}

function emptySlots(cap: number): Int32Array<ArrayBuffer> {
  const a = new Int32Array(4 * cap);
  for (let i = 0; i < cap; i++) clearSlot(a, i);
  return a;
}

function clearSlot(a: Int32Array, i: number): void {
  a[4 * i] = 0;
  a[4 * i + 1] = 0;
  a[4 * i + 2] = -1;
  a[4 * i + 3] = MAX_SEQ;
}

function grow(a: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}

/** Sequence numbers stay below this (the classifier renumbers), so they fit int32 arithmetic. */
export const MAX_SEQ = 0x3fffffff;

export class Subtable<R extends ClsRule> {
  readonly mask: Int32Array;
  /** Classifier term ids, in word order. */
  readonly terms: Int32Array;
  /** Key word index and word mask of each term. */
  readonly words: Int32Array;
  readonly wordMasks: Int32Array;
  /** Seed of each term (a copy of the classifier's, for hashing rule values). */
  private readonly seeds: Int32Array;
  readonly k: number;

  slots = emptySlots(8);
  slotMask = 7;
  /** A hash's home slot is its top bits, `h >>> slotShift` (multiplicative hashing). */
  slotShift = 29;
  vals: Int32Array;
  rules: R[][] = [];
  headPri = Int32Array.of(-1, 0, 0, 0, 0);
  headSeq = Int32Array.of(MAX_SEQ, 0, 0, 0, 0);
  private entHash = new Int32Array(4);
  /** Entry hashes held by more than one entry (full 32-bit collisions): lookups go exact. */
  dupHashes = 0;
  nEntries = 0;

  /** Best (priority, seq) held here: the subtable order and early exit use them. */
  maxPriority = -1;
  minSeqAtMax = 0;
  count = 0;

  constructor(mask: Int32Array, terms: Int32Array, words: Int32Array, seeds: Int32Array) {
    this.mask = mask;
    this.terms = terms;
    this.words = words;
    this.wordMasks = words.map((w) => mask[w]!);
    this.seeds = seeds;
    this.k = terms.length;
    this.vals = new Int32Array(4 * Math.max(1, this.k));
  }

  /** Hash of a rule's (pre-masked) value, equal to what a lookup computes for a matching key. */
  hashValue(value: Int32Array): number {
    let h = 0;
    for (let j = 0; j < this.k; j++) h ^= termHash(value[this.words[j]!]!, this.seeds[j]!);
    return h;
  }

  /** Entry index holding exactly `value`'s masked words, or -1. */
  private findEntry(value: Int32Array, h: number): number {
    const slots = this.slots;
    const m = this.slotMask;
    const k = this.k;
    for (let i = h >>> this.slotShift; ; i = (i + 1) & m) {
      const e1 = slots[4 * i + 1]!;
      if (e1 === 0) return -1;
      if (slots[4 * i] !== h) continue;
      const base = (e1 - 1) * k;
      let j = 0;
      while (j < k && this.vals[base + j] === value[this.words[j]!]) j++;
      if (j === k) return e1 - 1;
    }
  }

  /** The rules of the entry holding exactly `value`'s masked words (value pre-masked), or null. */
  entryRules(value: Int32Array): R[] | null {
    const e = this.findEntry(value, this.hashValue(value));
    return e < 0 ? null : this.rules[e]!;
  }

  /**
   * How many entries have hash `h`. All of them sit in the run of occupied slots starting at
   * h's home slot (linear probing; backward-shift deletion leaves no gap between an entry and its
   * home), so the count scans that run only.
   */
  private hashCount(h: number): number {
    const slots = this.slots;
    const m = this.slotMask;
    let n = 0;
    for (let i = h >>> this.slotShift; slots[4 * i + 1] !== 0; i = (i + 1) & m) if (slots[4 * i] === h) n++;
    return n;
  }

  /** Slot index holding entry `e` (which must be present, with hash `h`). */
  private slotOf(e: number, h: number): number {
    const m = this.slotMask;
    let i = h >>> this.slotShift;
    while (this.slots[4 * i + 1] !== e + 1) i = (i + 1) & m;
    return i;
  }

  private place(h: number, e: number): void {
    const m = this.slotMask;
    let i = h >>> this.slotShift;
    while (this.slots[4 * i + 1] !== 0) i = (i + 1) & m;
    this.slots[4 * i] = h;
    this.slots[4 * i + 1] = e + 1;
    this.slots[4 * i + 2] = this.headPri[e + 1]!;
    this.slots[4 * i + 3] = this.headSeq[e + 1]!;
  }

  private resize(cap: number): void {
    this.slots = emptySlots(cap);
    this.slotMask = cap - 1;
    this.slotShift = 32 - Math.log2(cap);
    for (let e = 0; e < this.nEntries; e++) this.place(this.entHash[e]!, e);
  }

  private setHead(e: number): void {
    const r = this.rules[e]![0]!;
    this.headPri[e + 1] = r.priority;
    this.headSeq[e + 1] = r.seq;
    const i = this.slotOf(e, this.entHash[e]!);
    this.slots[4 * i + 2] = r.priority;
    this.slots[4 * i + 3] = r.seq;
  }

  insert(r: R): void {
    const h = this.hashValue(r.value);
    let e = this.findEntry(r.value, h);
    if (e < 0) {
      e = this.nEntries++;
      if (e + 1 === this.headPri.length) {
        const n = 2 * e;
        this.headPri = grow(this.headPri, n + 1);
        this.headSeq = grow(this.headSeq, n + 1);
        this.entHash = grow(this.entHash, n);
        this.vals = grow(this.vals, n * Math.max(1, this.k));
      }
      for (let j = 0; j < this.k; j++) this.vals[e * this.k + j] = r.value[this.words[j]!]!;
      this.entHash[e] = h;
      // A new entry: r is its only rule, so its head (placed in the slot below).
      this.rules.push([r]);
      this.headPri[e + 1] = r.priority;
      this.headSeq[e + 1] = r.seq;
      if (this.hashCount(h) === 1) this.dupHashes++; // a second entry with this hash
      if (this.nEntries * 8 > this.slotMask + 1) this.resize(2 * (this.slotMask + 1));
      else this.place(h, e);
    } else {
      const list = this.rules[e]!;
      let pos = list.length;
      while (pos > 0 && ruleBefore(r, list[pos - 1]!)) pos--;
      if (pos === list.length) list.push(r);
      else list.splice(pos, 0, r);
      this.setHead(e);
    }
    this.count++;
    if (r.priority > this.maxPriority) {
      this.maxPriority = r.priority;
      this.minSeqAtMax = r.seq;
    } else if (r.priority === this.maxPriority && r.seq < this.minSeqAtMax) this.minSeqAtMax = r.seq;
  }

  remove(r: R): boolean {
    const h = this.hashValue(r.value);
    const e = this.findEntry(r.value, h);
    if (e < 0) return false;
    const list = this.rules[e]!;
    const at = list.indexOf(r);
    if (at < 0) return false;
    list.splice(at, 1);
    this.count--;
    if (list.length > 0) this.setHead(e);
    else this.removeEntry(e, h);
    if (r.priority === this.maxPriority) this.recomputeBest();
    return true;
  }

  /** Drops empty entry `e`: backward-shift deletion of its slot, then the last entry fills the hole. */
  private removeEntry(e: number, h: number): void {
    const slots = this.slots;
    const m = this.slotMask;
    let i = this.slotOf(e, h);
    for (let j = (i + 1) & m; slots[4 * j + 1] !== 0; j = (j + 1) & m) {
      // The entry at j may move back to i unless its home slot lies cyclically in (i, j].
      const home = slots[4 * j]! >>> this.slotShift;
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      slots.copyWithin(4 * i, 4 * j, 4 * j + 4);
      i = j;
    }
    clearSlot(slots, i);
    if (this.hashCount(h) === 1) this.dupHashes--; // one entry left with this hash
    const last = --this.nEntries;
    if (e !== last) {
      const lh = this.entHash[last]!;
      slots[4 * this.slotOf(last, lh) + 1] = e + 1;
      this.vals.copyWithin(e * this.k, last * this.k, (last + 1) * this.k);
      this.entHash[e] = lh;
      this.headPri[e + 1] = this.headPri[last + 1]!;
      this.headSeq[e + 1] = this.headSeq[last + 1]!;
      this.rules[e] = this.rules[last]!;
    }
    this.rules.pop();
  }

  /** Re-reads every entry's head after the classifier renumbered sequence numbers. */
  refresh(): void {
    for (let e = 0; e < this.nEntries; e++) this.setHead(e);
    this.recomputeBest();
  }

  private recomputeBest(): void {
    let p = -1;
    let s = 0;
    for (let e = 0; e < this.nEntries; e++) {
      const hp = this.headPri[e + 1]!;
      const hs = this.headSeq[e + 1]!;
      if (hp > p || (hp === p && hs < s)) {
        p = hp;
        s = hs;
      }
    }
    this.maxPriority = p;
    this.minSeqAtMax = s;
  }
}
