/**
 * Big-endian byte writer and bounds-checked reader for the OpenFlow codec.
 *
 * The reader never throws: every read past the end sets `bad` and returns 0, so a decoder can
 * read a whole fixed struct and check `bad` once (OpenFlow answers a short message with one
 * ERROR, not with an exception). u64 fields are bigint; everything narrower is a number.
 *
 * Speed: messages are encoded straight into 64 KiB slabs (`slabWriter`/`slabTake`: no copy) and
 * decoded byte fields (packet data, error data) are views into the input, because allocating an
 * ArrayBuffer per message costs more than the whole encode. So a decoded message shares memory
 * with the bytes it came from: callers that reuse an input buffer must copy what they keep.
 */

const SLAB_SIZE = 64 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabPos = 0;

/** `n` fresh bytes (a view into a slab for small sizes; never handed out twice). */
export function allocBytes(n: number): Uint8Array {
  if (n > 4096) return new Uint8Array(n);
  if (slabPos + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabPos = 0;
  }
  const v = slab.subarray(slabPos, slabPos + n);
  slabPos += (n + 7) & ~7;
  return v;
}

/** Room a message gets in the slab before `slabWriter` starts a fresh one (larger ones grow out). */
const SLAB_RESERVE = 8 * 1024;
let slabView = new DataView(slab.buffer);
let slabWriterStart = 0;

/**
 * A writer positioned at the free end of the current slab: encode into it, then `slabTake` returns
 * the bytes as a view of the slab without a copy (the encoder's hot path).
 */
export function slabWriter(): Writer {
  if (SLAB_SIZE - slabPos < SLAB_RESERVE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabView = new DataView(slab.buffer);
    slabPos = 0;
  }
  const w = slabW;
  w.buf = slab;
  w.view = slabView;
  w.pos = slabPos;
  slabWriterStart = slabPos;
  return w;
}

/** The bytes written since `slabWriter()`; the slab space is handed out (never twice). */
export function slabTake(w: Writer): Uint8Array {
  if (w.buf !== slab) {
    // The message outgrew the slab: the writer moved to a private buffer (a copy); the slab's
    // free space stays free.
    const out = w.buf.subarray(slabWriterStart, w.pos);
    w.buf = EMPTY;
    return out;
  }
  const out = slab.subarray(slabWriterStart, w.pos);
  slabPos = (w.pos + 7) & ~7;
  return out;
}

let lastBuffer: ArrayBufferLike | null = null;
let lastView: DataView | null = null;

function viewOf(b: Uint8Array): DataView {
  if (b.buffer !== lastBuffer) {
    lastBuffer = b.buffer;
    lastView = new DataView(b.buffer);
  }
  return lastView!;
}

const EMPTY = new Uint8Array(0);

export class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;

  constructor(size = 256) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  reset(): void {
    this.pos = 0;
  }

  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }

  u8(v: number): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    if (this.pos + 2 > this.buf.length) this.grow(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }
  u32(v: number): void {
    if (this.pos + 4 > this.buf.length) this.grow(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }
  u64(v: bigint): void {
    if (this.pos + 8 > this.buf.length) this.grow(8);
    // Most u64s on the wire (cookies, counters) fit 32 bits: no BigInt arithmetic for them.
    if (v >= 0n && v <= 0xffffffffn) {
      this.view.setUint32(this.pos, 0);
      this.view.setUint32(this.pos + 4, Number(v));
    } else this.view.setBigUint64(this.pos, BigInt.asUintN(64, v));
    this.pos += 8;
  }
  /** A 48-bit value held in a number (MAC addresses). */
  u48(v: number): void {
    this.u16(Math.floor(v / 0x1_0000_0000) & 0xffff);
    this.u32(v % 0x1_0000_0000);
  }
  pad(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
    // A loop beats fill() for the few bytes of OpenFlow padding.
    const b = this.buf;
    for (let i = this.pos, e = this.pos + n; i < e; i++) b[i] = 0;
    this.pos += n;
  }
  bytes(b: Uint8Array): void {
    if (this.pos + b.length > this.buf.length) this.grow(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** NUL-padded fixed-width string (truncated to width - 1 so it stays NUL-terminated). */
  str(s: string, width: number): void {
    if (this.pos + width > this.buf.length) this.grow(width);
    this.buf.fill(0, this.pos, this.pos + width);
    const n = Math.min(s.length, width - 1);
    for (let i = 0; i < n; i++) this.buf[this.pos + i] = s.charCodeAt(i) & 0x7f;
    this.pos += width;
  }
  /** Pads with zeros to a multiple of 8 from `start`. */
  align8(start: number): void {
    const r = (this.pos - start) & 7;
    if (r) this.pad(8 - r);
  }
  /** Writes a u16 at an earlier position (length fields patched after the body). */
  patch16(at: number, v: number): void {
    this.view.setUint16(at, v);
  }
  /** A copy of what was written. */
  take(): Uint8Array {
    const out = allocBytes(this.pos);
    out.set(this.buf.subarray(0, this.pos));
    return out;
  }
}

export class Reader {
  /** A DataView over the whole underlying buffer: index with `base + pos`. */
  view: DataView;
  base: number;
  pos: number;
  /** Set once any read went past `end`. */
  bad = false;

  constructor(
    public buf: Uint8Array,
    start = 0,
    public end = buf.length,
  ) {
    this.view = viewOf(buf);
    this.base = buf.byteOffset;
    this.pos = start;
  }

  /** Points the reader at a new buffer (the decoder reuses one reader per call). */
  reset(buf: Uint8Array): void {
    this.buf = buf;
    this.view = viewOf(buf);
    this.base = buf.byteOffset;
    this.pos = 0;
    this.end = buf.length;
    this.bad = false;
  }

  get left(): number {
    return this.end - this.pos;
  }

  private need(n: number): boolean {
    if (this.pos + n > this.end) {
      this.bad = true;
      this.pos = this.end;
      return false;
    }
    return true;
  }

  u8(): number {
    if (!this.need(1)) return 0;
    return this.buf[this.pos++]!;
  }
  u16(): number {
    const p = this.pos;
    if (p + 2 > this.end) return this.short();
    const b = this.buf;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }
  u32(): number {
    const p = this.pos;
    if (p + 4 > this.end) return this.short();
    const b = this.buf;
    this.pos = p + 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }
  /** A read past `end`: marks the reader bad and returns 0. */
  private short(): number {
    this.bad = true;
    this.pos = this.end;
    return 0;
  }
  u64(): bigint {
    if (!this.need(8)) return 0n;
    const at = this.base + this.pos;
    this.pos += 8;
    // 0 (the usual cookie, mask, metadata) needs no BigInt allocation.
    if (this.view.getUint32(at) === 0 && this.view.getUint32(at + 4) === 0) return 0n;
    return this.view.getBigUint64(at);
  }
  u48(): number {
    const hi = this.u16();
    return hi * 0x1_0000_0000 + this.u32();
  }
  skip(n: number): void {
    if (this.need(n)) this.pos += n;
  }
  bytes(n: number): Uint8Array {
    if (!this.need(n)) return new Uint8Array(0);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /** Fixed-width NUL-padded string (stops at the first NUL). */
  str(width: number): string {
    if (!this.need(width)) return '';
    let s = '';
    for (let i = 0; i < width; i++) {
      const c = this.buf[this.pos + i]!;
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    this.pos += width;
    return s;
  }
}

const slabW = new Writer(0);
