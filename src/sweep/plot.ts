/**
 * `--report sweep.html`: each metric against each parameter, as one self-contained HTML page of
 * inline SVG (no scripts, no network). In a chart the x axis holds the parameter's values in
 * sweep order, evenly spaced (ranges with log steps stay readable); one line per combination of
 * the other parameters, through the mean across seeds, over a band from min to max across seeds.
 * Escaping comes from the report machinery (src/report/format.ts).
 */
import { esc } from '../report/format.js';
import type { SweepPlan } from './file.js';
import type { SweepAggregate, SweepResult } from './run.js';

const W = 560;
const H = 300;
const M = { l: 70, r: 150, t: 30, b: 40 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

function fmt(v: number): string {
  return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

function chart(plan: SweepPlan, aggs: readonly SweepAggregate[], metric: string, param: string): string {
  const xs = plan.params.find((p) => p.path === param)!.values.map(String);
  const others = plan.params.filter((p) => p.path !== param).map((p) => p.path);
  const series = new Map<string, Map<string, { mean: number; min: number; max: number }>>();
  for (const a of aggs) {
    const s = a.metrics[metric];
    if (!s || s.mean === null || s.min === null || s.max === null) continue;
    const key = others.map((o) => `${o}=${String(a.params[o])}`).join(', ') || metric;
    const line = series.get(key) ?? new Map<string, { mean: number; min: number; max: number }>();
    if (!line.has(String(a.params[param]))) line.set(String(a.params[param]), { mean: s.mean, min: s.min, max: s.max });
    series.set(key, line);
  }
  const all = [...series.values()].flatMap((l) => [...l.values()].flatMap((v) => [v.min, v.max]));
  if (all.length === 0) return `<p>${esc(metric)} over ${esc(param)}: no values</p>`;
  let lo = Math.min(...all, 0);
  let hi = Math.max(...all);
  if (hi === lo) { hi = lo + 1; lo = lo - 1; }
  const px = (i: number): number => M.l + (xs.length === 1 ? (W - M.l - M.r) / 2 : (i * (W - M.l - M.r)) / (xs.length - 1));
  const py = (v: number): number => H - M.b - ((v - lo) / (hi - lo)) * (H - M.t - M.b);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`;
  svg += `<text x="${M.l}" y="16" font-size="13">${esc(metric)} over ${esc(param)}</text>`;
  svg += `<line x1="${M.l}" y1="${H - M.b}" x2="${W - M.r}" y2="${H - M.b}" stroke="#333"/><line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${H - M.b}" stroke="#333"/>`;
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    svg += `<text x="${M.l - 4}" y="${py(v) + 4}" text-anchor="end">${esc(fmt(v))}</text><line x1="${M.l}" x2="${W - M.r}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`;
  }
  xs.forEach((x, i) => { svg += `<text x="${px(i)}" y="${H - M.b + 14}" text-anchor="middle">${esc(x)}</text>`; });
  [...series.entries()].forEach(([key, line], n) => {
    const c = COLORS[n % COLORS.length]!;
    const pts = xs.map((x, i) => ({ i, v: line.get(x) })).filter((p): p is { i: number; v: { mean: number; min: number; max: number } } => p.v !== undefined);
    const band = [...pts.map((p) => `${px(p.i)},${py(p.v.max)}`), ...[...pts].reverse().map((p) => `${px(p.i)},${py(p.v.min)}`)].join(' ');
    svg += `<polygon points="${band}" fill="${c}" fill-opacity="0.15" stroke="none"/>`;
    svg += `<polyline points="${pts.map((p) => `${px(p.i)},${py(p.v.mean)}`).join(' ')}" fill="none" stroke="${c}" stroke-width="2"/>`;
    for (const p of pts) svg += `<circle cx="${px(p.i)}" cy="${py(p.v.mean)}" r="3" fill="${c}"><title>${esc(`${key} ${param}=${xs[p.i]!}: mean ${fmt(p.v.mean)}, min ${fmt(p.v.min)}, max ${fmt(p.v.max)}`)}</title></circle>`;
    svg += `<text x="${W - M.r + 8}" y="${M.t + 14 * n}" fill="${c}">${esc(key)}</text>`;
  });
  return `${svg}</svg>`;
}

export function renderSweepReport(plan: SweepPlan, r: SweepResult): string {
  let body = `<h1>${esc(r.sweep)}</h1><p>${r.points} points (${plan.seeds.length} seeds per combination): ${r.passed} passed, ${r.failed} failed, ${r.errors} errors. vfab ${esc(r.vfab_version)}. Lines: mean across seeds; bands: min to max.</p>`;
  for (const m of plan.metrics) for (const p of plan.params) body += chart(plan, r.aggregates, m.name, p.path);
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${esc(r.sweep)}</title></head><body style="font-family:sans-serif">${body}</body></html>\n`;
}
