/**
 * A bridge's OpenFlow tables: rules with counters and timeouts, one classifier per table, and
 * `ovs-ofctl dump-flows` output.
 *
 * Timeouts run in virtual time (`ofproto.c` `ofproto_rule_expire`): a rule with `hard_timeout`
 * is removed that many seconds after it was added; one with `idle_timeout` when it has matched
 * no packet for that long. Expiry is checked by a scheduled event per rule (rescheduled when
 * traffic kept an idle rule alive), so an idle simulation stays idle.
 */
import type { SourceLocation } from '../errors.js';
import type { Action } from './actions.js';
import { Classifier, type ClsRule } from './classifier.js';
import { trackConjunctions } from './conjunction.js';
import type { ParsedFlow } from './flow-parser.js';
import { formatMatch } from './match-format.js';

export interface FlowRule extends ClsRule {
  table: number;
  cookie: bigint;
  idleTimeout: number;
  hardTimeout: number;
  actions: Action[];
  matchText: string;
  actionsText: string;
  location: SourceLocation;
  nPackets: number;
  nBytes: number;
  createdNs: number;
  /** When it was last added or refreshed by `learn` (the hard timeout counts from here). */
  modifiedNs: number;
  lastUsedNs: number;
  removed: boolean;
  /** For flows made by `learn`: the learned values, to recognise an identical re-learn. */
  learnSig?: string;
  /** `send_flow_rem`: a controller would get an OFPT_FLOW_REMOVED when the flow goes. */
  sendFlowRem: boolean;
}

/** FlowTables' rules: one class, so every rule has one shape (a learned flow's text is lazy). */
class Rule implements FlowRule {
  priority: number;
  seq = 0;
  value: Int32Array;
  mask: Int32Array;
  table: number;
  cookie: bigint;
  idleTimeout: number;
  hardTimeout: number;
  actions: Action[];
  actionsText: string;
  location: SourceLocation;
  nPackets = 0;
  nBytes = 0;
  createdNs: number;
  modifiedNs: number;
  lastUsedNs: number;
  removed = false;
  learnSig?: string;
  sendFlowRem: boolean;
  private text: string | null;

  constructor(p: ParsedFlow, nowNs: number, matchText: string | null) {
    this.priority = p.priority;
    this.value = p.value;
    this.mask = p.mask;
    this.table = p.table;
    this.cookie = p.cookie;
    this.idleTimeout = p.idleTimeout;
    this.hardTimeout = p.hardTimeout;
    this.actions = p.actions;
    this.actionsText = p.actionsText;
    this.location = p.location;
    this.createdNs = nowNs;
    this.modifiedNs = nowNs;
    this.lastUsedNs = nowNs;
    this.sendFlowRem = p.flags?.includes('send_flow_rem') ?? false;
    this.text = matchText;
  }

  get matchText(): string {
    return (this.text ??= formatMatch(this.value, this.mask));
  }

  set matchText(t: string) {
    this.text = t;
  }
}

export interface FlowStats {
  table: number;
  priority: number;
  cookie: string;
  match: string;
  actions: string;
  n_packets: number;
  n_bytes: number;
  duration_ns: number;
  idle_age_ns: number;
  location: string;
}

const NS_PER_S = 1_000_000_000;

/**
 * Why a rule left the tables (OpenFlow `ofp_flow_removed_reason` plus `replace`: an identical
 * OFPFC_ADD, which sends no FLOW_REMOVED).
 */
export type FlowRemoveReason = 'idle_timeout' | 'hard_timeout' | 'delete' | 'group_delete' | 'meter_delete' | 'replace';

export class FlowTables {
  readonly tables = new Map<number, Classifier<FlowRule>>();
  /** Bumped on every add/remove (callers fold it into their cache generation). */
  generation = 0;
  /**
   * Revalidation tags (OVS tags a datapath flow with what its translation consulted, and a
   * change revalidates only the flows it can affect, not all): `stamps[t]` is the `generation`
   * of table t's last change. A cached translation keeps the stamps of the tables it looked up
   * and is stale once one differs. `stamped` counts the changes made here; a `generation` bumped
   * by anyone else (an OpenFlow modify edits rules in place) is not covered by a stamp, so
   * `generation - stamped` changing means: drop every cached translation.
   */
  readonly stamps = new Float64Array(256);
  stamped = 0;
  /**
   * Rules by (table, priority, match), to replace an identical flow as OFPFC_ADD does: keyed by
   * a number hash of the identity (no string built per `learn`), each bucket verified word by word.
   */
  private readonly byIdentity = new Map<number, FlowRule | FlowRule[]>();
  /** The identity hash the last `find` computed (a `learn` finds, then adds the same match: `add(…, hint)`). */
  lastFindId = 0;
  /** Called after a rule left the tables (the OpenFlow channel sends FLOW_REMOVED from here). */
  onRemoved: ((rule: FlowRule, reason: FlowRemoveReason) => void) | null = null;

