/**
 * The lexical layer shared by the flow parser and the trace-packet parser: ovs-ofctl's
 * `key=value` splitting (`ofputil_parse_key_value`), positioned errors, port names and
 * match-field values (`value[/mask]` for MACs, IPv4/IPv6 with CIDR or masks, integers).
 */
import { UserError } from '../errors.js';
import {
  OFPP_ALL,
  OFPP_CONTROLLER,
  OFPP_FLOOD,
  OFPP_IN_PORT,
  OFPP_LOCAL,
  OFPP_NONE,
  OFPP_NORMAL,
  VLAN_CFI,
  W_VLAN_TCI,
  parseIntText,
  parseIpv4Text,
  parseIpv6Text,
  parseMacText,
  type FieldDef,
} from './fields.js';

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

export function parsePortText(s: string, opts: ParseOptions): number | null {
  const n = parseIntText(s);
  if (n !== null) return n >= 0 && n <= 0xffff ? n : null;
  switch (s.toUpperCase()) {
    case 'LOCAL':
      return OFPP_LOCAL;
    case 'IN_PORT':
      return OFPP_IN_PORT;
    case 'NORMAL':
      return OFPP_NORMAL;
    case 'FLOOD':
      return OFPP_FLOOD;
    case 'ALL':
      return OFPP_ALL;
    case 'CONTROLLER':
      return OFPP_CONTROLLER;
    case 'NONE':
    case 'ANY':
      return OFPP_NONE;
  }
  return opts.portByName?.(s) ?? null;
}

/** Parses `value[/mask]` of one field into the match words. */
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
  const slash = text.indexOf('/');
  const vText = slash >= 0 ? text.slice(0, slash) : text;
  const mText = slash >= 0 ? text.slice(slash + 1) : null;
  const bad = (what = vText): UserError => ctx.err('FLOW_BAD_VALUE', at, `${key}: invalid value "${what}"`);
  if (mText !== null && !fd.maskable) throw ctx.err('FLOW_BAD_VALUE', at + slash, `${key} cannot be masked`);
  switch (fd.kind) {
    case 'port': {
      const p = parsePortText(vText, opts);
      if (p === null) throw ctx.err('FLOW_UNKNOWN_PORT', at, `${key}: unknown port "${vText}"`);
      value[fd.word] = p;
      mask[fd.word] = -1;
      return;
    }
    case 'mac': {
      const v = parseMacText(vText);
      if (v === null) throw bad();
      let m = 0xffff_ffff_ffff;
      if (mText !== null) {
        const mm = parseMacText(mText);
        if (mm === null) throw bad(mText);
        m = mm;
      }
      value[fd.word] = Math.floor(v / 0x1_0000_0000);
      value[fd.word + 1] = v % 0x1_0000_0000;
      mask[fd.word] = Math.floor(m / 0x1_0000_0000);
      mask[fd.word + 1] = m % 0x1_0000_0000;
      return;
    }
    case 'ipv4': {
      const v = parseIpv4Text(vText);
      if (v === null) throw bad();
      let m = -1;
      if (mText !== null) {
        if (/^\d{1,2}$/.test(mText)) {
          const len = Number(mText);
          if (len > 32) throw ctx.err('FLOW_BAD_VALUE', at + slash + 1, `${key}: prefix length ${len} > 32`);
          m = len === 0 ? 0 : (-1 << (32 - len)) | 0;
        } else {
          const mm = parseIpv4Text(mText);
          if (mm === null) throw bad(mText);
          m = mm;
        }
      }
      value[fd.word] = v;
      mask[fd.word] = m;
      return;
    }
    case 'ipv6': {
      const v = parseIpv6Text(vText);
      if (v === null) throw bad();
      let m: number[] = [-1, -1, -1, -1];
      if (mText !== null) {
        if (/^\d{1,3}$/.test(mText)) {
          const len = Number(mText);
          if (len > 128) throw ctx.err('FLOW_BAD_VALUE', at + slash + 1, `${key}: prefix length ${len} > 128`);
          m = [0, 1, 2, 3].map((i) => {
            const bits = Math.max(0, Math.min(32, len - 32 * i));
            return bits === 0 ? 0 : (-1 << (32 - bits)) | 0;
          });
        } else {
          const mm = parseIpv6Text(mText);
          if (mm === null) throw bad(mText);
          m = mm;
        }
      }
      for (let i = 0; i < 4; i++) {
        value[fd.word + i] = v[i]!;
        mask[fd.word + i] = m[i]!;
      }
      return;
    }
    case 'int': {
      let v = parseIntText(vText);
      if (v === null) throw bad();
      const full = fd.bits >= 32 ? 0xffff_ffff : 2 ** fd.bits - 1;
      if (key === 'dl_vlan' && v === 0xffff) {
        // dl_vlan=0xffff: "no VLAN header" (OFP10_VLAN_NONE) = vlan_tci=0x0000/0xffff.
        value[W_VLAN_TCI] = 0;
        mask[W_VLAN_TCI] = 0xffff;
        return;
      }
      if (fd.name === 'nw_tos') {
        // nw_tos takes the whole TOS byte; its two ECN bits are ignored (OVS clears them).
        if (v > 255) throw ctx.err('FLOW_BAD_VALUE', at, `${key}: ${v} is out of range 0..255`);
        value[fd.word] = (value[fd.word]! & ~0xfc) | (v & 0xfc);
        mask[fd.word] = mask[fd.word]! | 0xfc;
        return;
      }
      if (fd.name === 'arp_op' && v > 255) throw ctx.err('FLOW_BAD_VALUE', at, `${key}: ${v} is out of range 0..255`);
      if (v > full) throw ctx.err('FLOW_BAD_VALUE', at, `${key}: ${v} is out of range 0..${full}`);
      let m = full;
      if (mText !== null) {
        const mm = parseIntText(mText);
        if (mm === null || mm > full) throw bad(mText);
        m = mm;
      }
      v = v & m;
      const fieldMask = (full * 2 ** fd.shift) | 0;
      value[fd.word] = (value[fd.word]! & ~fieldMask) | (v << fd.shift) | fd.extra;
      mask[fd.word] = (mask[fd.word]! & ~fieldMask) | (m << fd.shift) | fd.extra;
      if (fd.name === 'vlan_vid' && mText === null && (v & VLAN_CFI) === 0 && v !== 0) {
        throw ctx.err('FLOW_BAD_VALUE', at, `vlan_vid=${v}: OpenFlow 1.2 vlan_vid needs the 0x1000 "present" bit (write ${v | VLAN_CFI} or use dl_vlan=${v})`);
      }
      return;
    }
  }
}

