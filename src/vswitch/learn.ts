/**
 * The `learn` action (lib/learn.c `learn_parse__`, `learn_execute`): a flow that adds flows.
 *
 * `learn(table=10, idle_timeout=300, priority=…, cookie=…, hard_timeout=…, fin_idle_timeout=…,
 * fin_hard_timeout=…, send_flow_rem, delete_learned, limit=…, SPEC…)` where each SPEC is
 * - `DST[..]=SRC[..]`: the learned flow matches DST against the current packet's SRC bits;
 * - `DST[..]=VALUE`: it matches DST against an immediate;
 * - `DST[..]`: shorthand for `DST[..]=DST[..]`;
 * - `load:SRC[..]->DST[..]` / `load:VALUE->DST[..]`: the learned flow loads that value;
 * - `output:SRC[..]`: the learned flow outputs to the port held in SRC now.
 *
 * At translation time the specs are evaluated against the packet and the new flow goes through
 * the bridge as learn_execute's OFPFC_MODIFY_STRICT (bridge.ts `learnFlow`): a flow with the same
 * match and identical actions, timeouts, flags and cookie is refreshed (only its hard timer
 * restarts, `ofproto_flow_mod_learn_refresh`), any other is replaced in place keeping its
 * timeouts, flags, creation time and counters (`replace_rule_start`). Learned flows expire in
 * virtual time like any other.
 */
import type { Action } from './actions.js';
import { KEY_WORDS, PREREQ_TEXT, prereqOk, type FieldDef, type Prereq } from './fields.js';
import { Ctx, setMatchField, type ParseOptions } from './flow-syntax.js';
import { canonicalSubfield } from './ofpact-format.js';
import { ovsKeyValues, parseFieldInt, strToU16, strToU64, strToUintBase10 } from './ovs-lex.js';
import { bitPos, copySubfield, fieldBits, formatSubfield, parseSubfield, readSubfield, subfieldWrites, type Subfield } from './subfield.js';

export type LearnSpec =
  | { kind: 'match'; dst: Subfield; src: Subfield | null; imm: bigint }
  | { kind: 'load'; dst: Subfield; src: Subfield | null; imm: bigint }
  | { kind: 'output'; src: Subfield };

export interface LearnAction {
  type: 'learn';
  table: number;
  priority: number;
  idleTimeout: number;
  hardTimeout: number;
  cookie: bigint;
  deleteLearned: boolean;
  /** `send_flow_rem`: learned flows carry the flag (a flow_removed event says so). */
  sendFlowRem?: boolean;
  /** `fin_idle_timeout`, `fin_hard_timeout` (a leading fin_timeout action in the learned flow, recorded, no effect), `limit` (kept for dump-flows, no effect). */
  finIdleTimeout?: number;
  finHardTimeout?: number;
  limit?: number;
  /** `result_dst=SUBFIELD` (one writable bit, OVS 2.8+): set to 1 when the flow was learned. */
  resultDst?: Subfield;
  specs: LearnSpec[];
  text: string;
}

/** The flow a learn action adds for the packet in `w`. */
export interface LearnedFlow {
  table: number;
  priority: number;
  idleTimeout: number;
  hardTimeout: number;
  cookie: bigint;
  value: Int32Array;
  mask: Int32Array;
  actions: Action[];
}

function sub(text: string, ctx: Ctx, at: number): Subfield {
  // A bare field name means the whole field (learn_parse_spec accepts both).
  const sf = parseSubfield(text.includes('[') ? text : `${text}[]`);
  if (typeof sf === 'string') throw ctx.err('FLOW_BAD_VALUE', at, `learn: ${sf}`);
  return sf;
}

function imm(text: string, bits: number, ctx: Ctx, at: number, what: string): bigint {
  const r = parseFieldInt(text, 16);
  if (r === null || r === 'range' || r[1] !== (1n << 128n) - 1n) throw ctx.err('FLOW_BAD_VALUE', at, `learn: ${text}: bad value for ${what}`);
  if (r[0] >> BigInt(bits) !== 0n) throw ctx.err('FLOW_BAD_VALUE', at, `learn: ${text}: value does not fit into ${bits} bits`);
  return r[0];
}

/**
 * A whole field's immediate in its own syntax (`nw_src=10.0.0.1`, `dl_dst=…`): learn_parse_spec
 * reads it with `mf_parse_value` when the destination is a whole field.
 */
