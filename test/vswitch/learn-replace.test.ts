/**
 * A `learn` whose flow has the table, priority and match of an existing flow (ofproto.c
 * `ofproto_flow_mod_init_for_learn`, `ofproto_flow_mod_learn_refresh`, `replace_rule_start`):
 * - identical (same actions, timeouts, flags, cookie): refreshed, only the hard timer restarts;
 *   the idle timer (last use) does not, so a re-learned flow nobody hits still idles out;
 * - anything else: replaced in place like a modify: new actions and cookie, the old timeouts,
 *   flags, creation time, counters and last use;
 * - two learn actions writing one match with different actions (loads of different immediates,
 *   `load:X` and `output:X` of one value) replace each other, they do not refresh.
 * test/vswitch/learn-replace-ovs.test.ts checks the dumps against the real OVS.
 */
import { describe, expect, it } from 'vitest';
import type { FabricEvent } from '../../src/port/nic.js';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import type { FlowRule } from '../../src/vswitch/flow-table.js';
import { buildUdp } from '../../src/wire/build.js';

const S = 1_000_000_000;
const A = 0x0200_0000_00aa;
const B = 0x0200_0000_00bb;

function setup(flows: string): { br: Bridge; events: FabricEvent[]; send: (port: number, src: number, dst: number) => void; until: (ns: number) => void; learned: () => FlowRule[] } {
  const sim = new Simulation(1);
  const events: FabricEvent[] = [];
  const br = new Bridge({ path: 'br0', sim, flows, events: (e) => events.push(e) });
  for (let p = 1; p <= 6; p++) br.addPort({ name: `p${p}`, ofport: p });
  const send = (port: number, src: number, dst: number): void => {
    br.process(port, buildUdp({ srcMac: src, dstMac: dst, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: 2, payloadLen: 4 }), { mayLearn: true });
  };
  const until = (ns: number): void => {
    sim.scheduleAt(ns, () => undefined);
    sim.run({ untilNs: ns });
  };
  const learned = (): FlowRule[] => br.flowTables.rules().filter((r) => r.table === 1 && r.priority === 5);
  return { br, events, send, until, learned };
}

const LEARN = (extra: string, act: string): string => `learn(table=1,priority=5,${extra}NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],${act})`;
const FLOWS = [
  `table=0,priority=10,in_port=1 actions=${LEARN('', 'load:0x1->NXM_NX_REG0[]')},resubmit(,1)`,
  `table=0,priority=10,in_port=2 actions=${LEARN('', 'load:0x2->NXM_NX_REG0[]')},resubmit(,1)`,
  `table=0,priority=10,in_port=3 actions=${LEARN('', 'output:NXM_OF_IN_PORT[]')},resubmit(,1)`,
  `table=0,priority=10,in_port=4 actions=load:3->NXM_NX_REG1[],${LEARN('', 'load:NXM_NX_REG1[0..15]->NXM_NX_REG0[0..15]')},resubmit(,1)`,
  `table=0,priority=10,in_port=5 actions=${LEARN('idle_timeout=10,hard_timeout=20,cookie=0x7,send_flow_rem,', 'output:NXM_OF_IN_PORT[]')},resubmit(,1)`,
  'table=0,priority=10,in_port=6 actions=resubmit(,1)',
  'table=1,priority=0 actions=drop',
].join('\n');

