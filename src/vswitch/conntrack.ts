/**
 * Connection tracking, modelled on OVS's userspace conntrack (lib/conntrack.c `process_one`,
 * lib/conntrack-tcp.c, -other.c, -icmp.c): what the datapath `ct()` action does to a packet.
 *
 * What: a table of connections per zone. A connection is found by its original-direction key
 * (zone, L3 addresses, protocol, ports or ICMP id/type) or its reply key (reversed, with NAT
 * applied); the packet then gets `ct_state` (+trk, and +new/+est/+rel/+rpl/+inv/+snat/+dnat),
 * `ct_zone`, `ct_mark`, `ct_label` and the original tuple (`ct_nw_src` …). Only `commit` creates
 * a connection; NAT rewrites the packet's addresses and ports both ways.
 *
 * Invariants: at most `limit` connections in all (OVS `n_conn_limit`) and at most a zone's limit
 * per zone (`ovs-appctl dpctl/ct-set-limits`); a commit over a limit is refused (the packet
 * stays +new, uncommitted) after expired connections are swept. Timeouts are OVS's defaults for
 * the netdev datapath (conntrack-tp.c), in virtual time; an expired connection is never found.
 *
 * Costs: one hash lookup per ct() (two for a NAT'ed packet coming back); expiry is lazy
 * (checked on lookup) plus a sweep of the whole table when a commit would exceed a limit, at
 * most once per virtual second.
 *
 * Deliberate differences (docs/flows.md): no fragment reassembly (a fragment is +inv), no ALGs
 * (`alg=ftp|tftp` accepted, no expectations), no L4 checksum validation, NAT picks addresses
 * and ports by a fixed hash (OVS seeds its hash randomly per process), the inner header of an
 * ICMP error is not NAT-rewritten.
 */
import {
  ETH_TYPE_IP,
  ETH_TYPE_IPV6,
  W_CT_LABEL,
  W_CT_MARK,
  W_CT_NW_DST,
  W_CT_NW_PROTO,
  W_CT_IPV6_DST,
  W_CT_IPV6_SRC,
  W_CT_NW_SRC,
  W_CT_STATE,
  W_CT_TP_DST,
  W_CT_TP_SRC,
  W_CT_ZONE,
  W_DL_TYPE,
  W_IPV6_DST,
  W_IPV6_SRC,
  W_NW_DST,
  W_NW_FRAG,
  W_NW_PROTO,
  W_NW_SRC,
  W_TCP_FLAGS,
  W_TP_DST,
  W_TP_SRC,
} from './fields.js';
import { CS_DST_NAT, CS_ESTABLISHED, CS_INVALID, CS_NEW, CS_RELATED, CS_REPLY_DIR, CS_SRC_NAT, CS_TRACKED, type NatSpec } from './ct-action.js';
import {
  UPDATE_INVALID,
  UPDATE_NEW,
  UPDATE_VALID,
  UPDATE_VALID_NEW,
  tcpNewConn,
  tcpResult,
  tcpUpdate,
  tcpValidNew,
  tcpWscale,
  type TcpPeer,
  type TcpSeg,
} from './conntrack-tcp.js';

/** OVS's DEFAULT_N_CONN_LIMIT is 3,000,000; vfab's default is smaller (each connection is a JS object). */
export const DEFAULT_CT_LIMIT = 262_144;
const NS = 1_000_000_000;

/** conntrack-tp.c defaults (seconds). */
const TM_OTHER_FIRST = 60;
const TM_OTHER_MULTIPLE = 60;
const TM_OTHER_BIDIR = 30;
const TM_ICMP_FIRST = 60;
const TM_ICMP_REPLY = 30;

// Key layout: [zone, proto, v6, src0..3, dst0..3, sport, dport]. ICMP: sport = type<<16 | id,
// dport = reverse type<<16 | id (extract_l4_icmp), so the reversed key of a request is the reply's.
const K_ZONE = 0;
const K_PROTO = 1;
const K_V6 = 2;
const K_SRC = 3;
const K_DST = 7;
const K_SP = 11;
const K_DP = 12;
const KEY_LEN = 13;

