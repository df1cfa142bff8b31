import { describe, expect, it } from 'vitest';
import { Link, serializationNs } from '../../src/link/index.js';
import { Port } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/index.js';

function pair(sim: Simulation, opts: { bandwidthBps?: number; delayNs?: number; queueFrames?: number; loss?: number } = {}) {
  const arrivals: Array<{ t: number; len: number; at: string }> = [];
  const a = new Port('h1.br0.uplink', (f, _m, p) => arrivals.push({ t: sim.now, len: f.length, at: p.path }));
  const b = new Port('tor.p1', (f, _m, p) => arrivals.push({ t: sim.now, len: f.length, at: p.path }));
  const link = new Link({ sim, name: 'link0', a, b, ...opts });
  return { a, b, link, arrivals };
}

describe('link timing', () => {
  it('serializes a 1500-byte frame at 1 Gbit/s in 12,192 ns (frame + 24 bytes of Ethernet overhead)', () => {
    expect(serializationNs(1500, 1e9)).toBe((1524 * 8));
  });

  it('pads short frames to 60 bytes: a 64-byte wire slot at 10 Gbit/s is 67.2 ns, rounded up to 68', () => {
    expect(serializationNs(14, 10e9)).toBe(68);
    expect(serializationNs(60, 10e9)).toBe(68);
  });

  it('delivers after serialization plus propagation delay, exactly', () => {
    const sim = new Simulation(1);
    const { a, arrivals } = pair(sim, { bandwidthBps: 1e9, delayNs: 20_000 });
    a.send(new Uint8Array(1000), { hops: 0 });
    sim.run();
    expect(arrivals).toEqual([{ t: 1024 * 8 + 20_000, len: 1000, at: 'tor.p1' }]);
  });

  it('queues back-to-back frames behind each other (FIFO, one serialization slot at a time)', () => {
    const sim = new Simulation(1);
    const { a, arrivals } = pair(sim, { bandwidthBps: 1e9, delayNs: 5 });
    for (let i = 0; i < 3; i++) a.send(new Uint8Array(476), { hops: 0 }); // 500 wire bytes = 4000 ns
    sim.run();
    expect(arrivals.map((x) => x.t)).toEqual([4005, 8005, 12005]);
  });

  it('runs both directions independently (full duplex)', () => {
    const sim = new Simulation(1);
    const { a, b, arrivals } = pair(sim, { bandwidthBps: 1e9 });
    a.send(new Uint8Array(476), { hops: 0 });
    b.send(new Uint8Array(476), { hops: 0 });
    sim.run();
    expect(arrivals).toEqual([
      { t: 4000, len: 476, at: 'tor.p1' },
      { t: 4000, len: 476, at: 'h1.br0.uplink' },
    ]);
  });

  it('delivers through a scheduled event, never synchronously', () => {
    const sim = new Simulation(1);
    const { a, arrivals } = pair(sim);
    a.send(new Uint8Array(60), { hops: 0 });
    expect(arrivals).toHaveLength(0);
    sim.run();
    expect(arrivals).toHaveLength(1);
  });
});

