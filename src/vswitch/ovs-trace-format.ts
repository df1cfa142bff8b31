/**
 * `ofproto/trace`'s human output (ofproto/ofproto-dpif-trace.c, OVS 3.1) for one packet:
 *
 *     Flow: <the packet, flow_format>
 *
 *     bridge("br0")
 *     -------------
 *      0. <match>, priority N[, cookie 0x…]
 *         <action>
 *          -> <detail>   >> <warning>
 *     Final flow: unchanged | <flow_format of the flow after translation>
 *     Megaflow: recirc_id=0,eth,<the bits the lookups examined>
 *     Datapath actions: <odp actions> | drop
 *
 * The node tree comes from xlate.ts (`ovsTrace`), printed with `oftrace_node_print_details`'s
 * indentation rule; the megaflow mask is xlate's wildcards after `xlate_wc_finish`; datapath
 * actions are composed from the outputs the way `commit_odp_actions` does (set(eth), set(ipv4 /
 * ipv6 / arp), set(tcp / udp), VLAN pop/push, then the port; LOCAL is datapath port 100 as on
 * the oracle's dummy datapath).
 */
import {
  ETH_TYPE_ARP,
  ETH_TYPE_IP,
  ETH_TYPE_IPV6,
  ETH_TYPE_RARP,
  KEY_WORDS,
  OFPP_LOCAL,
  PACKET_WORDS,
  VLAN_CFI,
  W_ACTSET_OUTPUT,
  W_ARP_SHA_HI,
  W_ARP_THA_HI,
  W_CONJ_ID,
  W_CT_STATE,
  W_DL_DST_HI,
  W_DL_SRC_HI,
  W_DL_TYPE,
  W_IN_PORT,
  W_IPV6_DST,
  W_IPV6_LABEL,
  W_IPV6_SRC,
  W_METADATA,
  W_ND_TARGET,
  W_NW_DST,
  W_NW_FRAG,
  W_NW_PROTO,
  W_NW_SRC,
  W_NW_TOS,
  W_NW_TTL,
  W_REG0,
  W_TCP_FLAGS,
  W_TP_DST,
  W_TP_SRC,
  W_TUN_DST,
  W_TUN_FLAGS,
  W_TUN_ID,
  W_TUN_SRC,
  W_VLAN_TCI,
  formatIpv4,
  formatIpv6,
  formatMac,
  macFromWords,
  W_TUN_MD_PRESENT,
  W_TUN_MD,
  TUN_MD_WORDS,
  W_CT_IPV6_DST,
  W_CT_IPV6_SRC,
  W_TUN_IPV6_DST,
  W_TUN_IPV6_SRC,
} from './fields.js';
import { formatMatch } from './match-format.js';
import type { TlvTable } from './tun-metadata.js';
import type { PacketState } from './rewrite.js';
import type { TraceNode } from './xlate.js';
import { formatCtState } from './xlate-ct.js';

/** Datapath port number of OpenFlow LOCAL on the oracle's dummy datapath (`br0` → 100). */
export const ODP_LOCAL = 100;