const NAT_SRC = 1;
const NAT_DST = 2;

interface Conn {
  fwd: Int32Array;
  rev: Int32Array;
  kind: 'tcp' | 'other' | 'icmp';
  peers: [TcpPeer, TcpPeer] | null;
  /** other: 0 first, 1 multiple, 2 bidir; icmp: 0 first, 1 reply. */
  state: number;
  expiresNs: number;
  mark: number;
  label: Int32Array;
  nat: number;
  zone: number;
}

interface Node {
  key: Int32Array;
  conn: Conn;
  reply: boolean;
  next: Node | null;
}

/** The packet `execute` works on: key words (read, NAT-rewritten, ct words written) and the frame. */
export interface CtPacket {
  w: Int32Array;
  frame: Uint8Array | null;
  l3: number;
  l4: number;
}

export interface CtExec {
  zone: number;
  commit: boolean;
  force: boolean;
  /** `nat` present (even a bare `nat`), and its range (null fields when bare). */
  nat: NatSpec | null;
  /** ct_mark value/mask to set on a committed connection; mask 0 = none. */
  markValue: number;
  markMask: number;
  /** ct_label words (most significant first) value/mask; null = none. */
  labelValue: Int32Array | null;
  labelMask: Int32Array | null;
  /**
   * The packet's cached connection (`pkt->md.conn`, with `md.reply`): in, the one an earlier ct()
   * on this packet found (kept across a recirculation); out, the one this ct() leaves (null
   * after a `nat`, as `set_cached_conn`). Absent = none.
   */
  conn?: object | null;
  reply?: boolean;
}

export interface ConntrackOptions {
  /** Most connections in all zones (default DEFAULT_CT_LIMIT). */
  limit?: number;
  /** Limit for zones without their own (0 = none, OVS's default). */
  defaultZoneLimit?: number;
  /** Per-zone limits. */
  zoneLimits?: Record<number, number>;
}

function hashKey(k: Int32Array): number {
  let h = 0x2545f491;
  for (let i = 0; i < KEY_LEN; i++) {
    h = Math.imul(h ^ k[i]!, 0x9e3779b1);
    h ^= h >>> 15;
  }
  return h | 0;
}

/**
 * The `buckets` index of a key: a 30-bit hash, so the Map key stays a small integer (a full
 * int32 outside V8's Smi range is a heap number: allocated and hashed as a double on every
 * lookup). Equal keys share a bucket; NAT keeps using `hashKey`, so its choices do not change.
 */
function bucketOf(k: Int32Array): number {
  // Its own, cheaper mix (the index only spreads keys; chains compare whole keys): the IPv6-only
  // address words are folded into one, so an IPv4 key costs five multiplies, not thirteen.
  const x = k[K_SRC + 1]! ^ k[K_SRC + 2]! ^ k[K_SRC + 3]! ^ Math.imul(k[K_DST + 1]! ^ k[K_DST + 2]! ^ k[K_DST + 3]!, 31);
  let h = Math.imul(k[K_ZONE]! ^ (k[K_PROTO]! << 16) ^ (k[K_V6]! << 24), 0x9e3779b1);
  h = Math.imul(h ^ k[K_SRC]!, 0x85ebca6b);
  h = Math.imul(h ^ k[K_DST]! ^ x, 0xc2b2ae35);
  h = Math.imul(h ^ k[K_SP]!, 0x9e3779b1);
  h = Math.imul(h ^ k[K_DP]!, 0x85ebca6b);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

function sameKey(a: Int32Array, b: Int32Array): boolean {
  for (let i = 0; i < KEY_LEN; i++) if (a[i] !== b[i]) return false;
  return true;
}

function reverseKey(k: Int32Array): Int32Array {
  const r = k.slice();
  for (let i = 0; i < 4; i++) {
    r[K_SRC + i] = k[K_DST + i]!;
    r[K_DST + i] = k[K_SRC + i]!;
  }
  r[K_SP] = k[K_DP]!;
  r[K_DP] = k[K_SP]!;
  return r;
}

/** `w.set(label, W_CT_LABEL)` without the builtin call (four words, twice per tracked packet). */
function copyLabel(w: Int32Array, label: Int32Array): void {
  w[W_CT_LABEL] = label[0]!;
  w[W_CT_LABEL + 1] = label[1]!;
  w[W_CT_LABEL + 2] = label[2]!;
  w[W_CT_LABEL + 3] = label[3]!;
}

const ICMP4_REV: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15 };
const ICMP6_REV: Record<number, number> = { 128: 129, 129: 128 };
const ICMP4_ERR = new Set([3, 4, 5, 11, 12]);
const ICMP6_ERR = new Set([1, 2, 3, 4]);