describe('link queue', () => {
  it('tail-drops frames beyond the queue and counts them as queue-full at the sending port', () => {
    const sim = new Simulation(1);
    const { a, b, link, arrivals } = pair(sim, { bandwidthBps: 1e6, queueFrames: 4 });
    for (let i = 0; i < 10; i++) a.send(new Uint8Array(100), { hops: 0 });
    sim.run();
    // one on the wire + 4 waiting; the other 5 are dropped
    expect(arrivals).toHaveLength(5);
    expect(a.counters.drops).toEqual({ 'queue-full': 5 });
    expect(a.counters.tx_packets).toBe(10);
    expect(b.counters.rx_packets).toBe(5);
    expect(link.stats().ab.maxQueued).toBe(4);
  });

  it('keeps FIFO order through a queue that grows to its bound', () => {
    const sim = new Simulation(1);
    const order: number[] = [];
    const a = new Port('x.a', () => undefined);
    const b = new Port('x.b', (f) => order.push(f[0]! | (f[1]! << 8)));
    new Link({ sim, name: 'l', a, b, bandwidthBps: 1e9, queueFrames: 100 });
    for (let i = 0; i < 150; i++) a.send(new Uint8Array([i & 0xff, i >> 8, ...new Uint8Array(58)]), { hops: 0 });
    sim.scheduleAt(50_000, () => { for (let i = 150; i < 160; i++) a.send(new Uint8Array([i & 0xff, i >> 8, ...new Uint8Array(58)]), { hops: 0 }); });
    sim.run();
    expect(order.slice(0, 101)).toEqual(Array.from({ length: 101 }, (_, i) => i));
    expect(order.slice(101)).toEqual(Array.from({ length: 10 }, (_, i) => 150 + i));
    expect(a.counters.drops).toEqual({ 'queue-full': 49 });
  });

  it('frees queue slots as frames start serializing', () => {
    const sim = new Simulation(1);
    const { a, arrivals } = pair(sim, { bandwidthBps: 1e9, queueFrames: 1 });
    const slot = serializationNs(100, 1e9);
    for (let k = 0; k < 5; k++) sim.scheduleAt(k * slot, () => { a.send(new Uint8Array(100), { hops: 0 }); a.send(new Uint8Array(100), { hops: 0 }); });
    sim.run();
    expect(a.counters.drops['queue-full'] ?? 0).toBeGreaterThan(0);
    expect(arrivals.length + (a.counters.drops['queue-full'] ?? 0)).toBe(10);
  });
});

describe('link loss', () => {
  function lossRun(seed: number): boolean[] {
    const sim = new Simulation(seed);
    const { a, arrivals } = pair(sim, { loss: 0.3 });
    for (let i = 0; i < 200; i++) sim.scheduleAt(i * 1000, () => a.send(new Uint8Array([i & 0xff, ...new Uint8Array(59)]), { hops: 0 }));
    sim.run();
    const got = new Set(arrivals.map((x) => x.t));
    return Array.from({ length: 200 }, (_, i) => got.has(i * 1000 + serializationNs(60, 10e9)));
  }

  it('loses the same frames for the same seed', () => {
    expect(lossRun(7)).toEqual(lossRun(7));
  });

  it('loses different frames for a different seed, at roughly the configured rate', () => {
    const x = lossRun(7);
    const y = lossRun(8);
    expect(x).not.toEqual(y);
    const lost = x.filter((d) => !d).length;
    expect(lost).toBeGreaterThan(30);
    expect(lost).toBeLessThan(90);
  });

  it('counts lost frames as loss at the sending port', () => {
    const sim = new Simulation(3);
    const { a, b } = pair(sim, { loss: 1 });
    a.send(new Uint8Array(60), { hops: 0 });
    sim.run();
    expect(a.counters.drops).toEqual({ loss: 1 });
    expect(b.counters.rx_packets).toBe(0);
  });
});

describe('link down and up', () => {
  it('drops new frames while down and carries them again once up', () => {
    const sim = new Simulation(1);
    const { a, link, arrivals } = pair(sim);
    link.setUp(false);
    a.send(new Uint8Array(60), { hops: 0 });
    link.setUp(true);
    a.send(new Uint8Array(60), { hops: 0 });
    sim.run();
    expect(arrivals).toHaveLength(1);
    expect(a.counters.drops).toEqual({ 'link-down': 1 });
    // one source of truth (issue 10 #15): the link's counter is the sender port's drops
    expect(link.stats().ab.linkDown).toBe(1);
    expect(link.stats().ba.linkDown).toBe(0);
  });

  it('loses frames queued or on the wire when the link goes down, counted link-down at the sender', () => {
    const sim = new Simulation(1);
    const events: string[] = [];
    const arrivals: number[] = [];
    const a = new Port('x.a', () => undefined);
    const b = new Port('x.b', () => arrivals.push(sim.now));
    const link = new Link({ sim, name: 'l', a, b, bandwidthBps: 1e9, delayNs: 1_000_000, events: (e) => events.push(e.type) });
    for (let i = 0; i < 3; i++) a.send(new Uint8Array(100), { hops: 0 });
    sim.scheduleAt(500, () => link.setUp(false));
    sim.scheduleAt(600, () => link.setUp(true));
    sim.run();
    expect(arrivals).toEqual([]);
    expect(a.counters.drops).toEqual({ 'link-down': 3 });
    expect(link.stats().ab.linkDown).toBe(3);
    expect(events).toEqual(['link-down', 'link-up']);
  });
});
