/**
 * Hand-written SVG charts (no dependencies): IOPS (or bandwidth) over time per disk with the
 * policies' limits drawn as labelled horizontal lines, and the latency distribution per disk
 * (percentile against latency on a log axis). Output is a self-contained SVG 1.1 document.
 */
import type { QosEngine } from './engine.js';
import { policyLines, formatNs } from './run.js';

const W = 900;
const H = 420;
const M = { l: 70, r: 190, t: 40, b: 50 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtNum(v: number): string {
  if (v >= 1e9) return `${+(v / 1e9).toFixed(2)}G`;
  if (v >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(2)}k`;
  return `${+v.toFixed(2)}`;
}

interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
}

interface HLine {
  label: string;
  y: number;
  color: string;
  dashed: boolean;
  /** Label without the value. */
  bare?: boolean;
}

function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], lines: HLine[], xMax: number, opts: { logX?: boolean; xFmt?: (v: number) => string; xMin?: number; yMax?: number } = {}): string {
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const yMax = opts.yMax ?? niceMax(Math.max(1e-9, ...series.flatMap((s) => s.points.map((p) => p[1])), ...lines.map((l) => l.y * 1.05)));
  const xMin = opts.xMin ?? 0;
  const lx = (v: number): number => (opts.logX ? Math.log10(Math.max(v, xMin)) : v);
  const x0 = lx(xMin);
  const x1 = Math.max(lx(xMax), x0 + 1e-9);
  const sx = (v: number): number => M.l + ((lx(v) - x0) / (x1 - x0)) * pw;
  const sy = (v: number): number => M.t + ph - (v / yMax) * ph;
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<title>${esc(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  // grid and axes
  for (let k = 0; k <= 5; k++) {
    const v = (yMax * k) / 5;
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${M.l}" y1="${y}" x2="${M.l + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.l - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmtNum(v)}</text>`);
  }
  const ticks: number[] = [];
  if (opts.logX) for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) ticks.push(10 ** e);
  else for (let k = 0; k <= 6; k++) ticks.push(xMin + ((xMax - xMin) * k) / 6);
  for (const t of ticks) {
    const x = sx(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${M.t}" x2="${x}" y2="${M.t + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x}" y="${M.t + ph + 16}" text-anchor="middle">${esc(opts.xFmt ? opts.xFmt(t) : fmtNum(t))}</text>`);
  }
  out.push(`<line x1="${M.l}" y1="${M.t + ph}" x2="${M.l + pw}" y2="${M.t + ph}" stroke="black"/>`);
  out.push(`<line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${M.t + ph}" stroke="black"/>`);
  out.push(`<text x="${M.l + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text x="16" y="${M.t + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.t + ph / 2})">${esc(yLabel)}</text>`);
  // limit lines
  for (const l of lines) {
    const y = sy(l.y).toFixed(1);
    out.push(`<line class="limit" x1="${M.l}" y1="${y}" x2="${M.l + pw}" y2="${y}" stroke="${l.color}" stroke-width="1.5"${l.dashed ? ' stroke-dasharray="6 4"' : ' stroke-dasharray="2 3"'}/>`);
    out.push(`<text x="${M.l + pw - 4}" y="${(sy(l.y) - 4).toFixed(1)}" text-anchor="end" fill="${l.color}" font-size="11">${esc(l.bare ? l.label : `${l.label} ${fmtNum(l.y)}`)}</text>`);
  }
  // series
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map((p, k) => `${k ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join('');
    out.push(`<path class="series" d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"/>`);
    const ly = M.t + 10 + i * 18;
    out.push(`<line x1="${M.l + pw + 12}" y1="${ly}" x2="${M.l + pw + 32}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`);
    out.push(`<text x="${M.l + pw + 36}" y="${ly}" dominant-baseline="middle">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Charts for a finished run: file name → SVG text. */
export function qosCharts(engine: QosEngine): Record<string, string> {
  const out: Record<string, string> = {};
  const end = engine.endNs;
  const series = (metric: 'iops' | 'bw'): Series[] =>
    engine.disks.map((d, i) => ({
      label: d.spec.name,
      color: COLORS[i % COLORS.length]!,
      points: d.timeline.toRows().map((r) => [(r.t + d.timeline.intervalNs / 2) / 1e9, metric === 'iops' ? r.iops : r.bw] as [number, number]),
    }));
  const iopsLines: HLine[] = [];
  const bpsLines: HLine[] = [];
  for (const d of engine.disks) {
    const color = COLORS[d.index % COLORS.length]!;
    const own = d.spec.policy;
    if (own) for (const l of policyLines(own)) (l.iops !== undefined ? iopsLines : bpsLines).push({ label: `${d.spec.name} ${l.label}`, y: (l.iops ?? l.bps)!, color, dashed: l.dashed });
  }
  for (const g of engine.groups.filter((x) => x.declared)) {
    for (const l of policyLines(g.policy)) (l.iops !== undefined ? iopsLines : bpsLines).push({ label: `group ${g.name} ${l.label} (sum)`, y: (l.iops ?? l.bps)!, color: '#444', dashed: l.dashed });
  }
  const xMax = end / 1e9;
  out['iops.svg'] = lineChart('IOPS per disk', 'simulated time (s)', 'IOPS', series('iops'), iopsLines, xMax);
  if (bpsLines.length > 0) out['bandwidth.svg'] = lineChart('Bandwidth per disk', 'simulated time (s)', 'bytes/s', series('bw'), bpsLines, xMax);
  // latency distribution: percentile (y) against latency (x, log)
  const ps = [0.1, 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.99, 100];
  let minLat = Number.POSITIVE_INFINITY;
  let maxLat = 1;
  const lat: Series[] = engine.disks.map((d, i) => {
    const vs = d.hist.count ? d.hist.percentiles(ps) : [];
    for (const v of vs) {
      if (v > 0 && v < minLat) minLat = v;
      if (v > maxLat) maxLat = v;
    }
    return { label: d.spec.name, color: COLORS[i % COLORS.length]!, points: vs.map((v, k) => [Math.max(v, 1), ps[k]!] as [number, number]) };
  });
  if (!Number.isFinite(minLat)) minLat = 1;
  const xMin = 10 ** Math.floor(Math.log10(minLat));
  out['latency.svg'] = lineChart('Latency distribution per disk (completion latency)', 'latency (log scale)', 'percentile', lat, [{ label: 'p99', y: 99, color: '#999', dashed: true, bare: true }], 10 ** Math.ceil(Math.log10(maxLat)), { logX: true, xMin, yMax: 100, xFmt: (v) => formatNs(v) });
  return out;
}
