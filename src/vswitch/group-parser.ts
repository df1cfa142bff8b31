/**
 * `ovs-ofctl add-group(s)` text → groups, and groups → `dump-groups` text
 * (lib/ofp-group.c `parse_ofp_group_mod_str__`, `parse_bucket_str`, `parse_select_group_field`,
 * `ofp_print_group`).
 *
 * A line is `group_id=N,type=T[,selection_method=…][,selection_method_param=N][,fields(…)]`
 * followed by `bucket=…` items: everything from the first `bucket=` on is buckets, each running
 * to the next `bucket=`. Inside a bucket, `weight`, `watch_port`, `watch_group`, `bucket_id`
 * (any case) are bucket properties, `actions=`/`action=` values and any other `key:value` are
 * actions (OVS rewrites `output:2` to `output(2)` and parses the result as an action list).
 * Keywords before the buckets are case-sensitive, as in OVS. Errors name the line and column.
 */
import { UserError } from '../errors.js';
import { formatActions } from './actions.js';
import { parseActionList } from './flow-parser.js';
import { Ctx, parsePortText, type ParseOptions } from './flow-syntax.js';
import {
  HASH_FIELD_BY_NAME,
  OFPG15_BUCKET_MAX,
  OFPG_ANY,
  OFPG_MAX,
  OFPP_ANY,
  executeActionSet,
  hashFieldName,
  type Bucket,
  type Group,
  type GroupType,
  type HashField,
} from './group.js';
import { ovsKeyValues, parseFieldInt, preprocessedLines, scanMac, strToU16, strToU64, strToUintBase10 } from './ovs-lex.js';
import { formatPort } from './actions.js';

export type GroupModCommand = 'add' | 'modify' | 'add_or_mod' | 'delete';

/** A group as `add-groups`/`mod-groups` text states it (the table's `Group` without its run state). */
export interface ParsedGroupMod extends Pick<Group, 'type' | 'buckets' | 'selectionMethod' | 'selectionParam' | 'fields'> {
  command: GroupModCommand;
  /** OFPG_ALL (0xfffffffc) for `delete` without a group_id. */
  id: number;
  location: { file: string; line: number; col: number };
}

export const OFPG_ALL = 0xfffffffc;
/** Most groups one bridge holds (OVS's dpif-netdev has no fixed limit; vfab bounds it). */
export const MAX_GROUPS = 65_536;
/** Most buckets in one group. */
export const MAX_BUCKETS = 1_024;

const TYPES: Record<string, GroupType> = { all: 'all', select: 'select', indirect: 'indirect', ff: 'ff', fast_failover: 'ff' };

/** Parses an `ovs-ofctl add-groups` file: one group per line, `#` comments. */
export function parseGroups(text: string, opts: ParseOptions = {}): ParsedGroupMod[] {
  const out: ParsedGroupMod[] = [];
  for (const [n, line] of preprocessedLines(text)) {
    const ctx = new Ctx(opts.file ?? '<groups>', (opts.line ?? 1) + n - 1, (opts.col ?? 1) - 1);
    if (out.length >= MAX_GROUPS) throw ctx.err('GROUP_TOO_MANY', 0, `more than ${MAX_GROUPS} groups (vfab's limit per bridge)`);
    out.push(parseGroupLine('add', line, ctx, opts));
  }
  return out;
}

/** One group_mod in `ovs-ofctl add-group|mod-group|del-groups` argument syntax. */
export function parseGroupMod(command: GroupModCommand, text: string, opts: ParseOptions = {}): ParsedGroupMod {
  const ctx = new Ctx(opts.file ?? '<group_mod>', opts.line ?? 1, (opts.col ?? 1) - 1);
  return parseGroupLine(command, text, ctx, opts);
}

