/**
 * `ovs-ofctl add-flows` text → flow rules (`utilities/ovs-ofctl.8.in`, `lib/ofp-flow.c`
 * `parse_ofp_str__`, `lib/ofp-actions.c` `ofpacts_parse`).
 *
 * One flow per line; `#` starts a comment line; blank lines are skipped. Fields are separated by
 * commas or white space, `actions=` takes the rest of the line. Every problem is a `UserError`
 * naming the field or action at `file:line:col`; nothing else escapes (a property test throws
 * random text at it).
 *
 * Deliberate difference: OVS silently drops a match field whose prerequisites are missing
 * (`tp_dst=80` without `tcp` becomes a match on everything, logged as "normalization changed
 * ofp_match"); vfab reports it as an error, because that silent widening is a classic bug.
 */
import type { SourceLocation, UserError } from '../errors.js';
import type { Action } from './actions.js';
import { formatAction, formatActions } from './actions.js';
import { actionSetDisallowed } from './action-set.js';
import {
  FIELD_BY_NAME,
  NW_TOS_BYTE,
  OFPP_NONE,
  OFPP_TABLE,
  W_VLAN_TCI,
  type Prereq,
  KEY_WORDS,
  OFPP_IN_PORT,
  PREREQ_TEXT,
  SHORTHANDS,
  VLAN_CFI,
  W_DL_TYPE,
  W_NW_PROTO,
  W_NW_TOS,
  W_NW_FRAG,
  W_TCP_FLAGS,
  W_TP_DST,
  W_TP_SRC,
  W_TUN_MD_PRESENT,
  prereqOk,
  type FieldDef,
} from './fields.js';
import { formatMatch } from './match-format.js';
import { Ctx, isGap, parsePortText, setMatchField, setPresentBit, splitItems, type FlowWarning, type ParseOptions } from './flow-syntax.js';
import {
  P_NXM_OF11_UP,
  P_NXM_OXM_ANY,
  P_OF10_ANY,
  P_OF11_UP,
  P_OF12_UP,
  P_OF13_UP,
  P_TID,
  allowedProtocols,
  protocolsText,
} from './of-protocols.js';
import { normalizeMatch } from './normalize.js';
import { of11Matchable, of11Settable, type MaskCover } from './of11-match.js';
import { ctTupleMatchError, ctValidMatch } from './ct-tuple.js';
import { formatFinTimeout, parseLearn } from './learn.js';
import { parseCt, writesCtField } from './ct-action.js';
import { formatSubfield, parseSubfield, subfieldWrites } from './subfield.js';
import { tunMetadataIndex, unmappedTlvError } from './tun-metadata.js';
import { extractActions, ovsKeyValues, parseFieldInt, preprocessedLines, strToU16, strToU64, strToUintBase10 } from './ovs-lex.js';

export type { FlowWarning, ParseOptions } from './flow-syntax.js';

export interface ParsedFlow {
  table: number;
  priority: number;
  cookie: bigint;
  idleTimeout: number;
  hardTimeout: number;
  /** Match value words, already masked. */
  value: Int32Array;
  mask: Int32Array;
  actions: Action[];
  /** Canonical `ovs-ofctl dump-flows` text of the match (without priority/table). */
  matchText: string;
  actionsText: string;
  location: SourceLocation;
  /** What OVS would change silently (a field dropped for a missing prerequisite). */
  warnings: FlowWarning[];
  /** Flow-mod flags given (`send_flow_rem`, `check_overlap`, …; lib/ofp-flow.c `parse_ofp_str__`). */
  flags?: string[];
}

/**
 * Most flows one add-flows text (one bridge's table) may hold. OVS has no default per-table
 * limit (`Flow_Table:flow_limit` is unset), but vfab keeps every table bounded: a 40 MB flows
 * file of 900,000 flows used 1.5 GiB. Exceeding it is a user error at the first flow too many.
 */
export const MAX_FLOWS_PER_TABLE_TEXT = 100_000;

/** Parses a whole add-flows text (`parse_ofp_flow_mod_file`, lib/ofp-flow.c). */
export function parseFlows(text: string, opts: ParseOptions = {}): ParsedFlow[] {
  const maxFlows = opts.maxFlows ?? MAX_FLOWS_PER_TABLE_TEXT;
  const file = opts.file ?? '<flows>';
  const line0 = opts.line ?? 1;
  const col0 = (opts.col ?? 1) - 1;
  const out: ParsedFlow[] = [];
  // Offsets of each line's first character, for a position map of a folded/quoted YAML scalar.
  const starts: number[] = [0];
  if (opts.position) for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  // parse_ofp_flow_mod_file parses every line before ovs-ofctl picks a protocol and sends the
  // flow mods: a parse error anywhere wins over a protocol or switch-side refusal of an earlier
  // line; of those, the first line that fails on its own is the one OVS refuses.
  let late: UserError | undefined;
  for (const [n, line] of preprocessedLines(text)) {
    const ctx = new Ctx(file, line0 + n - 1, col0, opts.position ? { position: opts.position, lineStart: starts[n - 1] ?? 0 } : undefined);
    if (out.length >= maxFlows) {
      throw ctx.err('FLOW_TOO_MANY', line.length - line.trimStart().length, `more than ${maxFlows} flows in one flow table (vfab's limit per bridge)`);
    }
    ctx.deferLate = true;
    try {
      out.push(parseFlowLine(line, ctx, opts));
    } catch (e) {
      // A vfab gap is no parse error for OVS: a later line's parse error, or an earlier line's
      // protocol or switch refusal, is what ovs-ofctl reports first.
      if (!isGap(e)) throw e;
      late ??= ctx.lateError ?? e;
      continue;
    }
    late ??= ctx.lateError;
  }
  if (late) throw late;
  return out;
}

export type FlowModCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';

/** A parsed `ovs-ofctl add-flow/mod-flows/del-flows` argument (`parse_ofp_str__` with a command). */
export interface ParsedFlowMod extends ParsedFlow {
  command: FlowModCommand;
  /** 255 = all tables (no `table=` given). */
  tableId: number;
  /** Cookie match for modify/delete (0 = any); `cookieGiven`: a plain `cookie=` sets the cookie. */
  cookieMask: bigint;
  cookieGiven: boolean;
  /** delete: only rules that output to this port (OFPP_NONE = any). */
  outPort: number;
}

/** Parses one flow-mod in ovs-ofctl syntax: `add-flow`, `mod-flows [--strict]`, `del-flows [--strict]`. */
export function parseFlowMod(command: FlowModCommand, text: string, opts: ParseOptions = {}): ParsedFlowMod {
  return parseFlowLine(text, new Ctx(opts.file ?? '<flow_mod>', opts.line ?? 1, (opts.col ?? 1) - 1), opts, command);
}

/** Parses one flow line (no comment handling). Exposed for the trace command's `--flow`. */
export function parseFlow(line: string, opts: ParseOptions = {}): ParsedFlow {
  return parseFlowLine(line, new Ctx(opts.file ?? '<flow>', opts.line ?? 1, (opts.col ?? 1) - 1), opts);
}

/** `ofp_parse_protocol` (lib/ofp-parse.c): names are case-sensitive; a value is ignored. */
const PROTOCOLS: Record<string, { dlType: number; nwProto: number }> = {
  ip: { dlType: 0x0800, nwProto: 0 },
  ipv4: { dlType: 0x0800, nwProto: 0 },
  ip4: { dlType: 0x0800, nwProto: 0 },
  arp: { dlType: 0x0806, nwProto: 0 },
  icmp: { dlType: 0x0800, nwProto: 1 },
  tcp: { dlType: 0x0800, nwProto: 6 },
  udp: { dlType: 0x0800, nwProto: 17 },
  sctp: { dlType: 0x0800, nwProto: 132 },
  ipv6: { dlType: 0x86dd, nwProto: 0 },
  ip6: { dlType: 0x86dd, nwProto: 0 },
  icmp6: { dlType: 0x86dd, nwProto: 58 },
  tcp6: { dlType: 0x86dd, nwProto: 6 },
  udp6: { dlType: 0x86dd, nwProto: 17 },
  sctp6: { dlType: 0x86dd, nwProto: 132 },
  rarp: { dlType: 0x8035, nwProto: 0 },
};

const FLOW_FLAGS = new Set(['send_flow_rem', 'check_overlap', 'reset_counts', 'no_packet_counts', 'no_byte_counts', 'no_readonly_table', 'allow_hidden_fields']);
/** dump-flows output keys `parse_ofp_str__` ignores, so a dump can be fed back. */
const DUMP_KEYS = new Set(['duration', 'n_packets', 'n_bytes', 'idle_age', 'hard_age']);
/** OVS's last flow table, hidden and read-only in ofproto-dpif (TBL_INTERNAL): add-flow gets OFPBRC_EPERM. */
const TBL_INTERNAL = 254;

/**
 * `parse_ofp_str__` (lib/ofp-flow.c) for an OFPFC_ADD, with ovs-ofctl's exact lexical rules
 * (ovs-lex.ts). Match keys are case-sensitive; a repeated field, table or priority: the last
 * wins; conflicting protocol shorthands: the last wins (`tcp,udp` is udp, `tcp,ip` stays tcp
 * because `ip` sets no protocol).
 */
