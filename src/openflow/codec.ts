/**
 * Encode and decode whole OpenFlow 1.3 messages.
 *
 * `decode` never throws: a malformed message yields `{ ok: false, err }` whose (type, code) is
 * the ERROR the spec prescribes (§7.4.4): a wrong length is OFPET_BAD_REQUEST/OFPBRC_BAD_LEN,
 * an unknown type OFPBRC_BAD_TYPE, a version other than 1.3 OFPBRC_BAD_VERSION (HELLO excepted:
 * it negotiates), errors inside matches, actions, instructions, buckets and bands carry their own
 * types. `errorFor` turns that into the ERROR message to send back (xid of the request, the
 * first 64 bytes of the request as data, as §7.4.4 asks).
 *
 * `encode` writes straight into a slab of fresh memory (buf.ts) and returns a view of it: callers
 * may keep the bytes, nothing writes there again. `decode` reuses one reader and allocates only
 * the records it returns (no BigInt for zero u64s): the codec's cost is `openflow_msgs_per_s`.
 */
import { readActions, readInstructions, writeActions, writeInstructions } from './actions.js';
import { Reader, slabTake, slabWriter, type Writer } from './buf.js';
import { readBands, readBuckets, writeBands, writeBuckets } from './buckets.js';
import { OFPBRC, OFPET, OFPFC, OFPFMFC, OFPHET_VERSIONBITMAP, OFPT, OFP_HEADER_LEN, OFP_MAX_MSG_LEN, OFP_VERSION } from './constants.js';
import type { OfpMessage } from './messages.js';
import { multipartCode, readReplyBody, readRequestBody, writeReplyBody, writeRequestBody } from './multipart.js';
import { readMatch, writeMatch, type OfpErr } from './oxm.js';
import { readPort, writePort } from './port.js';

const TYPE_CODE: Record<OfpMessage['type'], number> = {
  hello: OFPT.HELLO,
  error: OFPT.ERROR,
  echo_request: OFPT.ECHO_REQUEST,
  echo_reply: OFPT.ECHO_REPLY,
  experimenter: OFPT.EXPERIMENTER,
  features_request: OFPT.FEATURES_REQUEST,
  features_reply: OFPT.FEATURES_REPLY,
  get_config_request: OFPT.GET_CONFIG_REQUEST,
  get_config_reply: OFPT.GET_CONFIG_REPLY,
  set_config: OFPT.SET_CONFIG,
  packet_in: OFPT.PACKET_IN,
  flow_removed: OFPT.FLOW_REMOVED,
  port_status: OFPT.PORT_STATUS,
  packet_out: OFPT.PACKET_OUT,
  flow_mod: OFPT.FLOW_MOD,
  group_mod: OFPT.GROUP_MOD,
  port_mod: OFPT.PORT_MOD,
  table_mod: OFPT.TABLE_MOD,
  multipart_request: OFPT.MULTIPART_REQUEST,
  multipart_reply: OFPT.MULTIPART_REPLY,
  barrier_request: OFPT.BARRIER_REQUEST,
  barrier_reply: OFPT.BARRIER_REPLY,
  role_request: OFPT.ROLE_REQUEST,
  role_reply: OFPT.ROLE_REPLY,
  get_async_request: OFPT.GET_ASYNC_REQUEST,
  get_async_reply: OFPT.GET_ASYNC_REPLY,
  set_async: OFPT.SET_ASYNC,
  meter_mod: OFPT.METER_MOD,
};
const TYPE_NAME: (OfpMessage['type'] | undefined)[] = [];
for (const [k, v] of Object.entries(TYPE_CODE)) TYPE_NAME[v] = k as OfpMessage['type'];

export function messageTypeCode(t: OfpMessage['type']): number {
  return TYPE_CODE[t];
}

const decodeReader = new Reader(new Uint8Array(0));

