/**
 * fio's number rules (parse.c `str_to_decimal`, `__get_mult_bytes`, `get_mult_time`), reproduced
 * so a job file means in vfab what it means to fio:
 *
 * - sizes: an integer (`strtoll`: `1.5g` is 1 byte, as in fio; `0x` anywhere = hexadecimal), then
 *   a suffix, case-insensitive: `k`/`kb`, `m`/`mb`, `g`, `t`, `p` are powers of `kb_base` (default
 *   1024); `kib`, `mib`, … are the *other* base (1000 with kb_base=1024: fio keeps old scripts'
 *   meaning, "opposite units"). `%` (a share of the file) is refused here.
 * - times: a bare number is seconds for runtime-like options and microseconds for thinktime;
 *   `us`/`usec`, `ms`/`msec`, `s`, `m` (minutes), `h`, `d`; any other letter multiplies by 1 (µs).
 *
 * Values are returned as numbers (bytes, ns) or a message string for the caller to locate.
 */

export type KbBase = 1000 | 1024;

function multBytes(suffix: string, kbBase: KbBase): number | 'percent' {
  // fio cuts the suffix at a separator (: - , /) and lowercases it
  let c = suffix.toLowerCase();
  const sep = c.search(/[:\-,/]/);
  if (sep >= 0) c = c.slice(0, sep);
  const other = kbBase === 1000 ? 1024 : 1000;
  const iec = ['kib', 'mib', 'gib', 'tib', 'pib'];
  for (let i = iec.length - 1; i >= 0; i--) if (c.startsWith(iec[i]!)) return other ** (i + 1);
  const si = ['k', 'm', 'g', 't', 'p'];
  for (let i = si.length - 1; i >= 0; i--) if (c.startsWith(si[i]!)) return kbBase ** (i + 1);
  if (c.startsWith('%')) return 'percent';
  return 1;
}

/** The leading integer as C's strtoll reads it (base 16 when the text holds `0x`); undefined if none. */
function leadingInt(s: string): { n: number; end: number } | undefined {
  const hex = /0x/i.test(s);
  const m = hex ? /^\s*([+-]?)(?:0[xX])?([0-9a-fA-F]+)/.exec(s) : /^\s*([+-]?)([0-9]+)/.exec(s);
  if (!m) return undefined;
  const n = parseInt(m[2]!, hex ? 16 : 10) * (m[1] === '-' ? -1 : 1);
  return { n, end: m[0].length };
}

/** A byte count (`size`, `bs`, `rate`, `offset`) as fio reads it. */
export function fioBytes(text: string, kbBase: KbBase = 1024): number | string {
  const t = text.trim();
  if (t.startsWith('(')) return `"${text}": arithmetic expressions are not supported`;
  const lead = leadingInt(t);
  if (!lead) return `"${text}" is not a number`;
  // get_mult_bytes: skip digits (and a sign before them), then the suffix if it starts with a letter or %
  let p = 0;
  let digit = false;
  while (p < t.length && (/[0-9]/.test(t[p]!) || (!digit && /[+-]/.test(t[p]!)))) {
    digit ||= /[0-9]/.test(t[p]!);
    p++;
  }
  const rest = t.slice(p);
  const mult = /^[A-Za-z%]/.test(rest) ? multBytes(rest, kbBase) : 1;
  if (mult === 'percent') return `"${text}": a percentage of the file is not supported`;
  const v = lead.n * mult;
  if (!Number.isSafeInteger(v) || v < 0) return `"${text}" is out of range`;
  return v;
}

/** A time as fio reads it: ns. `bareSeconds`: a bare number is seconds (else microseconds). */
export function fioTime(text: string, bareSeconds: boolean): number | string {
  const t = text.trim();
  if (t.startsWith('(')) return `"${text}": arithmetic expressions are not supported`;
  const lead = leadingInt(t.replace(/0x/gi, 'x'));
  if (!lead) return `"${text}" is not a number`;
  let p = 0;
  while (p < t.length && /[0-9+-]/.test(t[p]!)) p++;
  const suffix = t.slice(p).toLowerCase();
  let us: number;
  if (!/^[a-z]/.test(suffix)) us = bareSeconds ? 1e6 : 1;
  else if (suffix.startsWith('us')) us = 1;
  else if (suffix.startsWith('ms')) us = 1e3;
  else if (suffix === 's') us = 1e6;
  else if (suffix === 'm') us = 60e6;
  else if (suffix === 'h') us = 3600e6;
  else if (suffix === 'd') us = 86400e6;
  else us = 1;
  const v = lead.n * us * 1000;
  if (!Number.isSafeInteger(v) || v < 0) return `"${text}" is out of range`;
  return v;
}

/** fio booleans (`check_int`): a bare option is 1; else an integer, non-zero = true. */
export function fioBool(value: string | undefined): boolean | string {
  if (value === undefined || value === '') return true;
  const lead = leadingInt(value);
  if (!lead) return `"${value}" is not 0 or 1`;
  return lead.n !== 0;
}

/** An integer option (`iodepth`, `numjobs`). */
export function fioInt(value: string | undefined, min: number, max: number): number | string {
  if (value === undefined) return 'needs a value';
  const v = fioBytes(value, 1024);
  if (typeof v === 'string') return v;
  if (v < min || v > max) return `${v} is out of range [${min}, ${max}]`;
  return v;
}

/** A per-direction list `R[,W[,T]]` (bs, rate, rate_iops): empty entries are undefined; one entry applies to reads and writes. */
export function fioDirList<T>(value: string, one: (s: string) => T | string): [T | undefined, T | undefined] | string {
  const parts = value.split(',');
  if (parts.length > 3) return `"${value}": at most read,write,trim`;
  const out: Array<T | undefined> = [];
  for (const p of parts.slice(0, 2)) {
    if (p.trim() === '') {
      out.push(undefined);
      continue;
    }
    const v = one(p);
    if (typeof v === 'string') return v;
    out.push(v);
  }
  return parts.length === 1 ? [out[0], out[0]] : [out[0], out[1]];
}
