/**
 * The switch side of OpenFlow 1.3 for one vfab bridge: answers each controller message the way
 * an OpenFlow switch must (§6, §7.3), reading and writing the bridge's own flow tables.
 *
 * Invariants: the bridge's flow tables ARE the OpenFlow state (no shadow table); every request
 * gets either its reply, nothing (it needs none), or one ERROR naming the spec's type and code.
 * Nothing here throws on controller input. Virtual time only (`bridge.nowNs()`).
 *
 * Asynchronous messages (§7.4): `flowRemoved` and `portStatus` build the FLOW_REMOVED and
 * PORT_STATUS a bridge sends on its own (fabric/openflow.ts calls them from the flow-table and
 * port hooks), filtered by the SET_ASYNC masks of the current role.
 *
 * Limits (documented in docs/openflow.md): no packet buffering (buffer_id is always NO_BUFFER,
 * a FLOW_MOD/PACKET_OUT naming a buffer gets OFPBRC_BUFFER_UNKNOWN); write_actions and
 * write_metadata → OFPBIC_UNSUP_INST; packet-out supports output actions only.
 */
import { UserError } from '../errors.js';
import type { Port } from '../port/port.js';
import type { Bridge } from '../vswitch/bridge.js';
import type { FlowRemoveReason, FlowRule } from '../vswitch/flow-table.js';
import { parseFlows } from '../vswitch/flow-parser.js';
import type { Action as VAction } from '../vswitch/actions.js';
import { KEY_WORDS, OFPP_LOCAL } from '../vswitch/fields.js';
import { MAX_GROUPS } from '../vswitch/group-parser.js';
import { MAX_BANDS, MAX_METERS } from '../vswitch/meter.js';
import type { Action, Instruction } from './actions.js';
import {
  OFPBAC,
  OFPBRC,
  OFPC,
  OFPCML_NO_BUFFER,
  OFPCR_ROLE,
  OFPET,
  OFPFC,
  OFPFF,
  OFPFMFC,
  OFPAT,
  OFPG_ALL,
  OFPG_ANY,
  OFPGC,
  OFPGMFC,
  OFPGT,
  OFPMBT,
  OFPMC,
  OFPMF,
  OFPMMFC,
  OFPM_ALL,
  OFPP,
  OFPPC,
  OFPPF_10GB_FD,
  OFPPF_COPPER,
  OFPPMFC,
  OFPPR,
  OFPPS,
  OFPR,
  OFPRR,
  OFPRRFC,
  OFPSCFC,
  OFPTT_ALL,
  OFPTT_MAX,
  OFP_DEFAULT_MISS_SEND_LEN,
  OFP_NO_BUFFER,
} from './constants.js';
import type { MessageOf, OfpMessage, OfpPort } from './messages.js';
import type { FlowStats, MultipartReplyBody, MultipartRequestBody, PortStats } from './multipart.js';
import { prereqError, type OfpErr } from './oxm.js';
import { splitMultipartReply } from './stream.js';
import { tableFeatures } from './table-features.js';

const OFPMP_TABLE_FEATURES = 12;
/** enum ofp_group_capabilities (spec 1.3.5 §7.3.5.13). */
const OFPGFC_SELECT_WEIGHT = 1;
const OFPGFC_SELECT_LIVENESS = 2;
import { actionsToText, instructionsToText, matchToText, toOfPort, toVPort, vactionsToInstructions, wordsToMatch } from './translate.js';

export interface SwitchAgentOptions {
  datapathId: bigint;
  /** Flow entries the bridge holds at most (all tables); past it FLOW_MOD add → OFPFMFC_TABLE_FULL. */
  maxFlows?: number;
  /** Software version in DESC replies. */
  swDesc?: string;
}

export const DEFAULT_MAX_FLOWS = 100_000;
const NS = 1_000_000_000;

/** A reply to send, or an error for the request. */
export type AgentResult = OfpMessage[] | OfpErr;

export class SwitchAgent {
  missSendLen = OFP_DEFAULT_MISS_SEND_LEN;
  configFlags = 0;
  role: number = OFPCR_ROLE.EQUAL;
  /**
   * SET_ASYNC masks [master/equal, slave] for packet-in, port-status, flow-removed. Defaults as
   * OVS (ofp-util.c `ofputil_async_cfg_default`, spec §7.3.10): slaves get only port-status.
   */
  private async: [[number, number], [number, number], [number, number]] = [[7, 0], [7, 7], [15, 0]];
  /** The connection whose message is being handled (a PORT_MOD's PORT_STATUS skips it, below). */
  requester: object | null = null;
  /** How controllers installed each rule (flow stats give their instructions back unchanged). */
  private readonly ofInfo = new WeakMap<FlowRule, { instructions: Instruction[]; flags: number }>();
  readonly maxFlows: number;

  constructor(
    readonly bridge: Bridge,
    readonly opts: SwitchAgentOptions,
  ) {
    this.maxFlows = opts.maxFlows ?? DEFAULT_MAX_FLOWS;
  }

