/**
 * Connection tracking against Open vSwitch 3.1's `ofproto/trace --ct-next` (test/fixtures/
 * ovs-conntrack, recorded by its record.sh): the OVS conntrack tutorial's flows unchanged, a
 * stateful firewall, and SNAT with zones and marks. For every packet, each pass (the first, then
 * one per `ct(table=N)` recirculation) must have the same ct_state and the same output ports as
 * in OVS. The recorded trace.log makes this run without OVS; the live block re-records it.
 * With `ovs: true` the whole ofproto/trace text (every pass, the recirc banners, megaflows and
 * datapath ct()/recirc() actions) must equal OVS's, byte for byte.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BridgeTracer } from '../../src/vswitch/trace.js';
import { parseCtFlags } from '../../src/vswitch/xlate-ct.js';
import { parseProtocols } from '../../src/vswitch/flow-syntax.js';
import { describeWithTools } from '../helpers/tools.js';
import { parseSpec } from './ovs-oracle.js';

const ROOT = join(import.meta.dirname, '../fixtures/ovs-conntrack');
const casesIn = (root: string): string[] => readdirSync(root).filter((d) => existsSync(join(root, d, 'packets.txt'))).sort();

interface Pass {
  ctState: string;
  ports: string;
}

const sortFlags = (s: string): string => s.split('|').filter((x) => x).sort().join('|');

/** Datapath actions → sorted output ports (odp 100 is the bridge's LOCAL port). */
function ports(actions: string): string {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of `${actions},`) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      if (/^\d+$/.test(cur.trim())) out.push(cur.trim() === '100' ? 'LOCAL' : cur.trim());
      cur = '';
    } else cur += ch;
  }
  return out.sort().join(' ') || 'drop';
}

/** trace.log → per trace: the flow, and each pass's ct_state and outputs. */
function parseLog(log: string): { flow: string; passes: Pass[] }[] {
  const out: { flow: string; passes: Pass[] }[] = [];
  for (const block of log.split(/^=+\nappctl ofproto\/trace br0 /m).slice(1)) {
    const flow = block.slice(0, block.indexOf('\n')).replace(/ --ct-next \S+/g, '');
    const passes: Pass[] = [];
    let ct = '';
    for (const line of block.split('\n')) {
      const r = /^recirc\(0x[0-9a-f]+\) - resume conntrack with (?:default )?ct_state=(\S+)/.exec(line);
      if (r) ct = sortFlags(r[1]!);
      const d = /^Datapath actions: (.*)$/.exec(line);
      if (d) passes.push({ ctState: ct, ports: ports(d[1]!) });
    }
    out.push({ flow, passes });
  }
  return out;
}

/** A case's tracer: its bridge, flows and `protocols` (the -O the recording used; default OpenFlow 1.0). */
function tracerFor(dir: string): BridgeTracer {
  const spec = parseSpec(readFileSync(join(dir, 'bridge.spec'), 'utf8'));
  const proto = existsSync(join(dir, 'protocols')) ? parseProtocols(readFileSync(join(dir, 'protocols'), 'utf8').trim()) : null;
  return new BridgeTracer({ flows: readFileSync(join(dir, 'flows.txt'), 'utf8'), ports: spec.ports, ...(proto !== null ? { protocols: proto } : {}) });
}

function vfabPasses(dir: string): { flow: string; passes: Pass[] }[] {
  const tracer = tracerFor(dir);
  const out: { flow: string; passes: Pass[] }[] = [];
  for (const raw of readFileSync(join(dir, 'packets.txt'), 'utf8').split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const [flow, ...cts] = line.split(/ ct=/);
    const ctNext = cts.map((c) => parseCtFlags(c) as number);
    const r = tracer.trace(flow!, { mayLearn: false, ctNext });
    const passes = r.passes ?? [{ outputs: r.outputs, ct_state: '' }];
    out.push({
      flow: flow!,
      passes: passes.map((p) => ({ ctState: sortFlags(p.ct_state), ports: p.outputs.map((o) => String(o.ofport)).sort().join(' ') || 'drop' })),
    });
  }
  return out;
}

/** Each packet's ofproto/trace text from vfab and from the recording (one tracer, as one OVS ran them all). */
function ovsTexts(dir: string): { flow: string; want: string; got: string }[] {
  const tracer = tracerFor(dir);
  const want = readFileSync(join(dir, 'trace.log'), 'utf8').split(/^=+\nappctl ofproto\/trace br0 .*\n/m).slice(1);
  const out: { flow: string; want: string; got: string }[] = [];
  for (const raw of readFileSync(join(dir, 'packets.txt'), 'utf8').split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const [flow, ...cts] = line.split(/ ct=/);
    const r = tracer.trace(flow!, { mayLearn: false, ovs: true, ctNext: cts.map((c) => parseCtFlags(c) as number) });
    out.push({ flow: flow!, want: want[out.length]!.replace(/\n+$/, '\n'), got: r.ovs!.text });
  }
  return out;
}

