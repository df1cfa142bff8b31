/** Text outputs of a sweep: the results table, the aggregate table and CSV (RFC 4180 quoting). */
import type { SweepResult } from './run.js';

function num(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  return Number.isInteger(v) ? String(v) : v.toPrecision(6);
}

function table(head: string[], body: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(head), ...body.map(line)].join('\n') + '\n';
}

export function renderSweep(r: SweepResult): string {
  const params = Object.keys(r.rows[0]?.params ?? {});
  const metrics = Object.keys(r.rows[0]?.metrics ?? {});
  let out = table(
    ['#', ...params, 'seed', ...metrics, 'verdict'],
    r.rows.map((row) => [String(row.index), ...params.map((p) => String(row.params[p])), String(row.seed), ...metrics.map((m) => num(row.metrics[m])), row.verdict]),
  );
  const multi = r.aggregates.some((a) => a.seeds > 1);
  if (multi && metrics.length > 0) {
    out += '\nacross seeds (mean / min / max / p50 / p95):\n';
    out += table(
      [...params, 'seeds', ...metrics],
      r.aggregates.map((a) => [...params.map((p) => String(a.params[p])), String(a.seeds), ...metrics.map((m) => {
        const s = a.metrics[m]!;
        return [s.mean, s.min, s.max, s.p50, s.p95].map(num).join(' / ');
      })]),
    );
  }
  const bad = r.rows.filter((row) => row.verdict !== 'pass');
  for (const row of bad.slice(0, 20)) out += `point ${row.index} (seed ${row.seed}): ${row.error ?? row.failures.join('; ')}\n`;
  if (bad.length > 20) out += `… and ${bad.length - 20} more failing points\n`;
  out += `${r.points} points: ${r.passed} passed, ${r.failed} failed, ${r.errors} errors\n`;
  return out;
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function renderCsv(r: SweepResult): string {
  const params = Object.keys(r.rows[0]?.params ?? {});
  const metrics = Object.keys(r.rows[0]?.metrics ?? {});
  const head = ['index', ...params, 'seed', ...metrics, 'verdict', 'error', 'vfab_version', 'input_hash'];
  const lines = r.rows.map((row) =>
    [String(row.index), ...params.map((p) => String(row.params[p])), String(row.seed), ...metrics.map((m) => (row.metrics[m] === null ? '' : String(row.metrics[m]))), row.verdict, row.error ?? row.failures.join('; '), row.vfab_version, row.input_hash].map(csvCell).join(','),
  );
  return [head.map(csvCell).join(','), ...lines].join('\r\n') + '\r\n';
}