function parseGroupLine(command: GroupModCommand, line: string, ctx: Ctx, opts: ParseOptions): ParsedGroupMod {
  const needsType = command !== 'delete';
  const gm: ParsedGroupMod = {
    command,
    id: -1,
    type: 'all',
    buckets: [],
    selectionMethod: '',
    selectionParam: 0n,
    fields: [],
    location: ctx.loc(line.length - line.trimStart().length),
  };
  if (command === 'delete' && line.trim() === '') {
    gm.id = OFPG_ALL;
    return gm;
  }
  const bAt = line.indexOf('bucket=');
  if (bAt >= 0 && !needsType) throw ctx.err('GROUP_SYNTAX', bAt, 'bucket is not needed');
  const head = bAt >= 0 ? line.slice(0, bAt) : line;
  let hadType = false;
  for (const kv of ovsKeyValues(head)) {
    const v = kv.value;
    switch (kv.key) {
      case 'group_id': {
        if (v === 'all') {
          gm.id = OFPG_ALL;
          break;
        }
        const id = strToUintBase10(v);
        if (id === null) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `invalid numeric format ${v}`);
        if (id > OFPG_MAX) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `invalid group id ${id}`);
        gm.id = id;
        break;
      }
      case 'type': {
        if (!needsType) throw ctx.err('GROUP_SYNTAX', kv.at, 'type is not needed');
        const t = TYPES[v];
        if (t === undefined) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `invalid group type ${v}`);
        gm.type = t;
        hadType = true;
        break;
      }
      case 'selection_method':
        if (!needsType) throw ctx.err('GROUP_SYNTAX', kv.at, 'selection method is not needed');
        if (v.length >= 16) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, 'selection method is longer than 15 bytes long');
        gm.selectionMethod = v;
        break;
      case 'selection_method_param': {
        if (!needsType) throw ctx.err('GROUP_SYNTAX', kv.at, 'selection method param is not needed');
        const p = strToU64(v);
        if (p === null) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `invalid numeric format ${v}`);
        gm.selectionParam = p;
        break;
      }
      case 'fields':
        if (!needsType) throw ctx.err('GROUP_SYNTAX', kv.at, 'fields are not needed');
        gm.fields.push(...parseHashFields(v, kv.valueAt, gm.fields, ctx));
        // A field_array is a bitmap: OVS keeps (hashes, prints) the fields in field-id order.
        gm.fields.sort((a, b) => HASH_FIELD_BY_NAME.get(a.name)!.order - HASH_FIELD_BY_NAME.get(b.name)!.order);
        break;
      default:
        throw ctx.err('GROUP_SYNTAX', kv.at, `unknown keyword ${kv.key}`);
    }
  }
  if (gm.id === -1) throw ctx.err('GROUP_SYNTAX', 0, 'must specify a group_id');
  if (needsType && !hadType) throw ctx.err('GROUP_SYNTAX', 0, 'must specify a type');
  if (gm.selectionMethod !== 'hash' && gm.fields.length > 0) throw ctx.err('GROUP_SYNTAX', 0, 'fields may only be specified with "selection_method=hash"');
  if (gm.selectionMethod === '' && gm.selectionParam !== 0n) throw ctx.err('GROUP_SYNTAX', 0, 'selection_method_param is only allowed with "selection_method"');
  if (gm.selectionMethod !== '' && gm.selectionMethod !== 'hash' && gm.selectionMethod !== 'dp_hash') {
    // ofproto-dpif.c group_set_selection_method refuses other names when the group is added.
    throw ctx.err('GROUP_BAD_VALUE', 0, `unknown selection method "${gm.selectionMethod}" (OVS: OFPGMFC_BAD_PROP_VALUE; known: hash, dp_hash)`);
  }
  if (gm.selectionMethod === 'dp_hash' && gm.selectionParam >> 32n !== 1n) {
    throw ctx.err('GROUP_UNSUPPORTED', 0, 'selection_method=dp_hash: vfab models only the sym_l4 algorithm (selection_method_param with 1 in its upper 32 bits)');
  }
  // Buckets: each from after its `bucket=` to the next `bucket=`.
  let at = bAt;
  let index = 0;
  while (at >= 0) {
    const start = at + 'bucket='.length;
    const next = line.indexOf('bucket=', start);
    const text = line.slice(start, next < 0 ? undefined : next);
    if (gm.buckets.length >= MAX_BUCKETS) throw ctx.err('GROUP_TOO_MANY', at, `more than ${MAX_BUCKETS} buckets in one group (vfab's limit)`);
    gm.buckets.push(parseBucket(text, start, gm.type, index++, ctx, opts));
    if (gm.type !== 'select' && gm.buckets[gm.buckets.length - 1]!.weight !== 0) throw ctx.err('GROUP_SYNTAX', start, 'Only select groups can have bucket weights.');
    at = next;
  }
  if (gm.type === 'indirect' && gm.buckets.length > 1) throw ctx.err('GROUP_SYNTAX', 0, 'Indirect groups can have at most one bucket.');
  // ofputil bucket ids: an unspecified id is the bucket's position (OF1.1–1.4 have no ids).
  const ids = new Set<number>();
  for (const b of gm.buckets) {
    if (ids.has(b.id)) throw ctx.err('GROUP_BAD_VALUE', 0, `duplicate bucket id ${b.id} (OVS: OFPGMFC_BUCKET_EXISTS)`);
    ids.add(b.id);
  }
  return gm;
}

