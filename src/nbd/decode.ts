/**
 * Incremental decoders for the two directions of an NBD connection. Feed bytes as they arrive
 * (`push`), in chunks of any size; get whole messages back, each with the stream offset of its
 * first byte.
 *
 * Robustness: the decoders never throw anything but `NbdProtocolError`, which names the stream
 * and the byte offset of the message at fault. Buffered bytes are bounded: a message that
 * declares more than the limit (`maxPayload` for write data and reply chunks, 64 KiB for option
 * data) is refused as it is announced, before its bytes are buffered. After an error the decoder
 * stays broken (the connection must be dropped: proto.md allows a hard disconnect on any
 * violation of a mandatory condition).
 *
 * Context: the client's stream is context-free (a request starts with 0x25609513, an option with
 * 'IHAVEOPT'). The server's is not: a simple reply to NBD_CMD_READ carries data whose length only
 * the request says (proto.md "Simple reply message"), and the reply to NBD_OPT_EXPORT_NAME has no
 * magic. So the server-stream decoder asks its owner for the length of a read (`readLength`) and
 * is told when an export-name reply is due.
 */
import {
  NBD_CMD_WRITE,
  NBD_INIT_MAGIC,
  NBD_MAX_OPTION_DATA,
  NBD_MAX_PAYLOAD,
  NBD_OPTS_MAGIC,
  NBD_OPT_GO,
  NBD_REP_ACK,
  NBD_REP_MAGIC,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
} from './constants.js';
import { getU64, NbdProtocolError, type ClientMessage, type ServerMessage } from './wire.js';
import { carve } from './slab.js';

export interface Decoded<T> {
  msg: T;
  /** Stream offset of the message's first byte. */
  at: number;
}

/**
 * A byte window: bytes in at the end, out at the front. While it is empty, an appended chunk is
 * adopted as a view (no copy); `settle` copies what is left of an adopted chunk into owned memory
 * when the push ends, since the sender's frame must not be kept. So a message read straight out
 * of one chunk costs no copy into the window.
 */
class ByteQueue {
  /** Owned storage; `buf` is it, or an adopted chunk. */
  private store: Uint8Array = new Uint8Array(4096);
  private buf: Uint8Array = this.store;
  private start = 0;
  private end = 0;
  /** Stream offset of `buf[start]`. */
  consumed = 0;

  append(chunk: Uint8Array): void {
    if (this.start === this.end) {
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      return;
    }
    if (this.buf !== this.store) this.settle();
    if (this.end + chunk.length > this.store.length) {
      const live = this.end - this.start;
      if (live + chunk.length <= this.store.length / 2) {
        this.store.copyWithin(0, this.start, this.end);
      } else {
        let size = this.store.length * 2;
        while (size < live + chunk.length) size *= 2;
        const b = new Uint8Array(size);
        b.set(this.store.subarray(this.start, this.end));
        this.store = b;
      }
      this.buf = this.store;
      this.start = 0;
      this.end = live;
    }
    this.store.set(chunk, this.end);
    this.end += chunk.length;
  }
  /** Copies what is left of an adopted chunk into owned memory (the chunk is the caller's). */
  settle(): void {
    if (this.buf === this.store) return;
    const live = this.end - this.start;
    if (live > this.store.length) this.store = new Uint8Array(Math.max(live, this.store.length * 2));
    if (live > 0) this.store.set(this.buf.subarray(this.start, this.end));
    this.buf = this.store;
    this.start = 0;
    this.end = live;
  }
  get length(): number {
    return this.end - this.start;
  }
  /** A DataView over the next `n` bytes (n <= length). */
  peek(n: number): DataView {
    return new DataView(this.buf.buffer, this.buf.byteOffset + this.start, n);
  }
  /** Copies out and drops `n` bytes. */
  take(n: number): Uint8Array {
    const out = carve(n);
    out.set(this.buf.subarray(this.start, this.start + n));
    this.skip(n);
    return out;
  }
  /** Moves up to `n` bytes into `dst` at `at`; returns how many. */
  moveTo(dst: Uint8Array, at: number, n: number): number {
    const k = Math.min(n, this.end - this.start);
    if (k > 0) {
      dst.set(this.buf.subarray(this.start, this.start + k), at);
      this.skip(k);
    }
    return k;
  }
  /** Big-endian fields `i` bytes into the window, without a view object per message. */
  u16(i: number): number {
    const b = this.buf;
    const k = this.start + i;
    return (b[k]! << 8) | b[k + 1]!;
  }
  u32(i: number): number {
    const b = this.buf;
    const k = this.start + i;
    return ((b[k]! << 24) | (b[k + 1]! << 16) | (b[k + 2]! << 8) | b[k + 3]!) >>> 0;
  }
  /** A 64-bit field as a BigInt (cookies): from two 32-bit reads, no view per adopted chunk. */
  u64n(i: number): bigint {
    const hi = this.u32(i);
    const lo = BigInt(this.u32(i + 4));
    return hi === 0 ? lo : (BigInt(hi) << 32n) | lo;
  }
  skip(n: number): void {
    this.start += n;
    this.consumed += n;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
      this.buf = this.store;
    }
  }
}

