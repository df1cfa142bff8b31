/**
 * The QoS report (`vfab qos run --report`): the same page as the run report, for storage. Header
 * (command, vfab version, QoS file hash, seed), expectation verdicts, the topology diagram when
 * the QoS file's topology loads, a timeline of per-interval IOPS, bandwidth (binary units) and
 * p99 latency per disk with the policies' limits and the expectation thresholds drawn, then
 * per-disk, per-job and per-backend tables. Reads a finished `QosResult`; runs nothing.
 */
import type { QosResult } from '../qos/run.js';
import type { HLine } from '../qos/svg.js';
import type { Expectation } from '../qos/expect.js';
import { VFAB_VERSION } from '../version.js';
import { formatBytesBinary, formatDuration } from '../util/axis.js';
import { esc, text } from './format.js';
import type { Diagram } from './graph.js';
import { diagramDetails, renderPage, type ReportAssets } from './page.js';
import { COLORS, type TlChart, type Timeline } from './timeline.js';

export interface QosReportInput {
  file: string;
  fileSha256: string;
  command: string;
  result: QosResult;
  limits: { iops: HLine[]; bw: HLine[] };
  expectations: readonly Expectation[];
  diagram?: Diagram;
  assets: ReportAssets;
}

const td = (v: unknown, n = false): string => `<td${n ? ' class="num"' : ''}>${esc(text(v))}</td>`;
function table(head: string[], rows: unknown[][], nums: number[] = []): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>\n${rows.map((r) => `<tr>${r.map((c, i) => td(c, nums.includes(i))).join('')}</tr>`).join('\n')}\n</tbody></table>`;
}

function timeline(r: QosResult, limits: QosReportInput['limits'], exps: readonly Expectation[]): Timeline {
  const iv = r.timelines.interval_ns;
  const disks = Object.entries(r.timelines.disks);
  const s6 = (ns: number) => Math.round(ns / 1e3) / 1e6;
  const series = (pick: (row: QosResult['timelines']['disks'][string][number]) => number) =>
    disks.map(([name, rows], i) => ({ label: name, color: COLORS[i % COLORS.length]!, mode: 'line' as const, points: rows.map((row) => [s6(row.t + iv / 2), pick(row)] as [number, number]) }));
  const th = (re: RegExp) => exps.filter((e) => re.test(e.metric)).map((e) => ({ label: `expect ${e.text}`, y: e.value, color: '#b3261e' }));
  const lim = (ls: HLine[]) => ls.map((l) => ({ label: l.label, y: l.y, color: l.color }));
  const charts: TlChart[] = [
    { id: 'iops', title: `IOPS per disk (per ${formatDuration(iv)}), limits and thresholds dashed`, y_label: 'IOPS', unit: 'iops', series: series((x) => x.iops), lines: [...lim(limits.iops), ...th(/iops$/)] },
    { id: 'bw', title: 'Bandwidth per disk', y_label: 'bandwidth', unit: 'Bps', series: series((x) => x.bw), lines: [...lim(limits.bw), ...th(/^bw$/)] },
    {
      id: 'p99',
      title: 'p99 completion latency per interval',
      y_label: 'p99',
      unit: 'ms',
      series: series((x) => Math.round(x.latP99Ns / 1e3) / 1e3),
      lines: exps.filter((e) => /^p\d|^lat_/.test(e.metric)).map((e) => ({ label: `expect ${e.text}`, y: e.value / 1e6, color: '#b3261e' })),
    },
  ];
  return { end_s: s6(r.simulated_ns), charts, bands: [], marks: [] };
}

export function renderQosReport(q: QosReportInput): string {
  const r = q.result;
  const meta: Array<[string, string]> = [
    ['command', q.command],
    ['vfab version', VFAB_VERSION],
    ['QoS file', q.file],
    ['QoS file sha256', q.fileSha256],
    ['seed', String(r.seed)],
    ['simulated', `${formatDuration(r.simulated_ns)} (${r.completed_ios} I/Os, ${r.events} events)`],
  ];
  const exps = r.expectations ?? [];
  const failed = exps.filter((e) => !e.pass).length;
  const verdicts = exps.length
    ? `<section id="verdicts"><h2>Expectations: ${failed ? `<span class="fail">${failed} of ${exps.length} failed</span>` : `<span class="pass">all ${exps.length} hold</span>`}</h2><table><thead><tr><th></th><th>expectation</th><th>expected</th><th>measured</th></tr></thead><tbody>${exps.map((e) => `<tr><td class="${e.pass ? 'pass' : 'fail'}">${e.pass ? 'PASS' : 'FAIL'}</td>${td(e.text)}${td(e.expected)}${td(e.measured)}</tr>`).join('\n')}</tbody></table></section>`
    : '';
  const head = `<header><h1>vfab QoS report: ${esc(q.file)}</h1><table class="meta-table">${meta.map(([k, v]) => `<tr><th>${esc(k)}</th><td class="mono">${esc(v)}</td></tr>`).join('')}</table></header>${verdicts}`;
  const tl = timeline(r, q.limits, q.expectations);
  const ms = (ns: number) => formatDuration(ns);
  const body = [
    `<section id="timeline"><h2>Timeline</h2><p class="hint">Drag across a chart to zoom (all charts follow), double-click or <button id="tl-reset" type="button">reset zoom</button>; hover for values. Dashed lines: policy limits and expectation thresholds (red).</p><div id="timeline-charts"></div></section>`,
    `<section id="disks"><h2>Disks</h2>${table(
      ['disk', 'backend', 'IOPS', 'bandwidth', 'lat mean', 'p50', 'p99', 'p99.9', 'max', 'throttled I/Os', 'throttle time', 'mean queue'],
      Object.entries(r.disks).map(([n, d]) => [n, d.backend, d.iops, `${formatBytesBinary(d.bw_bytes)}/s`, ms(d.lat_ns.mean), ms(d.lat_ns.p50), ms(d.lat_ns.p99), ms(d.lat_ns.p99_9), ms(d.lat_ns.max), d.throttle?.throttled_ios ?? '-', d.throttle ? ms(d.throttle.throttled_ns) : '-', d.throttle?.mean_queue ?? '-']),
      [2, 9, 11],
    )}</section>`,
    `<section id="jobs"><h2>Jobs</h2>${table(
      ['job', 'disk', 'read IOPS', 'write IOPS', 'read p99', 'write p99', 'runtime ms'],
      r.fio.jobs.map((j) => [j.jobname, j['job options']['filename'] ?? '', Math.round(j.read.iops), Math.round(j.write.iops), j.read.total_ios ? ms(j.read.clat_ns.percentile?.['99.000000'] ?? 0) : '-', j.write.total_ios ? ms(j.write.clat_ns.percentile?.['99.000000'] ?? 0) : '-', j.job_runtime]),
      [2, 3, 6],
    )}</section>`,
    `<section id="backends"><h2>Backends</h2>${table(['backend', 'scheduler', 'served', 'utilisation', 'max queue'], Object.entries(r.backends).map(([n, b]) => [n, b.scheduler, b.served, b.utilisation, b.max_queue]), [2, 3, 4])}</section>`,
  ].join('\n');
  return renderPage({
    title: `vfab QoS report: ${q.file}`,
    head,
    ...(q.diagram ? { diagram: q.diagram } : {}),
    body,
    data: { details: q.diagram ? diagramDetails(q.diagram) : {}, timeline: tl },
    assets: q.assets,
    charts: true,
  });
}
