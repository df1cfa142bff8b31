/**
 * Expectations of a sweep, checked on every point: `METRIC OP VALUE`, e.g. `downtime <= 300ms`,
 * `p99 < 5ms`, `goodput >= 1e9`. METRIC is a name from the sweep's `metrics`; OP one of
 * `<= < >= > == !=`; VALUE a number or a duration (`300ms`, compared in ns, as summaries count
 * time) or a size (`1GiB`, in bytes). A metric missing from a run's summary fails the expectation.
 */
import { UserError } from '../errors.js';
import { parseDuration, parseSize } from '../util/units.js';

export type ExpectOp = '<=' | '<' | '>=' | '>' | '==' | '!=';

export interface SweepExpect {
  text: string;
  metric: string;
  op: ExpectOp;
  value: number;
}

export function parseExpect(text: string, metrics: readonly string[]): SweepExpect {
  const m = /^\s*([^\s<>=!]+)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$/.exec(text);
  if (!m) throw new UserError('SWEEP_BAD_EXPECT', 'expected "METRIC OP VALUE", e.g. "downtime <= 300ms"');
  const [, metric, op, raw] = m as unknown as [string, string, ExpectOp, string];
  if (!metrics.includes(metric)) throw new UserError('SWEEP_BAD_EXPECT', `no metric "${metric}" (metrics: ${metrics.join(', ') || 'none'})`);
  return { text, metric, op, value: parseValue(raw) };
}

function parseValue(raw: string): number {
  const n = Number(raw);
  if (raw !== '' && Number.isFinite(n)) return n;
  for (const parse of [parseDuration, parseSize]) {
    try {
      return parse(raw);
    } catch {
      // try the next reading
    }
  }
  throw new UserError('SWEEP_BAD_EXPECT', `"${raw}" is not a number, a duration or a size`);
}

/** Whether `actual` satisfies the expectation (a non-number never does). */
export function holds(e: SweepExpect, actual: unknown): boolean {
  if (typeof actual !== 'number' || !Number.isFinite(actual)) return false;
  switch (e.op) {
    case '<=': return actual <= e.value;
    case '<': return actual < e.value;
    case '>=': return actual >= e.value;
    case '>': return actual > e.value;
    case '==': return actual === e.value;
    case '!=': return actual !== e.value;
  }
}
