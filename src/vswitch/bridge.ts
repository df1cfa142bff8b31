/**
 * A bridge: ports, OpenFlow tables, NORMAL learning, counters, loop protection. The same class
 * is every hypervisor bridge (`hv1.br0`) and every physical switch (`tor`, NORMAL-only).
 *
 * Switching is synchronous: a frame arriving through a bridge port's `receive()` is classified,
 * translated (xlate.ts) and sent out of the output ports in the same simulation event. In front
 * of translation sits an exact-match cache (classifier.ts `FlowCache`) holding whole translation
 * results; it is invalidated whenever the flow tables, the MAC table (new entry, move, eviction,
 * flush) or the port set change, and an entry also carries a deadline: the earliest expiry of the
 * MAC entries its NORMAL decision used (entries age out silently, so a hit after that time is
 * treated as a miss, as OVS's revalidators retire a datapath flow whose MAC entry expired).
 * Frames whose VLAN state the key does not capture (two tags, an 802.1ad outer tag) bypass it.
 * On a hit, the side effects are replayed: rule counters, MAC-learning refresh, packet-in events.
 * test/vswitch/cache-equivalence.test.ts checks cache on == cache off over random sequences.
 *
 * Loops: `meta.hops` counts bridge traversals; a frame arriving with `hops >= MAX_HOPS` is
 * dropped as `loop`. A hop budget alone lets a flood loop with fan-out f make f^64 copies, so a
 * storm guard also caps, per bridge and per simulation instant, how many frames that have
 * already crossed STORM_MIN_HOPS bridges it will switch (STORM_COPIES_PER_INSTANT); frames over
 * the cap are dropped as `loop` too. Legitimate paths cross far fewer than 8 bridges. Each storm
 * is reported once per bridge as a `loop` event naming the ingress port (a storm ends after one
 * virtual second without loop drops).
 */
import { UserError } from '../errors.js';
import type { EventSink } from '../port/nic.js';
import { MAX_HOPS, Port, hopMeta, type Frame, type FrameMeta, type TunnelMeta } from '../port/port.js';
import type { Simulation } from '../sim/simulation.js';
import { FlowCache } from './classifier.js';
import { KEY_WORDS, OFPP_LOCAL, PACKET_WORDS, W_IN_PORT, W_TUN_DST, W_TUN_FLAGS, W_TUN_ID, W_TUN_IPV6_DST, W_TUN_IPV6_SRC, W_TUN_MD_PRESENT, W_TUN_SRC, W_VLAN_TCI, formatMac } from './fields.js';
import { emptyKeyLayout, extractKeyWords } from './key-words.js';
import { parseFlowMod, parseFlows, type FlowModCommand, type FlowWarning, type ParsedFlowMod } from './flow-parser.js';
import { formatActions, type Action } from './actions.js';
import { canonicalFlow, dumpFlows } from './dump-flows.js';
import { learnProgram, learnedFlow, runLearnProgram, type LearnAction, type LearnProgram } from './learn.js';
import type { TlvTable } from './tun-metadata.js';
import type { OfVersion } from './flow-syntax.js';
import { FlowTables, type FlowRule, type FlowStats } from './flow-table.js';
import { MacTable, type MacEntry } from './mac-learning.js';
import { copyState, rewriteFrame, stateFromFrame, type PacketState } from './rewrite.js';
import { makeVlanConfig, type VlanMode } from './vlan.js';
import { Conntrack, type ConntrackOptions, type CtExec, type CtPacket } from './conntrack.js';
import { xlate, type XBridge, type XPort, type XlateResult } from './xlate.js';
import type { Group } from './group.js';
import { parseGroupMod, parseGroups, type GroupModCommand, type ParsedGroupMod } from './group-parser.js';
import { GroupTable, MeterTable } from './group-table.js';
import { parseMeterMod, parseMeters, type ParsedMeterMod } from './meter.js';

export const DEFAULT_MAC_AGING_NS = 300 * 1_000_000_000;
export const DEFAULT_MAC_TABLE_SIZE = 8192;
export const STORM_MIN_HOPS = 8;
export const STORM_COPIES_PER_INSTANT = 1024;
const STORM_QUIET_NS = 1_000_000_000;
/** `mac_move` events per (MAC, VLAN) and virtual second before a single `mac_flap` event. */
export const MOVE_EVENTS_PER_S = 5;
const NS_PER_S = 1_000_000_000;
const LEARN = { mayLearn: true } as const;
const SEND_FLOW_REM = ['send_flow_rem'];
/** A learn action's cookie that keeps an existing flow's cookie (learn_execute: `modify_cookie` is false). */
const COOKIE_ALL_ONES = 0xffff_ffff_ffff_ffffn;

/** Learned match values per slab (see `learnedValue`). */
const LEARN_SLAB_FLOWS = 256;
const LEARN_TRACED = { mayLearn: true, trace: true } as const;

/** Where a flow text starts in its file, and (for YAML scalars) where each of its offsets is. */
export interface FlowsOrigin {
  file: string;
  line: number;
  col: number;
  position?: (offset: number) => { line: number; col: number };
}

export interface BridgeOptions {
  /** 'hv1.br0' or 'tor'. */
  path: string;
  sim: Simulation;
  events?: EventSink;
  /** ovs-ofctl add-flows text; undefined ⇒ OVS's default table `priority=0,actions=NORMAL`. */
  flows?: string;
  /** Where `flows` starts (line of its first line, column added to each line) for error places. */
  flowsOrigin?: FlowsOrigin;
  macAgingNs?: number;
  macTableSize?: number;
  /** Exact-match cache entries (0 disables the cache). Default 8192. */
  cacheSize?: number;
  /** OpenFlow version flows are checked against, as `ovs-ofctl -O` (default 10: OpenFlow 1.0 + NXM). */
  protocols?: OfVersion;
  /** Reject flows OVS would silently change (a match field dropped for a missing prerequisite). */
  strict?: boolean;
  /** `ovs-ofctl add-groups` / `add-meters` texts, loaded before the flows (groups wait for the
   *  port names they use, as flows do). */
  groups?: string;
  groupsOrigin?: FlowsOrigin;
  meters?: string;
  metersOrigin?: FlowsOrigin;
  /** Connection tracker limits (total, default per zone, per zone); conntrack.ts has the defaults. */
  conntrack?: ConntrackOptions;
  /** The TLV map (`ovs-ofctl add-tlv-map`): which tun_metadataN fields exist (tun-metadata.ts). */
  tlv?: TlvTable;
}

export interface BridgePortOptions {
  /** Port path = `${bridge.path}.${name}`. */
  name: string;
  /** Default: lowest free number from 1. */
  ofport?: number;
  /** Default: access if `tag` is set, else trunk (OVS). */
  vlanMode?: VlanMode;
  tag?: number;
  /** Empty/undefined = all VLANs. */
  trunks?: number[];
  /** Leave the port out of NORMAL and FLOOD floods. */
  noFlood?: boolean;
  /**
   * A tunnel port (issue 14): frames output to it carry the packet's tun_id/tun_dst in
   * `meta.tunnel` (for `remote_ip=flow` / `key=flow`).
   */
  tunnel?: boolean;
}

