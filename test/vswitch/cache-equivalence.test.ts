/**
 * Item 9 of issue 11: the bridge's exact-match cache must never forward differently from a
 * classifier lookup. Random timed sequences (frames from random ports and MACs, VLAN tags of both
 * TPIDs, time jumps past MAC aging, MAC moves, flow adds and removals, no-flood changes, port
 * removal) run through two bridges, one with the cache and one with `cacheSize: 0`; every frame
 * each port receives, every event and the final MAC table and flow counters must be identical.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FabricEvent } from '../../src/port/nic.js';
import { Port, connect } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { buildUdp } from '../../src/wire/build.js';
import { pushVlan } from '../../src/wire/vlan.js';

const MACS = [0x0200_0000_0001, 0x0200_0000_0002, 0x0200_0000_0003, 0x0200_0000_0004, 0xffff_ffff_ffff];
const AGING_NS = 2_000_000_000;
const FLOWS = [
  'priority=50,in_port=1,udp,tp_dst=7,actions=output:3',
  'priority=40,dl_dst=02:00:00:00:00:02,actions=NORMAL',
  'priority=60,dl_vlan=10,actions=strip_vlan,NORMAL',
  'priority=30,udp,tp_dst=9,actions=drop',
  'priority=70,in_port=2,dl_src=02:00:00:00:00:03,actions=mod_vlan_vid:20,NORMAL',
];

interface FrameSpec {
  port: number;
  src: number;
  dst: number;
  dport: number;
  vlan: number;
  tpid: number;
}
type Op =
  | ({ k: 'frame' } & FrameSpec)
  | { k: 'wait'; ns: number }
  | { k: 'addFlow'; i: number }
  | { k: 'reset' }
  | { k: 'noFlood'; port: number; on: boolean }
  | { k: 'removePort'; port: number };

const frameArb = fc.record({ port: fc.integer({ min: 0, max: 3 }), src: fc.integer({ min: 0, max: 2 }), dst: fc.constantFrom(0, 1, 2, 4), dport: fc.constantFrom(5, 7, 9), vlan: fc.constantFrom(0, 0, 0, 10, 20), tpid: fc.constantFrom(0x8100, 0x8100, 0x88a8) });
// Frames come from a small pool, so the same key (or the same key with another TPID) recurs and
// hits the cache, as real traffic does.
const POOL = 5;
const opArb: fc.Arbitrary<Op | { k: 'pooled'; i: number; tpid: number }> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('frame' as const), port: fc.integer({ min: 0, max: 3 }), src: fc.integer({ min: 0, max: 3 }), dst: fc.integer({ min: 0, max: 4 }), dport: fc.constantFrom(5, 7, 9), vlan: fc.constantFrom(0, 0, 10, 20), tpid: fc.constantFrom(0x8100, 0x8100, 0x88a8) }) },
  { weight: 10, arbitrary: fc.record({ k: fc.constant('pooled' as const), i: fc.integer({ min: 0, max: POOL - 1 }), tpid: fc.constantFrom(0x8100, 0x8100, 0x88a8) }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('wait' as const), ns: fc.constantFrom(1_000, 1_500_000_000, 2_100_000_000, 2_100_000_000) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('addFlow' as const), i: fc.integer({ min: 0, max: FLOWS.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reset' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('noFlood' as const), port: fc.integer({ min: 0, max: 3 }), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('removePort' as const), port: fc.integer({ min: 1, max: 3 }) }) },
);

function resolve(pool: FrameSpec[], ops: (Op | { k: 'pooled'; i: number; tpid: number })[]): Op[] {
  return ops.map((o) => (o.k === 'pooled' ? { k: 'frame', ...pool[o.i % pool.length]!, tpid: o.tpid } : o));
}

function run(ops: Op[], cacheSize: number): string[] {
  const sim = new Simulation(1);
  const log: string[] = [];
  const br = new Bridge({ path: 'br0', sim, cacheSize, macAgingNs: AGING_NS, events: (e: FabricEvent) => log.push(`event ${JSON.stringify(e)}`) });
  const hosts: Port[] = [];
  for (let i = 0; i < 4; i++) {
    const bp = br.addPort({ name: `p${i + 1}`, ofport: i + 1, ...(i === 3 ? { tag: 10 } : {}) });
    const h = new Port(`h${i + 1}`, (f) => log.push(`t=${sim.now} h${i + 1} <- ${Buffer.from(f).toString('hex')}`));
    connect(bp, h);
    hosts.push(h);
  }
  const removed = new Set<number>();
  for (const op of ops) {
    switch (op.k) {
      case 'frame': {
        if (removed.has(op.port)) break;
        let f = buildUdp({ srcMac: MACS[op.src]!, dstMac: MACS[op.dst]!, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: op.dport, payloadLen: 4 });
        if (op.vlan !== 0) f = pushVlan(f, { vid: op.vlan, tpid: op.tpid });
        hosts[op.port]!.send(f, { hops: 0 });
        break;
      }
      case 'wait': {
        const t = sim.now + op.ns;
        sim.scheduleAt(t, () => undefined); // an idle queue does not move the clock
        sim.run({ untilNs: t });
        break;
      }
      case 'addFlow':
        br.addFlows(FLOWS[op.i]!);
        break;
      case 'reset':
        br.loadFlows(undefined);
        break;
      case 'noFlood':
        if (!removed.has(op.port)) br.setNoFlood(`p${op.port + 1}`, op.on);
        break;
      case 'removePort':
        if (!removed.has(op.port)) {
          br.removePort(`p${op.port + 1}`);
          removed.add(op.port);
        }
        break;
    }
  }
  log.push(br.fdbShow(), br.dumpFlows());
  return log;
}

describe('exact-match cache', () => {
  it('forwards exactly like a bridge without it, over random timed sequences (property)', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: POOL, maxLength: POOL }), fc.array(opArb, { minLength: 1, maxLength: 240, size: 'max' }), (pool, raw) => {
        const ops = resolve(pool, raw);
        expect(run(ops, 8192)).toEqual(run(ops, 0));
      }),
      { numRuns: 800 },
    );
  });

  it('stops unicasting to a port once the destination MAC has aged out (the bug issue 11 reports)', () => {
    const ops: Op[] = [
      { k: 'frame', port: 1, src: 1, dst: 4, dport: 5, vlan: 0, tpid: 0x8100 }, // learn MAC 2 on p2
      { k: 'frame', port: 0, src: 0, dst: 1, dport: 5, vlan: 0, tpid: 0x8100 }, // unicast to p2, cached
      { k: 'wait', ns: 2_100_000_000 }, // MAC 2 ages out
      { k: 'frame', port: 0, src: 0, dst: 1, dport: 5, vlan: 0, tpid: 0x8100 }, // must flood now
    ];
    const withCache = run(ops, 8192);
    expect(withCache).toEqual(run(ops, 0));
    const last = withCache.filter((l) => l.startsWith('t=2100000000'));
    expect(last.map((l) => l.split(' ')[1])).toEqual(['h2', 'h3']); // flooded (p4 is in VLAN 10)
  });
});
