import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { Port, connect, type Frame } from '../../src/port/port.js';
import type { FabricEvent } from '../../src/port/nic.js';
import { buildArpRequest, buildUdp } from '../../src/wire/build.js';
import { pushVlan } from '../../src/wire/vlan.js';

const A = 0x0200_0000_000a;
const B = 0x0200_0000_000b;

function host(path: string): { port: Port; got: Frame[] } {
  const got: Frame[] = [];
  const port = new Port(path, (f) => got.push(f));
  return { port, got };
}

function setup(flows?: string) {
  const sim = new Simulation(1);
  const events: FabricEvent[] = [];
  const br = new Bridge({ path: 'hv1.br0', sim, events: (e) => events.push(e), ...(flows !== undefined ? { flows } : {}) });
  const hosts = ['p1', 'p2', 'p3'].map((n, i) => {
    const bp = br.addPort({ name: n, ...(i === 2 ? { tag: 10 } : {}) });
    const h = host(`vm${i + 1}.eth0`);
    connect(bp, h.port);
    return h;
  });
  return { sim, br, hosts, events };
}

describe('Bridge (NORMAL)', () => {
  it('floods an unknown broadcast to VLAN members and LOCAL, then unicasts to the learned port', () => {
    const { br, hosts } = setup();
    const arp = buildArpRequest({ srcMac: A, srcIp: 0x0a000001, dstIp: 0x0a000002 });
    hosts[0]!.port.send(arp, { hops: 0 });
    expect(hosts[1]!.got.length).toBe(1);
    expect(hosts[2]!.got.length).toBe(0); // access VLAN 10 does not see VLAN 0
    expect(br.local.counters.tx_packets).toBe(1);
    const udp = buildUdp({ srcMac: B, dstMac: A, srcIp: 2, dstIp: 1, srcPort: 1, dstPort: 2, payloadLen: 10 });
    hosts[1]!.port.send(udp, { hops: 0 });
    expect(hosts[0]!.got.length).toBe(1);
    expect(br.local.counters.tx_packets).toBe(1);
    expect(br.fdbShow()).toContain('02:00:00:00:00:0a');
  });

  it('drops a tagged frame on an access port as vlan-filter', () => {
    const { br, hosts } = setup();
    const arp = pushVlan(buildArpRequest({ srcMac: A, srcIp: 1, dstIp: 2 }), { vid: 20 });
    hosts[2]!.port.send(arp, { hops: 0 });
    expect(br.portByName('p3')!.counters.drops['vlan-filter']).toBe(1);
  });

  it('emits a mac_move event when a MAC shows up on another port', () => {
    const { hosts, events } = setup();
    const arp = buildArpRequest({ srcMac: A, srcIp: 1, dstIp: 2 });
    hosts[0]!.port.send(arp, { hops: 0 });
    hosts[1]!.port.send(arp, { hops: 0 });
    const mv = events.filter((e) => e.type === 'mac_move');
    expect(mv).toEqual([{ type: 'mac_move', time_ns: 0, bridge: 'hv1.br0', mac: '02:00:00:00:00:0a', vlan: 0, from: 'hv1.br0.p1', to: 'hv1.br0.p2' }]);
  });

  it('counts packets on the matched rules and drops table misses', () => {
    const { br, hosts } = setup('priority=10,arp,actions=flood');
    hosts[0]!.port.send(buildArpRequest({ srcMac: A, srcIp: 1, dstIp: 2 }), { hops: 0 });
    hosts[0]!.port.send(buildUdp({ srcMac: A, dstMac: B, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: 2, payloadLen: 0 }), { hops: 0 });
    expect(br.flowStats()[0]!.n_packets).toBe(1);
    expect(br.portByName('p1')!.counters.drops['table-miss']).toBe(1);
    expect(hosts[2]!.got.length).toBe(1); // FLOOD ignores VLAN config
  });
});