export class Conntrack {
  private readonly buckets = new Map<number, Node>();
  private readonly conns = new Set<Conn>();
  private readonly zoneCount = new Map<number, number>();
  private lastSweepNs = -Infinity;
  limit: number;
  defaultZoneLimit: number;
  readonly zoneLimits: Map<number, number>;
  /** Bumped when a connection is created or removed (statistics, tests). */
  generation = 0;
  private readonly key = new Int32Array(KEY_LEN);
  private readonly seg: TcpSeg = { flags: 0, seq: 0, ack: 0, win: 0, len: 0, wscale: 0 };

  constructor(opts: ConntrackOptions = {}) {
    this.limit = opts.limit ?? DEFAULT_CT_LIMIT;
    this.defaultZoneLimit = opts.defaultZoneLimit ?? 0;
    this.zoneLimits = new Map(Object.entries(opts.zoneLimits ?? {}).map(([z, l]) => [Number(z), l]));
  }

  get size(): number {
    return this.conns.size;
  }

  zoneSize(zone: number): number {
    return this.zoneCount.get(zone) ?? 0;
  }

  /** `conntrack_flush`. */
  flush(): void {
    this.buckets.clear();
    this.conns.clear();
    this.zoneCount.clear();
    this.generation++;
  }

  /**
   * `conntrack_execute` for one packet: `process_one_fast` when the packet already carries its
   * connection from an earlier ct() in the same zone (`md.conn`, no `force`), else `process_one`.
   */
  execute(p: CtPacket, x: CtExec, nowNs: number): void {
    const w = p.w;
    const cached = (x.conn ?? null) as Conn | null;
    // vfab's key words are the packet metadata only while they still hold the ct fields (a
    // recirculated pass); after a ct() in the same pass cleared them, the slow path runs.
    if (cached !== null && w[W_CT_STATE] !== 0 && cached.zone === x.zone && !x.force) {
      this.executeFast(w, x, cached);
      return;
    }
    this.processOne(p, x, nowNs);
  }

  /**
   * `process_one_fast`: no lookup and no state update; ct_state and the original tuple stay as
   * the earlier ct() set them; zone, mark and label are written (a `nat` translates, once per zone).
   */
  private executeFast(w: Int32Array, x: CtExec, conn: Conn): void {
    if (x.nat !== null) {
      this.handleNat(w, conn, x.zone, x.reply ?? false);
      x.conn = null;
    }
    w[W_CT_ZONE] = x.zone;
    if (x.markMask !== 0) conn.mark = (conn.mark & ~x.markMask) | (x.markValue & x.markMask);
    if (x.labelMask) for (let i = 0; i < 4; i++) conn.label[i] = (conn.label[i]! & ~x.labelMask[i]!) | (x.labelValue![i]! & x.labelMask[i]!);
    w[W_CT_MARK] = conn.mark;
    copyLabel(w, conn.label);
  }