describe('learn onto an existing flow', () => {
  it('an identical learn refreshes: hard timer and hard_age move, idle timer, counters and creation do not', () => {
    const { br, send, until, learned } = setup(FLOWS);
    send(1, A, B);
    const r = learned()[0]!;
    until(1 * S);
    send(6, B, A); // hits the learned flow
    expect(r.nPackets).toBe(1);
    until(4 * S);
    send(1, A, B);
    expect(learned()).toEqual([r]);
    expect([r.createdNs, r.lastUsedNs, r.modifiedNs, r.nPackets]).toEqual([0, 1 * S, 4 * S, 1]);
    expect(br.learnedFlows).toBe(1);
  });

  it('loads of different immediates replace each other, keeping creation time, counters and last use', () => {
    const { br, send, until, learned } = setup(FLOWS);
    send(1, A, B);
    const r = learned()[0]!;
    until(1 * S);
    send(6, B, A);
    until(3 * S);
    send(2, A, B);
    expect(learned()).toEqual([r]); // modified in place: one flow
    expect(r.actionsText).toBe('load:0x2->NXM_NX_REG0[]');
    expect([r.createdNs, r.lastUsedNs, r.modifiedNs, r.nPackets]).toEqual([0, 1 * S, 3 * S, 1]);
    send(1, A, B);
    expect(r.actionsText).toBe('load:0x1->NXM_NX_REG0[]');
    expect(br.learnedFlows).toBe(3);
  });

  it('load:X and output:X of one value are different actions', () => {
    const { send, learned } = setup(FLOWS);
    send(3, A, B);
    expect(learned()[0]!.actionsText).toBe('output:3');
    send(4, A, B);
    expect(learned()[0]!.actionsText).toBe('load:0x3->NXM_NX_REG0[0..15]');
    send(3, A, B);
    expect(learned()[0]!.actionsText).toBe('output:3');
  });

  it('a replace keeps the old timeouts and flags but takes the new cookie; the flow then never refreshes from that learn', () => {
    const { br, events, send, until, learned } = setup(FLOWS);
    send(3, A, B);
    const r = learned()[0]!;
    until(2 * S);
    send(5, A, B); // idle 10, hard 20, cookie 7, send_flow_rem: differs from the flow → replace
    expect([r.idleTimeout, r.hardTimeout, r.sendFlowRem, r.cookie, r.actionsText]).toEqual([0, 0, false, 7n, 'output:5']);
    until(4 * S);
    send(5, A, B); // timeouts still differ (the flow kept 0/0): replaced again, same actions
    expect(r.modifiedNs).toBe(4 * S);
    expect(br.learnedFlows).toBe(3);
    until(100 * S);
    expect(learned()).toEqual([r]); // no timeout was taken over: nothing expires
    expect(events.filter((e) => e.type === 'flow_removed')).toEqual([]);
  });

  it('a refreshed flow nobody hits still idles out (refresh does not touch the idle timer)', () => {
    const { events, send, until, learned } = setup('table=0,priority=10,in_port=1 actions=learn(table=1,priority=5,idle_timeout=5,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])\n');
    send(1, A, B);
    for (let t = 1; t <= 4; t++) {
      until(t * S);
      send(1, A, B);
    }
    expect(learned()[0]!.modifiedNs).toBe(4 * S);
    until(5 * S);
    expect(learned()).toEqual([]);
    expect(events.filter((e) => e.type === 'flow_removed').map((e) => [e.reason, e.time_ns])).toEqual([['idle', 5 * S]]);
  });

  it('a refresh restarts the hard timer', () => {
    const { events, send, until, learned } = setup('table=0,priority=10,in_port=1 actions=learn(table=1,priority=5,hard_timeout=5,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])\n');
    send(1, A, B);
    until(4 * S);
    send(1, A, B);
    until(8 * S);
    expect(learned()).toHaveLength(1);
    until(10 * S);
    expect(events.filter((e) => e.type === 'flow_removed').map((e) => [e.reason, e.time_ns])).toEqual([['hard', 9 * S]]);
  });

  it('a learn onto a flow add-flows added replaces its actions and keeps its counters; a mod-flows makes the next identical learn compare again', () => {
    const { br, send, learned } = setup(`${FLOWS}\ntable=1,priority=5,dl_dst=02:00:00:00:00:aa actions=output:6`);
    send(6, B, A);
    const r = learned()[0]!;
    expect(r.nPackets).toBe(1);
    send(3, A, B);
    expect(learned()).toEqual([r]);
    expect([r.actionsText, r.nPackets]).toEqual(['output:3', 1]);
    // A learned flow modified by a controller is no longer what its learn action wrote.
    send(1, B, A);
    const l = learned().find((x) => x !== r)!;
    br.flowMod('modify_strict', 'table=1,priority=5,dl_dst=02:00:00:00:00:bb actions=output:2');
    send(1, B, A);
    expect(l.actionsText).toBe('load:0x1->NXM_NX_REG0[]');
  });
});

describe('fin_timeout', () => {
  // Recorded from OVS 3.1 (dump-flows): learn_execute puts fin_timeout first in a learned flow
  // when the learn sets fin_idle_timeout/fin_hard_timeout, and format_FIN_TIMEOUT prints idle then
  // hard with zeros left out, whatever order the flow file used.
  it('a learn with fin timeouts gives its flow a leading fin_timeout action, as learn_execute does', () => {
    const { send, learned } = setup(
      [
        `table=0,priority=10,in_port=1 actions=${LEARN('fin_hard_timeout=20,fin_idle_timeout=10,', 'output:NXM_OF_IN_PORT[]')},resubmit(,1)`,
        `table=0,priority=10,in_port=2 actions=${LEARN('fin_hard_timeout=7,', 'output:NXM_OF_IN_PORT[]')},resubmit(,1)`,
        'table=1,priority=0 actions=drop',
      ].join('\n'),
    );
    send(1, A, B);
    expect(learned()[0]!.actionsText).toBe('fin_timeout(idle_timeout=10,hard_timeout=20),output:1');
    send(2, A, B);
    expect(learned()[0]!.actionsText).toBe('fin_timeout(hard_timeout=7),output:2');
  });

  it('a written fin_timeout prints in OVS canonical form', () => {
    const { br } = setup('table=0,priority=9,tcp,in_port=2,actions=fin_timeout(hard_timeout=7,idle_timeout=3),fin_timeout(idle_timeout=0),output:1');
    expect(br.flowTables.rules()[0]!.actionsText).toBe('fin_timeout(idle_timeout=3,hard_timeout=7),fin_timeout(),output:1');
  });
});