export interface DecoderLimits {
  /** Largest write payload / reply chunk payload accepted (default 32 MiB, proto.md's default maximum). */
  maxPayload?: number;
  /** Largest option or option-reply data accepted (default 64 KiB). */
  maxOptionData?: number;
}

abstract class StreamDecoder<T> {
  protected q = new ByteQueue();
  protected broken: NbdProtocolError | null = null;
  protected readonly maxPayload: number;
  protected readonly maxOptionData: number;

  constructor(
    readonly stream: string,
    limits: DecoderLimits = {},
  ) {
    this.maxPayload = limits.maxPayload ?? NBD_MAX_PAYLOAD;
    this.maxOptionData = limits.maxOptionData ?? NBD_MAX_OPTION_DATA;
  }

  /** Appends `chunk`; returns the whole messages now available, in order. */
  push(chunk: Uint8Array): Decoded<T>[] {
    const out: Decoded<T>[] = [];
    this.each(chunk, (msg, at) => {
      out.push({ msg, at });
      return false;
    });
    return out;
  }

  /**
   * Appends `chunk` and calls `fn` with each whole message now available, in order (no array or
   * wrapper per message). `fn` returns true to stop (its owner closed: nothing more is decoded or
   * placed); it must not re-enter the decoder.
   */
  each(chunk: Uint8Array, fn: (msg: T, at: number) => boolean): void {
    if (this.broken) throw this.broken;
    const q = this.q;
    q.append(chunk);
    try {
      for (;;) {
        if (this.sinkLeft > 0) {
          const n = q.moveTo(this.sink!, this.sinkAt, this.sinkLeft);
          this.sinkAt += n;
          this.sinkLeft -= n;
          if (this.sinkLeft > 0) break;
          const m = this.sinkDone!;
          this.sink = null;
          this.sinkDone = null;
          if (fn(m, this.sinkMsgAt)) break;
          continue;
        }
        const at = q.consumed;
        let m: T | null;
        try {
          m = this.next();
        } catch (e) {
          if (e instanceof NbdProtocolError) this.broken = e;
          throw e;
        }
        if (m === null) {
          if (this.sinkLeft > 0) continue;
          break;
        }
        if (fn(m, at)) break;
      }
    } finally {
      q.settle();
    }
  }

  /**
   * A message's payload goes straight into `dst` at `at` (`n` bytes, n > 0) as it arrives; `done`
   * is emitted once the last byte is there (its stream offset `msgAt`). For `next`, which then
   * returns null.
   */
  protected placeInto(dst: Uint8Array, at: number, n: number, done: T, msgAt: number): void {
    this.sink = dst;
    this.sinkAt = at;
    this.sinkLeft = n;
    this.sinkDone = done;
    this.sinkMsgAt = msgAt;
  }
  private sink: Uint8Array | null = null;
  private sinkAt = 0;
  private sinkLeft = 0;
  private sinkDone: T | null = null;
  private sinkMsgAt = 0;

  /** Bytes waiting for the rest of their message. */
  get pending(): number {
    return this.q.length + (this.sink !== null ? this.q.consumed - this.sinkMsgAt : 0);
  }

