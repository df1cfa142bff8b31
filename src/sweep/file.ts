/**
 * Sweep files (`*.sweep.yaml`): a base topology or QoS file, parameters as paths into it, seeds,
 * a mode, metrics and expectations. Loading validates everything a run would reject later, at
 * the place in the sweep file that causes it:
 *   - schema problems (zod, through util/yaml-source): `file:line:col`, did-you-mean for keys;
 *   - a parameter path that is not in the base file: at the parameter key, did-you-mean among
 *     the keys that exist there (and those the base file's schema accepts);
 *   - a value the base file's loader rejects (wrong type, bad unit): at that value in the sweep
 *     file, with the loader's own message.
 * The result is a `SweepPlan`: every point (combination x seed) with its resolved base text.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { isMap, isScalar, isSeq, type Document } from 'yaml';
import { z } from 'zod';
import { FabricError, UserError, UserErrors, errnoCode, errorMessage } from '../errors.js';
import { Prng } from '../sim/index.js';
import { topologySchema } from '../topology/schema.js';
import { qosFileSchema } from '../qos/file.js';
import { nearest } from '../util/nearest.js';
import { knownKeysAt, parseYaml, validateYaml, type YamlSource } from '../util/yaml-source.js';
import { parseExpect, type SweepExpect } from './expect.js';
import { PathSyntaxError, formatPath, parsePath, type PathSeg } from './path.js';
import { loadBase, type BaseKind } from './point.js';

/** Sweep files and base files are read with this limit (bytes). */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** A sweep may not expand to more points than this (combinations x seeds). */
export const MAX_POINTS = 100_000;

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const range = z.strictObject({
  from: z.number(),
  to: z.number(),
  step: z.number().positive().optional(),
  /** multiply by this factor each step (log steps): `{from: 1, to: 1024, factor: 2}` */
  factor: z.number().gt(1).optional(),
  /** this many points spaced evenly on a log scale, ends included */
  log_steps: z.number().int().min(2).optional(),
  /** appended to each value: `{from: 100, to: 500, step: 100, unit: MiB}` gives "100MiB" … */
  unit: z.string().optional(),
});
const paramValues = z.union([z.array(scalar).min(1), range, scalar]);

export const sweepSchema = z.strictObject({
  base: z.string(),
  parameters: z.record(z.string(), paramValues).optional(),
  seeds: z.union([z.string(), z.number().int().min(0), z.array(z.number().int().min(0)).min(1)]).optional(),
  mode: z.string().optional(),
  /** seed of `random(N)` sampling (not of the runs) */
  sample_seed: z.number().int().min(0).optional(),
  /** simulated time per run (topologies): overrides the base file's duration */
  until: z.string().optional(),
  metrics: z.record(z.string(), z.string()).optional(),
  expect: z.array(z.string()).optional(),
});

export type ParamValue = string | number | boolean;

export interface SweepParam {
  path: string;
  segs: PathSeg[];
  values: ParamValue[];
}

export interface SweepPoint {
  /** 0-based, in the sweep's stable order (combination-major, seed-minor). */
  index: number;
  /** 0-based combination (points differing only by seed share it). */
  combo: number;
  params: Record<string, ParamValue>;
  seed: number;
  /** The base file with the parameters applied. */
  text: string;
}

export interface SweepPlan {
  file: string;
  kind: BaseKind;
  /** Path of the base file (anchors its relative paths). */
  basePath: string;
  params: SweepParam[];
  seeds: number[];
  mode: string;
  metrics: Array<{ name: string; path: string; segs: PathSeg[] }>;
  expects: SweepExpect[];
  untilNs: number | undefined;
  points: SweepPoint[];
  /** Hash of the sweep's identity (base text, parameters, seeds): names BullMQ flows. */
  id: string;
}

export function readLimited(path: string, what: string): string {
  try {
    const st = statSync(path);
    if (st.size > MAX_FILE_BYTES) throw new UserError('SWEEP_READ', `${what} ${path} is ${st.size} bytes; the limit is ${MAX_FILE_BYTES}`, { where: path });
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof FabricError) throw e;
    const code = errnoCode(e);
    throw new UserError('SWEEP_READ', `cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : errorMessage(e)}`, { where: path });
  }
}

export function loadSweepFile(path: string): SweepPlan {
  return loadSweepText(readLimited(path, 'sweep file'), path);
}

