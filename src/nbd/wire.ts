/**
 * NBD messages as values, and their encoders. One type per message form in proto.md:
 *
 * client -> server: client flags (handshake), options (`IHAVEOPT` + option + length + data),
 *   requests (28-byte header, plus the payload of NBD_CMD_WRITE);
 * server -> client: the greeting (`NBDMAGIC IHAVEOPT` + handshake flags), option replies, the
 *   reply to NBD_OPT_EXPORT_NAME (size, flags, 124 zero bytes unless NO_ZEROES), simple replies
 *   (16-byte header, plus the data of a successful NBD_CMD_READ) and structured reply chunks
 *   (20-byte header + payload).
 *
 * Offsets and sizes are JS numbers: exact up to 2^53 (8 PiB, beyond any image vfab opens); a
 * larger wire value decodes to a number above every export size, so the server answers EINVAL as
 * it must. Cookies are opaque 64-bit values and stay bigint.
 */
import { bufferView, carve } from './slab.js';
import { UserError } from '../errors.js';
import {
  NBD_INIT_MAGIC,
  NBD_OPTS_MAGIC,
  NBD_REP_MAGIC,
  NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INFO_NAME,
  NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_ERROR_BIT,
  NBD_REPLY_TYPE_NONE,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_REPLY_TYPE_OFFSET_HOLE,
  NBD_MAX_STRING,
} from './constants.js';

/** A violation of proto.md in bytes received: where (stream and byte offset) and what. */
export class NbdProtocolError extends UserError {
  constructor(
    readonly stream: string,
    readonly offset: number,
    message: string,
  ) {
    super('NBD_PROTOCOL', message, { where: `${stream} byte ${offset}` });
  }
}

export type ClientMessage =
  | { kind: 'client-flags'; flags: number }
  | { kind: 'option'; option: number; data: Uint8Array }
  | NbdRequest;

export interface NbdRequest {
  kind: 'request';
  flags: number;
  type: number;
  cookie: bigint;
  offset: number;
  length: number;
  /** NBD_CMD_WRITE only: `length` bytes. */
  data?: Uint8Array;
}

export type ServerMessage =
  | { kind: 'greeting'; flags: number }
  | { kind: 'option-reply'; option: number; type: number; data: Uint8Array }
  | { kind: 'export-name-reply'; size: number; flags: number; zeroes: boolean }
  | { kind: 'simple-reply'; error: number; cookie: bigint; data?: Uint8Array }
  | { kind: 'chunk'; flags: number; type: number; cookie: bigint; payload: Uint8Array };

// --- byte helpers -------------------------------------------------------------------------

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });

export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}
export function fromUtf8(b: Uint8Array): string {
  return dec.decode(b);
}

function beU32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function putU64(v: DataView, at: number, n: number): void {
  v.setUint32(at, Math.floor(n / 0x100000000));
  v.setUint32(at + 4, n >>> 0);
}
export function getU64(v: DataView, at: number): number {
  return v.getUint32(at) * 0x100000000 + v.getUint32(at + 4);
}

// --- encoders -----------------------------------------------------------------------------

export function encodeClientMessage(m: ClientMessage): Uint8Array {
  switch (m.kind) {
    case 'client-flags': {
      const b = new Uint8Array(4);
      view(b).setUint32(0, m.flags >>> 0);
      return b;
    }
    case 'option': {
      const b = new Uint8Array(16 + m.data.length);
      const v = view(b);
      v.setBigUint64(0, NBD_OPTS_MAGIC);
      v.setUint32(8, m.option >>> 0);
      v.setUint32(12, m.data.length);
      b.set(m.data, 16);
      return b;
    }
    case 'request':
      return encodeRequest(m);
  }
}

export function encodeRequest(m: NbdRequest): Uint8Array {
  const data = m.data;
  // every I/O's request (the hot path): a slab buffer and the slab's one DataView
  const b = carve(28 + (data ? data.length : 0));
  const v = bufferView(b);
  const o = b.byteOffset;
  v.setUint32(o, NBD_REQUEST_MAGIC);
  v.setUint16(o + 4, m.flags);
  v.setUint16(o + 6, m.type);
  v.setBigUint64(o + 8, m.cookie);
  putU64(v, o + 16, m.offset);
  v.setUint32(o + 24, m.length >>> 0);
  if (data) b.set(data, 28);
  return b;
}

