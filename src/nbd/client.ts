/**
 * The NBD client of one connection: a state machine over bytes, the counterpart of `NbdServer`.
 *
 * Handshake (fixed newstyle, proto.md "Fixed newstyle negotiation"), in QEMU's order
 * (nbd/client.c `nbd_start_negotiate`, `nbd_receive_negotiate`): client flags (FIXED_NEWSTYLE,
 * plus NO_ZEROES when the server offers it); optionally NBD_OPT_LIST and NBD_OPT_INFO; then
 * NBD_OPT_STRUCTURED_REPLY, NBD_OPT_SET_META_CONTEXT for the asked contexts (only once structured
 * replies are on), and NBD_OPT_GO asking for NBD_INFO_BLOCK_SIZE, falling back to
 * NBD_OPT_EXPORT_NAME when the server answers NBD_REP_ERR_UNSUP. `abortAfterOptions` ends with
 * NBD_OPT_ABORT instead (a listing session).
 *
 * Transmission: `request` (and its shorthands) sends one command with a fresh cookie and calls
 * back once its reply is complete (a simple reply, or structured chunks up to the one flagged
 * DONE), in whatever order the server answers. The client checks what proto.md makes the
 * server promise - replies only to cookies in flight, read chunks inside the request and not
 * overlapping, no simple reply to a read once structured replies are on - and treats a breach as
 * a protocol error: it hangs up and fails everything in flight with EIO, as QEMU's client does.
 *
 * Transport-free like the server: `receive` for bytes in, `send`/`close` out.
 */
import { BugError, UserError } from '../errors.js';
import {
  BASE_ALLOCATION,
  NBD_CMD_BLOCK_STATUS,
  NBD_CMD_CACHE,
  NBD_CMD_DISC,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_EIO,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REPLY_FLAG_DONE,
  NBD_REP_ACK,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_META_CONTEXT,
  NBD_REP_SERVER,
  isRepError,
  nbdName,
} from './constants.js';
import { ServerStreamDecoder, type DecoderLimits, type PlacedChunk } from './decode.js';
import { carve } from './slab.js';
import {
  encodeClientMessage,
  encodeInfoRequest,
  encodeMetaContextRequest,
  encodeRequest,
  fromUtf8,
  NbdProtocolError,
  type NbdRequest,
  parseChunkBody,
  parseInfo,
  parseMetaContext,
  parseServerEntry,
  utf8,
  type Extent,
  type ServerMessage,
} from './wire.js';

/** The server said no during the handshake (unknown export, policy, ...). */
export class NbdRefusedError extends UserError {
  constructor(
    readonly option: number,
    readonly reply: number,
    message: string,
    where: string,
  ) {
    super('NBD_REFUSED', `server refused ${nbdName('option', option)}: ${nbdName('rep', reply)}${message ? `: ${message}` : ''}`, { where });
  }
}

export interface NbdExportInfo {
  name: string;
  size: number;
  /** Transmission flags. */
  flags: number;
  description?: string;
  blockSize?: { minimum: number; preferred: number; maximum: number };
  structured: boolean;
  /** Negotiated meta contexts (their ids and names). */
  contexts: { id: number; name: string }[];
  /** Result of NBD_OPT_LIST when asked. */
  exports?: { name: string; description: string }[];
}

export interface NbdReply {
  /** 0 = success, else an NBD errno (NBD_EIO, NBD_EINVAL, ...). */
  error: number;
  /** Server's message from an error chunk, or why the client failed the request. */
  message?: string;
  /** NBD_CMD_READ: the bytes. */
  data?: Uint8Array;
  /** NBD_CMD_BLOCK_STATUS: extents per context id. */
  extents?: Map<number, Extent[]>;
}