  /**
   * `lazyMatch`: the rule's `matchText` is formatted from its match when first read (learned
   * flows: thousands a second are added, few are ever printed); `p.matchText` is ignored.
   */
  add(p: ParsedFlow, nowNs: number, lazyMatch = false, hint?: { id: number; old: FlowRule | undefined }): FlowRule {
    const rule: FlowRule = new Rule(p, nowNs, lazyMatch ? null : p.matchText);
    let cls = this.tables.get(p.table);
    if (!cls) {
      cls = new Classifier<FlowRule>();
      this.tables.set(p.table, cls);
    }
    // ovs-ofctl add-flow with an identical match and priority replaces the rule (OFPFC_ADD).
    // `hint`: the caller just ran find() on this very match (its hash and answer still hold).
    const old = hint ? hint.old : this.find(rule.table, rule.priority, rule.value, rule.mask);
    if (old) this.remove(old, 'replace');
    const id = hint ? hint.id : identityHash(rule.table, rule.priority, rule.value, rule.mask);
    // A bucket is the rule itself until a second rule shares the hash (no array per rule).
    const bucket = this.byIdentity.get(id);
    if (bucket === undefined) this.byIdentity.set(id, rule);
    else if (Array.isArray(bucket)) bucket.push(rule);
    else this.byIdentity.set(id, [bucket, rule]);
    cls.insert(rule);
    trackConjunctions(cls, rule.actions, 1);
    this.stamp(rule.table);
    return rule;
  }

  /** The rule with exactly this table, priority and match (OpenFlow's "identical flow"), if any. */
  find(table: number, priority: number, value: Int32Array, mask: Int32Array): FlowRule | undefined {
    const id = identityHash(table, priority, value, mask);
    this.lastFindId = id;
    const bucket = this.byIdentity.get(id);
    if (bucket === undefined) return undefined;
    if (!Array.isArray(bucket)) return bucket.table === table && bucket.priority === priority && sameMatch(bucket, value, mask) ? bucket : undefined;
    for (const r of bucket) if (r.table === table && r.priority === priority && sameMatch(r, value, mask)) return r;
    return undefined;
  }

  remove(rule: FlowRule, reason: FlowRemoveReason = 'delete'): void {
    if (rule.removed) return;
    const id = identityHash(rule.table, rule.priority, rule.value, rule.mask);
    const bucket = this.byIdentity.get(id);
    if (bucket === rule) this.byIdentity.delete(id);
    else if (bucket !== undefined && Array.isArray(bucket)) {
      const at = bucket.indexOf(rule);
      if (at >= 0) {
        bucket.splice(at, 1);
        if (bucket.length === 1) this.byIdentity.set(id, bucket[0]!);
      }
    }
    const cls = this.tables.get(rule.table);
    if (cls?.remove(rule)) trackConjunctions(cls, rule.actions, -1);
    rule.removed = true;
    this.stamp(rule.table);
    this.onRemoved?.(rule, reason);
  }

  clear(): void {
    for (const cls of this.tables.values()) for (const r of cls.rules()) r.removed = true;
    this.tables.clear();
    this.byIdentity.clear();
    this.generation++;
    this.stamped++;
    this.stamps.fill(this.generation);
  }

  /**
   * The rules a modify/delete selects (ofproto.c `collect_rules_loose` / `_strict`): in table
   * `tableId` (255 = every table); loose: every rule at least as specific as the criteria
   * (`cls_rule_is_loose_match`); strict: the same match and priority; then `(cookie & mask)`
   * equal, and for deletes with `outPort` (≠ OFPP_NONE) only rules that output there.
   */
  select(c: { tableId: number; strict: boolean; priority: number; value: Int32Array; mask: Int32Array; cookie: bigint; cookieMask: bigint; outPort: number }): FlowRule[] {
    const out: FlowRule[] = [];
    for (const r of this.rules()) {
      if (c.tableId !== 255 && r.table !== c.tableId) continue;
      if ((r.cookie & c.cookieMask) !== (c.cookie & c.cookieMask)) continue;
      let ok = true;
      if (c.strict) {
        ok = r.priority === c.priority;
        for (let i = 0; ok && i < c.mask.length; i++) ok = r.mask[i] === c.mask[i] && r.value[i] === c.value[i];
      } else {
        for (let i = 0; ok && i < c.mask.length; i++) ok = (c.mask[i]! & ~r.mask[i]!) === 0 && (r.value[i]! & c.mask[i]!) === c.value[i];
      }
      if (ok && c.outPort !== 0xffff) ok = r.actions.some((a) => a.type === 'output' && a.port === c.outPort);
      if (ok) out.push(r);
    }
    return out;
  }

