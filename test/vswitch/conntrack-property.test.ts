/**
 * Property tests of connection tracking:
 * - cache on == cache off: random timed TCP/UDP/ICMP sequences through a bridge running a
 *   stateful firewall with SNAT, zones and marks, once with the exact-match cache and once with
 *   `cacheSize: 0`: identical outputs (ports and rewritten headers) and identical tables;
 * - random packets (any flags, ports, time jumps, zones, commits, NAT) never throw, and the table
 *   never exceeds its limit or a zone's limit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { Conntrack } from '../../src/vswitch/conntrack.js';
import { parseNat } from '../../src/vswitch/ct-action.js';
import { KEY_WORDS, W_NW_DST, W_NW_SRC, W_TP_DST, W_TP_SRC, keyWordsFromFlowKey, keyWordsFromFrame } from '../../src/vswitch/fields.js';
import { buildIcmpEcho, buildTcp, buildUdp } from '../../src/wire/build.js';
import { extractFlowKey } from '../../src/wire/extract.js';
import { emptyFlowKey } from '../../src/wire/flow-key.js';

const FLOWS = `table=0,priority=100,ip,in_port=1,ct_state=-trk,actions=ct(zone=1,table=1)
table=0,priority=100,ip,in_port=2,ct_state=-trk,actions=ct(zone=1,nat,table=2)
table=0,priority=10,arp,actions=NORMAL
table=1,priority=20,ip,ct_state=+trk+new,actions=ct(commit,zone=1,nat(src=192.0.2.1:2000-2003),exec(set_field:0x5->ct_mark)),2
table=1,priority=20,ip,ct_state=+trk+est,actions=ct(zone=1,nat),2
table=1,priority=5,actions=drop
table=2,priority=20,ip,ct_state=+trk+est+rpl,ct_mark=0x5,actions=1
table=2,priority=20,ip,ct_state=+trk+rel,actions=1
table=2,priority=5,actions=drop
table=0,priority=50,udp,udp_dst=9,actions=2`;

const INSIDE = [0x0a010002, 0x0a010003];
const OUTSIDE = [0x0a020002, 0xc0000201];

interface Pkt {
  port: 1 | 2;
  proto: 'tcp' | 'udp' | 'icmp';
  src: number;
  dst: number;
  sport: number;
  dport: number;
  flags: number;
  seq: number;
  ack: number;
  len: number;
}

const pktArb: fc.Arbitrary<Pkt> = fc.record({
  port: fc.constantFrom(1 as const, 2 as const),
  proto: fc.constantFrom('tcp' as const, 'udp' as const, 'icmp' as const),
  src: fc.integer({ min: 0, max: 1 }),
  dst: fc.integer({ min: 0, max: 1 }),
  sport: fc.constantFrom(80, 2000, 2001, 2002, 2003, 40000),
  dport: fc.constantFrom(80, 2000, 2001, 9, 40000),
  flags: fc.constantFrom(0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x03, 0x00),
  seq: fc.constantFrom(0, 1, 100, 101, 1000, 0x7fffffff),
  ack: fc.constantFrom(0, 1, 101, 1001),
  len: fc.constantFrom(0, 10, 1400),
}).map((p) => {
  const inside = p.port === 1;
  return { ...p, src: (inside ? INSIDE : OUTSIDE)[p.src]!, dst: (inside ? OUTSIDE : INSIDE)[p.dst]! };
});

type Op = { k: 'pkt'; p: Pkt } | { k: 'wait'; s: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: pktArb.map((p) => ({ k: 'pkt' as const, p })) },
  { weight: 1, arbitrary: fc.constantFrom(1, 29, 31, 61, 100_000).map((s) => ({ k: 'wait' as const, s })) },
);

function frame(p: Pkt): Uint8Array {
  const base = { srcMac: 0x020000000001 + p.port, dstMac: 0x020000000010, srcIp: p.src, dstIp: p.dst };
  if (p.proto === 'tcp') return buildTcp({ ...base, srcPort: p.sport, dstPort: p.dport, flags: p.flags, seq: p.seq, ack: p.ack, payloadLen: p.len, window: 4000 });
  if (p.proto === 'udp') return buildUdp({ ...base, srcPort: p.sport, dstPort: p.dport, payloadLen: p.len });
  return buildIcmpEcho({ ...base, type: p.flags & 0x10 ? 'reply' : 'request', id: p.sport, seq: 1, payloadLen: 8 });
}

function run(ops: Op[], cacheSize: number): { outs: string[]; dump: string[] } {
  const sim = new Simulation(1);
  const br = new Bridge({ path: 'br0', sim, flows: FLOWS, cacheSize, conntrack: { limit: 16 } });
  br.addPort({ name: 'p1', ofport: 1 });
  br.addPort({ name: 'p2', ofport: 2 });
  const outs: string[] = [];
  let t = 0;
  for (const op of ops) {
    if (op.k === 'wait') {
      t += op.s * 1e9;
      sim.scheduleAt(t, () => undefined); // an idle queue does not move the clock
      sim.run({ untilNs: t });
      continue;
    }
    const r = br.process(op.p.port, frame(op.p), { mayLearn: true });
    outs.push(
      (r?.outputs ?? []).map((o) => `${o.ofport}:${o.state.words[W_NW_SRC]}>${o.state.words[W_NW_DST]}:${o.state.words[W_TP_SRC]}>${o.state.words[W_TP_DST]}`).join(' ') || `drop(${r?.drop})`,
    );
  }
  return { outs, dump: br.conntrack.dump(sim.now) };
}

describe('conntrack properties', () => {
  it('cache on == cache off through a stateful SNAT firewall', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const a = run(ops, 8192);
        const b = run(ops, 0);
        expect(a).toEqual(b);
      }),
      { numRuns: 150 },
    );
  });

  it('the firewall really passes replies and drops unsolicited packets (the property is not vacuous)', () => {
    const syn: Pkt = { port: 1, proto: 'tcp', src: INSIDE[0]!, dst: OUTSIDE[0]!, sport: 40000, dport: 80, flags: 0x02, seq: 100, ack: 0, len: 0 };
    const r = run(
      [
        { k: 'pkt', p: { ...syn, port: 2, src: OUTSIDE[0]!, dst: INSIDE[0]!, sport: 80, dport: 40000 } },
        { k: 'pkt', p: syn },
        { k: 'pkt', p: { port: 2, proto: 'tcp', src: OUTSIDE[0]!, dst: 0xc0000201, sport: 80, dport: 2000, flags: 0x12, seq: 500, ack: 101, len: 0 } },
      ],
      8192,
    );
    expect(r.outs[0]).toMatch(/^drop/);
    expect(r.outs[1]).toBe(`2:${0xc0000201 | 0}>${OUTSIDE[0]}:2000>80`);
    expect(r.outs[2]).toBe(`1:${OUTSIDE[0]}>${INSIDE[0]}:80>40000`);
  });

  it('random packets never throw and the table stays within its limits', () => {
    const nat = parseNat('src=192.0.2.1:2000-2001');
    if (typeof nat === 'string') throw new Error(nat);
    const fk = emptyFlowKey();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(opArb, fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.boolean(), fc.boolean(), fc.uint8Array({ maxLength: 80 })), { maxLength: 120 }),
        (steps) => {
          const ct = new Conntrack({ limit: 12, zoneLimits: { 1: 3 }, defaultZoneLimit: 6 });
          let now = 0;
          for (const [op, zone, commit, useNat, force, junk] of steps) {
            if (op.k === 'wait') {
              now += op.s * 1e9;
              continue;
            }
            // Real frames, and real frames with random bytes over their headers.
            const f = frame(op.p);
            if (junk.length > 0) f.set(junk.subarray(0, Math.min(junk.length, f.length - 14)), 14);
            const w = new Int32Array(KEY_WORDS);
            extractFlowKey(f, fk);
            keyWordsFromFlowKey(fk, w);
            keyWordsFromFrame(f, fk, w);
            ct.execute({ w, frame: f, l3: fk.l3Offset, l4: fk.l4Offset }, { zone, commit: commit || force, force, nat: useNat ? nat : null, markValue: 1, markMask: 1, labelValue: null, labelMask: null }, now);
            expect(ct.size).toBeLessThanOrEqual(12);
            expect(ct.zoneSize(1)).toBeLessThanOrEqual(3);
            for (const z of [0, 2, 3]) expect(ct.zoneSize(z)).toBeLessThanOrEqual(6);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