  /** The stream ended: an error if it ended inside a message. */
  end(): void {
    if (this.pending > 0) throw this.fail(`stream ends inside a message (${this.pending} bytes of it received)`);
  }

  protected fail(message: string): NbdProtocolError {
    return new NbdProtocolError(this.stream, this.q.consumed, message);
  }

  /** One message off the queue, or null when more bytes are needed. */
  protected abstract next(): T | null;
}

/** Decodes what a client sends (the server's view). */
export class ClientStreamDecoder extends StreamDecoder<ClientMessage> {
  private sawFlags: boolean;

  constructor(stream = 'nbd client stream', limits: DecoderLimits = {}, opts: { flagsSent?: boolean } = {}) {
    super(stream, limits);
    this.sawFlags = opts.flagsSent ?? false;
  }

  protected next(): ClientMessage | null {
    const q = this.q;
    if (!this.sawFlags) {
      if (q.length < 4) return null;
      const flags = q.peek(4).getUint32(0);
      q.skip(4);
      this.sawFlags = true;
      return { kind: 'client-flags', flags };
    }
    if (q.length < 4) return null;
    if (q.u32(0) === NBD_REQUEST_MAGIC) {
      if (q.length < 28) return null;
      const type = q.u16(6);
      const length = q.u32(24);
      const hasData = type === NBD_CMD_WRITE;
      if (hasData && length > this.maxPayload) throw this.fail(`NBD_CMD_WRITE of ${length} bytes exceeds the maximum payload ${this.maxPayload}`);
      if (hasData && q.length < 28 + length) return null;
      const req = { kind: 'request' as const, flags: q.u16(4), type, cookie: q.u64n(8), offset: q.u32(16) * 0x100000000 + q.u32(20), length };
      q.skip(28);
      return hasData ? { ...req, data: q.take(length) } : req;
    }
    if (q.length < 8) return null;
    if (q.peek(8).getBigUint64(0) !== NBD_OPTS_MAGIC) {
      throw this.fail(`expected IHAVEOPT (0x${NBD_OPTS_MAGIC.toString(16)}) or request magic 0x${NBD_REQUEST_MAGIC.toString(16)}, got 0x${q.peek(8).getBigUint64(0).toString(16)}`);
    }
    if (q.length < 16) return null;
    const v = q.peek(16);
    const option = v.getUint32(8);
    const len = v.getUint32(12);
    if (len > this.maxOptionData) throw this.fail(`option ${option} declares ${len} data bytes (limit ${this.maxOptionData})`);
    if (q.length < 16 + len) return null;
    q.skip(16);
    return { kind: 'option', option, data: q.take(len) };
  }
}

export interface ServerStreamContext {
  /** Data bytes a successful simple reply to `cookie` carries (the read's length), else 0. */
  readLength(cookie: bigint): number;
  /**
   * Where the data of an NBD_REPLY_TYPE_OFFSET_DATA chunk goes (`length` bytes for image offset
   * `offset`), told once its header and offset have arrived: a buffer of exactly `length` bytes
   * that the data is then copied into straight from the received bytes (as QEMU's client reads a
   * chunk's data into the request's qiov, block/nbd.c `nbd_co_receive_offset_data_payload`), and
   * the chunk is delivered as `chunk-placed`; or null, and it is delivered whole as `chunk`.
   */
  placeData?(cookie: bigint, flags: number, offset: number, length: number, at: number): Uint8Array | null;
}

/** An OFFSET_DATA chunk whose data `ServerStreamContext.placeData` took. */
export interface PlacedChunk {
  kind: 'chunk-placed';
  flags: number;
  cookie: bigint;
  offset: number;
  length: number;
}

/** Decodes what a server sends (the client's view). */
export class ServerStreamDecoder extends StreamDecoder<ServerMessage | PlacedChunk> {
  private phase: 'greeting' | 'options' | 'export-name' | 'transmission' = 'greeting';
  private zeroes = true;

  constructor(
    private readonly ctx: ServerStreamContext,
    stream = 'nbd server stream',
    limits: DecoderLimits = {},
  ) {
    super(stream, limits);
  }

  /** The client sent NBD_OPT_EXPORT_NAME: the next message is the export reply. */
  expectExportNameReply(noZeroes: boolean): void {
    this.phase = 'export-name';
    this.zeroes = !noZeroes;
  }