/** Writes `m` (header included) into `w` at its position. */
export function encodeInto(w: Writer, m: OfpMessage): void {
  const start = w.pos;
  w.u8(OFP_VERSION);
  w.u8(TYPE_CODE[m.type]);
  w.u16(0);
  w.u32(m.xid);
  writeBody(w, m);
  const len = w.pos - start;
  if (len > OFP_MAX_MSG_LEN) throw new RangeError(`OpenFlow ${m.type} of ${len} bytes exceeds 65535 (split it)`);
  w.patch16(start + 2, len);
}

/** The wire bytes of `m`. Throws RangeError only for a message over 65535 bytes (a caller bug). */
export function encode(m: OfpMessage): Uint8Array {
  const w = slabWriter();
  encodeInto(w, m);
  return slabTake(w);
}

function writeBody(w: Writer, m: OfpMessage): void {
  switch (m.type) {
    case 'hello': {
      if (m.versions === null) return;
      const max = m.versions.reduce((a, b) => Math.max(a, b), 0);
      const n = Math.floor(max / 32) + 1;
      const words = new Array<number>(n).fill(0);
      for (const v of m.versions) words[v >> 5]! |= 1 << (v & 31);
      const start = w.pos;
      w.u16(OFPHET_VERSIONBITMAP);
      w.u16(4 + 4 * n);
      for (const x of words) w.u32(x);
      w.align8(start);
      return;
    }
    case 'error':
      w.u16(m.errType);
      w.u16(m.code);
      if (m.errType === OFPET.EXPERIMENTER) w.u32(m.experimenter ?? 0);
      w.bytes(m.data);
      return;
    case 'echo_request':
    case 'echo_reply':
      w.bytes(m.data);
      return;
    case 'experimenter':
      w.u32(m.experimenter);
      w.u32(m.expType);
      w.bytes(m.data);
      return;
    case 'features_request':
    case 'get_config_request':
    case 'barrier_request':
    case 'barrier_reply':
    case 'get_async_request':
      return;
    case 'features_reply':
      w.u64(m.datapathId);
      w.u32(m.nBuffers);
      w.u8(m.nTables);
      w.u8(m.auxiliaryId);
      w.pad(2);
      w.u32(m.capabilities);
      w.u32(0);
      return;
    case 'get_config_reply':
    case 'set_config':
      w.u16(m.flags);
      w.u16(m.missSendLen);
      return;
    case 'packet_in':
      w.u32(m.bufferId);
      w.u16(m.totalLen);
      w.u8(m.reason);
      w.u8(m.tableId);
      w.u64(m.cookie);
      writeMatch(w, m.match);
      w.pad(2);
      w.bytes(m.data);
      return;
    case 'flow_removed':
      w.u64(m.cookie);
      w.u16(m.priority);
      w.u8(m.reason);
      w.u8(m.tableId);
      w.u32(m.durationSec);
      w.u32(m.durationNsec);
      w.u16(m.idleTimeout);
      w.u16(m.hardTimeout);
      w.u64(m.packetCount);
      w.u64(m.byteCount);
      writeMatch(w, m.match);
      return;
    case 'port_status':
      w.u8(m.reason);
      w.pad(7);
      writePort(w, m.desc);
      return;
    case 'packet_out': {
      w.u32(m.bufferId);
      w.u32(m.inPort);
      const lenAt = w.pos;
      w.u16(0);
      w.pad(6);
      const a0 = w.pos;
      writeActions(w, m.actions);
      w.patch16(lenAt, w.pos - a0);
      w.bytes(m.data);
      return;
    }
    case 'flow_mod':
      w.u64(m.cookie);
      w.u64(m.cookieMask);
      w.u8(m.tableId);
      w.u8(m.command);
      w.u16(m.idleTimeout);
      w.u16(m.hardTimeout);
      w.u16(m.priority);
      w.u32(m.bufferId);
      w.u32(m.outPort);
      w.u32(m.outGroup);
      w.u16(m.flags);
      w.pad(2);
      writeMatch(w, m.match);
      writeInstructions(w, m.instructions);
      return;
    case 'group_mod':
      w.u16(m.command);
      w.u8(m.groupType);
      w.pad(1);
      w.u32(m.groupId);
      writeBuckets(w, m.buckets);
      return;
    case 'port_mod':
      w.u32(m.portNo);
      w.pad(4);
      w.u48(m.hwAddr);
      w.pad(2);
      w.u32(m.config);
      w.u32(m.mask);
      w.u32(m.advertise);
      w.pad(4);
      return;
    case 'table_mod':
      w.u8(m.tableId);
      w.pad(3);
      w.u32(m.config);
      return;
    case 'multipart_request':
      w.u16(multipartCode(m.body));
      w.u16(m.flags);
      w.pad(4);
      writeRequestBody(w, m.body);
      return;
    case 'multipart_reply':
      w.u16(multipartCode(m.body));
      w.u16(m.flags);
      w.pad(4);
      writeReplyBody(w, m.body);
      return;
    case 'role_request':
    case 'role_reply':
      w.u32(m.role);
      w.pad(4);
      w.u64(m.generationId);
      return;
    case 'get_async_reply':
    case 'set_async':
      for (const pair of [m.packetInMask, m.portStatusMask, m.flowRemovedMask]) {
        w.u32(pair[0]);
        w.u32(pair[1]);
      }
      return;
    case 'meter_mod':
      w.u16(m.command);
      w.u16(m.flags);
      w.u32(m.meterId);
      writeBands(w, m.bands);
      return;
  }
}

