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
  KEY_WORDS,
  W_CT_STATE,
  W_CT_TP_DST,
  formatMac,
  prereqOk,
} from './fields.js';
import type { FlowRule } from './flow-table.js';
import type { MacTable } from './mac-learning.js';
import { copyState, type PacketState } from './rewrite.js';
import { copySubfield, readSubfield } from './subfield.js';
import type { LearnAction } from './learn.js';
import { bucketIsAlive, firstLiveBucket, pickSelectBucket, type Bucket, type Group } from './group.js';
import type { CtExec } from './conntrack.js';
import { MAX_RECIRC_DEPTH, ctAction, pooledOutput, resetPools, resumeRecirc, type CtCtx, type Recirc } from './xlate-ct.js';
import { includesVlan, inputVidIsValid, inputVidToVlan, outputVlanToVid, type PortVlanConfig } from './vlan.js';

export const MAX_DEPTH = 64;
export const MAX_RESUBMITS = MAX_DEPTH * MAX_DEPTH;

export interface XPort {
  name: string;
  ofport: number;
  vlan: PortVlanConfig;
  /** Left out of NORMAL and FLOOD floods (`ovs-ofctl mod-port … no-flood`). */
  noFlood: boolean;
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
}

export interface XlateOutput {
  ofport: number;
  state: PacketState;
}

export interface XlateResult {
  outputs: XlateOutput[];
  /** Rules matched, in order (each gets the packet counted). */
  rules: FlowRule[];
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
  /** The passes when the packet recirculated (`ct(table=N)`), else null (one pass). */
  passes: XlatePass[] | null;
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
  /** Connection tracking state, created at the first ct() (xlate-ct.ts). */
  ct: CtCtx | null;
  ctNext: number[] | null;
}

function log(ctx: Ctx, text: string): void {
  if (ctx.res.log) ctx.res.log.push(`${'  '.repeat(ctx.depth)}${text}`);
}

