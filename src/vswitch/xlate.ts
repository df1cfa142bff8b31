/**
 * Translation: runs a packet through the flow tables and NORMAL, producing the list of output
 * ports with the packet state each copy leaves with. Named after OVS's
 * `ofproto/ofproto-dpif-xlate.c`, which this follows:
 *
 * - table 0 is looked up first; a miss there drops the packet (`table-miss`), as a bridge
 *   with flows but no controller does (`fail_mode=secure`, after `del-flows`);
 * - actions run in order on one packet state; edits made in a resubmitted table persist
 *   after it returns, the `in_port` a `resubmit(P,T)` sets does not;
 * - `resubmit`/`goto_table` nest at most MAX_DEPTH = 64 deep and run at most
 *   MAX_RESUBMITS = 4096 times per packet; past that the translation fails and, as in OVS
 *   (`xlate_actions`: an error clears the datapath actions), the packet is dropped;
 * - `output` to the ingress port is skipped (use `in_port`); output to a missing port is ignored;
 * - `dec_ttl` on TTL ≤ 1 stops the current action list (OVS `compose_dec_ttl`);
 * - NORMAL: `xlate_normal` (VLAN admission, learning with the VLAN after earlier actions, unicast
 *   to a learned port or flood within the VLAN, excluding the ingress port and no-flood ports).
 */
import type { Action } from './actions.js';
import type { Classifier } from './classifier.js';
import {
  OFPP_ALL,
  OFPP_CONTROLLER,
  OFPP_FLOOD,
  OFPP_IN_PORT,
  OFPP_LOCAL,
  OFPP_NONE,
  OFPP_NORMAL,
  VLAN_CFI,
  W_DL_DST_HI,
  W_DL_SRC_HI,
  W_DL_TYPE,
  W_IN_PORT,
  W_NW_PROTO,
  W_NW_TTL,
  W_VLAN_TCI,
  ETH_TYPE_IP,
  ETH_TYPE_IPV6,
  ETH_TYPE_ARP,
  KEY_WORDS,
  W_TUN_MD_PRESENT,
  W_ACTSET_OUTPUT,
  W_METADATA,
  W_CT_MARK,
  W_CT_STATE,
  W_CT_END,
  W_NW_SRC,
  W_NW_DST,
  W_TP_SRC,
  W_TP_DST,
  formatMac,
  prereqOk,
} from './fields.js';
import type { FlowRule } from './flow-table.js';
import type { MacTable } from './mac-learning.js';
import { copyState, type PacketState } from './rewrite.js';
import { copySubfield, fieldBits, formatSubfield, readSubfield, subfieldWrites, type Subfield } from './subfield.js';
import { learnedFlow } from './learn.js';
import { formatMatch } from './match-format.js';
import { formatActions } from './actions.js';
import type { LearnAction } from './learn.js';
import { bucketIsAlive, firstLiveBucket, hashFieldBits, pickSelectBucket, type Bucket, type Group } from './group.js';
import { formatAction } from './actions.js';
import { lookupWithWildcards } from './megaflow.js';
import { conjunctiveLookup, hasConjunctions } from './conjunction.js';
import { W_CT_IPV6_DST, W_CT_IPV6_SRC, W_CT_NW_DST, W_CT_NW_PROTO, W_CT_NW_SRC, W_CT_TP_DST, W_CT_TP_SRC, W_IPV6_DST, W_IPV6_SRC, W_NW_FRAG, W_NW_TOS } from './fields.js';
import type { CtExec } from './conntrack.js';
import { formatNested, type CtAction } from './ct-action.js';
import { MAX_RECIRC_DEPTH, ctAction, pooledOutput, resetPools, resumeRecirc, type CtCtx, type Recirc } from './xlate-ct.js';
import { canonicalSubfield, formatOfpacts } from './ofpact-format.js';
import { ACTSET_OUTPUT_UNSET, actionSetExecutionOrder, actsetOutputAfterWrite } from './action-set.js';
import { includesVlan, inputVidIsValid, inputVidToVlan, outputVlanToVid, type PortVlanConfig } from './vlan.js';

export const MAX_DEPTH = 64;

/** Prerequisites whose check examines nw_proto (lib/flow.h is_tcp/is_udp/is_sctp/is_icmpv4/is_icmpv6/is_nd). */
const L4_PREREQS: ReadonlySet<string> = new Set(['tcp', 'udp', 'sctp', 'l4', 'icmp', 'icmp6', 'nd', 'nd_sol', 'nd_adv']);
/** Fields whose set_field masks nw_proto on an IP packet (mf_set_mask_l3_prereqs, lib/meta-flow.c). */
const L3_PROTO_MASKING: ReadonlySet<string> = new Set(['nw_src', 'nw_dst', 'ipv6_src', 'ipv6_dst', 'ipv6_label', 'nw_tos', 'nw_ecn', 'nw_ttl']);
/** Fields whose set_field masks nw_proto (the ARP opcode) on an ARP packet (the same function). */
const ARP_PROTO_MASKING: ReadonlySet<string> = new Set(['arp_op', 'arp_spa', 'arp_tpa', 'arp_sha', 'arp_tha']);

/** Why a `ct(table=N)` with a non-empty OpenFlow 1.1+ action set fails (OVS 3.1 aborts there). */
export const RECIRC_ACTION_SET_ERROR =
  'ct(table=N) with a non-empty action set: Open vSwitch 3.1 aborts here (ofproto-dpif-rid.c recirc_alloc_id__: assertion state->action_set_len <= state->ofpacts_len failed)';
export const MAX_RESUBMITS = MAX_DEPTH * MAX_DEPTH;

export interface XPort {
  name: string;
  ofport: number;
  vlan: PortVlanConfig;
  /** Left out of NORMAL and FLOOD floods (`ovs-ofctl mod-port … no-flood`). */
  noFlood: boolean;
  /** A tunnel port (vxlan/geneve): an IP packet output to it has its ECN bits examined. */
  tunnel?: boolean;
}

export interface XBridge {
  tables: Map<number, Classifier<FlowRule>>;
  portByOfport(ofport: number): XPort | undefined;
  /** Every port (LOCAL included) in ofport order. */
  allPorts(): readonly XPort[];
  mac: MacTable;
  nowNs(): number;
  /** Called for each learn that changed the table (new entry or move). */
  onLearn(mac: number, vlan: number, ofport: number, result: 'new' | 'moved', from: number): void;
  /** Runs a `learn` action for the packet in `w`: adds or refreshes the learned flow. */
  learnFlow(a: LearnAction, w: Int32Array): void;
  /** The group with this id, if any. */
  group(id: number): Group | undefined;
  /** Whether a port's link is up (OVS `may_enable`), for fast-failover liveness. */
  portAlive(ofport: number): boolean;
  /** Runs the datapath `ct()` action on the packet in `w` (the bridge's connection tracker). */
  conntrackExecute(w: Int32Array, x: CtExec): void;
}

