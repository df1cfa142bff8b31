/**
 * Hand-written SVG charts (no dependencies): IOPS (or bandwidth) over time per disk with the
 * policies' limits drawn as labelled horizontal lines, and the latency distribution per disk
 * (percentile against latency on a log axis). Output is a self-contained SVG 1.1 document.
 *
 * Axes are readable (`util/axis.ts`): ticks on 1/2/5 × 10ⁿ, bytes in binary units (`300 MiB/s`),
 * and the expectation thresholds of the file (`expect:`) drawn and labelled next to the limits.
 */
import type { QosEngine } from './engine.js';
import type { Expectation } from './expect.js';
import { policyLines, formatNs } from './run.js';
import { formatBytesBinary, formatSi, niceByteTicks, niceTicks } from '../util/axis.js';

const fmtNum = formatSi;

const W = 900;
const H = 420;
const M = { l: 70, r: 190, t: 40, b: 50 };
export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
}

export interface HLine {
  label: string;
  y: number;
  /** Draw across the plot at x = y instead (latency thresholds on the latency axis). */
  vertical?: boolean;
  color: string;
  dashed: boolean;
  /** Label without the value. */
  bare?: boolean;
  /** An expectation threshold (not a policy limit). */
  threshold?: boolean;
}

interface ChartOpts {
  logX?: boolean;
  xFmt?: (v: number) => string;
  xMin?: number;
  yMax?: number;
  /** Y values are bytes (binary units, 1/2/5 steps in that unit). */
  bytes?: boolean;
  yFmt?: (v: number) => string;
}

