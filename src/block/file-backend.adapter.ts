/**
 * File storage for images (node:fs, synchronous).
 *
 * I/O: `fs.readSync`/`fs.writeSync` with an explicit position (pread/pwrite), `fdatasync` as the
 * ordering barrier, `fsync` for flush, `ftruncateSync` to grow sparsely. Reads past the end of
 * the file are zeros without a system call (QEMU's file-posix pads short reads the same way,
 * block/file-posix.c handle_aiocb_rw), so hostile offsets up to 2^64 never reach readSync.
 * Every file-system error becomes a UserError naming the path and the reason (exit 2).
 * Locking: lock.adapter.ts.
 */
import * as fs from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { UserError, errorMessage, errnoCode } from '../errors.js';
import type { BlockBackend } from './backend.js';
import { resolveBackingPath, type BackendProvider } from './chain.js';
import { acquireLock, checkNotLocked, releaseLock } from './lock.adapter.js';

export { acquireLock, checkNotLocked, releaseLock };

/** `Could not open 'x': Is a directory` for a Node fs error (its code and message without the syscall noise). */
export function fsError(code: string, verb: string, path: string, e: unknown): UserError {
  const code2 = errnoCode(e);
  const reason = code2 ? reasonOf(code2, errorMessage(e)) : errorMessage(e);
  return new UserError(code, `Could not ${verb} '${path}': ${reason}`, { where: path });
}

function reasonOf(code: string, message: string): string {
  const texts: Record<string, string> = {
    ENOENT: 'No such file or directory',
    EISDIR: 'Is a directory',
    ENOTDIR: 'Not a directory',
    EACCES: 'Permission denied',
    EPERM: 'Operation not permitted',
    EROFS: 'Read-only file system',
    ENOSPC: 'No space left on device',
    EFBIG: 'File too large',
    EIO: 'Input/output error',
    EEXIST: 'File exists',
    ELOOP: 'Too many levels of symbolic links',
    ENAMETOOLONG: 'File name too long',
    EINVAL: 'Invalid argument',
  };
  return texts[code] ?? `${code}: ${message}`;
}

/** Only regular files (and block devices) are images; QEMU's file driver says the same. */
function requireRegular(path: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    throw fsError('BLOCK_NO_FILE', 'open', path, e);
  }
  if (st.isDirectory()) throw new UserError('BLOCK_NOT_A_FILE', `Could not open '${path}': Is a directory`, { where: path });
  if (!st.isFile() && !st.isBlockDevice()) {
    throw new UserError('BLOCK_NOT_A_FILE', `Could not open '${path}': not a regular file (FIFOs, sockets and character devices are refused)`, { where: path });
  }
}

/** The largest byte offset node's positioned I/O accepts (Number.MAX_SAFE_INTEGER). */
const MAX_POSITION = Number.MAX_SAFE_INTEGER;

export class FileBackend implements BlockBackend {
  private closed = false;
  private constructor(
    private fd: number,
    readonly name: string,
    readonly readOnly: boolean,
    private lockPath: string | undefined,
  ) {}

  /** Opens an existing file. `write` takes vfab's writer lock first (exit 2 when someone holds it). */
  static open(path: string, opts: { write: boolean; forceShare?: boolean }): FileBackend {
    requireRegular(path);
    let lockPath: string | undefined;
    if (opts.write) lockPath = acquireLock(path);
    else if (!opts.forceShare) checkNotLocked(path);
    try {
      const fd = fs.openSync(path, opts.write ? 'r+' : 'r');
      return new FileBackend(fd, path, !opts.write, lockPath);
    } catch (e) {
      if (lockPath) releaseLock(lockPath);
      throw fsError('BLOCK_OPEN', 'open', path, e);
    }
  }