export function loadSweepText(text: string, file: string): SweepPlan {
  const source = parseYaml(text, file);
  if (source.doc.contents === null) throw new UserError('SWEEP_EMPTY', 'the sweep file is empty', { location: { file, line: 1, col: 1 } });
  const doc = validateYaml(source, sweepSchema, 'SWEEP');
  const basePath = isAbsolute(doc.base) ? doc.base : join(dirname(file), doc.base);
  const kind: BaseKind = /\.qos\.ya?ml$/i.test(basePath) ? 'qos' : 'topology';
  let baseText: string;
  try {
    baseText = readLimited(basePath, 'base file');
  } catch (e) {
    if (e instanceof UserError) throw source.error('SWEEP_BASE', ['base'], e.message);
    throw e;
  }
  // The base must load on its own: its own errors are its own file's.
  loadBase(kind, baseText, basePath);
  const base = parseYaml(baseText, basePath);
  const baseSchema = kind === 'qos' ? qosFileSchema : topologySchema;

  const errors: UserError[] = [];
  const params: SweepParam[] = [];
  for (const [p, spec] of Object.entries(doc.parameters ?? {})) {
    let segs: PathSeg[];
    try {
      segs = parsePath(p);
    } catch (e) {
      if (!(e instanceof PathSyntaxError)) throw e;
      errors.push(source.error('SWEEP_BAD_PATH', ['parameters', p], `parameter "${p}": ${e.message} at offset ${e.offset}`, { key: true }));
      continue;
    }
    const missing = checkPath(base, segs, baseSchema);
    if (missing) {
      errors.push(source.error('SWEEP_NO_SUCH_PATH', ['parameters', p], `parameter "${p}": ${missing} in ${basePath}`, { key: true }));
      continue;
    }
    let values: ParamValue[];
    try {
      values = expandValues(spec);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      errors.push(source.error('SWEEP_INVALID', ['parameters', p], `parameter "${p}": ${e.message}`));
      continue;
    }
    // Every value must be acceptable to the base file's own loader on its own.
    values.forEach((v, i) => {
      try {
        loadBase(kind, applyParams(base.doc, [{ segs, value: v }]), basePath);
      } catch (e) {
        if (!(e instanceof FabricError) || !(e instanceof UserError || e instanceof UserErrors)) throw e;
        const at = Array.isArray(spec) ? ['parameters', p, i] : ['parameters', p];
        errors.push(source.error('SWEEP_BAD_VALUE', at, `parameter "${p}" = ${JSON.stringify(v)} is rejected by the base file: ${firstMessage(e)}`));
      }
    });
    params.push({ path: p, segs, values });
  }

  const seeds = parseSeeds(doc.seeds, source, errors);
  const modeText = doc.mode ?? 'grid';
  const mode = /^(grid|zip)$/.exec(modeText) ?? /^random\((\d+)\)$/.exec(modeText);
  if (!mode) errors.push(source.error('SWEEP_INVALID', ['mode'], `"mode": expected grid, zip or random(N), got ${JSON.stringify(modeText)}`));
  if (modeText === 'zip' && new Set(params.map((q) => q.values.length)).size > 1) {
    errors.push(source.error('SWEEP_INVALID', ['mode'], `zip needs parameters of equal length; got ${params.map((q) => `${q.path}: ${q.values.length}`).join(', ')}`));
  }
  const metrics: SweepPlan['metrics'] = [];
  for (const [name, p] of Object.entries(doc.metrics ?? {})) {
    try {
      metrics.push({ name, path: p, segs: parsePath(p) });
    } catch (e) {
      if (!(e instanceof PathSyntaxError)) throw e;
      errors.push(source.error('SWEEP_BAD_PATH', ['metrics', name], `metric "${name}": ${e.message} at offset ${e.offset}`));
    }
  }
  const expects: SweepExpect[] = [];
  (doc.expect ?? []).forEach((t, i) => {
    try {
      expects.push(parseExpect(t, metrics.map((m) => m.name)));
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      errors.push(source.error('SWEEP_BAD_EXPECT', ['expect', i], `expectation "${t}": ${e.message}`));
    }
  });
  let untilNs: number | undefined;
  if (doc.until !== undefined) {
    const m = /^(\d+(?:\.\d+)?)\s*(ns|us|ms|s)$/.exec(doc.until);
    if (!m) errors.push(source.error('SWEEP_INVALID', ['until'], `"until": expected a duration like 2s or 500ms, got ${JSON.stringify(doc.until)}`));
    else untilNs = Math.round(Number(m[1]) * { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[m[2] as 'ns' | 'us' | 'ms' | 's']);
  }
  if (errors.length > 0) {
    errors.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0));
    throw errors.length === 1 ? errors[0]! : new UserErrors(errors);
  }

  const combos = combinations(params, modeText, doc.sample_seed ?? 1);
  if (combos.length * seeds.length > MAX_POINTS) {
    throw source.error('SWEEP_TOO_BIG', ['parameters'], `the sweep has ${combos.length * seeds.length} points; the limit is ${MAX_POINTS}`);
  }
  const points: SweepPoint[] = [];
  combos.forEach((combo, c) => {
    const text = applyParams(base.doc, params.map((q, i) => ({ segs: q.segs, value: combo[i]! })));
    const named = Object.fromEntries(params.map((q, i) => [q.path, combo[i]!]));
    for (const seed of seeds) points.push({ index: points.length, combo: c, params: named, seed, text });
  });
  const id = createHash('sha256')
    .update(JSON.stringify([kind, baseText, params.map((q) => [q.path, q.values]), seeds, modeText, doc.sample_seed ?? 1, untilNs ?? null]))
    .digest('hex')
    .slice(0, 16);
  return { file, kind, basePath, params, seeds, mode: modeText, metrics, expects, untilNs, points, id };
}

