/**
 * Actions as `ovs-ofctl dump-flows` prints them (lib/ofp-actions.c `ofpacts_format` and the
 * `format_*` functions, lib/learn.c `learn_format`), in the OpenFlow version of the dump.
 *
 * What OVS prints is not what was written: the switch keeps each action in its internal form
 * and encodes it in the dump's version, and ovs-ofctl prints what it decodes. So the spelling
 * depends on two versions, the one the flow was added with and the one it is dumped with:
 * - a field write added over OpenFlow 1.0 is sent as the OpenFlow 1.0 action when one exists
 *   (`mod_dl_src`, `mod_nw_tos` …), else as NXAST_REG_LOAD (`load:0x…->NXM_…[]`, 64 bits at a
 *   time); added over 1.2+ it is an OXM set_field; `load:` stays a load everywhere;
 * - dumped over 1.0 a set_field goes back to the 1.0 action or a load; over 1.1+ the 1.0 actions
 *   become `set_field`, `mod_vlan_vid` on a maybe-untagged packet becomes
 *   `push_vlan:0x8100,set_field:4096|VID->vlan_vid`, `strip_vlan` is `pop_vlan`, `enqueue` is
 *   `set_queue:Q,output:P,pop_queue`, and `resubmit(,T)` written as goto_table is `goto_table:T`.
 * Checked against OVS 3.1 by test/vswitch/ovs-dump-flows.test.ts (test/fixtures/ovs-dump).
 */
import type { Action } from './actions.js';
import { formatPort, formatWriteMetadata } from './actions.js';
import type { CtAction } from './ct-action.js';
import { formatNat } from './ct-action.js';
import { FIELD_BY_NXM, KEY_WORDS, OFPP_ALL, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL, formatIpv4, formatIpv6, formatMac, type FieldDef } from './fields.js';
import type { LearnAction } from './learn.js';
import type { OfVersion } from './flow-syntax.js';
import { fieldBits, readSubfield, type Subfield } from './subfield.js';

export interface OfpactFormat {
  /** Version the flow was added with (the bridge's protocols). */
  added: OfVersion;
  /** Version of the dump (`-O`). */
  version: OfVersion;
  /** Port names (`--names`). */
  names?: ((ofport: number) => string | undefined) | undefined;
}

/** NXM names of fields vfab's table does not list (lib/meta-flow.xml). */
const EXTRA_NXM: Record<string, string> = {
  nw_ecn: 'NXM_NX_IP_ECN', nw_tos: 'NXM_OF_IP_TOS', ip_dscp: 'OXM_OF_IP_DSCP', tp_src: 'NXM_OF_TCP_SRC', tp_dst: 'NXM_OF_TCP_DST',
  sctp_src: 'OXM_OF_SCTP_SRC', sctp_dst: 'OXM_OF_SCTP_DST', icmp_type: 'NXM_OF_ICMP_TYPE', icmp_code: 'NXM_OF_ICMP_CODE',
  icmpv6_type: 'NXM_NX_ICMPV6_TYPE', icmpv6_code: 'NXM_NX_ICMPV6_CODE', dl_vlan: 'OXM_OF_VLAN_VID', dl_vlan_pcp: 'OXM_OF_VLAN_PCP',
};

let nxmNames: Map<FieldDef, string> | null = null;
/** The NXM/OXM name `mf_format_subfield` prints (the field's first NXM name). */
export function nxmName(fd: FieldDef): string {
  if (!nxmNames) {
    nxmNames = new Map();
    for (const [n, f] of FIELD_BY_NXM) if (!nxmNames.has(f)) nxmNames.set(f, n);
  }
  return fd.nxm[0] ?? nxmNames.get(fd) ?? EXTRA_NXM[fd.name] ?? fd.name;
}

/** `mf_format_subfield`: `NAME[]`, `NAME[n]` or `NAME[a..b]`. */
export function canonicalSubfield(fd: FieldDef, ofs: number, nBits: number): string {
  const name = nxmName(fd);
  if (ofs === 0 && nBits === fieldBits(fd)) return `${name}[]`;
  if (nBits === 1) return `${name}[${ofs}]`;
  return `${name}[${ofs}..${ofs + nBits - 1}]`;
}

