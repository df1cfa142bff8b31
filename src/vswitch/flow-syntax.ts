/**
 * The lexical layer shared by the flow parser and the trace-packet parser: ovs-ofctl's
 * `key=value` splitting (`ofputil_parse_key_value`), positioned errors, port names and
 * match-field values (`value[/mask]` for MACs, IPv4/IPv6 with CIDR or masks, integers).
 */
import { UserError, type SourceLocation } from '../errors.js';
import {
  OFPP_ALL,
  OFPP_CONTROLLER,
  OFPP_FLOOD,
  OFPP_IN_PORT,
  OFPP_LOCAL,
  OFPP_NONE,
  OFPP_NORMAL,
  OFPP_TABLE,
  W_TUN_MD_PRESENT,
  W_VLAN_TCI,
  parseIpv6Text,
  setMacWords,
  type FieldDef,
} from './fields.js';
import type { TlvTable } from './tun-metadata.js';
import { UsableProtocols } from './of-protocols.js';
import { parseFieldInt, scanIpv4Masked, scanMac, strToUintBase10 } from './ovs-lex.js';

export interface ParseOptions {
  /** File name for errors (default `<flows>`). */
  file?: string;
  /** Where the text starts in `file`: line of the first line, column added to every line. */
  line?: number;
  col?: number;
  /** Resolves port names (`in_port=p1`, `output:p1`) to OpenFlow port numbers. */
  portByName?: (name: string) => number | undefined;
  /**
   * Where an offset of the text is in `file` (a YAML scalar that is folded, quoted or indented
   * does not keep the text's lines and columns). Overrides `line`/`col` when given.
   */
  position?: (offset: number) => { line: number; col: number };
  /** Most flows accepted (default `MAX_FLOWS_PER_TABLE_TEXT`). */
  maxFlows?: number;
  /**
   * The OpenFlow version the flows are sent with (10 = 1.0 … 15 = 1.5), as `ovs-ofctl -O` would
   * negotiate it. Default 10: ovs-ofctl's default, OpenFlow 1.0 with Nicira extensions.
   */
  protocols?: OfVersion;
  /** Turn warnings (a match field dropped for a missing prerequisite) into errors. */
  strict?: boolean;
  /** Collects the warnings (each also lands on its ParsedFlow). */
  warnings?: FlowWarning[];
  /**
   * Whether a group exists (`group:N` to a missing group is OFPBAC_BAD_OUT_GROUP when the flow is
   * added, ofproto.c `ofproto_check_ofpacts`). Undefined: every group is taken to exist.
   */
  groupExists?: (id: number) => boolean;
  /** Whether a meter exists (`meter:N` to a missing one is OFPMMFC_INVALID_METER). */
  meterExists?: (id: number) => boolean;
  /** Parsing the actions inside `ct(exec(...))`, where ct_mark / ct_label may be set. */
  ctExec?: boolean;
  /** An action list without a flow match (a group bucket): no match-consistency checks. */
  actionsOnly?: boolean;
  /** Parsing a nested action list (`clone(...)`, `write_actions(...)`): no instructions inside. */
  nestedIn?: 'clone' | 'write_actions';
  /**
   * Inside write_actions: ofpacts_check runs on a copy of the usable protocols (check_WRITE_ACTIONS,
   * lib/ofp-actions.c), so an action inconsistent with the match does not narrow them there.
   */
  inActionSet?: boolean;
  /** The bridge's TLV map: which tun_metadataN fields exist (tun-metadata.ts). */
  tlv?: TlvTable;
}

/** Something OVS accepts but changes, with where it is (`ovs-ofctl` logs it at INFO). */
export interface FlowWarning {
  code: string;
  message: string;
  location: SourceLocation;
}

export type OfVersion = 10 | 11 | 12 | 13 | 14 | 15;

/** `OpenFlow13` / `OpenFlow10,OpenFlow13` → the version a session negotiates (the highest). */
export function parseProtocols(text: string): OfVersion | null {
  let best: OfVersion | null = null;
  for (const p of text.split(',')) {
    const m = /^OpenFlow1([0-5])$/.exec(p.trim());
    if (!m) return null;
    const v = (10 + Number(m[1])) as OfVersion;
    if (best === null || v > best) best = v;
  }
  return best;
}