  /** `process_one`: runs the packet through the tracker, writing the ct words (and NAT). */
  private processOne(p: CtPacket, x: CtExec, nowNs: number): void {
    const w = p.w;
    x.conn = null;
    // Reset ct_state whenever entering a new zone.
    if (w[W_CT_STATE] !== 0 && w[W_CT_ZONE] !== x.zone) w[W_CT_STATE] = 0;
    const related = this.extract(p, x.zone);
    if (related === null) {
      // conn_key_extract failed: +inv+trk, no connection.
      w[W_CT_STATE] = CS_INVALID;
      this.writeMd(w, x.zone, null, null);
      return;
    }
    const key = this.key;
    const natted = (w[W_CT_STATE]! & (CS_SRC_NAT | CS_DST_NAT)) !== 0;
    let found = this.lookup(natted ? reverseKey(key) : key, nowNs);
    let reply = found ? found.reply : false;
    if (found && natted) reply = !reply;
    let conn = found ? found.conn : null;
    let keyUsed: Int32Array = found && natted ? (reply ? conn!.rev : conn!.fwd) : key;
    if (x.force && reply && conn) {
      this.remove(conn);
      conn = null;
      found = null;
    }
    let create = false;
    if (conn) {
      if (related) {
        w[W_CT_STATE] = w[W_CT_STATE]! | CS_RELATED | (reply ? CS_REPLY_DIR : 0);
      } else {
        const res = this.update(conn, p, reply, nowNs);
        if (res === UPDATE_VALID) w[W_CT_STATE] = ((w[W_CT_STATE]! | CS_ESTABLISHED) & ~CS_NEW) | (reply ? CS_REPLY_DIR : 0);
        else if (res === UPDATE_INVALID) w[W_CT_STATE] = CS_INVALID;
        else if (res === UPDATE_NEW) {
          this.remove(conn);
          create = true;
        } else w[W_CT_STATE] = w[W_CT_STATE]! | CS_NEW;
      }
      if (x.nat !== null && !create) this.handleNat(w, conn, x.zone, reply);
    } else if (related) w[W_CT_STATE] = CS_INVALID;
    else create = true;
    if (create) {
      conn = this.notFound(p, key, x, nowNs);
      keyUsed = key;
    }
    this.writeMd(w, x.zone, conn, keyUsed);
    if (conn) {
      if (x.markMask !== 0) conn.mark = (conn.mark & ~x.markMask) | (x.markValue & x.markMask);
      if (x.labelMask) for (let i = 0; i < 4; i++) conn.label[i] = (conn.label[i]! & ~x.labelMask[i]!) | (x.labelValue![i]! & x.labelMask[i]!);
      w[W_CT_MARK] = conn.mark;
      copyLabel(w, conn.label);
      // set_cached_conn: the packet keeps its connection unless NAT was asked for.
      if (x.nat === null) {
        x.conn = conn;
        x.reply = reply;
      }
    }
  }

  /** Fills `this.key` from the packet. Returns null when it is not trackable, else whether it is an ICMP error (related). */
  private extract(p: CtPacket, zone: number): boolean | null {
    const w = p.w;
    const k = this.key;
    const dl = w[W_DL_TYPE];
    if (dl !== ETH_TYPE_IP && dl !== ETH_TYPE_IPV6) return null;
    if (w[W_NW_FRAG] !== 0) return null;
    const v6 = dl === ETH_TYPE_IPV6;
    const proto = w[W_NW_PROTO]!;
    k[K_ZONE] = zone;
    k[K_PROTO] = proto;
    k[K_V6] = v6 ? 1 : 0;
    if (v6) {
      for (let i = 0; i < 4; i++) {
        k[K_SRC + i] = w[W_IPV6_SRC + i]!;
        k[K_DST + i] = w[W_IPV6_DST + i]!;
      }
    } else {
      k.fill(0, K_SRC, K_SP);
      k[K_SRC] = w[W_NW_SRC]!;
      k[K_DST] = w[W_NW_DST]!;
    }
    if (proto === 6 || proto === 17 || proto === 132) {
      k[K_SP] = w[W_TP_SRC]!;
      k[K_DP] = w[W_TP_DST]!;
      return false;
    }
    const icmp = (!v6 && proto === 1) || (v6 && proto === 58);
    if (!icmp) return null;
    const type = w[W_TP_SRC]!;
    const rev = v6 ? ICMP6_REV : ICMP4_REV;
    const errs = v6 ? ICMP6_ERR : ICMP4_ERR;
    if (errs.has(type)) return this.extractInner(p, zone, v6) ? true : null;
    const f = p.frame;
    const o = p.l4;
    const id = f !== null && o >= 0 && f.length >= o + 8 ? (f[o + 4]! << 8) | f[o + 5]! : 0;
    const r = rev[type];
    // Only queries and their replies are tracked (extract_l4_icmp: others are invalid).
    if (r === undefined) return null;
    k[K_SP] = (type << 16) | id;
    k[K_DP] = (r << 16) | id;
    return false;
  }

