/**
 * Bare-bridge trace: one bridge, a flow table, ports with VLAN settings, and packets in
 * `ofproto/trace` flow syntax, processed in order with MAC learning carried from one to the
 * next (as `ofproto/trace … -generate` does), so learning and VM-migration sequences replay.
 *
 * Each packet's result lists the output ports, the VLAN each copy leaves with and the header
 * fields rewritten relative to the input packet, or the drop reason. `vfab trace --flows` is a
 * thin layer over `BridgeTracer`; the OVS differential test uses it too.
 */
import { UserError } from '../errors.js';
import { Simulation } from '../sim/simulation.js';
import { extractFlowKey } from '../wire/extract.js';
import { emptyFlowKey } from '../wire/flow-key.js';
import { Bridge } from './bridge.js';
import {
  ETH_TYPE_ARP,
  ETH_TYPE_RARP,
  KEY_WORDS,
  PACKET_WORDS,
  OFPP_LOCAL,
  VLAN_CFI,
  W_ARP_SHA_HI,
  W_ARP_THA_HI,
  W_DL_DST_HI,
  W_DL_SRC_HI,
  W_DL_TYPE,
  W_IN_PORT,
  W_IPV6_DST,
  W_IPV6_SRC,
  W_NW_DST,
  W_NW_PROTO,
  W_NW_SRC,
  W_NW_TOS,
  W_NW_TTL,
  W_TP_DST,
  W_TP_SRC,
  W_VLAN_TCI,
  formatIpv4,
  formatIpv6,
  formatMac,
  keyWordsFromFlowKey,
  macFromWords,
} from './fields.js';
import { parseTraceFlow } from './flow-parser.js';
import type { OfVersion } from './flow-syntax.js';
import { buildTraceFrame } from './trace-packet.js';
import { renderOvsTrace, type OvsTrace } from './ovs-trace-format.js';
import { formatOfpacts } from './ofpact-format.js';
import { formatCtState } from './xlate-ct.js';
import { TlvTable } from './tun-metadata.js';
import type { PacketState } from './rewrite.js';
import type { VlanMode } from './vlan.js';

export interface TracePortSpec {
  name: string;
  ofport: number;
  tag?: number;
  trunks?: number[];
  vlanMode?: VlanMode;
  /** The port's link is down (`:down`): fast-failover buckets watching it are not live. */
  down?: boolean;
  /** A tunnel port (vxlan/geneve): the trace examines what a tunnel output examines (ECN). */
  tunnel?: boolean;
}

const MODES: VlanMode[] = ['access', 'trunk', 'native-tagged', 'native-untagged'];

/** `NAME:OFPORT[:tag=VID][:trunks=VID,VID…][:vlan_mode=M][:down]` (the `--port` flag). */
export function parsePortSpec(s: string, where = '--port'): TracePortSpec {
  const parts = s.split(':');
  const name = parts[0] ?? '';
  const bad = (msg: string): UserError => new UserError('TRACE_BAD_PORT', `"${s}": ${msg}`, { where, hint: 'e.g. --port p1:1 --port p2:2:tag=10 --port p3:3:trunks=10,20:vlan_mode=native-untagged' });
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === 'LOCAL') throw bad('expected NAME:OFPORT');
  const ofport = Number(parts[1]);
  if (parts[1] === undefined || !/^\d+$/.test(parts[1]) || ofport < 1 || ofport >= 0xff00) throw bad('OFPORT must be an integer in 1..65279');
  const spec: TracePortSpec = { name, ofport };
  const vlan = (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) > 4095) throw bad(`VLAN "${v}" is not in 0..4095`);
    return Number(v);
  };
  for (const opt of parts.slice(2)) {
    const eq = opt.indexOf('=');
    const k = eq < 0 ? opt : opt.slice(0, eq);
    const v = eq < 0 ? '' : opt.slice(eq + 1);
    if (k === 'down' && eq < 0) spec.down = true;
    else if (k === 'tag') spec.tag = vlan(v);
    else if (k === 'trunks') spec.trunks = v === '' ? [] : v.split(',').map(vlan);
    else if (k === 'vlan_mode') {
      if (!MODES.includes(v as VlanMode)) throw bad(`vlan_mode must be one of ${MODES.join(', ')}`);
      spec.vlanMode = v as VlanMode;
    } else throw bad(`unknown option "${k}" (tag, trunks, vlan_mode, down)`);
  }
  return spec;
}

