/**
 * OpenFlow groups as Open vSwitch runs them (ofproto/ofproto-dpif-xlate.c `xlate_group_action__`,
 * ofproto/ofproto-dpif.c `group_set_selection_method`, lib/ofp-actions.c
 * `ofpacts_execute_action_set`).
 *
 * - `all` runs every bucket, `indirect` its one bucket, each on a copy of the packet: whatever a
 *   bucket changes is undone before the next bucket and before the actions after `group:N`.
 * - `fast_failover` runs the first live bucket: a bucket is live when its `watch_port` is a port
 *   whose link is up (OVS `may_enable`) or its `watch_group` has a live bucket.
 * - `select` runs one live bucket (weight > 0). Without a `selection_method` OVS uses the datapath
 *   hash: `hash(sym_l4(0))` and a table of 16+ slots filled by Webster's method from the bucket
 *   weights (`group_setup_dp_hash_table`); with `selection_method=hash,fields(…)` it hashes the
 *   listed fields and keeps the live bucket with the highest `hash_int(bucket_id, h) & 0xffff`
 *   times its weight (`group_best_live_bucket`, ties to the later bucket). Both are reproduced
 *   bit for bit (ovs-hash.ts), so vfab picks the bucket OVS picks.
 * - A bucket's actions are an action *set*: at most one of each of pop/push VLAN and dec_ttl,
 *   every set_field/move in order, then one final action (the last of the highest class among
 *   ct, ct_clear, resubmit, output, group). A bucket without a final action does nothing.
 *
 * Costs: selection is O(buckets) per packet; the dp_hash table is built once per group change.
 */
import type { Action } from './actions.js';
import { formatActions } from './actions.js';
import { hashBytes, hashInt, hashSymmetricL3L4, hashUint64, type HashFlow } from './ovs-hash.js';
import {
  FIELD_BY_NAME,
  KEY_WORDS,
  W_DL_DST_HI,
  W_DL_SRC_HI,
  W_DL_TYPE,
  W_IPV6_DST,
  W_IPV6_SRC,
  W_NW_DST,
  W_NW_FRAG,
  W_NW_PROTO,
  W_NW_SRC,
  W_TP_DST,
  W_TP_SRC,
  W_VLAN_TCI,
  VLAN_CFI,
  macFromWords,
  prereqOk,
} from './fields.js';

export type GroupType = 'all' | 'select' | 'indirect' | 'ff';
export const OFPP_ANY = 0xffff;
export const OFPG_ANY = 0xffffffff;
/** Highest group id (OFPG_MAX) and bucket id (OFPG15_BUCKET_MAX). */
export const OFPG_MAX = 0xffffff00;
export const OFPG15_BUCKET_MAX = 0xffffff00;
/** Slots of a dp_hash table above which OVS gives up on dp_hash for a default select group. */
const DEFAULT_MAX_HASH = 64;

export interface Bucket {
  id: number;
  weight: number;
  watchPort: number;
  watchGroup: number;
  /** The actions as written (what dump-groups prints). */
  actions: Action[];
  /** The same as an action set, in the order OVS executes it. */
  executed: Action[];
  /** Statistics (dump-group-stats). */
  nPackets: number;
  nBytes: number;
}

/** One field of `selection_method=hash,fields(…)`: its mask in network byte order. */
export interface HashField {
  name: string;
  mask: number[];
}

export interface Group {
  id: number;
  type: GroupType;
  buckets: Bucket[];
  selectionMethod: string;
  selectionParam: bigint;
  fields: HashField[];
  /** dp_hash slot → bucket, for a select group using the datapath hash; null otherwise. */
  hashMap: Bucket[] | null;
  createdNs: number;
  nPackets: number;
  nBytes: number;
}

/** Where each hashable field's value is in the key words, in OVS's field-id order. */
interface HashFieldDef {
  names: string[];
  order: number;
  bytes: number;
  get(w: Int32Array): number[];
}