  /** The connection an ICMP error is about: the quoted header, reversed (extract_l4_icmp). */
  private extractInner(p: CtPacket, zone: number, v6: boolean): boolean {
    const f = p.frame;
    if (f === null || p.l4 < 0) return false;
    const o = p.l4 + 8;
    const k = this.key;
    let proto: number;
    let l4: number;
    if (!v6) {
      if (f.length < o + 20 || f[o]! >> 4 !== 4) return false;
      const ihl = (f[o]! & 0xf) * 4;
      proto = f[o + 9]!;
      l4 = o + ihl;
      k.fill(0, K_SRC, K_SP);
      k[K_SRC] = (f[o + 12]! << 24) | (f[o + 13]! << 16) | (f[o + 14]! << 8) | f[o + 15]!;
      k[K_DST] = (f[o + 16]! << 24) | (f[o + 17]! << 16) | (f[o + 18]! << 8) | f[o + 19]!;
    } else {
      if (f.length < o + 40 || f[o]! >> 4 !== 6) return false;
      proto = f[o + 6]!;
      l4 = o + 40;
      for (let i = 0; i < 4; i++) {
        const a = o + 8 + 4 * i;
        const b = o + 24 + 4 * i;
        k[K_SRC + i] = (f[a]! << 24) | (f[a + 1]! << 16) | (f[a + 2]! << 8) | f[a + 3]!;
        k[K_DST + i] = (f[b]! << 24) | (f[b + 1]! << 16) | (f[b + 2]! << 8) | f[b + 3]!;
      }
    }
    if (f.length < l4 + 8) return false;
    k[K_ZONE] = zone;
    k[K_PROTO] = proto;
    k[K_V6] = v6 ? 1 : 0;
    if (proto === 6 || proto === 17 || proto === 132) {
      k[K_SP] = (f[l4]! << 8) | f[l4 + 1]!;
      k[K_DP] = (f[l4 + 2]! << 8) | f[l4 + 3]!;
    } else if ((proto === 1 && !v6) || (proto === 58 && v6)) {
      const type = f[l4]!;
      const r = (v6 ? ICMP6_REV : ICMP4_REV)[type];
      if (r === undefined) return false;
      const id = (f[l4 + 4]! << 8) | f[l4 + 5]!;
      k[K_SP] = (type << 16) | id;
      k[K_DP] = (r << 16) | id;
    } else return false;
    this.key.set(reverseKey(k));
    return true;
  }

  private lookup(key: Int32Array, nowNs: number): Node | null {
    for (let n = this.buckets.get(bucketOf(key)) ?? null; n !== null; n = n.next) {
      if (!sameKey(n.key, key)) continue;
      if (n.conn.expiresNs <= nowNs) {
        this.remove(n.conn);
        return null;
      }
      return n;
    }
    return null;
  }

  private insert(key: Int32Array, conn: Conn, reply: boolean): void {
    const h = bucketOf(key);
    this.buckets.set(h, { key, conn, reply, next: this.buckets.get(h) ?? null });
  }

  private unlink(key: Int32Array, conn: Conn): void {
    const h = bucketOf(key);
    let prev: Node | null = null;
    for (let n = this.buckets.get(h) ?? null; n !== null; prev = n, n = n.next) {
      if (n.conn !== conn || !sameKey(n.key, key)) continue;
      if (prev) prev.next = n.next;
      else if (n.next) this.buckets.set(h, n.next);
      else this.buckets.delete(h);
      return;
    }
  }

  private remove(conn: Conn): void {
    if (!this.conns.delete(conn)) return;
    this.unlink(conn.fwd, conn);
    this.unlink(conn.rev, conn);
    this.zoneCount.set(conn.zone, (this.zoneCount.get(conn.zone) ?? 1) - 1);
    this.generation++;
  }