export interface TraceOutput {
  port: string;
  ofport: number | 'LOCAL';
  /** VLAN ID the copy leaves with; null when untagged. */
  vlan: number | null;
  /** Header fields rewritten relative to the input packet (OVS field names). */
  set: Record<string, string | number>;
}

export interface TraceResult {
  packet: string;
  /** Every output, over all passes. */
  outputs: TraceOutput[];
  drop: string | null;
  /** Translation steps (with `log: true`). */
  log?: string[];
  /** With `ovs: true`: what `ofproto/trace` shows (ovs-trace-format.ts). */
  ovs?: OvsTraceView;
  /**
   * When the packet recirculated (`ct(table=N)`): one entry per pass, the first pass then one per
   * recirculation, with its outputs and the ct_state it started with (`trk|est`; '' untracked).
   */
  passes?: { outputs: TraceOutput[]; ct_state: string }[];
}

/** The `ofproto/trace` view of one packet: the text, and its parts for `--json`. */
export interface OvsTraceView {
  /** The whole human text, as `ovs-appctl ofproto/trace` prints it. */
  text: string;
  /** Rules matched, in translation order. */
  rules: { table: number; priority: number; cookie: string; match: string; actions: string }[];
  flow: string;
  /** `unchanged` or the flow after translation. */
  final_flow: string;
  megaflow: string;
  datapath_actions: string;
}

export interface TracerOptions {
  flows: string;
  flowsFile?: string;
  ports: TracePortSpec[];
  /** Leave LOCAL out of floods (`ovs-ofctl mod-port br0 br0 no-flood`). */
  localNoFlood?: boolean;
  /** Bridge name (LOCAL's name in flows); default br0. */
  bridge?: string;
  /** MAC table size (OVS other_config:mac-table-size); default 8192. */
  macTableSize?: number;
  /** OpenFlow version of `ovs-ofctl -O` (default 10) and `--strict`. */
  protocols?: OfVersion;
  strict?: boolean;
  /** `ovs-ofctl add-groups` / `add-meters` texts, loaded after the ports and before the flows. */
  groups?: string;
  groupsFile?: string;
  meters?: string;
  metersFile?: string;
  /** `ovs-ofctl add-tlv-map` text (`{class=0xffff,type=0x80,len=4}->tun_metadata0`): tun_metadataN fields. */
  tlvMap?: string;
}

/** Fields compared to build `set`, in output order. */
function diffFields(a: Int32Array, b: Int32Array): Record<string, string | number> {
  const set: Record<string, string | number> = {};
  const mac = (name: string, w: number): void => {
    const x = macFromWords(b, w);
    if (x !== macFromWords(a, w)) set[name] = formatMac(x);
  };
  mac('dl_src', W_DL_SRC_HI);
  mac('dl_dst', W_DL_DST_HI);
  const arp = a[W_DL_TYPE] === ETH_TYPE_ARP || a[W_DL_TYPE] === ETH_TYPE_RARP;
  if (b[W_NW_SRC] !== a[W_NW_SRC]) set[arp ? 'arp_spa' : 'nw_src'] = formatIpv4(b[W_NW_SRC]!);
  if (b[W_NW_DST] !== a[W_NW_DST]) set[arp ? 'arp_tpa' : 'nw_dst'] = formatIpv4(b[W_NW_DST]!);
  for (const [name, at] of [['ipv6_src', W_IPV6_SRC], ['ipv6_dst', W_IPV6_DST]] as const) {
    let diff = false;
    for (let i = 0; i < 4; i++) if (a[at + i] !== b[at + i]) diff = true;
    if (diff) set[name] = formatIpv6(b, at);
  }
  if (arp && b[W_NW_PROTO] !== a[W_NW_PROTO]) set['arp_op'] = b[W_NW_PROTO]!;
  if (b[W_NW_TOS] !== a[W_NW_TOS]) set['nw_tos'] = b[W_NW_TOS]!;
  if (b[W_NW_TTL] !== a[W_NW_TTL]) set['nw_ttl'] = b[W_NW_TTL]!;
  if (b[W_TP_SRC] !== a[W_TP_SRC]) set['tp_src'] = b[W_TP_SRC]!;
  if (b[W_TP_DST] !== a[W_TP_DST]) set['tp_dst'] = b[W_TP_DST]!;
  mac('arp_sha', W_ARP_SHA_HI);
  mac('arp_tha', W_ARP_THA_HI);
  const at = a[W_VLAN_TCI]!;
  const bt = b[W_VLAN_TCI]!;
  if (bt & VLAN_CFI && (bt >>> 13) !== (at & VLAN_CFI ? at >>> 13 : 0)) set['dl_vlan_pcp'] = bt >>> 13;
  return set;
}

