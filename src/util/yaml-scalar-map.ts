/**
 * Where each character of a YAML scalar's value came from in the source text.
 *
 * A flow table written inside a topology (`flows: |`, `flows: >`, `"…"`, `|2`) is parsed from
 * the scalar's value, but its errors must point at the source: for a folded or quoted scalar
 * the value's lines and columns are not the source's (folding joins lines, escapes change
 * widths, `|2` strips a different indentation). Assuming "value line k = source line k, column +
 * indent" put errors lines and columns off (issue 10 #13).
 *
 * `scalarSourceMap` re-reads the scalar's source the way YAML 1.2 does (§7.3 quoted styles with
 * escapes and line folding, §7.3.3 plain, §8.1 block scalars with indentation indicators,
 * folding and chomping), recording for every value character the source offset it came from.
 * The result is checked against the value the yaml library produced: if they differ (a case
 * this reader does not model) it returns undefined and callers fall back to the scalar's start,
 * which is still a correct place, only less precise. Cost: O(length of the scalar).
 */
import { Scalar } from 'yaml';

/** value offset -> source offset; `offsets[value.length]` is the end. */
export type ScalarMap = (valueOffset: number) => number;

export function scalarSourceMap(src: string, node: Scalar, parentIndent: number): ScalarMap | undefined {
  const range = node.range;
  if (!range || typeof node.value !== 'string') return undefined;
  const [start, end] = range;
  let out: { s: string; at: number[] } | undefined;
  switch (node.type) {
    case Scalar.BLOCK_LITERAL:
    case Scalar.BLOCK_FOLDED:
      out = block(src, start, end, node.type === Scalar.BLOCK_FOLDED, parentIndent);
      break;
    case Scalar.QUOTE_DOUBLE:
      out = flow(src, start + 1, end - 1, 'double');
      break;
    case Scalar.QUOTE_SINGLE:
      out = flow(src, start + 1, end - 1, 'single');
      break;
    case Scalar.PLAIN:
      out = flow(src, start, end, 'plain');
      break;
    default:
      return undefined;
  }
  if (!out || out.s !== node.value) return undefined;
  const at = out.at;
  return (i) => at[Math.max(0, Math.min(i, at.length - 1))]!;
}

const ESC: Record<string, string> = {
  '0': '\0', a: '\x07', b: '\b', t: '\t', '\t': '\t', n: '\n', v: '\v', f: '\f', r: '\r', e: '\x1b',
  ' ': ' ', '"': '"', '/': '/', '\\': '\\', N: '\x85', _: '\xa0', L: '\u2028', P: '\u2029',
};

/** Quoted and plain scalars: escapes (double only), `''` (single only), line folding. */
function flow(src: string, a: number, b: number, style: 'double' | 'single' | 'plain'): { s: string; at: number[] } | undefined {
  let s = '';
  const at: number[] = [];
  const put = (c: string, o: number): void => {
    s += c;
    for (let k = 0; k < c.length; k++) at.push(o);
  };
  let i = a;
  while (i < b) {
    const c = src[i]!;
    if (c === '\n' || c === '\r') {
      // line folding: trailing white space before the break is dropped, leading white space after
      // it too; one break becomes a space, n+1 breaks become n newlines (§6.5)
      while (s.length > 0 && (s.endsWith(' ') || s.endsWith('\t')) && at[at.length - 1]! >= lastBreakGuard(src, i)) {
        s = s.slice(0, -1);
        at.pop();
      }
      let breaks = 0;
      let j = i;
      const firstBreak = i;
      while (j < b && (src[j] === '\n' || src[j] === '\r' || src[j] === ' ' || src[j] === '\t')) {
        if (src[j] === '\n') breaks++;
        j++;
      }
      if (breaks <= 1) put(' ', firstBreak);
      else for (let k = 1; k < breaks; k++) put('\n', firstBreak);
      i = j;
      continue;
    }
    if (style === 'double' && c === '\\') {
      const d = src[i + 1];
      if (d === undefined) return undefined;
      if (d === '\n' || d === '\r') {
        // escaped line break: joined without a space, leading white space of the next line dropped
        let j = i + 1;
        if (src[j] === '\r') j++;
        if (src[j] === '\n') j++;
        while (j < b && (src[j] === ' ' || src[j] === '\t')) j++;
        i = j;
        continue;
      }
      const hex = d === 'x' ? 2 : d === 'u' ? 4 : d === 'U' ? 8 : 0;
      if (hex) {
        const h = src.slice(i + 2, i + 2 + hex);
        if (!/^[0-9a-fA-F]+$/.test(h) || h.length !== hex) return undefined;
        put(String.fromCodePoint(parseInt(h, 16)), i);
        i += 2 + hex;
        continue;
      }
      const e = ESC[d];
      if (e === undefined) return undefined;
      put(e, i);
      i += 2;
      continue;
    }
    if (style === 'single' && c === "'" && src[i + 1] === "'") {
      put("'", i);
      i += 2;
      continue;
    }
    put(c, i);
    i++;
  }
  if (style === 'plain') {
    while (s.endsWith(' ') || s.endsWith('\t')) {
      s = s.slice(0, -1);
      at.pop();
    }
  }
  at.push(b);
  return { s, at };
}