/** What a traced bridge reports for each frame it switches (topology-mode `vfab trace`). */
export interface BridgeTraceEvent {
  bridge: string;
  inPort: string;
  hops: number;
  /** Translation steps (matched rules, actions, NORMAL decisions), as `ofproto/trace` prints them. */
  log: string[];
  outputs: { port: string; vlan: number | null }[];
  drop: string | null;
}

interface PortRec extends XPort {
  port: Port;
  tunnel: boolean;
}

interface Cached {
  res: XlateResult;
  /** `flowTables.stamps` of `res.tables` when translated: a table changed since ⇒ stale. */
  stamps: Float64Array;
  /** `flowTables.generation` when translated (unchanged ⇒ valid without looking at stamps). */
  gen: number;
  /**
   * The MAC entries `res.learns` refreshes, one per (mac, vlan, port) triple, looked up on the
   * first hit: later hits refresh them without the table's lookups (MacTable.refresh).
   */
  macs: (MacEntry | undefined)[] | null;
  /**
   * Per output: 0 not known yet, 1 the frame leaves unchanged, 2 it is rewritten. Whether
   * `rewriteFrame` changes the bytes depends only on the key words and the output state (a
   * cached frame has at most one 802.1Q tag, which the key holds), so it is decided once per
   * entry and hits skip the comparison.
   */
  same: Uint8Array | null;
}

export interface BridgeProcessResult {
  /** Translation result (outputs, matched rules, drop reason, log when traced). */
  xlate: XlateResult;
  /** Frames as they leave, per output (same order as xlate.outputs). */
  frames: { ofport: number; name: string; frame: Frame }[];
}

export class Bridge implements XBridge {
  readonly path: string;
  readonly local: Port;
  readonly flowTables = new FlowTables();
  readonly mac: MacTable;
  readonly tables = this.flowTables.tables;
  /** Groups (group:N) and meters (meter:N), ovs-ofctl add-group(s)/add-meter(s) syntax. */
  readonly groupTable = new GroupTable();
  readonly meterTable = new MeterTable();
  private seenGroupGen = -1;
  /** Port link states the cached translations assumed (only tracked while groups watch ports). */
  private seenLive = '';
  private readonly sim: Simulation;
  private readonly events: EventSink | undefined;
  private readonly userPorts: PortRec[] = [];
  private readonly byOfport = new Map<number, PortRec>();
  private readonly byName = new Map<string, PortRec>();
  private readonly localRec: PortRec;
  private all: PortRec[] = [];
  private readonly cache: FlowCache<Cached> | null;
  /** The cache entry the last `process` replayed (null: it translated), for `deliver`. */
  private hit: Cached | null = null;
  private seenFlowGen = -1;
  private seenMacGen = -1;
  private portGen = 0;
  private seenPortGen = -1;
  /** L3/L4 offsets and VLAN tags of the frame in `words` (key-words.ts). */
  private readonly lay = emptyKeyLayout();
  private readonly words = new Int32Array(KEY_WORDS);
  /** Whether `words` holds metadata from a trace flow (cleared before the next packet). */
  private metadataSet = false;
  private readonly state: PacketState = { words: new Int32Array(KEY_WORDS), tpid: 0x8100, inner: 0 };
  private stormInstant = -1;
  private stormCopies = 0;
  private lastLoopNs = -Infinity;
  /** The connection tracker `ct()` actions use (one per bridge, zones inside it). */
  readonly conntrack: Conntrack;
  /** The frame being processed, for the tracker (TCP sequence numbers, ICMP error payloads). */
  private curFrame: Frame | null = null;
  /** The next recirculation id an ofproto/trace translation allocates. */
  private traceRecircId = 1;
  /** Frames switched, cache hits (statistics). */
  switched = 0;
  /** Flows added by `learn` actions (new or changed, not refreshes). */
  learnedFlows = 0;
  /** Flows removed by timeouts, deletes, group/meter deletes (each also a `flow_removed` event). */
  flowsRemoved = 0;
  private readonly ctPacket: CtPacket = { w: new Int32Array(0), frame: null, l3: 0, l4: 0 };
  /** Per learn action: its compiled form and (for the last learned values) the actions its flows share. */
  private readonly learnMemo = new WeakMap<LearnAction, { prog: LearnProgram; sig: string | null; actions: Action[]; actionsText: string }>();
  private readonly learnLocation: { file: string; line: number; col: number };
  private learnSlab = new Int32Array(0);
  private learnSlabOff = 0;
  private traceHook: ((e: BridgeTraceEvent) => void) | null = null;
  /**
   * Called for each packet a rule sends to the controller (the OpenFlow channel turns it into a
   * PACKET_IN); null = no controller. Runs after the counters are updated, before forwarding.
   */
  packetInHook: ((inPort: number, frame: Frame, rule: FlowRule) => void) | null = null;
  /** Called after a port was added to or removed from the bridge (OpenFlow PORT_STATUS). */
  portHook: ((name: string, ofport: number, port: Port, change: 'add' | 'delete') => void) | null = null;
  private moveWindowS = -1;
  private readonly movesInWindow = new Map<number, number>();
  private pendingFlows: { text: string; origin: { file: string; line: number; col: number } | undefined } | null = null;
  private pendingGroups: { text: string; origin: FlowsOrigin | undefined } | null = null;
  private pendingError: UserError | null = null;
  private readonly parseOpts: { protocols: OfVersion; strict: boolean; groupExists: (id: number) => boolean; meterExists: (id: number) => boolean; tlv?: TlvTable };
  /** The bridge's TLV map (tun_metadataN fields), if it has one. */
  readonly tlv: TlvTable | undefined;
  /** Warnings of the flows loaded so far (fields OVS would drop), with their places. */
  flowWarnings: FlowWarning[] = [];

  constructor(opts: BridgeOptions) {
    this.path = opts.path;
    this.learnLocation = { file: `${opts.path} learn`, line: 0, col: 0 };
    this.sim = opts.sim;
    this.events = opts.events;
    this.parseOpts = {
      protocols: opts.protocols ?? 10,
      strict: opts.strict ?? false,
      groupExists: (id: number) => this.groupTable.groups.has(id),
      meterExists: (id: number) => this.meterTable.meters.has(id),
      ...(opts.tlv ? { tlv: opts.tlv } : {}),
    };
    this.tlv = opts.tlv;
    this.mac = new MacTable({
      agingNs: opts.macAgingNs ?? DEFAULT_MAC_AGING_NS,
      maxEntries: opts.macTableSize ?? DEFAULT_MAC_TABLE_SIZE,
    });
    this.conntrack = new Conntrack(opts.conntrack);
    const cacheSize = opts.cacheSize ?? 8192;
    this.cache = cacheSize > 0 ? new FlowCache<Cached>(cacheSize) : null;
    const localName = opts.path.split('.').pop() ?? opts.path;
    this.localRec = this.makeRec(localName, OFPP_LOCAL, `${opts.path}.LOCAL`, {}, false);
    this.local = this.localRec.port;
    this.byOfport.set(OFPP_LOCAL, this.localRec);
    this.rebuildAll();
    if (opts.meters !== undefined) this.loadMeters(opts.meters, opts.metersOrigin);
    if (opts.groups !== undefined) this.pendingGroups = { text: opts.groups, origin: opts.groupsOrigin };
    this.loadFlows(opts.flows, opts.flowsOrigin);
  }

