/**
 * The one place `topology/` touches the file system: reading a topology file and the files it
 * references (`flows_file`). Kept thin so the loader itself is testable from strings.
 */
import { readFileSync } from 'node:fs';
import { UserError, errorMessage, errnoCode } from '../errors.js';

export function readTextFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = errnoCode(e);
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : errorMessage(e);
    throw new UserError('TOPOLOGY_READ', `cannot read ${path}: ${why}`, { where: path });
  }
}
