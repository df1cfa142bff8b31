/**
 * Item 9 of issue 11, for what the exact-match cache must also revalidate on beyond MAC
 * learning: `learn`ed flows (added, refreshed, expiring by hard timeout), flows expiring by idle
 * timeout, fast-failover group liveness following port links (a link down/up changes no table),
 * and meters (token buckets in virtual time, applied per packet after a cached translation).
 * Random timed sequences run through a bridge with the cache and one with `cacheSize: 0`; every
 * frame each port receives, every event (flow_removed included) and the final tables, group and
 * meter statistics must be identical.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FabricEvent } from '../../src/port/nic.js';
import { Port, connect } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { buildUdp } from '../../src/wire/build.js';

const MACS = [0x0200_0000_0001, 0x0200_0000_0002, 0x0200_0000_0003, 0x0200_0000_0004, 0xffff_ffff_ffff];
const FLOWS = [
  'priority=80,in_port=1,udp,tp_dst=7,actions=group:1',
  'priority=70,udp,tp_dst=9,actions=meter:1,output:4',
  'priority=60,idle_timeout=2,in_port=2,actions=learn(table=1,hard_timeout=3,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),resubmit(,1)',
  'priority=50,in_port=3,actions=learn(table=1,idle_timeout=1,priority=5,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),resubmit(,1)',
  'priority=0,actions=resubmit(,1)',
  'table=1,priority=0,actions=NORMAL',
].join('\n');
const GROUPS = 'group_id=1,type=fast_failover,bucket=watch_port:2,output:2,bucket=watch_port:3,output:3,bucket=watch_port:4,output:4';
const METERS = 'meter=1,pktps,burst,bands=type=drop,rate=2,burst_size=2';

type Op =
  | { k: 'frame'; port: number; src: number; dst: number; dport: number }
  | { k: 'wait'; ns: number }
  | { k: 'link'; port: number; up: boolean }
  | { k: 'del'; mac: number };

const frame = fc.record({ k: fc.constant('frame' as const), port: fc.integer({ min: 0, max: 3 }), src: fc.integer({ min: 0, max: 3 }), dst: fc.integer({ min: 0, max: 4 }), dport: fc.constantFrom(5, 7, 9) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: frame },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('wait' as const), ns: fc.constantFrom(1_000, 300_000_000, 1_100_000_000, 2_100_000_000) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('link' as const), port: fc.integer({ min: 1, max: 3 }), up: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('del' as const), mac: fc.integer({ min: 0, max: 3 }) }) },
);

function run(ops: Op[], cacheSize: number): string[] {
  const sim = new Simulation(1);
  const log: string[] = [];
  const br = new Bridge({ path: 'br0', sim, cacheSize, flows: '', protocols: 13, macAgingNs: 2_000_000_000, events: (e: FabricEvent) => log.push(`event ${JSON.stringify(e)}`) });
  const hosts: Port[] = [];
  for (let i = 0; i < 4; i++) {
    const bp = br.addPort({ name: `p${i + 1}`, ofport: i + 1 });
    const h = new Port(`h${i + 1}`, (f) => log.push(`t=${sim.now} h${i + 1} <- ${Buffer.from(f).toString('hex')}`));
    connect(bp, h);
    hosts.push(h);
  }
  br.loadMeters(METERS);
  br.loadGroups(GROUPS);
  br.loadFlows(FLOWS);
  for (const op of ops) {
    switch (op.k) {
      case 'frame':
        hosts[op.port]!.send(buildUdp({ srcMac: MACS[op.src]!, dstMac: MACS[op.dst]!, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: op.dport, payloadLen: 4 }), { hops: 0 });
        break;
      case 'wait': {
        const t = sim.now + op.ns;
        sim.scheduleAt(t, () => undefined);
        sim.run({ untilNs: t });
        break;
      }
      case 'link':
        br.portByName(`p${op.port + 1}`)!.up = op.up;
        break;
      case 'del':
        br.flowMod('delete', `table=1,dl_dst=02:00:00:00:00:0${op.mac + 1}`);
        break;
    }
  }
  log.push(br.fdbShow(), br.dumpFlows(), br.dumpGroupStats(), br.dumpMeterStats());
  return log;
}

describe('exact-match cache with learn, timeouts, group liveness and meters', () => {
  it('forwards exactly like a bridge without it (property)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 240, size: 'max' }), (ops) => {
        expect(run(ops, 8192)).toEqual(run(ops, 0));
      }),
      { numRuns: 300 },
    );
  });

  it('a link going down moves fast-failover traffic at once, cached or not', () => {
    const ops: Op[] = [
      { k: 'frame', port: 0, src: 0, dst: 1, dport: 7 },
      { k: 'link', port: 1, up: false },
      { k: 'frame', port: 0, src: 0, dst: 1, dport: 7 },
    ];
    const got = run(ops, 8192);
    expect(got).toEqual(run(ops, 0));
    expect(got.filter((l) => l.startsWith('t=')).map((l) => l.split(' ')[1])).toEqual(['h2', 'h3']);
  });
});