function wholeFieldImm(dst: Subfield, text: string): bigint | null {
  if (dst.ofs !== 0 || dst.nBits !== fieldBits(dst.fd)) return null;
  const k = dst.fd.kind;
  if (k !== 'ipv4' && k !== 'ipv6' && k !== 'mac') return null;
  const w = new Int32Array(KEY_WORDS);
  const m = new Int32Array(KEY_WORDS);
  try {
    setMatchField(dst.fd, dst.fd.name, text, 0, w, m, new Ctx('<learn>', 1, 0), {});
  } catch {
    return null;
  }
  return readSubfield(dst, w);
}

/** Parses the text inside `learn(...)`; `at` is its offset in the line. */
export function parseLearn(arg: string, at: number, ctx: Ctx, _opts: ParseOptions, match?: { value: Int32Array; mask: Int32Array }): LearnAction {
  const a: LearnAction = { type: 'learn', table: 1, priority: 32768, idleTimeout: 0, hardTimeout: 0, cookie: 0n, deleteLearned: false, specs: [], text: '' };
  for (const kv of ovsKeyValues(arg, at)) {
    const k = kv.key;
    const u16 = (): number => {
      const v = strToU16(kv.value);
      if (v === null) throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, `learn: invalid ${k} "${kv.value}"`);
      return v;
    };
    switch (k) {
      case 'table': {
        const t = strToUintBase10(kv.value);
        if (t === null || t > 254) throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, `learn: unknown table "${kv.value}"`);
        a.table = t;
        continue;
      }
      case 'priority':
        a.priority = u16();
        continue;
      case 'idle_timeout':
        a.idleTimeout = u16();
        continue;
      case 'hard_timeout':
        a.hardTimeout = u16();
        continue;
      case 'fin_idle_timeout':
        a.finIdleTimeout = u16();
        continue;
      case 'fin_hard_timeout':
        a.finHardTimeout = u16();
        continue;
      case 'limit':
        a.limit = u16();
        continue;
      case 'cookie': {
        const c = strToU64(kv.value);
        if (c === null) throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, `learn: invalid cookie "${kv.value}"`);
        a.cookie = c;
        continue;
      }
      case 'send_flow_rem':
        a.sendFlowRem = true;
        continue;
      case 'delete_learned':
        a.deleteLearned = true;
        continue;
      case 'result_dst': {
        // learn_parse__: a subfield, writable, exactly one bit.
        const d = sub(kv.value, ctx, kv.valueAt);
        if (!d.fd.settable) throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, `${kv.value} is read-only`);
        if (d.nBits !== 1) throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, "result_dst in 'learn' action must be a single bit");
        a.resultDst = d;
        continue;
      }
      case 'load': {
        const arrow = kv.value.indexOf('->');
        if (arrow < 0) throw ctx.err('FLOW_SYNTAX', kv.valueAt, `learn: ${kv.value}: missing \`->'`);
        const dst = sub(kv.value.slice(arrow + 2), ctx, kv.valueAt + arrow + 2);
        const s = kv.value.slice(0, arrow);
        if (/^[0-9]/.test(s)) a.specs.push({ kind: 'load', dst, src: null, imm: imm(s, dst.nBits, ctx, kv.valueAt, dst.text) });
        else {
          const src = sub(s, ctx, kv.valueAt);
          if (src.nBits !== dst.nBits) throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, `learn: ${src.text} and ${dst.text} have different widths`);
          a.specs.push({ kind: 'load', dst, src, imm: 0n });
        }
        continue;
      }
      case 'output':
        a.specs.push({ kind: 'output', src: sub(kv.value, ctx, kv.valueAt) });
        continue;
    }
    const dst = sub(k, ctx, kv.at);
    if (kv.delim === '' || kv.value === '') {
      a.specs.push({ kind: 'match', dst, src: dst, imm: 0n });
    } else if (/^[0-9]/.test(kv.value)) {
      a.specs.push({ kind: 'match', dst, src: null, imm: wholeFieldImm(dst, kv.value) ?? imm(kv.value, dst.nBits, ctx, kv.valueAt, dst.text) });
    } else {
      const src = sub(kv.value, ctx, kv.valueAt);
      if (src.nBits !== dst.nBits) throw ctx.err('FLOW_BAD_VALUE', kv.at, `learn: ${dst.text} and ${src.text} have different widths`);
      a.specs.push({ kind: 'match', dst, src, imm: 0n });
    }
  }
  if (match) learnCheck(a, match.value, match.mask, at, ctx);
  a.text = `learn(${formatLearnArgs(a)})`;
  return a;
}

