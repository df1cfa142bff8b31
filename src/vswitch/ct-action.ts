/**
 * The `ct(...)` action and its `nat(...)` argument: parsing with ovs-ofctl's rules
 * (lib/ofp-actions.c `parse_CT`, `parse_NAT`, `str_to_nat_range`, `check_CT`, `check_NAT`,
 * `ofpacts_verify_nested`) and `dump-flows` formatting (`format_CT`, `format_NAT`).
 *
 * `ct` keeps its nested actions in the order written, as OVS does: `nat` is one of them. A `nat`
 * that comes first is printed outside `exec(...)`, any other action inside it, so
 * `ct(exec(set_field:1->ct_mark),nat)` dumps as `ct(exec(load:0x1->NXM_NX_CT_MARK[],nat))`.
 */
import type { Action } from './actions.js';
import { formatActions } from './actions.js';
import { formatIpv4, formatIpv6, parseIpv4Text, parseIpv6Text, W_CT_LABEL, W_CT_MARK, ETH_TYPE_IP, ETH_TYPE_IPV6, W_CT_STATE, W_DL_TYPE } from './fields.js';
import type { Ctx, ParseOptions } from './flow-syntax.js';
import { ovsKeyValues, strToU16, strToUintBase10 } from './ovs-lex.js';
import { formatSubfield, parseSubfield, type Subfield } from './subfield.js';

/** `nat(...)`: NX_NAT_F_* flags and the range (`range_af` 0 = no range). */
export interface NatSpec {
  src: boolean;
  dst: boolean;
  /** 0: no address range, 4 or 6. */
  af: 0 | 4 | 6;
  /** IPv4: [addr] (int32); IPv6: four words. max = min when one address is given. */
  minAddr: number[];
  maxAddr: number[];
  /** 0 = no port range. */
  minPort: number;
  maxPort: number;
  persistent: boolean;
  hash: boolean;
  random: boolean;
}

export interface CtAction {
  type: 'ct';
  commit: boolean;
  force: boolean;
  /** Recirculation table, null = none (NX_CT_RECIRC_NONE). */
  table: number | null;
  zoneImm: number;
  zoneSrc: Subfield | null;
  /** FTP = 21, TFTP = 69, 0 = none (`alg=`): accepted; vfab runs no ALG (docs/flows.md). */
  alg: number;
  /** Nested actions in order: `nat` and set_field/load/move to ct_mark / ct_label. */
  actions: (Action | NatAction)[];
  /** The nat action, if any (also in `actions`). */
  nat: NatSpec | null;
}

export interface NatAction {
  type: 'nat';
  spec: NatSpec;
}

/** CT state bits (lib/packets.h CS_*). */
export const CS_NEW = 0x01;
export const CS_ESTABLISHED = 0x02;
export const CS_RELATED = 0x04;
export const CS_REPLY_DIR = 0x08;
export const CS_INVALID = 0x10;
export const CS_TRACKED = 0x20;
export const CS_SRC_NAT = 0x40;
export const CS_DST_NAT = 0x80;

/** `parse_NAT` + `str_to_nat_range`. Returns an error text, or the spec. */
export function parseNat(arg: string): NatSpec | string {
  const spec: NatSpec = { src: false, dst: false, af: 0, minAddr: [], maxAddr: [], minPort: 0, maxPort: 0, persistent: false, hash: false, random: false };
  for (const kv of ovsKeyValues(arg)) {
    const key = kv.key;
    if (key === 'src' || key === 'dst') {
      spec[key] = true;
      const err = natRange(kv.value, spec);
      if (err !== null) return err;
    } else if (key === 'persistent') spec.persistent = true;
    else if (key === 'hash') spec.hash = true;
    else if (key === 'random') spec.random = true;
    else return `invalid key "${key}" in "nat" argument`;
  }
  if (spec.src && spec.dst) return 'May only specify one of "src" or "dst".';
  if (!spec.src && !spec.dst) {
    if (spec.persistent || spec.hash || spec.random) return 'Flags allowed only with "src" or "dst".';
  }
  if (spec.hash && spec.random) return 'Both "hash" and "random" are not allowed.';
  return spec;
}