  /** Loads groups waiting for port names; false (error kept) while a name is still unknown. */
  private tryPendingGroups(): boolean {
    const g = this.pendingGroups;
    if (g === null) return true;
    try {
      this.loadGroups(g.text, g.origin);
    } catch (e) {
      if (!(e instanceof UserError) || (e.code !== 'FLOW_UNKNOWN_PORT' && e.code !== 'GROUP_UNKNOWN_PORT')) throw e;
      this.pendingError = e;
      return false;
    }
    this.pendingGroups = null;
    return true;
  }

  /**
   * Replaces the flow tables with `flows` (undefined = OVS default NORMAL table).
   *
   * Flows may name bridge ports (`in_port=uplink`, `output:vm1-eth0`). A name that does not
   * exist yet (the fabric adds ports after creating the bridge) defers the table: it is parsed
   * again after every `addPort`, and until then the bridge has no flows (frames drop as
   * `table-miss`). `pendingFlowsError()` returns the unresolved-name error, so a builder can
   * report it once all ports exist. Any other error is thrown at once.
   */
  loadFlows(flows: string | undefined, origin?: FlowsOrigin): void {
    this.flowTables.clear();
    this.flowWarnings = [];
    this.pendingFlows = null;
    this.pendingError = null;
    const text = flows ?? 'priority=0,actions=NORMAL';
    if (!this.tryPendingGroups()) {
      this.pendingFlows = { text, origin };
      return;
    }
    const parsed = this.parseFlowText(text, origin);
    if (parsed instanceof UserError) {
      this.pendingFlows = { text, origin };
      this.pendingError = parsed;
      return;
    }
    for (const p of parsed) this.addRule(p);
  }

  /** Parses flows; an unknown port name comes back as the error (others are thrown). */
  private parseFlowText(text: string, origin?: FlowsOrigin): ReturnType<typeof parseFlows> | UserError {
    const base = {
      file: origin?.file ?? `${this.path} flows`,
      line: origin?.line ?? 1,
      col: origin?.col ?? 1,
      ...(origin?.position ? { position: origin.position } : {}),
      ...this.parseOpts,
    };
    try {
      const warnings: FlowWarning[] = [];
      const flows = parseFlows(text, { ...base, warnings, portByName: (n) => this.portNumber(n) });
      this.flowWarnings.push(...warnings);
      return flows;
    } catch (e) {
      if (!(e instanceof UserError) || e.code !== 'FLOW_UNKNOWN_PORT') throw e;
      // Every other mistake is reported now: parse again with any name accepted.
      parseFlows(text, { ...base, portByName: () => 0xfeff });
      return e;
    }
  }

  /** The error of flows still waiting for a port name to exist, or null. */
  pendingFlowsError(): UserError | null {
    return this.pendingError;
  }

  private retryPendingFlows(): void {
    const p = this.pendingFlows;
    if (p === null) return;
    if (!this.tryPendingGroups()) return;
    const parsed = this.parseFlowText(p.text, p.origin);
    if (parsed instanceof UserError) {
      this.pendingError = parsed;
      return;
    }
    this.pendingFlows = null;
    this.pendingError = null;
    for (const r of parsed) this.addRule(r);
  }

  /** Adds flows (like `ovs-ofctl add-flows`), keeping existing ones. */
  addFlows(flows: string, origin?: FlowsOrigin): FlowRule[] {
    const warnings: FlowWarning[] = [];
    const parsed = parseFlows(flows, {
      file: origin?.file ?? `${this.path} flows`,
      line: origin?.line ?? 1,
      col: origin?.col ?? 1,
      ...(origin?.position ? { position: origin.position } : {}),
      ...this.parseOpts,
      warnings,
      portByName: (n) => this.portNumber(n),
    });
    this.flowWarnings.push(...warnings);
    return parsed.map((p) => this.addRule(p));
  }

  private addRule(p: Parameters<FlowTables['add']>[0], lazyMatch = false, hint?: Parameters<FlowTables['add']>[3]): FlowRule {
    const rule = this.flowTables.add(p, this.sim.now, lazyMatch, hint);
    if (rule.hardTimeout > 0) {
      // ofproto.c ofproto_rule_expire: hard timeouts count from the last add/modify.
      const check = (): void => {
        if (rule.removed) return;
        const due = rule.modifiedNs + rule.hardTimeout * NS_PER_S;
        if (this.sim.now >= due) this.removeRule(rule, 'hard');
        else this.sim.scheduleAt(due, check);
      };
      this.sim.schedule(rule.hardTimeout * NS_PER_S, check);
    }
    if (rule.idleTimeout > 0) {
      const check = (): void => {
        if (rule.removed) return;
        const due = rule.lastUsedNs + rule.idleTimeout * NS_PER_S;
        if (this.sim.now >= due) this.removeRule(rule, 'idle');
        else this.sim.scheduleAt(due, check);
      };
      this.sim.schedule(rule.idleTimeout * NS_PER_S, check);
    }
    return rule;
  }

  /**
   * Removes a rule and reports a `flow_removed` event (what OFPT_FLOW_REMOVED carries: reason,
   * duration, timeouts, counters; ofproto.c `ofproto_rule_send_removed`). OVS sends the message
   * only for flows with `send_flow_rem`; the summary reports every removal and says which of them
   * a controller would have been told about (`send_flow_rem`). Reasons are OpenFlow's
   * (`ofp_flow_removed_reason`): idle, hard, delete, group_delete, meter_delete.
   */
  private removeRule(rule: FlowRule, reason: 'idle' | 'hard' | 'delete' | 'group_delete' | 'meter_delete'): void {
    if (rule.removed) return;
    // flowTables.onRemoved (the OpenFlow channel's FLOW_REMOVED) gets the reason too.
    this.flowTables.remove(rule, reason === 'idle' ? 'idle_timeout' : reason === 'hard' ? 'hard_timeout' : reason);
    this.flowsRemoved++;
    if (!this.events) return;
    const now = this.sim.now;
    this.events({
      type: 'flow_removed',
      time_ns: now,
      bridge: this.path,
      reason,
      table: rule.table,
      priority: rule.priority,
      cookie: `0x${rule.cookie.toString(16)}`,
      match: rule.matchText,
      duration_ns: now - rule.createdNs,
      idle_timeout: rule.idleTimeout,
      hard_timeout: rule.hardTimeout,
      n_packets: rule.nPackets,
      n_bytes: rule.nBytes,
      learned: rule.learnSig !== undefined,
      send_flow_rem: rule.sendFlowRem,
    });
  }

  /**
   * A controller's flow_mod, in `ovs-ofctl` syntax (`add-flow`, `mod-flows [--strict]`,
   * `del-flows [--strict]` arguments): `bridge.flowMod('delete', 'cookie=0x5/-1,tcp')`. Returns the
   * rules added, modified or deleted. A modify that selects nothing (and has no cookie mask) adds
   * the flow, as OpenFlow 1.0 requires and OVS does.
   */
  flowMod(command: FlowModCommand, text: string, origin?: { file: string; line: number; col: number }): FlowRule[] {
    const fm = parseFlowMod(command, text, {
      file: origin?.file ?? `${this.path} flow_mod`,
      line: origin?.line ?? 1,
      col: origin?.col ?? 1,
      ...this.parseOpts,
      portByName: (n) => this.portNumber(n),
    });
    return this.applyFlowMod(fm);
  }