function emit(ctx: Ctx, ofport: number): void {
  const c = ctx.ct;
  ctx.res.outputs.push({ ofport, state: c !== null && c.ctNext === null ? pooledOutput(ctx.st) : copyState(ctx.st) });
  log(ctx, `-> output to ${ofport === OFPP_LOCAL ? 'LOCAL' : (ctx.br.portByOfport(ofport)?.name ?? ofport)}`);
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
export function xlate(br: XBridge, state: PacketState, opts: { mayLearn: boolean; trace?: boolean; ctNext?: number[] }): XlateResult {
  const res: XlateResult = { outputs: [], rules: [], learns: [], packetIns: [], drop: null, log: opts.trace ? [] : null, validUntilNs: Infinity, uncachable: false, groupHits: [], meters: [], passes: null };
  // Without the tracker's side effects allowed (a side-effect-free trace), ct() behaves as in ofproto/trace.
  const ctNext = opts.ctNext !== undefined ? [...opts.ctNext] : opts.mayLearn ? null : [];
  const ctx: Ctx = { br, st: state, res, depth: 0, resubmits: 0, mayLearn: opts.mayLearn, error: null, exited: false, ct: null, ctNext };
  resetPools();
  const rule = br.tables.get(0)?.lookup(state.words) ?? null;
  if (rule === null) {
    noteDrop(ctx, 'table-miss');
    return res;
  }
  runRule(ctx, rule, 0);
  if (ctx.error !== null) {
    res.outputs.length = 0;
    res.drop = ctx.error;
  }
  const ct = ctOf(ctx);
  if (ct !== null && ct.recircs.length > 0) recirculate(ctx, ct);
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
    ctx.depth = 0;
    ctx.resubmits = 0;
    ctx.error = null;
    ctx.exited = false;
    if (res.log) res.log.push('', ...header);
    const start = res.outputs.length;
    const w = r.state.words;
    const pass: XlatePass = { recircId: r.id, table: r.table, ctState: w[W_CT_STATE]!, start, end: start };
    const rule = ctx.br.tables.get(r.table)?.lookup(w) ?? null;
    if (rule === null) {
      log(ctx, `${r.table}. No match.`);
      res.drop = res.drop ?? 'table-miss';
    } else runRule(ctx, rule, r.table);
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

function ctContext(ctx: Ctx): CtCtx {
  if (ctx.ct === null) {
    const br = ctx.br;
    ctx.ct = {
      st: ctx.st,
      ctNext: ctx.ctNext,
      recircs: [],
      nextRecircId: 1,
      recircDepth: 0,
      uncachable: false,
      log: ctx.res.log === null ? noLog : (t) => log(ctx, t),
      br,
    };
  }
  ctx.ct.st = ctx.st;
  return ctx.ct;
}

function runRule(ctx: Ctx, rule: FlowRule, table: number): void {
  ctx.res.rules.push(rule);
  log(ctx, `${table}. ${rule.matchText === '' ? '' : `${rule.matchText}, `}priority ${rule.priority}${rule.cookie !== 0n ? `, cookie 0x${rule.cookie.toString(16)}` : ''}`);
  log(ctx, `   ${rule.actionsText}`);
  if (rule.actions.length === 0) noteDrop(ctx, 'drop-action');
  doActions(ctx, rule, rule.actions, table);
}

function doActions(ctx: Ctx, rule: FlowRule, actions: readonly Action[], table: number): void {
  const w = ctx.st.words;
  for (let i = 0; i < actions.length; i++) {
    if (ctx.error !== null || ctx.exited) return;
    const a = actions[i]!;
    switch (a.type) {
      case 'output':
        output(ctx, rule, a.port);
        break;
      case 'controller':
        ctx.res.packetIns.push(rule);
        log(ctx, '-> packet-in to controller');
        break;
      case 'set_vlan_vid': {
        const tci = w[W_VLAN_TCI]!;
        if (tci & VLAN_CFI) w[W_VLAN_TCI] = (tci & ~0xfff) | a.vid;
        else if (a.push) {
          w[W_VLAN_TCI] = VLAN_CFI | a.vid;
          ctx.st.tpid = 0x8100;
        }
        break;
      }
      case 'set_vlan_pcp': {
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
        // The new outer tag copies the old outer TCI (OVS flow_push_vlan_uninit + xlate); at most
        // two tags are tracked (FLOW_MAX_VLAN_HEADERS), a third push loses the innermost.
        if (tci & VLAN_CFI) ctx.st.inner = (ctx.st.tpid << 16) | (tci & 0xefff);
        else w[W_VLAN_TCI] = VLAN_CFI;
        ctx.st.tpid = a.tpid;
        break;
      }
      case 'set': {
        if (!prereqOk(a.field.prereq, w, FULL_MASK)) break;
        const ws = a.words;
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
        if (ttl <= 1) {
          noteDrop(ctx, 'ttl-exceeded');
          return;
        }
        w[W_NW_TTL] = ttl - 1;
        break;
      }
      case 'resubmit':
        resubmit(ctx, a.port, a.table ?? table);
        break;
      case 'move':
        copySubfield(a.src, w, a.dst, w);
        break;
      case 'output_reg':
        output(ctx, rule, Number(readSubfield(a.src, w)) & 0xffff);
        break;
      case 'noop':
        break;
      case 'exit':
        ctx.exited = true;
        return;
      case 'learn':
        ctx.res.uncachable = true;
        if (ctx.mayLearn) ctx.br.learnFlow(a, w);
        log(ctx, `-> learned a flow in table ${a.table}`);
        break;
      case 'ct_clear':
        w.fill(0, W_CT_STATE, W_CT_TP_DST + 1);
        break;
      case 'ct': {
        const c = ctContext(ctx);
        ctAction(c, a);
        if (c.uncachable) ctx.res.uncachable = true;
        break;
      }
      case 'clone': {
        // ofproto-dpif-xlate.c compose_clone: the clone sees the packet as it is now; whatever
        // it changes (fields, VLAN tags) is undone afterwards.
        const saved = copyState(ctx.st);
        doActions(ctx, rule, a.actions, table);
        ctx.st.words.set(saved.words);
        ctx.st.tpid = saved.tpid;
        ctx.st.inner = saved.inner;
        ctx.exited = false;
        break;
      }
      case 'goto_table':
        resubmit(ctx, null, a.table);
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

/** `xlate_group_action`: false when the group does not exist. */
function groupAction(ctx: Ctx, rule: FlowRule, id: number, table: number): boolean {
  if (ctx.depth >= MAX_DEPTH) {
    ctx.error = 'resubmit-depth';
    log(ctx, `over max translation depth ${MAX_DEPTH}`);
    return true;
  }
  if (ctx.resubmits >= MAX_RESUBMITS) {
    ctx.error = 'resubmit-limit';
    log(ctx, `over ${MAX_RESUBMITS} resubmit actions`);
    return true;
  }
  const g = ctx.br.group(id);
  log(ctx, `group:${id}`);
  if (!g) {
    log(ctx, ` -> output to nonexistent group ${id}`);
    return false;
  }
  if (g.type === 'all' || g.type === 'indirect') {
    for (const b of g.buckets) runBucket(ctx, rule, b, table);
    ctx.res.groupHits.push(g, null);
    return true;
  }
  const b = g.type === 'select' ? pickSelectBucket(ctx.br, g, ctx.st.words, ctx.st.inner) : firstLiveBucket(ctx.br, g);
  if (b === null) {
    for (const x of g.buckets) if (!bucketIsAlive(ctx.br, g, x, 0)) log(ctx, ` -> bucket ${x.id}: not live`);
    log(ctx, ' -> no live bucket');
    return true;
  }
  log(ctx, ` -> using bucket ${b.id}`);
  runBucket(ctx, rule, b, table);
  ctx.res.groupHits.push(g, b);
  return true;
}

/** `xlate_group_bucket`: the bucket's action set on a copy of the packet. */
function runBucket(ctx: Ctx, rule: FlowRule, b: Bucket, table: number): void {
  const saved = copyState(ctx.st);
  log(ctx, `bucket ${b.id}`);
  ctx.depth++;
  doActions(ctx, rule, b.executed, table);
  ctx.depth--;
  ctx.st.words.set(saved.words);
  ctx.st.tpid = saved.tpid;
  ctx.st.inner = saved.inner;
  // A bucket that exits does not end the translation after the group action.
  ctx.exited = false;
}

function resubmit(ctx: Ctx, port: number | null, table: number): void {
  if (ctx.depth >= MAX_DEPTH) {
    ctx.error = 'resubmit-depth';
    log(ctx, `over max translation depth ${MAX_DEPTH}`);
    return;
  }
  if (ctx.resubmits >= MAX_RESUBMITS) {
    ctx.error = 'resubmit-limit';
    log(ctx, `over ${MAX_RESUBMITS} resubmit actions`);
    return;
  }
  ctx.resubmits++;
  const w = ctx.st.words;
  const savedIn = w[W_IN_PORT]!;
  if (port !== null && port !== OFPP_IN_PORT) w[W_IN_PORT] = port;
  ctx.depth++;
  const rule = ctx.br.tables.get(table)?.lookup(w) ?? null;
  if (rule === null) {
    log(ctx, `${table}. No match.`);
    ctx.res.drop = ctx.res.drop ?? 'table-miss';
  } else runRule(ctx, rule, table);
  ctx.depth--;
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
    return;
  }
  if (!br.portByOfport(port)) {
    noteDrop(ctx, 'no-such-port');
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
  const tci = w[W_VLAN_TCI]!;
  const vid = tci & VLAN_CFI ? tci & 0xfff : 0;
  if (!inputVidIsValid(inB.vlan, vid)) {
    noteDrop(ctx, 'vlan-filter');
    log(ctx, `disallowed VLAN VID ${vid} for input port ${inB.name}, dropping`);
    return;
  }
  const vlan = inputVidToVlan(inB.vlan, vid);
  if (isReservedMac(w[W_DL_DST_HI]!, w[W_DL_DST_HI + 1]!)) {
    noteDrop(ctx, 'reserved-mac');
    return;
  }
  const srcHi = w[W_DL_SRC_HI]! & 0xffff;
  const src = srcHi * 0x1_0000_0000 + (w[W_DL_SRC_HI + 1]! >>> 0);
  if (ctx.mayLearn && (srcHi & 0x0100) === 0) {
    const r = br.mac.learn(src, vlan, inPort, br.nowNs());
    ctx.res.learns.push(src, vlan, inPort);
    if (r.result !== 'refreshed') {
      br.onLearn(src, vlan, inPort, r.result, r.from);
      log(ctx, `-> learned that ${formatMac(src)} is on port ${inB.name} in VLAN ${vlan}`);
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
        return;
      }
      const out = br.portByOfport(p);
      if (!out) {
        noteDrop(ctx, 'no-such-port');
        return;
      }
      log(ctx, 'forwarding to learned port');
      outputNormal(ctx, out, vlan);
      return;
    }
    log(ctx, 'no learned MAC for destination, flooding');
  }
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
  if (vid !== 0) {
    w[W_VLAN_TCI] = vid | VLAN_CFI | (old & 0xe000);
    if (!(old & VLAN_CFI)) ctx.st.tpid = 0x8100;
  } else w[W_VLAN_TCI] = 0;
  emit(ctx, p.ofport);
  w[W_VLAN_TCI] = old;
  ctx.st.tpid = oldTpid;
}