/** `flow_wildcards_init_for_packet` + `flow_format`: the mask a packet's Flow: line shows. */
export function packetMask(w: Int32Array): Int32Array {
  const m = new Int32Array(KEY_WORDS);
  if (w[W_IN_PORT] !== 0) m[W_IN_PORT] = -1;
  // Metadata and registers print only when non-zero (flow_format skips all-zero context fields).
  for (let i = PACKET_WORDS; i < KEY_WORDS; i++) if (w[i] !== 0) m[i] = -1;
  // tun_metadata: the present fields, whole (tun_metadata_match_format prints only those).
  m[W_TUN_MD_PRESENT] = w[W_TUN_MD_PRESENT]!;
  m[W_TUN_MD_PRESENT + 1] = w[W_TUN_MD_PRESENT + 1]!;
  m.fill(-1, W_TUN_MD, W_TUN_MD + TUN_MD_WORDS);
  // An IPv6 original-tuple address is one field: shown whole when any of its words is set.
  for (const at of [W_CT_IPV6_SRC, W_CT_IPV6_DST, W_TUN_IPV6_SRC, W_TUN_IPV6_DST]) if (m[at] || m[at + 1] || m[at + 2] || m[at + 3]) m.fill(-1, at, at + 4);
  m[W_VLAN_TCI] = 0xffff;
  for (const x of [W_DL_SRC_HI, W_DL_SRC_HI + 1, W_DL_DST_HI, W_DL_DST_HI + 1]) m[x] = -1;
  m[W_DL_SRC_HI] = 0xffff;
  m[W_DL_DST_HI] = 0xffff;
  m[W_DL_TYPE] = 0xffff;
  const t = w[W_DL_TYPE];
  const proto = w[W_NW_PROTO]!;
  if (t === ETH_TYPE_IP || t === ETH_TYPE_IPV6) {
    if (t === ETH_TYPE_IP) {
      m[W_NW_SRC] = -1;
      m[W_NW_DST] = -1;
    } else {
      for (let i = 0; i < 4; i++) m[W_IPV6_SRC + i] = m[W_IPV6_DST + i] = -1;
      m[W_IPV6_LABEL] = 0xfffff;
    }
    m[W_NW_PROTO] = 0xff;
    m[W_NW_TOS] = 0xff;
    m[W_NW_TTL] = 0xff;
    m[W_NW_FRAG] = 3;
    if (proto === 6 || proto === 17 || proto === 132 || proto === 1 || proto === 58) {
      m[W_TP_SRC] = 0xffff;
      m[W_TP_DST] = 0xffff;
    }
    if (proto === 6) m[W_TCP_FLAGS] = 0xfff;
    if (t === ETH_TYPE_IPV6 && proto === 58 && (w[W_TP_SRC] === 135 || w[W_TP_SRC] === 136)) {
      for (let i = 0; i < 4; i++) m[W_ND_TARGET + i] = -1;
      m[W_ARP_SHA_HI] = m[W_ARP_THA_HI] = 0xffff;
      m[W_ARP_SHA_HI + 1] = m[W_ARP_THA_HI + 1] = -1;
    }
  } else if (t === ETH_TYPE_ARP || t === ETH_TYPE_RARP) {
    m[W_NW_SRC] = -1;
    m[W_NW_DST] = -1;
    m[W_NW_PROTO] = 0xff;
    m[W_ARP_SHA_HI] = m[W_ARP_THA_HI] = 0xffff;
    m[W_ARP_SHA_HI + 1] = m[W_ARP_THA_HI + 1] = -1;
  }
  return m;
}

function anyWord(w: Int32Array, at: number): boolean {
  return w[at] !== 0 || w[at + 1] !== 0 || w[at + 2] !== 0 || w[at + 3] !== 0;
}

function masked(w: Int32Array, m: Int32Array): Int32Array {
  const v = new Int32Array(KEY_WORDS);
  for (let i = 0; i < KEY_WORDS; i++) v[i] = w[i]! & m[i]!;
  return v;
}

/** Splits leading `ct_*` fields off a match text (match_format prints them before `eth`). */
function splitCt(f: string): [string[], string] {
  const parts = f === '' ? [] : f.split(',');
  let i = 0;
  while (i < parts.length && parts[i]!.startsWith('ct_')) i++;
  return [parts.slice(0, i), parts.slice(i).join(',')];
}

/** `recirc_id=…,ct_…,eth,<rest>` (match_format's order once recirc_id or a ct field is shown). */
function withRecirc(rid: string | null, ct: string[], rest: string): string {
  if (rid === null && ct.length === 0) return rest;
  // The packet type (`eth`) shows only in a megaflow (recirc_id matched; match_format).
  return [...(rid !== null ? [`recirc_id=${rid}`] : []), ...ct, ...(rid !== null ? ['eth'] : []), ...(rest ? [rest] : [])].join(',');
}

/**
 * A packet as `flow_format` prints it; `tagged`: a second (empty) VLAN header slot shows as
 * vlan_tci1. `recircId` (a recirculated pass): recirc_id, then ct_state as flags (`new|trk`).
 */
