/**
 * The cache hit path's shortcuts (bridge.ts `replayLearns`, `outFrame`): a hit refreshes the MAC
 * entries it holds without looking them up (MacTable.refresh) and reuses the input frame for an
 * output it once found unchanged. Both must leave exactly what the full path leaves: the same
 * frames on every port, the same MAC table in the same LRU order and ages (fdb/show), the same
 * evictions and the same flow counters, over long random sequences that cross whole seconds
 * (where a refresh must move an entry in the LRU lists), age entries out, overflow a small MAC
 * table, and mix rewriting, multi-output and plain NORMAL flows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Port, connect } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { buildUdp } from '../../src/wire/build.js';

const MACS = [0x0200_0000_0001, 0x0200_0000_0002, 0x0200_0000_0003, 0x0200_0000_0004, 0x0200_0000_0005, 0xffff_ffff_ffff];
const FLOWS = [
  'priority=50,udp,tp_dst=7,actions=mod_nw_src:10.9.9.9,NORMAL',
  'priority=50,udp,tp_dst=8,actions=output:3,mod_vlan_vid:5,output:4',
  'priority=50,udp,tp_dst=6,actions=mod_dl_dst:02:00:00:00:00:01,output:1,NORMAL',
  'priority=1,actions=NORMAL',
].join('\n');

interface FrameSpec {
  port: number;
  src: number;
  dst: number;
  dport: number;
}
type Op = ({ k: 'frame' } & FrameSpec) | { k: 'wait'; ns: number } | { k: 'flows' };

const specArb = fc.record({ port: fc.integer({ min: 0, max: 3 }), src: fc.integer({ min: 0, max: 4 }), dst: fc.integer({ min: 0, max: 5 }), dport: fc.constantFrom(5, 6, 7, 8) });
// Most frames come from a small pool, so keys recur and hit the cache (many times per second).
const POOL = 4;
type RawOp = Op | { k: 'pooled'; i: number };
const opArb: fc.Arbitrary<RawOp> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant('frame' as const), port: specArb.map((s) => s.port), src: fc.integer({ min: 0, max: 4 }), dst: fc.integer({ min: 0, max: 5 }), dport: fc.constantFrom(5, 6, 7, 8) }) },
  { weight: 14, arbitrary: fc.record({ k: fc.constant('pooled' as const), i: fc.integer({ min: 0, max: POOL - 1 }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('wait' as const), ns: fc.constantFrom(1_000, 300_000_000, 700_000_000, 1_000_000_000, 2_500_000_000) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'flows' as const }) },
);

function run(ops: Op[], cacheSize: number): string[] {
  const sim = new Simulation(1);
  const log: string[] = [];
  const br = new Bridge({ path: 'br0', sim, cacheSize, macAgingNs: 2_000_000_000, macTableSize: 3, flows: FLOWS, events: (e) => log.push(JSON.stringify(e)) });
  const hosts: Port[] = [];
  for (let i = 0; i < 4; i++) {
    const bp = br.addPort({ name: `p${i + 1}`, ofport: i + 1 });
    const h = new Port(`h${i + 1}`, (f) => log.push(`t=${sim.now} h${i + 1} <- ${Buffer.from(f).toString('hex')}`));
    connect(bp, h);
    hosts.push(h);
  }
  for (const op of ops) {
    if (op.k === 'frame') {
      const f = buildUdp({ srcMac: MACS[op.src]!, dstMac: MACS[op.dst]!, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 1, dstPort: op.dport, payloadLen: 4 });
      hosts[op.port]!.send(f, { hops: 0 });
      // The LRU order and ages after every frame, not only at the end.
      log.push(br.fdbShow());
    } else if (op.k === 'wait') {
      const t = sim.now + op.ns;
      sim.scheduleAt(t, () => undefined);
      sim.run({ untilNs: t });
    } else {
      br.loadFlows(FLOWS);
    }
  }
  log.push(br.dumpFlows(), `evictions ${br.mac.evictions}`);
  return log;
}

describe('exact-match cache hit path', () => {
  it('refreshes MAC entries and reuses unchanged frames exactly as translation does (property)', () => {
    fc.assert(
      fc.property(fc.array(specArb, { minLength: POOL, maxLength: POOL }), fc.array(opArb, { minLength: 20, maxLength: 120, size: 'max' }), (pool, raw) => {
        const ops: Op[] = raw.map((o) => (o.k === 'pooled' ? { k: 'frame', ...pool[o.i]! } : o));
        expect(run(ops, 8192)).toEqual(run(ops, 0));
      }),
      { numRuns: 300 },
    );
  });
});