/** One pipeline pass: the first, then one per `ct(table=N)` recirculation. */
export interface XlatePass {
  /** 0 for the first pass, else the recirculation id. */
  recircId: number;
  table: number;
  /** ct_state the pass started with. */
  ctState: number;
  /** Its outputs: `outputs.slice(start, end)`. */
  start: number;
  end: number;
  /** With `ovsTrace`, recirculations only: the header lines, the node tree, wildcards, packet before and flow after. */
  header?: string[];
  trace?: TraceNode[];
  wc?: Int32Array;
  initial?: PacketState;
  final?: Int32Array;
}

export interface XlateOutput {
  ofport: number;
  state: PacketState;
}

export interface XlateResult {
  outputs: XlateOutput[];
  /** Rules matched, in order (each gets the packet counted). */
  rules: FlowRule[];
  /** Tables looked up, in order (the exact-match cache's revalidation tags). */
  tables: number[];
  /** (mac, vlan, ofport) learned by NORMAL, replayed on cache hits. */
  learns: number[];
  /** Tables whose rule sent the packet to the controller. */
  packetIns: FlowRule[];
  /** Why nothing (or not everything) went out; null when nothing went wrong. */
  drop: string | null;
  /** Human-readable steps, when tracing. */
  log: string[] | null;
  /**
   * Until when (virtual ns) a cached copy of this result stays right: the earliest expiry of the
   * MAC entries NORMAL forwarded by. Everything else the result depends on bumps a generation
   * when it changes (flows, MAC entries added/moved/evicted, ports); an entry aging out does not,
   * so the cache checks this deadline instead (OVS revalidates its cache for the same reason).
   */
  validUntilNs: number;
  /** The translation had side effects beyond NORMAL learning (`learn`): never cache it, so the
   *  side effect happens for every packet, as with the cache off. */
  uncachable: boolean;
  /** Groups used and the bucket chosen (null: all buckets), for group statistics. */
  groupHits: (Group | Bucket | null)[];
  /** (meter id, outputs emitted before it) pairs: a meter that drops the packet keeps only those. */
  meters: number[];
  /** With `ovsTrace`: the `ofproto/trace` node tree under `bridge("…")` (ovs-trace-format.ts). */
  trace?: TraceNode[];
  /** With `ovsTrace`: the key bits the translation examined (the megaflow mask, before xlate_wc_finish). */
  wc?: Int32Array;
  /** After a ct(): the next free recirculation id (`recircId` of the next translation, as OVS's id pool). */
  nextRecircId?: number;
  /** With `ovsTrace`: datapath ct()/recirc() actions of pass number `pass`, each before output number `at`. */
  odpCt?: { pass: number; at: number; text: string; state?: PacketState }[];
  /** The passes when the packet recirculated (`ct(table=N)`), else null (one pass). */
  passes: XlatePass[] | null;
  /** With `ovsTrace` (set by the bridge): the packet before and the flow after translation. */
  initial?: PacketState;
  final?: Int32Array;
  /** The second VLAN tag after translation (`PacketState.inner`), for the `Final flow:` line. */
  finalInner?: number;
}

/** One node of `ofproto/trace`'s output tree (ofproto-dpif-trace.h `oftrace_node`). */
export interface TraceNode {
  type: 'table' | 'action' | 'detail' | 'warn' | 'error' | 'bucket';
  text: string;
  subs: TraceNode[];
}

/** "Every field exact": a packet's key seen as a match, for run-time prerequisite checks. */
const FULL_MASK = new Int32Array(KEY_WORDS).fill(-1);
FULL_MASK[W_DL_TYPE] = 0xffff;
FULL_MASK[W_NW_PROTO] = 0xff;
FULL_MASK[W_VLAN_TCI] = 0xffff;

interface Ctx {
  br: XBridge;
  st: PacketState;
  res: XlateResult;
  depth: number;
  resubmits: number;
  mayLearn: boolean;
  error: string | null;
  /** Set by `exit`: nothing more runs, at any depth. */
  exited: boolean;
  /** OVS-style trace: the node list being appended to, and the wildcards examined (else null). */
  tr: TraceNode[] | null;
  wc: Int32Array | null;
  /** OpenFlow 1.1+ (goto_table is printed as such). */
  of11: boolean;
  /** Connection tracking state, created at the first ct() (xlate-ct.ts). */
  ct: CtCtx | null;
  ctNext: number[] | null;
  /** The pass running: 0, then 1 … per recirculation (res.passes index). */
  pass: number;
  /** The first recirculation id to allocate. */
  recircBase: number;
  /** The OpenFlow 1.1+ action set (action-set.ts): written by write_actions, run at the end. */
  actionSet: Action[];
  /** The action set holds a group (actset_output stays unset: xlate_write_actions__). */
  actsetHasGroup: boolean;
}

function report(ctx: Ctx, type: TraceNode['type'], text: string): TraceNode[] | null {
  if (ctx.tr === null) return null;
  const n: TraceNode = { type, text, subs: [] };
  ctx.tr.push(n);
  return n.subs;
}

/** Un-wildcards `mask` bits of word `w` (trace only). */
function unwild(ctx: Ctx, w: number, mask: number): void {
  if (ctx.wc !== null) ctx.wc[w] = ctx.wc[w]! | mask;
}

/** xlate_wc_init: in_port and dl_type are always examined, nw_frag for IP (and recirc_id, implicit). */
function initWildcards(w: Int32Array): Int32Array {
  const wc = new Int32Array(KEY_WORDS);
  wc[W_IN_PORT] = -1;
  wc[W_DL_TYPE] = 0xffff;
  const t = w[W_DL_TYPE];
  if (t === ETH_TYPE_IP || t === ETH_TYPE_IPV6) wc[W_NW_FRAG] = 3;
  return wc;
}

function lookupIn(ctx: Ctx, table: number): FlowRule | null {
  ctx.res.tables.push(table);
  const cls = ctx.br.tables.get(table);
  if (!cls) return null;
  if (hasConjunctions(cls)) return conjunctiveLookup(cls, ctx.st.words, ctx.wc);
  return ctx.wc !== null ? lookupWithWildcards(cls, ctx.st.words, ctx.wc) : cls.lookup(ctx.st.words);
}

/**
 * An action as ofproto/trace prints it: `ofpacts_format` of the action the switch holds, which
 * is the flow's action as sent in the bridge's OpenFlow version (ofpact-format.ts), e.g.
 * `set_field:0x1->reg0`, `load:0x1->NXM_NX_REG0[]`, `mod_nw_src:…` over OpenFlow 1.0.
 */
function actionText(ctx: Ctx, a: Action): string {
  if (a.type === 'goto_table' && ctx.of11) return `goto_table:${a.table}`;
  if (a.type === 'write_actions') return `write_actions(${a.actions.map((x) => actionText(ctx, x)).join(',')})`;
  if (a.type === 'clone' || a.type === 'ct' || a.type === 'learn' || a.type === 'noop') return formatAction(a);
  return formatOfpacts([a], ctx.of11 ? OF13_FORMAT : OF10_FORMAT);
}

const OF13_FORMAT = { added: 13, version: 13 } as const;
const OF10_FORMAT = { added: 10, version: 10 } as const;

