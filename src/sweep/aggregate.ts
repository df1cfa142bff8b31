/**
 * Aggregation across seeds, shared by the submitter (local pool, or results collected from Redis)
 * and by the BullMQ flow's parent job, which aggregates its children on a worker. One function
 * for both is what makes a sweep's aggregate the same bytes wherever it was computed.
 */
import type { ParamValue } from './file.js';
import type { PointResult } from './point.js';

export interface MetricStats {
  n: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  p50: number | null;
  p95: number | null;
}

export interface SweepAggregate {
  params: Record<string, ParamValue>;
  seeds: number;
  failed: number;
  metrics: Record<string, MetricStats>;
}

/** The points of one parameter combination (they differ only by seed), in sweep order. */
export interface ComboGroup<T> {
  params: Record<string, ParamValue>;
  members: T[];
}

/** Nearest-rank percentiles (the value at rank ceil(p/100 * n)), as fio and most reports use. */
export function stats(values: readonly number[]): MetricStats {
  if (values.length === 0) return { n: 0, mean: null, min: null, max: null, p50: null, p95: null };
  const s = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, mean, min: s[0]!, max: s[s.length - 1]!, p50: rank(50), p95: rank(95) };
}

/** n, mean, min, max, p50, p95 of each metric over each group's results. */
export function aggregateGroups(groups: ReadonlyArray<ComboGroup<Pick<PointResult, 'metrics' | 'verdict'>>>, metricNames: readonly string[]): SweepAggregate[] {
  // `v + 0` turns -0 into 0: a worker's child values reach the flow parent through JSON, which has
  // no -0, so the submitter's in-memory rows must aggregate the same way (same bytes either path).
  return groups.map((g) => ({
    params: g.params,
    seeds: g.members.length,
    failed: g.members.filter((r) => r.verdict !== 'pass').length,
    metrics: Object.fromEntries(metricNames.map((m) => [m, stats(g.members.map((r) => r.metrics[m]).filter((v): v is number => typeof v === 'number').map((v) => v + 0))])),
  }));
}

/** Groups items by combination number, groups in order of first appearance, members in order. */
export function groupByCombo<T>(items: ReadonlyArray<{ combo: number; params: Record<string, ParamValue>; item: T }>): Array<ComboGroup<T>> {
  const by = new Map<number, ComboGroup<T>>();
  for (const it of items) {
    let g = by.get(it.combo);
    if (!g) {
      g = { params: it.params, members: [] };
      by.set(it.combo, g);
    }
    g.members.push(it.item);
  }
  return [...by.values()];
}

/** A row for a point whose run produced nothing. */
export function errorResult(metricNames: readonly string[], error: string): PointResult {
  return { metrics: Object.fromEntries(metricNames.map((m) => [m, null])), verdict: 'error', failures: [], error };
}
