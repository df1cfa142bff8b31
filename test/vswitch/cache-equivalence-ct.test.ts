/**
 * Item 9 of issue 11 for tracked traffic: a bridge whose pipeline runs `ct()` (recirculation
 * with `ct(table=N)`, `ct(commit)` with `exec(set_field:…->ct_mark)`, zones, ct_state and
 * ct_mark matches) must forward exactly as one with `cacheSize: 0`, while connections open,
 * progress, go invalid (out-of-window segments), expire in virtual time, while flows are added
 * and deleted mid-run, zone limits change and the tracker is flushed. Every frame each port
 * receives, every event, the final flow statistics and the connection table must be identical.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FabricEvent } from '../../src/port/nic.js';
import { Port, connect } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { buildTcp, buildUdp } from '../../src/wire/build.js';

// p1, p2 inside (zone 1 and 2, marked on commit), p3 outside; UDP to port 53 is committed
// without recirculation; outside traffic is let in only when established, or marked.
const FLOWS = [
  'table=0,priority=100,ip,in_port=1,ct_state=-trk,actions=ct(zone=1,table=1)',
  'table=0,priority=100,ip,in_port=2,ct_state=-trk,actions=ct(zone=2,table=1)',
  'table=0,priority=100,ip,in_port=3,ct_state=-trk,actions=ct(zone=1,table=2)',
  'table=0,priority=90,udp,tp_dst=53,actions=ct(commit,zone=3),output:3',
  'table=0,priority=0,actions=drop',
  'table=1,priority=20,ip,ct_state=+trk+new,actions=ct(commit,zone=1,exec(set_field:0x7->ct_mark)),output:3',
  'table=1,priority=20,ip,ct_state=+trk+est,actions=output:3',
  'table=1,priority=10,ip,ct_state=+trk+inv,actions=drop',
  'table=2,priority=30,ip,ct_state=+trk+est,ct_mark=0x7,actions=output:1,output:2',
  'table=2,priority=20,ip,ct_state=+trk+est,actions=output:1',
  'table=2,priority=10,ip,ct_state=+trk+new,actions=drop',
].join('\n');

const INSIDE = [0x0a01_0001, 0x0a01_0002];
const OUTSIDE = 0x0a02_0001;
const MAC = (p: number): number => 0x0200_0000_0000 + p;

type Op =
  | { k: 'tcp'; conn: number; fromOutside: boolean; flags: number; seq: number; ack: number; len: number }
  | { k: 'udp'; conn: number; fromOutside: boolean; dport: number }
  | { k: 'wait'; ns: number }
  | { k: 'addFlow'; conn: number }
  | { k: 'delFlow'; conn: number }
  | { k: 'zoneLimit'; zone: number; limit: number }
  | { k: 'flush' };

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      k: fc.constant('tcp' as const),
      conn: fc.integer({ min: 0, max: 3 }),
      fromOutside: fc.boolean(),
      flags: fc.constantFrom(SYN, SYN | ACK, ACK, ACK, ACK, FIN | ACK, RST),
      // Small offsets stay in the window; the large one is far outside it (+inv).
      seq: fc.constantFrom(0, 1, 1, 100, 50_000_000),
      ack: fc.constantFrom(0, 1, 101),
      len: fc.constantFrom(0, 0, 100),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('udp' as const), conn: fc.integer({ min: 0, max: 3 }), fromOutside: fc.boolean(), dport: fc.constantFrom(53, 54) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('wait' as const), ns: fc.constantFrom(1_000, 1_000_000_000, 31_000_000_000, 130_000_000_000) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('addFlow' as const), conn: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('delFlow' as const), conn: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('zoneLimit' as const), zone: fc.constantFrom(1, 2, 3), limit: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'flush' as const }) },
);

/** Connection c: inside host c % 2 (port 1 or 2), source port 40000 + c, to OUTSIDE:80. */
function tcpFrame(op: Extract<Op, { k: 'tcp' }>): { port: number; frame: Uint8Array } {
  const inPort = (op.conn % 2) + 1;
  const ip = INSIDE[op.conn % 2]!;
  const sport = 40000 + op.conn;
  const out = !op.fromOutside;
  const base = out ? 1000 : 5000;
  const frame = buildTcp({
    srcMac: MAC(out ? inPort : 3),
    dstMac: MAC(out ? 3 : inPort),
    srcIp: out ? ip : OUTSIDE,
    dstIp: out ? OUTSIDE : ip,
    srcPort: out ? sport : 80,
    dstPort: out ? 80 : sport,
    flags: op.flags,
    seq: base + op.seq,
    ack: op.flags & ACK ? (out ? 5000 : 1000) + op.ack : 0,
    window: 65535,
    payloadLen: op.len,
  });
  return { port: out ? inPort : 3, frame };
}