function compare(dir: string): number {
  const ovs = parseLog(readFileSync(join(dir, 'trace.log'), 'utf8'));
  const vfab = vfabPasses(dir);
  expect(vfab.map((v) => v.flow)).toEqual(ovs.map((o) => o.flow));
  for (let i = 0; i < ovs.length; i++) expect(vfab[i], ovs[i]!.flow).toEqual(ovs[i]);
  return ovs.length;
}

describe('ct() recirculation traces like Open vSwitch 3.1 ofproto/trace --ct-next (recorded)', () => {
  it('the recording is OVS 3.1 and covers the tutorial, a firewall, NAT with zones and the action set', () => {
    expect(readFileSync(join(ROOT, 'OVS_VERSION'), 'utf8')).toMatch(/Open vSwitch\) 3\.1/);
    expect(casesIn(ROOT)).toEqual(['actset-recirc', 'ct-tuple', 'firewall', 'nat-zones', 'tutorial']);
    const all = casesIn(ROOT).flatMap((c) => parseLog(readFileSync(join(ROOT, c, 'trace.log'), 'utf8')));
    expect(all.length).toBeGreaterThanOrEqual(25);
    // Meaningful only if most traces recirculated and some passes output and some dropped.
    expect(all.filter((t) => t.passes.length === 2).length).toBeGreaterThanOrEqual(20);
    expect(all.some((t) => t.passes.at(-1)!.ports === 'drop')).toBe(true);
  });
  for (const c of casesIn(ROOT)) {
    it(`case ${c}: same passes, ct_state and outputs`, () => {
      expect(compare(join(ROOT, c))).toBeGreaterThan(4);
    });
    it(`case ${c}: the same ofproto/trace text, recirculations included`, () => {
      const t = ovsTexts(join(ROOT, c));
      expect(t.length).toBeGreaterThan(4);
      expect(t.filter((x) => x.want.includes('\nrecirc(0x')).length).toBeGreaterThan(2);
      for (const x of t) expect(x.got, x.flow).toBe(x.want);
    });
  }
});

describe('ct(table=N) with a non-empty OpenFlow 1.1+ action set (OVS 3.1 aborts: recorded)', () => {
  const dir = join(ROOT, 'actset-recirc');
  it('OVS 3.1 aborted on the frozen action set; vfab fails the translation and drops the packet', () => {
    const rec = readFileSync(join(dir, 'abort.txt'), 'utf8');
    expect(rec).toMatch(/Open vSwitch\) 3\.1/);
    expect(rec).toContain('assertion state->action_set_len <= state->ofpacts_len failed in recirc_alloc_id__()');
    const flow = /^appctl ofproto\/trace br0 (.*)$/m.exec(rec)![1]!;
    const spec = parseSpec(readFileSync(join(dir, 'bridge.spec'), 'utf8'));
    const tracer = new BridgeTracer({ flows: readFileSync(join(dir, 'abort-flows.txt'), 'utf8'), ports: spec.ports, protocols: 13 });
    const r = tracer.trace(flow, { mayLearn: false, ovs: true, ctNext: [] });
    expect(r.outputs).toEqual([]);
    expect(r.drop).toBe('recirc-action-set');
    expect(r.passes).toBeUndefined();
    expect(r.ovs!.text).toContain('>>>> ct(table=N) with a non-empty action set: Open vSwitch 3.1 aborts here');
    expect(r.ovs!.text).toMatch(/^Datapath actions: drop$/m);
    // Without the write_actions the same pipeline recirculates and outputs (the set is the cause).
    const ok = new BridgeTracer({ flows: readFileSync(join(dir, 'abort-flows.txt'), 'utf8').replace('write_actions(output:3),', ''), ports: spec.ports, protocols: 13 });
    expect(ok.trace(flow, { mayLearn: false, ctNext: [] }).outputs.map((o) => o.ofport)).toEqual([2]);
  });
});

/**
 * A live OVS floods to a bridge's ports in an order that changes from run to run (its datapath
 * port numbers come from a hash map), so a flood's `Datapath actions:` list of plain port numbers
 * is compared as a set; everything else stays exact.
 */
function floodOrderFree(text: string): string {
  return text.replace(/^(\s*Datapath actions: )([0-9]+(?:,[0-9]+)+)$/gm, (_m, head: string, list: string) => head + list.split(',').sort().join(','));
}

describeWithTools(['ovs-vswitchd'], 'ct() recirculation traces like a live Open vSwitch', () => {
  it('re-recorded now, same passes and the same ofproto/trace text', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'ovs-conntrack-'));
    try {
      cpSync(ROOT, tmp, { recursive: true });
      // awaited, not spawnSync: a minute of blocking would cut the worker off vitest's RPC
      await promisify(execFile)('timeout', ['60', join(tmp, 'record.sh')], { env: { ...process.env, OVS_ORACLE: join(import.meta.dirname, '../oracles/ovs/ovs-trace.sh') } });
      for (const c of casesIn(tmp)) expect(compare(join(tmp, c))).toBeGreaterThan(4);
      for (const c of casesIn(tmp)) for (const x of ovsTexts(join(tmp, c))) expect(floodOrderFree(x.got), x.flow).toBe(floodOrderFree(x.want));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});
