/**
 * Helpers for `vfab flows` / `vfab fdb`: run a topology, then look at one bridge.
 */
import { UserError } from '../errors.js';
import type { Bridge } from './bridge.js';

/** The bridge `path` (`hv1.br0`, `tor`) from a fabric's bridge map, or a UserError listing them. */
export function pickBridge(bridges: ReadonlyMap<string, Bridge>, path: string): Bridge {
  const b = bridges.get(path);
  if (b) return b;
  const known = [...bridges.keys()].sort();
  throw new UserError('CLI_UNKNOWN_BRIDGE', `no bridge or switch ${path}`, {
    where: '--bridge',
    hint: known.length ? `one of: ${known.join(', ')}` : 'the topology has no bridges',
  });
}
