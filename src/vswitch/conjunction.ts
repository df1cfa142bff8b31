/**
 * Conjunctive matches: `conjunction(id,k/n)` actions and `conj_id=` (ovs-fields(7) "Conjunctive
 * Match Fields", ovs-actions(7) "conjunction").
 *
 * What? A flow whose actions are `conjunction(...)` is never the result of a lookup by itself: it
 * is clause k of an n-clause conjunction `id` (a "soft" match, OVS's words). If, at the highest
 * priority where the packet matches anything, every clause 1..n of some id matches, the lookup is
 * repeated with `conj_id=id` set in the packet, and the ordinary ("hard") flow that this finds wins.
 *
 * The lookup follows lib/classifier.c `classifier_lookup__` / `find_conjunctive_match` step by
 * step, because its corners are observable (and recorded from OVS 3.1 in test/fixtures/ovs-conj):
 * - each subtable (one mask) yields only its best matching entry's head rule; a lower-priority
 *   rule with the identical match is reached only when the soft loop drops back a priority
 *   (`next_visible_rule_in_list`), and never by the conj_id re-lookup, which ignores soft rules;
 * - a hard match at the soft matches' priority or above wins (`hard_pri >= soft_pri`);
 * - a conjunction with n clauses is only considered when at least n soft matches share the
 *   priority, and the clause bitmap starts as `UINT64_MAX << (n & 63)` (so, as in OVS, a 64-clause
 *   conjunction completes with any one of its clauses once 64 soft matches share the priority);
 * - the re-lookup returns the best hard rule matching with conj_id set, whatever its match: with no
 *   `conj_id=id` flow, a catch-all wins; if it finds nothing, the next complete id is tried.
 * Megaflow: the wildcards of every subtable visited, in both lookups, accumulate (conj_id itself is
 * not a datapath field and is cleared when the megaflow is printed).
 *
 * Invariants: used only for tables holding at least one conjunction flow (`hasConjunctions`), so
 * other tables keep the fast `Classifier.lookup`; with and without wildcard tracking the same rule
 * is chosen (the staged `findMatchWc` returns exactly the plain match).
 * Costs: O(subtables + matching rules) per lookup with small allocations, plus one re-lookup per
 * complete conjunction tried.
 */
import type { Action } from './actions.js';
import type { Classifier, ClsRule } from './classifier.js';
import { W_CONJ_ID } from './fields.js';
import { findMatchWc, prefixTries, type Sub } from './megaflow.js';

export type ConjunctionAction = { type: 'conjunction'; id: number; clause: number; nClauses: number };

interface ConjRule extends ClsRule {
  actions: Action[];
}

/** Conjunction flows per classifier (kept by FlowTables on add, remove and modify). */
const counts = new WeakMap<object, number>();

export function isConjunctive(actions: readonly Action[]): boolean {
  return actions.some((a) => a.type === 'conjunction');
}

/** FlowTables calls this when a rule with these actions enters (+1) or leaves (−1) `cls`. */
export function trackConjunctions(cls: object, actions: readonly Action[], delta: 1 | -1): void {
  if (!isConjunctive(actions)) return;
  const n = (counts.get(cls) ?? 0) + delta;
  if (n > 0) counts.set(cls, n);
  else counts.delete(cls);
}

export function hasConjunctions(cls: object): boolean {
  return counts.has(cls);
}

/** The conjunctions a soft rule belongs to (its `cls_conjunction_set`), in action order. */
function conjSet(r: ConjRule): ConjunctionAction[] | null {
  let out: ConjunctionAction[] | null = null;
  for (const a of r.actions) if (a.type === 'conjunction') (out ??= []).push(a);
  return out;
}

interface Soft<R> {
  list: R[];
  idx: number;
  conj: ConjunctionAction[];
  priority: number;
}

const ALL = (1n << 64n) - 1n;

/**
 * `classifier_lookup__`: the winning rule for `key` in a table with conjunction flows, OR-ing the
 * examined key bits into `wc` when given.
 */
