/**
 * OpenFlow 1.3 actions (§7.2.5) and instructions (§7.2.4): typed records, encode, decode.
 *
 * Every action and instruction is a TLV whose length is a multiple of 8 and at least 8; the
 * fixed-size ones must have exactly their size. Violations decode to the error the spec names
 * (OFPBAC_BAD_LEN, OFPBIC_BAD_LEN, OFPBAC_BAD_TYPE, OFPBIC_UNKNOWN_INST, OFPBAC_BAD_SET_*).
 */
import type { Reader, Writer } from './buf.js';
import { OFPAT, OFPBAC, OFPBIC, OFPET, OFPIT } from './constants.js';
import { oxmLen, readOxm, writeOxm, type OfpErr, type Oxm } from './oxm.js';

export type Action =
  | { type: 'output'; port: number; maxLen: number }
  | { type: 'copy_ttl_out' | 'copy_ttl_in' | 'dec_mpls_ttl' | 'pop_vlan' | 'dec_nw_ttl' | 'pop_pbb' }
  | { type: 'set_mpls_ttl' | 'set_nw_ttl'; ttl: number }
  | { type: 'push_vlan' | 'push_mpls' | 'push_pbb' | 'pop_mpls'; ethertype: number }
  | { type: 'set_queue'; queueId: number }
  | { type: 'group'; groupId: number }
  | { type: 'set_field'; oxm: Oxm }
  | { type: 'experimenter'; experimenter: number; data: Uint8Array };

export type Instruction =
  | { type: 'goto_table'; tableId: number }
  | { type: 'write_metadata'; metadata: bigint; metadataMask: bigint }
  | { type: 'write_actions' | 'apply_actions'; actions: Action[] }
  | { type: 'clear_actions' }
  | { type: 'meter'; meterId: number }
  | { type: 'experimenter'; experimenter: number; data: Uint8Array };

const NOARG: Record<string, number> = {
  copy_ttl_out: OFPAT.COPY_TTL_OUT,
  copy_ttl_in: OFPAT.COPY_TTL_IN,
  dec_mpls_ttl: OFPAT.DEC_MPLS_TTL,
  pop_vlan: OFPAT.POP_VLAN,
  dec_nw_ttl: OFPAT.DEC_NW_TTL,
  pop_pbb: OFPAT.POP_PBB,
};
const NOARG_BY_CODE = new Map<number, Action['type']>(Object.entries(NOARG).map(([k, v]) => [v, k as Action['type']]));
const ETHERTYPE_ACTS: Record<string, number> = {
  push_vlan: OFPAT.PUSH_VLAN,
  push_mpls: OFPAT.PUSH_MPLS,
  push_pbb: OFPAT.PUSH_PBB,
  pop_mpls: OFPAT.POP_MPLS,
};
const ETHERTYPE_BY_CODE = new Map<number, string>(Object.entries(ETHERTYPE_ACTS).map(([k, v]) => [v, k]));

function actErr(code: number, at: number, why: string): OfpErr {
  return { type: OFPET.BAD_ACTION, code, at, why };
}
function instErr(code: number, at: number, why: string): OfpErr {
  return { type: OFPET.BAD_INSTRUCTION, code, at, why };
}

function fixedAct(len: number, n: number, at: number, type: number): OfpErr | null {
  return len === n ? null : actErr(OFPBAC.BAD_LEN, at, `action type ${type}: length ${len}, expected ${n}`);
}
function fixedInst(len: number, n: number, at: number, type: number): OfpErr | null {
  return len === n ? null : instErr(OFPBIC.BAD_LEN, at, `instruction type ${type}: length ${len}, expected ${n}`);
}

export function actionLen(a: Action): number {
  switch (a.type) {
    case 'output':
      return 16;
    case 'set_field':
      return (4 + oxmLen(a.oxm) + 7) & ~7;
    case 'experimenter':
      return (8 + a.data.length + 7) & ~7;
    default:
      return 8;
  }
}