  /**
   * Opens `path` for a new image, locked: an existing file is truncated only now, after every
   * option was validated (api.ts createImage) and the lock was taken, so a refused create leaves
   * it as it was. (qemu-img truncates first and deletes the file when the format rejects an
   * option; vfab leaves the user's file alone instead.)
   */
  static create(path: string): FileBackend {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(path);
    } catch {
      /* new file */
    }
    if (st?.isDirectory()) throw new UserError('BLOCK_CREATE', `Could not create '${path}': Is a directory`, { where: path });
    if (st && !st.isFile()) throw new UserError('BLOCK_CREATE', `Could not create '${path}': not a regular file`, { where: path });
    const lockPath = acquireLock(path);
    try {
      const fd = fs.openSync(path, 'w+');
      return new FileBackend(fd, path, false, lockPath);
    } catch (e) {
      releaseLock(lockPath);
      throw fsError('BLOCK_CREATE', 'create', path, e);
    }
  }

  private io(verb: string, e: unknown): UserError {
    return fsError('BLOCK_IO', verb, this.name, e);
  }

  pread(buf: Uint8Array, offset: number): void {
    let end = this.size();
    // Another process may have grown the file since we looked (readers share it with a writer).
    if (offset + buf.length > end && this.readOnly) end = this.refreshSize();
    let done = 0;
    while (done < buf.length) {
      const pos = offset + done;
      if (pos >= end || pos > MAX_POSITION) break;
      let n: number;
      try {
        n = fs.readSync(this.fd, buf, done, Math.min(buf.length - done, end - pos), pos);
      } catch (e) {
        throw this.io('read', e);
      }
      if (n <= 0) break;
      done += n;
    }
    if (done < buf.length) buf.fill(0, done);
  }

  pwrite(data: Uint8Array, offset: number): void {
    if (offset + data.length > MAX_POSITION) {
      throw new UserError('BLOCK_IO', `Could not write '${this.name}': offset ${offset} is past the largest file offset vfab can address`, { where: this.name });
    }
    let done = 0;
    try {
      while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done, offset + done);
    } catch (e) {
      throw this.io('write', e);
    }
    this.cachedSize = Math.max(this.cachedSize ?? 0, offset + data.length);
  }

  fsync(): void {
    try {
      fs.fsyncSync(this.fd);
    } catch (e) {
      throw this.io('flush', e);
    }
  }

  barrier(): void {
    try {
      fs.fdatasyncSync(this.fd);
    } catch (e) {
      throw this.io('flush', e);
    }
    this.barriers++;
  }

  barriers = 0;

  /** The size, kept in memory while we are the only writer (fstat per read is a syscall). */
  private cachedSize: number | undefined;

  size(): number {
    return this.cachedSize ?? this.refreshSize();
  }

  private refreshSize(): number {
    try {
      this.cachedSize = fs.fstatSync(this.fd).size;
    } catch (e) {
      throw this.io('stat', e);
    }
    return this.cachedSize;
  }

  truncate(length: number): void {
    try {
      fs.ftruncateSync(this.fd, length);
    } catch (e) {
      throw this.io('resize', e);
    }
    this.cachedSize = length;
  }

  allocatedBytes(): number {
    try {
      return fs.fstatSync(this.fd).blocks * 512;
    } catch (e) {
      throw this.io('stat', e);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.fd);
    } finally {
      if (this.lockPath) releaseLock(this.lockPath);
    }
  }
}

/** Images as files; backing names resolve against the overlay's directory (QEMU). */
export class FileProvider implements BackendProvider {
  open(name: string, opts: { write: boolean; forceShare: boolean }): BlockBackend {
    return FileBackend.open(name, opts);
  }
  create(name: string): BlockBackend {
    return FileBackend.create(name);
  }
  resolveBacking(overlay: string, backing: string): string {
    return resolveBackingPath(overlay, backing);
  }
  exists(name: string): boolean {
    return fs.existsSync(name);
  }
  remove(name: string): void {
    fs.rmSync(name, { force: true });
  }
  identity(name: string): string {
    return resolvePath(name);
  }
}