function log(ctx: Ctx, text: string): void {
  if (ctx.res.log) ctx.res.log.push(`${'  '.repeat(ctx.depth)}${text}`);
}

function emit(ctx: Ctx, ofport: number): void {
  const c = ctx.ct;
  // ofproto/tunnel.c tnl_port_send: "ECN fields are always inherited", so an IP packet output to
  // a tunnel port has its ECN bits un-wildcarded (the outer TOS depends on them).
  if (ctx.wc !== null && ctx.br.portByOfport(ofport)?.tunnel) {
    const t = ctx.st.words[W_DL_TYPE];
    if (t === ETH_TYPE_IP || t === ETH_TYPE_IPV6) unwild(ctx, W_NW_TOS, 3);
  }
  ctx.res.outputs.push({ ofport, state: c !== null && c.ctNext === null ? pooledOutput(ctx.st) : copyState(ctx.st) });
  log(ctx, `-> output to ${ofport === OFPP_LOCAL ? 'LOCAL' : (ctx.br.portByOfport(ofport)?.name ?? ofport)}`);
}

/** Un-wildcards every bit of a subfield (trace only; `unwildcard_subfield`). */
function unwildSubfield(ctx: Ctx, sf: Subfield): void {
  if (ctx.wc === null) return;
  const wr = subfieldWrites(sf, (1n << BigInt(sf.nBits)) - 1n);
  wr.words.forEach((w, j) => unwild(ctx, w, wr.masks[j]!));
}

function noteDrop(ctx: Ctx, reason: string): void {
  ctx.res.drop = reason;
  log(ctx, `-> drop: ${reason}`);
}

/**
 * Translates the packet in `state` (its words hold in_port). `state` is modified. `ctNext`
 * given: ct() works as `ofproto/trace` shows it (the flags of successive recirculations, then
 * trk|new), without the connection tracker.
 */
export function xlate(br: XBridge, state: PacketState, opts: { mayLearn: boolean; trace?: boolean; ovsTrace?: boolean; of11?: boolean; ctNext?: number[]; recircId?: number }): XlateResult {
  const res: XlateResult = { outputs: [], rules: [], tables: [], learns: [], packetIns: [], drop: null, log: opts.trace ? [] : null, validUntilNs: Infinity, uncachable: false, groupHits: [], meters: [], passes: null };
  // Without the tracker's side effects allowed (a side-effect-free trace), ct() behaves as in ofproto/trace.
  const ctNext = opts.ctNext !== undefined ? [...opts.ctNext] : opts.mayLearn ? null : [];
  const ctx: Ctx = { br, st: state, res, depth: 0, resubmits: 0, mayLearn: opts.mayLearn, error: null, exited: false, tr: null, wc: null, of11: opts.of11 ?? false, ct: null, ctNext, pass: 0, recircBase: opts.recircId ?? 1, actionSet: [], actsetHasGroup: false };
  resetPools();
  if (opts.ovsTrace) {
    ctx.tr = res.trace = [];
    ctx.wc = res.wc = initWildcards(state.words);
  }
  const rule = lookupIn(ctx, 0);
  if (rule === null) {
    noteDrop(ctx, 'table-miss');
    const subs = report(ctx, 'table', ' 0. No match.');
    if (subs) subs.push({ type: 'action', text: 'drop', subs: [] });
    return res;
  }
  runRule(ctx, rule, 0);
  runActionSet(ctx, rule, 0, true);
  if (ctx.error !== null) {
    res.outputs.length = 0;
    res.drop = ctx.error;
  }
  const ct = ctOf(ctx);
  if (ct !== null && ct.recircs.length > 0) recirculate(ctx, ct);
  if (ct !== null) res.nextRecircId = ct.nextRecircId;
  return res;
}

/** Runs the recirculations `ct(table=N)` queued, each as a new pass (ofproto_trace's recirc queue). */
function recirculate(ctx: Ctx, c: CtCtx): void {
  const res = ctx.res;
  const passes: XlatePass[] = [{ recircId: 0, table: 0, ctState: ctx.st.words[W_CT_STATE]!, start: 0, end: res.outputs.length }];
  res.passes = passes;
  let r: Recirc | undefined;
  while ((r = c.recircs.shift()) !== undefined) {
    if (r.depth > MAX_RECIRC_DEPTH) {
      log(ctx, `recirc(0x${r.id.toString(16)}): recirculation depth exceeded (${MAX_RECIRC_DEPTH}), dropping`);
      res.drop = res.drop ?? 'recirc-depth';
      continue;
    }
    const header = resumeRecirc(c, r, res.log !== null);
    ctx.st = r.state;
    c.st = r.state;
    c.recircDepth = r.depth;
    c.conn = r.conn;
    c.reply = r.reply;
    ctx.depth = 0;
    ctx.resubmits = 0;
    ctx.error = null;
    ctx.exited = false;
    // The frozen action set: empty (a non-empty one fails the ct(), RECIRC_ACTION_SET_ERROR).
    ctx.actionSet = [];
    ctx.actsetHasGroup = false;
    if (res.log) res.log.push('', ...header);
    const start = res.outputs.length;
    const w = r.state.words;
    ctx.pass = passes.length;
    const pass: XlatePass = { recircId: r.id, table: r.table, ctState: w[W_CT_STATE]!, start, end: start };
    if (ctx.tr !== null) {
      // ofproto_trace_recirc_node: each recirculation is traced as a new packet, its tree opening
      // with the thaw (`freeze` resumed) node.
      // ofproto_trace_recirc_node prints the NAT note for any ct(nat), range or not, with flows
      // it has not filled in (as recorded from OVS 3.1: test/fixtures/ovs-conntrack/nat-zones).
      pass.header = header.filter((l) => !l.startsWith('Resuming from table') && !l.startsWith('Replacing src/dst'));
      if (r.nat !== null) pass.header.push('Replacing src/dst IP/ports to simulate NAT:', ' Initial flow: ', ' Modified flow: ');
      pass.initial = copyState(r.state);
      ctx.wc = pass.wc = initWildcards(w);
      ctx.tr = pass.trace = [];
      const subs = report(ctx, 'action', 'thaw');
      if (subs !== null) subs.push({ type: 'table', text: `Resuming from table ${r.table}`, subs: [] }); // OFT_THAW, not terminal: indented as a table
    }
    const rule = lookupIn(ctx, r.table);
    if (rule === null) {
      log(ctx, `${r.table}. No match.`);
      res.drop = res.drop ?? 'table-miss';
      const subs = report(ctx, 'table', `${String(r.table).padStart(2)}. No match.`);
      if (subs) subs.push({ type: 'action', text: 'drop', subs: [] });
    } else {
      runRule(ctx, rule, r.table);
      runActionSet(ctx, rule, r.table, true);
    }
    if (pass.initial) pass.final = Int32Array.from(w);
    const err = errorOf(ctx);
    if (err !== null) {
      res.outputs.length = start;
      res.drop = err;
    }
    pass.end = res.outputs.length;
    passes.push(pass);
  }
  if (c.uncachable) res.uncachable = true;
}