export interface NbdClientOptions {
  exportName: string;
  send(bytes: Uint8Array): void;
  close(): void;
  /** Negotiate structured replies (default true, as QEMU does). */
  structuredReplies?: boolean;
  /** Meta contexts to select (e.g. `['base:allocation']`); needs structured replies. */
  metaContexts?: string[];
  /** Ask NBD_OPT_LIST first. */
  list?: boolean;
  /** Ask NBD_OPT_INFO before going. */
  info?: boolean;
  /** Use NBD_OPT_EXPORT_NAME instead of NBD_OPT_GO. */
  exportNameOnly?: boolean;
  /** End with NBD_OPT_ABORT instead of entering transmission. */
  abortAfterOptions?: boolean;
  onReady?(info: NbdExportInfo): void;
  /** Handshake refusal or protocol error; the connection is closed afterwards. */
  onError?(e: UserError): void;
  stream?: string;
  limits?: DecoderLimits;
  /** Requests in flight at once (default 256; QEMU's client allows 16). */
  maxInFlight?: number;
}

interface Pending {
  type: number;
  offset: number;
  length: number;
  cb: (r: NbdReply) => void;
  error: number;
  message?: string;
  data?: Uint8Array;
  /** NBD_CMD_READ: the caller's buffer the data lands in (`data` once a chunk arrived). */
  into?: Uint8Array;
  /** Read chunks so far: flat [start, end) pairs relative to the request, to catch overlaps. */
  covered?: number[];
  extents?: Map<number, Extent[]>;
}

type Step = { option: number; data: Uint8Array };

export class NbdClient {
  private readonly decoder: ServerStreamDecoder;
  /**
   * Requests in flight by cookie. Keyed by the cookie as a number (this client issues 1, 2, ...,
   * far below 2^53; `cookieKey` maps anything else to a key no request has): a Map lookup of a
   * small integer costs less than hashing a BigInt.
   */
  private readonly pending = new Map<number, Pending>();
  private nextCookie = 1n;
  private steps: Step[] = [];
  private current: Step | null = null;
  private noZeroes = false;
  private structured = false;
  private info: Partial<NbdExportInfo> & { contexts: { id: number; name: string }[] } = { contexts: [] };
  private state: 'greeting' | 'options' | 'ready' | 'closed' = 'greeting';

  constructor(private readonly o: NbdClientOptions) {
    this.decoder = new ServerStreamDecoder(
      { readLength: (c) => this.readLength(c), placeData: (c, _f, o, n) => this.placeData(c, o, n) },
      o.stream ?? 'nbd server stream',
      o.limits,
    );
  }

  get ready(): boolean {
    return this.state === 'ready';
  }
  get closed(): boolean {
    return this.state === 'closed';
  }
  get inFlight(): number {
    return this.pending.size;
  }
  get exportInfo(): NbdExportInfo | undefined {
    return this.state === 'ready' ? (this.info as NbdExportInfo) : undefined;
  }

  private readLength(cookie: bigint): number {
    const p = this.pending.get(cookieKey(cookie));
    return p && p.type === NBD_CMD_READ && !this.structured ? p.length : 0;
  }

  /** Bytes from the server. Errors are reported through `onError` and close the connection. */
  receive(chunk: Uint8Array): void {
    if (this.state === 'closed') return;
    try {
      this.decoder.each(chunk, this.onDecoded);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      this.abort(e);
    }
  }

  /** The transport went away: everything in flight fails with EIO ("connection lost"). */
  transportClosed(reason = 'connection lost'): void {
    if (this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    this.failAll(reason);
    if (!wasReady) this.o.onError?.(new NbdProtocolError(this.decoder.stream, 0, `connection closed during the handshake (${reason})`));
  }

  private abort(e: UserError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.failAll(e.message);
    this.o.onError?.(e);
    this.o.close();
  }

  private failAll(message: string): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.cb({ error: NBD_EIO, message });
  }

  private protocol(at: number, message: string): NbdProtocolError {
    return new NbdProtocolError(this.decoder.stream, at, message);
  }

  /** One decoded message; true once the client closed (the decoder then stops). */
  private readonly onDecoded = (m: ServerMessage | PlacedChunk, at: number): boolean => {
    if (this.state === 'closed') return true;
    this.onMessage(m, at);
    return this.closed;
  };