function natRange(s: string, spec: NatSpec): string | null {
  const bad = `invalid nat range "${s}"`;
  let rest = s;
  let m = /^(\d+\.\d+\.\d+\.\d+)(?:-(\d+\.\d+\.\d+\.\d+))?/.exec(rest);
  if (m) {
    const lo = parseIpv4Text(m[1]!);
    const hi = m[2] !== undefined ? parseIpv4Text(m[2]) : lo;
    if (lo === null || hi === null || hi >>> 0 < lo >>> 0) return bad;
    spec.af = 4;
    spec.minAddr = [lo];
    spec.maxAddr = [hi];
    rest = rest.slice(m[0].length);
  } else {
    m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9a-fA-F:.]*:[0-9a-fA-F:.]*))(?:-(?:\[([0-9a-fA-F:.]+)\]|([0-9a-fA-F:.]*:[0-9a-fA-F:.]*)))?/.exec(rest);
    // An unbracketed IPv6 address swallows a ":port" (OVS's IPV6_SCAN_FMT does too), so a port
    // needs the bracketed form.
    if (m) {
      const lo = parseIpv6Text(m[1] ?? m[2]!);
      const hiText = m[3] ?? m[4];
      const hi = hiText !== undefined ? parseIpv6Text(hiText) : lo;
      if (lo === null || hi === null) return bad;
      for (let i = 0; i < 4; i++) {
        if (hi[i]! >>> 0 !== lo[i]! >>> 0) {
          if (hi[i]! >>> 0 < lo[i]! >>> 0) return bad;
          break;
        }
      }
      spec.af = 6;
      spec.minAddr = [...lo];
      spec.maxAddr = [...hi];
      rest = rest.slice(m[0].length);
    }
  }
  if (spec.af !== 0 && rest.startsWith(':')) {
    const pm = /^:(\d+)(?:-(\d+))?/.exec(rest);
    if (!pm) return bad;
    const lo = Number(pm[1]);
    const hi = pm[2] !== undefined ? Number(pm[2]) : 0;
    if (lo > 65535 || hi > 65535 || (pm[2] !== undefined && hi < lo)) return bad;
    spec.minPort = lo;
    spec.maxPort = hi;
    rest = rest.slice(pm[0].length);
  }
  if (rest !== '') return `garbage (${rest}) after nat range "${s}" (pos: ${s.length - rest.length})`;
  return null;
}

export function formatNat(n: NatSpec): string {
  if (!n.src && !n.dst) return 'nat';
  let s = `nat(${n.src ? 'src' : 'dst'}`;
  if (n.af !== 0) {
    s += '=';
    const port = n.minPort !== 0;
    if (n.af === 4) {
      s += formatIpv4(n.minAddr[0]!);
      if (n.maxAddr[0] !== 0 && n.maxAddr[0] !== n.minAddr[0]) s += `-${formatIpv4(n.maxAddr[0]!)}`;
    } else {
      const br = (w: number[]): string => (port ? `[${formatIpv6(w)}]` : formatIpv6(w));
      s += br(n.minAddr);
      if (n.maxAddr.some((x, i) => x !== n.minAddr[i])) s += `-${br(n.maxAddr)}`;
    }
    if (port) {
      s += `:${n.minPort}`;
      if (n.maxPort !== 0 && n.maxPort !== n.minPort) s += `-${n.maxPort}`;
    }
    if (n.persistent) s += ',persistent';
    if (n.hash) s += ',hash';
    if (n.random) s += ',random';
  }
  return `${s})`;
}

export function formatNested(a: Action | NatAction): string {
  return a.type === 'nat' ? formatNat(a.spec) : formatActions([a]);
}

/** `format_CT`. */
export function formatCt(a: CtAction): string {
  const parts: string[] = [];
  if (a.commit) parts.push('commit');
  if (a.force) parts.push('force');
  if (a.table !== null) parts.push(`table=${a.table}`);
  if (a.zoneSrc !== null) parts.push(`zone=${formatSubfield(a.zoneSrc)}`);
  else if (a.zoneImm !== 0) parts.push(`zone=${a.zoneImm}`);
  let rest = a.actions;
  if (rest.length > 0 && rest[0]!.type === 'nat') {
    parts.push(formatNested(rest[0]));
    rest = rest.slice(1);
  }
  if (rest.length > 0) parts.push(`exec(${rest.map(formatNested).join(',')})`);
  if (a.alg !== 0) parts.push(`alg=${a.alg === 21 ? 'ftp' : a.alg === 69 ? 'tftp' : a.alg}`);
  return `ct(${parts.join(',')})`;
}

/** Whether a nested action writes only ct_mark / ct_label (`field_requires_ct`). */
export function writesCtField(a: Action): boolean | null {
  // A load into bits a field does not store (NXM_OF_IP_TOS[0..1]) writes no word at all.
  if (a.type === 'set') return a.words.length > 0 && a.words.every((w) => w >= W_CT_MARK && w < W_CT_LABEL + 4);
  if (a.type === 'move') return a.dst.fd.word >= W_CT_MARK && a.dst.fd.word < W_CT_LABEL + 4;
  return null;
}

type ParseList = (s: string, base: number, opts: ParseOptions) => Action[];