/** A `key[=|:]value` item with its 0-based offset in the line. */
export interface Item {
  key: string;
  value: string | null;
  /** Offset of the key, and of the value. */
  at: number;
  valueAt: number;
  /** Whether the value was in parentheses: `resubmit(,1)`. */
  paren: boolean;
}

const GAPS = new WeakSet<Error>();

/** Whether `e` refuses something vfab does not model yet (`Ctx.gap`), rather than bad input. */
export function isGap(e: unknown): e is UserError {
  return e instanceof Error && GAPS.has(e);
}

export class Ctx {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly colBase: number,
    /** With a position map: the offset of this line's first character in the whole text. */
    readonly map?: { position: (offset: number) => { line: number; col: number }; lineStart: number },
  ) {}
  /** Source location of offset `at` in this line. */
  loc(at: number): { file: string; line: number; col: number } {
    if (this.map) return { file: this.file, ...this.map.position(this.map.lineStart + at) };
    return { file: this.file, line: this.line, col: this.colBase + at + 1 };
  }
  err(code: string, at: number, message: string, hint?: string): UserError {
    return new UserError(code, message, {
      location: this.loc(at),
      ...(hint ? { hint } : {}),
    });
  }
  /**
   * An error OVS finds only after the whole file has parsed: the session's protocol (ovs-ofctl
   * negotiates one for the whole file, utilities/ovs-ofctl.c open_vconn_for_flow_mod) or the
   * switch refusing the flow mod (OFPT_ERROR). Thrown at once unless `deferLate` (parseFlows):
   * then the first is kept in `lateError` and parsing goes on, since a parse error anywhere in
   * the file (this line included) wins over it.
   */
  deferLate = false;
  lateError: UserError | undefined;
  /** This flow's usable protocols as parse_ofp_str__ narrows them (of-protocols.ts). */
  readonly usable = new UsableProtocols();
  /**
   * A refusal of something OVS accepts but vfab does not model yet (MPLS, bundle, …): parseFlows
   * keeps it like a late error, since OVS would report a parse error on a later line, or a
   * protocol or switch refusal of an earlier line, first.
   */
  gap(code: string, at: number, message: string, hint?: string): UserError {
    const e = this.err(code, at, message, hint);
    GAPS.add(e);
    return e;
  }
  /** The first gap of this line when parsing goes on past it (`deferGap`). */
  gapError: UserError | undefined;
  /**
   * A gap the parser can step over (an MPLS match field, an unmodelled action): with `deferLate`
   * the rest of the line is still parsed, so a later parse error or an empty set of usable
   * protocols on this line wins as it does in OVS; the flow is then refused for the gap.
   */
  deferGap(code: string, at: number, message: string, hint?: string): void {
    const e = this.gap(code, at, message, hint);
    if (!this.deferLate) throw e;
    this.gapError ??= e;
  }
  late(code: string, at: number, message: string, hint?: string): void {
    const e = this.err(code, at, message, hint);
    if (!this.deferLate) throw e;
    this.lateError ??= e;
  }
}



/**
 * Splits `s` into items the way `ofputil_parse_key_value` does: separators are commas and white
 * space; a key ends at `=`, `:`, `(`, a separator or the end; a value runs to the next top-level
 * separator, parentheses balanced.
 */
export function splitItems(s: string, base: number, ctx: Ctx): Item[] {
  const items: Item[] = [];
  let i = 0;
  const n = s.length;
  const isSep = (c: string): boolean => c === ',' || c === ' ' || c === '\t' || c === '\r';
  while (i < n) {
    while (i < n && isSep(s[i]!)) i++;
    if (i >= n) break;
    const at = i;
    while (i < n && !isSep(s[i]!) && s[i] !== '=' && s[i] !== ':' && s[i] !== '(') i++;
    const key = s.slice(at, i);
    if (key === '') throw ctx.err('FLOW_SYNTAX', base + at, `expected a field or action name, found "${s[i]}"`);
    if (i >= n || isSep(s[i]!)) {
      items.push({ key, value: null, at: base + at, valueAt: base + i, paren: false });
      continue;
    }
    const delim = s[i]!;
    i++;
    const vStart = i;
    if (delim === '(') {
      let depth = 1;
      while (i < n && depth > 0) {
        if (s[i] === '(') depth++;
        else if (s[i] === ')') depth--;
        i++;
      }
      if (depth > 0) throw ctx.err('FLOW_SYNTAX', base + at, `unbalanced parentheses after "${key}"`);
      items.push({ key, value: s.slice(vStart, i - 1), at: base + at, valueAt: base + vStart, paren: true });
      continue;
    }
    let depth = 0;
    while (i < n) {
      const c = s[i]!;
      if (c === '(') depth++;
      else if (c === ')') {
        depth--;
        if (depth < 0) throw ctx.err('FLOW_SYNTAX', base + i, 'unbalanced ")"');
      } else if (depth === 0 && isSep(c)) break;
      i++;
    }
    if (depth !== 0) throw ctx.err('FLOW_SYNTAX', base + at, `unbalanced parentheses in "${key}"`);
    items.push({ key, value: s.slice(vStart, i), at: base + at, valueAt: base + vStart, paren: false });
  }
  return items;
}