/**
 * learn_check (lib/learn.c): every source field's prerequisites must be in the flow's match, and
 * every destination's in the learned match as built so far (only immediate values build it:
 * `eth_type=0x800,NXM_OF_IP_SRC[]` passes, `NXM_OF_IP_SRC[]` alone does not).
 * A failure is OFPBAC_MATCH_INCONSISTENT at parse time (ofpacts_check in parse_ofp_str__).
 */
function learnCheck(a: LearnAction, mValue: Int32Array, mMask: Int32Array, at: number, ctx: Ctx): void {
  const need = (fd: FieldDef): Prereq => (fd.name === 'tp_src' || fd.name === 'tp_dst' ? 'tcp' : fd.prereq);
  const dv = new Int32Array(KEY_WORDS);
  const dm = new Int32Array(KEY_WORDS);
  const fail = (sf: Subfield, where: string): never => {
    throw ctx.err('FLOW_PREREQ', at, `actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT): learn: ${formatSubfield(sf)} needs ${PREREQ_TEXT[need(sf.fd)]} in ${where}`);
  };
  for (const s of a.specs) {
    if (s.src && !prereqOk(need(s.src.fd), mValue, mMask)) fail(s.src, 'the match');
    if (s.kind === 'output') continue;
    if (!prereqOk(need(s.dst.fd), dv, dm)) fail(s.dst, 'the learned match before it');
    if (s.kind === 'match' && !s.src) {
      const wr = subfieldWrites(s.dst, s.imm);
      wr.words.forEach((w, j) => {
        dv[w] = (dv[w]! & ~wr.masks[j]!) | wr.values[j]!;
        dm[w] = dm[w]! | wr.masks[j]!;
      });
    }
  }
}

function formatLearnArgs(a: LearnAction): string {
  const parts = [`table=${a.table}`];
  if (a.idleTimeout) parts.push(`idle_timeout=${a.idleTimeout}`);
  if (a.hardTimeout) parts.push(`hard_timeout=${a.hardTimeout}`);
  if (a.priority !== 32768) parts.push(`priority=${a.priority}`);
  if (a.cookie !== 0n) parts.push(`cookie=0x${a.cookie.toString(16)}`);
  if (a.deleteLearned) parts.push('delete_learned');
  // learn_format prints result_dst by its NXM name whatever was written (mf_format_subfield).
  if (a.resultDst) parts.push(`result_dst=${canonicalSubfield(a.resultDst.fd, a.resultDst.ofs, a.resultDst.nBits)}`);
  for (const s of a.specs) {
    if (s.kind === 'output') parts.push(`output:${formatSubfield(s.src)}`);
    else if (s.kind === 'load') parts.push(`load:${s.src ? formatSubfield(s.src) : `0x${s.imm.toString(16)}`}->${formatSubfield(s.dst)}`);
    else if (s.src === s.dst) parts.push(formatSubfield(s.dst));
    else parts.push(`${formatSubfield(s.dst)}=${s.src ? formatSubfield(s.src) : `0x${s.imm.toString(16)}`}`);
  }
  return parts.join(',');
}

/**
 * The cheap half of `learn_execute`, run for every packet: fills `value`/`mask` (zeroed by the
 * caller) with the learned match and returns a signature of the learned actions (the loaded
 * values and output ports), so an identical existing flow can be refreshed without building
 * anything. Number ops only for subfields up to 32 bits. The reference for `LearnProgram`
 * (bridge.ts runs the compiled form; test/vswitch/learn-program.test.ts checks they agree).
 */
export function learnedMatch(a: LearnAction, w: Int32Array, value: Int32Array, mask: Int32Array): string {
  let sig = '';
  for (const s of a.specs) {
    if (s.kind === 'match') {
      if (s.src) copySubfield(s.src, w, s.dst, value, mask);
      else {
        const wr = subfieldWrites(s.dst, s.imm);
        wr.words.forEach((word, j) => {
          value[word] = (value[word]! & ~wr.masks[j]!) | wr.values[j]!;
          mask[word] = mask[word]! | wr.masks[j]!;
        });
      }
    } else if (s.kind === 'output' || s.src) {
      const src = s.kind === 'output' ? s.src : s.src!;
      sig += src.nBits <= 32 && src.fd.kind !== 'mac' ? `${readSmall(src, w)},` : `${readSubfield(src, w)},`;
    } else sig += 'i,';
  }
  return sig;
}

