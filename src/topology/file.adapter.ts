/**
 * The one place `topology/` touches the file system: reading a topology file and the files it
 * references (`flows_file`). Kept thin so the loader itself is testable from strings. Reads are
 * capped and checked by `util/user-file.adapter.ts` (regular files only, size limit).
 */
import { readUserText } from '../util/user-file.adapter.js';

export function readTextFile(path: string): string {
  return readUserText(path, { code: 'TOPOLOGY_READ' });
}
