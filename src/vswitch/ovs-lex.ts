/**
 * ovs-ofctl's lexical rules, reproduced exactly (Open vSwitch 3.1), for the flow parser:
 *
 * - lines: `ds_get_preprocessed_line` (lib/dynamic-string.c) cuts everything from the first `#`
 *   and skips a line that is then only spaces, tabs and newlines. A lone `\r` (a blank CRLF line)
 *   is NOT blank to OVS and fails as "must specify an action"; a `\r` at the end of a flow is a
 *   separator and harmless.
 * - the actions: `ofp_extract_actions` (lib/ofp-parse.c) finds the first `action` substring
 *   (case-sensitive) anywhere in the line, cuts the match there, and the actions start after the
 *   next `=`: so `action=`, `actions =`, and even `in_port=1actions=drop` are all accepted.
 * - items: `ofputil_parse_key_value`: separators `, \t\r\n`; a key ends at `:=(` or a separator;
 *   a `:`/`=` value runs to the next separator outside parentheses, a `(` value to its `)`; an
 *   unclosed `(` just runs to the end (no error); `(x)->y` keeps the `->y`.
 * - numbers: C `strtoll`/`strtoull` with base 0 (so `010` is octal 8, `08` is refused, `+5` is
 *   5) for priority/timeouts/cookie; base 10 only for table and port numbers; `parse_int_string`
 *   (lib/util.c) for match fields: `0x…` hex of any length whose significant digits fit the
 *   field's bytes, else strtoull base 0 that must fit them.
 *
 * Every function here is pure and never throws; callers turn a null into a located UserError.
 */

/** One `key[=|:|(]value` item. `value` is '' when there is none (OVS passes an empty string). */
export interface KeyValue {
  key: string;
  value: string;
  /** The character that ended the key: '=', ':', '(' or '' (a separator or the end). */
  delim: '' | '=' | ':' | '(';
  /** 0-based offsets (plus the caller's base) of the key and of the value. */
  at: number;
  valueAt: number;
}

const SEPS = ', \t\r\n';
const KEY_END = ':=(, \t\r\n';

/** `parse_value` (lib/ofp-parse.c): length of a value up to a delimiter, parentheses nested. */
function parseValue(s: string, from: number, delims: string): number {
  let n = from;
  while (n < s.length && !delims.includes(s[n]!)) {
    if (s[n] === '(') {
      let level = 0;
      do {
        if (n >= s.length) return n - from;
        if (s[n] === '(') level++;
        else if (s[n] === ')') level--;
        n++;
      } while (level > 0);
    } else n++;
  }
  return n - from;
}

/** Splits `s` like repeated `ofputil_parse_key_value` calls. Offsets are `base` + index. */
export function ovsKeyValues(s: string, base = 0): KeyValue[] {
  const out: KeyValue[] = [];
  let i = 0;
  const n = s.length;
  for (;;) {
    while (i < n && SEPS.includes(s[i]!)) i++;
    if (i >= n) return out;
    const at = i;
    while (i < n && !KEY_END.includes(s[i]!)) i++;
    const key = s.slice(at, i);
    const d = i < n ? s[i]! : '';
    if (i < n) i++;
    if (d !== '=' && d !== ':' && d !== '(') {
      out.push({ key, value: '', delim: '', at: base + at, valueAt: base + i });
      continue;
    }
    const vStart = i;
    let len = parseValue(s, vStart, d === '(' ? ')' : SEPS);
    if (d === '(' && s[vStart + len] === ')' && s[vStart + len + 1] === '-' && s[vStart + len + 2] === '>') {
      len += parseValue(s, vStart + len, SEPS);
    }
    const value = s.slice(vStart, vStart + len);
    i = vStart + len + (vStart + len < n ? 1 : 0);
    out.push({ key, value, delim: d, at: base + at, valueAt: base + vStart });
  }
}

/** Splits a file into the lines ovs-ofctl parses: [1-based line number, text without comment]. */
export function preprocessedLines(text: string): [number, string][] {
  const out: [number, string][] = [];
  const lines = text.split('\n');
  // A file ending in '\n' has no extra empty line (ds_get_line returns EOF there).
  const last = lines.length - (lines[lines.length - 1] === '' ? 1 : 0);
  for (let i = 0; i < last; i++) {
    let line = lines[i]!;
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    if (/[^ \t\n]/.test(line)) out.push([i + 1, line]);
  }
  return out;
}