export function encodeServerMessage(m: ServerMessage): Uint8Array {
  switch (m.kind) {
    case 'greeting': {
      const b = new Uint8Array(18);
      const v = view(b);
      v.setBigUint64(0, NBD_INIT_MAGIC);
      v.setBigUint64(8, NBD_OPTS_MAGIC);
      v.setUint16(16, m.flags);
      return b;
    }
    case 'option-reply': {
      const b = new Uint8Array(20 + m.data.length);
      const v = view(b);
      v.setBigUint64(0, NBD_REP_MAGIC);
      v.setUint32(8, m.option >>> 0);
      v.setUint32(12, m.type >>> 0);
      v.setUint32(16, m.data.length);
      b.set(m.data, 20);
      return b;
    }
    case 'export-name-reply': {
      const b = new Uint8Array(m.zeroes ? 134 : 10);
      const v = view(b);
      putU64(v, 0, m.size);
      v.setUint16(8, m.flags);
      return b;
    }
    case 'simple-reply': {
      const data = m.data;
      const b = new Uint8Array(16 + (data ? data.length : 0));
      const v = view(b);
      v.setUint32(0, NBD_SIMPLE_REPLY_MAGIC);
      v.setUint32(4, m.error >>> 0);
      v.setBigUint64(8, m.cookie);
      if (data) b.set(data, 16);
      return b;
    }
    case 'chunk':
      return encodeChunk(m.flags, m.type, m.cookie, m.payload);
  }
}

export function encodeChunk(flags: number, type: number, cookie: bigint, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  const v = view(b);
  v.setUint32(0, NBD_STRUCTURED_REPLY_MAGIC);
  v.setUint16(4, flags);
  v.setUint16(6, type);
  v.setBigUint64(8, cookie);
  v.setUint32(16, payload.length);
  b.set(payload, 20);
  return b;
}

// --- option and chunk payloads ------------------------------------------------------------

/** Data of NBD_OPT_INFO / NBD_OPT_GO: export name and the NBD_INFO_* items asked for. */
export interface InfoRequest {
  name: string;
  requests: number[];
}

export function encodeInfoRequest(r: InfoRequest): Uint8Array {
  const name = utf8(r.name);
  const b = new Uint8Array(4 + name.length + 2 + 2 * r.requests.length);
  const v = view(b);
  v.setUint32(0, name.length);
  b.set(name, 4);
  v.setUint16(4 + name.length, r.requests.length);
  r.requests.forEach((q, i) => v.setUint16(6 + name.length + 2 * i, q));
  return b;
}

/** Parses NBD_OPT_INFO/GO data; a string describing what is wrong when it is malformed. */
export function parseInfoRequest(d: Uint8Array): InfoRequest | string {
  if (d.length < 6) return `option data of ${d.length} bytes is shorter than the 6 an INFO/GO needs`;
  const v = view(d);
  const nameLen = v.getUint32(0);
  if (nameLen > d.length - 6) return `name length ${nameLen} exceeds option length ${d.length} - 6`;
  if (nameLen > NBD_MAX_STRING) return `name length ${nameLen} exceeds ${NBD_MAX_STRING}`;
  const n = v.getUint16(4 + nameLen);
  if (d.length !== 6 + nameLen + 2 * n) return `option length ${d.length} does not match ${n} information requests`;
  const requests: number[] = [];
  for (let i = 0; i < n; i++) requests.push(v.getUint16(6 + nameLen + 2 * i));
  return { name: fromUtf8(d.subarray(4, 4 + nameLen)), requests };
}

/** Data of NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT. */
export interface MetaContextRequest {
  name: string;
  queries: string[];
}

export function encodeMetaContextRequest(r: MetaContextRequest): Uint8Array {
  const name = utf8(r.name);
  const qs = r.queries.map(utf8);
  const b = new Uint8Array(8 + name.length + qs.reduce((s, q) => s + 4 + q.length, 0));
  const v = view(b);
  v.setUint32(0, name.length);
  b.set(name, 4);
  v.setUint32(4 + name.length, qs.length);
  let at = 8 + name.length;
  for (const q of qs) {
    v.setUint32(at, q.length);
    b.set(q, at + 4);
    at += 4 + q.length;
  }
  return b;
}

export function parseMetaContextRequest(d: Uint8Array): MetaContextRequest | string {
  const v = view(d);
  if (d.length < 8) return `option data of ${d.length} bytes is shorter than the 8 a meta context request needs`;
  const nameLen = v.getUint32(0);
  if (nameLen > NBD_MAX_STRING || nameLen > d.length - 8) return `export name length ${nameLen} does not fit the option`;
  const n = v.getUint32(4 + nameLen);
  let at = 8 + nameLen;
  const queries: string[] = [];
  for (let i = 0; i < n; i++) {
    if (at + 4 > d.length) return `query ${i} of ${n} runs past the option data`;
    const len = v.getUint32(at);
    if (len > NBD_MAX_STRING || at + 4 + len > d.length) return `query ${i} length ${len} runs past the option data`;
    queries.push(fromUtf8(d.subarray(at + 4, at + 4 + len)));
    at += 4 + len;
  }
  if (at !== d.length) return `${d.length - at} bytes after the last query`;
  return { name: fromUtf8(d.subarray(4, 4 + nameLen)), queries };
}