function parseBucket(text: string, base: number, type: GroupType, index: number, ctx: Ctx, opts: ParseOptions): Bucket {
  const b: Bucket = {
    id: index,
    weight: type === 'select' ? 1 : 0,
    watchPort: OFPP_ANY,
    watchGroup: OFPG_ANY,
    actions: [],
    executed: [],
    nPackets: 0,
    nBytes: 0,
  };
  // Actions are collected as OVS does (`key(value),`), keeping each one's column for errors.
  const acts: string[] = [];
  let actsAt = base;
  for (const kv of ovsKeyValues(text, base)) {
    const k = kv.key.toLowerCase();
    const v = kv.value;
    if (k === 'weight') {
      const w = strToU16(v);
      if (w === null) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `invalid weight "${v}"`);
      b.weight = w;
    } else if (k === 'watch_port') {
      const p = parsePortText(v, opts);
      if (p === null) throw ctx.err('GROUP_UNKNOWN_PORT', kv.valueAt, `${v}: invalid watch_port`);
      if (p >= 0xff00 && p !== OFPP_ANY && p !== 0xfffd) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `${v}: invalid watch_port`);
      b.watchPort = p;
    } else if (k === 'watch_group') {
      const g = strToUintBase10(v);
      if (g === null) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `invalid numeric format ${v}`);
      if (g > OFPG_MAX) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `invalid watch_group id ${g}`);
      b.watchGroup = g;
    } else if (k === 'bucket_id') {
      const id = strToUintBase10(v);
      if (id === null) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `invalid numeric format ${v}`);
      if (id > OFPG15_BUCKET_MAX) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `invalid bucket_id id ${id}`);
      b.id = id;
    } else {
      if (acts.length === 0) actsAt = kv.at;
      acts.push(k === 'action' || k === 'actions' ? v : kv.delim === '' ? kv.key : `${kv.key}(${v})`);
    }
  }
  if (acts.length === 0) throw ctx.err('GROUP_SYNTAX', base, 'bucket must specify actions');
  if (type === 'ff' && b.watchPort === OFPP_ANY && b.watchGroup === OFPG_ANY) {
    throw ctx.err('GROUP_SYNTAX', base, 'fast failover bucket requires watch_port or watch_group');
  }
  b.actions = parseActionList(acts.join(','), actsAt, ctx, opts);
  b.executed = executeActionSet(b.actions);
  return b;
}

function parseHashFields(s: string, base: number, have: readonly HashField[], ctx: Ctx): HashField[] {
  const out: HashField[] = [];
  for (const kv of ovsKeyValues(s, base)) {
    const d = HASH_FIELD_BY_NAME.get(kv.key);
    if (!d) throw ctx.err('GROUP_UNKNOWN_FIELD', kv.at, `${kv.key}: unknown field ${kv.key}`, `vfab hashes ${[...HASH_FIELD_BY_NAME.keys()].join(', ')}`);
    if ([...have, ...out].some((f) => HASH_FIELD_BY_NAME.get(f.name) === d)) throw ctx.err('GROUP_SYNTAX', kv.at, `${kv.key}: duplicate field`);
    let mask = new Array<number>(d.bytes).fill(0xff);
    if (kv.value !== '') {
      const m = parseMask(kv.value, d.bytes);
      if (m === null) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `${kv.value}: invalid mask for field ${kv.key}`);
      if (m.every((x) => x === 0)) throw ctx.err('GROUP_BAD_VALUE', kv.valueAt, `${kv.value}: values are wildcards here and must not be all-zeros`);
      mask = m;
    }
    out.push({ name: d.names[0]!, mask });
  }
  return out;
}