  /** The PACKET_IN for a packet a rule sent to the controller (§7.4.1; never buffered). */
  packetIn(inPort: number, frame: Uint8Array, rule: FlowRule): MessageOf<'packet_in'> {
    const ctl = rule.actions.find((a) => a.type === 'controller');
    const maxLen = ctl?.type === 'controller' ? ctl.maxLen : OFPCML_NO_BUFFER;
    const keep = maxLen === OFPCML_NO_BUFFER ? frame.length : Math.min(frame.length, maxLen);
    // A table-miss flow entry (priority 0, empty match) reports OFPR_NO_MATCH (§5.4).
    const miss = rule.priority === 0 && rule.mask.every((w) => w === 0);
    return {
      type: 'packet_in',
      xid: 0,
      bufferId: OFP_NO_BUFFER,
      totalLen: frame.length,
      reason: miss ? OFPR.NO_MATCH : OFPR.ACTION,
      tableId: rule.table,
      cookie: rule.cookie,
      match: [{ field: 'in_port', value: toOfPort(inPort) }],
      data: frame.slice(0, keep),
    };
  }

  private asyncAllowed(kind: 1 | 2, reason: number): boolean {
    return (this.async[kind][this.role === OFPCR_ROLE.SLAVE ? 1 : 0] & (1 << reason)) !== 0;
  }

  /**
   * The FLOW_REMOVED for a rule that left the tables (§6.5, §7.4.2), or null: only rules a
   * controller installed with OFPFF_SEND_FLOW_REM report it, and an identical OFPFC_ADD that
   * replaces a rule reports nothing (§6.4). Sent when the rule goes, in virtual time (OVS checks
   * expiry about once a second: ofproto-dpif.c `rule_expire`; vfab at the exact instant).
   */
  flowRemoved(r: FlowRule, why: FlowRemoveReason): MessageOf<'flow_removed'> | null {
    const info = this.ofInfo.get(r);
    if (!info || !(info.flags & OFPFF.SEND_FLOW_REM) || why === 'replace') return null;
    // OpenFlow 1.3 has no OFPRR_METER_DELETE (1.4 added it): a meter's deletion is a delete.
    const reason =
      why === 'idle_timeout' ? OFPRR.IDLE_TIMEOUT
      : why === 'hard_timeout' ? OFPRR.HARD_TIMEOUT
      : why === 'group_delete' ? OFPRR.GROUP_DELETE
      : OFPRR.DELETE;
    if (!this.asyncAllowed(2, reason)) return null;
    const d = this.bridge.nowNs() - r.createdNs;
    return {
      type: 'flow_removed', xid: 0, cookie: r.cookie, priority: r.priority, reason, tableId: r.table,
      durationSec: Math.floor(d / NS), durationNsec: d % NS, idleTimeout: r.idleTimeout, hardTimeout: r.hardTimeout,
      packetCount: BigInt(r.nPackets), byteCount: BigInt(r.nBytes), match: wordsToMatch(r.value, r.mask),
    };
  }

  /** The PORT_STATUS for a port added, deleted or changed (up/down) (§7.4.3), or null when masked. */
  portStatus(change: 'add' | 'delete' | 'modify', ofport: number, name: string, port: Port): MessageOf<'port_status'> | null {
    const reason = change === 'add' ? OFPPR.ADD : change === 'delete' ? OFPPR.DELETE : OFPPR.MODIFY;
    if (!this.asyncAllowed(1, reason)) return null;
    return { type: 'port_status', xid: 0, reason, desc: this.portDesc(toOfPort(ofport), name, port) };
  }