export type DecodeResult = { ok: true; msg: OfpMessage } | { ok: false; err: OfpErr; xid: number; version: number; msgType: number };

function badLen(at: number, why: string): OfpErr {
  return { type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_LEN, at, why };
}

function isErr(v: unknown): v is OfpErr {
  // Records and lists never carry a numeric `code` next to a numeric `type`.
  return typeof (v as OfpErr).code === 'number' && typeof (v as OfpErr).type === 'number';
}

/** Decodes one whole message (`bytes` is exactly one message). Never throws. */
export function decode(bytes: Uint8Array): DecodeResult {
  if (bytes.length < OFP_HEADER_LEN) {
    return { ok: false, err: badLen(0, `message of ${bytes.length} bytes is shorter than the 8-byte header`), xid: 0, version: bytes[0] ?? 0, msgType: bytes[1] ?? 0 };
  }
  // One reader for every call (decode is not re-entrant): no allocation per message.
  const r = decodeReader;
  r.reset(bytes);
  const version = r.u8();
  const type = r.u8();
  const length = r.u16();
  const xid = r.u32();
  if (length !== bytes.length) return fail(badLen(2, `header length ${length}, message is ${bytes.length} bytes`), xid, version, type);
  const name = TYPE_NAME[type];
  if (version !== OFP_VERSION && type !== OFPT.HELLO) {
    return fail({ type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_VERSION, at: 0, why: `version 0x${version.toString(16)} (this switch speaks OpenFlow 1.3, 0x04)` }, xid, version, type);
  }
  if (name === undefined) return fail({ type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_TYPE, at: 1, why: `message type ${type}` }, xid, version, type);
  const m = readBody(r, name, xid);
  if (isErr(m)) return fail(m, xid, version, type);
  if (r.bad) return fail(badLen(r.pos, `${name} truncated`), xid, version, type);
  return { ok: true, msg: m };
}

function fail(err: OfpErr, xid: number, version: number, msgType: number): DecodeResult {
  return { ok: false, err, xid, version, msgType };
}

function exactLen(r: Reader, name: string, n: number): OfpErr | null {
  return r.end === n ? null : badLen(2, `${name} is ${r.end} bytes, expected ${n}`);
}
function minLen(r: Reader, name: string, n: number): OfpErr | null {
  return r.end >= n ? null : badLen(2, `${name} is ${r.end} bytes, needs at least ${n}`);
}

