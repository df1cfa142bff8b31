/**
 * The OpenFlow 1.1+ action set against Open vSwitch 3.1 (test/fixtures/ovs-actset, recorded by
 * its record.sh): `write_actions` accumulating over `goto_table`/`resubmit`, `clear_actions`,
 * `write_metadata` matched by a later table, `actset_output` matches, the execution order at the
 * end of the pipeline (pop_vlan, push_vlan, dec_ttl, sets, then the one final action), a group
 * in the set beating an output, `clone` running its own copy of the set, `exit` leaving the set
 * unexecuted; and, over OpenFlow 1.0, the instructions OVS silently loses. For every packet the
 * whole ofproto/trace text must equal OVS's, and vfab's dump-flows the switch's.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BridgeTracer } from '../../src/vswitch/trace.js';
import { parseFlows } from '../../src/vswitch/flow-parser.js';
import { formatOfpacts } from '../../src/vswitch/ofpact-format.js';
import { actionSetExecutionOrder } from '../../src/vswitch/action-set.js';
import type { Action } from '../../src/vswitch/actions.js';
import type { OfVersion } from '../../src/vswitch/flow-syntax.js';
import { UserError } from '../../src/errors.js';
import { describeWithTools } from '../helpers/tools.js';
import { parseSpec } from './ovs-oracle.js';

const ROOT = join(import.meta.dirname, '../fixtures/ovs-actset');
const CASES = ['pipeline', 'of10', 'learn-result'];

function protocolsOf(dir: string): OfVersion {
  const f = join(dir, 'protocols');
  return existsSync(f) ? (Number(readFileSync(f, 'utf8').trim().replace('OpenFlow', '')) as OfVersion) : 10;
}

function tracerFor(dir: string): BridgeTracer {
  const spec = parseSpec(readFileSync(join(dir, 'bridge.spec'), 'utf8'));
  return new BridgeTracer({ flows: readFileSync(join(dir, 'flows.txt'), 'utf8'), ports: spec.ports, groups: spec.groups, protocols: protocolsOf(dir) });
}

function run(dir: string): { tracer: BridgeTracer; texts: { flow: string; want: string; got: string }[] } {
  const tracer = tracerFor(dir);
  const want = readFileSync(join(dir, 'trace.log'), 'utf8').split(/^=+\nappctl ofproto\/trace br0 .*\n/m).slice(1);
  const out: { flow: string; want: string; got: string }[] = [];
  for (const raw of readFileSync(join(dir, 'packets.txt'), 'utf8').split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    // `-generate`: ofproto/trace with side effects (learning), as a packet through the bridge.
    const generate = line.endsWith(' -generate');
    const flow = generate ? line.slice(0, -' -generate'.length) : line;
    const r = tracer.trace(flow, { mayLearn: generate, ovs: true });
    out.push({ flow: line, want: (want[out.length] ?? '').replace(/\n+$/, '\n'), got: r.ovs!.text });
  }
  return { tracer, texts: out };
}
const texts = (dir: string): { flow: string; want: string; got: string }[] => run(dir).texts;

/** dump-flows without the statistics after the packets ran (the oracle's `flows` lines), sorted. */
function dumpOf(dir: string): string[] {
  const { tracer } = run(dir);
  return tracer.bridge
    .dumpFlows({ version: protocolsOf(dir), noStats: true })
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('OFPST_FLOW') && !l.startsWith('NXST_FLOW'))
    .map((l) => l.trim())
    .sort();
}
const recordedDump = (dir: string): string[] => readFileSync(join(dir, 'dump.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '').sort();

describe('the action set traces like Open vSwitch 3.1 (recorded)', () => {
  it('the recording is OVS 3.1 and exercises the action set', () => {
    expect(readFileSync(join(ROOT, 'OVS_VERSION'), 'utf8')).toMatch(/Open vSwitch\) 3\.1/);
    const log = readFileSync(join(ROOT, 'pipeline/trace.log'), 'utf8');
    expect(log.match(/^appctl ofproto\/trace/gm)!.length).toBe(10);
    expect(log.match(/^--\. Executing action set:$/gm)!.length).toBeGreaterThanOrEqual(8);
    expect(log).toMatch(/-> action set was: output:2/);
    expect(log).toMatch(/1\. actset_output=2, priority 10/);
  });
  for (const c of CASES) {
    it(`${c}: every packet gives the same ofproto/trace text`, () => {
      const t = texts(join(ROOT, c));
      expect(t.length).toBeGreaterThanOrEqual(3);
      for (const x of t) expect(x.got, x.flow).toBe(x.want);
    });
    it(`${c}: dump-flows prints what the switch printed`, () => {
      expect(dumpOf(join(ROOT, c))).toEqual(recordedDump(join(ROOT, c)));
    });
  }
});

describe('action set: OVS parser verdicts (ovs-ofctl 3.1, checked by hand with parse-flows / add-flows)', () => {
  const v = (flows: string, protocols: OfVersion): string => {
    try {
      parseFlows(flows, { protocols });
      return 'accept';
    } catch (e) {
      if (e instanceof UserError) return e.message;
      throw e;
    }
  };
  it('refuses instructions out of order, duplicated, or nested, in OVS words', () => {
    expect(v('actions=write_actions(output:2),output:1', 13)).toMatch(/invalid instruction ordering: apply_actions must appear before write_actions, for OpenFlow 1\.1\+ compatibility/);
    expect(v('actions=write_actions(output:2),clear_actions', 13)).toMatch(/clear_actions must appear before write_actions/);
    expect(v('actions=write_metadata:0x5,write_actions(output:1)', 13)).toMatch(/write_actions must appear before write_metadata/);
    expect(v('actions=write_actions(output:4),write_actions(output:3)', 13)).toMatch(/duplicate write_actions instruction not allowed, for OpenFlow 1\.1\+ compatibility/);
    expect(v('actions=clone(write_actions(output:1)),output:3', 13)).toMatch(/write_actions instruction not allowed here/);
    expect(v('actions=write_actions(set_field:10.0.0.1->ip_src,output:3)', 13)).toMatch(/OFPBAC_MATCH_INCONSISTENT/);
    expect(v('actions=write_actions(note:01,output:1)', 13)).toMatch(/disallowed action in action set/);
    // Over OpenFlow 1.0 the switch gets write_metadata as an action and goto_table as a resubmit after it.
    expect(v('actions=write_metadata:0x5,goto_table:1', 10)).toMatch(/NXBRC_UNENCODABLE_ERROR/);
    expect(v('actions=write_metadata:0x5/0xff,goto_table:1', 13)).toBe('accept');
    expect(v('actions=clear_actions,write_actions(output:2),write_metadata:0/0,goto_table:1', 13)).toBe('accept');
    // push_vlan inside write_actions still needs OpenFlow 1.1+ (a parse-time limit).
    expect(v('actions=write_actions(push_vlan:0x8100,output:1)', 10)).toMatch(/none of the usable flow formats \(OXM,OpenFlow11\)/);
  });
});

describe('action set: execution order (ofpacts_execute_action_set)', () => {
  const out = (port: number): Action => ({ type: 'output', port });
  const arb: fc.Arbitrary<Action> = fc.oneof(
    fc.integer({ min: 1, max: 4 }).map(out),
    fc.integer({ min: 1, max: 3 }).map((id): Action => ({ type: 'group', id })),
    fc.constant<Action>({ type: 'strip_vlan', text: 'pop_vlan' }),
    fc.constant<Action>({ type: 'push_vlan', tpid: 0x8100 }),
    fc.constant<Action>({ type: 'dec_ttl' }),
    fc.integer({ min: 0, max: 7 }).map((pcp): Action => ({ type: 'set_vlan_pcp', pcp, push: false, text: `set_field:${pcp}->vlan_pcp` })),
    fc.constant<Action>({ type: 'resubmit', port: null, table: 3 }),
  );
  it('slots once each in spec order, sets in written order, then one final action (group over output)', () => {
    fc.assert(
      fc.property(fc.array(arb, { maxLength: 12 }), (set) => {
        const list = actionSetExecutionOrder(set);
        const finals = set.filter((a) => a.type === 'output' || a.type === 'group' || a.type === 'resubmit');
        if (finals.length === 0) {
          expect(list).toEqual([]);
          return;
        }
        const last = list[list.length - 1]!;
        const cls = (a: Action): number => ({ resubmit: 1, output: 2, group: 3 } as Record<string, number>)[a.type] ?? 0;
        const best = Math.max(...finals.map(cls));
        expect(last).toBe(finals.filter((a) => cls(a) === best).pop());
        const order = list.slice(0, -1).map((a) => a.type);
        const rank = (t: string): number => ['strip_vlan', 'push_vlan', 'dec_ttl', 'set_vlan_pcp'].indexOf(t);
        for (let i = 1; i < order.length; i++) expect(rank(order[i]!)).toBeGreaterThanOrEqual(rank(order[i - 1]!));
        for (const slot of ['strip_vlan', 'push_vlan', 'dec_ttl']) expect(order.filter((t) => t === slot).length).toBe(set.some((a) => a.type === slot) ? 1 : 0);
        expect(list.filter((a) => a.type === 'set_vlan_pcp')).toEqual(set.filter((a) => a.type === 'set_vlan_pcp'));
      }),
      { numRuns: 300 },
    );
  });
});

describe('action set: parse -> dump-flows -> parse keeps the flow (property)', () => {
  const inner = fc.array(
    fc.oneof(
      fc.integer({ min: 1, max: 4 }).map((p) => `output:${p}`),
      fc.constantFrom('dec_ttl', 'pop_vlan', 'push_vlan:0x8100', 'group:1', 'set_field:0x3->reg1', 'mod_nw_src:1.2.3.4', 'resubmit(,2)', 'set_queue:3'),
    ),
    { minLength: 1, maxLength: 5 },
  );
  const flow = fc.record({
    apply: fc.option(fc.constantFrom('output:1', 'set_field:0x1->reg0', 'dec_ttl')),
    clear: fc.boolean(),
    write: fc.option(inner),
    md: fc.option(fc.tuple(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.option(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })))),
    goto: fc.boolean(),
  });
  it('holds for random instruction lists over OpenFlow 1.3', () => {
    fc.assert(
      fc.property(flow, (f) => {
        const parts: string[] = [];
        if (f.apply) parts.push(f.apply);
        if (f.clear) parts.push('clear_actions');
        if (f.write) parts.push(`write_actions(${f.write.join(',')})`);
        if (f.md) parts.push(`write_metadata:0x${f.md[0].toString(16)}${f.md[1] === null ? '' : `/0x${f.md[1].toString(16)}`}`);
        if (f.goto) parts.push('goto_table:1');
        const text = `ip,actions=${parts.join(',') || 'drop'}`;
        const a = parseFlows(text, { protocols: 13 })[0]!;
        const dumped = formatOfpacts(a.actions, { added: 13, version: 13 });
        const b = parseFlows(`ip,actions=${dumped}`, { protocols: 13 })[0]!;
        expect(formatOfpacts(b.actions, { added: 13, version: 13 })).toBe(dumped);
        // Same actions, apart from how they were spelled (`text`) and which syntax wrote them (`of10`).
        const norm = (x: readonly Action[]): string => JSON.stringify(x, (k, y: unknown) => (k === 'text' || k === 'of10' ? undefined : typeof y === 'bigint' ? y.toString() : y));
        expect(norm(b.actions)).toBe(norm(a.actions));
      }),
      { numRuns: 200 },
    );
  });
});

const execFileP = promisify(execFile);

describeWithTools(['ovs-vswitchd', 'ovs-ofctl'], 'the action set against a live Open vSwitch', () => {
  it('re-recorded now, the same traces and dumps', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'ovs-actset-live-'));
    try {
      cpSync(ROOT, tmp, { recursive: true });
      await execFileP('bash', [join(tmp, 'record.sh')], { timeout: 120_000 });
      for (const c of CASES) {
        for (const x of texts(join(tmp, c))) expect(x.got, x.flow).toBe(x.want);
        expect(dumpOf(join(tmp, c))).toEqual(recordedDump(join(tmp, c)));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 180_000);
});