  /** Handles one decoded controller message; returns what to send back. */
  handle(m: OfpMessage): AgentResult {
    const reply = (x: OfpMessage): OfpMessage[] => [x];
    switch (m.type) {
      case 'hello':
      case 'echo_reply':
      case 'barrier_reply':
        return [];
      case 'echo_request':
        return reply({ type: 'echo_reply', xid: m.xid, data: m.data });
      case 'error':
        return [];
      case 'features_request':
        return reply({
          type: 'features_reply', xid: m.xid, datapathId: this.opts.datapathId, nBuffers: 0, nTables: 254, auxiliaryId: 0,
          capabilities: OFPC.FLOW_STATS | OFPC.TABLE_STATS | OFPC.PORT_STATS | OFPC.GROUP_STATS,
        });
      case 'get_config_request':
        return reply({ type: 'get_config_reply', xid: m.xid, flags: this.configFlags, missSendLen: this.missSendLen });
      case 'set_config':
        if (m.flags > 3) return { type: OFPET.SWITCH_CONFIG_FAILED, code: OFPSCFC.BAD_FLAGS, why: `flags 0x${m.flags.toString(16)}` };
        this.configFlags = m.flags;
        this.missSendLen = m.missSendLen;
        return [];
      case 'barrier_request':
        // Every earlier message is fully processed when it is handled: a barrier needs no wait.
        return reply({ type: 'barrier_reply', xid: m.xid });
      case 'role_request': {
        if (m.role > OFPCR_ROLE.SLAVE) return { type: OFPET.ROLE_REQUEST_FAILED, code: OFPRRFC.BAD_ROLE, why: `role ${m.role}` };
        if (m.role !== OFPCR_ROLE.NOCHANGE) this.role = m.role;
        return reply({ type: 'role_reply', xid: m.xid, role: this.role, generationId: m.generationId });
      }
      case 'get_async_request':
        return reply({ type: 'get_async_reply', xid: m.xid, packetInMask: this.async[0], portStatusMask: this.async[1], flowRemovedMask: this.async[2] });
      case 'set_async':
        this.async = [m.packetInMask, m.portStatusMask, m.flowRemovedMask];
        return [];
      case 'flow_mod':
        return this.slaveCheck() ?? this.flowMod(m);
      case 'packet_out':
        return this.slaveCheck() ?? this.packetOut(m);
      case 'group_mod':
        if (this.slaveCheck()) return this.slaveCheck()!;
        if (m.command > OFPGC.DELETE) return { type: OFPET.GROUP_MOD_FAILED, code: OFPGMFC.BAD_COMMAND, why: `command ${m.command}` };
        if (m.groupType > 3) return { type: OFPET.GROUP_MOD_FAILED, code: OFPGMFC.BAD_TYPE, why: `type ${m.groupType}` };
        return this.groupMod(m);
      case 'meter_mod':
        if (this.slaveCheck()) return this.slaveCheck()!;
        if (m.command > OFPMC.DELETE) return { type: OFPET.METER_MOD_FAILED, code: OFPMMFC.BAD_COMMAND, why: `command ${m.command}` };
        return this.meterMod(m);
      case 'port_mod': {
        const port = this.portOf(m.portNo);
        if (!port) return { type: OFPET.PORT_MOD_FAILED, code: OFPPMFC.BAD_PORT, why: `port ${m.portNo}` };
        if (m.mask & OFPPC.PORT_DOWN) port.up = (m.config & OFPPC.PORT_DOWN) === 0;
        return [];
      }
      case 'table_mod':
        if (m.tableId > OFPTT_MAX && m.tableId !== OFPTT_ALL) return { type: OFPET.TABLE_MOD_FAILED, code: 0, why: `table ${m.tableId}` };
        return [];
      case 'multipart_request':
        return this.multipart(m);
      case 'experimenter':
        return { type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_EXPERIMENTER, why: `experimenter 0x${m.experimenter.toString(16)}` };
      default:
        // Messages only a switch sends (features_reply, packet_in, …) are not requests.
        return { type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_TYPE, why: `${m.type} is not a controller-to-switch message` };
    }
  }

  private slaveCheck(): OfpErr | null {
    return this.role === OFPCR_ROLE.SLAVE ? { type: OFPET.BAD_REQUEST, code: OFPBRC.IS_SLAVE, why: 'the controller is a slave' } : null;
  }

  private portOf(ofPort: number): Port | undefined {
    const v = toVPort(ofPort);
    if (v === OFPP_LOCAL) return this.bridge.local;
    const name = this.bridge.portNameOf(v);
    return name === undefined ? undefined : this.bridge.portByName(name);
  }

  /** Parses `match` into key words (for MODIFY/DELETE selection and overlap checks). */
  private matchWords(text: string): { value: Int32Array; mask: Int32Array } | OfpErr {
    try {
      const p = parseFlows(`${text}${text ? ',' : ''}actions=drop`, { file: `${this.bridge.path} flow_mod`, line: 1, col: 1, protocols: 13 })[0]!;
      return { value: p.value, mask: p.mask };
    } catch (e) {
      return mapParseError(e);
    }
  }

  /** GROUP_MOD through the bridge's group table (group-table.ts), errors as OVS answers them. */
  private groupMod(m: MessageOf<'group_mod'>): AgentResult {
    const where = { file: `${this.bridge.path} group_mod`, line: 1, col: 1 };
    if (m.command === OFPGC.DELETE) {
      try {
        this.bridge.groupMod('delete', m.groupId === 0xfffffffc ? '' : `group_id=${m.groupId}`, where);
      } catch (e) {
        return mapGroupError(e);
      }
      return [];
    }
    const text = groupModText(m);
    if (typeof text !== 'string') return text;
    try {
      this.bridge.groupMod(m.command === OFPGC.ADD ? 'add' : 'modify', text, where);
    } catch (e) {
      if (e instanceof UserError && e.code === 'FLOW_BAD_OUT_GROUP') return { type: OFPET.GROUP_MOD_FAILED, code: OFPGMFC.CHAINING_UNSUPPORTED, why: e.message };
      return mapGroupError(e);
    }
    return [];
  }