  private onMessage(m: ServerMessage | PlacedChunk, at: number): void {
    switch (m.kind) {
      case 'greeting':
        return this.onGreeting(m.flags);
      case 'option-reply':
        return this.onOptionReply(m.option, m.type, m.data, at);
      case 'export-name-reply':
        this.info.size = m.size;
        this.info.flags = m.flags;
        return this.enterTransmission();
      case 'simple-reply': {
        const key = cookieKey(m.cookie);
        const p = this.pending.get(key);
        if (!p) throw this.protocol(at, `simple reply to cookie ${m.cookie} which is not in flight`);
        if (p.type === NBD_CMD_READ && this.structured) throw this.protocol(at, 'simple reply to NBD_CMD_READ after structured replies were negotiated');
        this.pending.delete(key);
        const r: NbdReply = { error: m.error };
        if (m.data) r.data = m.data;
        return p.cb(r);
      }
      case 'chunk':
        return this.onChunk(m.flags, m.type, m.cookie, m.payload, at);
      case 'chunk-placed': {
        // placeData checked and recorded it; the data is in place.
        const key = cookieKey(m.cookie);
        return this.chunkDone(key, this.pending.get(key)!, m.flags);
      }
    }
  }

  /**
   * The buffer an OFFSET_DATA chunk's data goes to, once its header is in: checked as `onChunk`
   * checks it (null when it fails a check: the chunk then arrives whole and `onChunk` reports it).
   */
  private placeData(cookie: bigint, offset: number, len: number): Uint8Array | null {
    if (!this.structured) return null;
    const p = this.pending.get(cookieKey(cookie));
    if (p === undefined || p.type !== NBD_CMD_READ) return null;
    const start = this.coverRead(p, offset, len);
    if (start < 0) return null;
    const d = this.readBuffer(p, start === 0 && len === p.length);
    return start === 0 && len === d.length ? d : d.subarray(start, start + len);
  }

  /** Records a content chunk [offset, +len) of read `p`: its start in the read, or -1 if outside or overlapping. */
  private coverRead(p: Pending, offset: number, len: number): number {
    const start = offset - p.offset;
    if (offset < p.offset || start + len > p.length) return -1;
    const cov = (p.covered ??= []);
    for (let k = 0; k < cov.length; k += 2) {
      if (start < cov[k + 1]! && cov[k]! < start + len) return -1;
    }
    cov.push(start, start + len);
    return start;
  }

  /**
   * The read's result buffer: the caller's (`into`) or fresh memory. Zeroed unless the first chunk
   * covers all of it (`whole`), so that parts no chunk covered read as zeros.
   */
  private readBuffer(p: Pending, whole: boolean): Uint8Array {
    if (p.data !== undefined) return p.data;
    const d = p.into !== undefined ? (whole ? p.into : p.into.fill(0)) : carve(p.length);
    p.data = d;
    return d;
  }

  private onGreeting(flags: number): void {
    if ((flags & NBD_FLAG_FIXED_NEWSTYLE) === 0 && !this.o.exportNameOnly) {
      // A non-fixed server understands only NBD_OPT_EXPORT_NAME (proto.md "Newstyle negotiation").
      this.o.exportNameOnly = true;
    }
    this.noZeroes = (flags & NBD_FLAG_NO_ZEROES) !== 0;
    const cflags = ((flags & NBD_FLAG_FIXED_NEWSTYLE) !== 0 ? NBD_FLAG_C_FIXED_NEWSTYLE : 0) | (this.noZeroes ? NBD_FLAG_C_NO_ZEROES : 0);
    this.o.send(encodeClientMessage({ kind: 'client-flags', flags: cflags }));
    this.state = 'options';
    const name = this.o.exportName;
    const go = encodeInfoRequest({ name, requests: [NBD_INFO_BLOCK_SIZE] });
    if (this.o.list) this.steps.push({ option: NBD_OPT_LIST, data: new Uint8Array(0) });
    if (this.o.info) this.steps.push({ option: NBD_OPT_INFO, data: go });
    if (!this.o.exportNameOnly && (this.o.structuredReplies ?? true)) this.steps.push({ option: NBD_OPT_STRUCTURED_REPLY, data: new Uint8Array(0) });
    if (this.o.abortAfterOptions) this.steps.push({ option: NBD_OPT_ABORT, data: new Uint8Array(0) });
    else if (this.o.exportNameOnly) this.steps.push({ option: NBD_OPT_EXPORT_NAME, data: utf8(name) });
    else this.steps.push({ option: NBD_OPT_GO, data: go });
    this.nextStep();
  }

