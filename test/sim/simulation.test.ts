import { BugError } from '../../src/errors.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ms, Prng, Simulation, us } from '../../src/sim/index.js';

describe('Simulation', () => {
  it('runs events in time order and same-time events in scheduling order', () => {
    const sim = new Simulation(1);
    const seen: string[] = [];
    sim.schedule(us(5), () => seen.push('b'));
    sim.schedule(us(1), () => seen.push('a'));
    sim.schedule(us(5), () => seen.push('c'));
    sim.schedule(us(5), () => {
      seen.push('d');
      sim.schedule(0, () => seen.push('f'));
    });
    sim.schedule(us(5), () => seen.push('e'));
    sim.run();
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(sim.now).toBe(5000);
  });

  it('orders any random schedule by (time, insertion) like a stable sort', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (times) => {
        const sim = new Simulation(7);
        const order: number[] = [];
        times.forEach((t, i) => sim.schedule(t, () => order.push(i)));
        sim.run();
        const expected = times.map((t, i) => ({ t, i })).sort((a, b) => a.t - b.t || a.i - b.i).map((x) => x.i);
        expect(order).toEqual(expected);
      }),
    );
  });

  it('skips cancelled events and tolerates cancelling twice or after running', () => {
    const sim = new Simulation();
    const seen: number[] = [];
    const a = sim.schedule(10, () => seen.push(1));
    const b = sim.schedule(20, () => seen.push(2));
    sim.schedule(30, () => seen.push(3));
    b.cancel();
    b.cancel();
    sim.run();
    a.cancel();
    expect(seen).toEqual([1, 3]);
    expect(a.pending).toBe(false);
  });

  it('stops at untilNs with the clock on the limit and leaves later events queued', () => {
    const sim = new Simulation();
    const seen: number[] = [];
    sim.schedule(ms(1), () => seen.push(1));
    sim.schedule(ms(3), () => seen.push(3));
    const r = sim.run({ untilNs: ms(2) });
    expect(r.reason).toBe('until');
    expect(sim.now).toBe(ms(2));
    expect(seen).toEqual([1]);
    expect(sim.run().reason).toBe('idle');
    expect(seen).toEqual([1, 3]);
  });

  it('refuses to schedule in the past', () => {
    const sim = new Simulation();
    expect(() => sim.schedule(-1, () => {})).toThrow(BugError);
  });

  it('rejects NaN, fractional, infinite and past times as bugs (issue 10 #18)', () => {
    const sim = new Simulation();
    sim.schedule(100, () => {});
    sim.run({ untilNs: 50 });
    for (const t of [Number.NaN, 60.5, Number.POSITIVE_INFINITY, -1, 10]) expect(() => sim.scheduleAt(t, () => {}), String(t)).toThrow(BugError);
    for (const d of [Number.NaN, 0.25, Number.POSITIVE_INFINITY, -5]) expect(() => sim.schedule(d, () => {}), String(d)).toThrow(BugError);
    expect(() => sim.run({ untilNs: Number.NaN })).toThrow(BugError);
    expect(() => sim.run({ untilNs: 70.5 })).toThrow(BugError);
    expect(sim.pendingEvents).toBe(1);
  });

  it('run({untilNs}) before now never moves the clock backwards', () => {
    const sim = new Simulation();
    let ran = 0;
    sim.schedule(1000, () => ran++);
    sim.run({ untilNs: 500 });
    expect(sim.now).toBe(500);
    expect(sim.run({ untilNs: 100 })).toEqual({ events: 0, reason: 'until' });
    expect(sim.now).toBe(500);
    sim.run();
    expect([sim.now, ran]).toEqual([1000, 1]);
    expect(sim.run({ untilNs: 200 }).events).toBe(0);
    expect(sim.now).toBe(1000);
  });
});

describe('Prng', () => {
  it('gives the same stream for the same seed and a different one for another seed', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const xa = Array.from({ length: 8 }, () => a.nextU32());
    const xb = Array.from({ length: 8 }, () => b.nextU32());
    const xc = Array.from({ length: 8 }, () => c.nextU32());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
  });

  it('forks independent, stable streams by label', () => {
    const root = new Prng(5);
    expect(root.fork('vm1.eth0').nextU32()).toBe(new Prng(5).fork('vm1.eth0').nextU32());
    expect(root.fork('vm1.eth0').nextU32()).not.toBe(root.fork('vm2.eth0').nextU32());
  });

  it('draws floats in [0,1) with a plausible mean', () => {
    const p = new Prng(9);
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const x = p.float();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      sum += x;
    }
    expect(sum / 10000).toBeGreaterThan(0.48);
    expect(sum / 10000).toBeLessThan(0.52);
  });
});
