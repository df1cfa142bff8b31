/**
 * A select group without a selection_method picks its bucket in OVS's datapath (dp_hash =
 * hash(sym_l4(0)), then a Webster-filled slot table), which `ofproto/trace` cannot show. This
 * case (test/fixtures/ovs-select, recorded by its record.sh from OVS 3.1) injects packets into a
 * real OVS datapath and records the datapath flows: each recirculated flow shows the full 32-bit
 * dp_hash of the packet that created it and the port its bucket outputs to. vfab must compute the
 * same hash for one of the packets and send that packet to the same port.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashFlowOf } from '../../src/vswitch/group.js';
import { hashSymmetricL3L4 } from '../../src/vswitch/ovs-hash.js';
import { parseTraceFlow } from '../../src/vswitch/flow-parser.js';
import { BridgeTracer } from '../../src/vswitch/trace.js';
import { describeWithTools } from '../helpers/tools.js';
import { parseSpec } from './ovs-oracle.js';

const DIR = join(import.meta.dirname, '../fixtures/ovs-select');
const read = (f: string, dir = DIR): string => readFileSync(join(dir, f), 'utf8');

/** The recirculated datapath flows: [in_port, full dp_hash, output port]. */
function ovsFlows(traceLog: string): [number, number, number][] {
  return [...traceLog.matchAll(/dp_hash\(0x([0-9a-f]+)\/0x[0-9a-f]+\),in_port\((\d+)\).*actions:(\d+)$/gm)].map((m) => [Number(m[2]), parseInt(m[1]!, 16), Number(m[3])]);
}

/** Checks every recorded flow against vfab; returns how many were checked. */
function check(dir = DIR): number {
  const spec = parseSpec(read('bridge.spec', dir));
  const tracer = new BridgeTracer({ flows: read('flows.txt', dir), ports: spec.ports, groups: spec.groups, protocols: 13 });
  const flows = [...read('packets.txt', dir).matchAll(/^# flow: (.*)$/gm)].map((m) => m[1]!);
  expect(flows.length).toBeGreaterThanOrEqual(30);
  const packets = flows.map((f) => {
    const { value } = parseTraceFlow(f);
    return { flow: f, inPort: value[0]!, hash: hashSymmetricL3L4(hashFlowOf(value, 0), 0) };
  });
  const recorded = ovsFlows(read('trace.log', dir));
  for (const [inPort, hash, port] of recorded) {
    const p = packets.find((x) => x.inPort === inPort && x.hash === hash);
    expect(p, `no vfab packet hashes to 0x${hash.toString(16)}`).toBeDefined();
    const r = tracer.trace(p!.flow, { mayLearn: false });
    expect(r.outputs.map((o) => o.ofport), p!.flow).toEqual([port]);
  }
  return recorded.length;
}

describe('default select groups pick the bucket Open vSwitch 3.1 picks (recorded)', () => {
  it('same dp_hash and same bucket for IPv4 TCP/UDP, IPv6 and non-IP packets, equal and unequal weights', () => {
    expect(read('OVS_VERSION')).toMatch(/Open vSwitch\) 3\.1/);
    const recorded = ovsFlows(read('trace.log'));
    // Meaningful only if OVS used several slots and all three output ports.
    expect(recorded.length).toBeGreaterThanOrEqual(16);
    expect(new Set(recorded.map((r) => r[2])).size).toBe(3);
    expect(check()).toBe(recorded.length);
  });
});

describeWithTools(['ovs-vswitchd'], 'default select groups pick the bucket a live Open vSwitch picks', () => {
  it('re-recorded now, same buckets', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'ovs-groups-select-'));
    try {
      cpSync(DIR, tmp, { recursive: true });
      execFileSync('timeout', ['60', join(tmp, 'record.sh')], { stdio: 'ignore', env: { ...process.env, OVS_ORACLE: join(import.meta.dirname, '../oracles/ovs/ovs-trace.sh') } });
      expect(check(tmp)).toBeGreaterThanOrEqual(16);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 30_000);
});
