/**
 * YAML files with positions: parse, validate against a zod schema, and turn every problem into a
 * `UserError` at `file:line:col`.
 *
 * Topology files and QoS policy files both go through here, so a user sees the same kind of
 * message for an unknown key (with a did-you-mean), a wrong type, a bad unit or a dangling
 * reference. Later semantic checks (references, duplicates) keep the `YamlSource` and call
 * `source.error(path, …)` so their messages point at the offending node too.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { showValue, UserError, UserErrors, type SourceLocation } from '../errors.js';
import { nearest } from './nearest.js';
import { checkAliases } from './yaml-aliases.js';

export type YamlPath = ReadonlyArray<string | number>;

export class YamlSource {
  constructor(
    readonly file: string,
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {
    // Every YAML input passes here: aliases, merges and nesting are checked before any toJS().
    const errors = checkAliases(doc, lines, file);
    if (errors.length > 0) throw errors.length === 1 ? errors[0]! : new UserErrors(errors);
  }

  /** Plain JS data of the document. */
  get data(): unknown {
    if (this.cached === undefined) {
      try {
        // aliases were checked (and their expansion bounded) by checkAliases in parseYaml
        this.cached = { v: this.doc.toJS({ maxAliasCount: -1 }) };
      } catch (e) {
        throw new UserError('YAML_INVALID', `cannot read this YAML: ${e instanceof Error ? e.message : String(e)}`, { location: { file: this.file, line: 1, col: 1 } });
      }
    }
    return this.cached.v;
  }
  private cached: { v: unknown } | undefined;

  private pos(offset: number): SourceLocation {
    const p = this.lines.linePos(offset);
    return { file: this.file, line: p.line, col: p.col };
  }

  /**
   * Where `path` is. With `key: true` the position of the mapping key (for "unknown key" errors);
   * otherwise the value. A path that does not exist resolves to its deepest existing ancestor.
   */
  locate(path: YamlPath, opts: { key?: boolean } = {}): SourceLocation {
    let node: unknown = this.doc.contents;
    let best: SourceLocation = node && (node as Node).range ? this.pos((node as Node).range![0]) : { file: this.file, line: 1, col: 1 };
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (!pair) return best;
        if (last && opts.key && isScalar(pair.key) && pair.key.range) return this.pos(pair.key.range[0]);
        node = pair.value;
        const range = (node as Node | null)?.range ?? (isScalar(pair.key) ? pair.key.range : undefined);
        if (range) best = this.pos(range[0]);
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        const range = (node as Node | undefined)?.range;
        if (!range) return best;
        best = this.pos(range[0]);
      } else {
        return best;
      }
    }
    return best;
  }

  /** A user error pointing at `path`. */
  error(code: string, path: YamlPath, message: string, opts: { key?: boolean; hint?: string } = {}): UserError {
    return new UserError(code, message, {
      location: this.locate(path, opts),
      ...(opts.hint ? { hint: opts.hint } : {}),
    });
  }
}

/** Parses YAML text; syntax errors (including duplicate keys) become positioned user errors. */
export function parseYaml(text: string, file: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    throw new UserErrors(
      doc.errors.map((e) => {
        const p = lines.linePos(e.pos[0]);
        return new UserError('YAML_SYNTAX', e.message.split('\n')[0] ?? 'YAML syntax error', {
          location: { file, line: p.line, col: p.col },
        });
      }),
    );
  }
  return new YamlSource(file, doc, lines);
}

/**
 * Validates `source` against `schema`. Every zod issue becomes a user error at the node it names:
 * unknown keys point at the key and suggest the nearest known one.
 */