  get inTransmission(): boolean {
    return this.phase === 'transmission';
  }

  protected next(): ServerMessage | PlacedChunk | null {
    const q = this.q;
    switch (this.phase) {
      case 'greeting': {
        if (q.length < 18) return null;
        const v = q.peek(18);
        if (v.getBigUint64(0) !== NBD_INIT_MAGIC) throw this.fail(`expected NBDMAGIC, got 0x${v.getBigUint64(0).toString(16)}`);
        if (v.getBigUint64(8) !== NBD_OPTS_MAGIC) {
          throw this.fail(`expected IHAVEOPT after NBDMAGIC (oldstyle servers are not supported), got 0x${v.getBigUint64(8).toString(16)}`);
        }
        const flags = v.getUint16(16);
        q.skip(18);
        this.phase = 'options';
        return { kind: 'greeting', flags };
      }
      case 'options': {
        if (q.length < 20) return null;
        const v = q.peek(20);
        if (v.getBigUint64(0) !== NBD_REP_MAGIC) throw this.fail(`expected option reply magic 0x3e889045565a9, got 0x${v.getBigUint64(0).toString(16)}`);
        const option = v.getUint32(8);
        const type = v.getUint32(12);
        const len = v.getUint32(16);
        if (len > this.maxOptionData) throw this.fail(`option reply declares ${len} data bytes (limit ${this.maxOptionData})`);
        if (q.length < 20 + len) return null;
        q.skip(20);
        // A successful NBD_OPT_GO ends option haggling (proto.md "Termination of the session").
        if (option === NBD_OPT_GO && type === NBD_REP_ACK) this.phase = 'transmission';
        return { kind: 'option-reply', option, type, data: q.take(len) };
      }
      case 'export-name': {
        const n = this.zeroes ? 134 : 10;
        if (q.length < n) return null;
        const v = q.peek(10);
        const m: ServerMessage = { kind: 'export-name-reply', size: getU64(v, 0), flags: v.getUint16(8), zeroes: this.zeroes };
        q.skip(n);
        this.phase = 'transmission';
        return m;
      }
      case 'transmission': {
        if (q.length < 4) return null;
        const magic = q.u32(0);
        if (magic === NBD_SIMPLE_REPLY_MAGIC) {
          if (q.length < 16) return null;
          const error = q.u32(4);
          const cookie = q.u64n(8);
          const n = error === 0 ? this.ctx.readLength(cookie) : 0;
          if (q.length < 16 + n) return null;
          q.skip(16);
          return n > 0 ? { kind: 'simple-reply', error, cookie, data: q.take(n) } : { kind: 'simple-reply', error, cookie };
        }
        if (magic === NBD_STRUCTURED_REPLY_MAGIC) {
          if (q.length < 20) return null;
          const len = q.u32(16);
          // The payload may exceed the maximum payload by the chunk's fixed overhead (proto.md).
          if (len > this.maxPayload + 4096) throw this.fail(`reply chunk declares ${len} payload bytes (limit ${this.maxPayload})`);
          const type = q.u16(6);
          const ctx = this.ctx;
          if (type === NBD_REPLY_TYPE_OFFSET_DATA && len > 8 && ctx.placeData !== undefined) {
            if (q.length < 28) return null;
            const at = q.consumed;
            const flags = q.u16(4);
            const cookie = q.u64n(8);
            const offset = q.u32(20) * 0x100000000 + q.u32(24);
            const dst = ctx.placeData(cookie, flags, offset, len - 8, at);
            if (dst !== null) {
              q.skip(28);
              this.placeInto(dst, 0, len - 8, { kind: 'chunk-placed', flags, cookie, offset, length: len - 8 }, at);
              return null;
            }
          }
          if (q.length < 20 + len) return null;
          const flags = q.u16(4);
          const cookie = q.u64n(8);
          q.skip(20);
          return { kind: 'chunk', flags, type, cookie, payload: q.take(len) };
        }
        throw this.fail(`expected a simple (0x67446698) or structured (0x668e33ef) reply magic, got 0x${magic.toString(16)}`);
      }
    }
  }
}
