/** Plain-text rendering of QoS results (tables a terminal or a CI log shows). */
import type { QosResult } from './run.js';
import { formatNs } from './run.js';
import { formatSize } from '../util/units.js';

export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

export function renderRun(file: string, r: QosResult): string {
  const out: string[] = [];
  out.push(`${file}: ${formatNs(r.simulated_ns)} simulated, ${r.completed_ios} I/Os, seed ${r.seed}`);
  out.push('');
  out.push(
    table(
      ['disk', 'iops', 'bw', 'lat mean', 'p50', 'p99', 'p99.9', 'max', 'throttled', 'throttle time', 'mean queue'],
      Object.entries(r.disks).map(([name, d]) => [
        name,
        String(Math.round(d.iops)),
        `${formatSize(d.bw_bytes)}/s`,
        formatNs(d.lat_ns.mean),
        formatNs(d.lat_ns.p50),
        formatNs(d.lat_ns.p99),
        formatNs(d.lat_ns.p99_9),
        formatNs(d.lat_ns.max),
        d.throttle ? `${d.throttle.throttled_ios} (${d.throttle.kind}${d.throttle.group !== name ? ` group ${d.throttle.group}` : ''})` : '-',
        d.throttle ? formatNs(d.throttle.throttled_ns) : '-',
        d.throttle ? String(d.throttle.mean_queue) : '-',
      ]),
    ),
  );
  out.push('');
  out.push(
    table(
      ['job', 'disk', 'read iops', 'write iops', 'read p99', 'write p99', 'runtime'],
      r.fio.jobs.map((j) => [
        j.jobname,
        j['job options']['filename'] ?? '',
        String(Math.round(j.read.iops)),
        String(Math.round(j.write.iops)),
        j.read.total_ios ? formatNs(j.read.clat_ns.percentile?.['99.000000'] ?? 0) : '-',
        j.write.total_ios ? formatNs(j.write.clat_ns.percentile?.['99.000000'] ?? 0) : '-',
        `${j.job_runtime} ms`,
      ]),
    ),
  );
  return `${out.join('\n')}\n`;
}

export function renderTest(file: string, r: QosResult): string {
  const exps = r.expectations ?? [];
  const failed = exps.filter((e) => !e.pass);
  const out: string[] = [];
  out.push(table(['', 'expectation', 'metric', 'measured'], exps.map((e) => [e.pass ? 'PASS' : 'FAIL', e.text, e.metric, e.measured])));
  out.push('');
  if (failed.length === 0) out.push(`${file}: all ${exps.length} expectations hold (${formatNs(r.simulated_ns)} simulated, ${r.completed_ios} I/Os)`);
  else {
    out.push(`${file}: ${failed.length} of ${exps.length} expectations failed:`);
    out.push('');
    out.push(table(['expected', 'metric', 'measured'], failed.map((e) => [e.expected, e.metric, e.measured])));
  }
  return `${out.join('\n')}\n`;
}