export function formatFlow(w: Int32Array, portName?: (p: number) => string | undefined, recircId?: number, tlv?: TlvTable, inner = 0): string {
  const m = packetMask(w);
  m[W_CT_STATE] = 0;
  m[W_ACTSET_OUTPUT] = 0; // flow_format does not print the action set's output
  // metadata is one 64-bit field: whole when either word is set.
  if (m[W_METADATA] !== 0 || m[W_METADATA + 1] !== 0) m[W_METADATA] = m[W_METADATA + 1] = -1;
  // flow_wildcards_init_for_packet: a flow with a tunnel destination (flow_tnl_dst_is_set) shows
  // its whole tunnel header, zeros included; tun_id only with FLOW_TNL_F_KEY, a flag vfab's key
  // does not carry (trace flows never set it), so never (recorded from OVS 3.1: test/fixtures/tun-ipv6).
  const tunnel = w[W_TUN_DST] !== 0 || anyWord(w, W_TUN_IPV6_DST);
  if (tunnel) {
    m[W_TUN_SRC] = m[W_TUN_DST] = -1;
    m.fill(-1, W_TUN_IPV6_SRC, W_TUN_IPV6_DST + 4);
    m[W_TUN_ID] = m[W_TUN_ID + 1] = m[W_TUN_FLAGS] = 0;
  } else {
    // lib/flow.c: `else if (flow->tunnel.tun_id)`: only tun_id, whole (64 bits), shows.
    const id = w[W_TUN_ID] !== 0 || w[W_TUN_ID + 1] !== 0 ? -1 : 0;
    m[W_TUN_ID] = m[W_TUN_ID + 1] = id;
    m[W_TUN_SRC] = m[W_TUN_FLAGS] = 0;
    m.fill(0, W_TUN_IPV6_SRC, W_TUN_IPV6_DST + 4);
  }
  let s = formatMatch(masked(w, m), m, portName, tlv);
  if (tunnel) {
    const flags = (w[W_TUN_FLAGS]! & 1) !== 0 ? 'oam' : '0';
    s = s.replace(/(tun_ipv6_dst=[^,]*)/, `$1,tun_gbp_id=0,tun_gbp_flags=0,tun_tos=0,tun_ttl=0,tun_erspan_ver=0,gtpu_flags=0,gtpu_msgtype=0,tun_flags=${flags}`);
  }
  // A VLAN header present (any TCI) leaves the next header slot examined: vlan_tci1 shows.
  // A second 802.1Q tag prints like the first (flow_format: dl_vlan1, dl_vlan_pcp1).
  if (w[W_VLAN_TCI] !== 0 && inner !== 0 && inner >>> 16 === 0x8100) s = s.replace(',dl_src=', `,dl_vlan1=${inner & 0xfff},dl_vlan_pcp1=${(inner >>> 13) & 7},dl_src=`);
  else if (w[W_VLAN_TCI] !== 0) s = s.replace(',dl_src=', ',vlan_tci1=0x0000,dl_src=');
  const [ct, rest] = splitCt(s);
  if (w[W_CT_STATE] !== 0) ct.unshift(`ct_state=${formatCtState(w[W_CT_STATE]!)}`);
  return withRecirc(recircId ? `0x${recircId.toString(16)}` : null, ct, rest);
}

