/**
 * The calendar queue against a reference model: whatever the mix of pushes (same-instant
 * bursts, far-future timers, pushes into the past), pops and cancellations, events come out in
 * exactly (time, insertion) order — the order the former binary heap gave, which every trace
 * digest depends on. Sizes cross the bucket-count doublings/halvings and the width re-estimates.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue, type EventId } from '../../src/sim/queue.js';

type Op = { k: 'push'; dt: number } | { k: 'pop' } | { k: 'cancel'; i: number } | { k: 'burst'; n: number; dt: number };

const timeGen = fc.oneof(
  fc.constant(0), // the current instant
  fc.integer({ min: 0, max: 10 }),
  fc.integer({ min: 0, max: 5_000 }),
  fc.integer({ min: 1e6, max: 1e10 }), // a far-future timer
  fc.integer({ min: -50, max: -1 }), // into the past (the raw queue allows it; Simulation does not)
);
const opGen: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: timeGen.map((dt): Op => ({ k: 'push', dt })) },
  { weight: 4, arbitrary: fc.constant<Op>({ k: 'pop' }) },
  { weight: 1, arbitrary: fc.nat(1000).map((i): Op => ({ k: 'cancel', i })) },
  { weight: 1, arbitrary: fc.record({ n: fc.integer({ min: 1, max: 80 }), dt: timeGen }).map((r): Op => ({ k: 'burst', ...r })) },
);

function check(ops: Op[]): void {
  const q = new EventQueue();
  const model: Array<{ t: number; i: number; ev: EventId }> = [];
  const all: EventId[] = [];
  let now = 0;
  let id = 0;
  const push = (dt: number): void => {
    const t = Math.max(0, now + dt);
    const i = id++;
    const ev = q.push(t, () => i);
    // The model stays sorted by (time, insertion): a new event goes after every event at or before t.
    let lo = 0;
    let hi = model.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (model[mid]!.t <= t) lo = mid + 1;
      else hi = mid;
    }
    model.splice(lo, 0, { t, i, ev });
    all.push(ev);
  };
  const popBoth = (): void => {
    while (model.length > 0 && model[0]!.ev.cancelled) model.shift();
    const want = model.shift();
    expect(q.peekTime()).toBe(want?.t);
    const got = q.pop();
    expect(got?.handler()).toBe(want?.i);
    if (got) now = Math.max(now, got.time);
  };
  for (const op of ops) {
    if (op.k === 'push') push(op.dt);
    else if (op.k === 'burst') for (let j = 0; j < op.n; j++) push(op.dt);
    else if (op.k === 'cancel') all[op.i % Math.max(1, all.length)]?.cancel();
    else popBoth();
    expect(q.size).toBe(model.length);
  }
  while (model.some((m) => !m.ev.cancelled)) popBoth();
  expect(q.pop()).toBeUndefined();
  expect(q.peekTime()).toBeUndefined();
}

describe('EventQueue (calendar queue)', () => {
  it('pops in (time, insertion) order under any mix of pushes, pops and cancellations', () => {
    fc.assert(fc.property(fc.array(opGen, { maxLength: 400 }), (ops) => check(ops)), { numRuns: 300 });
  });

  it('keeps the order through growth to thousands of events, then a drain (rebuilds both ways)', () => {
    const ops: Op[] = [];
    let x = 99;
    for (let i = 0; i < 20_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const r = x % 100;
      if (r < 55) ops.push({ k: 'push', dt: r < 5 ? 0 : r < 50 ? x & 0xffff : 1e9 + (x & 0xfff) });
      else if (r < 58) ops.push({ k: 'burst', n: 40, dt: x & 0xff });
      else ops.push({ k: 'pop' });
    }
    check(ops);
  });

  it('run-until pops only what is due', () => {
    const q = new EventQueue();
    q.push(10, () => 'a');
    q.push(5, () => 'b');
    expect(q.popUntil(4)).toBeUndefined();
    expect(q.popUntil(5)?.handler()).toBe('b');
    expect(q.popUntil(9)).toBeUndefined();
    expect(q.popUntil(10)?.handler()).toBe('a');
    expect(q.size).toBe(0);
  });
});