const sfText = (sf: Subfield): string => canonicalSubfield(sf.fd, sf.ofs, sf.nBits);

/** `ds_put_hex`: `0x` and the value without leading zero bytes' digits; zero is `0`. */
function putHex(v: bigint): string {
  return v === 0n ? '0' : `0x${v.toString(16)}`;
}

/** The meta-flow name (`mf->name`) learn prints for a whole-field immediate. */
const MF_NAME: Record<string, string> = { dl_src: 'eth_src', dl_dst: 'eth_dst', dl_type: 'eth_type', nw_src: 'ip_src', nw_dst: 'ip_dst' };

function fieldValueText(fd: FieldDef, v: bigint, o: OfpactFormat): string {
  switch (fd.kind) {
    case 'mac':
      return formatMac(Number(v));
    case 'ipv4':
      return formatIpv4(Number(v));
    case 'ipv6': {
      const w: number[] = [];
      for (let i = 3; i >= 0; i--) w.push(Number((v >> BigInt(32 * i)) & 0xffffffffn) | 0);
      return formatIpv6(w);
    }
    case 'port':
      return formatPort(Number(v), o.names);
    default:
      return fd.hex || fd.name === 'dl_type' ? `0x${v.toString(16)}` : v.toString();
  }
}

/** A set action's field, value and bit range, read back from its key-word writes. */
function setSpan(a: Extract<Action, { type: 'set' }>): { ofs: number; nBits: number; value: bigint; full: boolean } {
  const vw = new Int32Array(KEY_WORDS);
  const mw = new Int32Array(KEY_WORDS);
  a.words.forEach((w, i) => {
    vw[w] = a.values[i]!;
    mw[w] = a.masks[i]!;
  });
  const width = fieldBits(a.field);
  const whole: Subfield = { fd: a.field, ofs: 0, nBits: width, text: '' };
  const m = readSubfield(whole, mw);
  const v = readSubfield(whole, vw);
  let ofs = 0;
  while (ofs < width && ((m >> BigInt(ofs)) & 1n) === 0n) ofs++;
  let end = ofs;
  while (end < width && ((m >> BigInt(end)) & 1n) === 1n) end++;
  const nBits = Math.max(end - ofs, 1);
  return { ofs, nBits, value: (v >> BigInt(ofs)) & ((1n << BigInt(nBits)) - 1n), full: ofs === 0 && nBits === width };
}

/** The OpenFlow 1.0 action for a whole-field write, if there is one (`set_field_to_legacy_openflow`). */
function legacy10(fd: FieldDef, v: bigint): string | null {
  switch (fd.name) {
    case 'dl_src':
      return `mod_dl_src:${formatMac(Number(v))}`;
    case 'dl_dst':
      return `mod_dl_dst:${formatMac(Number(v))}`;
    case 'nw_src':
      return `mod_nw_src:${formatIpv4(Number(v))}`;
    case 'nw_dst':
      return `mod_nw_dst:${formatIpv4(Number(v))}`;
    case 'ip_dscp':
    case 'nw_tos':
      return `mod_nw_tos:${Number(v) << 2}`;
    case 'tp_src':
    case 'tcp_src':
    case 'udp_src':
      return `mod_tp_src:${v}`;
    case 'tp_dst':
    case 'tcp_dst':
    case 'udp_dst':
      return `mod_tp_dst:${v}`;
    default:
      return null;
  }
}

/** The OXM name set_field prints (`mf->name` of the OpenFlow 1.2+ field). */
const OXM_SET_NAME: Record<string, string> = {
  dl_src: 'eth_src', dl_dst: 'eth_dst', nw_src: 'ip_src', nw_dst: 'ip_dst', nw_tos: 'ip_dscp',
  tp_src: 'tcp_src', tp_dst: 'tcp_dst', ip_ecn: 'nw_ecn',
};

