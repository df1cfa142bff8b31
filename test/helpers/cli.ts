/** Runs oclif command classes in-process for tests (shared by the block CLI suites). */
import { join } from 'node:path';
import { vi } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** Runs an oclif command class in-process; returns stdout, stderr and the exit code it set. */
export async function cli(cmd: { run(argv: string[], root: string): Promise<unknown> }, argv: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  process.exitCode = 0;
  try {
    await cmd.run(argv, ROOT);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const code = process.exitCode ?? 0;
  process.exitCode = 0;
  return { out, err, code };
}
