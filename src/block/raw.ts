/**
 * Raw images: the file is the disk. Every byte inside the virtual size is "data" (node cannot
 * ask the file system for holes, so `map` reports one data extent, where qemu-img would use
 * SEEK_HOLE). Discard and write-zeroes write zero bytes (QEMU punches holes; node cannot).
 */
import { UserError } from '../errors.js';
import type { BlockBackend } from './backend.js';
import { ST_DATA, type Layer, type LayerStatus } from './image.js';

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
    const chunk = new Uint8Array(Math.min(length, 1 << 20));
    for (let p = 0; p < length; p += chunk.length) {
      const n = Math.min(chunk.length, length - p);
      this.backend.pwrite(n === chunk.length ? chunk : chunk.subarray(0, n), offset + p);
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