/** `ofp_extract_actions`: [match part, actions text, offset of the actions text] or null. */
export function extractActions(line: string): { match: string; actions: string; actionsAt: number; keyAt: number } | null {
  const a = line.indexOf('action');
  if (a < 0) return null;
  const eq = line.indexOf('=', a + 1);
  if (eq < 0) return null;
  return { match: line.slice(0, a), actions: line.slice(eq + 1), actionsAt: eq + 1, keyAt: a };
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
const U64 = (1n << 64n) - 1n;

/**
 * C `strtoull`/`strtoll` prefix scan: white space, a sign, then base 0 (`0x` hex, `0` octal,
 * else decimal) or base 10. Returns the value (sign applied, not wrapped), where the digits end,
 * and whether any digit was read.
 */
export function cScanInt(s: string, base: 0 | 10): { value: bigint; end: number; any: boolean } {
  let i = 0;
  while (isSpace(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  let radix = 10;
  if (base === 0 && s[i] === '0') {
    if ((s[i + 1] === 'x' || s[i + 1] === 'X') && /[0-9a-fA-F]/.test(s[i + 2] ?? '')) {
      radix = 16;
      i += 2;
    } else radix = 8;
  }
  const digit = radix === 16 ? /[0-9a-fA-F]/ : radix === 8 ? /[0-7]/ : /[0-9]/;
  const start = i;
  let v = 0n;
  while (i < s.length && digit.test(s[i]!)) {
    v = v * BigInt(radix) + BigInt(parseInt(s[i]!, 16));
    i++;
  }
  if (i === start) return { value: 0n, end: 0, any: false };
  return { value: neg ? -v : v, end: i, any: true };
}

/** `str_to_u16` (priority, timeouts, importance): strtoll base 0, whole string, 0..65535. */
export function strToU16(s: string): number | null {
  const r = cScanInt(s, 0);
  if (!r.any || r.end !== s.length || r.value < 0n || r.value > 65535n) return null;
  return Number(r.value);
}

/** `str_to_u64` (cookie): strtoull base 0, whole string; a negative value wraps as in C. */
export function strToU64(s: string): bigint | null {
  const r = cScanInt(s, 0);
  if (s === '' || !r.any || r.end !== s.length) return null;
  const mag = r.value < 0n ? -r.value : r.value;
  if (mag > U64) return null; // ERANGE
  return r.value < 0n ? (U64 + 1n + r.value) & U64 : r.value;
}

/** `str_to_uint(s, 10)`: strtoll base 10, whole string, 0..UINT_MAX. */
export function strToUintBase10(s: string): number | null {
  const r = cScanInt(s, 10);
  if (!r.any || r.end !== s.length || r.value < 0n || r.value > 0xffff_ffffn) return null;
  return Number(r.value);
}

/**
 * `parse_int_string` for a field of `bytes` bytes, then `mf_from_integer_string`'s `/mask`.
 * Returns [value, mask] (mask all ones when absent), 'range' when a number is too large for the
 * field, or null for bad syntax.
 */
export function parseFieldInt(s: string, bytes: number): [bigint, bigint] | 'range' | null {
  const one = (t: string): { v: bigint; rest: string } | 'range' | null => {
    const width = BigInt(bytes * 8);
    if (t.startsWith('0x') || t.startsWith('0X')) {
      let i = 2;
      let digits = 0;
      let v = 0n;
      for (;;) {
        while (i < t.length && ' \t\r\n'.includes(t[i]!)) i++;
        if (i >= t.length || !/[0-9a-fA-F]/.test(t[i]!)) break;
        const h = parseInt(t[i]!, 16);
        if (h !== 0 || digits > 0) {
          if (Math.ceil((digits + 1) / 2) > bytes) return 'range';
          digits++;
        }
        v = v * 16n + BigInt(h);
        i++;
      }
      return { v, rest: t.slice(i) };
    }
    const r = cScanInt(t, 0);
    if (!r.any) return null;
    const mag = r.value < 0n ? -r.value : r.value;
    if (mag > U64) return 'range';
    const v = r.value < 0n ? (U64 + 1n + r.value) & U64 : r.value;
    if (v >> width !== 0n) return 'range';
    return { v, rest: t.slice(r.end) };
  };
  const a = one(s);
  if (a === null || a === 'range') return a;
  const all = (1n << BigInt(bytes * 8)) - 1n;
  if (a.rest === '') return [a.v, all];
  if (!a.rest.startsWith('/')) return null;
  const b = one(a.rest.slice(1));
  if (b === null || b === 'range') return b;
  if (b.rest !== '') return null;
  return [a.v, b.v];
}

/** `ETH_ADDR_SCAN_FMT` via ovs_scan: six `%hhx` groups split by ':'; a group keeps its low byte. */
export function scanMac(s: string): number | null {
  const g = s.split(':');
  if (g.length !== 6) return null;
  let v = 0;
  for (const x of g) {
    if (!/^[0-9a-fA-F]+$/.test(x)) return null;
    v = v * 256 + (parseInt(x.slice(-2), 16) & 0xff);
  }
  return v;
}

/**
 * `ip_parse_masked` (lib/packets.c): `IP_SCAN_FMT` is four `%hhu` (decimal, each kept mod 256,
 * so `010` is 10 and `256` is 0), then optionally `/a.b.c.d` or `/prefix`. Returns [ip, mask],
 * 'prefix' for a prefix outside 0..32, or null.
 */
export function scanIpv4Masked(s: string): [number, number] | 'prefix' | null {
  const ip = (t: string): number | null => {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
    if (!m) return null;
    let v = 0;
    for (let i = 1; i <= 4; i++) v = v * 256 + (Number(BigInt(m[i]!) & 0xffn));
    return v | 0;
  };
  const slash = s.indexOf('/');
  const a = ip(slash < 0 ? s : s.slice(0, slash));
  if (a === null) return null;
  if (slash < 0) return [a, -1];
  const mt = s.slice(slash + 1);
  const m = ip(mt);
  if (m !== null) return [a, m];
  if (!/^[+-]?\d+$/.test(mt)) return null;
  const len = Number(mt);
  if (len < 0 || len > 32) return 'prefix';
  return [a, len === 0 ? 0 : (-1 << (32 - len)) | 0];
}