function noLog(): void {}

/** The translation error (set by nested calls). */
function errorOf(ctx: Ctx): string | null {
  return ctx.error;
}

/** The ct context a ct() created, if any (a call, so the type checker does not assume null). */
function ctOf(ctx: Ctx): CtCtx | null {
  return ctx.ct;
}

/** The datapath `ct(...)` action (lib/odp-util.c format_odp_conntrack_action), then `recirc(0xN)` with a table. */
function odpCt(a: CtAction, w: Int32Array, recircId: number): string {
  const parts: string[] = [];
  if (a.commit) parts.push(a.force ? 'force_commit' : 'commit');
  const zone = a.zoneSrc ? Number(readSubfield(a.zoneSrc, w) & 0xffffn) : a.zoneImm;
  if (zone !== 0) parts.push(`zone=${zone}`);
  let markV = 0;
  let markM = 0;
  for (const n of a.actions) {
    if (n.type !== 'set') continue;
    n.words.forEach((w, j) => {
      if (w !== W_CT_MARK) return;
      markV = (markV & ~n.masks[j]!) | n.values[j]!;
      markM |= n.masks[j]!;
    });
  }
  if (markM !== 0) parts.push(`mark=0x${(markV >>> 0).toString(16)}/0x${(markM >>> 0).toString(16)}`);
  if (a.nat !== null) {
    const nat = a.actions.find((n) => n.type === 'nat');
    if (nat) parts.push(formatNested(nat));
  }
  const ct = parts.length > 0 ? `ct(${parts.join(',')})` : 'ct';
  return a.table !== null ? `${ct},recirc(0x${recircId.toString(16)})` : ct;
}

function ctContext(ctx: Ctx): CtCtx {
  if (ctx.ct === null) {
    const br = ctx.br;
    ctx.ct = {
      st: ctx.st,
      ctNext: ctx.ctNext,
      recircs: [],
      nextRecircId: ctx.recircBase,
      recircDepth: 0,
      uncachable: false,
      conn: null,
      reply: false,
      log:
        ctx.res.log === null && ctx.tr === null
          ? noLog
          : (t) => {
              log(ctx, t);
              // The ct() details (forked / untracked) are trace nodes too.
              if (t.startsWith('-> ')) report(ctx, 'detail', t.slice(3));
            },
      br,
    };
  }
  ctx.ct.st = ctx.st;
  return ctx.ct;
}

function runRule(ctx: Ctx, rule: FlowRule, table: number): void {
  ctx.res.rules.push(rule);
  // xlate_report_table: the table node joins the current list; the rule's actions go under it.
  const saved = ctx.tr;
  if (ctx.res.log !== null || saved !== null) {
    // Texts only when traced (a plain translation builds no strings).
    const head = `${rule.matchText === '' ? '' : `${rule.matchText}, `}priority ${rule.priority}${rule.cookie !== 0n ? `, cookie 0x${rule.cookie.toString(16)}` : ''}`;
    log(ctx, `${table}. ${head}`);
    log(ctx, `   ${rule.actionsText}`);
    const subs = report(ctx, 'table', `${String(table).padStart(2)}. ${head}`);
    if (subs !== null) ctx.tr = subs;
  }
  if (rule.actions.length === 0) {
    noteDrop(ctx, 'drop-action');
    report(ctx, 'action', 'drop');
  }
  doActions(ctx, rule, rule.actions, table);
  ctx.tr = saved;
}