  /** METER_MOD through the bridge's meter table (meter.ts). */
  private meterMod(m: MessageOf<'meter_mod'>): AgentResult {
    const where = { file: `${this.bridge.path} meter_mod`, line: 1, col: 1 };
    if (m.meterId === 0 || m.meterId > 0xffff0000) return { type: OFPET.METER_MOD_FAILED, code: OFPMMFC.INVALID_METER, why: `meter ${m.meterId}` };
    try {
      if (m.command === OFPMC.DELETE) {
        this.bridge.meterMod('delete', `meter=${m.meterId}`, where);
        return [];
      }
      const flags = [m.flags & OFPMF.KBPS ? 'kbps' : '', m.flags & OFPMF.PKTPS ? 'pktps' : '', m.flags & OFPMF.BURST ? 'burst' : '', m.flags & OFPMF.STATS ? 'stats' : ''].filter((x) => x).join(',');
      const bands = m.bands.map((b) => {
        if (b.type !== OFPMBT.DROP) return null;
        return `type=drop,rate=${b.rate}${m.flags & OFPMF.BURST ? `,burst_size=${b.burstSize}` : ''}`;
      });
      if (bands.some((b) => b === null)) return { type: OFPET.METER_MOD_FAILED, code: OFPMMFC.BAD_BAND, why: 'only drop bands are supported (as in OVS userspace)' };
      this.bridge.meterMod(m.command === OFPMC.ADD ? 'add' : 'modify', `meter=${m.meterId},${flags},bands=${bands.join(',')}`, where);
    } catch (e) {
      return mapMeterError(e);
    }
    return [];
  }

  private flowMod(m: MessageOf<'flow_mod'>): AgentResult {
    if (m.bufferId !== OFP_NO_BUFFER) return { type: OFPET.BAD_REQUEST, code: OFPBRC.BUFFER_UNKNOWN, why: `buffer ${m.bufferId} (this switch buffers nothing)` };
    const pre = prereqError(m.match);
    if (pre) return pre;
    const matchText = matchToText(m.match);
    if (typeof matchText !== 'string') return matchText;
    const words = this.matchWords(matchText);
    if ('code' in words) return words;
    const ft = this.bridge.flowTables;
    if (m.command === OFPFC.ADD) {
      if (m.tableId > OFPTT_MAX) return { type: OFPET.FLOW_MOD_FAILED, code: OFPFMFC.BAD_TABLE_ID, why: `table ${m.tableId}` };
      const acts = instructionsToText(m.instructions, m.tableId);
      if (typeof acts !== 'string') return acts;
      const all = ft.rules();
      const same = all.find((r) => r.table === m.tableId && r.priority === m.priority && sameMatch(r, words));
      if (m.flags & OFPFF.CHECK_OVERLAP) {
        const clash = all.find((r) => r !== same && r.table === m.tableId && r.priority === m.priority && overlaps(r, words));
        if (clash) return { type: OFPET.FLOW_MOD_FAILED, code: OFPFMFC.OVERLAP, why: `overlaps priority=${clash.priority},${clash.matchText}` };
      }
      if (!same && all.length >= this.maxFlows) return { type: OFPET.FLOW_MOD_FAILED, code: OFPFMFC.TABLE_FULL, why: `the bridge holds ${this.maxFlows} flows` };
      const text = `table=${m.tableId},priority=${m.priority},cookie=0x${m.cookie.toString(16)},idle_timeout=${m.idleTimeout},hard_timeout=${m.hardTimeout}${matchText ? `,${matchText}` : ''},actions=${acts}`;
      let rule: FlowRule;
      try {
        rule = this.bridge.addFlows(text, { file: `${this.bridge.path} flow_mod`, line: 1, col: 1 })[0]!;
      } catch (e) {
        return mapParseError(e);
      }
      // §6.4: an identical entry is replaced; its counters carry over unless OFPFF_RESET_COUNTS.
      if (same && !(m.flags & OFPFF.RESET_COUNTS)) {
        rule.nPackets = same.nPackets;
        rule.nBytes = same.nBytes;
      }
      this.ofInfo.set(rule, { instructions: m.instructions, flags: m.flags });
      return [];
    }
    const strict = m.command === OFPFC.MODIFY_STRICT || m.command === OFPFC.DELETE_STRICT;
    const targets = ft.rules().filter((r) => {
      if (m.tableId !== OFPTT_ALL && r.table !== m.tableId) return false;
      if ((r.cookie & m.cookieMask) !== (m.cookie & m.cookieMask)) return false;
      if (strict) return r.priority === m.priority && sameMatch(r, words);
      return covers(words, r);
    });
    if (m.command === OFPFC.MODIFY || m.command === OFPFC.MODIFY_STRICT) {
      for (const r of targets) {
        const acts = instructionsToText(m.instructions, r.table);
        if (typeof acts !== 'string') return acts;
        let parsed;
        try {
          parsed = parseFlows(`table=${r.table}${r.matchText ? `,${r.matchText}` : ''},actions=${acts}`, { file: `${this.bridge.path} flow_mod`, line: 1, col: 1, protocols: 13 })[0]!;
        } catch (e) {
          return mapParseError(e);
        }
        r.actions = parsed.actions;
        r.actionsText = parsed.actionsText;
        if (m.flags & OFPFF.RESET_COUNTS) {
          r.nPackets = 0;
          r.nBytes = 0;
        }
        this.ofInfo.set(r, { instructions: m.instructions, flags: m.flags });
      }
      // Actions changed under the same match: invalidate the bridge's translation cache.
      if (targets.length) ft.generation++;
      return [];
    }
    for (const r of targets) {
      if (m.outPort !== OFPP.ANY && !outputsTo(r, toVPort(m.outPort))) continue;
      if (m.outGroup !== OFPG_ANY) continue; // no rule outputs to a group
      ft.remove(r);
    }
    return [];
  }