export function validateYaml<S extends z.ZodType>(source: YamlSource, schema: S, codePrefix = 'TOPOLOGY'): z.output<S> {
  const data = source.data;
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const errors: UserError[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, path, data);
      for (const key of issue.keys) {
        const guess = nearest(key, known);
        errors.push(
          source.error(`${codePrefix}_UNKNOWN_KEY`, [...path, key], `unknown key "${key}"${guess ? `; did you mean "${guess}"?` : ''}`, {
            key: true,
            ...(known.length > 0 && !guess ? { hint: `known keys here: ${known.join(', ')}` } : {}),
          }),
        );
      }
      continue;
    }
    const field = path.length > 0 ? String(path[path.length - 1]) : '(document)';
    let message = issue.message;
    if (issue.code === 'invalid_type') {
      const got = describe(valueAt(data, path));
      message = got === 'missing' ? `missing required field "${field}"` : `"${field}": expected ${issue.expected}, got ${got}`;
    } else if (issue.code === 'invalid_value' && 'values' in issue) {
      message = `"${field}": expected one of ${(issue.values as unknown[]).map((v) => showValue(v)).join(', ')}, got ${showValue(valueAt(data, path))}`;
    } else if (issue.code === 'invalid_union') {
      message = `"${field}": ${issue.message === 'Invalid input' ? `${showValue(valueAt(data, path))} does not fit any accepted form` : issue.message}`;
    } else {
      // Name the offending value unless the message already does ("10Gbt" is not a bit rate …).
      const v = valueAt(data, path);
      const shown = typeof v === 'string' || typeof v === 'number' ? showValue(v) : undefined;
      message = `"${field}": ${issue.message}${shown !== undefined && !issue.message.includes(String(v)) ? ` (got ${shown})` : ''}`;
    }
    errors.push(source.error(`${codePrefix}_INVALID`, path, message));
  }
  errors.sort((a, b) => (a.location!.line - b.location!.line) || (a.location!.col - b.location!.col));
  throw errors.length === 1 ? errors[0]! : new UserErrors(errors);
}

function valueAt(data: unknown, path: YamlPath): unknown {
  let v: unknown = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${showValue(v)}`;
}

/** Best-effort walk of a zod schema along `path` to list the keys an object there accepts. */
export function knownKeysAt(schema: z.ZodType, path: YamlPath, data: unknown): string[] {
  let s: z.ZodType | undefined = schema;
  let d: unknown = data;
  const unwrap = (t: z.ZodType | undefined): z.ZodType | undefined => {
    let cur = t;
    for (let guard = 0; cur && guard < 20; guard++) {
      const def = (cur as unknown as { def: Record<string, unknown> }).def;
      const type = def['type'];
      if (type === 'optional' || type === 'nullable' || type === 'default' || type === 'prefault' || type === 'readonly' || type === 'catch') {
        cur = def['innerType'] as z.ZodType;
      } else if (type === 'pipe') {
        cur = def['in'] as z.ZodType;
      } else if (type === 'lazy') {
        cur = (def['getter'] as () => z.ZodType)();
      } else return cur;
    }
    return cur;
  };
  const keysOf = (t: z.ZodType | undefined, value: unknown): string[] => {
    const u = unwrap(t);
    if (!u) return [];
    const def = (u as unknown as { def: Record<string, unknown> }).def;
    if (def['type'] === 'object') return Object.keys(def['shape'] as object);
    if (def['type'] === 'union') {
      const all = new Set<string>();
      for (const opt of def['options'] as z.ZodType[]) for (const k of keysOf(opt, value)) all.add(k);
      return [...all];
    }
    return [];
  };
  for (const seg of path) {
    const u = unwrap(s);
    if (!u) return [];
    const def = (u as unknown as { def: Record<string, unknown> }).def;
    d = d !== null && typeof d === 'object' ? (d as Record<string | number, unknown>)[seg] : undefined;
    if (def['type'] === 'object') s = (def['shape'] as Record<string, z.ZodType>)[String(seg)];
    else if (def['type'] === 'array') s = def['element'] as z.ZodType;
    else if (def['type'] === 'record') s = def['valueType'] as z.ZodType;
    else if (def['type'] === 'union') {
      // pick the first option that knows this segment
      const opts = def['options'] as z.ZodType[];
      s = undefined;
      for (const o of opts) {
        const od = (unwrap(o) as unknown as { def: Record<string, unknown> } | undefined)?.def;
        if (od?.['type'] === 'object' && String(seg) in (od['shape'] as object)) {
          s = (od['shape'] as Record<string, z.ZodType>)[String(seg)];
          break;
        }
        if (od?.['type'] === 'array' && typeof seg === 'number') {
          s = od['element'] as z.ZodType;
          break;
        }
      }
    } else return [];
  }
  return keysOf(s, d);
}

export { nearest };
