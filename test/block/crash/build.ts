// Compiles the block layer alone (a few seconds) into a cache dir, for child processes of the
// crash and lock tests (they run compiled code so a SIGKILL hits real node, not vitest).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..', '..');
/** Each test file builds into its own directory (vitest runs files in parallel). */
export function buildBlockLayer(name: string): string {
  const BUILD = join(ROOT, 'node_modules', '.cache', `vfab-block-${name}`);
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), join(ROOT, 'src/block/api.ts'), '--outDir', BUILD, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node'],
    { cwd: ROOT, stdio: 'pipe' },
  );
  return BUILD;
}