function doActions(ctx: Ctx, rule: FlowRule, actions: readonly Action[], table: number): void {
  const w = ctx.st.words;
  for (let i = 0; i < actions.length; i++) {
    if (ctx.error !== null || ctx.exited) return;
    const a = actions[i]!;
    if (ctx.tr !== null) {
      const text = actionText(ctx, a);
      // A write wider than 64 bits over OpenFlow 1.0 is several NXAST_REG_LOADs, i.e. several
      // ofpacts, each on its own trace line (set_field:2001:db8::2->tun_ipv6_dst; OVS 3.1).
      if (a.type === 'set' && text.includes(',load:')) for (const t of text.split(/,(?=load:)/)) report(ctx, 'action', t);
      else report(ctx, 'action', text);
    }
    switch (a.type) {
      case 'output':
        output(ctx, rule, a.port);
        break;
      case 'controller':
        ctx.res.packetIns.push(rule);
        log(ctx, '-> packet-in to controller');
        break;
      case 'set_vlan_vid': {
        unwild(ctx, W_VLAN_TCI, 0x1fff);
        const tci = w[W_VLAN_TCI]!;
        if (tci & VLAN_CFI) w[W_VLAN_TCI] = (tci & ~0xfff) | a.vid;
        else if (a.push) {
          w[W_VLAN_TCI] = VLAN_CFI | a.vid;
          ctx.st.tpid = 0x8100;
        }
        break;
      }
      case 'set_vlan_pcp': {
        unwild(ctx, W_VLAN_TCI, 0xf000 | VLAN_CFI);
        const tci = w[W_VLAN_TCI]!;
        if (tci & VLAN_CFI) w[W_VLAN_TCI] = (tci & 0x1fff) | (a.pcp << 13);
        else if (a.push) {
          w[W_VLAN_TCI] = VLAN_CFI | (a.pcp << 13);
          ctx.st.tpid = 0x8100;
        }
        break;
      }
      case 'strip_vlan':
        if (w[W_VLAN_TCI]! & VLAN_CFI) {
          if (ctx.st.inner !== 0) {
            w[W_VLAN_TCI] = (ctx.st.inner & 0xefff) | VLAN_CFI;
            ctx.st.tpid = ctx.st.inner >>> 16;
            ctx.st.inner = 0;
          } else w[W_VLAN_TCI] = 0;
        }
        break;
      case 'push_vlan': {
        const tci = w[W_VLAN_TCI]!;
        if (tci & VLAN_CFI) unwild(ctx, W_VLAN_TCI, 0xffff); // flow_push_vlan_uninit
        // flow_push_vlan_uninit moves the old tag inward; OFPACT_PUSH_VLAN (OVS 3.1
        // do_xlate_actions) then sets the new outer TCI to VLAN_CFI alone: VID 0, PCP 0, whatever
        // the old tag held. At most two tags are tracked (FLOW_MAX_VLAN_HEADERS), a third push
        // loses the innermost.
        if (tci & VLAN_CFI) ctx.st.inner = (ctx.st.tpid << 16) | (tci & 0xefff);
        w[W_VLAN_TCI] = VLAN_CFI;
        ctx.st.tpid = a.tpid;
        break;
      }
      case 'set': {
        if (!prereqOk(a.field.prereq, w, FULL_MASK)) {
          // OpenFlow 1.0 mod_tp_src/dst on any IP packet: OVS examines nw_proto and the port
          // even when the protocol has no ports (OFPACT_SET_L4_*_PORT).
          const t = w[W_DL_TYPE];
          if (ctx.wc !== null && a.of10 && (t === ETH_TYPE_IP || t === ETH_TYPE_IPV6) && (a.words[0] === W_TP_SRC || a.words[0] === W_TP_DST)) {
            unwild(ctx, W_NW_PROTO, 0xff);
            unwild(ctx, a.words[0], 0xffff);
          }
          break;
        }
        const ws = a.words;
        if (ctx.wc !== null) {
          // The written bits (mf_mask_field_masked), nw_proto for a field whose prerequisite
          // examines it (an L4 or ND field), and nw_proto for the L3 fields OVS's
          // mf_set_mask_l3_prereqs lists (lib/meta-flow.c; OVS commit 9d840923d "Always mask ip
          // proto field", CVE-2023-1668, which Debian's 3.1.0-2+deb12u1 carries): on an IP packet
          // MFF_IPV4_SRC/DST, MFF_IPV6_SRC/DST/LABEL, MFF_IP_DSCP (nw_tos, NXM_OF_IP_TOS), MFF_IP_ECN
          // and MFF_IP_TTL; on an ARP packet the ARP fields. MFF_IP_DSCP_SHIFTED (ip_dscp,
          // OXM_OF_IP_DSCP) is not listed, so its write leaves nw_proto out of the megaflow
          // (test/fixtures/ovs/tos #1-3). mod_nw_* (OFPACT_SET_IPV4_SRC/DST, SET_IP_DSCP/ECN/TTL)
          // write the same fields and mask nw_proto the same way in ofproto-dpif-xlate.c.
          const t = w[W_DL_TYPE];
          const name = a.field.name;
          const l3 = ((t === ETH_TYPE_IP || t === ETH_TYPE_IPV6) && L3_PROTO_MASKING.has(name)) || (t === ETH_TYPE_ARP && ARP_PROTO_MASKING.has(name));
          if (L4_PREREQS.has(a.field.prereq) || l3) unwild(ctx, W_NW_PROTO, 0xff);
          for (let j = 0; j < ws.length; j++) unwild(ctx, ws[j]!, a.masks[j]!);
        }
        for (let j = 0; j < ws.length; j++) {
          const k = ws[j]!;
          w[k] = (w[k]! & ~a.masks[j]!) | a.values[j]!;
        }
        break;
      }
      case 'dec_ttl': {
        const t = w[W_DL_TYPE];
        if (t !== ETH_TYPE_IP && t !== ETH_TYPE_IPV6) break;
        const ttl = w[W_NW_TTL]!;
        unwild(ctx, W_NW_TTL, 0xff);
        unwild(ctx, W_NW_PROTO, 0xff);
        if (ttl <= 1) {
          // compose_dec_ttl → execute_controller_action: xlate_commit_actions puts the header
          // changes made so far into the datapath actions before the (controller-less) packet-in.
          if (ctx.tr !== null) (ctx.res.odpCt ??= []).push({ pass: ctx.pass, at: ctx.res.outputs.length, text: '', state: copyState(ctx.st) });
          report(ctx, 'warn', `IPv${t === ETH_TYPE_IP ? 4 : 6} decrement TTL exception`);
          noteDrop(ctx, 'ttl-exceeded');
          return;
        }
        w[W_NW_TTL] = ttl - 1;
        break;
      }
      case 'resubmit':
        resubmit(ctx, a.port, a.table ?? table, table, a.ct === true);
        break;
      case 'move':
        copySubfield(a.src, w, a.dst, w);
        // tun_metadata_write: a field written becomes present (a Geneve option on encap).
        if (a.dst.fd.tunMd !== undefined) w[W_TUN_MD_PRESENT + (a.dst.fd.tunMd >> 5)] = w[W_TUN_MD_PRESENT + (a.dst.fd.tunMd >> 5)]! | (1 << (a.dst.fd.tunMd & 31));
        if (ctx.tr !== null) {
          unwildSubfield(ctx, a.src);
          unwildSubfield(ctx, a.dst);
          // xlate_report_subfield: a whole field in its own format (mf_format: decimal for a
          // decimal int field such as ip_dscp), a part as hex (ds_put_hex: "0" for zero).
          const v = readSubfield(a.dst, w);
          const whole = a.dst.ofs === 0 && a.dst.nBits >= fieldBits(a.dst.fd);
          const shown = whole && a.dst.fd.kind === 'int' && !a.dst.fd.hex && (a.dst.fd.name === 'ip_dscp' || a.dst.fd.name === 'nw_ecn' || a.dst.fd.name === 'nw_tos') ? v.toString(10) : !whole && v === 0n ? '0' : `0x${v.toString(16)}`;
          report(ctx, 'detail', `${formatSubfield(a.dst)} is now ${shown}`);
        }
        break;
      case 'output_reg': {
        const port = Number(readSubfield(a.src, w)) & 0xffff;
        unwildSubfield(ctx, a.src);
        report(ctx, 'detail', `output port is ${port}`);
        output(ctx, rule, port);
        break;
      }
      case 'noop':
      case 'conjunction': // only ever matched through conjunction.ts
        break;
      case 'exit':
        ctx.exited = true;
        return;
      case 'learn':
        ctx.res.uncachable = true;
        // learn_mask: every source field the learned flow copies is examined.
        if (ctx.tr !== null) for (const sp of a.specs) if (sp.src) unwildSubfield(ctx, sp.src);
        if (!ctx.mayLearn) {
          // xlate_learn_action without side effects (a plain ofproto/trace): nothing learned or written.
          report(ctx, 'warn', 'suppressing side effects, so learn action ignored');
          break;
        }
        if (ctx.tr !== null) {
          const f = learnedFlow(a, w);
          const m = formatMatch(f.value, f.mask);
          const extra = `${f.cookie !== 0n ? ` cookie=0x${f.cookie.toString(16)}` : ''}${f.idleTimeout ? ` idle=${f.idleTimeout}` : ''}${f.hardTimeout ? ` hard=${f.hardTimeout}` : ''}${a.sendFlowRem ? ' send_flow_rem' : ''}`;
          report(ctx, 'detail', `table=${f.table} ${m}${m ? ' ' : ''}priority=${f.priority}${extra} actions=${formatActions(f.actions)}`);
        }
        ctx.br.learnFlow(a, w);
        log(ctx, `-> learned a flow in table ${a.table}`);
        if (a.resultDst) learnResult(ctx, a.resultDst);
        break;
      case 'ct_clear':
        w.fill(0, W_CT_STATE, W_CT_END);
        break;
      case 'ct': {
        const c = ctContext(ctx);
        if (ctx.tr !== null) {
          // compose_conntrack_action: the nested actions are traced as actions of their own (an
          // empty list as `drop`), and the datapath gets ct(...) (then recirc()) where it ran.
          for (const n of a.actions.length > 0 ? a.actions : []) report(ctx, 'action', formatNested(n));
          if (a.actions.length === 0) report(ctx, 'action', 'drop');
        }
        if (a.table !== null && ctx.actionSet.length > 0) {
          // compose_recirculate_and_fork freezes the action set with no frozen actions, and OVS
          // 3.1 then aborts (ofproto-dpif-rid.c recirc_alloc_id__: `assertion
          // state->action_set_len <= state->ofpacts_len failed`, recorded in
          // test/fixtures/ovs-conntrack/actset-recirc). vfab fails the translation instead: the
          // packet is dropped (docs/flows.md, deliberate differences).
          ctx.error = 'recirc-action-set';
          log(ctx, RECIRC_ACTION_SET_ERROR);
          report(ctx, 'error', RECIRC_ACTION_SET_ERROR);
          return;
        }
        if (ctx.tr !== null) (ctx.res.odpCt ??= []).push({ pass: ctx.pass, at: ctx.res.outputs.length, text: odpCt(a, w, c.nextRecircId) });
        ctAction(c, a);
        if (c.uncachable) ctx.res.uncachable = true;
        break;
      }
      case 'clone': {
        // ofproto-dpif-xlate.c compose_clone: the clone sees the packet as it is now; whatever
        // it changes (fields, VLAN tags) is undone afterwards.
        const saved = copyState(ctx.st);
        // xlate_clone: the clone works on a copy of the action set and runs it at its end.
        const savedSet = ctx.actionSet;
        ctx.actionSet = savedSet.slice();
        doActions(ctx, rule, a.actions, table);
        runActionSet(ctx, rule, table);
        ctx.actionSet = savedSet;
        ctx.st.words.set(saved.words);
        ctx.st.tpid = saved.tpid;
        ctx.st.inner = saved.inner;
        ctx.exited = false;
        break;
      }
      case 'goto_table':
        resubmit(ctx, null, a.table, table);
        break;
      case 'write_actions': {
        // xlate_write_actions: appended to the set; actset_output follows it.
        const r = actsetOutputAfterWrite(a.actions, ctx.actsetHasGroup);
        if (r.output !== null) w[W_ACTSET_OUTPUT] = r.output;
        ctx.actsetHasGroup = r.hasGroup;
        ctx.actionSet.push(...a.actions);
        reportActionSet(ctx, 'is');
        break;
      }
      case 'clear_actions':
        reportActionSet(ctx, 'was');
        ctx.actionSet = [];
        w[W_ACTSET_OUTPUT] = ACTSET_OUTPUT_UNSET;
        ctx.actsetHasGroup = false;
        break;
      case 'write_metadata':
        // OFPACT_WRITE_METADATA: the masked bits of the 64-bit metadata.
        w[W_METADATA] = (w[W_METADATA]! & ~Number(a.mask >> 32n)) | Number((a.value & a.mask) >> 32n);
        w[W_METADATA + 1] = (w[W_METADATA + 1]! & ~Number(a.mask & 0xffff_ffffn)) | Number(a.value & a.mask & 0xffff_ffffn);
        break;
      case 'group':
        // ofproto-dpif-xlate.c: a missing group ends this action list (not the pipeline).
        if (!groupAction(ctx, rule, a.id, table)) return;
        break;
      case 'meter':
        // The datapath's meter() action: applied per packet by the bridge (meters.ts), after
        // translation, so a cached translation still meters every packet.
        ctx.res.meters.push(a.id, ctx.res.outputs.length);
        log(ctx, `meter:${a.id}`);
        break;
    }
  }
}