/** A field mask as network-order bytes: a MAC, a dotted quad or an integer of the field's width. */
function parseMask(v: string, bytes: number): number[] | null {
  if (bytes === 6) {
    const m = scanMac(v);
    if (m === null) return null;
    const hi = Math.floor(m / 0x1_0000_0000);
    return [(hi >>> 8) & 0xff, hi & 0xff, m >>> 24 & 0xff, (m >>> 16) & 0xff, (m >>> 8) & 0xff, m & 0xff];
  }
  if (bytes === 4 && /^\d+\.\d+\.\d+\.\d+$/.test(v)) {
    const p = v.split('.').map(Number);
    return p.every((x) => x <= 255) ? p : null;
  }
  if (bytes === 16) return null;
  const r = parseFieldInt(v, bytes);
  if (r === null || r === 'range') return null;
  const x = r[0];
  const out: number[] = [];
  for (let i = bytes - 1; i >= 0; i--) out.push(Number((x >> BigInt(i * 8)) & 0xffn));
  return out;
}

function maskText(f: HashField): string {
  if (f.mask.every((x) => x === 0xff)) return f.name;
  if (f.mask.length === 4) return `${f.name}=${f.mask.join('.')}`;
  if (f.mask.length === 6) return `${f.name}=${f.mask.map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
  return `${f.name}=0x${f.mask.map((x) => x.toString(16).padStart(2, '0')).join('').replace(/^0+(?=.)/, '')}`;
}

/** One group as `ovs-ofctl dump-groups` prints it (`ofp_print_group`), for OpenFlow `version`. */
export function formatGroup(
  g: { id: number; type: GroupType; buckets: readonly Bucket[]; selectionMethod: string; selectionParam: bigint; fields: readonly HashField[] },
  version: number,
): string {
  let s = `group_id=${g.id},type=${g.type}`;
  // Group properties and bucket ids exist only in OpenFlow 1.5 (older versions cannot carry them).
  if (version >= 15 && g.selectionMethod !== '') {
    s += `,selection_method=${g.selectionMethod}`;
    if (g.selectionParam !== 0n) s += `,selection_method_param=${g.selectionParam}`;
    if (g.fields.length === 1) s += `,fields=${maskText(g.fields[0]!)}`;
    else if (g.fields.length > 1) s += `,fields(${g.fields.map(maskText).join(',')})`;
  }
  for (const b of g.buckets) {
    s += ',bucket=';
    if (version >= 15) s += `bucket_id:${b.id},`;
    if (b.weight !== (g.type === 'select' ? 1 : 0)) s += `weight:${b.weight},`;
    if (b.watchPort !== OFPP_ANY) s += `watch_port:${formatPort(b.watchPort)},`;
    if (b.watchGroup !== OFPG_ANY) s += `watch_group:${b.watchGroup},`;
    s += `actions=${formatActions(b.actions)}`;
  }
  return s;
}

/** The `dump-groups` reply header OVS prints for `version`. */
export function groupDumpHeader(version: number): string {
  const v = version < 13 ? 13 : version;
  return `OFPST_GROUP_DESC reply (OF1.${v - 10}) (xid=0x2):`;
}

export function groupError(code: string, message: string, where: string): UserError {
  return new UserError(code, message, { where });
}

/** Field names hashable in `fields(…)`, for docs and errors. */
export function hashFieldNames(): string[] {
  return [...new Set([...HASH_FIELD_BY_NAME.values()].map((d) => hashFieldName(d.names[0]!)))];
}