function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], lines: HLine[], xMax: number, opts: ChartOpts = {}): string {
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const yFmt = opts.yFmt ?? (opts.bytes ? (v: number) => `${formatBytesBinary(v)}/s` : fmtNum);
  const dataMax = Math.max(1e-9, ...series.flatMap((s) => s.points.map((p) => p[1])), ...lines.filter((l) => !l.vertical).map((l) => l.y * 1.05));
  const yt = opts.yMax !== undefined ? niceTicks(0, opts.yMax, 5) : opts.bytes ? niceByteTicks(0, dataMax, 5) : niceTicks(0, dataMax, 5);
  const yMax = opts.yMax ?? yt.hi;
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
  for (const v of yt.ticks) {
    if (v > yMax + 1e-9) continue;
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${M.l}" y1="${y}" x2="${M.l + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text class="ytick" x="${M.l - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(yFmt(v))}</text>`);
  }
  const ticks: number[] = [];
  if (opts.logX) {
    // decades, plus 2 and 5 × 10ⁿ when the axis spans few decades
    const few = Math.floor(x1) - Math.ceil(x0) < 3;
    for (let e = Math.floor(x0); e <= Math.ceil(x1); e++) for (const m of few ? [1, 2, 5] : [1]) {
      const t = m * 10 ** e;
      if (lx(t) >= x0 - 1e-9 && lx(t) <= x1 + 1e-9) ticks.push(t);
    }
  } else ticks.push(...niceTicks(xMin, xMax, 6).ticks.filter((t) => t >= xMin - 1e-9 && t <= xMax + 1e-9));
  for (const t of ticks) {
    const x = sx(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${M.t}" x2="${x}" y2="${M.t + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text class="xtick" x="${x}" y="${M.t + ph + 16}" text-anchor="middle">${esc(opts.xFmt ? opts.xFmt(t) : fmtNum(t))}</text>`);
  }
  out.push(`<line x1="${M.l}" y1="${M.t + ph}" x2="${M.l + pw}" y2="${M.t + ph}" stroke="black"/>`);
  out.push(`<line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${M.t + ph}" stroke="black"/>`);
  out.push(`<text x="${M.l + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text x="16" y="${M.t + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.t + ph / 2})">${esc(yLabel)}</text>`);
  // limit lines
  // Labels never overlap: a label whose slot is taken moves one line further (up for horizontal
  // lines, down for vertical ones).
  const placedH: number[] = [];
  const placedV: Array<[number, number]> = [];
  const freeY = (y: number): number => {
    while (placedH.some((p) => Math.abs(p - y) < 12)) y -= 13;
    placedH.push(y);
    return y;
  };
  const freeV = (x: number, y: number): number => {
    while (placedV.some(([px, py]) => Math.abs(py - y) < 12 && Math.abs(px - x) < 200)) y += 13;
    placedV.push([x, y]);
    return y;
  };
  for (const l of lines) {
    if (l.vertical) {
      const x = sx(l.y).toFixed(1);
      out.push(`<line class="threshold" x1="${x}" y1="${M.t}" x2="${x}" y2="${M.t + ph}" stroke="${l.color}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
 out.push(`<text x="${(sx(l.y) - 4).toFixed(1)}" y="${freeV(sx(l.y), M.t + 12)}" text-anchor="end" fill="${l.color}" font-size="11">${esc(l.label)}</text>`);
      continue;
    }
    const y = sy(l.y).toFixed(1);
    out.push(`<line class="${l.threshold ? 'threshold' : 'limit'}" x1="${M.l}" y1="${y}" x2="${M.l + pw}" y2="${y}" stroke="${l.color}" stroke-width="1.5"${l.dashed ? ' stroke-dasharray="6 4"' : ' stroke-dasharray="2 3"'}/>`);
 out.push(`<text x="${M.l + pw - 4}" y="${freeY(sy(l.y) - 4).toFixed(1)}" text-anchor="end" fill="${l.color}" font-size="11">${esc(l.bare ? l.label : `${l.label} ${yFmt(l.y)}`)}</text>`);
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

const THRESHOLD = '#b3261e';

/** The policies' limits as chart lines: per disk (the disk's colour) and per declared group (grey, "(sum)"). */
export function qosLimitLines(engine: QosEngine): { iops: HLine[]; bw: HLine[] } {
  const iops: HLine[] = [];
  const bw: HLine[] = [];
  for (const d of engine.disks) {
    const color = COLORS[d.index % COLORS.length]!;
    const own = d.spec.policy;
    if (own) for (const l of policyLines(own)) (l.iops !== undefined ? iops : bw).push({ label: `${d.spec.name} ${l.label}`, y: (l.iops ?? l.bps)!, color, dashed: l.dashed });
  }
  for (const g of engine.groups.filter((x) => x.declared)) {
    for (const l of policyLines(g.policy)) (l.iops !== undefined ? iops : bw).push({ label: `group ${g.name} ${l.label} (sum)`, y: (l.iops ?? l.bps)!, color: '#444', dashed: l.dashed });
  }
  return { iops, bw };
}

/** Expectations as chart lines: IOPS metrics on the IOPS chart, bw on bandwidth, latency on the latency chart. */
export function thresholdLines(exps: readonly Expectation[]): { iops: HLine[]; bw: HLine[]; lat: HLine[] } {
  const out = { iops: [] as HLine[], bw: [] as HLine[], lat: [] as HLine[] };
  for (const e of exps) {
    const line = { label: `expect ${e.text}`, y: e.value, color: THRESHOLD, dashed: true, bare: true, threshold: true };
    if (/iops$/.test(e.metric)) out.iops.push(line);
    else if (e.metric === 'bw') out.bw.push(line);
    else out.lat.push({ ...line, vertical: true });
  }
  return out;
}

/** Charts for a finished run: file name → SVG text (with the file's expectations drawn when given). */
export function qosCharts(engine: QosEngine, expectations: readonly Expectation[] = []): Record<string, string> {
  const th = thresholdLines(expectations);
  const out: Record<string, string> = {};
  const end = engine.endNs;
  const series = (metric: 'iops' | 'bw'): Series[] =>
    engine.disks.map((d, i) => ({
      label: d.spec.name,
      color: COLORS[i % COLORS.length]!,
      points: d.timeline.toRows().map((r) => [(r.t + d.timeline.intervalNs / 2) / 1e9, metric === 'iops' ? r.iops : r.bw] as [number, number]),
    }));
  const { iops: iopsLines, bw: bpsLines } = qosLimitLines(engine);
  iopsLines.push(...th.iops);
  bpsLines.push(...th.bw);
  const xMax = end / 1e9;
  const secs = (v: number): string => `${+v.toPrecision(6)} s`;
  out['iops.svg'] = lineChart('IOPS per disk', 'simulated time', 'IOPS', series('iops'), iopsLines, xMax, { xFmt: secs });
  if (bpsLines.length > 0) out['bandwidth.svg'] = lineChart('Bandwidth per disk', 'simulated time', 'bandwidth', series('bw'), bpsLines, xMax, { xFmt: secs, bytes: true });
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
  out['latency.svg'] = lineChart('Latency distribution per disk (completion latency)', 'latency (log scale)', 'percentile', lat, [{ label: 'p99', y: 99, color: '#999', dashed: true, bare: true }, ...th.lat], 10 ** Math.ceil(Math.log10(Math.max(maxLat, ...th.lat.map((l) => l.y)))), { logX: true, xMin, yMax: 100, xFmt: (v) => formatNs(v), yFmt: (v) => `${v}%` });
  return out;
}
