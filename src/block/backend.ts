/**
 * Byte storage under an image: a file, or memory for tests and data-less simulations.
 *
 * The image formats (raw, qcow2) only talk to this interface, so the whole block layer is
 * testable without touching the disk. Calls are synchronous: the simulation is single-threaded
 * and a synchronous `pwrite` returning means the bytes are in the OS page cache, so a process
 * killed right after still leaves them in the file (what the crash harness relies on).
 */
export interface BlockBackend {
  /** Reads `buf.length` bytes at `offset`; bytes past the end read as zeros (like a sparse file). */
  pread(buf: Uint8Array, offset: number): void;
  /** Writes `data` at `offset`, growing the storage if needed. */
  pwrite(data: Uint8Array, offset: number): void;
  /** Durability point (fsync for files): every earlier write survives a power loss. */
  fsync(): void;
  /**
   * Ordering barrier between dependent metadata writes (fdatasync for files): writes issued
   * before it reach stable storage before any issued after it. Optional: memory has no power loss.
   */
  barrier?(): void;
  /** Current length in bytes. */
  size(): number;
  /** Sets the length (growing is sparse: no zero bytes are written). */
  truncate(length: number): void;
  /** Bytes really stored (file blocks × 512 for files), for `disk size` in info. */
  allocatedBytes(): number;
  close(): void;
  /** Human name for messages (a path, or `memory:NAME`). */
  readonly name: string;
}

const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;

/**
 * Sparse in-memory storage: 64 KiB chunks allocated on first write, so a 1 TiB thin image costs
 * only what was written. `failAfterWrites` lets tests cut the write stream (a simulated crash).
 */
export class MemoryBackend implements BlockBackend {
  private chunks = new Map<number, Uint8Array>();
  private length = 0;
  writes = 0;
  fsyncs = 0;
  constructor(readonly name = 'memory') {}

  pread(buf: Uint8Array, offset: number): void {
    let done = 0;
    while (done < buf.length) {
      const pos = offset + done;
      const ci = Math.floor(pos / CHUNK);
      const within = pos - ci * CHUNK;
      const n = Math.min(CHUNK - within, buf.length - done);
      const chunk = pos < this.length ? this.chunks.get(ci) : undefined;
      if (chunk) {
        const avail = Math.max(0, Math.min(n, this.length - pos));
        buf.set(chunk.subarray(within, within + avail), done);
        if (avail < n) buf.fill(0, done + avail, done + n);
      } else buf.fill(0, done, done + n);
      done += n;
    }
  }

  pwrite(data: Uint8Array, offset: number): void {
    this.writes++;
    let done = 0;
    while (done < data.length) {
      const pos = offset + done;
      const ci = Math.floor(pos / CHUNK);
      const within = pos - ci * CHUNK;
      const n = Math.min(CHUNK - within, data.length - done);
      let chunk = this.chunks.get(ci);
      if (!chunk) {
        chunk = new Uint8Array(CHUNK);
        this.chunks.set(ci, chunk);
      }
      chunk.set(data.subarray(done, done + n), within);
      done += n;
    }
    this.length = Math.max(this.length, offset + data.length);
  }

  fsync(): void {
    this.fsyncs++;
  }

  barriers = 0;
  barrier(): void {
    this.barriers++;
  }

  size(): number {
    return this.length;
  }

  truncate(length: number): void {
    if (length < this.length) {
      for (const ci of [...this.chunks.keys()]) {
        const start = ci * CHUNK;
        if (start >= length) this.chunks.delete(ci);
        else if (start + CHUNK > length) this.chunks.get(ci)!.fill(0, length - start);
      }
    }
    this.length = length;
  }

  allocatedBytes(): number {
    return this.chunks.size * CHUNK;
  }

  close(): void {}

  /** A copy of the whole content (tests). */
  snapshotBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    this.pread(out, 0);
    return out;
  }
}