  private sweep(nowNs: number): void {
    this.lastSweepNs = nowNs;
    for (const c of [...this.conns]) if (c.expiresNs <= nowNs) this.remove(c);
  }

  private readSeg(p: CtPacket): TcpSeg {
    const s = this.seg;
    const f = p.frame;
    const o = p.l4;
    s.flags = p.w[W_TCP_FLAGS]!;
    s.seq = s.ack = s.win = s.len = s.wscale = 0;
    if (f === null || o < 0 || f.length < o + 20) return s;
    s.seq = (f[o + 4]! << 24) | (f[o + 5]! << 16) | (f[o + 6]! << 8) | f[o + 7]!;
    s.ack = (f[o + 8]! << 24) | (f[o + 9]! << 16) | (f[o + 10]! << 8) | f[o + 11]!;
    s.win = (f[o + 14]! << 8) | f[o + 15]!;
    const hdr = (f[o + 12]! >> 4) * 4;
    const l3 = p.l3;
    let total: number;
    if (f[l3]! >> 4 === 4) total = ((f[l3 + 2]! << 8) | f[l3 + 3]!) + l3;
    else total = ((f[l3 + 4]! << 8) | f[l3 + 5]!) + l3 + 40;
    s.len = Math.max(0, Math.min(total, f.length) - o - hdr);
    if (s.flags & 0x02) s.wscale = tcpWscale(f, o, hdr);
    return s;
  }

  private update(conn: Conn, p: CtPacket, reply: boolean, nowNs: number): number {
    if (conn.kind === 'tcp') {
      const res = tcpUpdate(conn.peers!, this.readSeg(p), reply);
      const tm = tcpResult.timeout;
      if (tm !== 0) conn.expiresNs = nowNs + tm * NS;
      return res;
    }
    if (conn.kind === 'icmp') {
      let res = UPDATE_VALID;
      if (reply && conn.state === 0) conn.state = 1;
      else if (conn.state === 0) res = UPDATE_VALID_NEW;
      conn.expiresNs = nowNs + (conn.state === 0 ? TM_ICMP_FIRST : TM_ICMP_REPLY) * NS;
      return res;
    }
    if (reply && conn.state !== 2) conn.state = 2;
    else if (conn.state === 0) conn.state = 1;
    conn.expiresNs = nowNs + (conn.state === 0 ? TM_OTHER_FIRST : conn.state === 1 ? TM_OTHER_MULTIPLE : TM_OTHER_BIDIR) * NS;
    return conn.state === 2 ? UPDATE_VALID : UPDATE_VALID_NEW;
  }

  private zoneLimit(zone: number): number {
    return this.zoneLimits.get(zone) ?? this.defaultZoneLimit;
  }

  private full(zone: number): boolean {
    const zl = this.zoneLimit(zone);
    return this.conns.size >= this.limit || (zl > 0 && this.zoneSize(zone) >= zl);
  }

  /** `conn_not_found`. */
  private notFound(p: CtPacket, key: Int32Array, x: CtExec, nowNs: number): Conn | null {
    const w = p.w;
    const proto = key[K_PROTO]!;
    const kind = proto === 6 ? 'tcp' : proto === 1 || proto === 58 ? 'icmp' : 'other';
    const seg = kind === 'tcp' ? this.readSeg(p) : null;
    const validNew = kind === 'tcp' ? tcpValidNew(seg!.flags) : kind === 'icmp' ? [8, 13, 15, 128].includes(key[K_SP]! >>> 16) : true;
    if (!validNew) {
      w[W_CT_STATE] = CS_INVALID;
      return null;
    }
    w[W_CT_STATE] = CS_NEW;
    if (!x.commit) return null;
    if (this.full(x.zone) && nowNs - this.lastSweepNs >= NS) this.sweep(nowNs);
    if (this.full(x.zone)) return null;
    const fwd = key.slice();
    const tm = kind === 'tcp' ? 30 : kind === 'icmp' ? TM_ICMP_FIRST : TM_OTHER_FIRST;
    const conn: Conn = {
      fwd,
      rev: reverseKey(fwd),
      kind,
      peers: kind === 'tcp' ? tcpNewConn(seg!) : null,
      state: 0,
      expiresNs: nowNs + tm * NS,
      mark: 0,
      label: new Int32Array(4),
      nat: 0,
      zone: x.zone,
    };
    const n = x.nat;
    if (n !== null && (n.src || n.dst) && n.af !== 0) {
      conn.nat = n.src ? NAT_SRC : NAT_DST;
      if (!this.natTuple(conn, n, nowNs)) return null;
      this.natPacket(w, conn, false);
    }
    this.insert(conn.fwd, conn, false);
    this.insert(conn.rev, conn, true);
    this.conns.add(conn);
    this.zoneCount.set(x.zone, this.zoneSize(x.zone) + 1);
    this.generation++;
    return conn;
  }