/** ofproto-dpif-xlate.c xlate_wc_finish on the mask `m` of the packet `initial`. */
function xlateWcFinish(initial: Int32Array, m: Int32Array): void {
  // flow_wildcards_clear_non_packet_fields: metadata, registers, actset_output, conj_id.
  m[W_METADATA] = m[W_METADATA + 1] = 0;
  for (let i = 0; i < 16; i++) m[W_REG0 + i] = 0;
  m[W_ACTSET_OUTPUT] = 0;
  m[W_CONJ_ID] = 0;
  const t = initial[W_DL_TYPE];
  const proto = initial[W_NW_PROTO];
  if ((t === ETH_TYPE_IP && proto === 1) || (t === ETH_TYPE_IPV6 && proto === 58)) {
    m[W_TP_SRC] = m[W_TP_SRC]! & 0xff;
    m[W_TP_DST] = m[W_TP_DST]! & 0xff;
  }
  if (m[W_VLAN_TCI] !== 0) m[W_VLAN_TCI] = m[W_VLAN_TCI]! | VLAN_CFI;
  // Header fields the original packet does not have are not matched (a VLAN, a tunnel).
  if ((initial[W_VLAN_TCI]! & VLAN_CFI) === 0) m[W_VLAN_TCI] = 0;
  // flow_tnl_dst_is_set: an IPv4 or an IPv6 outer destination.
  if (initial[W_TUN_DST] === 0 && !anyWord(initial, W_TUN_IPV6_DST)) {
    m[W_TUN_ID] = m[W_TUN_ID + 1] = m[W_TUN_SRC] = m[W_TUN_DST] = m[W_TUN_FLAGS] = 0;
    m.fill(0, W_TUN_MD_PRESENT, W_TUN_MD + TUN_MD_WORDS);
    m.fill(0, W_TUN_IPV6_SRC, W_TUN_IPV6_DST + 4);
  }
}

/**
 * `xlate_wc_finish` on the examined bits, then the `Megaflow:` text. A translation that failed
 * (`error`: resubmit depth, …) leaves xlate_actions by `goto exit` before xlate_wc_finish, so its
 * megaflow keeps every examined bit, tunnel fields of a packet that came from no tunnel included.
 */
export function formatMegaflow(initial: Int32Array, wc: Int32Array, portName?: (p: number) => string | undefined, recircId?: number, tlv?: TlvTable, error = false): string {
  const m = Int32Array.from(wc);
  if (!error) xlateWcFinish(initial, m);
  // ofproto/tunnel.c tnl_wc_init, for a packet received from a tunnel: tun_id exact, the outer
  // addresses of its family exact, tun_tos exact, tun_flags' df/csum/key bits exact.
  const fromTunnel = initial[W_TUN_DST] !== 0 || anyWord(initial, W_TUN_IPV6_DST);
  if (fromTunnel) {
    m[W_TUN_ID] = m[W_TUN_ID + 1] = -1;
    if (initial[W_TUN_DST] !== 0) m[W_TUN_SRC] = m[W_TUN_DST] = -1;
    else m.fill(-1, W_TUN_IPV6_SRC, W_TUN_IPV6_DST + 4);
  }
  let text = formatMatch(masked(initial, m), m, portName, tlv);
  if (fromTunnel) {
    // tnl_wc_init makes df|csum|key exact; a lookup that examined oam too makes the mask every
    // FLOW_TNL_F_MASK bit, which lib/match.c format_flow_tunnel (format_flags_masked with mask ==
    // max_mask) prints as plain flag names: `tun_flags=0`, `tun_flags=oam`.
    const flags = m[W_TUN_FLAGS] === 0 ? '-df-csum-key' : (initial[W_TUN_FLAGS]! & 1) !== 0 ? 'oam' : '0';
    text = text.replace(/,?tun_flags=[+-]oam/, '');
    const extra = `tun_tos=0,tun_flags=${flags}`;
    text = text.replace(initial[W_TUN_DST] !== 0 ? /(tun_dst=[^,]*)/ : /(tun_ipv6_dst=[^,]*)/, `$1,${extra}`);
  }
  const [ct, rest] = splitCt(text);
  return withRecirc(recircId ? `0x${recircId.toString(16)}` : '0', ct, rest);
}

/** `oftrace_node_print_details`. */
export function formatNodes(nodes: readonly TraceNode[], level = 0, out: string[] = []): string[] {
  nodes.forEach((n, i) => {
    const terminal = n.type !== 'table';
    const more = i < nodes.length - 1 || terminal ? 1 : 0;
    const pad = ' '.repeat((level + more) * 4);
    if (n.type === 'detail') out.push(`${pad} -> ${n.text}`);
    else if (n.type === 'warn') out.push(`${pad} >> ${n.text}`);
    else if (n.type === 'error') out.push(`${pad} >>>> ${n.text} <<<<`);
    else out.push(`${pad}${n.text}`);
    formatNodes(n.subs, level + 2 * more, out);
  });
  return out;
}

