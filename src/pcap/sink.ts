/**
 * Where trace bytes go. Writers hand a sink chunks of complete blocks/records; a chunk may be a
 * view into the writer's reused buffer, so a sink must consume or copy it before returning.
 *
 * `beforeClose`, when set (writers set it), is called first by `close()` so buffered bytes reach
 * the sink even when the sink is closed from outside (Ctrl-C handler in file-sink.adapter.ts).
 */
export interface ByteSink {
  write(chunk: Uint8Array): void;
  close(): void;
  beforeClose?: (() => void) | undefined;
}

/** Collects everything in memory (tests, benchmarks). Copies each chunk. */
export class MemorySink implements ByteSink {
  private chunks: Uint8Array[] = [];
  length = 0;
  closed = false;
  beforeClose?: (() => void) | undefined;
  /** With `discard`, only counts bytes (benchmarks measuring the writer alone). */
  constructor(private readonly discard = false) {}
  write(chunk: Uint8Array): void {
    this.length += chunk.length;
    if (!this.discard) this.chunks.push(chunk.slice());
  }
  close(): void {
    if (this.closed) return;
    this.beforeClose?.();
    this.closed = true;
  }
  /** Everything written so far, as one array. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/**
 * A reusable output buffer that flushes whole chunks to a sink: blocks are built in place with a
 * little-endian DataView, so writing a packet allocates nothing.
 */
export class ChunkBuffer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;
  constructor(
    private readonly sink: ByteSink,
    size: number,
  ) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  /** Makes room for `n` contiguous bytes at `pos` (flushing, or growing for a huge block). */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) {
      this.buf = new Uint8Array(n);
      this.view = new DataView(this.buf.buffer);
    }
  }
  flush(): void {
    if (this.pos === 0) return;
    this.sink.write(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }
}

export const DEFAULT_CHUNK_SIZE = 1 << 20;