  /**
   * `nat_get_unique_tuple`: the reply key with the translated address and port. The address is
   * picked in the range by a hash of the original key; the port keeps the original one when no
   * range is given, else starts at a hashed place in the range, and moves on while the reply key
   * is taken. False when the range is exhausted.
   */
  private natTuple(conn: Conn, n: NatSpec, nowNs: number): boolean {
    const fwd = conn.fwd;
    const rev = conn.rev;
    const h = hashKey(fwd) >>> 0;
    const at = n.src ? K_DST : K_SRC; // rev.dst is the SNAT address, rev.src the DNAT one
    const portAt = n.src ? K_DP : K_SP;
    if (n.af === 4) {
      const lo = n.minAddr[0]! >>> 0;
      const hi = n.maxAddr[0]! >>> 0;
      rev[at] = (lo + (hi > lo ? h % (hi - lo + 1) : 0)) | 0;
    } else {
      for (let i = 0; i < 4; i++) rev[at + i] = n.minAddr[i]!;
      // IPv6 ranges: the low word varies (a range wider than 2^32 addresses uses its first 2^32).
      const lo = n.minAddr[3]! >>> 0;
      const hi = n.maxAddr.every((v, i) => i === 3 || v === n.minAddr[i]) ? n.maxAddr[3]! >>> 0 : 0xffffffff;
      rev[at + 3] = (lo + (hi > lo ? h % (hi - lo + 1) : 0)) | 0;
    }
    const proto = fwd[K_PROTO]!;
    const pat = proto === 6 || proto === 17 || proto === 132;
    if (!pat) return this.lookup(rev, nowNs) === null;
    const orig = rev[portAt]!;
    let lo = n.minPort;
    let hi = n.maxPort === 0 ? n.minPort : n.maxPort;
    let start = orig;
    if (lo === 0) {
      // No port range: keep the original port if it is free, else search the ephemeral range.
      if (this.lookup(rev, nowNs) === null) return true;
      lo = 1024;
      hi = 65535;
    } else start = lo + (h % (hi - lo + 1));
    const size = hi - lo + 1;
    for (let i = 0; i < size; i++) {
      rev[portAt] = lo + ((start - lo + i) % size);
      if (this.lookup(rev, nowNs) === null) return true;
    }
    return false;
  }

  /** `handle_nat`: translate once per zone. */
  private handleNat(w: Int32Array, conn: Conn, zone: number, reply: boolean): void {
    const st = w[W_CT_STATE]!;
    if (conn.nat === 0) return;
    if (st & (CS_SRC_NAT | CS_DST_NAT) && zone === w[W_CT_ZONE]) return;
    w[W_CT_STATE] = st & ~(CS_SRC_NAT | CS_DST_NAT);
    this.natPacket(w, conn, reply);
  }