function hexByte(n: number, m: number): string {
  return m === 0xff ? `0x${n.toString(16)}` : `0x${n.toString(16)}/0x${m.toString(16)}`;
}

/** The VLAN tags of a packet state, outermost first, as [tpid, tci] (an inner tag's CFI restored). */
function vlanStack(tci: number, tpid: number, inner: number): [number, number][] {
  if (!(tci & VLAN_CFI)) return [];
  const s: [number, number][] = [[tpid, tci & 0xffff]];
  if (inner !== 0) s.push([inner >>> 16, (inner & 0xffff) | VLAN_CFI]);
  return s;
}

/** `commit_odp_actions` for one output: what changed relative to `base` (which is updated). */
function commit(base: PacketState, st: PacketState, out: string[], wc?: Int32Array): void {
  const b = base.words;
  const w = st.words;
  const eth: string[] = [];
  if (macFromWords(b, W_DL_SRC_HI) !== macFromWords(w, W_DL_SRC_HI)) eth.push(`src=${formatMac(macFromWords(w, W_DL_SRC_HI))}`);
  if (macFromWords(b, W_DL_DST_HI) !== macFromWords(w, W_DL_DST_HI)) eth.push(`dst=${formatMac(macFromWords(w, W_DL_DST_HI))}`);
  if (eth.length) out.push(`set(eth(${eth.join(',')}))`);
  const t = w[W_DL_TYPE];
  // commit_set_nw_action: "Check if 'flow' really has an L3 header" (nw_proto 0: no IP set).
  if (t === ETH_TYPE_IP && w[W_NW_PROTO] !== 0) {
    const ip: string[] = [];
    if (b[W_NW_SRC] !== w[W_NW_SRC]) ip.push(`src=${formatIpv4(w[W_NW_SRC]!)}`);
    if (b[W_NW_DST] !== w[W_NW_DST]) ip.push(`dst=${formatIpv4(w[W_NW_DST]!)}`);
    const tosDiff = (b[W_NW_TOS]! ^ w[W_NW_TOS]!) & 0xff;
    if (tosDiff) {
      // commit_set_ipv4_action (lib/odp-util.c): the ToS byte is one field of the masked set, its
      // mask the megaflow's nw_tos bits (every ToS bit read or written), so `tos=0xba` once all
      // eight were; at least the changed part (DSCP 0xfc, ECN 0x3) is in it.
      const own = (tosDiff & 0xfc ? 0xfc : 0) | (tosDiff & 3 ? 3 : 0);
      const m = (own | (wc ? wc[W_NW_TOS]! : 0)) & 0xff;
      ip.push(`tos=${hexByte(w[W_NW_TOS]! & m, m)}`);
    }
    if (b[W_NW_TTL] !== w[W_NW_TTL]) ip.push(`ttl=${w[W_NW_TTL]}`);
    if (ip.length) out.push(`set(ipv4(${ip.join(',')}))`);
  } else if (t === ETH_TYPE_IPV6 && w[W_NW_PROTO] !== 0) {
    const ip: string[] = [];
    const diff6 = (at: number): boolean => [0, 1, 2, 3].some((i) => b[at + i] !== w[at + i]);
    if (diff6(W_IPV6_SRC)) ip.push(`src=${formatIpv6(w, W_IPV6_SRC)}`);
    if (diff6(W_IPV6_DST)) ip.push(`dst=${formatIpv6(w, W_IPV6_DST)}`);
    if (b[W_NW_TTL] !== w[W_NW_TTL]) ip.push(`hlimit=${w[W_NW_TTL]}`);
    if (ip.length) out.push(`set(ipv6(${ip.join(',')}))`);
  } else if (t === ETH_TYPE_ARP || t === ETH_TYPE_RARP) {
    const arp: string[] = [];
    if (b[W_NW_SRC] !== w[W_NW_SRC]) arp.push(`sip=${formatIpv4(w[W_NW_SRC]!)}`);
    if (b[W_NW_DST] !== w[W_NW_DST]) arp.push(`tip=${formatIpv4(w[W_NW_DST]!)}`);
    if (b[W_NW_PROTO] !== w[W_NW_PROTO]) arp.push(`op=${w[W_NW_PROTO]}`);
    if (macFromWords(b, W_ARP_SHA_HI) !== macFromWords(w, W_ARP_SHA_HI)) arp.push(`sha=${formatMac(macFromWords(w, W_ARP_SHA_HI))}`);
    if (macFromWords(b, W_ARP_THA_HI) !== macFromWords(w, W_ARP_THA_HI)) arp.push(`tha=${formatMac(macFromWords(w, W_ARP_THA_HI))}`);
    if (arp.length) out.push(`set(arp(${arp.join(',')}))`);
  }
  if (t === ETH_TYPE_IP || t === ETH_TYPE_IPV6) {
    const l4 = ({ 6: 'tcp', 17: 'udp', 132: 'sctp' } as Record<number, string>)[w[W_NW_PROTO]!];
    if (l4) {
      const p: string[] = [];
      if (b[W_TP_SRC] !== w[W_TP_SRC]) p.push(`src=${w[W_TP_SRC]}`);
      if (b[W_TP_DST] !== w[W_TP_DST]) p.push(`dst=${w[W_TP_DST]}`);
      if (p.length) out.push(`set(${l4}(${p.join(',')}))`);
    }
  }
  // commit_vlan_action: flow_skip_common_vlan_headers drops the tags both stacks share from the
  // inside, then the base's remaining tags are popped and the flow's pushed, innermost first
  // (so a push_vlan onto a tagged packet is one push_vlan, the old tag stays).
  const bs = vlanStack(b[W_VLAN_TCI]!, base.tpid, base.inner);
  const ws = vlanStack(w[W_VLAN_TCI]!, st.tpid, st.inner);
  let bn = bs.length;
  let fn = ws.length;
  while (bn > 0 && fn > 0 && bs[bn - 1]![0] === ws[fn - 1]![0] && bs[bn - 1]![1] === ws[fn - 1]![1]) {
    bn--;
    fn--;
  }
  for (let i = bn - 1; i >= 0; i--) {
    out.push('pop_vlan');
    if (wc && i === 0) wc[W_VLAN_TCI] = 0xffff; // the popped tag is matched exactly
  }
  for (let i = fn - 1; i >= 0; i--) {
    const [tpid, tci] = ws[i]!;
    out.push(`push_vlan(${tpid !== 0x8100 ? `tpid=0x${tpid.toString(16)},` : ''}vid=${tci & 0xfff},pcp=${tci >>> 13})`);
  }
  b.set(w);
  base.tpid = st.tpid;
  base.inner = st.inner;
}