/**
 * A port as `ofputil_port_from_string` (lib/ofp-port.c) reads it: a base-10 number (no sign, no
 * hex: `0x1` is refused, `01` is 1) below 0xff00 or one of the reserved 0xfff8..0xffff, an
 * OpenFlow 1.1 number 0xffffff00.. (mapped down), a reserved name in any case (`normal`,
 * `LOCAL`), or a port name from `opts.portByName`.
 */
export function parsePortText(s: string, opts: ParseOptions): number | null {
  if (s.startsWith('-')) return null;
  const n = strToUintBase10(s);
  if (n !== null) {
    if (n <= 0xffff) return n;
    if (n < 0xffffff00) return null;
    return n - 0xffff0000;
  }
  switch (s.toUpperCase()) {
    case 'IN_PORT':
      return OFPP_IN_PORT;
    case 'TABLE':
      return OFPP_TABLE;
    case 'NORMAL':
      return OFPP_NORMAL;
    case 'FLOOD':
      return OFPP_FLOOD;
    case 'ALL':
      return OFPP_ALL;
    case 'CONTROLLER':
      return OFPP_CONTROLLER;
    case 'LOCAL':
      return OFPP_LOCAL;
    case 'ANY':
    case 'NONE':
      return OFPP_NONE;
  }
  const name = s.length > 1 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
  return opts.portByName?.(name) ?? null;
}

/**
 * Parses `value[/mask]` of one field into the match words, as `mf_parse` + `mf_set` do
 * (lib/meta-flow.c): `*` and an empty value wildcard the field; integers are read at the field's
 * byte width and then cut to its bits (`dl_vlan=5000` is VID 904, `nw_tos=3` is 0, as OVS
 * does); a mask on a non-maskable field must be all ones or all zeros (`mf_is_mask_valid`).
 */
