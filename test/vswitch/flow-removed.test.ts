/**
 * Flow removal in virtual time (issue 11 item 7): idle and hard timeouts (ofproto.c
 * `ofproto_rule_expire`: hard counts from the last add/modify, idle from the last packet), learned
 * flows, and deletes each produce one `flow_removed` event with OpenFlow's reason and the flow's
 * counters; `send_flow_rem` is carried through.
 */
import { describe, expect, it } from 'vitest';
import type { FabricEvent } from '../../src/port/nic.js';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { parseFlows } from '../../src/vswitch/flow-parser.js';
import { buildUdp } from '../../src/wire/build.js';

const S = 1_000_000_000;

function setup(flows: string): { sim: Simulation; br: Bridge; events: FabricEvent[]; send: (src?: number) => void; until: (ns: number) => void } {
  const sim = new Simulation(1);
  const events: FabricEvent[] = [];
  const br = new Bridge({ path: 'br0', sim, flows, events: (e) => events.push(e) });
  br.addPort({ name: 'p1', ofport: 1 });
  br.addPort({ name: 'p2', ofport: 2 });
  const send = (src = 0x0200_0000_0001): void => {
    br.process(1, buildUdp({ srcMac: src, dstMac: 0x0200_0000_0002, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: 2, payloadLen: 4 }), { mayLearn: true });
  };
  const until = (ns: number): void => {
    sim.scheduleAt(ns, () => undefined);
    sim.run({ untilNs: ns });
  };
  return { sim, br, events, send, until };
}

const removed = (ev: FabricEvent[]): FabricEvent[] => ev.filter((e) => e.type === 'flow_removed');

describe('flow_removed events', () => {
  it('parses send_flow_rem and the other flow-mod flags', () => {
    const [f] = parseFlows('priority=5,idle_timeout=30,send_flow_rem,check_overlap,actions=NORMAL');
    expect(f!.flags).toEqual(['send_flow_rem', 'check_overlap']);
    expect(parseFlows('actions=drop')[0]!.flags).toBeUndefined();
  });

  it('idle timeout: removed once no packet matched for idle_timeout seconds, with counters', () => {
    const { events, send, until } = setup('priority=10,idle_timeout=5,send_flow_rem,in_port=1,actions=output:2\npriority=0,actions=drop');
    send();
    until(3 * S);
    send(); // keeps it alive: expiry moves to 8 s
    until(7 * S);
    expect(removed(events)).toEqual([]);
    until(9 * S);
    const [e, ...rest] = removed(events);
    expect(rest).toEqual([]);
    expect(e).toMatchObject({ reason: 'idle', time_ns: 8 * S, duration_ns: 8 * S, n_packets: 2, priority: 10, idle_timeout: 5, send_flow_rem: true, learned: false });
    expect(e!.n_bytes).toBe(2 * 60);
  });

  it('hard timeout: removed hard_timeout seconds after the add whatever the traffic', () => {
    const { events, send, until, br } = setup('priority=10,hard_timeout=2,in_port=1,actions=output:2');
    for (let t = 0; t < 4; t++) {
      send();
      until((t + 1) * S);
    }
    expect(removed(events)).toHaveLength(1);
    expect(removed(events)[0]).toMatchObject({ reason: 'hard', time_ns: 2 * S, n_packets: 2, send_flow_rem: false });
    expect(br.flowsRemoved).toBe(1);
  });

  it('learned flows expire too (learn idle_timeout), marked learned', () => {
    const { events, send, until } = setup('table=0,actions=learn(table=1,idle_timeout=3,send_flow_rem,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),output:2');
    send(0x0200_0000_0011);
    send(0x0200_0000_0012);
    until(10 * S);
    const ev = removed(events);
    expect(ev.map((e) => [e.reason, e.table, e.learned, e.send_flow_rem, e.time_ns])).toEqual([
      ['idle', 1, true, true, 3 * S],
      ['idle', 1, true, true, 3 * S],
    ]);
    expect(ev.map((e) => e.match).sort()).toEqual(['dl_dst=02:00:00:00:00:11', 'dl_dst=02:00:00:00:00:12']);
  });

  it('flow_mod delete and group delete give reasons delete and group_delete', () => {
    const sim = new Simulation(1);
    const events: FabricEvent[] = [];
    const br = new Bridge({ path: 'br0', sim, flows: '', protocols: 13, events: (e) => events.push(e) });
    br.addPort({ name: 'p1', ofport: 1 });
    br.addPort({ name: 'p2', ofport: 2 });
    br.loadGroups('group_id=1,type=all,bucket=output:2');
    br.addFlows('priority=5,in_port=1,actions=group:1\npriority=6,in_port=2,actions=output:1');
    br.flowMod('delete_strict', 'priority=6,in_port=2');
    br.groupMod('delete', 'group_id=1');
    expect(removed(events).map((e) => [e.reason, e.priority])).toEqual([
      ['delete', 6],
      ['group_delete', 5],
    ]);
    expect(br.flowStats()).toEqual([]);
  });
});
