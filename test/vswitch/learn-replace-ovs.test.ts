/**
 * `learn` onto a flow that already exists (same table, priority and match) against Open vSwitch
 * 3.1 (test/fixtures/ovs-learn-replace, recorded by its record.sh with the real OVS, virtual time
 * stopped and warped by `ovs-appctl time/stop|time/warp`): several learn actions write one match
 * with different learned actions (load of different immediates, load:X vs output:X, a learned
 * register), timeouts, cookie and send_flow_rem, and one replaces a flow add-flows added. After
 * every step both dump-flows outputs (OpenFlow 1.0 with ages, 1.3 with flags) must be equal:
 * actions, cookie, duration (creation time kept by a replace), idle_age (not moved by a refresh
 * or a replace), hard_age (moved by both), timeouts and flags (the old flow's, after a replace).
 * The recorded answers make this run without OVS; the live block re-runs OVS (in CI it must).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatFlowLine } from '../../src/vswitch/dump-flows.js';
import { BridgeTracer } from '../../src/vswitch/trace.js';
import { describeWithTools } from '../helpers/tools.js';
import { parseSpec } from './ovs-oracle.js';

const DIR = join(import.meta.dirname, '../fixtures/ovs-learn-replace');
const read = (f: string): string => readFileSync(join(DIR, f), 'utf8');

/** The flow flows.txt adds in table 1 (priority 5). */
const STATIC_DST = '00:00:00:00:00:cc';

type Dumps = { cmd: string; flows: string[] }[];

/**
 * A dump's flows in a comparable form: sorted (OVS lists one priority in hash order), and the
 * flow add-flows added before `time/stop` keeps only whole seconds of its duration (its
 * milliseconds are the oracle's setup time).
 */
function normal(flows: string[]): string[] {
  return flows.map((l) => (l.includes(`dl_dst=${STATIC_DST}`) ? l.replace(/duration=(\d+)\.\d+s/, 'duration=$1s') : l)).sort();
}

/** expected.txt (record.sh's format): `## ofctl ARGS` then the priority-5 flows of that dump. */
function parseDumps(text: string): Dumps {
  const out: Dumps = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('## ')) out.push({ cmd: line.slice(3), flows: [] });
    else if (line.startsWith('cookie=')) out[out.length - 1]!.flows.push(line);
  }
  return out.map((d) => ({ cmd: d.cmd, flows: normal(d.flows) }));
}

/** The same script through vfab: packets with side effects, time warps, dump-flows. */
function runVfab(): Dumps {
  const s = parseSpec(read('bridge.spec'));
  const t = new BridgeTracer({ flows: read('flows.txt'), ports: s.ports, bridge: s.bridge });
  const out: Dumps = [];
  for (const raw of read('packets.txt').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line === 'appctl time/stop') continue; // vfab's time only moves when told to
    const warp = /^appctl time\/warp (\d+)$/.exec(line);
    if (warp) {
      const at = t.sim.now + Number(warp[1]) * 1_000_000;
      t.sim.scheduleAt(at, () => {}); // the clock moves to the time asked for, as time/warp does
      t.sim.run({ untilNs: at });
      continue;
    }
    const dump = /^ofctl (?:-O OpenFlow(1\d) )?dump-flows br0 table=1$/.exec(line);
    if (dump) {
      const version = dump[1] ? (Number(dump[1]) as 13) : 10;
      const flows = t.bridge.flowTables
        .rules()
        .filter((r) => r.table === 1 && r.priority === 5)
        .map((r) => formatFlowLine(r, { nowNs: t.sim.now, added: 10, version }).trim());
      out.push({ cmd: line, flows: normal(flows) });
      continue;
    }
    const trace = /^trace (.*)$/.exec(line);
    t.trace(trace ? trace[1]! : line, { mayLearn: !trace });
  }
  return out;
}

describe('learn onto an existing flow: refresh or replace, as recorded from Open vSwitch', () => {
  it('every dump equals the recorded one', () => {
    const expected = parseDumps(read('expected.txt'));
    expect(read('expected.txt')).toMatch(/Open vSwitch\) 3\.1/);
    expect(expected.length).toBeGreaterThanOrEqual(15);
    // The fixture shows what it is meant to: a replace (new actions, old creation time), a
    // refresh (hard_age only), and a replace that kept the old timeouts.
    expect(expected.some((d) => d.flows.some((f) => f.includes('hard_age=2') && f.includes('load:0x2')))).toBe(true);
    expect(expected.every((d) => d.flows.every((f) => !f.includes('idle_timeout')))).toBe(true);
    expect(runVfab()).toEqual(expected);
  });
});

describeWithTools(['ovs-vswitchd', 'ovsdb-server', 'ovs-ofctl', 'python3'], 'learn onto an existing flow, against a live Open vSwitch', () => {
  it('re-records the case with OVS and compares with vfab', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'vfab-learn-replace-'));
    const log = join(tmp, 'trace.log');
    execFileSync('timeout', ['60', join(import.meta.dirname, '../oracles/ovs/ovs-trace.sh'), join(DIR, 'bridge.spec'), join(DIR, 'flows.txt'), join(DIR, 'packets.txt'), '--stable', '--trace-out', log], {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    let text = '';
    let on = false;
    for (const l of readFileSync(log, 'utf8').split('\n')) {
      if (/^={10}/.test(l)) on = false;
      else if (/^ofctl .*dump-flows/.test(l)) {
        on = true;
        text += `## ${l}\n`;
      } else if (on && /^ cookie=.*priority=5/.test(l)) text += `${l.trim()}\n`;
    }
    rmSync(tmp, { recursive: true, force: true });
    const live = parseDumps(text);
    expect(live).toEqual(parseDumps(read('expected.txt')));
    expect(runVfab()).toEqual(live);
  }, 90_000);
});