function readBody(r: Reader, name: OfpMessage['type'], xid: number): OfpMessage | OfpErr {
  switch (name) {
    case 'hello': {
      let versions: number[] | null = null;
      // §7.5.1: elements are TLVs padded to 8; unknown element types are ignored.
      while (r.left >= 4) {
        const at = r.pos;
        const t = r.u16();
        const len = r.u16();
        if (len < 4 || at + len > r.end) return badLen(at, `hello element length ${len}`);
        if (t === OFPHET_VERSIONBITMAP && versions === null) {
          if ((len - 4) % 4 !== 0) return badLen(at, `version bitmap length ${len}`);
          versions = [];
          for (let i = 0; i < (len - 4) / 4; i++) {
            const word = r.u32();
            for (let b = 0; b < 32; b++) if (word & (1 << b)) versions.push(i * 32 + b);
          }
        }
        r.pos = Math.min(r.end, at + ((len + 7) & ~7));
      }
      return { type: 'hello', xid, versions };
    }
    case 'error': {
      const e = minLen(r, name, 12);
      if (e) return e;
      const errType = r.u16();
      const code = r.u16();
      if (errType === OFPET.EXPERIMENTER) {
        const e2 = minLen(r, name, 16);
        if (e2) return e2;
        const experimenter = r.u32();
        return { type: 'error', xid, errType, code, experimenter, data: r.bytes(r.left) };
      }
      return { type: 'error', xid, errType, code, data: r.bytes(r.left) };
    }
    case 'echo_request':
    case 'echo_reply':
      return { type: name, xid, data: r.bytes(r.left) };
    case 'experimenter': {
      const e = minLen(r, name, 16);
      if (e) return e;
      return { type: 'experimenter', xid, experimenter: r.u32(), expType: r.u32(), data: r.bytes(r.left) };
    }
    case 'features_request':
    case 'get_config_request':
    case 'barrier_request':
    case 'barrier_reply':
    case 'get_async_request':
      return exactLen(r, name, 8) ?? { type: name, xid };
    case 'features_reply': {
      const e = exactLen(r, name, 32);
      if (e) return e;
      const datapathId = r.u64();
      const nBuffers = r.u32();
      const nTables = r.u8();
      const auxiliaryId = r.u8();
      r.skip(2);
      const capabilities = r.u32();
      r.skip(4);
      return { type: name, xid, datapathId, nBuffers, nTables, auxiliaryId, capabilities };
    }
    case 'get_config_reply':
    case 'set_config':
      return exactLen(r, name, 12) ?? { type: name, xid, flags: r.u16(), missSendLen: r.u16() };
    case 'packet_in': {
      const e = minLen(r, name, 34);
      if (e) return e;
      const bufferId = r.u32();
      const totalLen = r.u16();
      const reason = r.u8();
      const tableId = r.u8();
      const cookie = r.u64();
      const match = readMatch(r);
      if (isErr(match)) return match;
      if (r.left < 2) return badLen(r.pos, 'packet_in: no room for the 2 pad bytes');
      r.skip(2);
      return { type: name, xid, bufferId, totalLen, reason, tableId, cookie, match, data: r.bytes(r.left) };
    }
    case 'flow_removed': {
      const e = minLen(r, name, 56);
      if (e) return e;
      const cookie = r.u64();
      const priority = r.u16();
      const reason = r.u8();
      const tableId = r.u8();
      const durationSec = r.u32();
      const durationNsec = r.u32();
      const idleTimeout = r.u16();
      const hardTimeout = r.u16();
      const packetCount = r.u64();
      const byteCount = r.u64();
      const match = readMatch(r);
      if (isErr(match)) return match;
      if (r.left !== 0) return badLen(r.pos, 'bytes after the flow_removed match');
      return { type: name, xid, cookie, priority, reason, tableId, durationSec, durationNsec, idleTimeout, hardTimeout, packetCount, byteCount, match };
    }
    case 'port_status': {
      const e = exactLen(r, name, 80);
      if (e) return e;
      const reason = r.u8();
      r.skip(7);
      return { type: name, xid, reason, desc: readPort(r) };
    }
    case 'packet_out': {
      const e = minLen(r, name, 24);
      if (e) return e;
      const bufferId = r.u32();
      const inPort = r.u32();
      const actionsLen = r.u16();
      r.skip(6);
      if (actionsLen > r.left) return badLen(16, `packet_out actions_len ${actionsLen} past the end`);
      const outer = r.end;
      r.end = r.pos + actionsLen;
      const actions = readActions(r);
      r.end = outer;
      if (isErr(actions)) return actions;
      return { type: name, xid, bufferId, inPort, actions, data: r.bytes(r.left) };
    }
    case 'flow_mod': {
      const e = minLen(r, name, 56);
      if (e) return e;
      const cookie = r.u64();
      const cookieMask = r.u64();
      const tableId = r.u8();
      const command = r.u8();
      const idleTimeout = r.u16();
      const hardTimeout = r.u16();
      const priority = r.u16();
      const bufferId = r.u32();
      const outPort = r.u32();
      const outGroup = r.u32();
      const flags = r.u16();
      r.skip(2);
      if (command > OFPFC.DELETE_STRICT) return { type: OFPET.FLOW_MOD_FAILED, code: OFPFMFC.BAD_COMMAND, at: 25, why: `flow_mod command ${command}` };
      const match = readMatch(r);
      if (isErr(match)) return match;
      const instructions = readInstructions(r);
      if (isErr(instructions)) return instructions;
      return { type: name, xid, cookie, cookieMask, tableId, command, idleTimeout, hardTimeout, priority, bufferId, outPort, outGroup, flags, match, instructions };
    }
    case 'group_mod': {
      const e = minLen(r, name, 16);
      if (e) return e;
      const command = r.u16();
      const groupType = r.u8();
      r.skip(1);
      const groupId = r.u32();
      const buckets = readBuckets(r);
      if (isErr(buckets)) return buckets;
      return { type: name, xid, command, groupType, groupId, buckets };
    }
    case 'port_mod': {
      const e = exactLen(r, name, 40);
      if (e) return e;
      const portNo = r.u32();
      r.skip(4);
      const hwAddr = r.u48();
      r.skip(2);
      const v = { type: name, xid, portNo, hwAddr, config: r.u32(), mask: r.u32(), advertise: r.u32() };
      r.skip(4);
      return v;
    }
    case 'table_mod': {
      const e = exactLen(r, name, 16);
      if (e) return e;
      const tableId = r.u8();
      r.skip(3);
      return { type: name, xid, tableId, config: r.u32() };
    }
    case 'multipart_request':
    case 'multipart_reply': {
      const e = minLen(r, name, 16);
      if (e) return e;
      const code = r.u16();
      const flags = r.u16();
      r.skip(4);
      if (name === 'multipart_request') {
        const body = readRequestBody(r, code);
        return isErr(body) ? body : { type: name, xid, flags, body };
      }
      const body = readReplyBody(r, code);
      return isErr(body) ? body : { type: name, xid, flags, body };
    }
    case 'role_request':
    case 'role_reply': {
      const e = exactLen(r, name, 24);
      if (e) return e;
      const role = r.u32();
      r.skip(4);
      return { type: name, xid, role, generationId: r.u64() };
    }
    case 'get_async_reply':
    case 'set_async': {
      const e = exactLen(r, name, 32);
      if (e) return e;
      return { type: name, xid, packetInMask: [r.u32(), r.u32()], portStatusMask: [r.u32(), r.u32()], flowRemovedMask: [r.u32(), r.u32()] };
    }
    case 'meter_mod': {
      const e = minLen(r, name, 16);
      if (e) return e;
      const command = r.u16();
      const flags = r.u16();
      const meterId = r.u32();
      const bands = readBands(r);
      if (isErr(bands)) return bands;
      return { type: name, xid, command, flags, meterId, bands };
    }
  }
}

/** Bytes of a failed request an ERROR carries back (§7.4.4: at least 64, or all of it). */
export const ERROR_DATA_LEN = 64;

/** The ERROR message answering a request that failed with `err`. */
export function errorFor(err: OfpErr, xid: number, request: Uint8Array): OfpMessage {
  return { type: 'error', xid, errType: err.type, code: err.code, data: request.slice(0, ERROR_DATA_LEN) };
}
