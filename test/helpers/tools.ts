/**
 * External reference tools (tshark, qemu-img, qemu-io, ovs-vswitchd) for oracle tests.
 *
 * Outside CI a missing tool skips the test with a printed reason; in CI (`CI=true`) nothing is
 * skipped: a missing tool fails the test, because .ci/run installs them.
 */
import { execFileSync } from 'node:child_process';
import { describe } from 'vitest';

const cache = new Map<string, boolean>();

export function hasTool(name: string): boolean {
  let ok = cache.get(name);
  if (ok === undefined) {
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
      ok = true;
    } catch {
      ok = false;
    }
    cache.set(name, ok);
  }
  return ok;
}

export const inCI = process.env['CI'] === 'true';

/**
 * `describe` that needs `tools`. Skipped (with a printed reason) when one is missing outside CI;
 * in CI the suite runs and fails loudly instead.
 */
export function describeWithTools(tools: string[], name: string, fn: () => void): void {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length > 0 && !inCI) {
    process.stdout.write(`skipping "${name}": ${missing.join(', ')} not installed (CI installs it)\n`);
    describe.skip(name, fn);
    return;
  }
  describe(name, fn);
}

/**
 * For an oracle check inside a test that also checks other things: true when `tool` is
 * installed. Outside CI a missing tool prints why the check is skipped; in CI it fails the test
 * (nothing is skipped silently, nothing is skipped in CI).
 */
export function requireTool(tool: string, check: string): boolean {
  if (hasTool(tool)) return true;
  if (inCI) throw new Error(`${tool} is not installed but CI must run "${check}" (add it to .ci/run)`);
  process.stdout.write(`skipping "${check}": ${tool} not installed (CI installs it)\n`);
  return false;
}
