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
import type { SourceLocation } from '../errors.js';
import type { Action } from './actions.js';
import { formatActions } from './actions.js';
import {
  FIELD_BY_NAME,
  KEY_WORDS,
  OFPP_ALL,
  OFPP_FLOOD,
  OFPP_IN_PORT,
  OFPP_LOCAL,
  OFPP_NORMAL,
  PREREQ_TEXT,
  SHORTHANDS,
  VLAN_CFI,
  W_DL_TYPE,
  W_NW_PROTO,
  parseIntText,
  prereqOk,
  type FieldDef,
} from './fields.js';
import { formatMatch } from './match-format.js';
import { Ctx, parsePortText, setMatchField, splitItems, type ParseOptions } from './flow-syntax.js';

export type { ParseOptions } from './flow-syntax.js';

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
}

/**
 * Most flows one add-flows text (one bridge's table) may hold. OVS has no default per-table
 * limit (`Flow_Table:flow_limit` is unset), but vfab keeps every table bounded: a 40 MB flows
 * file of 900,000 flows used 1.5 GiB. Exceeding it is a user error at the first flow too many.
 */
export const MAX_FLOWS_PER_TABLE_TEXT = 100_000;

/** Parses a whole add-flows text. */
export function parseFlows(text: string, opts: ParseOptions = {}): ParsedFlow[] {
  const maxFlows = opts.maxFlows ?? MAX_FLOWS_PER_TABLE_TEXT;
  const file = opts.file ?? '<flows>';
  const line0 = opts.line ?? 1;
  const col0 = (opts.col ?? 1) - 1;
  const out: ParsedFlow[] = [];
  const lines = text.split('\n');
  let lineStart = 0;
  for (let li = 0; li < lines.length; li++) {
    const raw = lines[li]!;
    const start = lineStart;
    lineStart += raw.length + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const ctx = new Ctx(file, line0 + li, col0, opts.position ? { position: opts.position, lineStart: start } : undefined);
    if (out.length >= maxFlows) {
      throw ctx.err('FLOW_TOO_MANY', raw.length - raw.trimStart().length, `more than ${maxFlows} flows in one flow table (vfab's limit per bridge)`);
    }
    out.push(parseFlowLine(raw, ctx, opts));
  }
  return out;
}

/** Parses one flow line (no comment handling). Exposed for the trace command's `--flow`. */
export function parseFlow(line: string, opts: ParseOptions = {}): ParsedFlow {
  return parseFlowLine(line, new Ctx(opts.file ?? '<flow>', opts.line ?? 1, (opts.col ?? 1) - 1), opts);
}