export function setMatchField(
  fd: FieldDef,
  key: string,
  text: string,
  at: number,
  value: Int32Array,
  mask: Int32Array,
  ctx: Ctx,
  opts: ParseOptions,
): void {
  if (text === '' && fd.kind !== 'port') text = '0/0'; // ofp_parse_field: "match on existence"
  if (text === '*') {
    clearField(fd, value, mask);
    return;
  }
  const slash = text.indexOf('/');
  const vText = slash >= 0 ? text.slice(0, slash) : text;
  const bad = (what = text, why = 'invalid value'): UserError => ctx.err('FLOW_BAD_VALUE', at, `${key}: ${why} "${what}"`);
  if (fd.name === 'tun_flags' && /^[+-]?[a-z]/i.test(text)) {
    // MFS_TNL_FLAGS: `oam`, `+oam`, `-oam` (flow_tun_flag_to_string), as well as numbers.
    const r = parseFlags(text, { 1: 'oam' }, 1);
    if (r === null) throw bad(text, 'bad syntax');
    value[fd.word] = r[0] & r[1];
    mask[fd.word] = r[1];
    return;
  }
  switch (fd.kind) {
    case 'port': {
      const p = parsePortText(text, opts);
      if (p === null) throw ctx.err('FLOW_UNKNOWN_PORT', at, `${text}: invalid or unknown port for ${key}`);
      value[fd.word] = p;
      mask[fd.word] = -1;
      return;
    }
    case 'mac': {
      const v = scanMac(vText);
      if (v === null) throw bad(text, 'invalid Ethernet address');
      let m = 0xffff_ffff_ffff;
      if (slash >= 0) {
        const mm = scanMac(text.slice(slash + 1));
        if (mm === null) throw bad(text, 'invalid Ethernet address');
        m = mm;
      }
      if (!fd.maskable && m !== 0 && m !== 0xffff_ffff_ffff) throw bad(text, 'invalid mask for this field');
      setMacWords(value, fd.word, v);
      setMacWords(mask, fd.word, m);
      return;
    }
    case 'ipv4': {
      const r = scanIpv4Masked(text);
      if (r === 'prefix') throw bad(text, 'IPv4 network prefix bits not between 0 and 32, inclusive:');
      if (r === null) throw bad(text, 'invalid IP address');
      value[fd.word] = r[0];
      mask[fd.word] = r[1];
      return;
    }
    case 'ipv6': {
      const v = parseIpv6Text(vText);
      if (v === null) throw bad(text, 'invalid IPv6 address');
      let m: number[] = [-1, -1, -1, -1];
      if (slash >= 0) {
        const mText = text.slice(slash + 1);
        if (/^\d{1,3}$/.test(mText)) {
          const len = Number(mText);
          if (len > 128) throw ctx.err('FLOW_BAD_VALUE', at + slash + 1, `${key}: prefix length ${len} > 128`);
          m = [0, 1, 2, 3].map((i) => {
            const bits = Math.max(0, Math.min(32, len - 32 * i));
            return bits === 0 ? 0 : (-1 << (32 - bits)) | 0;
          });
        } else {
          const mm = parseIpv6Text(mText);
          if (mm === null) throw bad(text, 'invalid IPv6 address');
          m = mm;
        }
      }
      for (let i = 0; i < 4; i++) {
        value[fd.word + i] = v[i]!;
        mask[fd.word + i] = m[i]!;
      }
      return;
    }
    case 'wide': {
      const r = parseFieldInt(text, fd.nwords * 4);
      if (r === 'range') throw bad(text, `value too large for ${fd.nwords * 4}-byte field`);
      if (r === null) throw bad(text, 'bad syntax');
      setWideWords(fd, r[0] & r[1], r[1], value, mask);
      if (fd.tunMd !== undefined) setPresentBit(fd.tunMd, value, mask);
      return;
    }
    case 'frag': {
      const fr = FRAG_NAMES[text.toLowerCase()];
      if (fr === undefined) throw bad(text, 'unknown fragment type (valid types are "no", "yes", "first", "later", "not_later")');
      value[fd.word] = fr[0];
      mask[fd.word] = fr[1];
      return;
    }
    case 'tcp_flags':
    case 'ct_state': {
      const names = fd.kind === 'tcp_flags' ? TCP_FLAG_NAMES : CT_STATE_NAMES;
      const r = parseFlags(text, names, fd.kind === 'tcp_flags' ? 0x0fff : 0xff);
      if (r === null) throw bad(text, `bad ${key} (flags are ${Object.values(names).join(', ')})`);
      value[fd.word] = r[0] & r[1];
      mask[fd.word] = r[1];
      return;
    }
    case 'int': {
      const r = parseFieldInt(text, fd.bytes);
      if (r === 'range') throw bad(text, `value too large for ${fd.bytes}-byte field`);
      if (r === null) throw bad(text, 'bad syntax');
      const all = (1n << BigInt(fd.bytes * 8)) - 1n;
      let [v, m] = r;
      if (!fd.maskable && m !== all && m !== 0n) throw bad(text, 'invalid mask for this (non-maskable) field');
      if (m === 0n) {
        clearField(fd, value, mask);
        return;
      }
      if (key === 'dl_vlan' && v === 0xffffn) {
        // dl_vlan=0xffff: "no VLAN header" (OFP10_VLAN_NONE) = vlan_tci=0x0000/0xffff.
        value[W_VLAN_TCI] = 0;
        mask[W_VLAN_TCI] = 0xffff;
        return;
      }
      const full = fd.bits >= 32 ? 0xffff_ffff : 2 ** fd.bits - 1;
      // mf_set keeps the field's own bits of the value and mask (match_set_dl_vlan & co.).
      // nw_tos is the whole TOS byte of which only the DSCP bits are matched (match_set_nw_dscp).
      if (fd.name === 'nw_tos') [v, m] = [v >> 2n, m >> 2n];
      let vv = Number(v & BigInt(full));
      // An exact value (mask all ones at the parse width) matches the whole field (mf_set_value).
      const mm = m === all ? full : Number(m & BigInt(full));
      vv &= mm;
      const fieldMask = (full * 2 ** fd.shift) | 0;
      value[fd.word] = (value[fd.word]! & ~fieldMask) | (vv << fd.shift) | fd.extra;
      mask[fd.word] = (mask[fd.word]! & ~fieldMask) | (mm << fd.shift) | fd.extra;
      return;
    }
  }
}

