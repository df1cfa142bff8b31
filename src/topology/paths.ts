/**
 * Paths written in a topology file are relative to the file's folder (absolute ones stay as they
 * are). Resolved once when the model is built, so every consumer (the fabric, `vfab qos`) opens
 * the same file.
 */
import { dirname, isAbsolute, join } from 'node:path';

/** `rel` as written in topology `file`, resolved against the file's folder. */
export function topologyPath(file: string, rel: string): string {
  return isAbsolute(rel) ? rel : join(dirname(file), rel);
}