/** What one NBD_REP_INFO carries. */
export type InfoItem =
  | { info: 'export'; size: number; flags: number }
  | { info: 'name'; name: string }
  | { info: 'description'; description: string }
  | { info: 'block-size'; minimum: number; preferred: number; maximum: number }
  | { info: 'unknown'; type: number; data: Uint8Array };

export function encodeInfo(i: InfoItem): Uint8Array {
  switch (i.info) {
    case 'export': {
      const b = new Uint8Array(12);
      const v = view(b);
      v.setUint16(0, NBD_INFO_EXPORT);
      putU64(v, 2, i.size);
      v.setUint16(10, i.flags);
      return b;
    }
    case 'name':
    case 'description': {
      const s = utf8(i.info === 'name' ? i.name : i.description);
      const b = new Uint8Array(2 + s.length);
      view(b).setUint16(0, i.info === 'name' ? NBD_INFO_NAME : NBD_INFO_DESCRIPTION);
      b.set(s, 2);
      return b;
    }
    case 'block-size': {
      const b = new Uint8Array(14);
      const v = view(b);
      v.setUint16(0, NBD_INFO_BLOCK_SIZE);
      v.setUint32(2, i.minimum);
      v.setUint32(6, i.preferred);
      v.setUint32(10, i.maximum);
      return b;
    }
    case 'unknown': {
      const b = new Uint8Array(2 + i.data.length);
      view(b).setUint16(0, i.type);
      b.set(i.data, 2);
      return b;
    }
  }
}

export function parseInfo(d: Uint8Array): InfoItem | string {
  if (d.length < 2) return `NBD_REP_INFO of ${d.length} bytes has no information type`;
  const v = view(d);
  const type = v.getUint16(0);
  switch (type) {
    case NBD_INFO_EXPORT:
      if (d.length !== 12) return `NBD_INFO_EXPORT length ${d.length}, must be 12`;
      return { info: 'export', size: getU64(v, 2), flags: v.getUint16(10) };
    case NBD_INFO_NAME:
      return { info: 'name', name: fromUtf8(d.subarray(2)) };
    case NBD_INFO_DESCRIPTION:
      return { info: 'description', description: fromUtf8(d.subarray(2)) };
    case NBD_INFO_BLOCK_SIZE:
      if (d.length !== 14) return `NBD_INFO_BLOCK_SIZE length ${d.length}, must be 14`;
      return { info: 'block-size', minimum: v.getUint32(2), preferred: v.getUint32(6), maximum: v.getUint32(10) };
    default:
      return { info: 'unknown', type, data: d.slice(2) };
  }
}

/** NBD_REP_SERVER data: name and optional description. */
export function encodeServerEntry(name: string, description = ''): Uint8Array {
  const n = utf8(name);
  const d = utf8(description);
  const b = new Uint8Array(4 + n.length + d.length);
  view(b).setUint32(0, n.length);
  b.set(n, 4);
  b.set(d, 4 + n.length);
  return b;
}

export function parseServerEntry(d: Uint8Array): { name: string; description: string } | string {
  if (d.length < 4) return `NBD_REP_SERVER of ${d.length} bytes has no name length`;
  const len = view(d).getUint32(0);
  if (len > d.length - 4) return `NBD_REP_SERVER name length ${len} exceeds reply length ${d.length} - 4`;
  return { name: fromUtf8(d.subarray(4, 4 + len)), description: fromUtf8(d.subarray(4 + len)) };
}

/** NBD_REP_META_CONTEXT data: context id and name. */
export function encodeMetaContext(id: number, name: string): Uint8Array {
  const n = utf8(name);
  const b = new Uint8Array(4 + n.length);
  view(b).setUint32(0, id);
  b.set(n, 4);
  return b;
}

export function parseMetaContext(d: Uint8Array): { id: number; name: string } | string {
  if (d.length < 4) return `NBD_REP_META_CONTEXT of ${d.length} bytes has no context id`;
  return { id: view(d).getUint32(0), name: fromUtf8(d.subarray(4)) };
}

/** One base:allocation (or other context) extent. */
export interface Extent {
  length: number;
  flags: number;
}

