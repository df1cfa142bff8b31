/**
 * Paths of a sweep: parameter paths into the base YAML file and metric paths into a run summary.
 *
 * One syntax for both, as users write them in docs and jq:
 *   `vms.vm2.dirty_rate`, `scenario[3].migrate.bandwidth`, `disks["vm1.vda"].policy.iops-total`
 * Segments are separated by `.`; `[N]` indexes a list; `["key"]` (or `['key']`) names a key that
 * holds dots. Metrics may also be RFC 6901 JSON pointers (`/migrations/0/downtime_ns`).
 * In a summary, a name segment on a list picks the element whose `name`, `jobname` or `vm` is that
 * name (`fio.jobs.web.read.iops`), so metrics survive reordering of jobs.
 */
export type PathSeg = string | number;

export class PathSyntaxError extends Error {
  constructor(
    message: string,
    /** 0-based offset in the path text. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Parses `a.b[2]["c.d"]` or `/a/b/2` into segments; throws `PathSyntaxError`. */
export function parsePath(text: string): PathSeg[] {
  if (text.startsWith('/')) {
    // RFC 6901: ~1 is '/', ~0 is '~'; all-digit tokens index lists.
    return text
      .slice(1)
      .split('/')
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((t) => (/^(0|[1-9][0-9]*)$/.test(t) ? Number(t) : t));
  }
  const segs: PathSeg[] = [];
  let i = 0;
  let needName = true;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '[') {
      const q = text[i + 1];
      if (q === '"' || q === "'") {
        // a quoted key ends at its closing quote followed by ']' (it may hold '.', '[' and ']')
        const end = text.indexOf(`${q}]`, i + 2);
        if (end < 0) throw new PathSyntaxError(`unclosed ${q}"]"`, i);
        segs.push(text.slice(i + 2, end));
        i = end + 2;
      } else {
        const close = text.indexOf(']', i);
        if (close < 0) throw new PathSyntaxError('unclosed "["', i);
        const inner = text.slice(i + 1, close);
        if (!/^(0|[1-9][0-9]*)$/.test(inner)) throw new PathSyntaxError(`"[${inner}]" is neither an index nor a quoted key`, i);
        segs.push(Number(inner));
        i = close + 1;
      }
      needName = false;
    } else if (c === '.') {
      if (needName) throw new PathSyntaxError('empty segment', i);
      i++;
      needName = true;
    } else {
      if (!needName) throw new PathSyntaxError(`expected "." or "[" before "${c}"`, i);
      let j = i;
      while (j < text.length && text[j] !== '.' && text[j] !== '[') j++;
      const name = text.slice(i, j);
      if (name.includes(']') || name.includes('"')) throw new PathSyntaxError(`bad character in "${name}"`, i);
      segs.push(name);
      i = j;
      needName = false;
    }
  }
  if (needName) throw new PathSyntaxError(text.length === 0 ? 'empty path' : 'path ends with "."', text.length);
  return segs;
}

/** The canonical text of a path (what `parsePath` reads back to the same segments). */
export function formatPath(segs: readonly PathSeg[]): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[^.[\]"'/][^.[\]"']*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += s.includes('"]') ? `['${s}']` : `["${s}"]`;
  }
  return out;
}

/** Looks up `segs` in plain JSON data (a run summary); undefined when absent. */
export function lookup(data: unknown, segs: readonly PathSeg[]): unknown {
  let v = data;
  for (const s of segs) {
    if (Array.isArray(v)) {
      if (typeof s === 'number' || /^(0|[1-9][0-9]*)$/.test(s)) v = v[Number(s)] as unknown;
      else v = v.find((e) => e !== null && typeof e === 'object' && ['name', 'jobname', 'vm'].some((k) => (e as Record<string, unknown>)[k] === s)) as unknown;
    } else if (v !== null && typeof v === 'object') {
      v = Object.prototype.hasOwnProperty.call(v, s) ? (v as Record<string, unknown>)[String(s)] : undefined;
    } else return undefined;
  }
  return v;
}
