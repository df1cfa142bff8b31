import { describe, expect, it } from 'vitest';
import { connect, type Frame } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { ms, seconds, us } from '../../src/sim/time.js';
import { startPing } from '../../src/guest/apps.js';
import { UserError } from '../../src/errors.js';
import { delayedConnect, TestSwitch, vm } from './helpers.js';

describe('ping between two guests', () => {
  it('resolves ARP, then gets every reply with RTTs that include the ARP exchange on the first', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24');
    const b = vm(sim, 2, '10.0.0.2/24');
    delayedConnect(sim, a.nic.port, b.nic.port, us(10));
    const app = startPing(a.stack, { dst: '10.0.0.2', count: 5, intervalNs: ms(100), size: 56 });
    sim.run({ untilNs: seconds(2) });
    const r = app.result();
    expect(r).toMatchObject({ dst: '10.0.0.2', sent: 5, received: 5, loss_pct: 0 });
    // ARP request + reply (20 µs) then echo request + reply (20 µs) for seq 1; 20 µs after that.
    expect(r.replies.map((x) => x.rtt_ns)).toEqual([us(40), us(20), us(20), us(20), us(20)]);
    expect(r.replies.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(r.replies.map((x) => x.time_ns)).toEqual([us(40), ms(100) + us(20), ms(200) + us(20), ms(300) + us(20), ms(400) + us(20)]);
    expect([r.rtt_min_ns, r.rtt_avg_ns, r.rtt_max_ns]).toEqual([us(20), us(24), us(40)]);
    // One ARP exchange each way at most: b learned a from the request.
    expect(a.stack.counters.arp_requests_sent).toBe(1);
    expect(b.stack.counters.arp_requests_sent).toBe(0);
    expect(b.stack.counters.icmp_echo_replies_sent).toBe(5);
  });

  it('sends 84-byte IP packets for the default 56 data bytes and pads small frames to 60 bytes', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24');
    const b = vm(sim, 2, '10.0.0.2/24');
    connect(a.nic.port, b.nic.port);
    const lens: number[] = [];
    a.nic.port.onFrame((_p, dir, f) => dir === 'tx' && lens.push(f.length));
    b.nic.port.onFrame((_p, dir, f) => dir === 'tx' && lens.push(f.length));
    startPing(a.stack, { dst: '10.0.0.2', count: 1, intervalNs: ms(1), size: 56 });
    sim.run({ untilNs: ms(100) });
    expect(lens).toEqual([60, 60, 98, 98]); // ARP request, ARP reply, echo request, echo reply
  });

  it('reports 100% loss when ARP for an absent peer times out after three requests', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24');
    const b = vm(sim, 2, '10.0.0.2/24');
    connect(a.nic.port, b.nic.port);
    const app = startPing(a.stack, { dst: '10.0.0.3', count: 5, intervalNs: seconds(1) });
    sim.run({ untilNs: seconds(10) });
    const r = app.result();
    expect(r).toMatchObject({ sent: 5, received: 0, loss_pct: 100, rtt_min_ns: null, rtt_avg_ns: null, rtt_max_ns: null });
    // Requests at 0, 1, 2 s fail at 3 s (3 pings dropped); a new resolution at 3 s fails at 6 s (2 more).
    expect(a.stack.counters.arp_requests_sent).toBe(6);
    expect(a.stack.counters.arp_failures).toBe(2);
    expect(a.stack.counters.drops['arp-failed']).toBe(5);
    expect(a.stack.interfaces[0]!.neighbors.lookup(0x0a000003)).toBeUndefined();
  });

  it('honours the configured ARP timeout and retries', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24', { arpTimeoutNs: ms(200), arpRetries: 5 });
    const failedAt: number[] = [];
    a.stack.interfaces[0]!.nic.port.peer = { receive: () => undefined };
    const app = startPing(a.stack, { dst: '10.0.0.9', count: 1, intervalNs: ms(1) });
    sim.run({ untilNs: seconds(5) });
    failedAt.push(sim.now);
    expect(a.stack.counters.arp_requests_sent).toBe(5);
    expect(app.result().loss_pct).toBe(100);
  });

  it('counts partial loss when the path drops some echo replies', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24');
    const b = vm(sim, 2, '10.0.0.2/24');
    let replies = 0;
    // Drop every second echo reply (ICMP type 0 at offset 34).
    const keep = (f: Frame): boolean => !(f[12] === 0x08 && f[13] === 0x00 && f[23] === 1 && f[34] === 0 && replies++ % 2 === 1);
    delayedConnect(sim, a.nic.port, b.nic.port, us(5), keep);
    const app = startPing(a.stack, { dst: '10.0.0.2', count: 10, intervalNs: ms(10) });
    sim.run();
    const r = app.result();
    expect(r.sent).toBe(10);
    expect(r.received).toBe(5);
    expect(r.loss_pct).toBe(50);
    expect(r.replies.map((x) => x.seq)).toEqual([1, 3, 5, 7, 9]);
  });

  it('reaches a host outside its subnet through the gateway', () => {
    const sim = new Simulation(1);
    const sw = new TestSwitch(sim, us(1));
    const a = vm(sim, 1, '10.0.0.1/24', {}, '10.0.0.254');
    // The "router" answers for the gateway address and, being a host here, for its own address.
    const gw = vm(sim, 3, '10.0.0.254/24');
    sw.attach(a.nic.port);
    sw.attach(gw.nic.port);
    const app = startPing(a.stack, { dst: '192.168.1.1', count: 1, intervalNs: ms(1) });
    sim.run();
    // The echo request reached the gateway's MAC (it is not the destination IP, so it is not answered).
    expect(gw.stack.counters.drops['not-for-us']).toBe(1);
    expect(a.stack.interfaces[0]!.neighbors.lookup(0x0a0000fe)?.state).toBe('reachable');
    expect(app.result().received).toBe(0);
  });

  it('drops a packet with no route', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24');
    startPing(a.stack, { dst: '192.168.1.1', count: 1, intervalNs: ms(1) });
    sim.run();
    expect(a.stack.counters.drops['no-route']).toBe(1);
  });

  it('rejects a bad destination or count with the field named', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24');
    expect(() => startPing(a.stack, { dst: '10.0.0.300', count: 1, intervalNs: 1 })).toThrow(UserError);
    try {
      startPing(a.stack, { dst: '10.0.0.2', count: 0, intervalNs: 1 });
      expect.unreachable();
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      expect(e.where).toBe('vm1.ping.count');
    }
  });
});