export class BridgeTracer {
  readonly sim = new Simulation(1);
  readonly bridge: Bridge;
  readonly name: string;
  /** The bridge's OpenFlow version (the `--json` rules' actions are spelled in it). */
  private readonly protocols: OfVersion;
  private readonly fk = emptyFlowKey();

  constructor(opts: TracerOptions) {
    const name = opts.bridge ?? 'br0';
    this.name = name;
    this.protocols = opts.protocols ?? 10;
    // Ports first, so flows may name them; then the flows.
    this.bridge = new Bridge({
      path: name,
      sim: this.sim,
      flows: '',
      ...(opts.macTableSize !== undefined ? { macTableSize: opts.macTableSize } : {}),
      ...(opts.protocols !== undefined ? { protocols: opts.protocols } : {}),
      ...(opts.strict !== undefined ? { strict: opts.strict } : {}),
      ...(opts.tlvMap !== undefined ? { tlv: TlvTable.fromText(opts.tlvMap, '--tlv-map') } : {}),
    });
    const seen = new Set<number>();
    for (const p of opts.ports) {
      if (seen.has(p.ofport)) throw new UserError('TRACE_BAD_PORT', `ofport ${p.ofport} is used twice`, { where: '--port' });
      seen.add(p.ofport);
      this.bridge.addPort({
        name: p.name,
        ofport: p.ofport,
        ...(p.tag !== undefined ? { tag: p.tag } : {}),
        ...(p.trunks !== undefined ? { trunks: p.trunks } : {}),
        ...(p.vlanMode !== undefined ? { vlanMode: p.vlanMode } : {}),
        ...(p.tunnel ? { tunnel: true } : {}),
      });
    }
    if (opts.localNoFlood) this.bridge.setNoFlood('LOCAL', true);
    for (const p of opts.ports) if (p.down) this.bridge.portByName(p.name)!.up = false;
    if (opts.meters !== undefined) this.bridge.loadMeters(opts.meters, { file: opts.metersFile ?? '<meters>', line: 1, col: 1 });
    if (opts.groups !== undefined) this.bridge.loadGroups(opts.groups, { file: opts.groupsFile ?? '<groups>', line: 1, col: 1 });
    this.bridge.loadFlows(opts.flows, { file: opts.flowsFile ?? '<flows>', line: 1, col: 1 });
    const pending = this.bridge.pendingFlowsError();
    if (pending) throw pending;
  }