/** The `Datapath actions:` text for translation outputs, starting from the packet `initial`. */
export function datapathActions(initial: PacketState, outputs: readonly { ofport: number; state: PacketState }[], wc?: Int32Array, odp: readonly { at: number; text: string; state?: PacketState }[] = []): string {
  if (outputs.length === 0 && odp.length === 0) return 'drop';
  const base: PacketState = { words: Int32Array.from(initial.words), tpid: initial.tpid, inner: initial.inner };
  const out: string[] = [];
  // Datapath ct()/recirc() actions go where they ran: before output number `at`.
  const before = (i: number): void => {
    for (const d of odp) {
      if (d.at !== i) continue;
      // A commit point (execute_controller_action's xlate_commit_actions): pending edits first.
      if (d.state) commit(base, d.state, out, wc);
      if (d.text) out.push(d.text);
    }
  };
  outputs.forEach((o, i) => {
    before(i);
    commit(base, o.state, out, wc);
    out.push(String(o.ofport === OFPP_LOCAL ? ODP_LOCAL : o.ofport));
  });
  before(outputs.length);
  return out.length > 0 ? out.join(',') : 'drop';
}

export interface OvsTrace {
  bridge: string;
  /** The flow as given (`ofproto/trace` prints the parsed flow, e.g. dl_type=0x0000 for an 802.2 frame). */
  flow?: Int32Array;
  /** The packet before translation (key words with in_port and metadata). */
  initial: PacketState;
  /** The flow after translation. */
  final: Int32Array;
  /** Its second VLAN tag (`PacketState.inner`); 0 or absent: none. */
  finalInner?: number;
  nodes: readonly TraceNode[];
  wc: Int32Array;
  outputs: readonly { ofport: number; state: PacketState }[];
  /** A translation error (resubmit limits): OVS drops the packet. */
  error: boolean;
  /** Datapath ct()/recirc() actions, each before output number `at` (of `outputs`); `state`: commit it there first. */
  odp?: readonly { at: number; text: string; state?: PacketState }[];
  /** A recirculated pass: its recirc_id (Flow, Final flow and Megaflow show it). */
  recircId?: number;
  /** The bridge's TLV map (tun_metadataN in the Flow lines). */
  tlv?: TlvTable;
}

