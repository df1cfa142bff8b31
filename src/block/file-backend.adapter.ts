/**
 * File storage for images (node:fs, synchronous), and vfab's image lock.
 *
 * I/O: `fs.readSync`/`fs.writeSync` with an explicit position (pread/pwrite), `fsyncSync` for
 * flush, `ftruncateSync` to grow sparsely. Short reads past the end are zero-filled, as QEMU's
 * file-posix driver does (block/file-posix.c handle_aiocb_rw).
 *
 * Locking. QEMU takes OFD byte-range locks on the image (bytes 100+perm / 200+perm, see
 * block/file-posix.c raw_apply_lock_bytes); node cannot take those. vfab uses a lock file
 * `IMAGE.lock` created with O_EXCL that holds the writer's pid. A lock whose pid is dead (SIGKILL,
 * crash) is stale and taken over. Deliberate difference: qemu does not see vfab's lock file and
 * vfab does not see qemu's OFD locks, so do not run both on one image at the same time.
 */
import * as fs from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { UserError, errorMessage, errnoCode } from '../errors.js';
import type { BlockBackend } from './backend.js';
import { resolveBackingPath, type BackendProvider } from './chain.js';

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
    if (!fs.existsSync(path)) throw new UserError('BLOCK_NO_FILE', `Could not open '${path}': No such file or directory`, { where: path });
    let lockPath: string | undefined;
    if (opts.write) lockPath = acquireLock(path);
    else if (!opts.forceShare) checkNotLocked(path);
    try {
      const fd = fs.openSync(path, opts.write ? 'r+' : 'r');
      return new FileBackend(fd, path, !opts.write, lockPath);
    } catch (e) {
      if (lockPath) releaseLock(lockPath);
      throw new UserError('BLOCK_OPEN', `Could not open '${path}': ${errorMessage(e)}`, { where: path });
    }
  }

  /** Creates (or truncates) a file and opens it for writing, locked. */
  static create(path: string): FileBackend {
    const lockPath = acquireLock(path);
    try {
      const fd = fs.openSync(path, 'w+');
      return new FileBackend(fd, path, false, lockPath);
    } catch (e) {
      releaseLock(lockPath);
      throw new UserError('BLOCK_CREATE', `Could not create '${path}': ${errorMessage(e)}`, { where: path });
    }
  }

  pread(buf: Uint8Array, offset: number): void {
    let done = 0;
    while (done < buf.length) {
      const n = fs.readSync(this.fd, buf, done, buf.length - done, offset + done);
      if (n <= 0) {
        buf.fill(0, done);
        return;
      }
      done += n;
    }
  }

  pwrite(data: Uint8Array, offset: number): void {
    let done = 0;
    while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done, offset + done);
  }

  fsync(): void {
    fs.fsyncSync(this.fd);
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  truncate(length: number): void {
    fs.ftruncateSync(this.fd, length);
  }

  allocatedBytes(): number {
    return fs.fstatSync(this.fd).blocks * 512;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
    if (this.lockPath) releaseLock(this.lockPath);
  }
}

// Locks this process holds, so a second writer in the same process is refused too.
const held = new Set<string>();

function lockFileOf(path: string): string {
  return `${path}.lock`;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

function readHolder(lockPath: string): number | undefined {
  try {
    return Number.parseInt(fs.readFileSync(lockPath, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
}

function lockedError(path: string, pid: number): UserError {
  return new UserError('BLOCK_LOCKED', `image is locked for writing by pid ${pid}`, {
    where: path,
    hint: `another process has '${path}' open for writing; wait for it to finish (or remove ${lockFileOf(path)} if pid ${pid} is not vfab)`,
  });
}

/** Takes the writer lock on `path` (exclusive-create of `path.lock`), replacing a stale one. */
export function acquireLock(path: string): string {
  const lockPath = lockFileOf(path);
  if (held.has(lockPath)) throw lockedError(path, process.pid);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(lockPath, 'wx');
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      held.add(lockPath);
      return lockPath;
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') {
        throw new UserError('BLOCK_LOCK', `cannot create lock file ${lockPath}: ${errorMessage(e)}`, { where: path });
      }
      const pid = readHolder(lockPath);
      if (pid !== undefined && pidAlive(pid)) throw lockedError(path, pid);
      // Stale (holder died) or half-written: remove and retry.
      try {
        fs.unlinkSync(lockPath);
      } catch {
        /* someone else removed it first */
      }
    }
  }
  throw new UserError('BLOCK_LOCK', `cannot take the lock ${lockPath}`, { where: path });
}

export function releaseLock(lockPath: string): void {
  held.delete(lockPath);
  try {
    if (readHolder(lockPath) === process.pid) fs.unlinkSync(lockPath);
  } catch {
    /* already gone */
  }
}

/** A reader refuses an image another live process has open for writing (qemu does too, unless -U). */
export function checkNotLocked(path: string): void {
  const pid = readHolder(lockFileOf(path));
  if (pid !== undefined && pid !== process.pid && pidAlive(pid)) throw lockedError(path, pid);
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
  identity(name: string): string {
    return resolvePath(name);
  }
}