function parseFlowLine(raw: string, ctx: Ctx, opts: ParseOptions): ParsedFlow {
  // `actions=` (or `action=`) takes the rest of the line (ofp-flow.c looks for "action").
  const am = /(^|[\s,])actions?\s*=/.exec(raw);
  if (!am) {
    const first = raw.search(/\S/);
    throw ctx.err('FLOW_NO_ACTIONS', Math.max(0, first), 'flow has no "actions=" (write actions=drop to drop)');
  }
  const actionsKeyAt = am.index + am[1]!.length;
  const actionsAt = am.index + am[0].length;
  const matchPart = raw.slice(0, am.index);
  const actionsPart = raw.slice(actionsAt);

  const value = new Int32Array(KEY_WORDS);
  const mask = new Int32Array(KEY_WORDS);
  const used: { fd: FieldDef; at: number; key: string }[] = [];
  let table = 0;
  let priority = 32768;
  let cookie = 0n;
  let idleTimeout = 0;
  let hardTimeout = 0;

  for (const it of splitItems(matchPart, 0, ctx)) {
    const key = it.key.toLowerCase();
    if (applyShorthand(key, it, value, mask, ctx)) continue;
    const needInt = (lo: number, hi: number): number => {
      if (it.value === null || it.value === '') throw ctx.err('FLOW_SYNTAX', it.at, `${key} needs a value`);
      const v = parseIntText(it.value);
      if (v === null || v < lo || v > hi) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `${key}: "${it.value}" is not an integer in ${lo}..${hi}`);
      return v;
    };
    switch (key) {
      case 'table':
        table = needInt(0, 254);
        continue;
      case 'priority':
        priority = needInt(0, 65535);
        continue;
      case 'idle_timeout':
        idleTimeout = needInt(0, 65535);
        continue;
      case 'hard_timeout':
        hardTimeout = needInt(0, 65535);
        continue;
      case 'importance':
        needInt(0, 65535);
        continue;
      case 'cookie': {
        if (it.value === null || !/^(0x[0-9a-f]{1,16}|\d{1,20})$/i.test(it.value)) {
          throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `cookie: "${it.value ?? ''}" is not a 64-bit integer (a cookie mask is only for del/mod/dump)`);
        }
        cookie = BigInt(it.value);
        if (cookie >= 1n << 64n) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, 'cookie: larger than 64 bits');
        continue;
      }
      case 'send_flow_rem':
      case 'check_overlap':
      case 'reset_counts':
      case 'no_packet_counts':
      case 'no_byte_counts':
        if (it.value !== null) throw ctx.err('FLOW_SYNTAX', it.at, `${key} takes no value`);
        continue;
    }
    const fd = FIELD_BY_NAME.get(key);
    if (!fd) {
      throw ctx.err('FLOW_UNKNOWN_FIELD', it.at, `unknown or unsupported match field "${it.key}"`, 'see docs/flows.md for the supported fields');
    }
    if (it.value === null || it.value === '') throw ctx.err('FLOW_SYNTAX', it.at, `${key} needs a value (${key}=...)`);
    setMatchField(fd, key, it.value, it.valueAt, value, mask, ctx, opts);
    used.push({ fd, at: it.at, key });
  }
  for (let i = 0; i < KEY_WORDS; i++) value[i] = value[i]! & mask[i]!;
  for (const u of used) {
    if (!prereqOk(u.fd.prereq, value, mask)) {
      throw ctx.err(
        'FLOW_PREREQ',
        u.at,
        `${u.key} requires ${PREREQ_TEXT[u.fd.prereq]} in the same match`,
        `OVS would silently ignore ${u.key} here; add e.g. "${u.fd.prereq === 'l4' || u.fd.prereq === 'tcp' ? 'tcp' : u.fd.prereq === 'udp' ? 'udp' : u.fd.prereq === 'icmp' ? 'icmp' : u.fd.prereq === 'arp' ? 'arp' : u.fd.prereq === 'ipv6' ? 'ipv6' : 'ip'},"`,
      );
    }
  }
  const actions = parseActions(actionsPart, actionsAt, table, value, mask, ctx, opts, actionsKeyAt);
  return {
    table,
    priority,
    cookie,
    idleTimeout,
    hardTimeout,
    value,
    mask,
    actions,
    matchText: formatMatch(value, mask),
    actionsText: formatActions(actions),
    location: ctx.loc(0),
  };
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

const RESERVED_OUTPUTS: Record<string, number> = {
  normal: OFPP_NORMAL,
  flood: OFPP_FLOOD,
  all: OFPP_ALL,
  in_port: OFPP_IN_PORT,
  local: OFPP_LOCAL,
};