  /** Applies an already parsed flow_mod (the OpenFlow codec builds these from the wire). */
  applyFlowMod(fm: ParsedFlowMod): FlowRule[] {
    if (fm.command === 'add') return [this.addRule(fm)];
    const sel = this.flowTables.select({ ...fm, strict: fm.command.endsWith('_strict') });
    if (fm.command === 'delete' || fm.command === 'delete_strict') {
      for (const r of sel) this.removeRule(r, 'delete');
      return sel;
    }
    if (sel.length === 0) return fm.cookieMask === 0n ? [this.addRule(fm)] : [];
    // parse_ofp_str__: a modify without a cookie mask and without a cookie sets the cookie to 0.
    const newCookie = fm.cookieGiven ? fm.cookie : fm.cookieMask === 0n ? 0n : null;
    for (const r of sel) this.flowTables.modifyActions(r, fm.actions, fm.actionsText, newCookie);
    return sel;
  }

  /**
   * XBridge: runs a `learn` action (lib/learn.c) for the packet in `w`. learn_execute makes an
   * OFPFC_MODIFY_STRICT flow_mod, so a flow with the same table, priority and match is found first
   * (ofproto.c `ofproto_flow_mod_init_for_learn`):
   * - when its idle and hard timeouts, flags (`send_flow_rem`), cookie (unless the learn's cookie
   *   is all-ones, `fm->modify_cookie` false) and actions (`ofpacts_equal`) equal the learned
   *   flow's, it is *refreshed*: only its `modified` time (hard timeout, hard_age) moves
   *   (`ofproto_flow_mod_learn_refresh`); its last-used time (idle timeout, idle_age) does not;
   * - otherwise it is *replaced* the way a modify replaces (`modify_flows_start__` →
   *   `replace_rule_start` with a command other than OFPFC_ADD): the new actions and cookie, but
   *   the old rule's idle and hard timeouts, flags and creation time; its packet and byte counts
   *   and last-used time carry over (ofproto-dpif.c `rule_insert` with `modify_keep_counts`: a
   *   learned flow_mod has no OFPUTIL_FF_RESET_COUNTS); `modified` is now
   *   (`ofproto_flow_mod_learn`). So a replace is an in-place modify here, and sends no
   *   flow_removed.
   * The comparison is cheap on the common path: a flow that this same learn action last wrote
   * with the same learned values (`learnSig`) has exactly the actions it would get; anything
   * else compares the formatted actions.
   */
  learnFlow(a: LearnAction, w: Int32Array): void {
    // Per learn action: its compiled form (learn.ts LearnProgram: the learned mask is the same for
    // every packet, the value a few word operations) and, for the last learned values, the actions.
    let memo = this.learnMemo.get(a);
    if (memo === undefined) {
      memo = { prog: learnProgram(a), sig: null, actions: [], actionsText: '' };
      this.learnMemo.set(a, memo);
    }
    const prog = memo.prog;
    const sig = runLearnProgram(prog, w);
    const value = prog.value;
    const old = this.flowTables.find(a.table, a.priority, value, prog.mask);
    const now = this.sim.now;
    // Flows of one learn action share its mask, and share their actions whenever the learned
    // values (`sig`: everything the actions depend on) are the same, so those are built once and
    // shared (read-only) by the flows.
    if (old !== null && old.learnedBy === a && old.learnSig === sig) {
      if (old.idleTimeout === a.idleTimeout && old.hardTimeout === a.hardTimeout && old.sendFlowRem === (a.sendFlowRem === true) && (old.cookie === a.cookie || a.cookie === COOKIE_ALL_ONES)) {
        old.modifiedNs = now;
        return;
      }
    }
    if (memo.sig !== sig) {
      memo.actions = learnedFlow(a, w, false).actions;
      memo.actionsText = formatActions(memo.actions);
      memo.sig = sig;
    }
    if (old !== null) {
      const sameActions = (old.learnedBy === a && old.learnSig === sig) || old.actions === memo.actions || formatActions(old.actions) === memo.actionsText;
      const keepCookie = a.cookie === COOKIE_ALL_ONES;
      if (sameActions && old.idleTimeout === a.idleTimeout && old.hardTimeout === a.hardTimeout && old.sendFlowRem === (a.sendFlowRem === true) && (keepCookie || old.cookie === a.cookie)) {
        old.modifiedNs = now;
        if (old.learnSig !== undefined) {
          old.learnedBy = a;
          old.learnSig = sig;
        }
        return;
      }
      this.flowTables.modifyActions(old, memo.actions, memo.actionsText, keepCookie ? null : a.cookie);
      old.modifiedNs = now;
      if (old.learnSig !== undefined) {
        old.learnedBy = a;
        old.learnSig = sig;
      }
      this.learnedFlows++;
      return;
    }
    // A new flow: an incremental classifier insert. The match is the one just computed (the
    // program fills exactly what learnedFlow would).
    this.learnedFlows++;
    const rule = this.addRule({
      table: a.table,
      priority: a.priority,
      idleTimeout: a.idleTimeout,
      hardTimeout: a.hardTimeout,
      cookie: a.cookie,
      value: this.learnedValue(value, prog.words),
      mask: prog.mask,
      actions: memo.actions,
      matchText: '', // formatted when first read (dump-flows, events)
      actionsText: memo.actionsText,
      location: this.learnLocation,
      warnings: [],
      ...(a.sendFlowRem ? { flags: SEND_FLOW_REM } : {}),
    }, true, { old });
    rule.learnSig = sig;
    rule.learnedBy = a;
  }

  /**
   * A copy of a learned flow's match value, carved from a shared slab: a typed array this size
   * gets its own off-heap buffer (~0.5 µs to allocate and to collect), a view of a slab does not.
   * A slab lives while any of its LEARN_SLAB_FLOWS values does (bounded: ≤ 72 KiB per live slab).
   * Slab slots start zeroed and are used once, so only the match's `words` (where `v` may be
   * nonzero) are copied.
   */
  private learnedValue(v: Int32Array, words: Int32Array): Int32Array {
    if (this.learnSlabOff + KEY_WORDS > this.learnSlab.length) {
      this.learnSlab = new Int32Array(KEY_WORDS * LEARN_SLAB_FLOWS);
      this.learnSlabOff = 0;
    }
    const out = this.learnSlab.subarray(this.learnSlabOff, this.learnSlabOff + KEY_WORDS);
    for (let j = 0; j < words.length; j++) out[words[j]!] = v[words[j]!]!;
    this.learnSlabOff += KEY_WORDS;
    return out;
  }

  private portNumber(name: string): number | undefined {
    if (name === this.localRec.name) return OFPP_LOCAL;
    return this.byName.get(name)?.ofport;
  }