/** NXAST_REG_LOAD of a value: 64 bits per action (`set_field_to_nxast`). */
function regLoads(fd: FieldDef, ofs: number, nBits: number, v: bigint): string[] {
  const out: string[] = [];
  for (let at = 0; at < nBits; at += 64) {
    const n = Math.min(64, nBits - at);
    out.push(`load:${putHex((v >> BigInt(at)) & ((1n << BigInt(n)) - 1n))}->${canonicalSubfield(fd, ofs + at, n)}`);
  }
  return out;
}

function formatSet(a: Extract<Action, { type: 'set' }>, o: OfpactFormat): string {
  const kw = a.text.slice(0, a.text.search(/[:(]/));
  // A load into NXM_OF_IP_TOS stays the load as written below OpenFlow 1.5 (MFF_IP_DSCP keeps the
  // whole byte's value and mask; only executing it drops the ECN bits).
  if (a.view && kw === 'load' && o.version < 15) return regLoads(a.view.fd, a.view.ofs, a.view.nBits, a.view.value).join(',');
  const s = setSpan(a);
  // set_field prints the whole field's value under its mask (`set_field:0x500/0xff00->reg0`).
  const setField = (): string => {
    const name = OXM_SET_NAME[a.field.name] ?? a.field.name;
    const mask = ((1n << BigInt(s.nBits)) - 1n) << BigInt(s.ofs);
    return s.full ? `set_field:${fieldValueText(a.field, s.value, o)}->${name}` : `set_field:${fieldValueText(a.field, s.value << BigInt(s.ofs), o)}/${putHex(mask)}->${name}`;
  };
  // OFPAT11_SET_NW_TTL / _ECN exist from OpenFlow 1.1 (their own actions, not set_field, in 1.5
  // too); over 1.0 they travel as NXAST_REG_LOAD.
  if ((kw === 'mod_nw_ttl' || kw === 'mod_nw_ecn') && o.added >= 11 && o.version >= 11) return `${kw}:${s.value}`;
  // lib/ofp-actions.c encode_SET_FIELD, applied twice (ovs-ofctl's flow_mod in the version the
  // flow was added with, decoded by the switch into its raw form; then the switch's reply in the
  // dump's version):
  // - OpenFlow 1.5+ has only Set-Field: every field write is a set_field, masked when partial;
  // - a variable-length field (tun_metadataN) has no NXAST_REG_LOAD form (set_field_to_nxast):
  //   it travels as NXAST_REG_LOAD2 and comes back as set_field in every version (recorded from
  //   OVS 3.1: test/fixtures/tun-metadata);
  // - what came in as a load goes out as a load (64 bits per action);
  // - below 1.2 a write is the OpenFlow 1.0/1.1 action where one exists (`mod_dl_src` …), else
  //   a load; from 1.2 to 1.4 a whole-field write is set_field and a partial one a load.
  if (o.version >= 15 || a.field.tunMd !== undefined) return setField();
  // encode_SET_TUNNEL: below OpenFlow 1.2 set_tunnel travels as NXAST_SET_TUNNEL(64) and comes
  // back as itself (ofproto/trace prints `set_tunnel:0x138a`, recorded from OVS 3.1 in
  // test/fixtures/tun-ipv6); from 1.2 it is a Set-Field of tun_id.
  if ((kw === 'set_tunnel' || kw === 'set_tunnel64') && o.added < 12) return o.version < 12 ? a.text : setField();
  const leg = s.full ? legacy10(a.field, s.value) : null;
  const loads = (): string => regLoads(a.field, s.ofs, s.nBits, s.value).join(',');
  const addedAsLoad = kw === 'load' || kw === 'mod_nw_ttl' || kw === 'mod_nw_ecn' || (o.added < 12 ? leg === null : o.added < 15 && !s.full);
  if (addedAsLoad) return loads();
  if (o.version < 12) return leg ?? loads();
  return s.full ? setField() : loads();
}

function formatLearn(a: LearnAction, o: OfpactFormat): string {
  const p = [`table=${a.table}`];
  if (a.idleTimeout) p.push(`idle_timeout=${a.idleTimeout}`);
  if (a.hardTimeout) p.push(`hard_timeout=${a.hardTimeout}`);
  if (a.finIdleTimeout) p.push(`fin_idle_timeout=${a.finIdleTimeout}`);
  if (a.finHardTimeout) p.push(`fin_hard_timeout=${a.finHardTimeout}`);
  if (a.priority !== 32768) p.push(`priority=${a.priority}`);
  if (a.sendFlowRem) p.push('send_flow_rem');
  if (a.deleteLearned) p.push('delete_learned');
  if (a.cookie !== 0n) p.push(`cookie=0x${a.cookie.toString(16)}`);
  if (a.limit) p.push(`limit=${a.limit}`);
  if (a.resultDst) p.push(`result_dst=${sfText(a.resultDst)}`); // learn_format: after limit
  for (const s of a.specs) {
    if (s.kind === 'output') p.push(`output:${sfText(s.src)}`);
    else if (s.kind === 'load') p.push(`load:${s.src ? sfText(s.src) : putHex(s.imm)}->${sfText(s.dst)}`);
    else if (s.src) p.push(s.src.fd === s.dst.fd && s.src.ofs === s.dst.ofs ? sfText(s.dst) : `${sfText(s.dst)}=${sfText(s.src)}`);
    else if (s.dst.ofs === 0 && s.dst.nBits === fieldBits(s.dst.fd)) p.push(`${MF_NAME[s.dst.fd.name] ?? s.dst.fd.name}=${fieldValueText(s.dst.fd, s.imm, o)}`);
    else p.push(`${sfText(s.dst)}=${putHex(s.imm)}`);
  }
  return `learn(${p.join(',')})`;
}

function formatCtCanon(a: CtAction, o: OfpactFormat): string {
  const parts: string[] = [];
  if (a.commit) parts.push('commit');
  if (a.force) parts.push('force');
  if (a.table !== null) parts.push(`table=${a.table}`);
  if (a.zoneSrc !== null) parts.push(`zone=${sfText(a.zoneSrc)}`);
  else if (a.zoneImm !== 0) parts.push(`zone=${a.zoneImm}`);
  let rest = a.actions;
  if (rest.length > 0 && rest[0]!.type === 'nat') {
    parts.push(formatNat((rest[0]).spec));
    rest = rest.slice(1);
  }
  if (rest.length > 0) parts.push(`exec(${formatOfpacts(rest as Action[], o)})`);
  if (a.alg !== 0) parts.push(`alg=${a.alg === 21 ? 'ftp' : a.alg === 69 ? 'tftp' : a.alg}`);
  return `ct(${parts.join(',')})`;
}

/** `format_NOTE`: the bytes as `xx.xx…`, zero-padded as NXAST_NOTE pads them (to 8-byte units). */
function formatNote(text: string): string {
  const hex = text.slice('note:'.length).replace(/[ .\t\r\n]/g, '');
  const bytes: string[] = hex.match(/../g) ?? [];
  const len = Math.ceil((10 + bytes.length) / 8) * 8 - 10;
  while (bytes.length < len) bytes.push('00');
  return `note:${bytes.map((b) => b.toLowerCase()).join('.')}`;
}

/** One action list as dump-flows prints it. */
export function formatOfpacts(actions: readonly Action[], o: OfpactFormat): string {
  const out: string[] = [];
  // ofpacts_check clears push_vlan_if_needed once an earlier action tagged the packet.
  let pushed = false;
  const push = (p: boolean): string => {
    if (!p || pushed) return '';
    pushed = true;
    return 'push_vlan:0x8100,';
  };
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i]!;
    switch (a.type) {
      case 'output': {
        const port = a.port;
        if (port === OFPP_NORMAL || port === OFPP_FLOOD || port === OFPP_ALL || port === OFPP_LOCAL || port === OFPP_IN_PORT) out.push(formatPort(port));
        else out.push(`output:${formatPort(port, o.names)}`);
        break;
      }
      case 'controller':
        if (a.reason === undefined && !a.id) out.push(`CONTROLLER:${a.maxLen}`);
        else {
          // format_CONTROLLER: reason, max_len, id (userdata, pause, meter_id are not kept).
          const p: string[] = [];
          if (a.reason !== undefined && a.reason !== 'action') p.push(`reason=${a.reason}`);
          if (a.maxLen !== 65535) p.push(`max_len=${a.maxLen}`);
          if (a.id) p.push(`id=${a.id}`);
          out.push(p.length === 0 ? `CONTROLLER:${a.maxLen}` : `controller(${p.join(',')})`);
        }
        break;
      case 'set_vlan_vid':
        if (o.version < 11) out.push(`mod_vlan_vid:${a.vid}`);
        else out.push(`${push(a.push)}set_field:${a.vid | 0x1000}->vlan_vid`);
        break;
      case 'set_vlan_pcp':
        if (o.version < 11) out.push(`mod_vlan_pcp:${a.pcp}`);
        else out.push(`${push(a.push)}set_field:${a.pcp}->vlan_pcp`);
        break;
      case 'strip_vlan':
        out.push(o.version < 11 ? 'strip_vlan' : 'pop_vlan');
        pushed = false;
        break;
      case 'push_vlan':
        out.push(`push_vlan:0x${a.tpid.toString(16)}`);
        pushed = true;
        break;
      case 'set':
        out.push(formatSet(a, o));
        break;
      case 'dec_ttl':
        out.push(a.ids && a.ids.length > 0 ? `dec_ttl(${a.ids.join(',')})` : 'dec_ttl');
        break;
      case 'move':
        out.push(`move:${sfText(a.src)}->${sfText(a.dst)}`);
        break;
      case 'output_reg':
        out.push(`output:${sfText(a.src)}`);
        break;
      case 'noop': {
        const t = a.text;
        if (t.startsWith('note:')) out.push(formatNote(t));
        else if (t.startsWith('enqueue:')) {
          // enqueue:PORT:QUEUE is parsed as this record plus the output that follows it.
          const q = t.slice(t.lastIndexOf(':') + 1);
          const next = actions[i + 1];
          const port = next && next.type === 'output' ? formatPort(next.port, o.names) : t.slice(8, t.lastIndexOf(':'));
          if (next && next.type === 'output') i++;
          out.push(o.version < 11 ? `enqueue:${port}:${q}` : `set_queue:${q},output:${port},pop_queue`);
        } else out.push(t);
        break;
      }
      case 'exit':
        out.push('exit');
        break;
      case 'learn':
        out.push(formatLearn(a, o));
        break;
      case 'ct_clear':
        out.push('ct_clear');
        break;
      case 'conjunction':
        // format_CONJUNCTION: clause 1-based, id unsigned.
        out.push(`conjunction(${a.id},${a.clause}/${a.nClauses})`);
        break;
      case 'ct':
        out.push(formatCtCanon(a, o));
        break;
      case 'clone':
        out.push(`clone(${formatOfpacts(a.actions, o)})`);
        break;
      case 'resubmit': {
        const port = a.port === null ? '' : formatPort(a.port, o.names);
        if (a.ct) out.push(`resubmit(${port},${a.table === null ? '' : a.table},ct)`);
        else if (a.table === null) out.push(`resubmit:${port}`);
        else out.push(`resubmit(${port},${a.table})`);
        break;
      }
      case 'group':
        out.push(`group:${a.id}`);
        break;
      case 'meter':
        out.push(`meter:${a.id}`);
        break;
      case 'goto_table':
        // An OpenFlow 1.0 dump shows the instruction as the Nicira resubmit.
        out.push(o.version < 11 ? `resubmit(,${a.table})` : `goto_table:${a.table}`);
        break;
      case 'write_actions': {
        // format_WRITE_ACTIONS; an empty one is not kept (ofpacts_parse drops it: `drop`).
        out.push(`write_actions(${formatOfpacts(a.actions, o)})`);
        break;
      }
      case 'clear_actions':
        out.push('clear_actions');
        break;
      case 'write_metadata':
        out.push(formatWriteMetadata(a.value, a.mask));
        break;
    }
  }
  return out.length === 0 ? 'drop' : out.join(',');
}