function parseActions(
  s: string,
  base: number,
  table: number,
  mValue: Int32Array,
  mMask: Int32Array,
  ctx: Ctx,
  opts: ParseOptions,
  actionsKeyAt: number,
): Action[] {
  const items = splitItems(s, base, ctx);
  const out: Action[] = [];
  let drop = -1;
  let gotoAt = -1;
  for (const it of items) {
    const key = it.key.toLowerCase();
    if (gotoAt >= 0) {
      throw ctx.err('FLOW_ACTION_ORDER', it.at, `"${it.key}" after goto_table: goto_table must be the last action`);
    }
    const noValue = (): void => {
      if (it.value !== null && !(it.paren && it.value.trim() === '')) throw ctx.err('FLOW_SYNTAX', it.at, `${key} takes no argument`);
    };
    const intArg = (lo: number, hi: number): number => {
      const v = it.value === null ? null : parseIntText(it.value.trim());
      if (v === null || v < lo || v > hi) {
        throw ctx.err('FLOW_BAD_VALUE', it.value === null ? it.at : it.valueAt, `${key}: expected an integer in ${lo}..${hi}, got "${it.value ?? ''}"`);
      }
      return v;
    };
    if (/^\d+$/.test(key) || /^0x[0-9a-f]+$/.test(key)) {
      if (it.value !== null) throw ctx.err('FLOW_SYNTAX', it.at, `unexpected "${it.key}${it.paren ? '(' : ':'}"`);
      const p = parsePortText(key, opts);
      if (p === null) throw ctx.err('FLOW_BAD_VALUE', it.at, `output port ${key} out of range`);
      out.push({ type: 'output', port: p });
      continue;
    }
    const reserved = RESERVED_OUTPUTS[key];
    if (reserved !== undefined) {
      noValue();
      out.push({ type: 'output', port: reserved });
      continue;
    }
    switch (key) {
      case 'drop':
        noValue();
        drop = it.at;
        continue;
      case 'output': {
        if (it.value === null) throw ctx.err('FLOW_SYNTAX', it.at, 'output needs a port (output:N)');
        let portText = it.value.trim();
        if (it.paren) {
          const m = /^port=([^,]+)(,max_len=\d+)?$/.exec(portText);
          if (!m) throw ctx.err('FLOW_UNSUPPORTED_ACTION', it.at, `output(${it.value}): only output(port=N[,max_len=N]) is supported`);
          portText = m[1]!;
        }
        const p = parsePortText(portText, opts);
        if (p === null) throw ctx.err('FLOW_UNKNOWN_PORT', it.valueAt, `output: unknown port "${portText}"`);
        out.push({ type: 'output', port: p });
        continue;
      }
      case 'controller': {
        let maxLen = 65535;
        if (it.value !== null && it.value.trim() !== '') {
          if (it.paren) {
            for (const kv of it.value.split(',')) {
              const [k, v] = kv.split('=');
              if (k === 'max_len' && v !== undefined && parseIntText(v) !== null) maxLen = parseIntText(v)!;
              else if (k !== 'reason' && k !== 'id' && k !== 'userdata' && k !== 'pause' && k !== 'meter_id') {
                throw ctx.err('FLOW_UNSUPPORTED_ACTION', it.valueAt, `controller: unsupported argument "${kv}"`);
              }
            }
          } else maxLen = intArg(0, 65535);
        }
        out.push({ type: 'controller', maxLen });
        continue;
      }
      case 'mod_vlan_vid':
        out.push({ type: 'set_vlan_vid', vid: intArg(0, 4095), push: true, text: `mod_vlan_vid:${parseIntText(it.value!.trim())}` });
        continue;
      case 'mod_vlan_pcp':
        out.push({ type: 'set_vlan_pcp', pcp: intArg(0, 7), push: true, text: `mod_vlan_pcp:${parseIntText(it.value!.trim())}` });
        continue;
      case 'strip_vlan':
      case 'pop_vlan':
        noValue();
        out.push({ type: 'strip_vlan', text: key });
        continue;
      case 'push_vlan': {
        const t = intArg(0, 0xffff);
        if (t !== 0x8100 && t !== 0x88a8) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `push_vlan: ethertype must be 0x8100 or 0x88a8, got ${it.value}`);
        out.push({ type: 'push_vlan', tpid: t });
        continue;
      }
      case 'dec_ttl':
        // dec_ttl(id,...) lists controller ids for the exception; accepted and ignored.
        out.push({ type: 'dec_ttl' });
        continue;
      case 'resubmit': {
        if (it.value === null) throw ctx.err('FLOW_SYNTAX', it.at, 'resubmit needs a port or (port,table)');
        let port: number | null = null;
        let tbl: number | null = null;
        if (it.paren) {
          const parts = it.value.split(',');
          if (parts.length < 1 || parts.length > 3) throw ctx.err('FLOW_SYNTAX', it.valueAt, 'resubmit: expected (port,table)');
          const pt = parts[0]!.trim();
          const tt = (parts[1] ?? '').trim();
          if (parts.length === 3) throw ctx.err('FLOW_UNSUPPORTED_ACTION', it.valueAt, 'resubmit: the ct argument is not supported');
          if (pt !== '') {
            port = parsePortText(pt, opts);
            if (port === null) throw ctx.err('FLOW_UNKNOWN_PORT', it.valueAt, `resubmit: unknown port "${pt}"`);
          }
          if (tt !== '') {
            const t = parseIntText(tt);
            if (t === null || t > 254) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `resubmit: table "${tt}" is not in 0..254`);
            tbl = t;
          }
          if (port === null && tbl === null) throw ctx.err('FLOW_SYNTAX', it.valueAt, 'resubmit: at least one of port and table must be given');
        } else {
          port = parsePortText(it.value.trim(), opts);
          if (port === null) throw ctx.err('FLOW_UNKNOWN_PORT', it.valueAt, `resubmit: unknown port "${it.value}"`);
        }
        out.push({ type: 'resubmit', port, table: tbl });
        continue;
      }
      case 'goto_table': {
        const t = intArg(0, 254);
        if (t <= table) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `goto_table:${t} must go to a later table than ${table}`);
        gotoAt = it.at;
        out.push({ type: 'goto_table', table: t });
        continue;
      }
      case 'set_field':
      case 'load_field': {
        if (key === 'load_field') break;
        if (it.value === null) throw ctx.err('FLOW_SYNTAX', it.at, 'set_field needs VALUE->FIELD');
        const arrow = it.value.indexOf('->');
        if (arrow < 0) throw ctx.err('FLOW_SYNTAX', it.valueAt, 'set_field: expected VALUE->FIELD');
        const vText = it.value.slice(0, arrow).trim();
        const fName = it.value.slice(arrow + 2).trim().toLowerCase();
        out.push(parseSet(fName, vText, false, it.valueAt + arrow + 2, it.valueAt, mValue, mMask, ctx, opts, `set_field:${vText}->${fName}`));
        continue;
      }
    }
    const of10 = OF10_SET[key];
    if (of10 !== undefined) {
      if (it.value === null) throw ctx.err('FLOW_SYNTAX', it.at, `${key} needs a value (${key}:VALUE)`);
      if (key === 'mod_nw_tos') {
        const v = intArg(0, 255);
        if ((v & 3) !== 0) throw ctx.err('FLOW_BAD_VALUE', it.valueAt, `mod_nw_tos:${v}: the two ECN bits must be 0 (use a multiple of 4)`);
      }
      out.push(parseSet(of10, it.value.trim(), true, it.at, it.valueAt, mValue, mMask, ctx, opts, `${key}:${it.value.trim()}`));
      continue;
    }
    throw ctx.err('FLOW_UNSUPPORTED_ACTION', it.at, `unknown or unsupported action "${it.key}"`, 'see docs/flows.md for the supported actions');
  }
  if (drop >= 0 && out.length > 0) throw ctx.err('FLOW_SYNTAX', drop, '"drop" must not be accompanied by any other action');
  if (items.length === 0 && s.trim() !== '') throw ctx.err('FLOW_SYNTAX', actionsKeyAt, 'cannot parse actions');
  return out;
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
  const fd = FIELD_BY_NAME.get(fName);
  if (!fd) throw ctx.err('FLOW_UNKNOWN_FIELD', fieldAt, `set_field: unknown or unsupported field "${fName}"`);
  if ((fd.name === 'vlan_vid' || fd.name === 'vlan_pcp') && !of10 && !prereqOk('vlan', mValue, mMask)) {
    throw ctx.err('FLOW_PREREQ', fieldAt, `set_field:…->${fName} requires a VLAN tag in the match (e.g. vlan_tci=0x1000/0x1000) (OVS: OFPBAC_MATCH_INCONSISTENT)`);
  }
  if (fd.name === 'vlan_vid' || fd.name === 'dl_vlan') {
    const v = parseIntText(vText);
    if (v === null || v > 0x1fff) throw ctx.err('FLOW_BAD_VALUE', valueAt, `set_field: invalid ${fName} "${vText}"`);
    if (fd.name === 'vlan_vid' && (v & VLAN_CFI) === 0) {
      throw ctx.err('FLOW_BAD_VALUE', valueAt, `set_field:${vText}->vlan_vid: the value needs the 0x1000 "present" bit (write ${v | VLAN_CFI} for VID ${v}) (OVS: OFPBAC_BAD_SET_ARGUMENT)`);
    }
    return { type: 'set_vlan_vid', vid: v & 0xfff, push: false, text };
  }
  if (fd.name === 'vlan_pcp' || fd.name === 'dl_vlan_pcp') {
    const v = parseIntText(vText);
    if (v === null || v > 7) throw ctx.err('FLOW_BAD_VALUE', valueAt, `set_field: invalid ${fName} "${vText}"`);
    return { type: 'set_vlan_pcp', pcp: v, push: false, text };
  }
  if (!fd.settable) throw ctx.err('FLOW_UNSUPPORTED_ACTION', fieldAt, `set_field: field "${fName}" cannot be set`);
  if (!of10 && !prereqOk(fd.prereq, mValue, mMask)) {
    throw ctx.err('FLOW_PREREQ', fieldAt, `set_field:…->${fName} requires ${PREREQ_TEXT[fd.prereq]} in the match (OVS: OFPBAC_MATCH_INCONSISTENT)`);
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
    const fd = FIELD_BY_NAME.get(key);
    if (!fd) throw ctx.err('FLOW_UNKNOWN_FIELD', it.at, `unknown or unsupported packet field "${it.key}"`, 'see docs/flows.md for the supported fields');
    if (it.value === null || it.value === '') throw ctx.err('FLOW_SYNTAX', it.at, `${key} needs a value (${key}=...)`);
    setMatchField(fd, key, it.value, it.valueAt, value, mask, ctx, opts);
  }
  for (let i = 0; i < KEY_WORDS; i++) value[i] = value[i]! & mask[i]!;
  return { value, mask };
}