  /** Traces one packet. `mayLearn: false` is a side-effect-free trace. */
  /**
   * Traces one packet. `mayLearn: false` is a side-effect-free trace. `ctNext`: the ct_state of
   * the 1st, 2nd … `ct()` recirculation (`ofproto/trace --ct-next`); later ones get trk|new.
   */
  trace(packet: string, opts: { mayLearn?: boolean; log?: boolean; where?: string; line?: number; ovs?: boolean; ctNext?: number[] } = {}): TraceResult {
    const br = this.bridge;
    const { value, mask } = parseTraceFlow(packet, {
      file: opts.where ?? '--packet',
      ...(opts.line !== undefined ? { line: opts.line } : {}),
      portByName: (n) => br.ofportOf(n),
      ...(br.tlv ? { tlv: br.tlv } : {}),
    });
    if (mask[W_IN_PORT] === 0) {
      throw new UserError('TRACE_NO_IN_PORT', `packet "${packet}" has no in_port`, { where: opts.where ?? '--packet' });
    }
    const inPort = value[W_IN_PORT]!;
    const inName = br.portNameOf(inPort);
    if (inName === undefined) {
      throw new UserError('TRACE_NO_IN_PORT', `in_port=${inPort}: no such port`, { where: opts.where ?? '--packet' });
    }
    const frame = buildTraceFrame(value);
    let metadata = false;
    for (let i = PACKET_WORDS; i < KEY_WORDS; i++) if (value[i] !== 0) metadata = true;
    const r = br.trace(inName, frame, { mayLearn: opts.mayLearn ?? true, log: opts.log ?? false, ovsTrace: opts.ovs ?? false, ...(metadata ? { metadata: value } : {}), ctNext: opts.ctNext ?? [] });
    const inWords = new Int32Array(KEY_WORDS);
    extractFlowKey(frame, this.fk);
    keyWordsFromFlowKey(this.fk, inWords);
    const outWords = new Int32Array(KEY_WORDS);
    const outputs: TraceOutput[] = (r?.frames ?? []).map((o) => {
      extractFlowKey(o.frame, this.fk);
      keyWordsFromFlowKey(this.fk, outWords);
      const tci = outWords[W_VLAN_TCI]!;
      return {
        port: o.ofport === OFPP_LOCAL ? 'LOCAL' : o.name,
        ofport: o.ofport === OFPP_LOCAL ? 'LOCAL' : o.ofport,
        vlan: tci & VLAN_CFI ? tci & 0xfff : null,
        set: diffFields(inWords, outWords),
      };
    });
    const res: TraceResult = {
      packet,
      outputs,
      drop: outputs.length === 0 ? (r?.xlate.drop ?? 'no-output') : null,
    };
    if (opts.log && r?.xlate.log) res.log = r.xlate.log;
    const passes = r?.xlate.passes;
    if (passes) res.passes = passes.map((p) => ({ outputs: outputs.slice(p.start, p.end), ct_state: formatCtState(p.ctState) }));
    const x = r?.xlate;
    if (opts.ovs && x?.trace && x.wc && x.initial && x.final) {
      const flow = Int32Array.from(value);
      flow[W_IN_PORT] = inPort;
      const error = x.drop === 'resubmit-depth' || x.drop === 'resubmit-limit' || x.drop === 'recirc-action-set';
      const odp = (i: number, start: number): { at: number; text: string; state?: PacketState }[] => (x.odpCt ?? []).filter((d) => d.pass === i).map((d) => ({ at: d.at - start, text: d.text, ...(d.state ? { state: d.state } : {}) }));
      const first = x.passes?.[0];
      const t: OvsTrace = { ...(br.tlv ? { tlv: br.tlv } : {}), bridge: this.name, flow, initial: x.initial, final: x.final, finalInner: x.finalInner ?? 0, nodes: x.trace, wc: x.wc, outputs: first ? x.outputs.slice(first.start, first.end) : x.outputs, error, odp: odp(0, 0) };
      // The first pass's text is what the JSON fields describe (ofproto/trace's first packet).
      const firstText = renderOvsTrace(t);
      let text = firstText;
      // ofproto_trace: each recirculation is then traced as a packet of its own, under a banner.
      (x.passes ?? []).forEach((p, i) => {
        if (i === 0 || !p.trace || !p.wc || !p.initial || !p.final) return;
        const bar = '='.repeat(79);
        text += `\n${bar}\n${(p.header ?? []).join('\n')}\n${bar}\n\n`;
        text += renderOvsTrace({ ...(br.tlv ? { tlv: br.tlv } : {}), bridge: this.name, initial: p.initial, final: p.final, nodes: p.trace, wc: p.wc, outputs: x.outputs.slice(p.start, p.end), error, odp: odp(i, p.start), recircId: p.recircId });
      });
      const line = (p: string): string => firstText.split('\n').find((l) => l.startsWith(p))!.slice(p.length);
      res.ovs = {
        text,
        rules: x.rules.map((rule) => ({ table: rule.table, priority: rule.priority, cookie: `0x${rule.cookie.toString(16)}`, match: rule.matchText, actions: formatOfpacts(rule.actions, { added: this.protocols, version: this.protocols }) })),
        flow: line('Flow: '),
        final_flow: line('Final flow: '),
        megaflow: line('Megaflow: '),
        datapath_actions: line('Datapath actions: '),
      };
    }
    return res;
  }

  /** MAC table rows sorted by (VLAN, MAC), like the oracle's `fdb` command. */
  fdb(): { port: string; vlan: number; mac: string }[] {
    return this.bridge
      .macEntries()
      .map((e) => ({ port: e.port === OFPP_LOCAL ? 'LOCAL' : String(e.port), vlan: e.vlan, mac: formatMac(e.mac) }))
      .sort((x, y) => x.vlan - y.vlan || (x.mac < y.mac ? -1 : x.mac > y.mac ? 1 : 0));
  }
}

/** One-line human form: `Outputs: 3{vlan=20} 4 LOCAL` or `drop (table-miss)`. */
export function formatTraceResult(r: TraceResult): string {
  if (r.outputs.length === 0) return `drop (${r.drop})`;
  return r.outputs
    .map((o) => {
      const edits = [o.vlan === null ? '' : `vlan=${o.vlan}`, ...Object.entries(o.set).map(([k, v]) => `${k}=${v}`)].filter((x) => x);
      return edits.length ? `${o.port}{${edits.join(',')}}` : o.port;
    })
    .join(' ');
}
