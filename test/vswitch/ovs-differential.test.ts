/**
 * Differential suite against Open vSwitch 3.1 (`test/fixtures/ovs/*`, recorded by
 * `test/fixtures/ovs/record.sh` with ../shared/oracles/ovs/ovs-trace.sh --stable): every packet's
 * output ports, VLAN tags and rewritten fields, and every MAC table dump, must equal OVS's.
 * The recorded answers make this run without OVS; the live block re-runs OVS when installed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeWithTools } from '../helpers/tools.js';
import { parseExpected, runVfab } from './ovs-oracle.js';

const ROOT = join(import.meta.dirname, '../fixtures/ovs');
const CASES = readdirSync(ROOT).filter((d) => existsSync(join(ROOT, d, 'packets.txt'))).sort();
const read = (c: string, f: string): string => readFileSync(join(ROOT, c, f), 'utf8');

function mismatches(expected: ReturnType<typeof parseExpected>, got: ReturnType<typeof runVfab>): string[] {
  const out: string[] = [];
  for (let i = 0; i < Math.max(expected.length, got.length); i++) {
    const e = expected[i];
    const g = got[i];
    if (e?.result !== g?.result || e?.kind !== g?.kind) {
      out.push(`#${i + 1} ${e?.kind ?? g?.kind} ${e?.text ?? g?.text}\n  ovs:  ${e?.result}\n  vfab: ${g?.result}`);
    }
  }
  return out;
}

describe('vfab bare-bridge trace equals recorded Open vSwitch answers', () => {
  it('covers at least 3 flow tables and 60 packets', () => {
    const packets = CASES.map((c) => parseExpected(read(c, 'expected.txt')).filter((l) => l.kind !== 'fdb').length);
    expect(CASES.length).toBeGreaterThanOrEqual(3);
    expect(packets.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(60);
    expect(readFileSync(join(ROOT, 'OVS_VERSION'), 'utf8')).toMatch(/Open vSwitch\) 3\.1/);
  });

  for (const c of CASES) {
    it(`case ${c}: same outputs, VLANs, rewrites and MAC tables`, () => {
      const expected = parseExpected(read(c, 'expected.txt'));
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.some((l) => l.result.startsWith('ERROR'))).toBe(false);
      const got = runVfab(read(c, 'bridge.spec'), read(c, 'flows.txt'), read(c, 'packets.txt'));
      expect(mismatches(expected, got)).toEqual([]);
    });
  }
});

const ORACLE = 'test/oracles/ovs/ovs-trace.sh';

describeWithTools(['ovs-vswitchd'], 'vfab bare-bridge trace equals a live Open vSwitch', () => {
  for (const c of CASES) {
    it(`case ${c} (live)`, () => {
      const dir = join(ROOT, c);
      const opts = existsSync(join(dir, 'ofctl-opts')) ? [`--ofctl-opt=${read(c, 'ofctl-opts').trim()}`] : [];
      const out = execFileSync(
        'timeout',
        ['30', ORACLE, join(dir, 'bridge.spec'), join(dir, 'flows.txt'), join(dir, 'packets.txt'), '--stable', '--trace-out', '/dev/null', ...opts],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      const got = runVfab(read(c, 'bridge.spec'), read(c, 'flows.txt'), read(c, 'packets.txt'));
      expect(mismatches(parseExpected(out), got)).toEqual([]);
    }, 20_000);
  }
});