  private packetOut(m: MessageOf<'packet_out'>): AgentResult {
    if (m.bufferId !== OFP_NO_BUFFER) return { type: OFPET.BAD_REQUEST, code: OFPBRC.BUFFER_UNKNOWN, why: `buffer ${m.bufferId}` };
    if (m.data.length < 14) return { type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_PACKET, why: `packet of ${m.data.length} bytes` };
    const inV = toVPort(m.inPort);
    const inName = m.inPort === OFPP.CONTROLLER || m.inPort === OFPP.ANY ? undefined : this.bridge.portNameOf(inV);
    if (m.inPort !== OFPP.CONTROLLER && m.inPort !== OFPP.ANY && inName === undefined) {
      return { type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_PORT, why: `in_port ${m.inPort}` };
    }
    const sends: [Port, Uint8Array][] = [];
    for (const a of m.actions) {
      if (a.type !== 'output') return { type: OFPET.BAD_ACTION, code: OFPBAC.BAD_TYPE, why: `packet-out action ${a.type} (vfab supports output)` };
      if (a.port === OFPP.FLOOD || a.port === OFPP.ALL) {
        for (const p of this.bridge.allPorts()) {
          if (p.ofport === inV || (a.port === OFPP.FLOOD && p.noFlood)) continue;
          const port = this.portOf(toOfPort(p.ofport));
          if (port) sends.push([port, m.data]);
        }
      } else if (a.port === OFPP.TABLE) {
        if (inName === undefined) return { type: OFPET.BAD_ACTION, code: OFPBAC.BAD_OUT_PORT, why: 'output:TABLE needs a real in_port' };
        const r = this.bridge.trace(inName, m.data, { mayLearn: true });
        for (const f of r?.frames ?? []) {
          const port = this.portOf(toOfPort(f.ofport));
          if (port) sends.push([port, f.frame]);
        }
      } else if (a.port === OFPP.IN_PORT) {
        const port = inName === undefined ? undefined : this.portOf(m.inPort);
        if (port) sends.push([port, m.data]);
      } else if (a.port === OFPP.CONTROLLER || a.port === OFPP.NORMAL) {
        return { type: OFPET.BAD_ACTION, code: OFPBAC.BAD_OUT_PORT, why: `packet-out to ${a.port === OFPP.NORMAL ? 'NORMAL' : 'CONTROLLER'}` };
      } else {
        const port = this.portOf(a.port);
        if (!port) return { type: OFPET.BAD_ACTION, code: OFPBAC.BAD_OUT_PORT, why: `port ${a.port}` };
        // §7.3.7 / ovs-actions(7): output to the packet's own in_port is dropped (use IN_PORT).
        if (toVPort(a.port) !== inV) sends.push([port, m.data]);
      }
    }
    for (const [port, frame] of sends) port.send(frame, { hops: 1 });
    return [];
  }

  private flowStats(r: FlowRule, now: number): FlowStats {
    const info = this.ofInfo.get(r);
    const d = now - r.createdNs;
    return {
      tableId: r.table,
      durationSec: Math.floor(d / NS),
      durationNsec: d % NS,
      priority: r.priority,
      idleTimeout: r.idleTimeout,
      hardTimeout: r.hardTimeout,
      flags: info?.flags ?? 0,
      cookie: r.cookie,
      packetCount: BigInt(r.nPackets),
      byteCount: BigInt(r.nBytes),
      match: wordsToMatch(r.value, r.mask),
      instructions: info?.instructions ?? vactionsToInstructions(r.actions),
    };
  }

  private selectRules(b: Extract<MultipartRequestBody, { mp: 'flow' | 'aggregate' }>): FlowRule[] | OfpErr {
    const pre = prereqError(b.match);
    if (pre) return pre;
    const text = matchToText(b.match);
    if (typeof text !== 'string') return text;
    const words = this.matchWords(text);
    if ('code' in words) return words;
    return this.bridge.flowTables.rules().filter(
      (r) =>
        (b.tableId === OFPTT_ALL || r.table === b.tableId) &&
        (r.cookie & b.cookieMask) === (b.cookie & b.cookieMask) &&
        (b.outPort === OFPP.ANY || outputsTo(r, toVPort(b.outPort))) &&
        b.outGroup === OFPG_ANY &&
        covers(words, r),
    );
  }