  private nextStep(): void {
    const s = this.steps.shift();
    if (!s) return;
    this.current = s;
    // Before sending: over a synchronous transport the reply arrives inside `send`.
    if (s.option === NBD_OPT_EXPORT_NAME) this.decoder.expectExportNameReply(this.noZeroes);
    this.o.send(encodeClientMessage({ kind: 'option', option: s.option, data: s.data }));
  }

  private onOptionReply(option: number, type: number, data: Uint8Array, at: number): void {
    const cur = this.current;
    if (!cur || option !== cur.option) throw this.protocol(at, `reply to option ${nbdName('option', option)} which was not asked`);
    if (isRepError(type)) {
      if (type === NBD_REP_ERR_UNSUP && option === NBD_OPT_STRUCTURED_REPLY) return this.stepDone();
      if (type === NBD_REP_ERR_UNSUP && option === NBD_OPT_GO) {
        // An old server: fall back to NBD_OPT_EXPORT_NAME (proto.md NBD_OPT_GO: clients SHOULD).
        this.steps.unshift({ option: NBD_OPT_EXPORT_NAME, data: utf8(this.o.exportName) });
        return this.stepDone();
      }
      throw new NbdRefusedError(option, type, fromUtf8(data), this.decoder.stream);
    }
    switch (type) {
      case NBD_REP_ACK:
        return this.onAck(option);
      case NBD_REP_SERVER: {
        if (option !== NBD_OPT_LIST) throw this.protocol(at, `NBD_REP_SERVER in reply to ${nbdName('option', option)}`);
        const e = parseServerEntry(data);
        if (typeof e === 'string') throw this.protocol(at, e);
        (this.info.exports ??= []).push(e);
        return;
      }
      case NBD_REP_INFO: {
        if (option !== NBD_OPT_GO && option !== NBD_OPT_INFO) throw this.protocol(at, `NBD_REP_INFO in reply to ${nbdName('option', option)}`);
        const i = parseInfo(data);
        if (typeof i === 'string') throw this.protocol(at, i);
        if (i.info === 'export') {
          this.info.size = i.size;
          this.info.flags = i.flags;
        } else if (i.info === 'name') this.info.name = i.name;
        else if (i.info === 'description') this.info.description = i.description;
        else if (i.info === 'block-size') this.info.blockSize = { minimum: i.minimum, preferred: i.preferred, maximum: i.maximum };
        return;
      }
      case NBD_REP_META_CONTEXT: {
        if (option !== NBD_OPT_SET_META_CONTEXT) throw this.protocol(at, `NBD_REP_META_CONTEXT in reply to ${nbdName('option', option)}`);
        const c = parseMetaContext(data);
        if (typeof c === 'string') throw this.protocol(at, c);
        this.info.contexts.push(c);
        return;
      }
      default:
        throw this.protocol(at, `unknown option reply type ${type}`);
    }
  }