const EMPTY = new Int32Array(0);

function readSmall(sf: Subfield, w: Int32Array): number {
  let v = 0;
  for (let i = sf.nBits - 1; i >= 0; i--) {
    const [word, b] = bitPos(sf.fd, sf.ofs + i);
    v = v * 2 + (word < 0 ? 0 : (w[word]! >>> b) & 1);
  }
  return v;
}

/**
 * A learn action compiled for the per-packet path (`learnProgram`, `runLearnProgram`): what
 * `learnedMatch` computes bit by bit, as a few word operations.
 *
 * The learned match's mask depends only on the specs, not on the packet, so it is computed once.
 * Each bit of it gets its value from the last spec writing that bit (specs apply in order, a later
 * one overwriting an earlier one's bits, as `learnedMatch` does): an immediate bit is a constant,
 * a copied bit comes from one bit of the packet. Copied bits are grouped into *segments*: runs
 * where consecutive destination bits of one word come from consecutive bits of one source word,
 * so a whole `NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[]` is two shifts-and-masks, not 48 bit copies. The
 * signature's values (learned loads and outputs of up to 32 bits) are segments too.
 */
export interface LearnProgram {
  /** The learned match's mask (read-only: learned flows share it). */
  readonly mask: Int32Array;
  /** The words `mask` keeps, ascending, and each one's constant (immediate) bits. */
  readonly words: Int32Array;
  readonly constBits: Int32Array;
  /** Match segments, 5 ints each: source word, source bit, run mask (unshifted), match word, match bit. */
  readonly segs: Int32Array;
  /**
   * One entry per signature item, in spec order: segments (5 ints each as above, the "match word"
   * unused) for a source of up to 32 bits (not a MAC, as learnedMatch), the subfield for a wider
   * one (read as a bigint), or null for an immediate load (`i,`).
   */
  readonly sig: (Int32Array | Subfield | null)[];
  /** Scratch for the match value: only `words` are ever written, the rest stays 0. */
  readonly value: Int32Array;
}

/** Groups (source word, source bit) → (destination word, destination bit) copies into segments. */
function segmentsOf(copies: number[][]): Int32Array {
  const out: number[] = [];
  let last: number[] | null = null;
  let len = 0;
  const flush = (): void => {
    if (last === null) return;
    const [sw, sb, dw, db] = last;
    out.push(sw!, sb! - len + 1, len === 32 ? -1 : (1 << len) - 1, dw!, db! - len + 1);
  };
  for (const c of copies) {
    if (last !== null && c[0] === last[0] && c[1] === last[1]! + 1 && c[2] === last[2] && c[3] === last[3]! + 1) {
      last = c;
      len++;
      continue;
    }
    flush();
    last = c;
    len = 1;
  }
  flush();
  return Int32Array.from(out);
}

/** Compiles `a` (see LearnProgram). */
export function learnProgram(a: LearnAction): LearnProgram {
  // Per match bit (word * 32 + bit): -1 unset, -2 constant 0, -3 constant 1, else the packet bit (word * 32 + bit).
  const from = new Int32Array(KEY_WORDS * 32).fill(-1);
  const sig: (Int32Array | Subfield | null)[] = [];
  for (const s of a.specs) {
    if (s.kind === 'match') {
      for (let i = 0; i < s.dst.nBits; i++) {
        const [dw, db] = bitPos(s.dst.fd, s.dst.ofs + i);
        if (dw < 0) continue; // a bit the field does not store (NXM_OF_IP_TOS's ECN bits): writes dropped
        if (s.src) {
          const [sw, sb] = bitPos(s.src.fd, s.src.ofs + i);
          from[dw * 32 + db] = sw < 0 ? -2 : sw * 32 + sb; // an unstored source bit reads 0
        } else from[dw * 32 + db] = (s.imm >> BigInt(i)) & 1n ? -3 : -2;
      }
    } else if (s.kind === 'output' || s.src) {
      const src = s.kind === 'output' ? s.src : s.src!;
      if (src.nBits <= 32 && src.fd.kind !== 'mac') {
        const copies: number[][] = [];
        for (let i = 0; i < src.nBits; i++) {
          const [sw, sb] = bitPos(src.fd, src.ofs + i);
          if (sw >= 0) copies.push([sw, sb, 0, i]); // an unstored bit reads 0: contributes nothing
        }
        sig.push(segmentsOf(copies));
      } else sig.push(src);
    } else sig.push(null);
  }
  const mask = new Int32Array(KEY_WORDS);
  const words: number[] = [];
  const constBits: number[] = [];
  const copies: number[][] = [];
  for (let dw = 0; dw < KEY_WORDS; dw++) {
    let c = 0;
    for (let db = 0; db < 32; db++) {
      const f = from[dw * 32 + db]!;
      if (f === -1) continue;
      mask[dw] = mask[dw]! | (1 << db);
      if (f === -3) c |= 1 << db;
      else if (f >= 0) copies.push([f >> 5, f & 31, dw, db]);
    }
    if (mask[dw] !== 0) {
      words.push(dw);
      constBits.push(c);
    }
  }
  return { mask, words: Int32Array.from(words), constBits: Int32Array.from(constBits), segs: segmentsOf(copies), sig, value: new Int32Array(KEY_WORDS) };
}