  private ports(): { no: number; name: string; port: Port }[] {
    const out: { no: number; name: string; port: Port }[] = [];
    for (const p of this.bridge.allPorts()) {
      const port = this.portOf(toOfPort(p.ofport));
      if (port) out.push({ no: toOfPort(p.ofport), name: p.name, port });
    }
    return out;
  }

  /** How many flows use each group / meter id (`count` adds the ids an action names to the set). */
  private refCounts(count: (a: VAction, ids: Set<number>) => unknown): Map<number, number> {
    const out = new Map<number, number>();
    const ids = new Set<number>();
    const walk = (acts: readonly VAction[]): void => {
      for (const a of acts) {
        count(a, ids);
        if (a.type === 'clone') walk(a.actions);
      }
    };
    for (const r of this.bridge.flowTables.rules()) {
      ids.clear();
      walk(r.actions);
      for (const id of ids) out.set(id, (out.get(id) ?? 0) + 1);
    }
    return out;
  }

  portDesc(no: number, name: string, port: Port): OfpPort {
    const speed = 10_000_000; // kb/s: vfab bridge ports are modelled as 10G copper
    const lowDp = Number(this.opts.datapathId & 0xffffffn);
    return {
      portNo: no, hwAddr: 0x020000000000 + lowDp * 0x10000 + (no & 0xffff), name: name.slice(0, 15), config: port.up ? 0 : OFPPC.PORT_DOWN,
      state: port.up ? OFPPS.LIVE : OFPPS.LINK_DOWN, curr: OFPPF_10GB_FD | OFPPF_COPPER, advertised: 0, supported: 0, peer: 0,
      currSpeed: speed, maxSpeed: speed,
    };
  }

