import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Port, connect, type Frame } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { ms, seconds } from '../../src/sim/time.js';
import { UserError } from '../../src/errors.js';
import { GuestStack } from '../../src/guest/stack.js';
import { buildArpReply, buildArpRequest, buildGratuitousArp, buildIcmpEcho, buildUdp } from '../../src/wire/build.js';
import { defaultVnic } from '../../src/vnic/testing.js';
import { mac48 } from './helpers.js';

const MY_MAC = 0x020000000001;
const PEER_MAC = 0x020000000002;
const MY_IP = 0x0a000001;
const PEER_IP = 0x0a000002;

/** One guest whose NIC is wired to a test port: `inject` delivers frames, `out` collects what it sends. */
function guest(opts: { arpQueueLen?: number; arpReachableNs?: number } = {}) {
  const sim = new Simulation(1);
  const nic = defaultVnic({ sim });
  const out: Array<{ t: number; f: Frame }> = [];
  const peer = new Port('peer', (f) => out.push({ t: sim.now, f }));
  connect(nic.port, peer);
  const stack = new GuestStack({ name: 'vm1', sim, ...opts });
  stack.addInterface(nic, { ipv4: '10.0.0.1/24' });
  const inject = (f: Frame): void => peer.send(f, { hops: 0 });
  return { sim, nic, stack, out, inject, neigh: stack.interfaces[0]!.neighbors };
}

const arpOp = (f: Frame): number => (f[20]! << 8) | f[21]!;

