/**
 * Translation of `ct(...)` (ofproto-dpif-xlate.c `compose_conntrack_action`,
 * `compose_recirculate_and_fork`) and the recirculation that follows `ct(table=N)`.
 *
 * - The nested `exec(...)` actions set ct_mark / ct_label on the flow first; their bits are what
 *   a commit writes into the connection (`put_ct_mark`, `put_ct_label`).
 * - With a table, the packet is *forked*: a frozen copy (registers and metadata kept, ct fields
 *   as conntrack returns them, `ct_zone` = the zone) resumes at table N after this pass ends.
 * - The current pass then continues "untracked": every ct field is cleared (`flow_clear_conntrack`).
 *
 * Two ways to get the ct fields of the fork:
 * - *run*: the bridge's connection tracker (conntrack.ts) processes the packet, commits, NATs;
 * - *trace*: as `ofproto/trace` (ofproto-dpif-trace.c `ofproto_trace_recirc_node`): nothing is
 *   tracked; the Nth recirculation gets the Nth `--ct-next` flags or `trk|new`, and a `nat` with
 *   a range rewrites the fork to the range's first address and port.
 */
import type { Action } from './actions.js';
import { CS_NEW, CS_TRACKED, formatCt, type CtAction, type NatSpec } from './ct-action.js';
import type { CtExec } from './conntrack.js';
import { W_CT_END, W_CT_LABEL, W_CT_MARK, W_CT_STATE, W_CT_ZONE, W_IPV6_DST, W_IPV6_SRC, W_NW_DST, W_NW_SRC, W_TP_DST, W_TP_SRC } from './fields.js';
import { CT_STATE_NAMES } from './flow-syntax.js';
import { copyState, type PacketState } from './rewrite.js';
import { copySubfield, readSubfield, subfieldWrites } from './subfield.js';

/** One recirculation waiting to run. */
export interface Recirc {
  id: number;
  table: number;
  state: PacketState;
  nat: NatSpec | null;
  depth: number;
  /** The fork's cached connection (`md.conn`, `md.reply`: conntrack.ts `CtExec.conn`). */
  conn: object | null;
  reply: boolean;
}

/**
 * Reused packet states. Allocating a typed array costs far more than filling one, and a
 * tracked packet needs two per pass (the fork, each output). Translations are not reentrant, so
 * `resetPools()` at the start of one makes every pooled state free again: the forks and the
 * outputs of a run-mode translation that ran ct() (never cached) are valid until the next one.
 */
const forkPool: PacketState[] = [];
const outPool: PacketState[] = [];
let forkUsed = 0;
let outUsed = 0;

export function resetPools(): void {
  forkUsed = 0;
  outUsed = 0;
}

function pooled(pool: PacketState[], i: number, s: PacketState): PacketState {
  let p = pool[i];
  if (p === undefined || p.words.length !== s.words.length) {
    p = copyState(s);
    pool[i] = p;
    return p;
  }
  p.words.set(s.words);
  p.tpid = s.tpid;
  p.inner = s.inner;
  return p;
}

/** A copy of `s` for an output of a run-mode translation that ran ct() (see the pools above). */
export function pooledOutput(s: PacketState): PacketState {
  return pooled(outPool, outUsed++, s);
}

/** dpif-netdev.c MAX_RECIRC_DEPTH: deeper recirculation drops the packet. */
export const MAX_RECIRC_DEPTH = 6;

/** `ct_state` flags as `format_flags(…, '|')` prints them (`trk|new`). */
export function formatCtState(s: number): string {
  const out: string[] = [];
  for (let bit = 1; bit <= 0x80; bit <<= 1) if (s & bit) out.push(CT_STATE_NAMES[bit]!);
  return out.join('|');
}

export interface CtCtx {
  st: PacketState;
  /** Trace mode: ct_state for the next recirculations (consumed in order); null = run mode. */
  ctNext: number[] | null;
  recircs: Recirc[];
  nextRecircId: number;
  recircDepth: number;
  uncachable: boolean;
  /** Run mode: the current pass's packet's cached connection (`md.conn`, `md.reply`). */
  conn: object | null;
  reply: boolean;
  log(text: string): void;
  /** Run mode: the bridge, whose tracker runs the packet. */
  br: { conntrackExecute(w: Int32Array, x: CtExec): void };
}

/** Applies the exec actions to the flow; returns the mark/label value and mask they wrote. */
const masks = new Int32Array(5); // scratch: ct_mark, ct_label[0..3]

function execNested(w: Int32Array, actions: readonly (Action | { type: 'nat' })[], x: CtExec): void {
  if (actions.length === 0) {
    // No exec(): nothing written (the common ct(commit) / ct(table=N)), without the scratch work.
    x.markValue = w[W_CT_MARK]!;
    x.markMask = 0;
    x.labelValue = null;
    x.labelMask = null;
    return;
  }
  masks.fill(0);
  for (const a of actions) {
    if (a.type === 'set') {
      for (let j = 0; j < a.words.length; j++) {
        const k = a.words[j]!;
        w[k] = (w[k]! & ~a.masks[j]!) | a.values[j]!;
        masks[k - W_CT_MARK] = masks[k - W_CT_MARK]! | a.masks[j]!;
      }
    } else if (a.type === 'move') {
      copySubfield(a.src, w, a.dst, w);
      const wr = subfieldWrites(a.dst, (1n << BigInt(a.dst.nBits)) - 1n);
      wr.words.forEach((k, j) => (masks[k - W_CT_MARK] = masks[k - W_CT_MARK]! | wr.masks[j]!));
    }
  }
  x.markValue = w[W_CT_MARK]!;
  x.markMask = masks[0]!;
  if (masks[1] !== 0 || masks[2] !== 0 || masks[3] !== 0 || masks[4] !== 0) {
    x.labelValue = w.slice(W_CT_LABEL, W_CT_LABEL + 4);
    x.labelMask = masks.slice(1);
  } else {
    x.labelValue = null;
    x.labelMask = null;
  }
}