function firstMessage(e: UserError | UserErrors): string {
  const one = e instanceof UserErrors ? e.errors[0] : e;
  if (!one) return e.message;
  const loc = one.location ? ` (${one.location.file}:${one.location.line}:${one.location.col} after substitution)` : '';
  return `${one.message}${loc}`;
}

/** Why `segs` is not a place in `base` (undefined when it is). The last key may be absent if the schema accepts it. */
function checkPath(base: YamlSource, segs: readonly PathSeg[], schema: z.ZodType): string | undefined {
  let node: unknown = base.doc.contents;
  const data = base.data;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const here = formatPath(segs.slice(0, i)) || '(top level)';
    if (isMap(node)) {
      const keys = node.items.map((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)));
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) {
        const known = knownKeysAt(schema, segs.slice(0, i), data);
        if (i === segs.length - 1 && known.includes(String(seg))) return undefined;
        const guess = nearest(String(seg), [...new Set([...keys, ...known])]);
        return `no "${String(seg)}" under ${here}${guess ? `; did you mean "${guess}"?` : keys.length ? ` (there: ${keys.join(', ')})` : ''}`;
      }
      node = pair.value;
    } else if (isSeq(node)) {
      if (typeof seg !== 'number') return `${here} is a list: index it with [N], not "${seg}"`;
      if (seg >= node.items.length) return `${here} has ${node.items.length} items; [${seg}] is out of range`;
      node = node.items[seg];
    } else {
      return `${here} is a scalar; it has no "${String(seg)}"`;
    }
  }
  return undefined;
}

/** The base document with `sets` applied, as YAML text (the document itself is not changed). */
export function applyParams(doc: Document.Parsed, sets: ReadonlyArray<{ segs: readonly PathSeg[]; value: ParamValue }>): string {
  const copy = doc.clone();
  for (const s of sets) copy.setIn(s.segs, s.value);
  return copy.toString();
}

function expandValues(spec: z.output<typeof paramValues>): ParamValue[] {
  if (Array.isArray(spec)) return spec;
  if (typeof spec !== 'object') return [spec];
  const { from, to, step, factor, log_steps: logSteps, unit } = spec;
  const given = [step, factor, logSteps].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UserError('SWEEP_INVALID', 'a range needs exactly one of step, factor, log_steps');
  const out: number[] = [];
  if (step !== undefined) {
    const n = Math.floor((to - from) / step + 1e-9);
    for (let i = 0; i <= n && out.length <= MAX_POINTS; i++) out.push(round(from + i * step));
  } else if (factor !== undefined) {
    if (from <= 0) throw new UserError('SWEEP_INVALID', 'a range with factor needs from > 0');
    for (let v = from; v <= to * (1 + 1e-9) && out.length <= MAX_POINTS; v *= factor) out.push(round(v));
  } else if (logSteps !== undefined) {
    if (from <= 0 || to <= 0) throw new UserError('SWEEP_INVALID', 'a range with log_steps needs from and to > 0');
    for (let i = 0; i < logSteps; i++) out.push(round(from * Math.pow(to / from, i / (logSteps - 1))));
  }
  if (out.length === 0) throw new UserError('SWEEP_INVALID', `the range from ${from} to ${to} is empty`);
  if (out.length > MAX_POINTS) throw new UserError('SWEEP_INVALID', `the range has more than ${MAX_POINTS} values`);
  return unit === undefined ? out : out.map((v) => `${v}${unit}`);
}

/** Rounds away binary noise (0.1 + 0.2) so values print and hash the same everywhere. */
function round(v: number): number {
  return Number(v.toPrecision(12));
}

function parseSeeds(spec: string | number | number[] | undefined, source: YamlSource, errors: UserError[]): number[] {
  if (spec === undefined) return [1];
  if (typeof spec === 'number') return [spec];
  if (Array.isArray(spec)) return spec;
  const m = /^\s*(\d+)\s*\.\.\s*(\d+)\s*$/.exec(spec);
  if (!m || Number(m[2]) < Number(m[1])) {
    errors.push(source.error('SWEEP_INVALID', ['seeds'], `"seeds": expected a list, a number or a range like 1..20, got ${JSON.stringify(spec)}`));
    return [1];
  }
  const out: number[] = [];
  for (let s = Number(m[1]); s <= Number(m[2]) && out.length <= MAX_POINTS; s++) out.push(s);
  return out;
}

function combinations(params: readonly SweepParam[], mode: string, sampleSeed: number): ParamValue[][] {
  if (params.length === 0) return [[]];
  if (mode === 'zip') return params[0]!.values.map((_, i) => params.map((q) => q.values[i]!));
  const random = /^random\((\d+)\)$/.exec(mode);
  if (random) {
    // Each parameter drawn independently and uniformly from its values, from a seeded stream.
    const prng = new Prng(sampleSeed).fork('sweep-sample');
    return Array.from({ length: Number(random[1]) }, () => params.map((q) => q.values[prng.int(q.values.length)]!));
  }
  let out: ParamValue[][] = [[]];
  for (const q of params) out = out.flatMap((prefix) => q.values.map((v) => [...prefix, v]));
  return out;
}