describe('guest ARP', () => {
  it('answers a request for its address and learns the asker as STALE', () => {
    const g = guest();
    g.inject(buildArpRequest({ srcMac: PEER_MAC, srcIp: PEER_IP, dstIp: MY_IP }));
    expect(g.out).toHaveLength(1);
    const reply = g.out[0]!.f;
    expect(arpOp(reply)).toBe(2);
    expect(mac48(reply, 0)).toBe(PEER_MAC);
    expect(mac48(reply, 22)).toBe(MY_MAC);
    expect(reply.length).toBe(60);
    expect(g.neigh.lookup(PEER_IP)).toEqual({ ip: PEER_IP, mac: PEER_MAC, state: 'stale' });
  });

  it('answers an ARP probe for its address with TPA 0.0.0.0 and learns nothing (RFC 5227)', () => {
    const g = guest();
    g.inject(buildArpRequest({ srcMac: PEER_MAC, srcIp: 0, dstIp: MY_IP }));
    expect(g.out).toHaveLength(1);
    const reply = g.out[0]!.f;
    expect(arpOp(reply)).toBe(2);
    expect(mac48(reply, 0)).toBe(PEER_MAC);
    expect([...reply.subarray(38, 42)]).toEqual([0, 0, 0, 0]);
    expect(g.neigh.size).toBe(0);
  });

  it('ignores requests for other addresses and does not learn from them', () => {
    const g = guest();
    g.inject(buildArpRequest({ srcMac: PEER_MAC, srcIp: PEER_IP, dstIp: 0x0a000003 }));
    expect(g.out).toHaveLength(0);
    expect(g.neigh.lookup(PEER_IP)).toBeUndefined();
  });

  it('updates an existing entry from a gratuitous ARP but never creates one (arp_accept=0)', () => {
    const g = guest();
    g.inject(buildGratuitousArp({ mac: PEER_MAC, ip: PEER_IP }));
    expect(g.neigh.lookup(PEER_IP)).toBeUndefined();
    g.inject(buildArpRequest({ srcMac: PEER_MAC, srcIp: PEER_IP, dstIp: MY_IP }));
    g.inject(buildGratuitousArp({ mac: 0x02000000beef, ip: PEER_IP }));
    expect(g.neigh.lookup(PEER_IP)?.mac).toBe(0x02000000beef);
  });

  it('queues packets while resolving, sends them on the reply, and drops the oldest when the queue is full', () => {
    const g = guest({ arpQueueLen: 3 });
    for (let i = 0; i < 5; i++) g.stack.sendUdp(PEER_IP, 1000, 2000 + i, new Uint8Array(10));
    expect(g.out).toHaveLength(1); // only the ARP request
    expect(g.stack.counters.drops['arp-queue-full']).toBe(2);
    g.inject(buildArpReply({ srcMac: PEER_MAC, srcIp: PEER_IP, dstMac: MY_MAC, dstIp: MY_IP }));
    const udp = g.out.slice(1).map((o) => o.f);
    expect(udp.map((f) => (f[36]! << 8) | f[37]!)).toEqual([2002, 2003, 2004]);
    expect(udp.every((f) => mac48(f, 0) === PEER_MAC)).toBe(true);
    expect(g.neigh.lookup(PEER_IP)?.state).toBe('reachable');
  });

  it('retransmits requests one second apart and gives up after three', () => {
    const g = guest();
    g.stack.sendUdp(PEER_IP, 1000, 2000, new Uint8Array(10));
    g.sim.run({ untilNs: seconds(10) });
    expect(g.out.map((o) => o.t)).toEqual([0, seconds(1), seconds(2)]);
    expect(g.out.every((o) => arpOp(o.f) === 1 && mac48(o.f, 0) === 0xffffffffffff)).toBe(true);
    expect(g.stack.counters.drops['arp-failed']).toBe(1);
  });

  it('probes a used stale entry by unicast after delay_first_probe_time and drops it when unanswered', () => {
    const g = guest({ arpReachableNs: seconds(30) });
    g.inject(buildArpRequest({ srcMac: PEER_MAC, srcIp: PEER_IP, dstIp: MY_IP }));
    g.out.length = 0;
    g.stack.sendUdp(PEER_IP, 1000, 2000, new Uint8Array(10)); // uses the STALE entry at once
    expect(g.out).toHaveLength(1);
    expect(g.neigh.lookup(PEER_IP)?.state).toBe('delay');
    g.sim.run({ untilNs: seconds(20) });
    const probes = g.out.slice(1);
    expect(probes.map((o) => o.t)).toEqual([seconds(5), seconds(6), seconds(7)]);
    expect(probes.every((o) => arpOp(o.f) === 1 && mac48(o.f, 0) === PEER_MAC)).toBe(true);
    expect(g.neigh.lookup(PEER_IP)).toBeUndefined();
  });

  it('lets a confirmed entry go stale after the reachable time', () => {
    const g = guest({ arpReachableNs: ms(500) });
    g.stack.sendUdp(PEER_IP, 1000, 2000, new Uint8Array(10));
    g.inject(buildArpReply({ srcMac: PEER_MAC, srcIp: PEER_IP, dstMac: MY_MAC, dstIp: MY_IP }));
    g.sim.scheduleAt(ms(600), () => g.stack.sendUdp(PEER_IP, 1000, 2000, new Uint8Array(10)));
    expect(g.neigh.lookup(PEER_IP)?.state).toBe('reachable');
    g.sim.run({ untilNs: ms(600) });
    expect(g.neigh.lookup(PEER_IP)?.state).toBe('delay');
  });
});