  /** `nat_packet`: rewrites addresses/ports to the other direction's key; reply traffic reverses the action. */
  private natPacket(w: Int32Array, conn: Conn, reply: boolean): void {
    const key = reply ? conn.fwd : conn.rev;
    const action = reply ? (conn.nat === NAT_SRC ? NAT_DST : NAT_SRC) : conn.nat;
    w[W_CT_STATE] = w[W_CT_STATE]! | (action === NAT_SRC ? CS_SRC_NAT : CS_DST_NAT);
    const v6 = key[K_V6] === 1;
    const proto = key[K_PROTO]!;
    const pat = proto === 6 || proto === 17 || proto === 132;
    if (action === NAT_SRC) {
      if (v6) for (let i = 0; i < 4; i++) w[W_IPV6_SRC + i] = key[K_DST + i]!;
      else w[W_NW_SRC] = key[K_DST]!;
      if (pat) w[W_TP_SRC] = key[K_DP]!;
    } else {
      if (v6) for (let i = 0; i < 4; i++) w[W_IPV6_DST + i] = key[K_SRC + i]!;
      else w[W_NW_DST] = key[K_SRC]!;
      if (pat) w[W_TP_DST] = key[K_SP]!;
    }
  }

  /** `write_ct_md`: +trk, zone, mark/label and the original tuple. */
  private writeMd(w: Int32Array, zone: number, conn: Conn | null, key: Int32Array | null): void {
    w[W_CT_STATE] = w[W_CT_STATE]! | CS_TRACKED;
    w[W_CT_ZONE] = zone;
    w[W_CT_MARK] = conn ? conn.mark : 0;
    if (conn) copyLabel(w, conn.label);
    else w.fill(0, W_CT_LABEL, W_CT_LABEL + 4);
    const k = conn ? conn.fwd : key;
    if (k && k[K_V6] === 0) {
      const icmp = k[K_PROTO] === 1;
      w[W_CT_NW_SRC] = k[K_SRC]!;
      w[W_CT_NW_DST] = k[K_DST]!;
      w[W_CT_NW_PROTO] = k[K_PROTO]!;
      // ICMP: the type and code of the original direction (code 0: not kept in the key).
      w[W_CT_TP_SRC] = icmp ? k[K_SP]! >>> 16 : k[K_SP]!;
      w[W_CT_TP_DST] = icmp ? 0 : k[K_DP]!;
      w.fill(0, W_CT_IPV6_SRC, W_CT_IPV6_DST + 4);
    } else {
      w[W_CT_NW_SRC] = 0;
      w[W_CT_NW_DST] = 0;
      // ct_ipv6_src/dst: the IPv6 original tuple (zero when there is no connection).
      for (let i = 0; i < 4; i++) {
        w[W_CT_IPV6_SRC + i] = k ? k[K_SRC + i]! : 0;
        w[W_CT_IPV6_DST + i] = k ? k[K_DST + i]! : 0;
      }
      w[W_CT_NW_PROTO] = k ? k[K_PROTO]! : 0;
      w[W_CT_TP_SRC] = k ? k[K_SP]! & 0xffff : 0;
      w[W_CT_TP_DST] = k ? k[K_DP]! & 0xffff : 0;
    }
  }

  /** Connections as `ovs-appctl dpctl/dump-conntrack` lists them (one line each, sorted). */
  dump(nowNs: number): string[] {
    const out: string[] = [];
    const ip = (k: Int32Array, at: number): string =>
      k[K_V6] ? [0, 1, 2, 3].map((i) => (k[at + i]! >>> 0).toString(16).padStart(8, '0')).join('') : [24, 16, 8, 0].map((s) => (k[at]! >>> s) & 255).join('.');
    const tuple = (k: Int32Array): string => {
      const p = k[K_PROTO];
      const base = `src=${ip(k, K_SRC)},dst=${ip(k, K_DST)}`;
      if (p === 1 || p === 58) return `${base},id=${k[K_SP]! & 0xffff},type=${k[K_SP]! >>> 16},code=0`;
      return `${base},sport=${k[K_SP]},dport=${k[K_DP]}`;
    };
    const name = (p: number): string => (p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 1 ? 'icmp' : p === 58 ? 'icmpv6' : p === 132 ? 'sctp' : String(p));
    for (const c of this.conns) {
      if (c.expiresNs <= nowNs) continue;
      let s = `${name(c.fwd[K_PROTO]!)},orig=(${tuple(c.fwd)}),reply=(${tuple(c.rev)})`;
      if (c.zone !== 0) s += `,zone=${c.zone}`;
      if (c.mark !== 0) s += `,mark=${c.mark >>> 0}`;
      out.push(s);
    }
    return out.sort();
  }
}