export function writeAction(w: Writer, a: Action): void {
  const start = w.pos;
  switch (a.type) {
    case 'output':
      w.u16(OFPAT.OUTPUT);
      w.u16(16);
      w.u32(a.port);
      w.u16(a.maxLen);
      w.pad(6);
      return;
    case 'set_mpls_ttl':
    case 'set_nw_ttl':
      w.u16(a.type === 'set_mpls_ttl' ? OFPAT.SET_MPLS_TTL : OFPAT.SET_NW_TTL);
      w.u16(8);
      w.u8(a.ttl);
      w.pad(3);
      return;
    case 'push_vlan':
    case 'push_mpls':
    case 'push_pbb':
    case 'pop_mpls':
      w.u16(ETHERTYPE_ACTS[a.type]!);
      w.u16(8);
      w.u16(a.ethertype);
      w.pad(2);
      return;
    case 'set_queue':
    case 'group':
      w.u16(a.type === 'set_queue' ? OFPAT.SET_QUEUE : OFPAT.GROUP);
      w.u16(8);
      w.u32(a.type === 'set_queue' ? a.queueId : a.groupId);
      return;
    case 'set_field':
      w.u16(OFPAT.SET_FIELD);
      w.u16(actionLen(a));
      writeOxm(w, a.oxm);
      w.align8(start);
      return;
    case 'experimenter':
      w.u16(OFPAT.EXPERIMENTER);
      w.u16(actionLen(a));
      w.u32(a.experimenter);
      w.bytes(a.data);
      w.align8(start);
      return;
    default:
      w.u16(NOARG[a.type]!);
      w.u16(8);
      w.pad(4);
  }
}

export function writeActions(w: Writer, actions: readonly Action[]): void {
  for (const a of actions) writeAction(w, a);
}

/** Reads actions until `r.end`. */
export function readActions(r: Reader): Action[] | OfpErr {
  const out: Action[] = [];
  while (r.pos < r.end) {
    const at = r.pos;
    if (r.left < 8) return actErr(OFPBAC.BAD_LEN, at, 'action header truncated');
    const type = r.u16();
    const len = r.u16();
    if (len < 8 || len % 8 !== 0 || len > r.end - at) return actErr(OFPBAC.BAD_LEN, at, `action length ${len}`);
    const end = at + len;
    let a: Action;
    if (type === OFPAT.OUTPUT) {
      const e = fixedAct(len, 16, at, type);
      if (e) return e;
      a = { type: 'output', port: r.u32(), maxLen: r.u16() };
    } else if (NOARG_BY_CODE.has(type)) {
      const e = fixedAct(len, 8, at, type);
      if (e) return e;
      a = { type: NOARG_BY_CODE.get(type) } as Action;
    } else if (type === OFPAT.SET_MPLS_TTL || type === OFPAT.SET_NW_TTL) {
      const e = fixedAct(len, 8, at, type);
      if (e) return e;
      a = { type: type === OFPAT.SET_MPLS_TTL ? 'set_mpls_ttl' : 'set_nw_ttl', ttl: r.u8() };
    } else if (ETHERTYPE_BY_CODE.has(type)) {
      const e = fixedAct(len, 8, at, type);
      if (e) return e;
      a = { type: ETHERTYPE_BY_CODE.get(type), ethertype: r.u16() } as Action;
    } else if (type === OFPAT.SET_QUEUE || type === OFPAT.GROUP) {
      const e = fixedAct(len, 8, at, type);
      if (e) return e;
      a = type === OFPAT.SET_QUEUE ? { type: 'set_queue', queueId: r.u32() } : { type: 'group', groupId: r.u32() };
    } else if (type === OFPAT.SET_FIELD) {
      const outer = r.end;
      r.end = end;
      const o = readOxm(r);
      r.end = outer;
      if ('type' in o) return actErr(o.code === 1 ? OFPBAC.BAD_SET_LEN : OFPBAC.BAD_SET_ARGUMENT, at, `set_field: ${o.why ?? ''}`);
      // §7.2.5: set_field carries no mask in OpenFlow 1.3; padding to 8 must be zero-length-minimal.
      if ((o.field === 'raw' ? o.hasMask : o.mask !== undefined)) return actErr(OFPBAC.BAD_SET_ARGUMENT, at, 'set_field with a mask');
      if (o.field === 'raw') return actErr(OFPBAC.BAD_SET_TYPE, at, `set_field of unknown field class ${o.oxmClass} field ${o.oxmField}`);
      if (((4 + oxmLen(o) + 7) & ~7) !== len) return actErr(OFPBAC.BAD_SET_LEN, at, `set_field length ${len}`);
      a = { type: 'set_field', oxm: o };
    } else if (type === OFPAT.EXPERIMENTER) {
      a = { type: 'experimenter', experimenter: r.u32(), data: r.bytes(len - 8) };
    } else {
      return actErr(OFPBAC.BAD_TYPE, at, `unknown action type ${type}`);
    }
    r.pos = end;
    out.push(a);
  }
  return out;
}

