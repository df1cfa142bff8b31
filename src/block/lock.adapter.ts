/**
 * vfab's writer lock on an image: a lock file `IMAGE.lock`, taken over atomically when its holder
 * died.
 *
 * Why not QEMU's locks. QEMU takes open-file-description (OFD) byte-range locks on bytes 100+perm
 * and 200+perm of the image (block/file-posix.c raw_apply_lock_bytes, F_OFD_SETLK). Node cannot
 * take them, and the only maintained binding (fs-ext 2.1.1) offers flock() and whole-file
 * process-associated fcntl(F_SETLK) locks only (l_start = l_len = 0, no F_OFD_*), which QEMU does
 * not look at and which a close() of any other descriptor of the file silently drops. So vfab and
 * QEMU do not see each other's locks (docs/disks.md says what that means).
 *
 * Protocol (every step is one atomic file-system call):
 * - A lock *instance* is the text `PID NONCE` (NONCE random per acquisition, never reused).
 * - Acquire: write the instance to a private temp file, then link() it to `IMAGE.lock`. link is
 *   atomic and fails with EEXIST when the name exists, so the lock file appears whole or not at
 *   all and at most one process creates it.
 * - A lock whose PID is dead is stale. Its instance X may be removed only by the process that
 *   created `IMAGE.lock.claim.<X>` (written whole to a temp file, then link()ed, so it too appears
 *   whole or not at all); that process re-reads the lock file and unlinks it
 *   only if it still holds X, then removes its claim.
 * Why exactly one writer wins: the lock file changes only by link (when absent), by its live
 * owner's release, or by a claim holder of its current instance X. Claims of X are exclusive
 * (created by an atomic link, removed only by their creator), the claim holder checks the content while holding the
 * claim, and X, once unlinked, never reappears (fresh nonce), so X is unlinked at most once and
 * never while its owner lives. A claimant that died holding a claim is itself taken over the same
 * way (the claim is a lock file one level down), at most MAX_CLAIM_DEPTH levels.
 * A live pid that was reused by another process keeps the lock (conservative: refused, with a hint).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { UserError, errnoCode, errorMessage } from '../errors.js';

const MAX_CLAIM_DEPTH = 4;
const MAX_LOCK_TEXT = 256;

// Locks this process holds, so a second writer in the same process is refused too.
const held = new Map<string, string>();

export function lockFileOf(path: string): string {
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

/** The instance text of a lock (or claim) file, undefined when it does not exist. Size-capped. */
function readInstance(file: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(MAX_LOCK_TEXT);
    const n = fs.readSync(fd, buf, 0, MAX_LOCK_TEXT, 0);
    return buf.subarray(0, n).toString('utf8').trim();
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function pidOf(instance: string): number {
  return Number.parseInt(instance.split(' ')[0] ?? '', 10);
}

/** A file-name-safe key for an instance (legacy lock files hold just `PID`). */
function keyOf(instance: string): string {
  const k = instance.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 80);
  return k === '' ? 'empty' : k;
}

function lockedError(path: string, pid: number, lockPath: string): UserError {
  return new UserError('BLOCK_LOCKED', `image is locked for writing by pid ${pid}`, {
    where: path,
    hint: `another process has '${path}' open for writing; wait for it to finish (or remove ${lockPath} if pid ${pid} is not vfab)`,
  });
}

function lockError(path: string, lockPath: string, e: unknown): UserError {
  const msg = errorMessage(e);
  return new UserError('BLOCK_LOCK', `cannot take the lock ${lockPath}: ${msg}`, { where: path });
}

const errno = errnoCode;

/**
 * Removes `file` if it still holds `instance` (whose owner is dead), under the exclusive claim
 * `file.claim.<instance>`. Throws BLOCK_LOCKED when a live process is taking it over already.
 */
function removeStale(path: string, file: string, instance: string, me: string, depth: number): void {
  const claim = `${file}.claim.${keyOf(instance)}`;
  // The claim must appear whole, like the lock itself: a claim created empty and then written
  // (writeFileSync 'wx') can be read empty by a racer, whose NaN pid looks dead, who then takes
  // the live claim over, and both unlink the lock (seen as a loser's raw ENOENT in the lock race).
  const tmp = `${claim}.${keyOf(me)}.tmp`;
  try {
    fs.writeFileSync(tmp, me, { flag: 'wx' });
  } catch (e) {
    throw lockError(path, claim, e);
  }
  try {
    for (let tries = 0; ; tries++) {
      if (tries > 50) throw lockError(path, file, new Error('too much contention'));
      try {
        fs.linkSync(tmp, claim);
        break;
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw lockError(path, claim, e);
        const c = readInstance(claim);
        if (c === undefined) continue; // its holder just finished: try again
        const pid = pidOf(c);
        if (pidAlive(pid)) throw lockedError(path, pid, lockFileOf(path));
        if (depth >= MAX_CLAIM_DEPTH) throw lockError(path, claim, new Error('too many dead claimants'));
        removeStale(path, claim, c, me, depth + 1);
      }
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  try {
    if (readInstance(file) === instance) fs.unlinkSync(file);
  } catch (e) {
    throw lockError(path, file, e);
  } finally {
    fs.rmSync(claim, { force: true });
  }
}

/** Takes the writer lock on `path`; returns the lock file path. Exit-2 errors when it is held. */
export function acquireLock(path: string): string {
  const lockPath = lockFileOf(path);
  if (held.has(lockPath)) throw lockedError(path, process.pid, lockPath);
  const me = `${process.pid} ${randomBytes(8).toString('hex')}`;
  const tmp = `${lockPath}.${keyOf(me)}.tmp`;
  try {
    fs.writeFileSync(tmp, `${me}\n`, { flag: 'wx' });
  } catch (e) {
    throw lockError(path, lockPath, e);
  }
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        fs.linkSync(tmp, lockPath);
        held.set(lockPath, me);
        return lockPath;
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw lockError(path, lockPath, e);
      }
      const cur = readInstance(lockPath);
      if (cur === undefined) continue; // released meanwhile
      const pid = pidOf(cur);
      if (pidAlive(pid)) throw lockedError(path, pid, lockPath);
      removeStale(path, lockPath, cur, me, 0);
    }
    throw lockError(path, lockPath, new Error('too much contention'));
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Releases a lock this process holds (only its own instance is ever removed). */
export function releaseLock(lockPath: string): void {
  const me = held.get(lockPath);
  held.delete(lockPath);
  if (me !== undefined && readInstance(lockPath) === me) fs.rmSync(lockPath, { force: true });
}

/** A reader refuses an image another live process has open for writing (qemu does too, unless -U). */
export function checkNotLocked(path: string): void {
  const lockPath = lockFileOf(path);
  const cur = readInstance(lockPath);
  if (cur === undefined) return;
  const pid = pidOf(cur);
  if (pid !== process.pid && pidAlive(pid)) throw lockedError(path, pid, lockPath);
}
