/**
 * Files a user names (topology, `flows_file:`, QoS file, `--flows`, `--packets`, trace outputs):
 * read with a size cap, refused when not a regular file, and every file-system error turned into
 * a `UserError` that names the path and the reason (issue 10 #7, #9).
 *
 * - Size: at most `maxInputBytes()` bytes (default `DEFAULT_MAX_INPUT_BYTES`, 16 MiB; the CLI
 *   sets it from `--max-input-size` or `VFAB_MAX_INPUT_SIZE`). The cap is checked on the size
 *   `fstat` reports and again while reading, so a file that grows, or a /proc file that reports
 *   0, cannot push past it.
 * - Kind: FIFOs, sockets, character and block devices and directories are refused with a
 *   message (`vfab validate /dev/zero` used to read forever). The file is opened with
 *   O_NONBLOCK so that opening a FIFO without a writer does not hang before the check.
 *
 * This is an adapter: the only place in util/ that touches `node:fs`.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, type Stats } from 'node:fs';
import { UserError } from '../errors.js';

export const DEFAULT_MAX_INPUT_BYTES = 16 * 1024 * 1024;
let maxBytes = DEFAULT_MAX_INPUT_BYTES;

/** The size cap for user input files, in bytes. */
export function maxInputBytes(): number {
  return maxBytes;
}

/** Sets the size cap (the CLI's `--max-input-size` / `VFAB_MAX_INPUT_SIZE`). */
export function setMaxInputBytes(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new UserError('CLI_BAD_FLAG', `the input size limit must be a positive size, got ${n}`, { where: '--max-input-size' });
  maxBytes = n;
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'exists and is not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EBUSY: 'device or resource busy',
  ETXTBSY: 'text file busy',
  EIO: 'input/output error',
  ENXIO: 'no such device or address',
  EFBIG: 'file too large',
  EINVAL: 'invalid argument',
  EAGAIN: 'resource temporarily unavailable',
};

/** A file-system error from Node (has an errno `code` such as ENOENT). */
export function isFsError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && /^E[A-Z0-9]+$/.test((e as NodeJS.ErrnoException).code!);
}

/** "no such file or directory" for ENOENT, …; the errno name for codes not listed. */
export function fsReason(e: NodeJS.ErrnoException): string {
  const code = e.code ?? 'EUNKNOWN';
  return REASONS[code] ?? `${code.toLowerCase()} (${code})`;
}

/**
 * Runs `fn` (a file-system operation on the user's `path`); a file-system error becomes a
 * `UserError` "cannot VERB PATH: reason". Other errors pass through untouched.
 */
export function withUserPath<T>(path: string, verb: string, code: string, fn: () => T, where?: string): T {
  try {
    return fn();
  } catch (e) {
    if (isFsError(e)) throw new UserError(code, `cannot ${verb} ${path}: ${fsReason(e)}`, where !== undefined ? { where } : {});
    throw e;
  }
}

function kindOf(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'is a directory';
  if (st.isFIFO()) return 'is a FIFO (named pipe)';
  if (st.isSocket()) return 'is a socket';
  if (st.isCharacterDevice()) return 'is a character device';
  if (st.isBlockDevice()) return 'is a block device';
  return 'is not a regular file';
}

export interface ReadUserOptions {
  /** Error code for problems (`TOPOLOGY_READ`, `QOS_READ`, `CLI_FILE`). */
  code: string;
  /** The flag or field that named the file, when not the path itself (`--flows`). */
  where?: string;
  /** Override the cap (bytes). */
  maxBytes?: number;
}

/** Reads a user's text file (UTF-8), capped and checked; see the module note. */
export function readUserText(path: string, opts: ReadUserOptions): string {
  return readUserBytes(path, opts).toString('utf8');
}

export function readUserBytes(path: string, opts: ReadUserOptions): Buffer {
  const cap = opts.maxBytes ?? maxBytes;
  const where = opts.where;
  const fd = withUserPath(path, 'read', opts.code, () => openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), where);
  try {
    const st = withUserPath(path, 'read', opts.code, () => fstatSync(fd), where);
    const kind = kindOf(st);
    if (kind) throw new UserError(opts.code, `cannot read ${path}: ${kind}; vfab reads regular files only`, where !== undefined ? { where } : {});
    const tooBig = (n: number, exact: boolean): UserError =>
      new UserError(opts.code, `cannot read ${path}: ${exact ? `${n} bytes is` : 'it is'} over the input size limit of ${cap} bytes`, {
        ...(where !== undefined ? { where } : {}),
        hint: 'raise the limit with --max-input-size SIZE or VFAB_MAX_INPUT_SIZE=SIZE (e.g. 256MiB)',
      });
    if (st.size > cap) throw tooBig(st.size, true);
    const chunks: Buffer[] = [];
    let total = 0;
    const want = Math.min(cap + 1, Math.max(st.size + 1, 64 * 1024));
    let buf = Buffer.allocUnsafe(want);
    for (;;) {
      const n = withUserPath(path, 'read', opts.code, () => readSync(fd, buf, 0, Math.min(buf.length, cap + 1 - total), null), where);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > cap) throw tooBig(total, false);
      buf = Buffer.allocUnsafe(Math.min(64 * 1024, cap + 1 - total));
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** Creates the user's output folder (and parents); errors name the path and the reason. */
export function makeUserDir(path: string, code: string, where?: string): void {
  withUserPath(path, 'create folder', code, () => mkdirSync(path, { recursive: true }), where);
}

/** Opens the user's output file for writing (created or truncated). */
export function openUserOutput(path: string, code: string, where?: string): number {
  return withUserPath(path, 'write', code, () => openSync(path, 'w'), where);
}