/** The payload of a structured reply chunk, by type. */
export type ChunkBody =
  | { type: 'none' }
  | { type: 'offset-data'; offset: number; data: Uint8Array }
  | { type: 'offset-hole'; offset: number; length: number }
  | { type: 'block-status'; contextId: number; extents: Extent[] }
  | { type: 'error'; chunkType: number; error: number; message: string; offset?: number };

export function encodeChunkBody(b: ChunkBody): { type: number; payload: Uint8Array } {
  switch (b.type) {
    case 'none':
      return { type: NBD_REPLY_TYPE_NONE, payload: new Uint8Array(0) };
    case 'offset-data': {
      const p = new Uint8Array(8 + b.data.length);
      putU64(view(p), 0, b.offset);
      p.set(b.data, 8);
      return { type: NBD_REPLY_TYPE_OFFSET_DATA, payload: p };
    }
    case 'offset-hole': {
      const p = new Uint8Array(12);
      const v = view(p);
      putU64(v, 0, b.offset);
      v.setUint32(8, b.length);
      return { type: NBD_REPLY_TYPE_OFFSET_HOLE, payload: p };
    }
    case 'block-status': {
      const p = new Uint8Array(4 + 8 * b.extents.length);
      const v = view(p);
      v.setUint32(0, b.contextId);
      b.extents.forEach((e, i) => {
        v.setUint32(4 + 8 * i, e.length);
        v.setUint32(8 + 8 * i, e.flags);
      });
      return { type: NBD_REPLY_TYPE_BLOCK_STATUS, payload: p };
    }
    case 'error': {
      const m = utf8(b.message).subarray(0, NBD_MAX_STRING);
      const p = new Uint8Array(6 + m.length + (b.offset !== undefined ? 8 : 0));
      const v = view(p);
      v.setUint32(0, b.error >>> 0);
      v.setUint16(4, m.length);
      p.set(m, 6);
      if (b.offset !== undefined) putU64(v, 6 + m.length, b.offset);
      return { type: b.chunkType, payload: p };
    }
  }
}

/**
 * Parses a chunk payload by its type. An unknown type is a string error unless it has bit 15
 * set (an error chunk the client must treat as an error, proto.md "Structured reply types").
 */
export function parseChunkBody(type: number, p: Uint8Array): ChunkBody | string {
  switch (type) {
    case NBD_REPLY_TYPE_NONE:
      return p.length === 0 ? { type: 'none' } : `NBD_REPLY_TYPE_NONE with ${p.length} payload bytes (must be 0)`;
    case NBD_REPLY_TYPE_OFFSET_DATA:
      // the read reply (the hot path): the offset from the bytes, no view object
      if (p.length < 9) return `NBD_REPLY_TYPE_OFFSET_DATA length ${p.length} (must be at least 9)`;
      return { type: 'offset-data', offset: beU32(p, 0) * 0x100000000 + beU32(p, 4), data: p.subarray(8) };
  }
  const v = view(p);
  switch (type) {
    case NBD_REPLY_TYPE_OFFSET_HOLE: {
      if (p.length !== 12) return `NBD_REPLY_TYPE_OFFSET_HOLE length ${p.length} (must be 12)`;
      const length = v.getUint32(8);
      if (length === 0) return 'NBD_REPLY_TYPE_OFFSET_HOLE with hole size 0';
      return { type: 'offset-hole', offset: getU64(v, 0), length };
    }
    case NBD_REPLY_TYPE_BLOCK_STATUS: {
      if (p.length < 12 || (p.length - 4) % 8 !== 0) return `NBD_REPLY_TYPE_BLOCK_STATUS length ${p.length} (must be 4 + 8n, n >= 1)`;
      const extents: Extent[] = [];
      for (let at = 4; at < p.length; at += 8) extents.push({ length: v.getUint32(at), flags: v.getUint32(at + 4) });
      return { type: 'block-status', contextId: v.getUint32(0), extents };
    }
    default: {
      if ((type & NBD_REPLY_TYPE_ERROR_BIT) === 0) return `unknown structured reply type ${type}`;
      if (p.length < 6) return `error chunk length ${p.length} (must be at least 6)`;
      const mlen = v.getUint16(4);
      if (mlen > p.length - 6) return `error message length ${mlen} exceeds chunk length ${p.length} - 6`;
      const body: ChunkBody = { type: 'error', chunkType: type, error: v.getUint32(0), message: fromUtf8(p.subarray(6, 6 + mlen)) };
      if (type === NBD_REPLY_TYPE_ERROR_BIT + 2) {
        if (p.length !== 6 + mlen + 8) return `NBD_REPLY_TYPE_ERROR_OFFSET length ${p.length} does not hold message and offset`;
        body.offset = getU64(v, 6 + mlen);
      }
      return body;
    }
  }
}
