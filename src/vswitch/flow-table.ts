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
  /**
   * When it was last added, or refreshed or replaced by `learn` (ofproto.c `rule->modified`: the
   * hard timeout counts from here, dump-flows' hard_age). A refresh leaves `lastUsedNs` alone.
   */
  modifiedNs: number;
  lastUsedNs: number;
  removed: boolean;
  /**
   * For flows made by `learn`: the learned values and the learn action that last wrote the flow
   * (identity only), to recognise an identical re-learn without comparing actions. A flow added
   * otherwise and later replaced by a learn keeps these unset (and its OpenFlow 1.0 add flags).
   */
  learnSig?: string;
  learnedBy?: object | undefined;
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
  learnedBy?: object | undefined;
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
  /** Called after a rule left the tables (the OpenFlow channel sends FLOW_REMOVED from here). */
  onRemoved: ((rule: FlowRule, reason: FlowRemoveReason) => void) | null = null;

  /**
   * `lazyMatch`: the rule's `matchText` is formatted from its match when first read (learned
   * flows: thousands a second are added, few are ever printed); `p.matchText` is ignored.
   */
  add(p: ParsedFlow, nowNs: number, lazyMatch = false, hint?: { old: FlowRule | null }): FlowRule {
    const rule: FlowRule = new Rule(p, nowNs, lazyMatch ? null : p.matchText);
    let cls = this.tables.get(p.table);
    if (!cls) {
      cls = new Classifier<FlowRule>();
      this.tables.set(p.table, cls);
    }
    // ovs-ofctl add-flow with an identical match and priority replaces the rule (OFPFC_ADD).
    // `hint`: the caller just ran find() on this very match (its answer still holds).
    const old = hint ? hint.old : cls.findExact(rule.priority, rule.value, rule.mask);
    if (old) this.remove(old, 'replace');
    cls.insert(rule);
    trackConjunctions(cls, rule.actions, 1);
    this.stamp(rule.table);
    return rule;
  }

  /**
   * The rule with exactly this table, priority and match (OpenFlow's "identical flow"), if any:
   * the classifier finds it (`classifier_find_rule_exactly`). `value` must be masked by `mask`.
   */
  find(table: number, priority: number, value: Int32Array, mask: Int32Array): FlowRule | null {
    const cls = this.tables.get(table);
    return cls === undefined ? null : cls.findExact(priority, value, mask);
  }

  remove(rule: FlowRule, reason: FlowRemoveReason = 'delete'): void {
    if (rule.removed) return;
    const cls = this.tables.get(rule.table);
    if (cls?.remove(rule)) trackConjunctions(cls, rule.actions, -1);
    rule.removed = true;
    this.stamp(rule.table);
    this.onRemoved?.(rule, reason);
  }

  clear(): void {
    for (const cls of this.tables.values()) for (const r of cls.rules()) r.removed = true;
    this.tables.clear();
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
    // No longer known to be what a learn action would write (bridge.ts learnFlow compares again).
    r.learnedBy = undefined;
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