  private multipart(m: MessageOf<'multipart_request'>): AgentResult {
    const now = this.bridge.nowNs();
    const b = m.body;
    let body: MultipartReplyBody;
    switch (b.mp) {
      case 'desc':
        body = { mp: 'desc', mfrDesc: 'vfab', hwDesc: 'vfab virtual bridge', swDesc: this.opts.swDesc ?? 'vfab', serialNum: 'None', dpDesc: this.bridge.path };
        break;
      case 'flow': {
        const rules = this.selectRules(b);
        if (!Array.isArray(rules)) return rules;
        body = { mp: 'flow', stats: rules.map((r) => this.flowStats(r, now)) };
        break;
      }
      case 'aggregate': {
        const rules = this.selectRules(b);
        if (!Array.isArray(rules)) return rules;
        body = { mp: 'aggregate', packetCount: BigInt(rules.reduce((n, r) => n + r.nPackets, 0)), byteCount: BigInt(rules.reduce((n, r) => n + r.nBytes, 0)), flowCount: rules.length };
        break;
      }
      case 'table': {
        const tables = this.bridge.flowTables.tables;
        const ids = [...new Set([0, ...tables.keys()])].sort((x, y) => x - y);
        body = { mp: 'table', stats: ids.map((id) => ({ tableId: id, activeCount: tables.get(id)?.rules().length ?? 0, lookupCount: 0n, matchedCount: 0n })) };
        break;
      }
      case 'port_stats': {
        const stats: PortStats[] = [];
        for (const p of this.ports()) {
          if (b.portNo !== OFPP.ANY && p.no !== b.portNo) continue;
          const c = p.port.counters;
          const drops = Object.values(c.drops).reduce((n, x) => n + x, 0);
          stats.push({
            portNo: p.no, durationSec: Math.floor(now / NS), durationNsec: now % NS, rxPackets: BigInt(c.rx_packets), txPackets: BigInt(c.tx_packets),
            rxBytes: BigInt(c.rx_bytes), txBytes: BigInt(c.tx_bytes), rxDropped: BigInt(drops), txDropped: 0n, rxErrors: 0n, txErrors: 0n,
            rxFrameErr: 0n, rxOverErr: 0n, rxCrcErr: 0n, collisions: 0n,
          });
        }
        if (b.portNo !== OFPP.ANY && stats.length === 0) return { type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_PORT, why: `port ${b.portNo}` };
        body = { mp: 'port_stats', stats };
        break;
      }
      case 'port_desc':
        body = { mp: 'port_desc', ports: this.ports().map((p) => this.portDesc(p.no, p.name, p.port)) };
        break;
      case 'group': {
        // ofproto.c handle_group_request: OFPG_ALL or one group; an unknown id gives an empty reply.
        const refs = this.refCounts((act, ids) => act.type === 'group' && ids.add(act.id));
        const groups = [...this.bridge.groupTable.groups.values()].filter((g) => b.groupId === OFPG_ALL || g.id === b.groupId).sort((x, y) => x.id - y.id);
        body = {
          mp: 'group',
          stats: groups.map((g) => {
            const d = now - g.createdNs;
            return {
              groupId: g.id, refCount: refs.get(g.id) ?? 0, packetCount: BigInt(g.nPackets), byteCount: BigInt(g.nBytes),
              durationSec: Math.floor(d / NS), durationNsec: d % NS,
              bucketStats: g.buckets.map((bk) => ({ packetCount: BigInt(bk.nPackets), byteCount: BigInt(bk.nBytes) })),
            };
          }),
        };
        break;
      }
      case 'group_desc':
        body = {
          mp: 'group_desc',
          groups: [...this.bridge.groupTable.groups.values()]
            .sort((a, b) => a.id - b.id)
            .map((g) => ({
              groupType: GROUP_TYPE_NO[g.type],
              groupId: g.id,
              buckets: g.buckets.map((bk) => ({
                weight: bk.weight,
                watchPort: bk.watchPort === 0xffff ? 0xffffffff : toOfPort(bk.watchPort),
                watchGroup: bk.watchGroup,
                actions: vactionsToInstructions(bk.actions).flatMap((i) => (i.type === 'apply_actions' ? i.actions : [])),
              })),
            })),
        };
        break;
      case 'group_features': {
        // All four types; weights and liveness, no chaining (GROUP_MOD refuses it); the actions
        // vfab's packet-out/flow-mod path translates (output, push/pop VLAN, dec TTL, set_field, group).
        const acts = (1 << OFPAT.OUTPUT) | (1 << OFPAT.DEC_NW_TTL) | (1 << OFPAT.PUSH_VLAN) | (1 << OFPAT.POP_VLAN) | (1 << OFPAT.GROUP) | (1 << OFPAT.SET_FIELD);
        body = { mp: 'group_features', types: 0xf, capabilities: OFPGFC_SELECT_WEIGHT | OFPGFC_SELECT_LIVENESS, maxGroups: [MAX_GROUPS, MAX_GROUPS, MAX_GROUPS, MAX_GROUPS], actions: [acts, acts, acts, acts] };
        break;
      }
      case 'meter': {
        const refs = this.refCounts((act, ids) => act.type === 'meter' && ids.add(act.id));
        const meters = [...this.bridge.meterTable.meters.values()].filter((mt) => b.meterId === OFPM_ALL || mt.id === b.meterId).sort((x, y) => x.id - y.id);
        body = {
          mp: 'meter',
          stats: meters.map((mt) => {
            const d = now - mt.createdNs;
            return {
              meterId: mt.id, flowCount: refs.get(mt.id) ?? 0, packetInCount: BigInt(mt.nPackets), byteInCount: BigInt(mt.nBytes),
              durationSec: Math.floor(d / NS), durationNsec: d % NS,
              bandStats: mt.bands.map((bd) => ({ packetBandCount: BigInt(bd.nPackets), byteBandCount: BigInt(bd.nBytes) })),
            };
          }),
        };
        break;
      }
      case 'meter_config':
        body = {
          mp: 'meter_config',
          configs: [...this.bridge.meterTable.meters.values()]
            .filter((mt) => b.meterId === OFPM_ALL || mt.id === b.meterId)
            .sort((a, b) => a.id - b.id)
            .map((mt) => ({
              flags: (mt.config.kbps ? OFPMF.KBPS : 0) | (mt.config.pktps ? OFPMF.PKTPS : 0) | (mt.config.burst ? OFPMF.BURST : 0) | (mt.config.stats ? OFPMF.STATS : 0),
              meterId: mt.id,
              bands: mt.config.bands.map((b) => ({ type: OFPMBT.DROP, rate: b.rate, burstSize: b.burstSize })),
            })),
        };
        break;
      case 'meter_features':
        // Drop bands only, as OVS's userspace datapath (dpif-netdev: kbps, pktps, burst, stats).
        body = { mp: 'meter_features', maxMeter: MAX_METERS, bandTypes: 1 << OFPMBT.DROP, capabilities: OFPMF.KBPS | OFPMF.PKTPS | OFPMF.BURST | OFPMF.STATS, maxBands: MAX_BANDS, maxColor: 0 };
        break;
      case 'raw':
        if (b.mpType === OFPMP_TABLE_FEATURES) {
          // An empty request asks; a request with a body would reconfigure tables, which vfab refuses.
          if (b.data.length > 0) return { type: OFPET.TABLE_FEATURES_FAILED, code: 5, why: 'vfab tables cannot be reconfigured' };
          body = { mp: 'table_features', tables: tableFeatures(254, this.maxFlows) };
          break;
        }
        return { type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_MULTIPART, why: `multipart type ${b.mpType}` };
    }
    return splitMultipartReply({ type: 'multipart_reply', xid: m.xid, flags: 0, body });
  }
}

function sameMatch(r: FlowRule, w: { value: Int32Array; mask: Int32Array }): boolean {
  for (let i = 0; i < KEY_WORDS; i++) if (r.mask[i] !== w.mask[i] || r.value[i] !== w.value[i]) return false;
  return true;
}