/**
 * xlate_learn_action's NX_LEARN_F_WRITE_RESULT: 1 when the flow was learned. OVS writes 0 only
 * when `limit` stopped it; vfab does not enforce `limit` (docs/flows.md), so it is always 1.
 */
function learnResult(ctx: Ctx, dst: Subfield): void {
  const w = ctx.st.words;
  const wr = subfieldWrites(dst, 1n);
  for (let j = 0; j < wr.words.length; j++) {
    const k = wr.words[j]!;
    w[k] = (w[k]! & ~wr.masks[j]!) | wr.values[j]!;
    unwild(ctx, k, wr.masks[j]!);
  }
  report(ctx, 'detail', `${canonicalSubfield(dst.fd, dst.ofs, dst.nBits)} is now 0x1`);
}

/** `xlate_report_action_set`: the set as it would run, after write_actions ("is") or before clear_actions ("was"). */
function reportActionSet(ctx: Ctx, verb: 'is' | 'was'): void {
  if (ctx.tr === null) return;
  const list = actionSetExecutionOrder(ctx.actionSet);
  report(ctx, 'detail', list.length > 0 ? `action set ${verb}: ${list.map((x) => actionText(ctx, x)).join(',')}` : `action set ${verb} empty`);
}

/**
 * `xlate_action_set`: at the end of the pipeline (of a pass, of a clone), the action set runs as
 * an action list in the OpenFlow order (action-set.ts) and is emptied. A pass that forked a
 * recirculation (`ct(table=N)`) runs its set too: compose_recirculate_and_fork cancels the freeze
 * (`ctx_cancel_freeze`), so xlate_actions still calls xlate_action_set for the current packet
 * (recorded from OVS 3.1: test/fixtures/ovs-conntrack/actset-recirc). The recirculated pass
 * starts with the set frozen at the ct(), which is always empty (see RECIRC_ACTION_SET_ERROR).
 */
function runActionSet(ctx: Ctx, rule: FlowRule, table: number, top = false): void {
  if (ctx.actionSet.length === 0) return;
  const list = actionSetExecutionOrder(ctx.actionSet);
  ctx.actionSet = [];
  if (list.length === 0 || ctx.error !== null) return;
  const saved = ctx.tr;
  // xlate_actions leaves the trace inside the first table's node (xlate_report_table does not
  // restore it there): the action set's node lands under that table.
  const first = top && ctx.tr !== null ? ctx.tr[ctx.tr.length - 1] : undefined;
  if (first !== undefined && first.type === 'table') ctx.tr = first.subs;
  const subs = report(ctx, 'table', '--. Executing action set:');
  if (subs !== null) ctx.tr = subs;
  log(ctx, 'executing action set');
  // After `exit` the node shows but nothing runs (do_xlate_actions stops on ctx->exit).
  doActions(ctx, rule, list, table);
  ctx.tr = saved;
}

