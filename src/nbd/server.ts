/**
 * The NBD server of one connection: a state machine over bytes. It speaks the fixed newstyle
 * handshake (NBD_OPT_EXPORT_NAME, ABORT, LIST, INFO, GO, STRUCTURED_REPLY, LIST/SET_META_CONTEXT
 * with `base:allocation`; anything else answers NBD_REP_ERR_UNSUP, STARTTLS answers
 * NBD_REP_ERR_POLICY as a server in NOTLS mode must) and serves NBD_CMD_READ, WRITE, FLUSH, TRIM,
 * WRITE_ZEROES, CACHE, BLOCK_STATUS and DISC against an `NbdImage`.
 *
 * Transport-free: bytes in through `receive`, bytes out through `send`, `close` to hang up, so
 * the same server runs over vfab's simulated TCP and over a real socket (the tests serve the
 * real `qemu-io` this way).
 *
 * Where proto.md leaves a choice, vfab does what QEMU 7.2's server (nbd/server.c) does, so that a
 * capture of vfab serving `qemu-io` matches one of `qemu-nbd` message for message:
 * - transmission flags: HAS_FLAGS, SEND_FLUSH, SEND_FUA, SEND_CACHE, plus SEND_TRIM,
 *   SEND_WRITE_ZEROES, SEND_FAST_ZERO when writable (READ_ONLY otherwise) and SEND_DF once
 *   structured replies are on (`nbd_export_create`, `nbd_negotiate_handle_info`);
 * - NBD_OPT_GO/INFO answer NAME and DESCRIPTION only when asked, BLOCK_SIZE always (minimum 1 when
 *   the client asked for it, else 512), then EXPORT, then ACK;
 * - with structured replies, a read is answered sparsely (`nbd_co_send_sparse_read`): one
 *   OFFSET_HOLE chunk per run that reads as zeros, one OFFSET_DATA per run of data, DONE on the
 *   last; other commands succeed with a simple reply and fail with an ERROR chunk carrying a
 *   message (`nbd_send_generic_reply`);
 * - requests past the end of the export and writes to a read-only export fail with EINVAL.
 *
 * Bounded: at most `maxInFlight` commands waiting for `schedule` to run them (more is a protocol
 * violation and hangs up), write payloads and option data bounded by the decoder's limits.
 */
import { bufferView, carve } from './slab.js';
import {
  BASE_ALLOCATION,
  NBD_CMD_BLOCK_STATUS,
  NBD_CMD_CACHE,
  NBD_CMD_DISC,
  NBD_CMD_FLAG_DF,
  NBD_CMD_FLAG_FAST_ZERO,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_FLAG_NO_HOLE,
  NBD_CMD_FLAG_REQ_ONE,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_EINVAL,
  NBD_EIO,
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_NO_ZEROES,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_CACHE,
  NBD_FLAG_SEND_DF,
  NBD_FLAG_SEND_FAST_ZERO,
  NBD_FLAG_SEND_FLUSH,
  NBD_FLAG_SEND_FUA,
  NBD_FLAG_SEND_TRIM,
  NBD_FLAG_SEND_WRITE_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_NAME,
  NBD_MAX_PAYLOAD,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_LIST_META_CONTEXT,
  NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_STARTTLS,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_PREFERRED_BLOCK,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_STRUCTURED_REPLY_MAGIC,
  NBD_CHUNK_HEADER_LEN,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_POLICY,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_META_CONTEXT,
  NBD_REP_SERVER,
  NBD_STATE_HOLE,
  NBD_STATE_ZERO,
  nbdName,
} from './constants.js';
import type { BlockImage } from '../block/image.js';
import { ClientStreamDecoder, type DecoderLimits } from './decode.js';
import {
  encodeChunk,
  encodeChunkBody,
  encodeInfo,
  encodeMetaContext,
  encodeServerEntry,
  encodeServerMessage,
  NbdProtocolError,
  parseInfoRequest,
  parseMetaContextRequest,
  putU64,
  utf8,
  type ChunkBody,
  type Extent,
  type NbdRequest,
} from './wire.js';
import { errorMessage } from '../errors.js';