/**
 * Runs `p` for the packet whose key words are `w`: leaves the learned match's (masked) value in
 * `p.value` and returns the same signature `learnedMatch` does.
 */
export function runLearnProgram(p: LearnProgram, w: Int32Array): string {
  const value = p.value;
  const words = p.words;
  const cb = p.constBits;
  for (let j = 0; j < words.length; j++) value[words[j]!] = cb[j]!;
  const segs = p.segs;
  for (let q = 0; q < segs.length; q += 5) {
    const dw = segs[q + 3]!;
    value[dw] = value[dw]! | (((w[segs[q]!]! >>> segs[q + 1]!) & segs[q + 2]!) << segs[q + 4]!);
  }
  let sig = '';
  const items = p.sig;
  for (let i = 0; i < items.length; i++) {
    const it = items[i] ?? null;
    if (it instanceof Int32Array) {
      let n = 0;
      for (let q = 0; q < it.length; q += 5) n |= ((w[it[q]!]! >>> it[q + 1]!) & it[q + 2]!) << it[q + 4]!;
      sig += `${n >>> 0},`;
    } else if (it) sig += `${readSubfield(it, w)},`;
    else sig += 'i,';
  }
  return sig;
}

/**
 * `learn_execute`: the flow `a` adds for the packet whose key words are `w`. `withMatch` false:
 * only the actions (the caller has the match from `learnedMatch`); value and mask stay zero.
 */
export function learnedFlow(a: LearnAction, w: Int32Array, withMatch = true): LearnedFlow {
  const value = withMatch ? new Int32Array(KEY_WORDS) : EMPTY;
  const mask = withMatch ? new Int32Array(KEY_WORDS) : EMPTY;
  const actions: Action[] = [];
  // learn_execute (lib/learn.c) puts a fin_timeout action first when the learn sets either fin
  // timeout (recorded, no effect: vfab's fin_timeout does not shorten timeouts).
  if (a.finIdleTimeout || a.finHardTimeout) actions.push({ type: 'noop', text: formatFinTimeout(a.finIdleTimeout ?? 0, a.finHardTimeout ?? 0) });
  for (const s of a.specs) {
    if (s.kind === 'output') {
      actions.push({ type: 'output', port: Number(readSubfield(s.src, w)) & 0xffff });
      continue;
    }
    if (s.kind === 'match' && (s.src || !withMatch)) {
      if (withMatch) copySubfield(s.src!, w, s.dst, value, mask);
      continue;
    }
    const v = s.src ? readSubfield(s.src, w) : s.imm;
    const wr = subfieldWrites(s.dst, v);
    if (s.kind === 'match') {
      wr.words.forEach((word, j) => {
        value[word] = (value[word]! & ~wr.masks[j]!) | wr.values[j]!;
        mask[word] = mask[word]! | wr.masks[j]!;
      });
    } else {
      actions.push({ type: 'set', field: s.dst.fd, ...wr, of10: false, text: `load:0x${v.toString(16)}->${formatSubfield(s.dst)}` });
    }
  }
  return { table: a.table, priority: a.priority, idleTimeout: a.idleTimeout, hardTimeout: a.hardTimeout, cookie: a.cookie, value, mask, actions };
}

/** A fin_timeout action as OVS's format_FIN_TIMEOUT prints it (lib/ofp-actions.c): zero timeouts left out. */
export function formatFinTimeout(idle: number, hard: number): string {
  const p: string[] = [];
  if (idle) p.push(`idle_timeout=${idle}`);
  if (hard) p.push(`hard_timeout=${hard}`);
  return `fin_timeout(${p.join(',')})`;
}