/** OVS `all_frags` (lib/meta-flow.c): name → [value, mask] of nw_frag. */
const FRAG_NAMES: Record<string, [number, number]> = { no: [0, 3], first: [1, 3], later: [3, 3], yes: [1, 1], not_later: [0, 2] };
export const TCP_FLAG_NAMES: Record<number, string> = { 0x1: 'fin', 0x2: 'syn', 0x4: 'rst', 0x8: 'psh', 0x10: 'ack', 0x20: 'urg', 0x40: 'ece', 0x80: 'cwr', 0x100: 'ns' };
export const CT_STATE_NAMES: Record<number, string> = { 0x1: 'new', 0x2: 'est', 0x4: 'rel', 0x8: 'rpl', 0x10: 'inv', 0x20: 'trk', 0x40: 'snat', 0x80: 'dnat' };

/**
 * `parse_flags` (lib/flow.c): `N/M` numbers, `+syn-ack` (set/not set, the others wildcarded), or
 * unmasked `syn|ack` / a number (exact over the allowed bits). Returns [value, mask] or null.
 */
export function parseFlags(s: string, names: Record<number, string>, allowed: number): [number, number] | null {
  const num = /^(0[xX][0-9a-fA-F]+|\d+)\/(0[xX][0-9a-fA-F]+|\d+)$/.exec(s);
  if (num) {
    const v = Number(num[1]);
    const m = Number(num[2]);
    return (v & ~allowed) !== 0 || (m & ~allowed) !== 0 ? null : [v, m];
  }
  const byName = new Map(Object.entries(names).map(([b, n]) => [n, Number(b)]));
  if (s.startsWith('+') || s.startsWith('-')) {
    let v = 0;
    let m = 0;
    const re = /([+-])([a-z]+)/gy;
    let at = 0;
    for (let x = re.exec(s); x !== null; x = re.exec(s)) {
      const bit = byName.get(x[2]!);
      if (bit === undefined || (m & bit) !== 0) return null;
      if (x[1] === '+') v |= bit;
      m |= bit;
      at = re.lastIndex;
    }
    return at === s.length ? [v, m] : null;
  }
  let v = 0;
  for (const part of s.split('|')) {
    const bit = /^(0[xX][0-9a-fA-F]+|\d+)$/.test(part) ? Number(part) : byName.get(part);
    if (bit === undefined || (bit & ~allowed) !== 0) return null;
    v |= bit;
  }
  return [v, allowed];
}

/** Writes a 64/128-bit value and mask into a wide field's words, most significant first. */
export function setWideWords(fd: FieldDef, v: bigint, m: bigint, value: Int32Array, mask: Int32Array): void {
  for (let i = 0; i < fd.nwords; i++) {
    const sh = BigInt(32 * (fd.nwords - 1 - i));
    value[fd.word + i] = Number((v >> sh) & 0xffffffffn) | 0;
    mask[fd.word + i] = Number((m >> sh) & 0xffffffffn) | 0;
  }
}

/** tun_metadata_set_match / tun_metadata_write: naming a tun_metadataN field means "present". */
export function setPresentBit(index: number, value: Int32Array, mask: Int32Array): void {
  const w = W_TUN_MD_PRESENT + (index >> 5);
  const bit = 1 << (index & 31);
  value[w] = value[w]! | bit;
  mask[w] = mask[w]! | bit;
}

/** Wildcards a field (`field=*`, a zero mask). */
function clearField(fd: FieldDef, value: Int32Array, mask: Int32Array): void {
  const n = fd.kind === 'mac' ? 2 : fd.kind === 'ipv6' ? 4 : fd.kind === 'wide' ? fd.nwords : 1;
  if (fd.kind === 'int') {
    const full = fd.bits >= 32 ? 0xffff_ffff : 2 ** fd.bits - 1;
    const fieldMask = ((full * 2 ** fd.shift) | 0) | fd.extra;
    value[fd.word] = value[fd.word]! & ~fieldMask;
    mask[fd.word] = mask[fd.word]! & ~fieldMask;
    return;
  }
  for (let i = 0; i < n; i++) {
    value[fd.word + i] = 0;
    mask[fd.word + i] = 0;
  }
}