/** `xlate_group_action`: false when the group does not exist. */
function groupAction(ctx: Ctx, rule: FlowRule, id: number, table: number): boolean {
  if (ctx.depth >= MAX_DEPTH) {
    ctx.error = 'resubmit-depth';
    log(ctx, `over max translation depth ${MAX_DEPTH}`);
    report(ctx, 'error', `over max translation depth ${MAX_DEPTH}`);
    return true;
  }
  if (ctx.resubmits >= MAX_RESUBMITS) {
    ctx.error = 'resubmit-limit';
    log(ctx, `over ${MAX_RESUBMITS} resubmit actions`);
    report(ctx, 'error', `over ${MAX_RESUBMITS} resubmit actions`);
    return true;
  }
  const g = ctx.br.group(id);
  log(ctx, `group:${id}`);
  if (!g) {
    log(ctx, ` -> output to nonexistent group ${id}`);
    report(ctx, 'warn', `output to nonexistent group ${id}`);
    return false;
  }
  if (g.type === 'all' || g.type === 'indirect') {
    for (const b of g.buckets) runBucket(ctx, rule, b, table);
    ctx.res.groupHits.push(g, null);
    return true;
  }
  const scores = ctx.tr !== null ? (x: Bucket, score: number | null): void => void report(ctx, 'detail', score === null ? notLive(x) : `bucket ${x.id}: score ${score}`) : undefined;
  const b = g.type === 'select' ? pickSelectBucket(ctx.br, g, ctx.st.words, ctx.st.inner, scores) : firstLiveBucket(ctx.br, g);
  if (ctx.wc !== null && g.type === 'select' && g.hashMap === null && g.selectionMethod === 'hash') {
    for (const [word, m] of hashFieldBits(g, ctx.st.words)) unwild(ctx, word, m);
  }
  if (g.type === 'ff' && ctx.tr !== null) {
    // group_first_live_bucket reports each bucket it passes over.
    for (const x of g.buckets) {
      if (x === b) break;
      report(ctx, 'detail', notLive(x));
    }
  }
  if (b === null) {
    for (const x of g.buckets) if (!bucketIsAlive(ctx.br, g, x, 0)) log(ctx, ` -> bucket ${x.id}: not live`);
    log(ctx, ' -> no live bucket');
    report(ctx, 'detail', 'no live bucket');
    return true;
  }
  log(ctx, ` -> using bucket ${b.id}`);
  report(ctx, 'detail', `using bucket ${b.id}`);
  runBucket(ctx, rule, b, table);
  ctx.res.groupHits.push(g, b);
  return true;
}

/** `xlate_report_bucket_not_live`: which watch made a bucket dead. */
function notLive(b: Bucket): string {
  const why: string[] = [];
  if (b.watchPort !== 0xffffffff && b.watchPort !== 0xffff) why.push(`port ${b.watchPort}`);
  if (b.watchGroup !== 0xffffffff) why.push(`port ${b.watchGroup}`);
  return `bucket ${b.id}: not live due to ${why.join(' and ')}`;
}

/** `xlate_group_bucket`: the bucket's action set on a copy of the packet. */
function runBucket(ctx: Ctx, rule: FlowRule, b: Bucket, table: number): void {
  const saved = copyState(ctx.st);
  log(ctx, `bucket ${b.id}`);
  const savedTr = ctx.tr;
  const subs = report(ctx, 'bucket', `bucket ${b.id}`);
  if (subs !== null) ctx.tr = subs;
  ctx.depth++;
  doActions(ctx, rule, b.executed, table);
  ctx.depth--;
  ctx.tr = savedTr;
  ctx.st.words.set(saved.words);
  ctx.st.tpid = saved.tpid;
  ctx.st.inner = saved.inner;
  // A bucket that exits does not end the translation after the group action.
  ctx.exited = false;
}

/**
 * `xlate_table_action`: look the packet up in `table`. As in OVS, only a resubmit to the same or
 * an earlier table (`deepens`, a possible loop) counts toward MAX_DEPTH, and only a lookup that
 * found a rule counts toward MAX_RESUBMITS (`xlate_recursively`).
 */
/**
 * `tuple_swap` (ofproto-dpif-xlate.c): exchanges the packet's addresses, protocol and ports with
 * the conntrack original-direction tuple, in the key and in the wildcards, so that
 * `resubmit(…,ct)` looks up with the original tuple; swapping again restores both.
 */
function tupleSwap(w: Int32Array, ipv4: boolean): void {
  const sw = (a: number, b: number): void => {
    const t = w[a]!;
    w[a] = w[b]!;
    w[b] = t;
  };
  sw(W_NW_PROTO, W_CT_NW_PROTO);
  if (ipv4) {
    sw(W_NW_SRC, W_CT_NW_SRC);
    sw(W_NW_DST, W_CT_NW_DST);
  } else {
    for (let i = 0; i < 4; i++) {
      sw(W_IPV6_SRC + i, W_CT_IPV6_SRC + i);
      sw(W_IPV6_DST + i, W_CT_IPV6_DST + i);
    }
  }
  sw(W_TP_SRC, W_CT_TP_SRC);
  sw(W_TP_DST, W_CT_TP_DST);
}

function resubmit(ctx: Ctx, port: number | null, table: number, fromTable: number, withCt = false): void {
  if (ctx.depth >= MAX_DEPTH) {
    ctx.error = 'resubmit-depth';
    log(ctx, `over max translation depth ${MAX_DEPTH}`);
    report(ctx, 'error', `over max translation depth ${MAX_DEPTH}`);
    return;
  }
  if (ctx.resubmits >= MAX_RESUBMITS) {
    ctx.error = 'resubmit-limit';
    log(ctx, `over ${MAX_RESUBMITS} resubmit actions`);
    report(ctx, 'error', `over ${MAX_RESUBMITS} resubmit actions`);
    return;
  }
  const w = ctx.st.words;
  const savedIn = w[W_IN_PORT]!;
  if (port !== null && port !== OFPP_IN_PORT) w[W_IN_PORT] = port;
  let ipv4 = false;
  if (withCt) {
    // xlate_table_action: no swap (and no lookup) without a tracked IP connection.
    const dlType = w[W_DL_TYPE]!;
    ipv4 = dlType === ETH_TYPE_IP;
    if (w[W_CT_NW_PROTO] === 0 || (!ipv4 && dlType !== ETH_TYPE_IPV6)) {
      log(ctx, 'resubmit(ct) with non-tracked or non-IP packet!');
      report(ctx, 'error', 'resubmit(ct) with non-tracked or non-IP packet!');
      w[W_IN_PORT] = savedIn;
      return;
    }
  }
  const deepens = table <= fromTable ? 1 : 0;
  ctx.depth += deepens;
  if (withCt) {
    tupleSwap(w, ipv4);
    if (ctx.wc !== null) tupleSwap(ctx.wc, ipv4);
  }
  const rule = lookupIn(ctx, table);
  if (withCt) {
    tupleSwap(w, ipv4);
    if (ctx.wc !== null) tupleSwap(ctx.wc, ipv4);
  }
  if (rule === null) {
    log(ctx, `${table}. No match.`);
    ctx.res.drop = ctx.res.drop ?? 'table-miss';
    const subs = report(ctx, 'table', `${String(table).padStart(2)}. No match.`);
    if (subs) subs.push({ type: 'action', text: 'drop', subs: [] });
  } else {
    ctx.resubmits++;
    runRule(ctx, rule, table);
  }
  ctx.depth -= deepens;
  w[W_IN_PORT] = savedIn;
}