/** Non-strict selection (§6.4): the rule is at least as specific as the request and agrees with it. */
function covers(req: { value: Int32Array; mask: Int32Array }, r: FlowRule): boolean {
  for (let i = 0; i < KEY_WORDS; i++) {
    const m = req.mask[i]!;
    if ((m & ~r.mask[i]!) !== 0) return false;
    if (((r.value[i]! ^ req.value[i]!) & m) !== 0) return false;
  }
  return true;
}

/** Whether one packet could match both (OFPFF_CHECK_OVERLAP). */
function overlaps(r: FlowRule, w: { value: Int32Array; mask: Int32Array }): boolean {
  for (let i = 0; i < KEY_WORDS; i++) if (((r.value[i]! ^ w.value[i]!) & r.mask[i]! & w.mask[i]!) !== 0) return false;
  return true;
}

function outputsTo(r: FlowRule, vport: number): boolean {
  return r.actions.some((a) => (a.type === 'output' && a.port === vport) || (a.type === 'controller' && vport === 0xfffd));
}

/** A vswitch flow-parser error as the OpenFlow error a switch would give. */
const GROUP_TYPE_NO = { all: OFPGT.ALL, select: OFPGT.SELECT, indirect: OFPGT.INDIRECT, ff: OFPGT.FF } as const;
const GROUP_TYPE_TEXT = ['all', 'select', 'indirect', 'ff'] as const;

/** A GROUP_MOD as `ovs-ofctl` group text, applied through the bridge's group table. */
function groupModText(m: { groupType: number; groupId: number; buckets: readonly { weight: number; watchPort: number; watchGroup: number; actions: readonly Action[] }[] }): string | OfpErr {
  let s = `group_id=${m.groupId},type=${GROUP_TYPE_TEXT[m.groupType]}`;
  for (const b of m.buckets) {
    const acts = actionsToText(b.actions);
    if (typeof acts !== 'string') return acts;
    s += ',bucket=';
    if (m.groupType === OFPGT.SELECT) s += `weight:${b.weight},`;
    if (b.watchPort !== 0xffffffff) s += `watch_port:${b.watchPort > OFPP.MAX ? b.watchPort - 0xffff0000 : b.watchPort},`;
    if (b.watchGroup !== 0xffffffff) s += `watch_group:${b.watchGroup},`;
    s += `actions=${acts}`;
  }
  return s;
}

function mapGroupError(e: unknown): OfpErr {
  if (!(e instanceof UserError)) throw e;
  const why = e.message;
  const code =
    e.code === 'GROUP_EXISTS' ? OFPGMFC.GROUP_EXISTS
    : e.code === 'GROUP_UNKNOWN' ? OFPGMFC.UNKNOWN_GROUP
    : e.code === 'GROUP_TOO_MANY' ? OFPGMFC.OUT_OF_GROUPS
    : e.code === 'GROUP_LOOP' ? OFPGMFC.WATCH_UNSUPPORTED
    : e.code === 'GROUP_BAD_VALUE' && /group id/.test(why) ? OFPGMFC.INVALID_GROUP
    : OFPGMFC.BAD_BUCKET;
  return { type: OFPET.GROUP_MOD_FAILED, code, why };
}

function mapMeterError(e: unknown): OfpErr {
  if (!(e instanceof UserError)) throw e;
  const why = e.message;
  const code =
    e.code === 'METER_EXISTS' ? OFPMMFC.METER_EXISTS
    : e.code === 'METER_UNKNOWN' ? OFPMMFC.UNKNOWN_METER
    : e.code === 'METER_TOO_MANY' ? OFPMMFC.OUT_OF_METERS
    : e.code === 'METER_BAD_FLAGS' ? OFPMMFC.BAD_FLAGS
    : e.code === 'METER_BAD_VALUE' ? OFPMMFC.INVALID_METER
    : OFPMMFC.BAD_BAND;
  return { type: OFPET.METER_MOD_FAILED, code, why };
}

function mapParseError(e: unknown): OfpErr {
  if (!(e instanceof UserError)) throw e;
  const why = e.message;
  if (e.code === 'FLOW_BAD_OUT_GROUP') return { type: OFPET.BAD_ACTION, code: OFPBAC.BAD_OUT_GROUP, why };
  if (e.code === 'FLOW_BAD_METER') return { type: OFPET.METER_MOD_FAILED, code: OFPMMFC.INVALID_METER, why };
  if (/OFPBAC_MATCH_INCONSISTENT/.test(why)) return { type: OFPET.BAD_ACTION, code: OFPBAC.MATCH_INCONSISTENT, why };
  if (/OFPBAC_BAD_SET_ARGUMENT/.test(why)) return { type: OFPET.BAD_ACTION, code: OFPBAC.BAD_SET_ARGUMENT, why };
  if (e.code === 'FLOW_PREREQ') return { type: OFPET.BAD_MATCH, code: 9, why };
  if (e.code === 'FLOW_UNKNOWN_PORT') return { type: OFPET.BAD_ACTION, code: OFPBAC.BAD_OUT_PORT, why };
  return { type: OFPET.FLOW_MOD_FAILED, code: OFPFMFC.UNKNOWN, why };
}