export function conjunctiveLookup<R extends ConjRule>(cls: Classifier<R>, key: Int32Array, wc: Int32Array | null, allowConj = true): R | null {
  const subs = cls.subtablesInOrder() as readonly Sub<R>[];
  const trie = wc !== null ? prefixTries(subs, key) : null;
  let hard: R | null = null;
  let hardPri = -1;
  let softPri = -1;
  const soft: (Soft<R> | null)[] = [];
  for (const st of subs) {
    // PVECTOR_FOR_EACH_PRIORITY(subtable, hard_pri + 1, …): only subtables that could beat `hard`.
    if (hard !== null && st.maxPriority <= hardPri) break;
    const list = matchList(st, key, wc, trie);
    if (list === null) continue;
    const m = list[0]!;
    if (hard !== null && m.priority <= hardPri) continue;
    const conj = conjSet(m);
    if (conj === null) {
      hard = m;
      hardPri = m.priority;
    } else if (allowConj) {
      soft.push({ list, idx: 0, conj, priority: m.priority });
      if (m.priority > softPri) softPri = m.priority;
    }
  }
  if (soft.length === 0 || (hard !== null && hardPri >= softPri)) return hard;

  for (;;) {
    // Drop exhausted soft matches and those a hard match outranks.
    for (let i = 0; i < soft.length; ) {
      const s = soft[i];
      if (s === null || s === undefined || (hard !== null && s.priority <= hardPri)) {
        soft[i] = soft[soft.length - 1]!;
        soft.pop();
      } else i++;
    }
    if (soft.length === 0) break;
    let pri = -1;
    let nAtPri = 0;
    for (const s of soft) {
      if (s!.priority > pri) {
        pri = s!.priority;
        nAtPri = 1;
      } else if (s!.priority === pri) nAtPri++;
    }
    const matches = new Map<number, bigint>();
    for (const s of soft) {
      if (s!.priority !== pri) continue;
      const id = findConjunctiveMatch(s!.conj, nAtPri, matches);
      if (id === null) continue;
      const saved = key[W_CONJ_ID]!;
      key[W_CONJ_ID] = id | 0;
      const r = conjunctiveLookup(cls, key, wc, false);
      key[W_CONJ_ID] = saved;
      if (r !== null) return r;
    }
    // No real match at this priority: step each of its soft matches down its identical-match list.
    for (let i = 0; i < soft.length; i++) {
      const s = soft[i]!;
      if (s.priority !== pri) continue;
      const next = s.list[s.idx + 1];
      if (next === undefined) {
        soft[i] = null;
        continue;
      }
      const conj = conjSet(next);
      if (conj === null) {
        if (hard === null || next.priority > hardPri) {
          hard = next;
          hardPri = next.priority;
        }
        soft[i] = null;
      } else soft[i] = { list: s.list, idx: s.idx + 1, conj, priority: next.priority };
    }
  }
  return hard;
}

/** `find_conjunctive_match`: the id of a conjunction this soft match completes, if any. */
function findConjunctiveMatch(set: readonly ConjunctionAction[], maxClauses: number, matches: Map<number, bigint>): number | null {
  let min = 64;
  for (const c of set) if (c.nClauses < min) min = c.nClauses;
  if (maxClauses < min) return null;
  for (const c of set) {
    if (c.nClauses > maxClauses) continue;
    let bits = matches.get(c.id);
    if (bits === undefined) bits = (ALL << BigInt(c.nClauses & 63)) & ALL;
    bits |= 1n << BigInt(c.clause - 1);
    matches.set(c.id, bits);
    if (bits === ALL) return c.id;
  }
  return null;
}

/** The subtable's entry (its rules, best first) that matches `key`, tracking wildcards if asked. */
function matchList<R extends ClsRule>(st: Sub<R>, key: Int32Array, wc: Int32Array | null, trie: ReturnType<typeof prefixTries> | null): R[] | null {
  if (wc !== null) {
    const head = findMatchWc(st, key, wc, trie!);
    return head === null ? null : st.rules.find((l) => l[0] === head) ?? null;
  }
  const mask = st.mask;
  for (const list of st.rules) {
    const v = list[0]!.value;
    let ok = true;
    for (let w = 0; ok && w < mask.length; w++) ok = (key[w]! & mask[w]!) === v[w];
    if (ok) return list;
  }
  return null;
}
