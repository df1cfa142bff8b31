import { errnoCode, UserError } from '../errors.js';

/** strerror's text for the errors a user-given image path commonly meets (what qemu-img prints). */
const STRERROR: Record<string, string> = {
  EISDIR: 'Is a directory',
  EACCES: 'Permission denied',
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EROFS: 'Read-only file system',
};

/**
 * Runs `fn`; a host file-system error (errno) on the image `name` becomes a user error naming the
 * file, as qemu-img's "Could not open 'x': Is a directory" (exit 2, no stack trace). User errors
 * pass through; anything else is a bug and is rethrown.
 */
export function hostErrors<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = errnoCode(e);
    if (code === undefined) throw e;
    throw new UserError('BLOCK_NO_FILE', `Could not open '${name}': ${STRERROR[code] ?? code}`, { where: name });
  }
}