describe('guest IPv4 receive', () => {
  function resolved() {
    const g = guest();
    g.inject(buildArpRequest({ srcMac: PEER_MAC, srcIp: PEER_IP, dstIp: MY_IP }));
    g.out.length = 0;
    return g;
  }

  it('answers an echo request with the same identifier, sequence and data', () => {
    const g = resolved();
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    g.inject(buildIcmpEcho({ srcMac: PEER_MAC, dstMac: MY_MAC, srcIp: PEER_IP, dstIp: MY_IP, type: 'request', id: 77, seq: 3, payload: data }));
    expect(g.out).toHaveLength(1);
    const r = g.out[0]!.f;
    expect(r[34]).toBe(0); // echo reply
    expect((r[38]! << 8) | r[39]!).toBe(77);
    expect((r[40]! << 8) | r[41]!).toBe(3);
    expect([...r.subarray(42, 51)]).toEqual([...data]);
  });

  it('drops an IPv4 packet with a bad header checksum', () => {
    const g = resolved();
    const f = buildIcmpEcho({ srcMac: PEER_MAC, dstMac: MY_MAC, srcIp: PEER_IP, dstIp: MY_IP, type: 'request', id: 1, seq: 1, payloadLen: 8 });
    f[24]! ^= 0xff;
    g.inject(f);
    expect(g.out).toHaveLength(0);
    expect(g.stack.counters.drops['bad-ipv4-checksum']).toBe(1);
  });

  it('drops UDP with a bad checksum and UDP to a port nobody listens on', () => {
    const g = resolved();
    const sink = g.stack.udpListen(5001);
    const good = buildUdp({ srcMac: PEER_MAC, dstMac: MY_MAC, srcIp: PEER_IP, dstIp: MY_IP, srcPort: 9, dstPort: 5001, payloadLen: 20 });
    const bad = good.slice();
    bad[50]! ^= 0x55;
    g.inject(good);
    g.inject(bad);
    g.inject(buildUdp({ srcMac: PEER_MAC, dstMac: MY_MAC, srcIp: PEER_IP, dstIp: MY_IP, srcPort: 9, dstPort: 5002, payloadLen: 20 }));
    expect(sink.totals().received_packets).toBe(1);
    expect(g.stack.counters.drops['bad-udp-checksum']).toBe(1);
    expect(g.stack.counters.drops['udp-no-port']).toBe(1);
  });

  it('verifies a UDP checksum once per frame: the same frame again is accepted, a corrupted copy still dropped', () => {
    const g = resolved();
    const sink = g.stack.udpListen(5001);
    const good = buildUdp({ srcMac: PEER_MAC, dstMac: MY_MAC, srcIp: PEER_IP, dstIp: MY_IP, srcPort: 9, dstPort: 5001, payloadLen: 20 });
    g.inject(good);
    g.inject(good);
    const bad = good.slice();
    bad[50]! ^= 0x55;
    g.inject(bad);
    g.inject(bad);
    expect(sink.totals().received_packets).toBe(2);
    expect(g.stack.counters.drops['bad-udp-checksum']).toBe(2);
  });

  it('drops packets for another IP and frames for another MAC, and never throws on garbage', () => {
    const g = resolved();
    g.inject(buildUdp({ srcMac: PEER_MAC, dstMac: MY_MAC, srcIp: PEER_IP, dstIp: 0x0a000063, srcPort: 9, dstPort: 5001, payloadLen: 20 }));
    expect(g.stack.counters.drops['not-for-us']).toBe(1);
    const junk = new Uint8Array(60);
    junk.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45], 0);
    for (let n = 14; n <= 60; n++) g.inject(junk.subarray(0, n));
    expect(g.out).toHaveLength(0);
  });

  it('rejects an invalid address or a gateway outside the subnet with the NIC named', () => {
    const sim = new Simulation(1);
    const stack = new GuestStack({ name: 'vm1', sim });
    const e1 = (() => { try { stack.addInterface(defaultVnic({ sim }), { ipv4: '10.0.0.256/24' }); } catch (e) { return e; } })();
    expect(e1).toBeInstanceOf(UserError);
    expect((e1 as UserError).where).toBe('vm1.eth0');
    expect(() => stack.addInterface(defaultVnic({ sim }), { ipv4: '10.0.0.1/24', gateway: '10.0.1.1' })).toThrow(/outside 10.0.0.1\/24/);
  });

  it('never throws on random or mutated frames addressed to it', () => {
    const g = resolved();
    const seeds = [
      buildIcmpEcho({ srcMac: PEER_MAC, dstMac: MY_MAC, srcIp: PEER_IP, dstIp: MY_IP, type: 'request', id: 1, seq: 1, payloadLen: 16 }),
      buildUdp({ srcMac: PEER_MAC, dstMac: MY_MAC, srcIp: PEER_IP, dstIp: MY_IP, srcPort: 9, dstPort: 5001, payloadLen: 16 }),
      buildArpRequest({ srcMac: PEER_MAC, srcIp: PEER_IP, dstIp: MY_IP }),
    ];
    g.stack.udpListen(5001);
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(120), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(120),
        (base, edits, cut) => {
          const f = base.slice(0, Math.max(14, cut));
          for (const [i, v] of edits) if (i >= 6 && i < f.length) f[i] = v; // keep the destination MAC
          g.inject(f);
          return true;
        },
      ),
      { numRuns: 500 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => (g.inject(bytes), true)));
  });
});
