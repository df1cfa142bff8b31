/**
 * The live-OVS half of an `ofproto/trace` fixture test: runs test/oracles/ovs/ovs-trace.sh on a
 * fixture directory (bridge.spec, flows.txt, packets.txt) against the installed Open vSwitch and
 * hands the trace log (and the script's output) to `compare`. Skipped with a printed reason when
 * OVS is missing outside CI (describeWithTools).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { describeWithTools } from './tools.js';

export function describeLiveOvsTrace(name: string, fixture: string, compare: (log: string, out: string) => void): void {
  describeWithTools(['ovs-vswitchd', 'ovsdb-server', 'ovs-ofctl', 'python3'], name, () => {
    it('re-runs the oracle on the fixture and compares', () => {
      const dir = mkdtempSync(join(tmpdir(), 'vfab-ovs-trace-'));
      try {
        const script = join(import.meta.dirname, '../oracles/ovs/ovs-trace.sh');
        const log = join(dir, 'trace.log');
        const out = execFileSync(script, [join(fixture, 'bridge.spec'), join(fixture, 'flows.txt'), join(fixture, 'packets.txt'), '--trace-out', log, '--raw'], { encoding: 'utf8', timeout: 60_000 });
        compare(readFileSync(log, 'utf8'), out);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 90_000);
  });
}