/**
 * `parse_CT` then `check_CT`: `arg` is the text inside `ct(...)`, at offset `at` of the line.
 * `parseList` parses the `exec(...)` actions (the caller's action parser).
 */
export function parseCt(arg: string, at: number, mValue: Int32Array, mMask: Int32Array, ctx: Ctx, opts: ParseOptions & { actionsOnly?: boolean }, parseList: ParseList): CtAction {
  const a: CtAction = { type: 'ct', commit: false, force: false, table: null, zoneImm: 0, zoneSrc: null, alg: 0, actions: [], nat: null };
  for (const kv of ovsKeyValues(arg, at)) {
    switch (kv.key) {
      case 'commit':
        a.commit = true;
        break;
      case 'force':
        a.force = true;
        break;
      case 'table': {
        const t = kv.value.startsWith('-') ? null : strToUintBase10(kv.value);
        if (t === null || t > 255) throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, `unknown table ${kv.value}`);
        if (t === 255) throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, 'invalid table 0xff');
        a.table = t;
        break;
      }
      case 'zone': {
        const z = strToU16(kv.value);
        if (z !== null) {
          a.zoneImm = z;
          a.zoneSrc = null;
          break;
        }
        const sf = parseSubfield(kv.value);
        if (typeof sf === 'string') throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, `${kv.value}: unknown field \`${kv.value}'`);
        a.zoneSrc = sf;
        break;
      }
      case 'alg':
        if (kv.value === 'ftp') a.alg = 21;
        else if (kv.value === 'tftp') a.alg = 69;
        else throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, `unknown connection helper "${kv.value}"`);
        break;
      case 'nat': {
        const n = parseNat(kv.value);
        if (typeof n === 'string') throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, n);
        a.nat = n;
        a.actions.push({ type: 'nat', spec: n });
        break;
      }
      case 'exec': {
        const inner = parseList(kv.value, kv.valueAt, { ...opts, ctExec: true });
        for (const x of inner) {
          const ok = writesCtField(x);
          if (ok === null) throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, `ct action doesn't support nested action ${x.type === 'output' ? 'output' : x.type}`);
          if (!ok) throw ctx.err('FLOW_BAD_VALUE', kv.valueAt, `ct action doesn't support nested modification of ${x.type === 'set' || x.type === 'move' ? (x.type === 'set' ? x.field.name : x.dst.fd.name) : ''}`);
        }
        a.actions.push(...inner);
        break;
      }
      default:
        throw ctx.err('FLOW_BAD_VALUE', kv.at, `invalid argument to "ct" action: \`${kv.key}'`);
    }
  }
  if (a.force && !a.commit) throw ctx.err('FLOW_BAD_VALUE', at, '"force" flag requires "commit" flag.');
  // decode_NXAST_RAW_CT (lib/ofp-actions.c): the switch refuses a ct() without commit that holds
  // anything but a nat without arguments ("CT action requires commit flag if actions other
  // than NAT without arguments are specified", OFPBAC_BAD_ARGUMENT).
  if (!a.commit && a.actions.some((x) => x.type !== 'nat' || x.spec.src || x.spec.dst || x.spec.af !== 0 || x.spec.persistent || x.spec.hash || x.spec.random)) {
    ctx.late('FLOW_BAD_VALUE', at, 'OFPT_ERROR: OFPBAC_BAD_ARGUMENT: CT action requires commit flag if actions other than NAT without arguments are specified', 'add commit, or use a plain nat');
  }
  if (!opts.actionsOnly) {
    // check_CT / check_NAT: the match must be IP (or IPv6, for an IPv6 range); no commit of
    // packets matched as +inv; alg=ftp needs tcp, tftp udp.
    const dlExact = mMask[W_DL_TYPE] === 0xffff;
    const dl = dlExact ? mValue[W_DL_TYPE]! : -1;
    const ipAny = dl === ETH_TYPE_IP || dl === ETH_TYPE_IPV6;
    const inv = (mMask[W_CT_STATE]! & mValue[W_CT_STATE]! & CS_INVALID) !== 0;
    const proto = (mMask[9]! & 0xff) === 0xff ? mValue[9]! : -1;
    // check_NAT runs for every nat in the list, not only the last one.
    const natBad = a.actions.some((x) => x.type === 'nat' && ((x.spec.af === 4 && dl !== ETH_TYPE_IP) || (x.spec.af === 6 && dl !== ETH_TYPE_IPV6)));
    if (!ipAny || (inv && a.commit) || (a.alg === 21 && proto !== 6) || (a.alg === 69 && proto !== 17) || natBad) {
      throw ctx.err('FLOW_PREREQ', at, 'actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT)', 'ct() needs ip or ipv6 in the match (and no commit of +inv packets)');
    }
  }
  return a;
}
