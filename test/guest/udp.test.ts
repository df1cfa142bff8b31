import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { connect, type Frame } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { ms, seconds, us } from '../../src/sim/time.js';
import { startUdpCbr } from '../../src/guest/apps.js';
import { UdpSink } from '../../src/guest/udp-sink.js';
import { delayedConnect, vm } from './helpers.js';

describe('UDP constant bit rate', () => {
  it('sends rate × duration / size datagrams and the receiver gets them all', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24');
    const b = vm(sim, 2, '10.0.0.2/24');
    delayedConnect(sim, a.nic.port, b.nic.port, us(50));
    const sink = b.stack.udpListen(5001);
    const app = startUdpCbr(a.stack, { dst: '10.0.0.2', port: 5001, rateBps: 10e6, size: 1000, durationNs: seconds(2), startNs: seconds(1) });
    sim.run({ untilNs: seconds(5) });
    const r = app.result();
    // 10 Mbit/s of 8000-bit datagrams for 2 s = 2500 datagrams, one every 800 µs.
    expect(r).toMatchObject({ sent_packets: 2500, sent_bytes: 2_500_000, received_packets: 2500, lost: 0, loss_pct: 0, out_of_order: 0 });
    expect(sink.totals().received_bytes).toBe(2_500_000);
    expect(r.latency_min_ns).toBe(us(50));
    // The first datagram waited for ARP (a request and a reply, 50 µs each way).
    expect(r.latency_max_ns).toBe(us(150));
    const flow = sink.totals().flows[0]!;
    expect(flow.first_ns).toBe(seconds(1) + us(150));
    expect(flow.last_ns).toBe(seconds(1) + 2499 * us(800) + us(50));
  });

  it('rounds the datagram count up when the rate does not divide evenly', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24');
    const b = vm(sim, 2, '10.0.0.2/24');
    connect(a.nic.port, b.nic.port);
    const app = startUdpCbr(a.stack, { dst: '10.0.0.2', port: 7, rateBps: 1e6, size: 300, durationNs: ms(100) });
    sim.run();
    // 1e6 × 0.1 / 2400 = 41.67 → datagrams at k·2.4 ms for k = 0..41.
    expect(app.result().sent_packets).toBe(42);
    expect(app.result().received_packets).toBe(42);
  });

  it('starts the receiver at the destination guest when no sink is given', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24');
    const b = vm(sim, 2, '10.0.0.2/24');
    connect(a.nic.port, b.nic.port);
    startUdpCbr(a.stack, { dst: '10.0.0.2', port: 9000, rateBps: 8e6, size: 1000, durationNs: ms(10) });
    sim.run();
    expect(b.stack.udpSink(9000)?.totals().received_packets).toBe(10);
  });

  it('counts loss from sequence gaps when the path drops datagrams', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24');
    const b = vm(sim, 2, '10.0.0.2/24');
    let udp = 0;
    const keep = (f: Frame): boolean => !(f[23] === 17 && udp++ % 10 === 3);
    delayedConnect(sim, a.nic.port, b.nic.port, us(1), keep);
    const app = startUdpCbr(a.stack, { dst: '10.0.0.2', port: 5001, rateBps: 8e6, size: 1000, durationNs: ms(100) });
    sim.run();
    const r = app.result();
    expect(r.sent_packets).toBe(100);
    expect(r.received_packets).toBe(90);
    expect(r.lost).toBe(10);
    expect(b.stack.udpSink(5001)!.totals().lost).toBe(10);
  });

  it('drops into no-rx-buffer at the receiving NIC when its guest stops refilling', () => {
    const sim = new Simulation(1);
    const a = vm(sim, 1, '10.0.0.1/24');
    const b = vm(sim, 2, '10.0.0.2/24');
    connect(a.nic.port, b.nic.port);
    b.nic.setRxRefill(false);
    const app = startUdpCbr(a.stack, { dst: '10.0.0.2', port: 5001, rateBps: 80e6, size: 1000, durationNs: ms(50) });
    sim.run();
    const r = app.result();
    // 256 buffers posted: one went to the ARP request, 255 to datagrams.
    expect(r.sent_packets).toBe(500);
    expect(r.received_packets).toBe(255);
    expect(b.nic.port.counters.drops['no-rx-buffer']).toBe(245);
  });
});

describe('UDP sink accounting', () => {
  function dgram(seq: number): Uint8Array {
    const p = new Uint8Array(12);
    new DataView(p.buffer).setUint32(0, seq);
    return p;
  }

  it('counts gaps as loss and late arrivals as out of order, like iperf2', () => {
    const s = new UdpSink(5001);
    for (const seq of [0, 1, 4, 2, 5]) s.deliver(1, 2, dgram(seq), 0);
    const f = s.flow(1, 2)!;
    expect(f.received_packets).toBe(5);
    expect(f.lost).toBe(1); // 3 never came
    expect(f.out_of_order).toBe(1); // 2 came late
  });

  it('loses exactly the dropped sequence numbers for any in-order subset', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }), (keep) => {
        const s = new UdpSink(1);
        let last = -1;
        keep.forEach((k, i) => {
          if (k) {
            s.deliver(1, 1, dgram(i), 0);
            last = i;
          }
        });
        const got = keep.filter(Boolean).length;
        const f = s.flow(1, 1);
        return got === 0 ? f === undefined : f!.lost === last + 1 - got;
      }),
    );
  });
});