/** One run of an image's allocation status, as block status reports it. */
export interface StatusRun {
  length: number;
  /** Reads as zeros. */
  zero: boolean;
  /** Not allocated (a hole in proto.md's base:allocation sense). */
  hole: boolean;
  /**
   * Distinguishes runs that read and report alike but differ underneath (a qcow2 zero cluster
   * vs an unallocated one). A sparse read sends one chunk per run, as QEMU sends one per
   * `bdrv_block_status_above` answer; block status merges runs with equal flags.
   */
  kind?: number;
}

/** What an export serves: the I/O part of the block layer's `BlockImage` (plus `blockStatus` for sparseness). */
export interface NbdImage extends Pick<BlockImage, 'virtualSize' | 'readOnly' | 'read' | 'write' | 'discard' | 'writeZeroes' | 'flush'> {
  /** Runs covering `[offset, offset + length)` (the last may be longer); absent = all data. */
  blockStatus?(offset: number, length: number): StatusRun[];
  /**
   * `read` writes every byte of its buffer (zeros where nothing is stored), so the buffer need
   * not be zeroed first. Absent: `read` may leave bytes it has no data for untouched.
   */
  readonly readFills?: boolean;
}

export interface NbdExport {
  name: string;
  description?: string;
  image: NbdImage;
  /** Advertise NBD_FLAG_CAN_MULTI_CONN (qemu-nbd does with `--shared` > 1 on a writable export). */
  multiConn?: boolean;
}

export interface NbdServerOptions {
  exports: readonly NbdExport[];
  send(bytes: Uint8Array): void;
  /**
   * A zeroed buffer of `n` bytes for the message the server sends next (read replies are built in
   * it); default fresh memory (`carve`). `nbdServerOnTcp` recycles acknowledged ones. `zero`
   * false: the server writes every byte (the image's `readFills`), so it need not be cleared.
   */
  alloc?(n: number, zero: boolean): Uint8Array;
  /** Hang up the transport (hard disconnect, or after NBD_OPT_ABORT / NBD_CMD_DISC). */
  close(): void;
  /**
   * Runs a validated command at the time the caller chooses (a storage device's service time in
   * a simulation). `run` performs it on the image and sends the reply. Default: at once.
   */
  schedule?(req: NbdRequest, run: () => void): void;
  /** Name for error messages (e.g. `st1:10809 <- hv1`). */
  stream?: string;
  limits?: DecoderLimits;
  /** Commands received but not yet run; more is a protocol violation (default 1024). */
  maxInFlight?: number;
  /** Called with the protocol error that made the server hang up. */
  onError?(e: NbdProtocolError): void;
}

export interface NbdServerStats {
  requests: number;
  errors: number;
  bytesRead: number;
  bytesWritten: number;
}

export class NbdServer {
  private readonly decoder: ClientStreamDecoder;
  private phase: 'handshake' | 'options' | 'transmission' | 'closed' = 'handshake';
  private fixed = false;
  private noZeroes = false;
  private structured = false;
  /** Negotiated meta contexts (id -> name); only base:allocation exists. */
  private contexts: string[] = [];
  private exp: NbdExport | null = null;
  private inFlight = 0;
  private closing = false;
  readonly stats: NbdServerStats = { requests: 0, errors: 0, bytesRead: 0, bytesWritten: 0 };

  constructor(private readonly o: NbdServerOptions) {
    this.decoder = new ClientStreamDecoder(o.stream ?? 'nbd client stream', o.limits);
  }