  private makeRec(name: string, ofport: number, path: string, o: Omit<BridgePortOptions, 'name'>, _user: boolean): PortRec {
    const rec: PortRec = {
      name,
      ofport,
      vlan: makeVlanConfig(o.vlanMode, o.tag, o.trunks),
      noFlood: o.noFlood ?? false,
      tunnel: o.tunnel ?? false,
      port: undefined as unknown as Port,
    };
    rec.port = new Port(path, (frame, meta) => this.onReceive(rec, frame, meta));
    return rec;
  }

  addPort(opts: BridgePortOptions): Port {
    const where = `${this.path}.${opts.name}`;
    if (this.byName.has(opts.name) || opts.name === 'LOCAL') {
      throw new UserError('VSWITCH_DUPLICATE_PORT', `bridge ${this.path} already has a port named ${opts.name}`, { where });
    }
    let ofport = opts.ofport;
    if (ofport === undefined) {
      ofport = 1;
      while (this.byOfport.has(ofport)) ofport++;
    } else if (!Number.isInteger(ofport) || ofport < 1 || ofport >= 0xff00) {
      throw new UserError('VSWITCH_BAD_OFPORT', `ofport ${ofport} is not in 1..65279`, { where });
    } else if (this.byOfport.has(ofport)) {
      throw new UserError('VSWITCH_DUPLICATE_OFPORT', `bridge ${this.path} already has ofport ${ofport}`, { where });
    }
    for (const v of [opts.tag, ...(opts.trunks ?? [])]) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 4095)) {
        throw new UserError('VSWITCH_BAD_VLAN', `VLAN ${v} is not in 0..4095`, { where });
      }
    }
    if ((opts.vlanMode === 'access' || opts.vlanMode === 'native-tagged' || opts.vlanMode === 'native-untagged') && opts.tag === undefined) {
      throw new UserError('VSWITCH_MISSING_TAG', `vlan_mode ${opts.vlanMode} needs a tag`, { where });
    }
    const rec = this.makeRec(opts.name, ofport, where, opts, true);
    this.userPorts.push(rec);
    this.userPorts.sort((a, b) => a.ofport - b.ofport);
    this.byOfport.set(ofport, rec);
    this.byName.set(opts.name, rec);
    this.rebuildAll();
    this.retryPendingFlows();
    this.portHook?.(opts.name, ofport, rec.port, 'add');
    return rec.port;
  }

  /** Removes a port (its MAC entries go with it). */
  removePort(name: string): boolean {
    const rec = this.byName.get(name);
    if (!rec) return false;
    this.userPorts.splice(this.userPorts.indexOf(rec), 1);
    this.byOfport.delete(rec.ofport);
    this.byName.delete(name);
    this.mac.flush(rec.ofport);
    this.rebuildAll();
    this.portHook?.(name, rec.ofport, rec.port, 'delete');
    return true;
  }

  /** `ovs-ofctl mod-port BR PORT (no-)flood`; `LOCAL` or the bridge name means the local port. */
  setNoFlood(name: string, noFlood: boolean): void {
    const rec = name === 'LOCAL' || name === this.localRec.name ? this.localRec : this.byName.get(name);
    if (!rec) throw new UserError('VSWITCH_UNKNOWN_PORT', `bridge ${this.path} has no port ${name}`, { where: this.path });
    rec.noFlood = noFlood;
    this.portGen++;
  }

  private rebuildAll(): void {
    this.all = [...this.userPorts, this.localRec];
    this.portGen++;
  }

  ports(): Port[] {
    return this.userPorts.map((r) => r.port);
  }

  portByName(name: string): Port | undefined {
    return this.byName.get(name)?.port;
  }

  /** OpenFlow port number of a port name (`LOCAL` → 0xfffe). */
  ofportOf(name: string): number | undefined {
    if (name === 'LOCAL') return OFPP_LOCAL;
    return this.portNumber(name);
  }

  portNameOf(ofport: number): string | undefined {
    return ofport === OFPP_LOCAL ? 'LOCAL' : this.byOfport.get(ofport)?.name;
  }

  // XBridge
  portByOfport(ofport: number): XPort | undefined {
    return this.byOfport.get(ofport);
  }
  allPorts(): readonly XPort[] {
    return this.all;
  }
  nowNs(): number {
    return this.sim.now;
  }
  group(id: number): Group | undefined {
    return this.groupTable.get(id);
  }
  /** OVS `may_enable`: the port exists and its link is up (a `link_down` takes it down). */
  portAlive(ofport: number): boolean {
    return this.byOfport.get(ofport)?.port.up ?? false;
  }
  conntrackExecute(w: Int32Array, x: CtExec): void {
    // One CtPacket reused (the tracker reads it synchronously and keeps nothing of it).
    const p = this.ctPacket;
    p.w = w;
    p.frame = this.curFrame;
    p.l3 = this.lay.l3;
    p.l4 = this.lay.l4;
    this.conntrack.execute(p, x, this.sim.now);
  }

  /** Replaces the group table with an `ovs-ofctl add-groups` text (ports must exist). */
  loadGroups(text: string, origin?: FlowsOrigin): void {
    const parsed = parseGroups(text, this.modOpts(origin, 'groups'));
    this.groupTable.groups.clear();
    this.groupTable.generation++;
    for (const gm of parsed) this.applyGroupMod(gm);
  }

  /** A controller's group_mod in `ovs-ofctl add-group|mod-group|del-groups` syntax. */
  groupMod(command: GroupModCommand, text: string, origin?: { file: string; line: number; col: number }): void {
    this.applyGroupMod(parseGroupMod(command, text, this.modOpts(origin, 'group_mod')));
  }

  /** Applies a parsed group_mod; deleting a group deletes the flows that use it (ofproto.c). */
  applyGroupMod(gm: ParsedGroupMod, deleteFlows = true): void {
    const deleted = this.groupTable.apply(gm, this.sim.now);
    if (deleted.length && deleteFlows) {
      const gone = new Set(deleted);
      for (const r of this.flowTables.rules()) if (usesGroup(r.actions, gone)) this.removeRule(r, 'group_delete');
    }
  }

  /** Replaces the meter table with an `ovs-ofctl add-meters` text. */
  loadMeters(text: string, origin?: FlowsOrigin): void {
    this.meterTable.meters.clear();
    for (const mm of parseMeters(text, this.modOpts(origin, 'meters'))) this.applyMeterMod(mm);
  }

  /** A controller's meter_mod in `ovs-ofctl add-meter|mod-meter|del-meter` syntax. */
  meterMod(command: 'add' | 'modify' | 'delete', text: string, origin?: { file: string; line: number; col: number }): void {
    this.applyMeterMod(parseMeterMod(command, text, this.modOpts(origin, 'meter_mod')));
  }

  /** Applies a parsed meter_mod; deleting a meter deletes the flows that use it (ofproto.c). */
  applyMeterMod(mm: ParsedMeterMod): void {
    for (const id of this.meterTable.apply(mm, this.sim.now)) {
      for (const r of this.flowTables.rules()) if (r.actions.some((a) => a.type === 'meter' && a.id === id)) this.removeRule(r, 'meter_delete');
    }
  }

  private modOpts(origin: FlowsOrigin | undefined, what: string): { file: string; line: number; col: number; protocols: OfVersion; portByName: (n: string) => number | undefined } {
    return {
      file: origin?.file ?? `${this.path} ${what}`,
      line: origin?.line ?? 1,
      col: origin?.col ?? 1,
      ...(origin?.position ? { position: origin.position } : {}),
      protocols: this.parseOpts.protocols,
      portByName: (n) => this.portNumber(n),
    };
  }

  /** `ovs-ofctl dump-groups` / `dump-group-stats` / `dump-meters` / `meter-stats` texts. */
  dumpGroups(version = this.parseOpts.protocols): string {
    return this.groupTable.dump(version);
  }
  dumpGroupStats(version = this.parseOpts.protocols): string {
    return this.groupTable.dumpStats(version, this.sim.now, (id) => this.flowTables.rules().filter((r) => usesGroup(r.actions, new Set([id]))).length);
  }
  dumpMeters(version = this.parseOpts.protocols): string {
    return this.meterTable.dump(version);
  }
  dumpMeterStats(version = this.parseOpts.protocols): string {
    return this.meterTable.dumpStats(version, this.sim.now, (id) => this.flowTables.rules().filter((r) => r.actions.some((a) => a.type === 'meter' && a.id === id)).length);
  }
  onLearn(mac: number, vlan: number, ofport: number, result: 'new' | 'moved', from: number): void {
    if (result !== 'moved' || !this.events) return;
    // A flapping MAC (a loop, a duplicate MAC) moves thousands of times a second: report the first
    // MOVE_EVENTS_PER_S moves of a (MAC, VLAN) per virtual second, then one `mac_flap` event.
    const sec = Math.floor(this.sim.now / NS_PER_S);
    if (sec !== this.moveWindowS) {
      this.moveWindowS = sec;
      this.movesInWindow.clear();
    }
    const k = vlan * 0x1_0000_0000_0000 + mac;
    const n = (this.movesInWindow.get(k) ?? 0) + 1;
    if (this.movesInWindow.size < 65536 || this.movesInWindow.has(k)) this.movesInWindow.set(k, n);
    if (n > MOVE_EVENTS_PER_S) {
      if (n === MOVE_EVENTS_PER_S + 1) {
        this.events({ type: 'mac_flap', time_ns: this.sim.now, bridge: this.path, mac: formatMac(mac), vlan, moves_per_s_over: MOVE_EVENTS_PER_S });
      }
      return;
    }
    this.events({
      type: 'mac_move',
      time_ns: this.sim.now,
      bridge: this.path,
      mac: formatMac(mac),
      vlan,
      from: this.byOfport.get(from)?.port.path ?? String(from),
      to: this.byOfport.get(ofport)?.port.path ?? String(ofport),
    });
  }

  private reportLoop(rec: PortRec, meta: FrameMeta, why: 'hop-limit' | 'storm-guard'): void {
    const now = this.sim.now;
    const quiet = now - this.lastLoopNs > STORM_QUIET_NS;
    this.lastLoopNs = now;
    if (!quiet || !this.events) return;
    this.events({
      type: 'loop',
      time_ns: now,
      bridge: this.path,
      port: rec.port.path,
      ports: this.all.filter((p) => p.port.peer !== null).map((p) => p.port.path),
      hops: meta.hops,
      reason: why,
    });
  }

  private onReceive(rec: PortRec, frame: Frame, meta: FrameMeta): void {
    if (meta.hops >= MAX_HOPS) {
      rec.port.drop('loop', frame);
      this.reportLoop(rec, meta, 'hop-limit');
      return;
    }
    if (meta.hops >= STORM_MIN_HOPS) {
      const now = this.sim.now;
      if (now !== this.stormInstant) {
        this.stormInstant = now;
        this.stormCopies = 0;
      }
      if (++this.stormCopies > STORM_COPIES_PER_INSTANT) {
        rec.port.drop('loop', frame);
        this.reportLoop(rec, meta, 'storm-guard');
        return;
      }
    }
    const hook = this.traceHook;
    const r = this.process(rec.ofport, frame, hook ? LEARN_TRACED : LEARN, meta.tunnel);
    const hit = this.hit;
    if (r === null) {
      rec.port.drop('malformed', frame);
      return;
    }
    if (hook) {
      hook({
        bridge: this.path,
        inPort: rec.port.path,
        hops: meta.hops,
        log: r.log ?? [],
        outputs: r.outputs.map((o) => {
          const tci = o.state.words[W_VLAN_TCI]!;
          return { port: this.byOfport.get(o.ofport)?.port.path ?? String(o.ofport), vlan: tci & 0x1000 ? tci & 0xfff : null };
        }),
        drop: r.outputs.length === 0 ? (r.drop ?? 'no-output') : null,
      });
    }
    this.deliver(rec, frame, meta, r, hit);
  }

  /** Output `i`'s bytes: `rewriteFrame`, or on a cache hit known to change nothing, `frame` itself. */
  private outFrame(frame: Frame, hit: Cached | null, i: number, st: PacketState): Frame {
    if (hit === null) return rewriteFrame(frame, this.words, this.lay.l3, this.lay.l4, st);
    let same = hit.same;
    if (same === null) same = hit.same = new Uint8Array(hit.res.outputs.length);
    const known = same[i]!;
    if (known === 1) return frame;
    const f = rewriteFrame(frame, this.words, this.lay.l3, this.lay.l4, st);
    if (known === 0) same[i] = f === frame ? 1 : 2;
    return f;
  }

  private deliver(rec: PortRec, frame: Frame, meta: FrameMeta, r: XlateResult, hit: Cached | null): void {
    const outs = r.outputs;
    if (outs.length === 0) {
      rec.port.drop(r.drop ?? 'no-output', frame);
      return;
    }
    const hops = meta.hops + 1;
    if (outs.length === 1) {
      const o = outs[0]!;
      const out = this.byOfport.get(o.ofport);
      if (out) {
        const f = this.outFrame(frame, hit, 0, o.state);
        this.sim.packetOrigins?.relate(f, frame);
        out.port.send(f, out.tunnel ? { hops, tunnel: tunnelOf(o.state.words, this.tlv) } : hopMeta(hops));
      }
      return;
    }
    // Build every output frame before sending any: sending recurses into peers, which may
    // re-enter this bridge and overwrite the scratch key.
    const frames: Frame[] = new Array<Frame>(outs.length);
    for (let i = 0; i < outs.length; i++) frames[i] = this.outFrame(frame, hit, i, outs[i]!.state);
    const origins = this.sim.packetOrigins;
    if (origins) for (let i = 0; i < outs.length; i++) origins.relate(frames[i]!, frame);
    for (let i = 0; i < outs.length; i++) {
      const out = this.byOfport.get(outs[i]!.ofport);
      if (out) out.port.send(frames[i]!, out.tunnel ? { hops, tunnel: tunnelOf(outs[i]!.state.words, this.tlv) } : hopMeta(hops));
    }
  }

  /**
   * Classifies and translates `frame` as arriving on `ofport`, with all bookkeeping (counters,
   * learning when `mayLearn`, events) but without sending. Returns null for a runt frame.
   */
  process(ofport: number, frame: Frame, opts: { mayLearn: boolean; trace?: boolean; ovsTrace?: boolean; metadata?: Int32Array; ctNext?: number[] }, tunnel?: TunnelMeta): XlateResult | null {
    if (frame.length < 14) return null;
    this.curFrame = frame;
    // The packet words straight from the bytes; a truncated or malformed layer leaves the fields
    // parsed before it (OVS keeps them too).
    const words = this.words;
    extractKeyWords(frame, words, this.lay);
    // Registers, metadata, conntrack and tunnel words start at 0, or as a trace flow gives them.
    if (opts.metadata) {
      for (let i = PACKET_WORDS; i < KEY_WORDS; i++) words[i] = opts.metadata[i]!;
      this.metadataSet = true;
    } else if (this.metadataSet) {
      words.fill(0, PACKET_WORDS);
      this.metadataSet = false;
    }
    if (tunnel !== undefined) {
      // A decapsulated frame: OVS fills flow->tunnel from the outer headers (tun_id, tun_src, tun_dst).
      words[W_TUN_ID] = tunnel.idHi;
      words[W_TUN_ID + 1] = tunnel.idLo;
      words[W_TUN_SRC] = tunnel.src;
      words[W_TUN_DST] = tunnel.dst;
      // netdev-native-tnl.c / geneve: the O bit becomes FLOW_TNL_F_OAM (tun_flags=+oam).
      if (tunnel.oam) words[W_TUN_FLAGS] = 1;
      // An IPv6 tunnel (tunnel-port6.ts): OVS fills flow->tunnel.ipv6_src/ipv6_dst instead.
      const s6 = tunnel.src6;
      const d6 = tunnel.dst6;
      if (s6 !== undefined) for (let i = 0; i < 4; i++) words[W_TUN_IPV6_SRC + i] = s6[i]!;
      if (d6 !== undefined) for (let i = 0; i < 4; i++) words[W_TUN_IPV6_DST + i] = d6[i]!;
      // Geneve options the tunnel port accepted (it checked them against this map).
      if (tunnel.options !== undefined && this.tlv) this.tlv.fromOptions(tunnel.options, words);
      this.metadataSet = true;
    }
    words[W_IN_PORT] = ofport;
    this.switched++;
    this.syncCache();
    // Translations with ct() are never cached (xlate marks them uncachable): their outcome depends
    // on the connection table. `ctNext` (ofproto/trace's --ct-next) bypasses the cache too.
    const cache = opts.mayLearn && !opts.trace && !opts.ovsTrace && !opts.metadata && !opts.ctNext ? this.cache : null;
    // The key words hold the outer TCI only: a second tag or an 802.1ad outer TPID is state the
    // key does not capture, so such frames are never cached.
    const lay = this.lay;
    // tun_metadata and tun_ipv6 words are outside the cache key (flow-cache.ts CACHE_WORDS): not
    // cached either.
    const uncachable = lay.tags > 1 || (lay.tags === 1 && lay.tpid0 !== 0x8100) || words[W_TUN_MD_PRESENT] !== 0 || words[W_TUN_MD_PRESENT + 1] !== 0 || (tunnel !== undefined && (tunnel.src6 !== undefined || tunnel.dst6 !== undefined));
    let hit = cache !== null && !uncachable ? (cache.get(words, undefined, this.tablesUnchanged) ?? null) : null;
    if (hit !== null && this.sim.now >= hit.res.validUntilNs) hit = null; // a MAC entry it used aged out
    this.hit = hit;
    let res: XlateResult;
    if (hit !== null) {
      res = hit.res;
      const l = res.learns;
      if (l.length > 0) this.replayLearns(hit, l);
    } else {
      stateFromFrame(frame, words, this.state);
      if (opts.ovsTrace) {
        const initial = copyState(this.state);
        // Recirculation ids go on from trace to trace, as OVS's recirc id pool hands them out.
        res = xlate(this, this.state, { ...opts, of11: this.parseOpts.protocols >= 11, recircId: this.traceRecircId });
        if (res.nextRecircId !== undefined) this.traceRecircId = res.nextRecircId;
        res.initial = initial;
        res.final = Int32Array.from(this.state.words);
        res.finalInner = this.state.inner;
      } else res = xlate(this, this.state, opts);
      this.syncCache();
      if (cache !== null && !uncachable && !res.uncachable) cache.set(words, { res, stamps: this.stampsOf(res.tables), gen: this.flowTables.generation, macs: null, same: null });
    }
    if (res.meters.length > 0 && opts.mayLearn) res = this.runMeters(res, frame.length);
    if (opts.mayLearn) {
      const now = this.sim.now;
      if (res.groupHits.length > 0) this.groupTable.credit(res.groupHits, frame.length);
      for (const rule of res.rules) {
        rule.nPackets++;
        rule.nBytes += frame.length;
        rule.lastUsedNs = now;
      }
      if (this.events) {
        for (const rule of res.packetIns) {
          this.events({
            type: 'packet_in',
            time_ns: now,
            bridge: this.path,
            in_port: this.byOfport.get(ofport)?.port.path ?? String(ofport),
            table: rule.table,
            rule: `priority=${rule.priority}${rule.matchText ? `,${rule.matchText}` : ''}`,
            reason: 'action',
          });
        }
      }
      const pin = this.packetInHook;
      if (pin !== null) for (const rule of res.packetIns) pin(ofport, frame, rule);
    }
    return res;
  }

  /** A cache hit's NORMAL learning, as the translation did it (see Cached.macs). */
  private replayLearns(hit: Cached, l: readonly number[]): void {
    const now = this.sim.now;
    const mac = this.mac;
    let macs = hit.macs;
    if (macs === null) {
      macs = hit.macs = [];
      for (let i = 0; i < l.length; i += 3) macs.push(mac.peek(l[i]!, l[i + 1]!));
    }
    for (let i = 0, j = 0; i < l.length; i += 3, j++) {
      const e = macs[j];
      if (e !== undefined && mac.refresh(e, l[i + 2]!, now)) continue;
      const lr = mac.learn(l[i]!, l[i + 1]!, l[i + 2]!, now);
      if (lr.result !== 'refreshed') this.onLearn(l[i]!, l[i + 1]!, l[i + 2]!, lr.result, lr.from);
      macs[j] = mac.peek(l[i]!, l[i + 1]!);
    }
  }

  /**
   * Trace entry point: processes `frame` as arriving on port `name` and returns the output frames
   * without sending them. `mayLearn: false` is OVS's side-effect-free `ofproto/trace`.
   */
  trace(name: string, frame: Frame, opts: { mayLearn: boolean; log?: boolean; ovsTrace?: boolean; metadata?: Int32Array; ctNext?: number[] }): BridgeProcessResult | null {
    const ofport = this.ofportOf(name);
    if (ofport === undefined) throw new UserError('VSWITCH_UNKNOWN_PORT', `bridge ${this.path} has no port ${name}`, { where: this.path });
    const res = this.process(ofport, frame, { mayLearn: opts.mayLearn, trace: opts.log ?? false, ovsTrace: opts.ovsTrace ?? false, ...(opts.metadata ? { metadata: opts.metadata } : {}), ...(opts.ctNext ? { ctNext: opts.ctNext } : {}) });
    if (res === null) return null;
    const frames = res.outputs.map((o) => ({
      ofport: o.ofport,
      name: this.portNameOf(o.ofport) ?? String(o.ofport),
      frame: rewriteFrame(frame, this.words, this.lay.l3, this.lay.l4, o.state),
    }));
    return { xlate: res, frames };
  }

  /**
   * Reports every frame this bridge switches to `hook`, with the translation log (the exact-match
   * cache is bypassed while a hook is set). `null` removes it.
   */
  setTraceHook(hook: ((e: BridgeTraceEvent) => void) | null): void {
    this.traceHook = hook;
  }

  /**
   * The datapath's meter() actions for one packet (dp_netdev_run_meter): a meter that drops it
   * keeps only the outputs emitted before that meter. Returns a new result (a cached one is shared).
   */
  private runMeters(res: XlateResult, bytes: number): XlateResult {
    const m = res.meters;
    for (let i = 0; i < m.length; i += 2) {
      const meter = this.meterTable.get(m[i]!);
      if (meter && !meter.admit(bytes, this.sim.now)) {
        return { ...res, outputs: res.outputs.slice(0, m[i + 1]), drop: 'meter' };
      }
    }
    return res;
  }

  /** The current stamps of `tables` (see FlowTables.stamps). */
  private stampsOf(tables: readonly number[]): Float64Array {
    const st = this.flowTables.stamps;
    const out = new Float64Array(tables.length);
    for (let i = 0; i < tables.length; i++) out[i] = st[tables[i]! & 255]!;
    return out;
  }

  /**
   * Whether no table a cached translation looked up has changed since: a flow added, removed or
   * modified elsewhere (a `learn` into a table this packet never reaches) leaves it valid, as
   * OVS's revalidators keep the datapath flows a change cannot affect.
   */
  private readonly tablesUnchanged = (c: Cached): boolean => {
    if (c.gen === this.flowTables.generation) return true; // no flow changed at all since
    const st = this.flowTables.stamps;
    const t = c.res.tables;
    for (let i = 0; i < t.length; i++) if (st[t[i]! & 255] !== c.stamps[i]) return false;
    return true;
  };

  private syncCache(): void {
    // Table changes are checked per entry (stamps); only changes made behind FlowTables' back
    // (generation bumped without a stamp) drop everything.
    const ft = this.flowTables.generation - this.flowTables.stamped;
    const mg = this.mac.generation;
    const gg = this.groupTable.generation;
    // Fast-failover and watched buckets depend on port links, which change without telling the
    // bridge (a link's carrier): compare the link states while any group exists.
    let live = '';
    if (this.groupTable.groups.size > 0) for (const p of this.all) live += p.port.up ? '1' : '0';
    if (ft !== this.seenFlowGen || mg !== this.seenMacGen || this.portGen !== this.seenPortGen || gg !== this.seenGroupGen || live !== this.seenLive) {
      this.seenFlowGen = ft;
      this.seenMacGen = mg;
      this.seenPortGen = this.portGen;
      this.seenGroupGen = gg;
      this.seenLive = live;
      this.cache?.invalidate();
    }
  }

  /** Cache statistics. */
  cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.cache?.hits ?? 0, misses: this.cache?.misses ?? 0, size: this.cache?.size ?? 0 };
  }

  /**
   * `ovs-ofctl [-O V] [--no-stats] [--names] dump-flows` text (dump-flows.ts), counters and
   * durations in virtual time. `version` defaults to the bridge's `protocols`.
   */
  dumpFlows(opts: { version?: OfVersion; noStats?: boolean; names?: boolean } = {}): string {
    return dumpFlows(this.flowTables.rules(), {
      nowNs: this.sim.now,
      added: this.parseOpts.protocols,
      ...(opts.version !== undefined ? { version: opts.version } : {}),
      ...(opts.noStats ? { noStats: true } : {}),
      ...(opts.names ? { names: (p: number) => (p === OFPP_LOCAL ? undefined : this.portNameOf(p)) } : {}),
    });
  }

  flowStats(): FlowStats[] {
    return this.flowTables.stats(this.sim.now);
  }

  /** Each flow's match and actions as `ovs-ofctl dump-flows` spells them, in `flowStats()` order. */
  canonicalFlows(version?: OfVersion): { match: string; actions: string }[] {
    const o = { added: this.parseOpts.protocols, ...(version !== undefined ? { version } : {}) };
    return this.flowTables.rules().map((r) => canonicalFlow(r, o));
  }

  /** Live MAC table entries, least recently used first. */
  macEntries(): (MacEntry & { portName: string; ageS: number })[] {
    const now = this.sim.now;
    const aging = this.mac.opts.agingNs;
    return this.mac.entries(now).map((e) => ({
      ...e,
      portName: this.portNameOf(e.port) ?? String(e.port),
      ageS: Math.floor((now - (e.expiresNs - aging)) / NS_PER_S),
    }));
  }

  /** `ovs-appctl fdb/show` text. */
  fdbShow(): string {
    const lines = [' port  VLAN  MAC                Age'];
    for (const e of this.macEntries()) {
      const port = e.port === OFPP_LOCAL ? 'LOCAL' : String(e.port);
      lines.push(`${port.padStart(5)}  ${String(e.vlan).padStart(4)}  ${formatMac(e.mac)}  ${String(e.ageS).padStart(3)}`);
    }
    return `${lines.join('\n')}\n`;
  }
}