function sameFlow(a: Int32Array, b: Int32Array): boolean {
  for (let i = 0; i < KEY_WORDS; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The whole `ofproto/trace` text for one packet. */
export function renderOvsTrace(t: OvsTrace, portName?: (p: number) => string | undefined): string {
  const given = t.flow ?? t.initial.words;
  const lines = [`Flow: ${formatFlow(given, portName, t.recircId, t.tlv)}`, '', `bridge("${t.bridge}")`, '-'.repeat(`bridge("${t.bridge}")`.length)];
  formatNodes(t.nodes, 0, lines);
  lines.push('');
  // Frames with a length field instead of an Ethertype extract as dl_type 0x05ff; the flow given
  // said which value: show that one, as OVS (which traces the parsed flow) does.
  const asGiven = (w: Int32Array): Int32Array => {
    if (w[W_DL_TYPE] !== 0x05ff || given[W_DL_TYPE] === 0x05ff) return w;
    const c = Int32Array.from(w);
    c[W_DL_TYPE] = given[W_DL_TYPE]!;
    return c;
  };
  // OVS prints tun_metadata only for a flow that has a tunnel table (flow->tunnel.metadata.tab,
  // set when the packet came from a tunnel) or whose tunnel destination is set when it is printed
  // (lib/flow.c flow_wildcards_init_for_packet unwildcards the present options only under
  // flow_tnl_dst_is_set): fields set on any other packet do not show.
  const iw = t.initial.words;
  const fw = t.final;
  const fromTunnel = iw[W_TUN_DST] !== 0 || iw[W_TUN_SRC] !== 0 || anyWord(iw, W_TUN_IPV6_SRC) || anyWord(iw, W_TUN_IPV6_DST) || iw[W_TUN_MD_PRESENT] !== 0 || iw[W_TUN_MD_PRESENT + 1] !== 0;
  const finalTunnel = fromTunnel || fw[W_TUN_DST] !== 0 || anyWord(fw, W_TUN_IPV6_DST);
  const finalInner = t.finalInner ?? t.initial.inner;
  lines.push(`Final flow: ${sameFlow(t.initial.words, t.final) && finalInner === t.initial.inner ? 'unchanged' : formatFlow(asGiven(t.final), portName, t.recircId, finalTunnel ? t.tlv : undefined, finalInner)}`);
  // Composing the datapath actions can examine more bits (commit_vlan_action's pop): do it first.
  const wc = Int32Array.from(t.wc);
  const odp = t.error ? 'drop' : datapathActions(t.initial, t.outputs, wc, t.odp);
  lines.push(`Megaflow: ${formatMegaflow(asGiven(t.initial.words), wc, portName, t.recircId, t.tlv, t.error)}`);
  lines.push(`Datapath actions: ${odp}`);
  return `${lines.join('\n')}\n`;
}