function parseFlowLine(raw: string, ctx: Ctx, opts: ParseOptions, command: FlowModCommand = 'add'): ParsedFlowMod {
  // F_ACTIONS / F_OUT_PORT / F_PRIORITY / F_TIMEOUT by command, as parse_ofp_str__.
  const isDelete = command === 'delete' || command === 'delete_strict';
  const hasPriority = command !== 'delete';
  const ex = isDelete ? { match: raw, actions: '', actionsAt: raw.length, keyAt: raw.length } : extractActions(raw);
  if (!ex) {
    throw ctx.err('FLOW_NO_ACTIONS', Math.max(0, raw.search(/\S/)), 'must specify an action (no "actions=" on this line)', 'write actions=drop to drop');
  }
  let cookieMask = 0n;
  let cookieGiven = false;
  let outPort = OFPP_NONE;
  const value = new Int32Array(KEY_WORDS);
  const mask = new Int32Array(KEY_WORDS);
  const used: { fd: FieldDef; at: number; key: string; words: Int32Array }[] = [];
  let table = 0;
  /** The flow_mod's table_id: 255 until `table=` names one (ofpacts_check sees this). */
  let tableId = 255;
  let priority = 32768;
  let cookie = 0n;
  let idleTimeout = 0;
  let hardTimeout = 0;
  const flags: string[] = [];

  for (const it of ovsKeyValues(ex.match)) {
    const key = it.key;
    const proto = PROTOCOLS[key];
    if (proto !== undefined) {
      value[W_DL_TYPE] = proto.dlType;
      mask[W_DL_TYPE] = 0xffff;
      if (proto.nwProto !== 0) {
        value[W_NW_PROTO] = proto.nwProto;
        mask[W_NW_PROTO] = 0xff;
      }
      continue;
    }
    if (FLOW_FLAGS.has(key) && (key === 'no_readonly_table' || key === 'allow_hidden_fields' || !isDelete)) {
      // parse_ofp_str__ (F_FLAGS: add and modify): the counter flags exist from OpenFlow 1.2 / 1.3.
      if (key === 'reset_counts') ctx.usable.narrow(P_OF12_UP, it.at);
      else if (key === 'no_packet_counts' || key === 'no_byte_counts') ctx.usable.narrow(P_OF13_UP, it.at);
      if (!flags.includes(key)) flags.push(key);
      continue;
    }
    if (key === 'eth') continue;
    if (key === 'mpls' || key === 'mplsm' || MPLS_FIELDS.has(key)) {
      ctx.deferGap('FLOW_UNSUPPORTED_FIELD', it.at, `"${key}": vfab does not model MPLS (OVS accepts it)`);
      continue;
    }
    const fd = lookupField(key, it.at, ctx, opts);
    if (fd) {
      const before = Int32Array.from(mask);
      setMatchField(fd, key, it.value, it.valueAt, value, mask, ctx, opts);
      const words = new Int32Array(KEY_WORDS);
      for (let i = 0; i < KEY_WORDS; i++) words[i] = mask[i]! | (before[i]! ^ mask[i]!);
      used.push({ fd, at: it.at, key, words });
      continue;
    }
    if (key.includes('[')) {
      // parse_subfield (lib/ofp-flow.c): an integer that must fit the subfield's bits.
      const sf = parseSubfield(key, opts.tlv);
      if (typeof sf === 'string') throw ctx.err('FLOW_BAD_VALUE', it.at, sf);
      if (sf.fd.word === W_NW_TOS && sf.fd.kind === 'int' && !(sf.fd === NW_TOS_BYTE && sf.nBits === 8)) {
        // parse_subfield (lib/ofp-flow.c) hands mf_set a mask of the subfield's bits within the
        // field's whole bytes; for the ToS byte's non-maskable fields anything short of all 8 bits
        // (OXM_OF_IP_DSCP[] is 6 of them, NXM_NX_IP_ECN[] 2) leaves no usable protocol, so even
        // `OXM_OF_IP_DSCP[]=5` with ip is refused (corpus z36); `NXM_OF_IP_TOS[]=0x10` is accepted.
        throw ctx.err('FLOW_PREREQ', it.at, 'actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT)', `match the field by name instead (${sf.fd.name}=…)`);
      }
      const r = parseFieldInt(it.value, 16);
      if (r === null || r === 'range' || r[1] !== (1n << 128n) - 1n) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${key}: cannot parse integer value: ${it.value}`);
      if (r[0] >> BigInt(sf.nBits) !== 0n) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${key}: value 0x${r[0].toString(16)} does not fit into ${sf.nBits} bits`);
      const wr = subfieldWrites(sf, r[0]);
      const words = new Int32Array(KEY_WORDS);
      wr.words.forEach((w, j) => {
        value[w] = (value[w]! & ~wr.masks[j]!) | wr.values[j]!;
        mask[w] = mask[w]! | wr.masks[j]!;
        words[w] = wr.masks[j]!;
      });
      if (sf.fd.tunMd !== undefined) setPresentBit(sf.fd.tunMd, value, mask);
      used.push({ fd: sf.fd, at: it.at, key, words });
      continue;
    }
    if (it.value === '') throw ctx.err('FLOW_SYNTAX', it.at, `field ${key} missing value`);
    const u16 = (): number => {
      const v = strToU16(it.value);
      if (v === null) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid ${key} "${it.value}"`);
      return v;
    };
    switch (key) {
      case 'table': {
        const t = it.value.startsWith('-') ? null : strToUintBase10(it.value);
        if (t === null || t > 255) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `unknown table "${it.value}"`, 'a table is a decimal number 0..254');
        if (t === TBL_INTERNAL) ctx.late('FLOW_BAD_TABLE', it.valueAt, 'table 254 is OVS\'s hidden internal table: the switch refuses flows there (OFPBRC_EPERM)');
        // 255 is OpenFlow's "no table given" (OFPTT_ALL): an add lands in table 0.
        tableId = t;
        table = t === 255 ? 0 : t;
        if (t !== 255) ctx.usable.narrow(P_TID, it.valueAt);
        continue;
      }
      case 'priority':
        if (!hasPriority) break;
        priority = u16();
        continue;
      case 'idle_timeout':
        if (isDelete) break;
        idleTimeout = u16();
        continue;
      case 'hard_timeout':
        if (isDelete) break;
        hardTimeout = u16();
        continue;
      case 'importance':
        if (command !== 'add') break;
        u16();
        continue;
      case 'out_port': {
        if (!isDelete) break;
        const p = parsePortText(it.value, opts);
        if (p === null) throw ctx.err('FLOW_UNKNOWN_PORT', it.valueAt, `${it.value} is not a valid OpenFlow port`);
        outPort = p;
        continue;
      }
      case 'cookie': {
        const slash = it.value.indexOf('/');
        if (slash >= 0) {
          if (command === 'add') throw ctx.err('FLOW_BAD_VALUE', it.valueAt, 'flow additions cannot use a cookie mask');
          const c = strToU64(it.value.slice(0, slash));
          const m = strToU64(it.value.slice(slash + 1));
          if (c === null || m === null) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid numeric format ${it.value}`);
          cookie = c;
          cookieMask = m;
          // Matching on a cookie needs NXM or OpenFlow 1.1+.
          if (m !== 0n) ctx.usable.narrow(P_NXM_OF11_UP, it.valueAt);
          continue;
        }
        if (isDelete) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `cannot set cookie (to match on a cookie, specify a mask, e.g. cookie=${it.value}/-1)`);
        const c = strToU64(it.value);
        if (c === null) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid numeric format ${it.value}`);
        cookie = c;
        cookieGiven = true;
        continue;
      }
    }
    if (DUMP_KEYS.has(key)) continue;
    throw ctx.err('FLOW_UNKNOWN_FIELD', it.at, `unknown keyword ${key}`, 'see docs/flows.md for the supported fields');
  }
  for (let i = 0; i < KEY_WORDS; i++) value[i] = value[i]! & mask[i]!;
  of11MatchCheck(used, value, mask, ctx);
  // Keep the match as parsed for the action checks (ofpacts_check runs on it), then normalize.
  const parsedValue = Int32Array.from(value);
  const parsedMask = Int32Array.from(mask);
  const lost = normalizeMatch(value, mask);
  const warnings: FlowWarning[] = [];
  if (lost.length > 0) {
    // Report the last item that set each dropped word (an earlier one was overridden anyway).
    const reported = new Set<number>();
    for (let u = used.length - 1; u >= 0; u--) {
      const item = used[u]!;
      const hit = lost.some((w) => item.words[w] !== 0 && !reported.has(u));
      if (!hit) continue;
      reported.add(u);
      for (const w of lost) if (item.words[w] !== 0) lost.splice(lost.indexOf(w), 1);
      const need = PREREQ_TEXT[item.fd.prereq];
      const loc = { file: ctx.file, line: ctx.line, col: ctx.colBase + item.at + 1 };
      const message = `${item.key} is ignored: its prerequisite (${need}) is missing, so OVS drops it from the match ("normalization changed ofp_match")`;
      if (opts.strict) throw ctx.err('FLOW_PREREQ', item.at, message, `add e.g. "${exampleFor(item.fd.prereq)}," before it, or remove it`);
      warnings.push({ code: 'FLOW_PREREQ', message, location: loc });
    }
  }
  opts.warnings?.push(...warnings);
  // The switch refuses an original-tuple match without a valid connection (OVS 3.1).
  if (!isDelete && (value[W_NW_FRAG]! & FRAG_LATER) !== 0 && prereqOk('l4', value, mask) && (mask[W_TP_SRC] !== 0 || mask[W_TP_DST] !== 0 || mask[W_TCP_FLAGS] !== 0)) {
    // The switch decodes the match with mf_are_prereqs_ok (lib/meta-flow.c): TCP/UDP/SCTP fields
    // need a first or unfragmented packet, so it refuses ip_frag=later with a port or tcp_flags.
    ctx.late('FLOW_BAD_PREREQ', 0, 'OFPBMC_BAD_PREREQ: a later fragment (ip_frag=later) has no TCP/UDP/SCTP header to match', 'drop the port or tcp_flags match, or match ip_frag=first/no');
  }
  const ctErr = isDelete ? null : ctTupleMatchError(value, mask);
  if (ctErr) ctx.late('FLOW_BAD_VALUE', 0, `ct_nw_*/ct_ipv6_* need a valid connection (ct_state +new/+est/+rel/+rpl/+snat/+dnat or +trk-inv) and ct_nw_src/dst an ip, ct_ipv6_src/dst an ipv6 match (${ctErr})`);
  const actions = isDelete ? [] : parseActions(ex.actions, ex.actionsAt, tableId, parsedValue, parsedMask, ctx, opts);
  usableCheck(ctx, opts);
  if (ctx.gapError) throw ctx.gapError;
  return {
    command,
    tableId,
    cookieMask,
    cookieGiven,
    outPort,
    table,
    priority,
    cookie,
    idleTimeout,
    hardTimeout,
    value,
    mask,
    actions,
    matchText: formatMatch(value, mask, undefined, opts.tlv),
    actionsText: formatActions(actions),
    location: ctx.loc(0),
    warnings,
    ...(flags.length ? { flags } : {}),
  };
}

/**
 * The end of parse_ofp_str__ (lib/ofp-flow.c) for one flow: no usable protocol at all is a parse
 * error of this line ("actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT)", e.g.
 * `reset_counts` (1.2+) with `mod_nw_src` but no `ip` (1.0 only)); none among the session's
 * allowed ones is ovs-ofctl's refusal of the file (open_vconn_for_flow_mod), a late error.
 */
function usableCheck(ctx: Ctx, opts: ParseOptions): void {
  const u = ctx.usable;
  if (u.set === 0) {
    const at = u.steps[u.steps.length - 1]?.at ?? 0;
    throw ctx.err('FLOW_PROTOCOL', at, 'actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT): no OpenFlow version can carry this flow', usableHint(u.steps.map((n) => n.mask)));
  }
  const version = opts.protocols ?? 10;
  const allowed = allowedProtocols(version);
  if ((u.set & allowed) !== 0) return;
  ctx.late('FLOW_PROTOCOL', u.firstOutside(allowed), `none of the usable flow formats (${protocolsText(u.set)}) is among the allowed flow formats (${protocolsText(allowed)})`, usableHint([u.set]));
}

function usableHint(masks: number[]): string {
  const all = masks.reduce((a, m) => a & m, -1);
  if ((all & P_OF10_ANY) !== 0 && (all & P_OF11_UP) === 0) return 'in OpenFlow 1.1+ this action needs its protocol (or a VLAN tag) in the match';
  if ((all & P_OF13_UP) === all) return 'this needs OpenFlow 1.3 or later: use -O OpenFlow13 (protocols: [OpenFlow13] on the bridge)';
  if ((all & P_OF12_UP) === all) return 'this needs OpenFlow 1.2 or later: use -O OpenFlow13 (protocols: [OpenFlow13] on the bridge)';
  if ((all & P_OF11_UP) === all) return 'this needs OpenFlow 1.1 or later: use -O OpenFlow13 (protocols: [OpenFlow13] on the bridge)';
  if ((all & P_NXM_OXM_ANY) === all) return 'OpenFlow 1.1 has no NXM/OXM match: use -O OpenFlow13 (protocols: [OpenFlow13] on the bridge)';
  return 'each part of this flow needs a different OpenFlow version: split it or drop one';
}

function exampleFor(p: Prereq): string {
  switch (p) {
    case 'tcp':
    case 'l4':
      return 'tcp';
    case 'udp':
      return 'udp';
    case 'sctp':
      return 'sctp';
    case 'icmp':
      return 'icmp';
    case 'icmp6':
      return 'icmp6';
    case 'arp':
      return 'arp';
    case 'ipv6':
      return 'ipv6';
    default:
      return 'ip';
  }
}

// ---------------------------------------------------------------------------------------------
// Actions.

const OF10_SET: Record<string, string> = {
  mod_dl_src: 'dl_src',
  mod_dl_dst: 'dl_dst',
  mod_nw_src: 'nw_src',
  mod_nw_dst: 'nw_dst',
  mod_nw_tos: 'nw_tos',
  mod_nw_ttl: 'nw_ttl',
  mod_nw_ecn: 'nw_ecn',
  mod_tp_src: 'tp_src',
  mod_tp_dst: 'tp_dst',
};

/**
 * `ofpacts_parse__` (lib/ofp-actions.c): each item is an action name (case-insensitive), one of
 * the extra names (`mod_vlan_vid`, `pop_vlan`, `load`, `drop` …), or else a port to output to
 * (`1`, `normal`, `LOCAL`, a port name). An empty list is `drop`; separators may repeat or
 * trail. Then `ofpacts_verify` (instruction order: `goto_table` last) and `ofpacts_check`
 * (a set_field needs its prerequisite in the match, tracking pushed VLAN tags; outputs to
 * ANY/NONE are OFPBAC_BAD_OUT_PORT; goto_table must go forward).
 */
function parseActions(s: string, base: number, tableId: number, mValue: Int32Array, mMask: Int32Array, ctx: Ctx, opts: ParseOptions): Action[] {
  const items = ovsKeyValues(s, base);
  const out: Action[] = [];
  let drop = -1;
  // The flow's usable protocols (ctx.usable): narrowed at parse time (push_vlan 1.1+, meter 1.3+,
  // write_metadata, set_field) and by ofpacts_check's inconsistent_match (OpenFlow 1.0 only:
  // mod_nw_src without ip, strip_vlan without a tag, dec_ttl without ip), which neither a group
  // bucket (no match) nor an action set (check_WRITE_ACTIONS checks a copy) applies.
  const inconsistent = (at: number): void => {
    if (!opts.actionsOnly && !opts.inActionSet) ctx.usable.narrow(P_OF10_ANY, at);
  };
  const version = opts.protocols ?? 10;
  // ofpacts_check tracks the VLAN tag a push_vlan adds (and a strip_vlan removes).
  const vlanMatch = { value: Int32Array.from(mValue), mask: Int32Array.from(mMask) };
  // ofpacts_verify: the instructions in OpenFlow 1.1+ order (instructionOrder).
  let inst = -1;
  let writeMetadataAt = -1;
  // check_SET_VLAN_VID / check_SET_VLAN_PCP (lib/ofp-actions.c): set_vlan_* without a tag is an
  // OF1.0-only inconsistency (mod_vlan_* pushes one if needed); either way the check then treats
  // the packet as tagged.
  const markVlanTag = (pushIfNeeded: boolean, at: number): void => {
    if (!pushIfNeeded && !prereqOk('vlan', vlanMatch.value, vlanMatch.mask)) inconsistent(at);
    vlanMatch.value[W_VLAN_TCI] = vlanMatch.value[W_VLAN_TCI]! | VLAN_CFI;
    vlanMatch.mask[W_VLAN_TCI] = vlanMatch.mask[W_VLAN_TCI]! | VLAN_CFI;
  };
  for (const it of items) {
    const key = it.key.toLowerCase();
    const arg = it.value;
    if (key !== 'drop') {
      const next = INSTRUCTION_RANK[key] ?? INST_APPLY;
      if (next !== INST_APPLY && (opts.nestedIn !== undefined || opts.ctExec || opts.actionsOnly) && key !== 'meter') {
        // ofpacts_parse for clone / write_actions / ct(exec) / a bucket allows apply_actions only.
        throw ctx.err('FLOW_ACTION_ORDER', it.at, `${key} instruction not allowed here`);
      }
      if (inst >= 0 && (inst === INST_APPLY ? next < inst : next <= inst)) {
        throw ctx.err(
          'FLOW_ACTION_ORDER',
          it.at,
          next === inst ? `duplicate ${INSTRUCTION_NAME[inst]} instruction not allowed, for OpenFlow 1.1+ compatibility` : `invalid instruction ordering: ${INSTRUCTION_NAME[next]} must appear before ${INSTRUCTION_NAME[inst]}, for OpenFlow 1.1+ compatibility`,
        );
      }
      inst = next;
    }
    const u16 = (what: string): number => {
      const v = strToU16(arg);
      if (v === null) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid ${what} "${arg}"`);
      return v;
    };
    const u8 = (what: string): number => {
      const v = strToU16(arg);
      if (v === null || v > 255) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid ${what} "${arg}"`);
      return v;
    };
    const port = (p: number, at: number): Action => {
      if (p === OFPP_NONE) throw ctx.err('FLOW_BAD_OUT_PORT', at, 'actions are invalid with specified match (OFPBAC_BAD_OUT_PORT): ANY/NONE is not an output port');
      if (p === OFPP_TABLE) throw ctx.err('FLOW_UNSUPPORTED_ACTION', at, 'output to TABLE is only for packet-outs');
      // ofpact_check_output_port: a non-reserved port must be below OFPP_MAX (0xff00).
      if (p >= OFPP_MAX && p < OFPP_IN_PORT) throw ctx.err('FLOW_BAD_OUT_PORT', at, `actions are invalid with specified match (OFPBAC_BAD_OUT_PORT): ${p} is not a valid output port (ports run 1..65279)`);
      return { type: 'output', port: p };
    };
    switch (key) {
      case 'drop':
        drop = it.at;
        continue;
      case 'output': {
        if (arg.includes('port') && arg.includes('max_len')) {
          const m = /^port=([^,]+),max_len=(\d+)$/.exec(arg) ?? /^max_len=(\d+),port=([^,]+)$/.exec(arg);
          if (!m) throw ctx.err('FLOW_UNSUPPORTED_ACTION', it.valueAt, `output(${arg}): expected output(port=N,max_len=N)`);
          const pt = m[0].startsWith('port') ? m[1]! : m[2]!;
          const p = parsePortText(pt, opts);
          if (p === null) throw ctx.err('FLOW_UNKNOWN_PORT', it.valueAt, `${pt}: output to unknown port`);
          out.push(port(p, it.valueAt));
          continue;
        }
        const p = parsePortText(arg, opts);
        if (p === null) {
          const sf = arg.includes('[') ? parseSubfield(arg, opts.tlv) : null;
          if (sf !== null && typeof sf !== 'string') {
            out.push({ type: 'output_reg', src: sf, text: `output:${formatSubfield(sf)}` });
            continue;
          }
          throw ctx.err('FLOW_UNKNOWN_PORT', it.valueAt, `${arg}: output to unknown port`);
        }
        out.push(port(p, it.valueAt));
        continue;
      }
      case 'controller': {
        let maxLen = 65535;
        let reason: string | undefined;
        let cid: number | undefined;
        if (arg !== '') {
          if (/^[0-9]+$/.test(arg)) maxLen = u16('max_len');
          else {
            for (const kv of ovsKeyValues(arg)) {
              if (kv.key === 'max_len') {
                const v = strToU16(kv.value);
                if (v === null) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid max_len "${kv.value}"`);
                maxLen = v;
              } else if (kv.key === 'reason') reason = kv.value;
              else if (kv.key === 'id') cid = strToU16(kv.value) ?? 0;
              else if (kv.key !== 'reason' && kv.key !== 'id' && kv.key !== 'userdata' && kv.key !== 'pause' && kv.key !== 'meter_id') {
                throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `unknown key "${kv.key}" parsing controller action`);
              }
            }
          }
        }
        out.push({ type: 'controller', maxLen, ...(reason !== undefined ? { reason } : {}), ...(cid ? { id: cid } : {}) });
        continue;
      }
      case 'mod_vlan_vid':
      case 'set_vlan_vid': {
        const v = u16('VLAN VID');
        if (v & ~0xfff) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${arg}: not a valid VLAN VID`);
        out.push({ type: 'set_vlan_vid', vid: v, push: key === 'mod_vlan_vid', text: `${key}:${v}` });
        markVlanTag(key === 'mod_vlan_vid', it.at);
        continue;
      }
      case 'mod_vlan_pcp':
      case 'set_vlan_pcp': {
        const v = u8('VLAN PCP');
        if (v & ~7) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${arg}: not a valid VLAN PCP`);
        out.push({ type: 'set_vlan_pcp', pcp: v, push: key === 'mod_vlan_pcp', text: `${key}:${v}` });
        markVlanTag(key === 'mod_vlan_pcp', it.at);
        continue;
      }
      case 'strip_vlan':
      case 'pop_vlan':
        if (!prereqOk('vlan', vlanMatch.value, vlanMatch.mask)) inconsistent(it.at);
        out.push({ type: 'strip_vlan', text: key });
        vlanMatch.value[W_VLAN_TCI] = 0;
        vlanMatch.mask[W_VLAN_TCI] = 0;
        continue;
      case 'push_vlan': {
        const t = u16('ethertype');
        if (t !== 0x8100 && t !== 0x88a8) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${arg}: not a valid VLAN ethertype`);
        out.push({ type: 'push_vlan', tpid: t });
        ctx.usable.narrow(P_OF11_UP, it.at); // parse_PUSH_VLAN
        // ofpacts_check: after a push the match has a tag (CFI set).
        vlanMatch.value[W_VLAN_TCI] = vlanMatch.value[W_VLAN_TCI]! | VLAN_CFI;
        vlanMatch.mask[W_VLAN_TCI] = vlanMatch.mask[W_VLAN_TCI]! | VLAN_CFI;
        continue;
      }
      case 'dec_ttl':
        if (arg !== '' && !arg.split(/[, ]+/).some((x) => x !== '')) {
          throw ctx.err('FLOW_BAD_VALUE', it.valueAt, 'dec_ttl_cnt_ids: expected at least one controller id.');
        }
        if (!prereqOk('ip_any', vlanMatch.value, vlanMatch.mask)) inconsistent(it.at);
        {
          const ids = arg.split(/[, ]+/).filter((x) => x !== '').map(Number);
          out.push(ids.length > 0 ? { type: 'dec_ttl', ids } : { type: 'dec_ttl' });
        }
        continue;
      case 'resubmit': {
        const parts = it.delim === '(' ? arg.split(',') : [arg];
        const pt = parts[0] ?? '';
        const tt = parts[1] ?? '';
        const ct = parts[2] ?? '';
        let p: number | null = null;
        let tbl: number | null = null;
        if (pt !== '') {
          p = parsePortText(pt, opts);
          if (p === null) throw ctx.err('FLOW_UNKNOWN_PORT', it.valueAt, `${pt}: resubmit to unknown port`);
          if (p === OFPP_IN_PORT) p = null;
        }
        if (tt !== '') {
          const t = tt.startsWith('-') ? null : strToUintBase10(tt);
          if (t === null || t > 255) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${tt}: resubmit to unknown table`);
          tbl = t === 255 ? null : t;
        }
        if (ct !== '') {
          if (ct !== 'ct') throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${ct}: unknown parameter`);
        }
        if (p === null && tbl === null) throw ctx.err('FLOW_SYNTAX', it.valueAt, 'at least one "in_port" or "table" must be specified on resubmit');
        if (ct !== '') {
          // check_RESUBMIT: the original-direction tuple exists only on a valid tracked packet.
          if (!ctValidMatch(vlanMatch.value, vlanMatch.mask)) throw ctx.err('FLOW_BAD_VALUE', it.at, 'actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT)');
          out.push({ type: 'resubmit', port: p, table: tbl, ct: true });
        } else out.push({ type: 'resubmit', port: p, table: tbl });
        continue;
      }
      case 'goto_table': {
        const t = arg.startsWith('-') ? null : strToUintBase10(arg);
        if (t === null || t > 255) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `unknown table "${arg}"`);
        // check_GOTO_TABLE: forward only (when the flow's table is known) and below n_tables (255).
        if (tableId !== 255 && t <= tableId) {
          throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `actions are invalid with specified match (OFPBIC_BAD_TABLE_ID): goto_table:${t} must go to a later table than ${tableId}`);
        }
        if (version === 10 && writeMetadataAt >= 0) {
          // Over OpenFlow 1.0 write_metadata travels as NXAST_WRITE_METADATA and goto_table as a
          // resubmit after it: the switch decodes an action after an instruction and refuses it.
          ctx.late('FLOW_ACTION_ORDER', it.at, 'OFPT_ERROR: NXBRC_UNENCODABLE_ERROR (OFPBAC_UNSUPPORTED_ORDER): over OpenFlow 1.0, goto_table cannot follow write_metadata', 'use -O OpenFlow13 (protocols: [OpenFlow13] on the bridge)');
        }
        out.push({ type: 'goto_table', table: t });
        continue;
      }
      case 'clear_actions':
        // encode_CLEAR_ACTIONS: OpenFlow 1.0 has no such instruction; the flow is added without it.
        if (version > 10) out.push({ type: 'clear_actions' });
        continue;
      case 'write_actions': {
        // parse_WRITE_ACTIONS: the nested list parsed like apply actions (check_WRITE_ACTIONS checks
        // it against the match but, as the set runs reordered, keeps its usable protocols apart).
        const inner = parseActions(arg, it.valueAt, tableId, vlanMatch.value, vlanMatch.mask, ctx, { ...opts, nestedIn: 'write_actions', inActionSet: true });
        // encode_WRITE_ACTIONS writes nothing over OpenFlow 1.0 (the flow loses the instruction);
        // an empty one is not sent either.
        if (version === 10 || inner.length === 0) continue;
        const bad = actionSetDisallowed(inner);
        if (bad !== undefined) {
          // ofpacts_decode_for_action_set: the switch refuses the flow (OFPBAC_BAD_TYPE).
          ctx.late('FLOW_UNSUPPORTED_ACTION', it.valueAt, `disallowed action in action set: ${formatAction(bad)} (OFPBAC_BAD_TYPE)`, 'an action set holds only output, group, resubmit, ct, ct_clear, set/move, push/pop_vlan, dec_ttl and set_queue');
        }
        out.push({ type: 'write_actions', actions: inner });
        continue;
      }
      case 'write_metadata': {
        // parse_WRITE_METADATA: str_to_be64 of the mask (after '/') then of the value.
        const slash = arg.indexOf('/');
        const vText = slash < 0 ? arg : arg.slice(0, slash);
        const mText = slash < 0 ? null : arg.slice(slash + 1);
        const num = (t: string): bigint => {
          if (t === '') throw ctx.err('FLOW_BAD_VALUE', it.valueAt, 'missing required numeric argument');
          const v = strToU64(t);
          if (v === null) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid numeric format ${t}`);
          return v;
        };
        const mask = mText === null ? 0xffff_ffff_ffff_ffffn : num(mText);
        const value = num(vText);
        writeMetadataAt = it.at;
        ctx.usable.narrow(P_NXM_OF11_UP, it.at);
        out.push({ type: 'write_metadata', value, mask });
        continue;
      }
      case 'load': {
        // nxm_parse_reg_load (lib/nx-match.c): load:VALUE->DST[..], VALUE must fit DST's bits.
        const arrow = arg.indexOf('->');
        if (arrow < 0) throw ctx.err('FLOW_SYNTAX', it.valueAt, `${arg}: missing \`->' following value`);
        const dst = parseSubfield(arg.slice(arrow + 2), opts.tlv);
        if (typeof dst === 'string') throw ctx.err('FLOW_BAD_VALUE', it.valueAt + arrow + 2, dst);
        const r = parseFieldInt(arg.slice(0, arrow), 16);
        if (r === null || r === 'range' || r[1] !== (1n << 128n) - 1n) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${arg.slice(0, arrow)}: bad integer value for load`);
        if (r[0] >> BigInt(dst.nBits) !== 0n) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${arg}: value ${arg.slice(0, arrow)} does not fit into ${dst.nBits} bits`);
        if (!dst.fd.settable) throw ctx.err('FLOW_BAD_VALUE', it.valueAt + arrow + 2, `destination field ${dst.fd.name} is not writable`);
        const wr = subfieldWrites(dst, r[0]);
        if (dst.fd.tunMd !== undefined) {
          // tun_metadata_write sets the present bit; OVS shows such a load as a masked set_field.
          wr.words.push(W_TUN_MD_PRESENT + (dst.fd.tunMd >> 5));
          wr.values.push(1 << (dst.fd.tunMd & 31));
          wr.masks.push(1 << (dst.fd.tunMd & 31));
          const m = ((1n << BigInt(dst.nBits)) - 1n) << BigInt(dst.ofs);
          const full = dst.ofs === 0 && dst.nBits === dst.fd.bits;
          out.push({ type: 'set', field: dst.fd, ...wr, of10: false, text: `set_field:0x${(r[0] << BigInt(dst.ofs)).toString(16)}${full ? '' : `/0x${m.toString(16)}`}->${dst.fd.name}` });
          continue;
        }
        if (!opts.actionsOnly) {
          const bad = writePrereqError(dst.fd, true, vlanMatch.value, vlanMatch.mask);
          if (bad) throw ctx.err('FLOW_PREREQ', it.at, `actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT): load to ${bad}`);
          // check_SET_FIELD: a write to vlan_tci sets the tag the later checks see (*tci = value).
          if (dst.fd.name === 'vlan_tci') {
            vlanMatch.value[W_VLAN_TCI] = Number((r[0] << BigInt(dst.ofs)) & 0xffffn);
            vlanMatch.mask[W_VLAN_TCI] = 0xffff;
          }
        }
        const view = dst.fd.zeroLowBits !== undefined ? { view: { fd: dst.fd, ofs: dst.ofs, nBits: dst.nBits, value: r[0] } } : {};
        out.push(ctFieldCheck({ type: 'set', field: dst.fd, ...wr, of10: false, text: `load:0x${r[0].toString(16)}->${formatSubfield(dst)}`, ...view }, it.at, ctx, opts));
        continue;
      }
      case 'move': {
        const arrow = arg.indexOf('->');
        if (arrow < 0) throw ctx.err('FLOW_SYNTAX', it.valueAt, `${arg}: missing \`->' following source`);
        const src = parseSubfield(arg.slice(0, arrow), opts.tlv);
        if (typeof src === 'string') throw ctx.err('FLOW_BAD_VALUE', it.valueAt, src);
        const dst = parseSubfield(arg.slice(arrow + 2), opts.tlv);
        if (typeof dst === 'string') throw ctx.err('FLOW_BAD_VALUE', it.valueAt + arrow + 2, dst);
        if (src.nBits !== dst.nBits) {
          throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `source field ${src.text} and destination field ${dst.text} have different widths (${src.nBits} and ${dst.nBits} bits)`);
        }
        if (!dst.fd.settable) throw ctx.err('FLOW_BAD_VALUE', it.valueAt + arrow + 2, `destination field ${dst.fd.name} is not writable`);
        if (!opts.actionsOnly) {
          const bad = writePrereqError(src.fd, false, vlanMatch.value, vlanMatch.mask) ?? writePrereqError(dst.fd, false, vlanMatch.value, vlanMatch.mask);
          if (bad) throw ctx.err('FLOW_PREREQ', it.at, `actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT): move of ${bad}`);
        }
        out.push(ctFieldCheck({ type: 'move', src, dst, text: `move:${formatSubfield(src)}->${formatSubfield(dst)}` }, it.at, ctx, opts));
        continue;
      }
      case 'set_queue':
      case 'pop_queue':
      case 'enqueue': {
        if (key === 'set_queue' && strToUintBase10(arg) === null) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid queue "${arg}"`);
        if (key === 'enqueue') {
          const m = /^([^:,]+)[:,](\d+)$/.exec(arg);
          const p = m ? parsePortText(m[1]!, opts) : null;
          if (!m || p === null) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${arg}: expected enqueue:PORT:QUEUE`);
          // enqueue = set the queue, then output (queues are recorded, not modelled).
          out.push({ type: 'noop', text: `enqueue:${m[1]}:${m[2]}` });
          out.push(port(p, it.valueAt));
          continue;
        }
        out.push({ type: 'noop', text: key === 'pop_queue' ? 'pop_queue' : `set_queue:${arg}` });
        continue;
      }
      case 'exit':
        out.push({ type: 'exit' });
        continue;
      case 'learn':
        out.push(parseLearn(arg, it.valueAt, ctx, opts, opts.actionsOnly ? undefined : vlanMatch));
        continue;
      case 'ct_clear':
        out.push({ type: 'ct_clear' });
        continue;
      case 'ct':
        out.push(parseCt(arg, it.valueAt, vlanMatch.value, vlanMatch.mask, ctx, opts, (x, b, o) => parseActions(x, b, tableId, vlanMatch.value, vlanMatch.mask, ctx, o)));
        continue;
      case 'nat':
        throw ctx.err('FLOW_BAD_VALUE', it.at, 'Cannot have NAT action outside of "ct" action');
      case 'clone': {
        // parse_CLONE: nested actions, parsed like the outer list (no instructions inside).
        const inner = parseActions(arg, it.valueAt, tableId, vlanMatch.value, vlanMatch.mask, ctx, { ...opts, nestedIn: 'clone' });
        out.push({ type: 'clone', actions: inner });
        continue;
      }
      case 'fin_timeout': {
        let idle = 0;
        let hard = 0;
        for (const kv of ovsKeyValues(arg)) {
          const v = strToU16(kv.value);
          if ((kv.key !== 'idle_timeout' && kv.key !== 'hard_timeout') || v === null) {
            throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid key '${kv.key}' in 'fin_timeout' argument`);
          }
          if (kv.key === 'idle_timeout') idle = v;
          else hard = v;
        }
        // check_FIN_TIMEOUT (lib/ofp-actions.c): without tcp in the match, an OF1.0-only inconsistency.
        if (!(mMask[W_NW_PROTO] === 0xff && mValue[W_NW_PROTO] === 6)) inconsistent(it.at);
        // Printed as format_FIN_TIMEOUT does: idle then hard, zeros left out, whatever the order written.
        out.push({ type: 'noop', text: formatFinTimeout(idle, hard) });
        continue;
      }
      case 'sample': {
        // Sampling to IPFIX/sFlow collectors: accepted, recorded, no effect on forwarding.
        // parse_SAMPLE: str_to_u16, and zero is "invalid probability value".
        const prob = ovsKeyValues(arg).filter((kv) => kv.key === 'probability').pop();
        if (prob !== undefined && (strToU16(prob.value) === null || strToU16(prob.value) === 0)) {
          throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid probability value "${prob.value}"`);
        }
        if (prob === undefined) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, 'non-zero "probability" must be specified on sample');
        out.push({ type: 'noop', text: `sample(${arg})` });
        continue;
      }
      case 'note': {
        // ofpbuf_put_hex: pairs of hex digits, '.', and white space between them.
        let i = 0;
        for (;;) {
          while (i < arg.length && ' .\t\r\n'.includes(arg[i]!)) i++;
          if (!/^[0-9a-fA-F]{2}/.test(arg.slice(i, i + 2))) break;
          i += 2;
        }
        if (i < arg.length) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, "bad hex digit in `note' argument");
        out.push({ type: 'noop', text: `note:${arg}` });
        continue;
      }
      case 'set_field': {
        const arrow = arg.indexOf('->');
        if (arrow < 0) throw ctx.err('FLOW_SYNTAX', it.valueAt, `${arg}: missing \`->'`);
        const vText = arg.slice(0, arrow);
        const fName = arg.slice(arrow + 2);
        if (fName === '') throw ctx.err('FLOW_SYNTAX', it.valueAt, `${arg}: missing field name following \`->'`);
        out.push(ctFieldCheck(parseSet(fName, vText, false, it.valueAt + arrow + 2, it.valueAt, vlanMatch.value, vlanMatch.mask, ctx, opts, `set_field:${vText}->${fName}`), it.at, ctx, opts));
        // set_field_parse__ (lib/ofp-actions.c): usable_protocols &= mf->usable_protocols_exact.
        const sfd = lookupField(fName, it.valueAt + arrow + 2, ctx, opts);
        if (sfd && !of11Settable(sfd)) ctx.usable.narrow(P_NXM_OXM_ANY, it.at);
        continue;
      }
      case 'set_tunnel':
      case 'set_tunnel64': {
        // lib/ofp-actions.c parse_set_tunnel: set_tunnel:ID sets tun_id (NXAST_SET_TUNNEL, or
        // set_tunnel64 when ID needs more than 32 bits); dump-flows prints the ID in hex.
        const r = parseFieldInt(arg, 8);
        if (r === null || r === 'range' || r[1] !== (1n << 64n) - 1n) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${arg}: bad tunnel id for ${key}`);
        const id = r[0];
        const a = parseSet('tun_id', `0x${id.toString(16)}`, false, it.valueAt, it.valueAt, vlanMatch.value, vlanMatch.mask, ctx, opts, '');
        const name = key === 'set_tunnel64' || id > 0xffffffffn ? 'set_tunnel64' : 'set_tunnel';
        if (a.type !== 'set') throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${arg}: bad tunnel id for ${key}`);
        // format_SET_TUNNEL prints the ID with "%#"PRIx64: C's `#` adds no 0x to a zero.
        out.push({ ...a, text: `${name}:${id === 0n ? '0' : `0x${id.toString(16)}`}` });
        continue;
      }
      case 'conjunction': {
        out.push(parseConjunction(arg, it.valueAt, ctx));
        continue;
      }
      case 'apply_actions':
        throw ctx.err('FLOW_SYNTAX', it.at, 'apply_actions is the default instruction');
      case 'group': {
        // parse_GROUP: str_to_u32; ofproto_check_ofpacts: the group must exist.
        const g = strToUintBase10(arg);
        if (g === null) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid numeric format ${arg}`);
        if (opts.groupExists && !opts.groupExists(g)) {
          ctx.late('FLOW_BAD_OUT_GROUP', it.at, `group:${g}: no such group (OVS: OFPBAC_BAD_OUT_GROUP)`, 'add the group first (groups: on the bridge, or --groups FILE)');
        }
        out.push({ type: 'group', id: g });
        continue;
      }
      case 'meter': {
        // parse_METER + ofpacts_verify: the meter instruction comes before apply_actions.
        const m = strToUintBase10(arg);
        if (m === null) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `invalid numeric format ${arg}`);
        // ofpacts_verify_nested (lib/ofp-actions.c): a meter inside clone() or write_actions().
        if (opts.nestedIn) throw ctx.err('FLOW_UNSUPPORTED_ACTION', it.at, `${opts.nestedIn} action doesn't support nested action meter`);
        if (opts.actionsOnly) throw ctx.err('FLOW_UNSUPPORTED_ACTION', it.at, 'meter is an instruction and cannot be used here');
        if (out.length > 0) {
          throw ctx.err('FLOW_ACTION_ORDER', it.at, 'invalid instruction ordering: meter must appear before apply_actions, for OpenFlow 1.1+ compatibility');
        }
        // check_METER (lib/ofp-actions.c), a parse-time check: ids run 1..OFPM13_MAX (0xffff0000).
        if (m === 0 || m > 0xffff0000) throw ctx.err('FLOW_BAD_METER', it.valueAt, 'actions are invalid with specified match (OFPMMFC_INVALID_METER)', 'meter ids run from 1 to 4294901760');
        ctx.usable.narrow(P_OF13_UP, it.at); // parse_METER
        if (opts.meterExists && !opts.meterExists(m)) {
          ctx.late('FLOW_BAD_METER', it.at, `meter:${m}: no such meter (OVS: OFPMMFC_INVALID_METER)`, 'add the meter first (meters: on the bridge, or --meters FILE)');
        }
        out.push({ type: 'meter', id: m });
        continue;
      }
    }
    const of10 = OF10_SET[key];
    if (of10 !== undefined) {
      if (key === 'mod_nw_tos' || key === 'mod_nw_ecn' || key === 'mod_nw_ttl') {
        const v = u8(key === 'mod_nw_tos' ? 'TOS' : key === 'mod_nw_ecn' ? 'ECN' : 'TTL');
        if (key === 'mod_nw_tos' && (v & 3) !== 0) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${arg}: not a valid TOS`);
        if (key === 'mod_nw_ecn' && (v & ~3) !== 0) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${arg}: not a valid ECN`);
      } else if (key === 'mod_tp_src' || key === 'mod_tp_dst') u16(key);
      else if ((key === 'mod_nw_src' || key === 'mod_nw_dst') && !/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(arg)) {
        throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${arg}: could not convert to IP address`);
      }
      const a = parseSet(of10, arg, true, it.at, it.valueAt, vlanMatch.value, vlanMatch.mask, ctx, opts, `${key}:${arg}`);
      if (!setConsistent(key, vlanMatch.value, vlanMatch.mask)) inconsistent(it.at);
      out.push(a);
      continue;
    }
    if (KNOWN_UNSUPPORTED.has(key)) {
      ctx.deferGap('FLOW_UNSUPPORTED_ACTION', it.at, `action "${key}" is not supported yet (OVS accepts it)`, 'see docs/flows.md for the supported actions');
      out.push({ type: 'noop', text: key }); // holds its place for the ordering checks; the flow is refused
      continue;
    }
    const p = parsePortText(it.key, opts);
    if (p !== null) {
      out.push(port(p, it.at));
      continue;
    }
    throw ctx.err('FLOW_UNSUPPORTED_ACTION', it.at, `unknown action ${it.key}`, 'see docs/flows.md for the supported actions');
  }
  if (drop >= 0 && out.length > 0) throw ctx.err('FLOW_SYNTAX', drop, '"drop" must not be accompanied by any other action or instruction');
  if (out.some((a) => a.type === 'conjunction')) {
    // ofpacts_verify: conjunction may share a flow only with note (OVS: NXBAC_BAD_CONJUNCTION).
    const other = items.find((x) => !['conjunction', 'note'].includes(x.key.toLowerCase()));
    if (other) {
      const name = OFPACT_NAME[other.key.toLowerCase()] ?? (parsePortText(other.key, opts) !== null ? 'output' : other.key.toLowerCase());
      throw ctx.err('FLOW_BAD_CONJUNCTION', other.at, `"conjunction" actions may be used along with "note" but not any other kind of action (such as the "${name}" action used here)`);
    }
  }
  return out;
}

/**
 * `ofpacts_verify_nested`: ct_mark and ct_label are written only inside `ct(exec(...))`; there a
 * set_field prints as OVS prints it (NXM load, `load:0x1->NXM_NX_CT_MARK[]`).
 */
function ctFieldCheck(a: Action, at: number, ctx: Ctx, opts: ParseOptions): Action {
  if (writesCtField(a) !== true) return a;
  if (!opts.ctExec) throw ctx.err('FLOW_BAD_VALUE', at, 'cannot set CT fields outside of ct action', 'set ct_mark / ct_label inside ct(commit,exec(...))');
  if (a.type === 'set' && a.text.startsWith('set_field:')) return { ...a, text: ctLoadText(a) };
  return a;
}

/** NXM load text of a set_field on ct_mark / ct_label (format_SET_FIELD as OpenFlow 1.0 shows it). */
function ctLoadText(a: Extract<Action, { type: 'set' }>): string {
  const label = a.field.name === 'ct_label';
  const n = label ? 4 : 1;
  let v = 0n;
  let m = 0n;
  for (let i = 0; i < n; i++) {
    const j = a.words.indexOf(a.field.word + i);
    v = (v << 32n) | BigInt(j < 0 ? 0 : a.values[j]! >>> 0);
    m = (m << 32n) | BigInt(j < 0 ? 0 : a.masks[j]! >>> 0);
  }
  const bits = label ? 128 : 32;
  const nxm = label ? 'NXM_NX_CT_LABEL' : 'NXM_NX_CT_MARK';
  if (m === (1n << BigInt(bits)) - 1n) return `load:0x${v.toString(16)}->${nxm}[]`;
  let ofs = 0;
  while (((m >> BigInt(ofs)) & 1n) === 0n && ofs < bits) ofs++;
  let end = ofs;
  while (((m >> BigInt(end)) & 1n) === 1n && end < bits) end++;
  if (m >> BigInt(end) !== 0n || m === 0n) return a.text;
  return `load:0x${(v >> BigInt(ofs)).toString(16)}->${nxm}[${ofs === end - 1 ? ofs : `${ofs}..${end - 1}`}]`;
}

/**
 * An action list without a match (a group bucket, `parse_bucket_str`): the same action syntax,
 * no match-consistency checks, no instructions.
 */
export function parseActionList(s: string, base: number, ctx: Ctx, opts: ParseOptions): Action[] {
  const none = new Int32Array(KEY_WORDS);
  const out = parseActions(s, base, 255, none, none, ctx, { ...opts, actionsOnly: true });
  usableCheck(ctx, opts);
  if (ctx.gapError) throw ctx.gapError;
  return out;
}

/**
 * ofpacts_check for the OpenFlow 1.0 set actions (lib/ofp-actions.c): check_set_ipv4 needs an
 * IPv4 dl_type (ARP's nw_src is no IPv4 address here), check_set_ip any IP, check_set_l4_port an
 * IP TCP/UDP/SCTP match that is not a later fragment; mod_dl_* fit any match.
 */
function setConsistent(key: string, v: Int32Array, m: Int32Array): boolean {
  switch (key) {
    case 'mod_nw_src':
    case 'mod_nw_dst':
      return prereqOk('ip', v, m);
    case 'mod_nw_tos':
    case 'mod_nw_ecn':
    case 'mod_nw_ttl':
      return prereqOk('ip_any', v, m);
    case 'mod_tp_src':
    case 'mod_tp_dst':
      return prereqOk('l4', v, m) && (v[W_NW_FRAG]! & m[W_NW_FRAG]! & FRAG_LATER) === 0;
    default:
      return true;
  }
}

/** OFPP_MAX (include/openflow/openflow-1.0.h): the first port number above the physical ones. */
const OFPP_MAX = 0xff00;

/** FLOW_NW_FRAG_LATER (lib/packets.h): the match is on a later fragment (ip_frag=later). */
const FRAG_LATER = 2;

/** ofpact_name for the action keywords whose OVS action has another name (ofpacts_verify messages). */
const OFPACT_NAME: Record<string, string> = {
  mod_vlan_vid: 'set_vlan_vid', mod_vlan_pcp: 'set_vlan_pcp', mod_dl_src: 'set_eth_src', mod_dl_dst: 'set_eth_dst',
  mod_nw_src: 'set_ipv4_src', mod_nw_dst: 'set_ipv4_dst', mod_nw_tos: 'set_ip_dscp', mod_nw_ecn: 'set_ip_ecn', mod_nw_ttl: 'set_ip_ttl',
  mod_tp_src: 'set_l4_src_port', mod_tp_dst: 'set_l4_dst_port', normal: 'output', flood: 'output', all: 'output', local: 'output',
  in_port: 'output', controller: 'controller', load: 'set_field', set_field: 'set_field', strip_vlan: 'strip_vlan',
};

/**
 * parse_CONJUNCTION (lib/ofp-actions.c): `ovs_scan(arg, "%"SCNi32" , %"SCNu8" / %"SCNu8" %n")`,
 * so white space is allowed around the separators and the id takes C's %i forms (0x…, 0…, sign,
 * wrapping to 32 bits as OVS stores it); then 2 <= n <= 64 and 1 <= k <= n.
 */
function parseConjunction(arg: string, at: number, ctx: Ctx): Action {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\s*,\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(arg);
  if (!m) throw ctx.err('FLOW_SYNTAX', at, '"conjunction" syntax is "conjunction(id,i/n)"');
  const lim = (1n << 63n) - 1n;
  let id = BigInt(/^0[0-7]+$/.test(m[2]!) ? `0o${m[2]!.slice(1)}` : m[2]!);
  if (id > lim) id = m[1] === '-' ? lim + 1n : lim; // strtoll saturates
  else if (m[1] === '-') id = -id;
  const u8 = (s: string): number => Number(BigInt(s) & 0xffn);
  const k = u8(m[3]!);
  const n = u8(m[4]!);
  if (n < 2) throw ctx.err('FLOW_BAD_CONJUNCTION', at, 'conjunction must have at least 2 clauses');
  if (n > 64) throw ctx.err('FLOW_BAD_CONJUNCTION', at, 'conjunction must have at most 64 clauses');
  if (k < 1) throw ctx.err('FLOW_BAD_CONJUNCTION', at, 'clause index must be positive');
  if (k > n) throw ctx.err('FLOW_BAD_CONJUNCTION', at, 'clause index must be less than or equal to number of clauses');
  return { type: 'conjunction', id: Number(BigInt.asUintN(32, id)), clause: k, nClauses: n };
}

/** ovs_instruction_type order (include/openvswitch/ofp-actions.h OVS_INSTRUCTIONS). */
const INST_APPLY = 1;
const INSTRUCTION_RANK: Record<string, number> = { meter: 0, clear_actions: 2, write_actions: 3, write_metadata: 4, goto_table: 5 };
const INSTRUCTION_NAME = ['meter', 'apply_actions', 'clear_actions', 'write_actions', 'write_metadata', 'goto_table'];

/**
 * Why a `load` (parse_REG_LOAD makes it a set_field, so check_SET_FIELD in lib/ofp-actions.c
 * applies) or a `move` (nxm_reg_move_check → mf_check_src/mf_check_dst, lib/nx-match.c and
 * lib/meta-flow.c) of field `fd` is inconsistent with the match, or null: the field's
 * prerequisites must be in the match, and (load only) vlan_vid needs a tag there or pushed.
 */
function writePrereqError(fd: FieldDef, isLoad: boolean, mValue: Int32Array, mMask: Int32Array): string | null {
  if (isLoad && fd.name === 'vlan_vid' && !prereqOk('vlan', mValue, mMask)) return 'vlan_vid needs a VLAN tag in the match or a push_vlan before it';
  // OXM_OF_VLAN_PCP's prerequisite is a VLAN (meta-flow.xml: vlan_pcp needs vlan_vid).
  if (fd.name === 'vlan_pcp' && !prereqOk('vlan', mValue, mMask)) return 'vlan_pcp needs a VLAN tag in the match or a push_vlan before it';
  // tp_src/tp_dst are OVS's other names of tcp_src/tcp_dst (meta-flow.xml).
  const need: Prereq = fd.name === 'tp_src' || fd.name === 'tp_dst' ? 'tcp' : fd.prereq;
  return prereqOk(need, mValue, mMask) ? null : `${fd.name} needs ${PREREQ_TEXT[need]} in the match`;
}

/** OVS action names vfab does not execute yet: refused by name rather than taken for a port. */
const KNOWN_UNSUPPORTED = new Set([
  'bundle', 'bundle_load', 'output_reg',
  'multipath', 'push_mpls', 'pop_mpls', 'set_mpls_label', 'set_mpls_tc', 'set_mpls_ttl', 'dec_mpls_ttl',
  'check_pkt_larger', 'encap', 'decap', 'dec_nsh_ttl', 'set_nw_ttl', 'delete_field', 'unroll_xlate', 'debug_recirc', 'debug_slow',
]);

/**
 * A field by name; tun_metadataN only when the bridge's TLV map maps it (OVS refuses a flow_mod
 * naming an unmapped one: NXFMFC_INVALID_TLV_FIELD, lib/tun-metadata.c tun_metadata_check).
 */
/**
 * `mf_set` per match item and `parse_ofp_str__`'s IPv6 interdependency (lib/ofp-flow.c: only NXM
 * and OXM match nw_proto, nw_tos or L4 ports within IPv6): narrows `ctx.usable` to NXM/OXM at the first
 * item OpenFlow 1.1's standard match cannot carry (of11-match.ts).
 */
function of11MatchCheck(used: { fd: FieldDef; at: number; words: Int32Array }[], value: Int32Array, mask: Int32Array, ctx: Ctx): void {
  for (const u of used) {
    const fd = u.fd;
    if (!of11Matchable(fd, maskCover(fd, mask))) ctx.usable.narrow(P_NXM_OXM_ANY, u.at);
  }
  if (value[W_DL_TYPE] === 0x86dd && mask[W_DL_TYPE] === 0xffff && (mask[W_NW_PROTO] !== 0 || mask[W_NW_TOS] !== 0 || mask[W_TP_SRC] !== 0 || mask[W_TP_DST] !== 0)) {
    const u = used.find((x) => x.words[W_NW_PROTO] !== 0 || x.words[W_NW_TOS] !== 0 || x.words[W_TP_SRC] !== 0 || x.words[W_TP_DST] !== 0);
    ctx.usable.narrow(P_NXM_OXM_ANY, u?.at ?? 0);
  }
}

/** How the match's mask covers field `fd`'s bits: not at all, fully, or partly. */
function maskCover(fd: FieldDef, mask: Int32Array): MaskCover {
  if ((fd.kind === 'int' || fd.kind === 'port') && fd.bits < 32) {
    // A view's unstored low bits (NXM_OF_IP_TOS[0..1]) are no part of what the match covers.
    const own = (((1 << fd.bits) - 1) << fd.shift) & ~((1 << (fd.zeroLowBits ?? 0)) - 1);
    const m = mask[fd.word]! & own;
    return m === 0 ? 'none' : m === own ? 'full' : 'partial';
  }
  const span = fd.kind === 'mac' ? 2 : fd.kind === 'ipv6' ? 4 : fd.kind === 'wide' ? fd.nwords : 1;
  let any = false;
  let full = true;
  for (let i = 0; i < span; i++) {
    const m = mask[fd.word + i]!;
    if (m !== 0) any = true;
    if (m !== -1) full = false;
  }
  // Only the exact-only fields (all narrow ints above) care about full versus partial.
  return !any ? 'none' : full ? 'full' : 'partial';
}

/** OVS's MPLS fields (include/openvswitch/meta-flow.h MFF_MPLS_*): a documented vfab gap. */
const MPLS_FIELDS = new Set(['mpls_label', 'mpls_tc', 'mpls_bos', 'mpls_ttl']);

function lookupField(name: string, at: number, ctx: Ctx, opts: ParseOptions): FieldDef | undefined {
  if (MPLS_FIELDS.has(name)) throw ctx.err('FLOW_UNSUPPORTED_FIELD', at, `"${name}": vfab does not model MPLS (OVS accepts it)`);
  if (tunMetadataIndex(name) === undefined) return FIELD_BY_NAME.get(name);
  const fd = opts.tlv?.field(name);
  if (!fd) throw ctx.err('FLOW_INVALID_TLV_FIELD', at, unmappedTlvError(name));
  return fd;
}

function parseSet(
  fName: string,
  vText: string,
  of10: boolean,
  fieldAt: number,
  valueAt: number,
  mValue: Int32Array,
  mMask: Int32Array,
  ctx: Ctx,
  opts: ParseOptions,
  text: string,
): Action {
  const fd = lookupField(fName, fieldAt, ctx, opts);
  if (!fd) throw ctx.err('FLOW_UNKNOWN_FIELD', fieldAt, `set_field: unknown or unsupported field "${fName}"`);
  if ((fd.name === 'vlan_vid' || fd.name === 'vlan_pcp') && !of10 && !opts.actionsOnly && !prereqOk('vlan', mValue, mMask)) {
    throw ctx.err('FLOW_PREREQ', fieldAt, `actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT): set_field ${fName} needs a VLAN tag in the match or a push_vlan before it`);
  }
  if (vText === '') throw ctx.err('FLOW_BAD_VALUE', valueAt, `set_field: missing value for ${fName}`);
  // mf_is_value_valid (lib/meta-flow.c): the value must fit the field's bits. vlan_vid takes the
  // VID with or without the OpenFlow 1.2 "present" bit 0x1000 (OVS prints both as mod_vlan_vid).
  // tun_flags also takes its flag names (`set_field:+oam->tun_flags`, `-oam`): OVS's mf_parse reads
  // them as MFS_TNL_FLAGS for set_field as for a match (lib/meta-flow.c mf_from_tun_flags_string);
  // setMatchField below parses them.
  if (fd.kind === 'int' && !(fd.name === 'tun_flags' && /^[+-]?[a-z]/i.test(vText))) {
    const r = parseFieldInt(vText, fd.bytes);
    if (r === 'range' || r === null) throw ctx.err('FLOW_BAD_VALUE', valueAt, `set_field: invalid ${fName} "${vText}"`);
    const v = r[0];
    const limit = fd.name === 'vlan_vid' ? 0x1fffn : fd.name === 'nw_tos' ? 0xffn : (1n << BigInt(fd.bits)) - 1n;
    if (v > limit || (fd.name === 'nw_tos' && (v & 3n) !== 0n)) {
      throw ctx.err('FLOW_BAD_VALUE', valueAt, `${vText} is not a valid value for field ${fName} (OVS: OFPBAC_BAD_SET_ARGUMENT)`);
    }
    if (fd.name === 'vlan_vid' && (v & 0x1000n) === 0n && (opts.protocols ?? 10) >= 12) {
      // OpenFlow 1.2+ carries set_field as OXM, whose vlan_vid needs OFPVID_PRESENT (0x1000).
      throw ctx.err('FLOW_BAD_VALUE', valueAt, `set_field:${vText}->vlan_vid: OFPBAC_BAD_SET_ARGUMENT (OpenFlow 1.2+ needs the 0x1000 "present" bit: write ${Number(v) | 0x1000})`);
    }
    if (fd.name === 'vlan_vid' || fd.name === 'dl_vlan') return { type: 'set_vlan_vid', vid: Number(v) & 0xfff, push: false, text };
    if (fd.name === 'vlan_pcp' || fd.name === 'dl_vlan_pcp') return { type: 'set_vlan_pcp', pcp: Number(v), push: false, text };
  }
  if (!fd.settable) throw ctx.err('FLOW_UNSUPPORTED_ACTION', fieldAt, `${fName} is read-only`);
  // In OVS tp_src/tp_dst are other names of tcp_src/tcp_dst, so set_field on them needs tcp.
  const need: Prereq = !of10 && (fd.name === 'tp_src' || fd.name === 'tp_dst') ? 'tcp' : fd.prereq;
  if (!of10 && !opts.actionsOnly && !prereqOk(need, mValue, mMask)) {
    throw ctx.err('FLOW_PREREQ', fieldAt, `actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT): set_field ${fName} needs ${PREREQ_TEXT[need]} in the match`);
  }
  const value = new Int32Array(KEY_WORDS);
  const mask = new Int32Array(KEY_WORDS);
  setMatchField(fd, fName, vText, valueAt, value, mask, ctx, opts);
  if (fd.name === 'nw_tos') {
    // mod_nw_tos/nw_tos write the DSCP bits and keep ECN.
    mask[fd.word] = 0xfc;
  }
  if (fd.extra !== 0) {
    value[fd.word] = value[fd.word]! & ~fd.extra;
    mask[fd.word] = mask[fd.word]! & ~fd.extra;
  }
  const words: number[] = [];
  const values: number[] = [];
  const masks: number[] = [];
  for (let i = 0; i < KEY_WORDS; i++) {
    if (mask[i] !== 0) {
      words.push(i);
      values.push(value[i]! & mask[i]!);
      masks.push(mask[i]!);
    }
  }
  return { type: 'set', field: fd, words, values, masks, of10, text };
}


/**
 * Applies a protocol shorthand (`ip`, `tcp6`, `arp` …) to `value`/`mask` as the dl_type (and
 * nw_proto) it stands for. Returns false when `key` is not a shorthand.
 */
function applyShorthand(key: string, it: { key: string; value: string | null; at: number }, value: Int32Array, mask: Int32Array, ctx: Ctx): boolean {
  const sh = SHORTHANDS[key];
  if (!sh) return false;
  if (it.value !== null) throw ctx.err('FLOW_SYNTAX', it.at, `"${it.key}" is a protocol shorthand and takes no value`);
  value[W_DL_TYPE] = sh.dlType;
  mask[W_DL_TYPE] = 0xffff;
  if (sh.nwProto !== undefined) {
    value[W_NW_PROTO] = sh.nwProto;
    mask[W_NW_PROTO] = 0xff;
  }
  return true;
}

/**
 * Parses an `ofproto/trace` flow (`in_port=1,tcp,dl_src=…,tp_dst=80`): the same field names and
 * shorthands as a match, no masks needed, no actions. Returns value and mask words; fields not
 * mentioned are 0, as in OVS's trace.
 */
export function parseTraceFlow(text: string, opts: ParseOptions = {}): { value: Int32Array; mask: Int32Array } {
  const ctx = new Ctx(opts.file ?? '<packet>', opts.line ?? 1, (opts.col ?? 1) - 1);
  const value = new Int32Array(KEY_WORDS);
  const mask = new Int32Array(KEY_WORDS);
  for (const it of splitItems(text, 0, ctx)) {
    const key = it.key.toLowerCase();
    if (applyShorthand(key, it, value, mask, ctx)) continue;
    // ofproto/trace drops a tun_metadataN the bridge does not map (its Flow: line lacks it).
    if (tunMetadataIndex(key) !== undefined && !opts.tlv?.field(key)) continue;
    const fd = lookupField(key, it.at, ctx, opts);
    if (!fd) throw ctx.err('FLOW_UNKNOWN_FIELD', it.at, `unknown or unsupported packet field "${it.key}"`, 'see docs/flows.md for the supported fields');
    if (it.value === null || it.value === '') throw ctx.err('FLOW_SYNTAX', it.at, `${key} needs a value (${key}=...)`);
    setMatchField(fd, key, it.value, it.valueAt, value, mask, ctx, opts);
  }
  for (let i = 0; i < KEY_WORDS; i++) value[i] = value[i]! & mask[i]!;
  return { value, mask };
}