  private onAck(option: number): void {
    switch (option) {
      case NBD_OPT_STRUCTURED_REPLY: {
        this.structured = true;
        const ctx = this.o.metaContexts ?? [];
        if (ctx.length > 0) this.steps.unshift({ option: NBD_OPT_SET_META_CONTEXT, data: encodeMetaContextRequest({ name: this.o.exportName, queries: ctx }) });
        return this.stepDone();
      }
      case NBD_OPT_GO:
        if (this.info.size === undefined) throw this.protocol(0, 'NBD_OPT_GO acknowledged without NBD_INFO_EXPORT');
        return this.enterTransmission();
      case NBD_OPT_ABORT:
        this.state = 'closed';
        this.o.onReady?.(this.snapshot());
        this.o.close();
        return;
      default:
        return this.stepDone();
    }
  }

  private stepDone(): void {
    this.current = null;
    this.nextStep();
  }

  private snapshot(): NbdExportInfo {
    const i = this.info;
    const out: NbdExportInfo = { name: i.name ?? this.o.exportName, size: i.size ?? 0, flags: i.flags ?? 0, structured: this.structured, contexts: i.contexts };
    if (i.description !== undefined) out.description = i.description;
    if (i.blockSize) out.blockSize = i.blockSize;
    if (i.exports) out.exports = i.exports;
    return out;
  }

  private enterTransmission(): void {
    this.current = null;
    this.info = this.snapshot();
    this.state = 'ready';
    this.o.onReady?.(this.info as NbdExportInfo);
  }

  private onChunk(flags: number, type: number, cookie: bigint, payload: Uint8Array, at: number): void {
    if (!this.structured) throw this.protocol(at, 'structured reply chunk without NBD_OPT_STRUCTURED_REPLY');
    const key = cookieKey(cookie);
    const p = this.pending.get(key);
    if (!p) throw this.protocol(at, `reply chunk for cookie ${cookie} which is not in flight`);
    const body = parseChunkBody(type, payload);
    if (typeof body === 'string') throw this.protocol(at, body);
    switch (body.type) {
      case 'none':
        if ((flags & NBD_REPLY_FLAG_DONE) === 0) throw this.protocol(at, 'NBD_REPLY_TYPE_NONE without NBD_REPLY_FLAG_DONE');
        break;
      case 'offset-data':
      case 'offset-hole': {
        if (p.type !== NBD_CMD_READ) throw this.protocol(at, `content chunk in reply to ${nbdName('cmd', p.type)}`);
        const len = body.type === 'offset-data' ? body.data.length : body.length;
        const start = body.offset - p.offset;
        if (body.offset < p.offset || start + len > p.length) throw this.protocol(at, `content chunk [${body.offset}, +${len}) outside the request [${p.offset}, +${p.length})`);
        if (this.coverRead(p, body.offset, len) < 0) throw this.protocol(at, `content chunk at ${body.offset} overlaps an earlier one`);
        // One chunk covering the whole read (the common case) is the result as it is when the
        // caller gave no buffer; otherwise chunks fill the result buffer (zeroed when the first
        // chunk is not the whole read, so holes need no writing).
        const whole = start === 0 && len === p.length;
        if (body.type === 'offset-data' && whole && p.into === undefined && p.data === undefined) p.data = body.data;
        else {
          const d = this.readBuffer(p, whole && body.type === 'offset-data');
          if (body.type === 'offset-data') d.set(body.data, start);
        }
        break;
      }
      case 'block-status': {
        if (p.type !== NBD_CMD_BLOCK_STATUS) throw this.protocol(at, `block status chunk in reply to ${nbdName('cmd', p.type)}`);
        (p.extents ??= new Map()).set(body.contextId, body.extents);
        break;
      }
      case 'error':
        if (p.error === 0) {
          p.error = body.error === 0 ? NBD_EIO : body.error;
          p.message = body.message;
        }
        break;
    }
    this.chunkDone(key, p, flags);
  }

  /** After a chunk of `p`: completes the request when the chunk is flagged DONE. */
  private chunkDone(key: number, p: Pending, flags: number): void {
    if ((flags & NBD_REPLY_FLAG_DONE) === 0) return;
    this.pending.delete(key);
    const r: NbdReply = { error: p.error };
    if (p.message !== undefined) r.message = p.message;
    if (p.error === 0 && p.type === NBD_CMD_READ) r.data = p.data ?? (p.into !== undefined ? p.into.fill(0) : new Uint8Array(p.length));
    if (p.extents) r.extents = p.extents;
    p.cb(r);
  }

