/**
 * Raw images: the file is the disk. `map` finds holes by content (Chain.allocationMap; QEMU uses
 * SEEK_HOLE). Discard and write-zeroes leave file blocks that already read as zeros alone, so
 * holes stay holes; over data they write zero bytes (QEMU punches holes; node cannot).
 */
import { UserError } from '../errors.js';
import type { BlockBackend } from './backend.js';
import { ST_DATA, type Layer, type LayerStatus } from './image.js';
import { FS_BLOCK, isZeroRange } from './qcow2/image.js';

export class RawLayer implements Layer {
  readonly format = 'raw' as const;
  readonly granule = 65536;
  readonly backingFile = undefined;
  readonly backingFormat = undefined;
  virtualSize: number;

  constructor(
    readonly backend: BlockBackend,
    readonly readOnly: boolean,
  ) {
    this.virtualSize = backend.size();
  }

  get name(): string {
    return this.backend.name;
  }

  static create(backend: BlockBackend, size: number): RawLayer {
    backend.truncate(size);
    return new RawLayer(backend, false);
  }

  status(offset: number): LayerStatus {
    return { kind: ST_DATA, host: offset, length: Math.max(0, this.virtualSize - offset) };
  }

  preadHost(buf: Uint8Array, host: number): void {
    this.backend.pread(buf, host);
  }

  private checkWrite(offset: number, length: number): void {
    if (this.readOnly) throw new UserError('BLOCK_READ_ONLY', `${this.name} is open read-only`);
    if (offset < 0 || offset + length > this.virtualSize) {
      throw new UserError('BLOCK_OUT_OF_RANGE', `request [${offset}, ${offset + length}) is outside the ${this.virtualSize}-byte image`);
    }
  }

  write(offset: number, data: Uint8Array): void {
    this.checkWrite(offset, data.length);
    this.backend.pwrite(data, offset);
  }

  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length);
  }

  writeZeroes(offset: number, length: number): void {
    this.checkWrite(offset, length);
    const CHUNK = 1 << 20;
    const old = new Uint8Array(Math.min(length, CHUNK) + 2 * FS_BLOCK);
    const zeros = new Uint8Array(FS_BLOCK);
    // Block by block: only blocks holding data are overwritten.
    const first = Math.floor(offset / FS_BLOCK) * FS_BLOCK;
    for (let c = first; c < offset + length; c += CHUNK) {
      const cEnd = Math.min(c + CHUNK, Math.ceil((offset + length) / FS_BLOCK) * FS_BLOCK);
      const view = old.subarray(0, cEnd - c);
      this.backend.pread(view, c);
      for (let b = c; b < cEnd; b += FS_BLOCK) {
        const s = Math.max(b, offset);
        const e = Math.min(b + FS_BLOCK, offset + length);
        if (e > s && !isZeroRange(view, s - c, e - c)) this.backend.pwrite(zeros.subarray(0, e - s), s);
      }
    }
  }

  flush(): void {
    this.backend.fsync();
  }

  close(): void {
    this.backend.close();
  }

  setBackingReader(): void {}

  fileAllocatedBytes(): number {
    return this.backend.allocatedBytes();
  }

  fileSize(): number {
    return this.backend.size();
  }
}