/** One CtExec reused by every ct() (the tracker consumes it synchronously; nothing keeps it). */
const scratchExec: CtExec = { zone: 0, commit: false, force: false, nat: null, markValue: 0, markMask: 0, labelValue: null, labelMask: null, conn: null, reply: false };

/** `compose_conntrack_action`. */
export function ctAction(c: CtCtx, a: CtAction): void {
  const w = c.st.words;
  const zone = a.zoneSrc ? Number(readSubfield(a.zoneSrc, w) & 0xffffn) : a.zoneImm;
  const x = scratchExec;
  x.zone = zone;
  x.commit = a.commit;
  x.force = a.force;
  x.nat = a.nat;
  x.conn = c.conn;
  x.reply = c.reply;
  execNested(w, a.actions, x);
  if (c.ctNext === null) {
    c.uncachable = true;
    c.br.conntrackExecute(w, x);
    // The datapath packet keeps its connection (lib/conntrack.c set_cached_conn) for the next
    // ct() on it, in this pass or in the recirculated one.
    c.conn = x.conn ?? null;
    c.reply = x.reply ?? false;
    x.conn = null;
  } else {
    w[W_CT_ZONE] = zone;
  }
  if (a.table !== null) {
    const id = c.nextRecircId++;
    c.recircs.push({ id, table: a.table, state: pooled(forkPool, forkUsed++, c.st), nat: a.nat, depth: c.recircDepth + 1, conn: c.conn, reply: c.reply });
    c.log(`-> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table ${a.table}.`);
  }
  // The ct_* fields exist only in the recirculated pipeline.
  w.fill(0, W_CT_STATE, W_CT_END);
  c.log('-> Sets the packet to an untracked state, and clears all the conntrack fields.');
}

/** Prepares a recirculation's packet (trace mode: the --ct-next flags and the simulated NAT). Returns its header lines. */
export function resumeRecirc(c: CtCtx, r: Recirc, logging: boolean): string[] {
  const w = r.state.words;
  const lines: string[] = [];
  if (c.ctNext === null && !logging) return lines;
  if (c.ctNext !== null) {
    const next = c.ctNext.shift();
    const st = next ?? CS_TRACKED | CS_NEW;
    w[W_CT_STATE] = st;
    lines.push(`recirc(0x${r.id.toString(16)}) - resume conntrack with ${next === undefined ? 'default ct_state=trk|new (use --ct-next to customize)' : `ct_state=${formatCtState(st)}`}`);
    const n = r.nat;
    if (n !== null && n.af !== 0) {
      lines.push('Replacing src/dst IP/ports to simulate NAT');
      if (n.af === 4) w[n.src ? W_NW_SRC : W_NW_DST] = n.minAddr[0]!;
      else for (let i = 0; i < 4; i++) w[(n.src ? W_IPV6_SRC : W_IPV6_DST) + i] = n.minAddr[i]!;
      if (n.minPort !== 0) w[n.src ? W_TP_SRC : W_TP_DST] = n.minPort;
    }
  } else lines.push(`recirc(0x${r.id.toString(16)}) - resume conntrack with ct_state=${formatCtState(w[W_CT_STATE]!)}`);
  lines.push(`Resuming from table ${r.table}`);
  return lines;
}

export { formatCt };

const CT_BITS: Record<string, number> = Object.fromEntries(Object.entries(CT_STATE_NAMES).map(([b, n]) => [n, Number(b)]));

/**
 * `--ct-next FLAGS` (ofproto-dpif-trace.c via lib/flow.c `parse_ct_state` + `validate_ct_state`):
 * flag names separated by commas or spaces (`trk,est`). Returns the bits or an error text.
 */
export function parseCtFlags(text: string): number | string {
  let st = 0;
  for (const name of text.split(/[, ]+/)) {
    if (name === '') continue;
    const bit = CT_BITS[name];
    if (bit === undefined) return `${name}: unknown connection tracking state flag`;
    st |= bit;
  }
  const s = formatCtState(st);
  if (st !== 0 && !(st & CS_TRACKED)) return `${s}: invalid connection state: If "trk" is unset, no other flags are set`;
  if (st & 0x10 && st & ~(CS_TRACKED | 0x10)) return `${s}: invalid connection state: when "inv" is set, only "trk" may also be set`;
  if (st & CS_NEW && st & 0x02) return `${s}: invalid connection state: "new" and "est" are mutually exclusive`;
  if (st & CS_NEW && st & 0x08) return `${s}: invalid connection state: "new" and "rpy" are mutually exclusive`;
  return st;
}