  // --- transmission API -------------------------------------------------------------------

  /** Sends one command; `cb` gets the complete reply. Returns the cookie. */
  request(type: number, offset: number, length: number, cb: (r: NbdReply) => void, opts: { flags?: number; data?: Uint8Array; into?: Uint8Array } = {}): bigint {
    if (this.state !== 'ready') throw new BugError('NBD_NOT_READY', `NBD request before the handshake finished (client is ${this.state})`);
    const max = this.o.maxInFlight ?? 256;
    if (this.pending.size >= max) throw new BugError('NBD_TOO_MANY', `more than ${max} NBD requests in flight`);
    const cookie = this.nextCookie++;
    const p: Pending = { type, offset, length, cb, error: 0 };
    if (opts.into !== undefined) {
      if (type !== NBD_CMD_READ || opts.into.length !== length) throw new BugError('NBD_INTO', `a result buffer of ${opts.into.length} bytes for a ${length}-byte ${nbdName('cmd', type)}`);
      p.into = opts.into;
    }
    this.pending.set(cookieKey(cookie), p);
    const req: NbdRequest = { kind: 'request', flags: opts.flags ?? 0, type, cookie, offset, length };
    if (opts.data) req.data = opts.data;
    this.o.send(encodeRequest(req));
    return cookie;
  }

  /**
   * NBD_CMD_READ. With `into` (exactly `length` bytes) the data lands there, copied once from the
   * received bytes, and the reply's `data` is `into` (as QEMU reads into the guest's buffers);
   * without it the reply's `data` is fresh memory.
   */
  read(offset: number, length: number, cb: (r: NbdReply) => void, flags = 0, into?: Uint8Array): bigint {
    return this.request(NBD_CMD_READ, offset, length, cb, into !== undefined ? { flags, into } : { flags });
  }
  write(offset: number, data: Uint8Array, cb: (r: NbdReply) => void, flags = 0): bigint {
    return this.request(NBD_CMD_WRITE, offset, data.length, cb, { flags, data });
  }
  flush(cb: (r: NbdReply) => void): bigint {
    return this.request(NBD_CMD_FLUSH, 0, 0, cb);
  }
  trim(offset: number, length: number, cb: (r: NbdReply) => void, flags = 0): bigint {
    return this.request(NBD_CMD_TRIM, offset, length, cb, { flags });
  }
  writeZeroes(offset: number, length: number, cb: (r: NbdReply) => void, flags = 0): bigint {
    return this.request(NBD_CMD_WRITE_ZEROES, offset, length, cb, { flags });
  }
  cache(offset: number, length: number, cb: (r: NbdReply) => void): bigint {
    return this.request(NBD_CMD_CACHE, offset, length, cb);
  }
  blockStatus(offset: number, length: number, cb: (r: NbdReply) => void, flags = 0): bigint {
    return this.request(NBD_CMD_BLOCK_STATUS, offset, length, cb, { flags });
  }

  /** Soft disconnect: NBD_CMD_DISC (no reply), then the transport closes. */
  disconnect(): void {
    if (this.state !== 'ready') return;
    const cookie = this.nextCookie++;
    this.o.send(encodeRequest({ kind: 'request', flags: 0, type: NBD_CMD_DISC, cookie, offset: 0, length: 0 }));
    this.state = 'closed';
    this.failAll('disconnected');
    this.o.close();
  }
}

/** A cookie as a `pending` key: itself when it is a safe integer, else -1 (never a key). */
function cookieKey(cookie: bigint): number {
  return cookie <= MAX_SAFE_COOKIE ? Number(cookie) : -1;
}
const MAX_SAFE_COOKIE = BigInt(Number.MAX_SAFE_INTEGER);

export { BASE_ALLOCATION };