describe('Bridge loops', () => {
  it('ends a broadcast storm between three zero-delay bridges and reports it', () => {
    const sim = new Simulation(1);
    const events: FabricEvent[] = [];
    const sink = (e: FabricEvent) => events.push(e);
    const [a, b, c] = ['sa', 'sb', 'sc'].map((p) => new Bridge({ path: p, sim, events: sink }));
    // Triangle with two parallel links per side: fan-out 3 per hop.
    for (const [x, y] of [[a!, b!], [b!, c!], [c!, a!]] as const) {
      for (let i = 0; i < 2; i++) connect(x.addPort({ name: `to-${y.path}-${i}` }), y.addPort({ name: `to-${x.path}-${i}` }));
    }
    const h = host('vm1.eth0');
    connect(a!.addPort({ name: 'vm1' }), h.port);
    h.port.send(buildArpRequest({ srcMac: A, srcIp: 1, dstIp: 2 }), { hops: 0 });
    const loops = events.filter((e) => e.type === 'loop');
    expect(loops.length).toBeGreaterThan(0);
    const drops = [a!, b!, c!].flatMap((br) => br.ports().map((p) => p.counters.drops['loop'] ?? 0));
    expect(drops.reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
    // The storm guard bounds the work: far fewer than 5^64 copies.
    expect(a!.switched + b!.switched + c!.switched).toBeLessThan(200_000);
  });
});

describe('Bridge flow timeouts and controller', () => {
  it('expires hard_timeout rules after their time and idle_timeout rules only when idle (virtual time)', () => {
    const { sim, br, hosts } = setup('priority=20,udp,hard_timeout=2,actions=output:2\npriority=10,udp,idle_timeout=1,actions=output:1\npriority=0,actions=drop');
    const udp = buildUdp({ srcMac: A, dstMac: B, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: 2, payloadLen: 0 });
    // Keep the idle rule busy: it never matches (the hard rule wins), so it expires at 1 s.
    sim.run({ untilNs: 1_500_000_000 });
    expect(br.flowStats().map((f) => f.priority)).toEqual([20, 0]);
    hosts[0]!.port.send(udp, { hops: 0 });
    expect(hosts[1]!.got.length).toBe(1);
    sim.run({ untilNs: 2_000_000_000 });
    expect(br.flowStats().map((f) => f.priority)).toEqual([0]);
    hosts[0]!.port.send(udp, { hops: 0 });
    expect(hosts[1]!.got.length).toBe(1);
    expect(br.portByName('p1')!.counters.drops['drop-action']).toBe(1);
  });

  it('keeps an idle_timeout rule alive while packets match it', () => {
    const { sim, br, hosts } = setup('priority=10,udp,idle_timeout=1,actions=output:2');
    const udp = buildUdp({ srcMac: A, dstMac: B, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: 2, payloadLen: 0 });
    for (let t = 1; t <= 5; t++) {
      sim.schedule(t * 600_000_000 - sim.now, () => hosts[0]!.port.send(udp, { hops: 0 }));
      sim.run({ untilNs: t * 600_000_000 });
    }
    expect(br.flowStats().length).toBe(1);
    sim.run({ untilNs: 5_000_000_000 });
    expect(br.flowStats().length).toBe(0);
    expect(hosts[1]!.got.length).toBe(5);
  });

  it('records a controller action as a packet_in event', () => {
    const { hosts, events } = setup('priority=10,arp,actions=controller,normal');
    hosts[0]!.port.send(buildArpRequest({ srcMac: A, srcIp: 1, dstIp: 2 }), { hops: 0 });
    const pin = events.filter((e) => e.type === 'packet_in');
    expect(pin).toEqual([{ type: 'packet_in', time_ns: 0, bridge: 'hv1.br0', in_port: 'hv1.br0.p1', table: 0, rule: 'priority=10,arp', reason: 'action' }]);
    expect(hosts[1]!.got.length).toBe(1);
  });

  it('serves repeated packets from the exact-match cache and still counts them per rule', () => {
    const { br, hosts } = setup('priority=10,udp,actions=output:2');
    const udp = buildUdp({ srcMac: A, dstMac: B, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: 2, payloadLen: 0 });
    for (let i = 0; i < 10; i++) hosts[0]!.port.send(udp, { hops: 0 });
    expect(br.cacheStats().hits).toBe(9);
    expect(br.flowStats()[0]!.n_packets).toBe(10);
    br.addFlows('priority=20,udp,actions=output:3');
    hosts[0]!.port.send(udp, { hops: 0 });
    expect(hosts[2]!.got.length).toBe(1); // the cache was invalidated by the new rule
  });
});

describe('Bridge flows naming ports', () => {
  it('resolves port names once the ports exist (the fabric adds ports after creating the bridge)', () => {
    const sim = new Simulation(1);
    const br = new Bridge({ path: 'hv1.br0', sim, flows: 'priority=10,in_port=uplink,actions=output:vm1-eth0\npriority=0,actions=drop' });
    expect(br.pendingFlowsError()?.code).toBe('FLOW_UNKNOWN_PORT');
    const up = br.addPort({ name: 'uplink' });
    expect(br.pendingFlowsError()?.message).toBe('vm1-eth0: output to unknown port');
    const vm = br.addPort({ name: 'vm1-eth0' });
    expect(br.pendingFlowsError()).toBeNull();
    expect(br.flowStats().map((f) => f.match)).toEqual(['in_port=1', '']);
    const h = host('vm1.eth0');
    connect(vm, h.port);
    up.receive(buildArpRequest({ srcMac: A, srcIp: 1, dstIp: 2 }), { hops: 0 });
    expect(h.got.length).toBe(1);
  });

  it('still throws other flow errors at once', () => {
    expect(() => new Bridge({ path: 'br0', sim: new Simulation(1), flows: 'in_port=uplink,actions=multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[])' })).toThrow(/"multipath" is not supported/);
  });
});

describe('a looped topology', () => {
  it('finishes, drops the storm as loop on every bridge of the loop, and reports it', async () => {
    const { runTopology } = await import('../../src/fabric/run.js');
    const nodePath = await import('node:path');
    const events: FabricEvent[] = [];
    const { summary } = runTopology(nodePath.join(import.meta.dirname, '../fixtures/vswitch/loop.yaml'), { untilNs: 100_000_000, events: (e) => events.push(e) });
    const loops = events.filter((e) => e.type === 'loop');
    expect(loops.map((e) => e.bridge).sort()).toEqual(['hv1.br0', 's1', 's2']);
    expect(loops[0]).toMatchObject({ hops: 64, reason: 'hop-limit' });
    expect(summary.ports['s1.b']!.drops['loop']).toBeGreaterThan(0);
    // The flapping MAC is reported a few times, then summarized, not once per flap.
    expect(events.filter((e) => e.type === 'mac_move').length).toBeLessThan(50);
    expect(events.some((e) => e.type === 'mac_flap')).toBe(true);
    // 100 ms of a line-rate storm is ~35 s of CPU; under a loaded machine it went past 60 s.
  }, 240_000);
});
