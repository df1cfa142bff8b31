/**
 * fio job files (`job.fio`) as fio 3.x reads them: its own INI dialect, not a generic one
 * (init.c `__parse_jobs_ini`, parse.c `strip_blank_end`, options.c `fio_option_dup_subs`).
 *
 * - A line's leading blanks go; a `;` or `#` anywhere cuts the rest of the line (strip_blank_end
 *   cuts at the first `;`, then at the first `#`); trailing blanks and control characters go.
 *   A line that is then empty is skipped.
 * - `[name]`: a section is everything after `[` with the last character dropped (fio's `sscanf
 *   "[%255[^\n]]"` then `name[strlen-1] = 0`), at most 255 characters. A section whose name starts
 *   with `global` is a global section (fio compares 6 characters).
 * - An option line outside any section is an error ("option <..> outside of [] job section").
 * - `include FILE`: a line starting with `include` pulls FILE's lines into the current section
 *   (FILE as written, else relative to the including file's folder); an included file may not
 *   open sections.
 * - `NAME=VALUE` or a bare `NAME` (booleans such as `time_based`); the name ends at the first `=`
 *   with trailing blanks cut. `${VAR}` in a line is replaced by the environment variable (an
 *   unset one by nothing), as fio does before parsing the option.
 *
 * Pure: includes are read through a callback (the adapter reads files with a size limit).
 * Invariants: never throws anything but `UserError`; every option keeps its file:line:col.
 */
import { UserError } from '../../errors.js';

export interface FioOption {
  name: string;
  /** undefined for a bare option (`time_based`). */
  value: string | undefined;
  file: string;
  line: number;
  /** Column of the option name (1-based). */
  col: number;
}

export interface FioSection {
  name: string;
  global: boolean;
  file: string;
  line: number;
  options: FioOption[];
}

export interface FioIniOptions {
  /** Reads an included file: `path` as written and the including file's name; returns its text and name. */
  readInclude?: (path: string, from: string) => { text: string; file: string };
  /** Environment for `${VAR}` (default: none set). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Include depth limit (fio has none; a file including itself would loop). */
  maxDepth?: number;
}

/** fio's OPT_LEN_MAX: a longer line is read in pieces by fgets; vfab refuses it instead. */
export const FIO_LINE_MAX = 8192;

/** C's isspace || iscntrl. */
const isBlank = (c: string): boolean => /\s/.test(c) || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f;

/** strip_blank_end: cut at the first `;`, then at the first `#`, then trailing blanks. */
function stripEnd(s: string): string {
  let t = s;
  const semi = t.indexOf(';');
  if (semi >= 0) t = t.slice(0, semi);
  const hash = t.indexOf('#');
  if (hash >= 0) t = t.slice(0, hash);
  let e = t.length;
  while (e > 0 && isBlank(t[e - 1]!)) e--;
  return t.slice(0, e);
}

/** options.c fio_option_dup_subs: `${VAR}` → the variable's value (unset: empty). */
export function substEnv(s: string, env: Readonly<Record<string, string | undefined>>): string {
  return s.replace(/\$\{([^}]+)\}/g, (_m, name: string) => env[name] ?? '');
}

function fail(file: string, line: number, col: number, msg: string): UserError {
  return new UserError('FIO_PARSE', msg, { location: { file, line, col } });
}

/** Parses a job file's text into sections of located options. */
export function parseFioIni(text: string, file = 'job.fio', opts: FioIniOptions = {}): FioSection[] {
  const sections: FioSection[] = [];
  const env = opts.env ?? {};
  const maxDepth = opts.maxDepth ?? 16;
  let current: FioSection | undefined;

  const lines = (src: string, name: string, depth: number): void => {
    const all = src.split('\n');
    for (let i = 0; i < all.length; i++) {
      const raw = all[i]!;
      const lineNo = i + 1;
      if (raw.length > FIO_LINE_MAX) throw fail(name, lineNo, 1, `line is longer than ${FIO_LINE_MAX} characters (fio's OPT_LEN_MAX)`);
      let lead = 0;
      while (lead < raw.length && /\s/.test(raw[lead]!)) lead++;
      const p = stripEnd(raw.slice(lead));
      if (p === '') continue;
      const col = lead + 1;
      if (p[0] === '[') {
        if (depth > 0) throw fail(name, lineNo, col, 'no new sections in included files (fio: "No new sections in included files")');
        // fio: everything after '[' minus its last character
        const secName = p.slice(1, -1);
        if (p.length < 2 || secName === '') throw fail(name, lineNo, col, `section header "${p}" has no name`);
        if (secName.length > 255) throw fail(name, lineNo, col, 'section name is longer than 255 characters');
        current = { name: secName, global: secName.startsWith('global'), file: name, line: lineNo, options: [] };
        sections.push(current);
        continue;
      }
      if (!current) throw fail(name, lineNo, col, `option <${p}> outside of [] job section`);
      if (p.startsWith('include')) {
        const target = p.slice('include'.length + 1);
        if (target === '') throw fail(name, lineNo, col, '"include" needs a file name');
        if (!opts.readInclude) throw fail(name, lineNo, col, 'include files cannot be read here');
        if (depth + 1 > maxDepth) throw fail(name, lineNo, col, `includes nested deeper than ${maxDepth} (an include loop?)`);
        let inc: { text: string; file: string };
        try {
          inc = opts.readInclude(target, name);
        } catch (e) {
          if (e instanceof UserError && e.location === undefined) throw fail(name, lineNo, col + 8, `include "${target}": ${e.message}`);
          throw e;
        }
        lines(inc.text, inc.file, depth + 1);
        continue;
      }
      const line = substEnv(p, env);
      const eq = line.indexOf('=');
      let optName: string;
      let value: string | undefined;
      if (eq >= 0) {
        optName = stripEnd(line.slice(0, eq));
        value = line.slice(eq + 1).trim();
      } else optName = line;
      if (optName === '') throw fail(name, lineNo, col, `option "${line}" has no name`);
      current.options.push({ name: optName, value, file: name, line: lineNo, col });
    }
  };
  lines(text, file, 0);
  return sections;
}
