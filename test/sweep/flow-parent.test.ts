/**
 * The BullMQ flow's parent job aggregates its children on a worker: this checks, without Redis,
 * that what it computes from children values (keyed as BullMQ keys them) is exactly the
 * submitter's own aggregate over the same rows, whatever the results, order and failures.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregateChildren, type AggregateJobData } from '../../src/sweep/bullmq-processor.js';
import { aggregateGroups, groupByCombo } from '../../src/sweep/aggregate.js';
import type { PointResult } from '../../src/sweep/point.js';
import { vfabBuild, vfabVersion } from '../../src/sweep/version.js';

const metricNames = ['m', 'k'];
const resultArb: fc.Arbitrary<PointResult> = fc.oneof(
  fc.record({ metrics: fc.record({ m: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }), k: fc.option(fc.integer(), { nil: null }) }), verdict: fc.constantFrom('pass' as const, 'fail' as const), failures: fc.constant([] as string[]), error: fc.constant(null) }),
  fc.constant<PointResult>({ metrics: { m: null, k: null }, verdict: 'error', failures: [], error: 'boom' }),
);

describe('the sweep flow parent (aggregate job)', () => {
  it('aggregates children values exactly as the submitter aggregates rows', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ combo: fc.integer({ min: 0, max: 4 }), r: resultArb, failed: fc.boolean() }), { minLength: 1, maxLength: 30 }), (pts) => {
        const items = pts.map((p, i) => ({ id: `p-${i}-x`, combo: p.combo, params: { delay: `${p.combo}us` }, r: p.failed ? undefined : p.r }));
        const groups = groupByCombo(items.map((it) => ({ combo: it.combo, params: it.params, item: it.id })));
        const data: AggregateJobData = { kind: 'aggregate', version: vfabVersion(), build: vfabBuild(), metricNames, groups: groups.map((g) => ({ params: g.params, ids: g.members })) };
        const values: Record<string, unknown> = { 'bull:q-seal-k:seal-k': 1 };
        const failures: Record<string, string> = {};
        // BullMQ hands JSON strings back for some values and objects for others: take both
        items.forEach((it, i) => {
          if (it.r === undefined) failures[`bull:q:${it.id}`] = 'worker died twice';
          else values[`bull:q:${it.id}`] = i % 2 ? JSON.stringify({ version: vfabVersion(), build: vfabBuild(), result: it.r }) : { version: vfabVersion(), build: vfabBuild(), result: it.r };
        });
        const got = aggregateChildren(data, values, failures);
        const rows = items.map((it) => it.r ?? { metrics: { m: null, k: null }, verdict: 'error' as const, failures: [], error: 'x' });
        const want = aggregateGroups(groupByCombo(items.map((it, i) => ({ combo: it.combo, params: it.params, item: rows[i]! }))), metricNames);
        expect(got.points).toBe(items.length);
        expect(got.aggregates).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });

  it('a child missing from Redis is not counted (the submitter then aggregates itself); another build counts as an error', () => {
    const ok: PointResult = { metrics: { m: 5, k: 1 }, verdict: 'pass', failures: [], error: null };
    const data: AggregateJobData = { kind: 'aggregate', version: vfabVersion(), build: vfabBuild(), metricNames, groups: [{ params: { a: 1 }, ids: ['p-1', 'p-2', 'p-3'] }] };
    const got = aggregateChildren(data, { 'bull:q:p-1': { version: vfabVersion(), build: vfabBuild(), result: ok }, 'bull:q:p-2': { version: vfabVersion(), build: 'ffff', result: ok }, 'bull:q:p-9': 'not json' }, {});
    expect(got.points).toBe(2);
    expect(got.aggregates[0]!.seeds).toBe(2);
    expect(got.aggregates[0]!.failed).toBe(1);
    expect(got.aggregates[0]!.metrics.m).toEqual({ n: 1, mean: 5, min: 5, max: 5, p50: 5, p95: 5 });
  });
});