function output(ctx: Ctx, rule: FlowRule, port: number): void {
  const br = ctx.br;
  const inPort = ctx.st.words[W_IN_PORT]!;
  switch (port) {
    case OFPP_NORMAL:
      normal(ctx);
      return;
    case OFPP_FLOOD:
    case OFPP_ALL: {
      let any = false;
      for (const p of br.allPorts()) {
        if (p.ofport === inPort || (port === OFPP_FLOOD && p.noFlood)) continue;
        emit(ctx, p.ofport);
        any = true;
      }
      if (!any) noteDrop(ctx, 'no-flood-ports');
      return;
    }
    case OFPP_IN_PORT:
      if (br.portByOfport(inPort)) emit(ctx, inPort);
      return;
    case OFPP_CONTROLLER:
      ctx.res.packetIns.push(rule);
      log(ctx, '-> packet-in to controller');
      return;
    case OFPP_NONE:
      return;
  }
  if (port === inPort) {
    noteDrop(ctx, 'in-port');
    report(ctx, 'warn', 'skipping output to input port');
    return;
  }
  if (!br.portByOfport(port)) {
    noteDrop(ctx, 'no-such-port');
    report(ctx, 'warn', 'Nonexistent output port');
    return;
  }
  emit(ctx, port);
}

function isReservedMac(hi: number, lo: number): boolean {
  // 01:80:c2:00:00:00 – 01:80:c2:00:00:0f (eth_addr_is_reserved, IEEE 802.1 link-local).
  return (hi & 0xffff) === 0x0180 && (lo >>> 4) === 0x0c20_0000;
}

function normal(ctx: Ctx): void {
  const br = ctx.br;
  const w = ctx.st.words;
  const inPort = w[W_IN_PORT]!;
  const inB = br.portByOfport(inPort);
  if (!inB) {
    noteDrop(ctx, 'no-input-port');
    return;
  }
  // xlate_normal: the MACs and the VLAN are examined.
  unwild(ctx, W_DL_SRC_HI, 0xffff);
  unwild(ctx, W_DL_SRC_HI + 1, -1);
  unwild(ctx, W_DL_DST_HI, 0xffff);
  unwild(ctx, W_DL_DST_HI + 1, -1);
  unwild(ctx, W_VLAN_TCI, 0x1fff);
  const tci = w[W_VLAN_TCI]!;
  const vid = tci & VLAN_CFI ? tci & 0xfff : 0;
  if (!inputVidIsValid(inB.vlan, vid)) {
    noteDrop(ctx, 'vlan-filter');
    log(ctx, `disallowed VLAN VID ${vid} for input port ${inB.name}, dropping`);
    // input_vid_is_valid's error, then xlate_normal's warning.
    report(
      ctx,
      'error',
      inB.vlan.mode === 'access'
        ? `dropping VLAN ${vid} tagged packet received on port ${inB.name} configured as VLAN ${inB.vlan.vlan} access port`
        : `dropping VLAN ${vid} packet received on port ${inB.name} not configured for trunking VLAN ${vid}`,
    );
    report(ctx, 'warn', 'disallowed VLAN VID for this input port, dropping');
    return;
  }
  const vlan = inputVidToVlan(inB.vlan, vid);
  if (isReservedMac(w[W_DL_DST_HI]!, w[W_DL_DST_HI + 1]!)) {
    noteDrop(ctx, 'reserved-mac');
    report(ctx, 'detail', 'packet has reserved destination MAC, dropping');
    return;
  }
  if (ctx.wc !== null && w[W_DL_TYPE] === ETH_TYPE_ARP && (w[W_DL_DST_HI]! & 0xffff) === 0xffff && w[W_DL_DST_HI + 1] === -1) {
    // is_gratuitous_arp: a broadcast ARP's opcode, and a request's addresses, are examined.
    unwild(ctx, W_NW_PROTO, 0xff);
    if (w[W_NW_PROTO] === 1) {
      unwild(ctx, W_NW_SRC, -1);
      unwild(ctx, W_NW_DST, -1);
    }
  }
  const srcHi = w[W_DL_SRC_HI]! & 0xffff;
  const src = srcHi * 0x1_0000_0000 + (w[W_DL_SRC_HI + 1]! >>> 0);
  if (ctx.mayLearn && (srcHi & 0x0100) === 0) {
    const r = br.mac.learn(src, vlan, inPort, br.nowNs());
    ctx.res.learns.push(src, vlan, inPort);
    if (r.result !== 'refreshed') {
      br.onLearn(src, vlan, inPort, r.result, r.from);
      log(ctx, `-> learned that ${formatMac(src)} is on port ${inB.name} in VLAN ${vlan}`);
      report(ctx, 'detail', `learned that ${formatMac(src)} is on port ${inB.name} in VLAN ${vlan}`);
    }
  }
  const dstHi = w[W_DL_DST_HI]! & 0xffff;
  if ((dstHi & 0x0100) === 0) {
    const dst = dstHi * 0x1_0000_0000 + (w[W_DL_DST_HI + 1]! >>> 0);
    const p = br.mac.lookup(dst, vlan, br.nowNs());
    if (p >= 0) {
      if (br.mac.lastFoundExpiresNs < ctx.res.validUntilNs) ctx.res.validUntilNs = br.mac.lastFoundExpiresNs;
      if (p === inPort) {
        noteDrop(ctx, 'learned-on-in-port');
        log(ctx, 'learned port is input port, dropping');
        report(ctx, 'detail', 'learned port is input port, dropping');
        return;
      }
      const out = br.portByOfport(p);
      if (!out) {
        noteDrop(ctx, 'no-such-port');
        return;
      }
      log(ctx, 'forwarding to learned port');
      report(ctx, 'detail', 'forwarding to learned port');
      outputNormal(ctx, out, vlan);
      return;
    }
    log(ctx, 'no learned MAC for destination, flooding');
  }
  // A group address is looked up too (and never learned): OVS says the same.
  report(ctx, 'detail', 'no learned MAC for destination, flooding');
  let any = false;
  for (const p of br.allPorts()) {
    if (p.ofport === inPort || p.noFlood || !includesVlan(p.vlan, vlan)) continue;
    outputNormal(ctx, p, vlan);
    any = true;
  }
  if (!any) noteDrop(ctx, 'no-flood-ports');
}

/** `output_normal`: retag for the output port, keep PCP, emit, restore. */
function outputNormal(ctx: Ctx, p: XPort, vlan: number): void {
  const w = ctx.st.words;
  const old = w[W_VLAN_TCI]!;
  const oldTpid = ctx.st.tpid;
  const vid = outputVlanToVid(p.vlan, vlan);
  // xvlan_output_translate + xvlan_put: an access port (or the native VLAN of a native-untagged
  // port) gets no tag; otherwise the tag is vid|pcp and exists when that is non-zero, so a frame
  // in VLAN 0 with a priority (mod_vlan_pcp on an untagged packet) leaves a trunk priority-tagged.
  const untag = p.vlan.mode === 'access' || (p.vlan.mode === 'native-untagged' && vlan === p.vlan.vlan);
  const tci = untag ? 0 : vid | (old & VLAN_CFI ? old & 0xe000 : 0);
  if (tci !== 0) {
    w[W_VLAN_TCI] = tci | VLAN_CFI;
    if (!(old & VLAN_CFI)) ctx.st.tpid = 0x8100;
  } else w[W_VLAN_TCI] = 0;
  emit(ctx, p.ofport);
  w[W_VLAN_TCI] = old;
  ctx.st.tpid = oldTpid;
}