const u16 = (x: number): number[] => [(x >>> 8) & 0xff, x & 0xff];
const u32 = (x: number): number[] => [(x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff];
const mac = (w: Int32Array, hi: number): number[] => {
  const m = macFromWords(w, hi);
  const h = Math.floor(m / 0x1_0000_0000);
  return [...u16(h), ...u32(m >>> 0)];
};
const ipv6 = (w: Int32Array, at: number): number[] => [...u32(w[at]!), ...u32(w[at + 1]!), ...u32(w[at + 2]!), ...u32(w[at + 3]!)];

/** `fields(…)` names vfab can hash, with meta-flow.h's MFF_* order (the order OVS hashes them in). */
export const HASH_FIELDS: readonly HashFieldDef[] = [
  { names: ['in_port'], order: 85, bytes: 2, get: (w) => u16(w[0]!) },
  { names: ['eth_src', 'dl_src'], order: 129, bytes: 6, get: (w) => mac(w, W_DL_SRC_HI) },
  { names: ['eth_dst', 'dl_dst'], order: 130, bytes: 6, get: (w) => mac(w, W_DL_DST_HI) },
  { names: ['eth_type', 'dl_type'], order: 131, bytes: 2, get: (w) => u16(w[W_DL_TYPE]!) },
  { names: ['vlan_tci'], order: 132, bytes: 2, get: (w) => u16(w[W_VLAN_TCI]!) },
  { names: ['ip_src', 'nw_src'], order: 141, bytes: 4, get: (w) => u32(w[W_NW_SRC]!) },
  { names: ['ip_dst', 'nw_dst'], order: 142, bytes: 4, get: (w) => u32(w[W_NW_DST]!) },
  { names: ['ipv6_src'], order: 143, bytes: 16, get: (w) => ipv6(w, W_IPV6_SRC) },
  { names: ['ipv6_dst'], order: 144, bytes: 16, get: (w) => ipv6(w, W_IPV6_DST) },
  { names: ['ip_proto', 'nw_proto'], order: 146, bytes: 1, get: (w) => [w[W_NW_PROTO]! & 0xff] },
  { names: ['tcp_src', 'tp_src'], order: 157, bytes: 2, get: (w) => u16(w[W_TP_SRC]!) },
  { names: ['tcp_dst', 'tp_dst'], order: 158, bytes: 2, get: (w) => u16(w[W_TP_DST]!) },
  { names: ['udp_src'], order: 160, bytes: 2, get: (w) => u16(w[W_TP_SRC]!) },
  { names: ['udp_dst'], order: 161, bytes: 2, get: (w) => u16(w[W_TP_DST]!) },
  { names: ['sctp_src'], order: 162, bytes: 2, get: (w) => u16(w[W_TP_SRC]!) },
  { names: ['sctp_dst'], order: 163, bytes: 2, get: (w) => u16(w[W_TP_DST]!) },
];

export const HASH_FIELD_BY_NAME = new Map<string, HashFieldDef>();
for (const d of HASH_FIELDS) for (const n of d.names) HASH_FIELD_BY_NAME.set(n, d);

/** The OXM name dump-groups prints for a hash field. */
export function hashFieldName(name: string): string {
  return HASH_FIELD_BY_NAME.get(name)?.names[0] ?? name;
}

/** Prerequisite of a hash field (meta-flow's), looked up from the match field table. */
function prereqOf(name: string): Parameters<typeof prereqOk>[0] {
  const canonical: Record<string, string> = { ip_src: 'nw_src', ip_dst: 'nw_dst', ip_proto: 'nw_proto', tp_src: 'tcp_src', tp_dst: 'tcp_dst' };
  const fd = FIELD_BY_NAME.get(canonical[name] ?? name);
  // ip_src/ip_dst in a hash are IPv4 only (MFF_IPV4_SRC), not the ARP fields they alias in a match.
  if (name === 'ip_src' || name === 'ip_dst' || name === 'nw_src' || name === 'nw_dst') return 'ip';
  return fd?.prereq ?? 'none';
}

const FULL_MASK = new Int32Array(KEY_WORDS).fill(-1);
FULL_MASK[W_DL_TYPE] = 0xffff;
FULL_MASK[W_NW_PROTO] = 0xff;
FULL_MASK[W_VLAN_TCI] = 0xffff;

/** `pick_hash_fields_select_group`: the hash of the listed fields whose prerequisites hold. */
export function hashFieldsOf(g: Group, w: Int32Array): number {
  let basis = hashUint64(g.selectionParam);
  for (const f of g.fields) {
    const d = HASH_FIELD_BY_NAME.get(f.name);
    if (!d || !prereqOk(prereqOf(f.name), w, FULL_MASK)) continue;
    const v = d.get(w);
    for (let i = 0; i < v.length; i++) v[i] = v[i]! & (f.mask[i] ?? 0xff);
    basis = hashBytes(v, basis);
  }
  return basis;
}

/**
 * The key bits `selection_method=hash` examines (xlate_hash_fields_select_group un-wildcards each
 * listed field whose prerequisites hold, with its mask): (word, mask) pairs, for trace megaflows.
 */
export function hashFieldBits(g: Group, w: Int32Array): [number, number][] {
  const out: [number, number][] = [];
  for (const f of g.fields) {
    const d = HASH_FIELD_BY_NAME.get(f.name);
    if (!d || !prereqOk(prereqOf(f.name), w, FULL_MASK)) continue;
    const m = Array.from({ length: d.bytes }, (_, i) => f.mask[i] ?? 0xff);
    const be = (a: number[]): number => a.reduce((x, b) => ((x << 8) | b) >>> 0, 0) | 0;
    const n = d.names[0]!;
    if (n === 'eth_src' || n === 'eth_dst') {
      const hi = n === 'eth_src' ? W_DL_SRC_HI : W_DL_DST_HI;
      out.push([hi, be(m.slice(0, 2))], [hi + 1, be(m.slice(2))]);
    } else if (n === 'ipv6_src' || n === 'ipv6_dst') {
      const at = n === 'ipv6_src' ? W_IPV6_SRC : W_IPV6_DST;
      for (let i = 0; i < 4; i++) out.push([at + i, be(m.slice(4 * i, 4 * i + 4))]);
    } else {
      const word = { in_port: 0, eth_type: W_DL_TYPE, vlan_tci: W_VLAN_TCI, ip_src: W_NW_SRC, ip_dst: W_NW_DST, ip_proto: W_NW_PROTO }[n] ?? (n.endsWith('_src') ? W_TP_SRC : W_TP_DST);
      out.push([word, be(m)]);
    }
  }
  return out;
}

/** `flow_hash_symmetric_l3l4` inputs from key words (`tpid`/`inner` carry a second VLAN tag). */
export function hashFlowOf(w: Int32Array, inner: number): HashFlow {
  const tci = w[W_VLAN_TCI]!;
  return {
    dlType: w[W_DL_TYPE]! & 0xffff,
    nwSrc: w[W_NW_SRC]! >>> 0,
    nwDst: w[W_NW_DST]! >>> 0,
    ipv6Src: w.subarray(W_IPV6_SRC, W_IPV6_SRC + 4),
    ipv6Dst: w.subarray(W_IPV6_DST, W_IPV6_DST + 4),
    nwProto: w[W_NW_PROTO]! & 0xff,
    nwFrag: w[W_NW_FRAG]!,
    tpSrc: w[W_TP_SRC]! & 0xffff,
    tpDst: w[W_TP_DST]! & 0xffff,
    dlSrc: macFromWords(w, W_DL_SRC_HI),
    dlDst: macFromWords(w, W_DL_DST_HI),
    vlanTci: tci & VLAN_CFI ? tci : 0,
    innerTci: inner & 0xffff,
  };
}

/**
 * `group_setup_dp_hash_table` (ofproto-dpif.c): a power-of-two table (at least 16 slots, at
 * least total/min weight) whose slots go to buckets by Webster's method. Null when no bucket has
 * weight, or more than `maxHash` slots would be needed (then OVS falls back to its default hash).
 */
export function setupDpHashTable(buckets: readonly Bucket[], maxHash = DEFAULT_MAX_HASH): Bucket[] | null {
  if (buckets.length === 0) return null;
  let total = 0;
  let minW = 0xffff;
  for (const b of buckets) {
    if (b.weight > 0 && b.weight < minW) minW = b.weight;
    total += b.weight;
  }
  if (total === 0) return null;
  const minSlots = Math.ceil(total / minW);
  let pow2 = 1;
  while (pow2 < minSlots) pow2 *= 2;
  const nHash = Math.max(16, pow2);
  if (nHash > 256 || (maxHash !== 0 && nHash > maxHash)) return null;
  const web = buckets.map((b) => ({ b, divisor: 1, value: b.weight }));
  const map: Bucket[] = [];
  for (let h = 0; h < nHash; h++) {
    let win = web[0]!;
    for (let i = 1; i < web.length; i++) if (web[i]!.value > win.value) win = web[i]!;
    win.divisor += 2;
    win.value = win.b.weight / win.divisor;
    map.push(win.b);
  }
  return map;
}

/** What group selection needs from the bridge. */
export interface GroupEnv {
  portAlive(ofport: number): boolean;
  group(id: number): Group | undefined;
}

const MAX_LIVENESS_RECURSION = 128;

/** `bucket_is_alive`: weight (select only), then watch_port / watch_group liveness. */
export function bucketIsAlive(env: GroupEnv, g: Group, b: Bucket, depth: number): boolean {
  if (depth >= MAX_LIVENESS_RECURSION) return false;
  if (g.type === 'select' && b.weight === 0) return false;
  const hasLiveness = b.watchPort !== OFPP_ANY || b.watchGroup !== OFPG_ANY;
  if (!hasLiveness) return true;
  // OFPP_CONTROLLER watches the controller connection; vfab's bridges have none here.
  if (b.watchPort !== OFPP_ANY && b.watchPort !== 0xfffd && env.portAlive(b.watchPort)) return true;
  if (b.watchGroup !== OFPG_ANY) {
    const wg = env.group(b.watchGroup);
    if (wg && firstLiveBucket(env, wg, depth + 1) !== null) return true;
  }
  return false;
}

export function firstLiveBucket(env: GroupEnv, g: Group, depth = 0): Bucket | null {
  for (const b of g.buckets) if (bucketIsAlive(env, g, b, depth)) return b;
  return null;
}

/** `group_best_live_bucket`: highest (hash_int(bucket_id, basis) & 0xffff) × weight, ties to the later. */
export function bestLiveBucket(env: GroupEnv, g: Group, basis: number, report?: (b: Bucket, score: number | null) => void): Bucket | null {
  let best: Bucket | null = null;
  let bestScore = 0;
  for (const b of g.buckets) {
    if (!bucketIsAlive(env, g, b, 0)) {
      report?.(b, null);
      continue;
    }
    const score = (hashInt(b.id, basis) & 0xffff) * b.weight;
    report?.(b, score);
    if (score >= bestScore) {
      best = b;
      bestScore = score;
    }
  }
  return best;
}

/** The bucket a select group uses for the packet in `w` (null: no live bucket). */
export function pickSelectBucket(env: GroupEnv, g: Group, w: Int32Array, inner: number, report?: (b: Bucket, score: number | null) => void): Bucket | null {
  if (g.hashMap !== null) {
    // pick_dp_hash_select_group after the recirculation: dp_hash = hash(sym_l4(basis)).
    const basis = g.selectionMethod === 'dp_hash' ? Number(g.selectionParam & 0xffffffffn) : 0;
    const h = hashSymmetricL3L4(hashFlowOf(w, inner), basis);
    const mask = g.hashMap.length - 1;
    for (let i = 0; i <= mask; i++) {
      const b = g.hashMap[(h + i) & mask]!;
      if (bucketIsAlive(env, g, b, 0)) return b;
    }
    return null;
  }
  if (g.selectionMethod === 'hash' && g.fields.length > 0) return bestLiveBucket(env, g, hashFieldsOf(g, w), report);
  // SEL_METHOD_DEFAULT (too many slots for dp_hash): OVS hashes flow_hash_symmetric_l4 with
  // jhash; vfab uses the symmetric L3/L4 hash instead (docs/flows.md lists the difference).
  return bestLiveBucket(env, g, hashSymmetricL3L4(hashFlowOf(w, inner), 0));
}

/** Fills in `hashMap` from the selection method, as `group_set_selection_method` does. */
export function setSelectionMethod(g: Group): void {
  g.hashMap = null;
  if (g.type !== 'select') return;
  if (g.selectionMethod === '') g.hashMap = setupDpHashTable(g.buckets, DEFAULT_MAX_HASH);
  else if (g.selectionMethod === 'dp_hash') g.hashMap = setupDpHashTable(g.buckets, 0);
}

/** Action-set classes (`action_set_classify`): slots 0..3, finals 10..14, 20 set/move, -1 invalid. */
function actionSetClass(a: Action): number {
  switch (a.type) {
    case 'strip_vlan':
      return 0;
    case 'push_vlan':
      return 1;
    case 'dec_ttl':
      return 2;
    case 'ct_clear':
      return 11;
    case 'resubmit':
      return 12;
    case 'output':
      return 13;
    case 'group':
      return 14;
    case 'set':
    case 'move':
    case 'set_vlan_vid':
    case 'set_vlan_pcp':
      return 20;
    case 'noop':
      return a.text.startsWith('set_queue') ? 20 : -1;
    default:
      return -1;
  }
}

/** `ofpacts_execute_action_set`: the action list an action set runs as. */
export function executeActionSet(set: readonly Action[]): Action[] {
  const slots: (Action | undefined)[] = [];
  const setOrMove: Action[] = [];
  let final: Action | null = null;
  let finalClass = 0;
  for (const a of set) {
    const c = actionSetClass(a);
    if (c >= 0 && c < 10) slots[c] = a;
    else if (c >= 10 && c < 20) {
      if (c >= finalClass) {
        final = a;
        finalClass = c;
      }
    } else if (c === 20) setOrMove.push(a);
  }
  if (final === null) return [];
  return [...slots.filter((a): a is Action => a !== undefined), ...setOrMove, final];
}

export function groupTypeName(t: GroupType): string {
  return t;
}

export function bucketActionsText(b: Bucket): string {
  return formatActions(b.actions);
}