/** Whether an action list (clones included) outputs to one of `ids`. */
function usesGroup(actions: readonly import('./actions.js').Action[], ids: ReadonlySet<number>): boolean {
  for (const a of actions) {
    if (a.type === 'group' && ids.has(a.id)) return true;
    if (a.type === 'clone' && usesGroup(a.actions, ids)) return true;
  }
  return false;
}

/** The tunnel metadata a frame output to a tunnel port carries (what the flows left in the key). */
function tunnelOf(w: Int32Array, tlv: TlvTable | undefined): TunnelMeta {
  const options = tlv?.toOptions(w);
  const t: TunnelMeta = { idHi: w[W_TUN_ID]!, idLo: w[W_TUN_ID + 1]!, src: w[W_TUN_SRC]! >>> 0, dst: w[W_TUN_DST]! >>> 0, ...(options ? { options } : {}) };
  if ((w[W_TUN_FLAGS]! & 1) !== 0) t.oam = true;
  // tun_ipv6_src/dst (set_field:2001:db8::2->tun_ipv6_dst, or kept from an IPv6 decap)
  const s = W_TUN_IPV6_SRC;
  const d = W_TUN_IPV6_DST;
  if ((w[s]! | w[s + 1]! | w[s + 2]! | w[s + 3]!) !== 0) t.src6 = [w[s]! >>> 0, w[s + 1]! >>> 0, w[s + 2]! >>> 0, w[s + 3]! >>> 0];
  if ((w[d]! | w[d + 1]! | w[d + 2]! | w[d + 3]!) !== 0) t.dst6 = [w[d]! >>> 0, w[d + 1]! >>> 0, w[d + 2]! >>> 0, w[d + 3]! >>> 0];
  return t;
}