  /** Replaces a rule's actions (and cookie) in place, keeping its counters (OFPFC_MODIFY). */
  modifyActions(r: FlowRule, actions: FlowRule['actions'], actionsText: string, cookie: bigint | null): void {
    const cls = r.removed ? undefined : this.tables.get(r.table);
    if (cls) {
      trackConjunctions(cls, r.actions, -1);
      trackConjunctions(cls, actions, 1);
    }
    r.actions = actions;
    r.actionsText = actionsText;
    if (cookie !== null) r.cookie = cookie;
    this.stamp(r.table);
  }

  private stamp(table: number): void {
    this.generation++;
    this.stamped++;
    this.stamps[table & 255] = this.generation;
  }

  /** All rules: table ascending, then priority descending (dump-flows order). */
  rules(): FlowRule[] {
    const out: FlowRule[] = [];
    for (const t of [...this.tables.keys()].sort((a, b) => a - b)) out.push(...this.tables.get(t)!.rules());
    return out;
  }

  stats(nowNs: number): FlowStats[] {
    return this.rules().map((r) => ({
      table: r.table,
      priority: r.priority,
      cookie: `0x${r.cookie.toString(16)}`,
      match: r.matchText,
      actions: r.actionsText,
      n_packets: r.nPackets,
      n_bytes: r.nBytes,
      duration_ns: nowNs - r.createdNs,
      idle_age_ns: nowNs - r.lastUsedNs,
      location: `${r.location.file}:${r.location.line}`,
    }));
  }

  /** `ovs-ofctl dump-flows` text (OpenFlow 1.0 style, durations in virtual seconds). */
  dump(nowNs: number): string {
    const lines: string[] = [];
    for (const r of this.rules()) {
      const dur = ((nowNs - r.createdNs) / NS_PER_S).toFixed(3);
      const parts = [` cookie=0x${r.cookie.toString(16)}`, ` duration=${dur}s`];
      parts.push(` table=${r.table}`);
      parts.push(` n_packets=${r.nPackets}`, ` n_bytes=${r.nBytes}`);
      if (r.idleTimeout) parts.push(` idle_timeout=${r.idleTimeout}`);
      if (r.hardTimeout) parts.push(` hard_timeout=${r.hardTimeout}`);
      parts.push(` idle_age=${Math.floor((nowNs - r.lastUsedNs) / NS_PER_S)}`);
      const match = r.priority !== 32768 ? `priority=${r.priority}${r.matchText ? `,${r.matchText}` : ''}` : r.matchText;
      lines.push(`${parts.join(',')}, ${match}${match ? ' ' : ''}actions=${r.actionsText}`);
    }
    return lines.join('\n') + (lines.length ? '\n' : '');
  }
}

/** (table, priority, match) hashed; only the masked words (most of the 71 are wildcards). */
function identityHash(table: number, priority: number, value: Int32Array, mask: Int32Array): number {
  let h = Math.imul(table ^ 0x5bd1e995, 0x9e3779b1) ^ priority;
  for (let i = 0; i < mask.length; i++) {
    const m = mask[i]!;
    if (m === 0) continue;
    h = Math.imul(h ^ i, 0x9e3779b1);
    h = Math.imul(h ^ m, 0x85ebca6b);
    h = Math.imul(h ^ value[i]!, 0xc2b2ae35);
  }
  return h ^ (h >>> 16);
}

function sameMatch(r: FlowRule, value: Int32Array, mask: Int32Array): boolean {
  const rm = r.mask;
  const rv = r.value;
  const n = Math.max(rm.length, mask.length);
  for (let i = 0; i < n; i++) if ((rm[i] ?? 0) !== (mask[i] ?? 0) || (rv[i] ?? 0) !== (value[i] ?? 0)) return false;
  return true;
}