/** Offsets at or after this belong to the current source line (for trailing white space). */
function lastBreakGuard(src: string, i: number): number {
  const nl = src.lastIndexOf('\n', i - 1);
  return nl + 1;
}

/** Block scalars (§8.1): header, indentation (auto or explicit), literal or folded, chomping. */
function block(src: string, a: number, b: number, folded: boolean, parentIndent: number): { s: string; at: number[] } | undefined {
  const headerEnd = src.indexOf('\n', a);
  if (headerEnd < 0 || headerEnd >= b) return { s: '', at: [b] };
  const header = src.slice(a + 1, headerEnd).replace(/\s+#.*$/, '').trim();
  const m = /^([1-9])?([+-])?([1-9])?$/.exec(header);
  if (!m) return undefined;
  const explicit = Number(m[1] ?? m[3] ?? 0);
  const chomp = m[2] ?? '';
  // content lines
  const lines: Array<{ start: number; text: string }> = [];
  let p = headerEnd + 1;
  while (p < b) {
    let e = src.indexOf('\n', p);
    if (e < 0 || e > b) e = b;
    lines.push({ start: p, text: src.slice(p, e).replace(/\r$/, '') });
    p = e + 1;
  }
  let indent = explicit ? parentIndent + explicit : 0;
  if (!explicit) {
    const first = lines.find((l) => l.text.trim() !== '');
    indent = first ? first.text.length - first.text.trimStart().length : 0;
  }
  let s = '';
  const at: number[] = [];
  const put = (c: string, o: number): void => {
    s += c;
    at.push(o);
  };
  // body: lines with their indentation removed (empty lines may be shorter)
  const body = lines.map((l) => ({ start: l.start + Math.min(indent, l.text.length), text: l.text.length > indent ? l.text.slice(indent) : '', empty: l.text.trim() === '' && l.text.length <= indent || l.text.trim() === '' }));
  // trailing empty lines are handled by chomping
  let last = body.length - 1;
  while (last >= 0 && body[last]!.empty) last--;
  let prevMore = false;
  let prevContent = false;
  let pendingBreaks: number[] = [];
  for (let k = 0; k <= last; k++) {
    const l = body[k]!;
    if (l.empty && l.text.trim() === '') {
      pendingBreaks.push(l.start);
      continue;
    }
    const more = /^[ \t]/.test(l.text);
    if (prevContent) {
      // the break ending the previous content line, then one per empty line
      const br = pendingBreaks.length;
      if (folded && !more && !prevMore) {
        if (br === 0) put(' ', l.start - 1);
        else for (const o of pendingBreaks) put('\n', o);
      } else {
        put('\n', l.start - 1);
        for (const o of pendingBreaks) put('\n', o);
      }
    } else for (const o of pendingBreaks) put('\n', o);
    pendingBreaks = [];
    for (let c = 0; c < l.text.length; c++) put(l.text[c]!, l.start + c);
    prevContent = true;
    prevMore = more;
  }
  if (prevContent) {
    const endOfLast = body[last]!.start + body[last]!.text.length;
    if (chomp === '') put('\n', endOfLast);
    else if (chomp === '+') {
      put('\n', endOfLast);
      for (let k = last + 1; k < body.length; k++) put('\n', body[k]!.start);
    }
  } else if (chomp === '+') for (const l of body) put('\n', l.start);
  at.push(b);
  return { s, at };
}