export function instructionLen(i: Instruction): number {
  switch (i.type) {
    case 'write_metadata':
      return 24;
    case 'write_actions':
    case 'apply_actions': {
      let n = 8;
      for (const a of i.actions) n += actionLen(a);
      return n;
    }
    case 'experimenter':
      return (8 + i.data.length + 7) & ~7;
    default:
      return 8;
  }
}

export function writeInstruction(w: Writer, i: Instruction): void {
  const start = w.pos;
  switch (i.type) {
    case 'goto_table':
      w.u16(OFPIT.GOTO_TABLE);
      w.u16(8);
      w.u8(i.tableId);
      w.pad(3);
      return;
    case 'write_metadata':
      w.u16(OFPIT.WRITE_METADATA);
      w.u16(24);
      w.pad(4);
      w.u64(i.metadata);
      w.u64(i.metadataMask);
      return;
    case 'write_actions':
    case 'apply_actions':
      w.u16(i.type === 'write_actions' ? OFPIT.WRITE_ACTIONS : OFPIT.APPLY_ACTIONS);
      w.u16(0);
      w.pad(4);
      writeActions(w, i.actions);
      w.patch16(start + 2, w.pos - start);
      return;
    case 'clear_actions':
      w.u16(OFPIT.CLEAR_ACTIONS);
      w.u16(8);
      w.pad(4);
      return;
    case 'meter':
      w.u16(OFPIT.METER);
      w.u16(8);
      w.u32(i.meterId);
      return;
    case 'experimenter':
      w.u16(OFPIT.EXPERIMENTER);
      w.u16(instructionLen(i));
      w.u32(i.experimenter);
      w.bytes(i.data);
      w.align8(start);
      return;
  }
}

export function writeInstructions(w: Writer, list: readonly Instruction[]): void {
  for (const i of list) writeInstruction(w, i);
}

/** Reads instructions until `r.end`. */
export function readInstructions(r: Reader): Instruction[] | OfpErr {
  const out: Instruction[] = [];
  while (r.pos < r.end) {
    const at = r.pos;
    if (r.left < 8) return instErr(OFPBIC.BAD_LEN, at, 'instruction header truncated');
    const type = r.u16();
    const len = r.u16();
    if (len < 8 || len % 8 !== 0 || len > r.end - at) return instErr(OFPBIC.BAD_LEN, at, `instruction length ${len}`);
    const end = at + len;
    let i: Instruction;
    switch (type) {
      case OFPIT.GOTO_TABLE: {
        const e = fixedInst(len, 8, at, type);
        if (e) return e;
        i = { type: 'goto_table', tableId: r.u8() };
        break;
      }
      case OFPIT.WRITE_METADATA: {
        const e = fixedInst(len, 24, at, type);
        if (e) return e;
        r.skip(4);
        i = { type: 'write_metadata', metadata: r.u64(), metadataMask: r.u64() };
        break;
      }
      case OFPIT.WRITE_ACTIONS:
      case OFPIT.APPLY_ACTIONS: {
        r.skip(4);
        const outer = r.end;
        r.end = end;
        const acts = readActions(r);
        r.end = outer;
        if (!Array.isArray(acts)) return acts;
        i = { type: type === OFPIT.WRITE_ACTIONS ? 'write_actions' : 'apply_actions', actions: acts };
        break;
      }
      case OFPIT.CLEAR_ACTIONS: {
        const e = fixedInst(len, 8, at, type);
        if (e) return e;
        i = { type: 'clear_actions' };
        break;
      }
      case OFPIT.METER: {
        const e = fixedInst(len, 8, at, type);
        if (e) return e;
        i = { type: 'meter', meterId: r.u32() };
        break;
      }
      case OFPIT.EXPERIMENTER:
        i = { type: 'experimenter', experimenter: r.u32(), data: r.bytes(len - 8) };
        break;
      default:
        return instErr(OFPBIC.UNKNOWN_INST, at, `unknown instruction type ${type}`);
    }
    r.pos = end;
    out.push(i);
  }
  return out;
}