  /** Sends the greeting; call once the transport is up. */
  start(): void {
    this.o.send(encodeServerMessage({ kind: 'greeting', flags: NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES }));
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  /** The export chosen in the handshake (undefined before). */
  get exportName(): string | undefined {
    return this.exp?.name;
  }

  /** Bytes from the client. Protocol violations hang up (reported through `onError`), never throw. */
  receive(chunk: Uint8Array): void {
    if (this.stopped()) return;
    try {
      for (const { msg, at } of this.decoder.push(chunk)) {
        if (this.stopped()) return;
        switch (msg.kind) {
          case 'client-flags':
            this.onClientFlags(msg.flags, at);
            break;
          case 'option':
            if (this.phase !== 'options') throw new NbdProtocolError(this.decoder.stream, at, `option ${nbdName('option', msg.option)} after option haggling ended`);
            this.onOption(msg.option, msg.data, at);
            break;
          case 'request':
            if (this.phase !== 'transmission') throw new NbdProtocolError(this.decoder.stream, at, 'request before the transmission phase');
            this.onRequest(msg, at);
            break;
        }
      }
    } catch (e) {
      if (!(e instanceof NbdProtocolError)) throw e;
      this.o.onError?.(e);
      this.hangUp();
    }
  }

  /** Closed, or draining after NBD_CMD_DISC: nothing more is read. */
  private stopped(): boolean {
    return this.phase === 'closed' || this.closing;
  }

  /** The transport closed under us. */
  transportClosed(): void {
    this.phase = 'closed';
  }

  private hangUp(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.o.close();
  }

  private onClientFlags(flags: number, at: number): void {
    // proto.md "Client flags": the server MUST drop the connection on an unknown client flag.
    if ((flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) !== 0) {
      throw new NbdProtocolError(this.decoder.stream, at, `unknown client flags 0x${flags.toString(16)}`);
    }
    this.fixed = (flags & NBD_FLAG_C_FIXED_NEWSTYLE) !== 0;
    this.noZeroes = (flags & NBD_FLAG_C_NO_ZEROES) !== 0;
    this.phase = 'options';
  }

  private reply(option: number, type: number, data: Uint8Array = new Uint8Array(0)): void {
    this.o.send(encodeServerMessage({ kind: 'option-reply', option, type, data }));
  }

  private replyError(option: number, type: number, message: string): void {
    this.reply(option, type, utf8(message));
  }

  private find(name: string): NbdExport | undefined {
    // The empty name selects the default export: vfab's default is the first one.
    return name === '' ? this.o.exports[0] : this.o.exports.find((e) => e.name === name);
  }

  private transmissionFlags(e: NbdExport): number {
    let f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_CACHE;
    if (e.image.readOnly) f |= NBD_FLAG_READ_ONLY;
    else f |= NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO;
    if (e.multiConn === true) f |= NBD_FLAG_CAN_MULTI_CONN;
    if (this.structured) f |= NBD_FLAG_SEND_DF;
    return f;
  }

  private onOption(option: number, data: Uint8Array, at: number): void {
    // Non-fixed newstyle knows only NBD_OPT_EXPORT_NAME; anything else ends the session.
    if (!this.fixed && option !== NBD_OPT_EXPORT_NAME) {
      throw new NbdProtocolError(this.decoder.stream, at, `option ${nbdName('option', option)} from a client without NBD_FLAG_C_FIXED_NEWSTYLE`);
    }
    switch (option) {
      case NBD_OPT_EXPORT_NAME: {
        const name = new TextDecoder().decode(data);
        const e = this.find(name);
        // proto.md: an export that does not exist MUST terminate the session (no way to say why).
        if (!e) throw new NbdProtocolError(this.decoder.stream, at, `NBD_OPT_EXPORT_NAME: no export '${name}'`);
        this.exp = e;
        this.o.send(encodeServerMessage({ kind: 'export-name-reply', size: e.image.virtualSize, flags: this.transmissionFlags(e), zeroes: !this.noZeroes }));
        this.phase = 'transmission';
        return;
      }
      case NBD_OPT_ABORT:
        this.reply(option, NBD_REP_ACK);
        this.hangUp();
        return;
      case NBD_OPT_LIST:
        if (data.length !== 0) return this.replyError(option, NBD_REP_ERR_INVALID, 'NBD_OPT_LIST with data');
        for (const e of this.o.exports) this.reply(option, NBD_REP_SERVER, encodeServerEntry(e.name, e.description ?? ''));
        this.reply(option, NBD_REP_ACK);
        return;
      case NBD_OPT_STARTTLS:
        return this.replyError(option, NBD_REP_ERR_POLICY, 'TLS not configured');
      case NBD_OPT_STRUCTURED_REPLY:
        if (data.length !== 0) return this.replyError(option, NBD_REP_ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY with data');
        if (this.structured) return this.replyError(option, NBD_REP_ERR_INVALID, 'structured reply already negotiated');
        this.structured = true;
        return this.reply(option, NBD_REP_ACK);
      case NBD_OPT_LIST_META_CONTEXT:
      case NBD_OPT_SET_META_CONTEXT:
        return this.onMetaContext(option, data);
      case NBD_OPT_INFO:
      case NBD_OPT_GO:
        return this.onInfo(option, data);
      default:
        return this.replyError(option, NBD_REP_ERR_UNSUP, `Unsupported option ${option} (${nbdName('option', option)})`);
    }
  }

  private onInfo(option: number, data: Uint8Array): void {
    const r = parseInfoRequest(data);
    if (typeof r === 'string') return this.replyError(option, NBD_REP_ERR_INVALID, r);
    const e = this.find(r.name);
    if (!e) return this.replyError(option, NBD_REP_ERR_UNKNOWN, `export '${r.name}' not present`);
    if (r.requests.includes(NBD_INFO_NAME)) this.reply(option, NBD_REP_INFO, encodeInfo({ info: 'name', name: e.name }));
    if (r.requests.includes(NBD_INFO_DESCRIPTION) && e.description !== undefined) {
      this.reply(option, NBD_REP_INFO, encodeInfo({ info: 'description', description: e.description }));
    }
    const asked = r.requests.includes(NBD_INFO_BLOCK_SIZE);
    this.reply(option, NBD_REP_INFO, encodeInfo({ info: 'block-size', minimum: asked ? 1 : 512, preferred: NBD_PREFERRED_BLOCK, maximum: NBD_MAX_PAYLOAD }));
    this.reply(option, NBD_REP_INFO, encodeInfo({ info: 'export', size: e.image.virtualSize, flags: this.transmissionFlags(e) }));
    this.reply(option, NBD_REP_ACK);
    if (option === NBD_OPT_GO) {
      this.exp = e;
      this.phase = 'transmission';
    }
  }

  private onMetaContext(option: number, data: Uint8Array): void {
    if (!this.structured) return this.replyError(option, NBD_REP_ERR_INVALID, 'request structured replies first');
    const r = parseMetaContextRequest(data);
    if (typeof r === 'string') return this.replyError(option, NBD_REP_ERR_INVALID, r);
    if (!this.find(r.name)) return this.replyError(option, NBD_REP_ERR_UNKNOWN, `export '${r.name}' not present`);
    const set = option === NBD_OPT_SET_META_CONTEXT;
    // base:allocation is the only context; "base:" (or no query, on LIST) names it too.
    const match = (q: string): boolean => q === BASE_ALLOCATION || (!set && q === 'base:');
    const selected = r.queries.some(match) || (!set && r.queries.length === 0);
    if (set) this.contexts = selected ? [BASE_ALLOCATION] : [];
    if (selected) this.reply(option, NBD_REP_META_CONTEXT, encodeMetaContext(0, BASE_ALLOCATION));
    this.reply(option, NBD_REP_ACK);
  }

  // --- transmission ---------------------------------------------------------------------

  private onRequest(req: NbdRequest, at: number): void {
    this.stats.requests++;
    if (req.type === NBD_CMD_DISC) {
      // Soft disconnect: finish what is in flight, then close (QEMU sets client->closing).
      this.closing = true;
      if (this.inFlight === 0) this.hangUp();
      return;
    }
    const bad = this.check(req);
    if (bad) return this.fail(req, bad.error, bad.message);
    if (this.inFlight >= (this.o.maxInFlight ?? 1024)) {
      throw new NbdProtocolError(this.decoder.stream, at, `more than ${this.o.maxInFlight ?? 1024} requests in flight`);
    }
    this.inFlight++;
    const run = (): void => {
      this.inFlight--;
      if (this.phase !== 'closed') this.execute(req);
      if (this.closing && this.inFlight === 0) this.hangUp();
    };
    if (this.o.schedule) this.o.schedule(req, run);
    else run();
  }

  /** proto.md's checks, in QEMU's order (nbd_co_receive_request). */
  private check(req: NbdRequest): { error: number; message: string } | null {
    const e = this.exp!;
    const size = e.image.virtualSize;
    const allowed = this.allowedFlags(req.type);
    if (allowed === null) return { error: NBD_EINVAL, message: `unknown command ${req.type}` };
    if ((req.flags & ~allowed) !== 0) return { error: NBD_EINVAL, message: `unsupported flags 0x${req.flags.toString(16)} for ${nbdName('cmd', req.type)}` };
    if ((req.type === NBD_CMD_READ || req.type === NBD_CMD_WRITE) && req.length > NBD_MAX_PAYLOAD) {
      return { error: NBD_EINVAL, message: `len (${req.length}) is larger than max len (${NBD_MAX_PAYLOAD})` };
    }
    const writes = req.type === NBD_CMD_WRITE || req.type === NBD_CMD_TRIM || req.type === NBD_CMD_WRITE_ZEROES;
    // proto.md says a server SHOULD fail these with EPERM; QEMU 7.2 answers EROFS, which its
    // system_errno_to_nbd_errno maps to EINVAL. vfab answers as qemu-nbd does (checked in
    // test/nbd/qemu.test.ts).
    if (writes && e.image.readOnly) return { error: NBD_EINVAL, message: 'Export is read-only' };
    if (req.type !== NBD_CMD_FLUSH && (req.offset > size || req.length > size - req.offset)) {
      return { error: NBD_EINVAL, message: `operation past EOF; From: ${req.offset}, Len: ${req.length}, Size: ${size}` };
    }
    if (req.type === NBD_CMD_BLOCK_STATUS && this.contexts.length === 0) return { error: NBD_EINVAL, message: 'CMD_BLOCK_STATUS not negotiated' };
    return null;
  }

  private allowedFlags(type: number): number | null {
    switch (type) {
      case NBD_CMD_READ:
        return NBD_CMD_FLAG_FUA | (this.structured ? NBD_CMD_FLAG_DF : 0);
      case NBD_CMD_WRITE:
      case NBD_CMD_FLUSH:
      case NBD_CMD_TRIM:
      case NBD_CMD_CACHE:
        return NBD_CMD_FLAG_FUA;
      case NBD_CMD_WRITE_ZEROES:
        return NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO;
      case NBD_CMD_BLOCK_STATUS:
        return NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_REQ_ONE;
      default:
        return null;
    }
  }

  private execute(req: NbdRequest): void {
    const img = this.exp!.image;
    try {
      switch (req.type) {
        case NBD_CMD_READ:
          return this.sendRead(req, img);
        case NBD_CMD_WRITE:
          img.write(req.offset, req.data!);
          this.stats.bytesWritten += req.length;
          break;
        case NBD_CMD_FLUSH:
          img.flush();
          break;
        case NBD_CMD_TRIM:
          img.discard(req.offset, req.length);
          break;
        case NBD_CMD_WRITE_ZEROES:
          img.writeZeroes(req.offset, req.length);
          break;
        case NBD_CMD_CACHE:
          break;
        case NBD_CMD_BLOCK_STATUS:
          return this.sendBlockStatus(req, img);
      }
      if ((req.flags & NBD_CMD_FLAG_FUA) !== 0 && req.type !== NBD_CMD_FLUSH) img.flush();
      this.o.send(encodeServerMessage({ kind: 'simple-reply', error: 0, cookie: req.cookie }));
    } catch (e) {
      // The image refused (I/O error, corrupt image): EIO, as QEMU maps -EIO.
      this.fail(req, NBD_EIO, errorMessage(e));
    }
  }

  private fail(req: NbdRequest, error: number, message: string): void {
    this.stats.errors++;
    if (this.structured) {
      const body = encodeChunkBody({ type: 'error', chunkType: NBD_REPLY_TYPE_ERROR, error, message });
      this.o.send(encodeChunk(NBD_REPLY_FLAG_DONE, body.type, req.cookie, body.payload));
    } else {
      this.o.send(encodeServerMessage({ kind: 'simple-reply', error, cookie: req.cookie }));
    }
  }

  private sendRead(req: NbdRequest, img: NbdImage): void {
    this.stats.bytesRead += req.length;
    if (!this.structured) {
      const data = new Uint8Array(req.length);
      img.read(req.offset, data);
      this.o.send(encodeServerMessage({ kind: 'simple-reply', error: 0, cookie: req.cookie, data }));
      return;
    }
    if (req.length === 0) return this.sendChunk(req.cookie, true, { type: 'none' });
    const runs: StatusRun[] = (req.flags & NBD_CMD_FLAG_DF) === 0 && img.blockStatus ? img.blockStatus(req.offset, req.length) : [];
    let pos = 0;
    for (const run of runs) {
      if (pos >= req.length) break;
      const n = Math.min(run.length, req.length - pos);
      if (n <= 0) break;
      const last = pos + n === req.length;
      if (run.zero) this.sendChunk(req.cookie, last, { type: 'offset-hole', offset: req.offset + pos, length: n });
      else this.sendDataChunk(req.cookie, last, req.offset + pos, n, img);
      pos += n;
    }
    if (pos < req.length) this.sendDataChunk(req.cookie, true, req.offset + pos, req.length - pos, img);
  }

  /** An OFFSET_DATA chunk built in one buffer, the image read straight into it (the hot path). */
  private sendDataChunk(cookie: bigint, done: boolean, offset: number, n: number, img: NbdImage): void {
    const size = NBD_CHUNK_HEADER_LEN + 8 + n;
    const b = this.o.alloc !== undefined ? this.o.alloc(size, img.readFills !== true) : carve(size);
    const v = bufferView(b);
    const o = b.byteOffset;
    v.setUint32(o, NBD_STRUCTURED_REPLY_MAGIC);
    v.setUint16(o + 4, done ? NBD_REPLY_FLAG_DONE : 0);
    v.setUint16(o + 6, NBD_REPLY_TYPE_OFFSET_DATA);
    v.setBigUint64(o + 8, cookie);
    v.setUint32(o + 16, 8 + n);
    putU64(v, o + 20, offset);
    img.read(offset, b.subarray(28));
    this.o.send(b);
  }

  private sendBlockStatus(req: NbdRequest, img: NbdImage): void {
    const runs = img.blockStatus ? img.blockStatus(req.offset, req.length) : [{ length: req.length, zero: false, hole: false }];
    const extents: Extent[] = [];
    let sum = 0;
    for (const r of runs) {
      if (sum >= req.length) break;
      // Extent lengths are 32 bits: clip to the request (which is at most 2^32 - 1).
      const length = Math.min(r.length, req.length - sum);
      const flags = (r.hole ? NBD_STATE_HOLE : 0) | (r.zero ? NBD_STATE_ZERO : 0);
      // Runs with equal flags merge into one extent, also under REQ_ONE (QEMU 7.2
      // nbd_extent_array_add: the single extent grows until the flags change).
      const prev = extents[extents.length - 1];
      if (prev && prev.flags === flags) prev.length += length;
      else if ((req.flags & NBD_CMD_FLAG_REQ_ONE) !== 0 && prev) break;
      else extents.push({ length, flags });
      sum += length;
    }
    if (extents.length === 0) extents.push({ length: req.length, flags: 0 });
    this.contexts.forEach((_, id) => this.sendChunk(req.cookie, id === this.contexts.length - 1, { type: 'block-status', contextId: id, extents }));
  }

  private sendChunk(cookie: bigint, done: boolean, body: ChunkBody): void {
    const { type, payload } = encodeChunkBody(body);
    this.o.send(encodeChunk(done ? NBD_REPLY_FLAG_DONE : 0, type, cookie, payload));
  }
}