function run(ops: Op[], cacheSize: number): string[] {
  const sim = new Simulation(1);
  const log: string[] = [];
  const br = new Bridge({ path: 'br0', sim, cacheSize, flows: FLOWS, events: (e: FabricEvent) => log.push(`event ${JSON.stringify(e)}`) });
  const hosts: Port[] = [];
  for (let i = 0; i < 3; i++) {
    const bp = br.addPort({ name: `p${i + 1}`, ofport: i + 1 });
    const h = new Port(`h${i + 1}`, (f) => log.push(`t=${sim.now} h${i + 1} <- ${Buffer.from(f).toString('hex')}`));
    connect(bp, h);
    hosts.push(h);
  }
  for (const op of ops) {
    switch (op.k) {
      case 'tcp': {
        const { port, frame } = tcpFrame(op);
        hosts[port - 1]!.send(frame, { hops: 0 });
        break;
      }
      case 'udp': {
        const inPort = (op.conn % 2) + 1;
        const out = !op.fromOutside;
        const f = buildUdp({
          srcMac: MAC(out ? inPort : 3),
          dstMac: MAC(out ? 3 : inPort),
          srcIp: out ? INSIDE[op.conn % 2]! : OUTSIDE,
          dstIp: out ? OUTSIDE : INSIDE[op.conn % 2]!,
          srcPort: out ? 30000 + op.conn : op.dport,
          dstPort: out ? op.dport : 30000 + op.conn,
          payloadLen: 8,
        });
        hosts[out ? inPort - 1 : 2]!.send(f, { hops: 0 });
        break;
      }
      case 'wait': {
        const t = sim.now + op.ns;
        sim.scheduleAt(t, () => undefined);
        sim.run({ untilNs: t });
        break;
      }
      case 'addFlow':
        // A higher-priority rule in the recirculated table: this connection's tracked packets go to p3 only once.
        br.flowMod('add', `table=1,priority=40,tcp,tp_src=${40000 + op.conn},ct_state=+trk,actions=ct(commit,zone=1),output:3`);
        break;
      case 'delFlow':
        br.flowMod('delete', `table=1,tcp,tp_src=${40000 + op.conn}`);
        break;
      case 'zoneLimit':
        br.conntrack.zoneLimits.set(op.zone, op.limit);
        break;
      case 'flush':
        br.conntrack.flush();
        break;
    }
  }
  log.push(br.dumpFlows(), ...br.conntrack.dump(sim.now));
  return log;
}

describe('exact-match cache with connection tracking', () => {
  it('forwards tracked traffic exactly like a bridge without it (property)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 240, size: 'max' }), (ops) => {
        expect(run(ops, 8192)).toEqual(run(ops, 0));
      }),
      { numRuns: 200 },
    );
  });

  it('the handshake, established traffic both ways and an out-of-window segment, cached or not', () => {
    const ops: Op[] = [
      { k: 'tcp', conn: 0, fromOutside: false, flags: SYN, seq: 0, ack: 0, len: 0 },
      { k: 'tcp', conn: 0, fromOutside: true, flags: SYN | ACK, seq: 0, ack: 1, len: 0 },
      { k: 'tcp', conn: 0, fromOutside: false, flags: ACK, seq: 1, ack: 1, len: 0 },
      { k: 'tcp', conn: 0, fromOutside: false, flags: ACK, seq: 1, ack: 1, len: 0 },
      { k: 'tcp', conn: 0, fromOutside: true, flags: ACK, seq: 1, ack: 1, len: 0 },
      { k: 'tcp', conn: 0, fromOutside: true, flags: ACK, seq: 1, ack: 1, len: 0 },
      { k: 'tcp', conn: 0, fromOutside: true, flags: ACK, seq: 50_000_000, ack: 1, len: 100 },
    ];
    const got = run(ops, 8192);
    expect(got).toEqual(run(ops, 0));
    // SYN out, SYN-ACK in (est, marked: to p1 and p2), ACK out twice, ACK in twice (to p1 and p2 each); the out-of-window segment is dropped.
    expect(got.filter((l) => l.startsWith('t=')).map((l) => l.split(' ')[1])).toEqual(['h3', 'h1', 'h2', 'h3', 'h3', 'h1', 'h2', 'h1', 'h2']);
  });
});
