/**
 * The run report's timeline: charts (series of [time s, value] points), bands (intervals such as
 * pre-copy rounds and the migration pause) and marks (instants such as link down/up, MAC moves,
 * announce frames, VF changes), all on one simulated-time axis.
 *
 * Built from the run summary only, tolerant of what it holds: a section that is absent (no
 * migration, no UDP series, an older summary) simply draws nothing. Sections other helpers add
 * later are drawn when they carry the shapes documented here (`rx_series` on any app).
 */
import type { RunSummary } from '../fabric/summary.js';
import { text } from './format.js';

export interface TlSeries {
  label: string;
  color: string;
  mode: 'points' | 'line' | 'step';
  points: Array<[number, number]>;
  unit?: string;
  size?: number;
}

export interface TlChart {
  id: string;
  title: string;
  y_label: string;
  unit: string;
  series: TlSeries[];
  lines?: Array<{ label: string; y: number; color: string }>;
  y_max?: number;
  height?: number;
}

export interface TlBand {
  kind: string;
  label: string;
  start_ns: number;
  end_ns: number;
}

export interface TlMark {
  kind: string;
  label: string;
  t_ns: number;
}

export interface Timeline {
  end_s: number;
  charts: TlChart[];
  bands: TlBand[];
  marks: TlMark[];
}

export const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#d62728'];
const s6 = (ns: number): number => Math.round(ns / 1e3) / 1e6;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Marks per event type (the rest are listed in the events table only). */
const EVENT_MARKS: Record<string, string> = {
  link_down: 'link_down',
  'link-down': 'link_down',
  link_up: 'link_up',
  'link-up': 'link_up',
  mac_move: 'mac_move',
  'vf-config': 'vf',
  'sriov-numvfs': 'vf',
  'eswitch-mode': 'vf',
  'vf-spoofed': 'vf',
  'vf-unplug': 'vf',
  'vf-plug': 'vf',
  failover: 'vf',
};

function describeEvent(e: Record<string, unknown>): string {
  const { type, time_ns: _t, ...rest } = e;
  return `${text(type)} ${Object.entries(rest).map(([k, v]) => `${k}=${text(v)}`).join(' ')}`;
}

export function buildTimeline(s: RunSummary): Timeline {
  const charts: TlChart[] = [];
  const bands: TlBand[] = [];
  const marks: TlMark[] = [];
  const apps = Array.isArray(s.apps) ? s.apps : [];

  // pings: RTT at the probe's send time, losses as marks on the axis
  const ping: TlSeries[] = [];
  apps.forEach((a, i) => {
    if (a.app !== 'ping') return;
    const color = COLORS[i % COLORS.length]!;
    const replies = Array.isArray(a['replies']) ? (a['replies'] as unknown[]).filter(isObj) : [];
    const pts: Array<[number, number]> = [];
    const got = new Set<number>();
    for (const r of replies) {
      const t = num(r['time_ns']);
      const rtt = num(r['rtt_ns']);
      const seq = num(r['seq']);
      if (t === undefined || rtt === undefined) continue;
      if (seq !== undefined) got.add(seq);
      pts.push([s6(t - rtt), Math.round(rtt / 1e3) / 1e3]);
    }
    const label = `ping ${a.from} → ${a.to}`;
    ping.push({ label, color, mode: 'points', points: pts, size: 5 });
    const sent = num(a['sent']) ?? 0;
    const interval = num(a['interval_ns']);
    if (interval !== undefined && sent > 0) {
      const lost: Array<[number, number]> = [];
      for (let seq = 1; seq <= sent; seq++) if (!got.has(seq)) lost.push([s6(a.start_ns + (seq - 1) * interval), 0]);
      if (lost.length > 0) ping.push({ label: `${label} lost`, color: '#d62728', mode: 'points', points: lost, size: 7 });
    }
  });
  if (ping.length > 0) charts.push({ id: 'ping', title: 'Ping round-trip time (lost probes at 0, in red)', y_label: 'RTT', unit: 'ms', series: ping });

  // flows: receiver throughput per interval (UDP today; any app that carries rx_series)
  const thr: TlSeries[] = [];
  apps.forEach((a, i) => {
    const rs = a['rx_series'];
    if (!isObj(rs)) return;
    const iv = num(rs['interval_ns']);
    const bytes = Array.isArray(rs['bytes']) ? (rs['bytes'] as unknown[]).map((b) => num(b) ?? 0) : [];
    if (iv === undefined || iv <= 0) return;
    // one point at the start of each interval, held until the next (a step chart)
    const pts: Array<[number, number]> = bytes.map((b, k) => [s6(k * iv), Math.round((b * 8 * 1e9) / iv)]);
    if (pts.length > 0) pts.push([s6(bytes.length * iv), pts[pts.length - 1]![1]]);
    thr.push({ label: `${a.app} ${a.from} → ${a.to}${a['port'] !== undefined ? `:${text(a['port'])}` : ''}`, color: COLORS[i % COLORS.length]!, mode: 'step', points: pts });
  });
  if (thr.length > 0) charts.push({ id: 'throughput', title: 'Flow throughput at the receiver (per 100 ms)', y_label: 'throughput', unit: 'bps', series: thr });

  // TCP (iperf apps): goodput, congestion window and smoothed RTT per reporting interval, per
  // stream, as `iperf3 -i` prints them (snd_cwnd in bytes, rtt in µs); the interval's simulation
  // time places them on the run's axis.
  const tcpThr: TlSeries[] = [];
  const cwnd: TlSeries[] = [];
  const rtt: TlSeries[] = [];
  apps.forEach((a, i) => {
    const ivs = Array.isArray(a['intervals']) ? (a['intervals'] as unknown[]).filter(isObj) : [];
    if (ivs.length === 0) return;
    const name = `${a.app} ${text(a['src'] ?? a.from)} → ${text(a['dst'] ?? a.to)}`;
    const color = COLORS[i % COLORS.length]!;
    const sum: Array<[number, number]> = [];
    const perStream = new Map<number, { cwnd: Array<[number, number]>; rtt: Array<[number, number]> }>();
    for (const iv of ivs) {
      const t0 = num(iv['sim_start_ns']);
      const t1 = num(iv['sim_end_ns']);
      if (t0 === undefined || t1 === undefined) continue;
      const sm = isObj(iv['sum']) ? num(iv['sum']['bits_per_second']) : undefined;
      if (sm !== undefined) sum.push([s6(t0), sm]);
      for (const st of Array.isArray(iv['streams']) ? (iv['streams'] as unknown[]).filter(isObj) : []) {
        const sock = num(st['socket']) ?? 0;
        let e = perStream.get(sock);
        if (!e) perStream.set(sock, (e = { cwnd: [], rtt: [] }));
        const c = num(st['snd_cwnd']);
        const r = num(st['rtt']);
        if (c !== undefined) e.cwnd.push([s6(t1), c]);
        if (r !== undefined && r > 0) e.rtt.push([s6(t1), r / 1000]);
      }
      if (sum.length > 0 && ivs[ivs.length - 1] === iv) sum.push([s6(t1), sum[sum.length - 1]![1]]);
    }
    if (sum.length > 0 && !isObj(a['rx_series'])) tcpThr.push({ label: name, color, mode: 'step', points: sum });
    const many = perStream.size > 1;
    for (const [sock, e] of perStream) {
      const label = many ? `${name} [${sock}]` : name;
      if (e.cwnd.length > 0) cwnd.push({ label, color: many ? COLORS[(i + sock) % COLORS.length]! : color, mode: 'line', points: e.cwnd });
      if (e.rtt.length > 0) rtt.push({ label, color: many ? COLORS[(i + sock) % COLORS.length]! : color, mode: 'line', points: e.rtt });
    }
  });
  if (tcpThr.length > 0) charts.push({ id: 'tcp-throughput', title: 'TCP throughput (iperf reporting intervals)', y_label: 'throughput', unit: 'bps', series: tcpThr });
  if (cwnd.length > 0) charts.push({ id: 'tcp-cwnd', title: 'TCP congestion window at the sender (end of each interval)', y_label: 'cwnd', unit: 'B', series: cwnd });
  if (rtt.length > 0) charts.push({ id: 'tcp-rtt', title: 'TCP smoothed RTT at the sender (end of each interval)', y_label: 'srtt', unit: 'ms', series: rtt });

  // storage jobs (fio steps in the run): IOPS, bandwidth and p99 per interval per disk, with the
  // throttles' limits and the storage expectations' thresholds, as `vfab qos run --report` draws them
  const st = isObj(s['storage']) ? s['storage'] : undefined;
  const stl = st && isObj(st['timelines']) ? st['timelines'] : undefined;
  const siv = stl ? num(stl['interval_ns']) : undefined;
  if (st && stl && siv !== undefined && siv > 0 && isObj(stl['disks'])) {
    const disks = Object.entries(stl['disks']).map(([name, rows]) => [name, Array.isArray(rows) ? (rows as unknown[]).filter(isObj) : []] as const);
    const ser = (pick: (r: Record<string, unknown>) => number | undefined): TlSeries[] =>
      disks.map(([name, rows], i) => ({
        label: name,
        color: COLORS[i % COLORS.length]!,
        mode: 'line' as const,
        points: rows.flatMap((r): Array<[number, number]> => {
          const t = num(r['t']);
          const v = pick(r);
          return t === undefined || v === undefined ? [] : [[s6(t + siv / 2), v]];
        }),
      }));
    const lines = (o: unknown, key: string, scale = 1, color = '#555555'): Array<{ label: string; y: number; color: string }> => {
      const arr = isObj(o) && Array.isArray(o[key]) ? (o[key] as unknown[]).filter(isObj) : [];
      return arr.flatMap((l) => (num(l['y']) !== undefined ? [{ label: text(l['label']), y: num(l['y'])! * scale, color }] : []));
    };
    const limits = st['limits'];
    const ths = st['thresholds'];
    charts.push({ id: 'storage-iops', title: `Storage: IOPS per disk (per ${siv / 1e6} ms), limits and thresholds dashed`, y_label: 'IOPS', unit: 'iops', series: ser((r) => num(r['iops'])), lines: [...lines(limits, 'iops'), ...lines(ths, 'iops', 1, '#b3261e')] });
    charts.push({ id: 'storage-bw', title: 'Storage: bandwidth per disk', y_label: 'bandwidth', unit: 'Bps', series: ser((r) => num(r['bw'])), lines: [...lines(limits, 'bw'), ...lines(ths, 'bw', 1, '#b3261e')] });
    charts.push({ id: 'storage-p99', title: 'Storage: p99 completion latency per interval', y_label: 'p99', unit: 'ms', series: ser((r) => (num(r['latP99Ns']) !== undefined ? Math.round(num(r['latP99Ns'])! / 1e3) / 1e3 : undefined)), lines: lines(ths, 'lat_ns', 1e-6, '#b3261e') });
  }

  // migrations: pre-copy rounds and the pause as bands; switchover, announces, reconvergence as marks
  const migs = Array.isArray(s['migrations']) ? (s['migrations'] as unknown[]).filter(isObj) : [];
  for (const m of migs) {
    const vm = text(m['vm']);
    for (const r of Array.isArray(m['precopy']) ? (m['precopy'] as unknown[]).filter(isObj) : []) {
      const a = num(r['start_ns']);
      const b = num(r['end_ns']);
      if (a !== undefined && b !== undefined) bands.push({ kind: 'precopy', label: `${vm}: pre-copy round ${text(r['round'])} (${text(r['bytes'])} bytes)`, start_ns: a, end_ns: b });
    }
    const p = num(m['pause_ns']);
    const q = num(m['resume_ns']);
    if (p !== undefined) bands.push({ kind: 'pause', label: `${vm}: paused (stop-and-copy)${q !== undefined ? `, downtime ${((q - p) / 1e6).toFixed(3)} ms` : ''}`, start_ns: p, end_ns: q ?? p });
    if (q !== undefined) marks.push({ kind: 'switchover', label: `${vm}: switchover and resume`, t_ns: q });
    for (const t of Array.isArray(m['timeline']) ? (m['timeline'] as unknown[]).filter(isObj) : []) {
      const what = text(t['what']);
      const at = num(t['time_ns']);
      if (at === undefined) continue;
      if (/RARP|GARP|\bNA\b|announce/i.test(what)) marks.push({ kind: 'announce', label: `${vm}: ${what}`, t_ns: at });
      else if (/VF|failover/i.test(what)) marks.push({ kind: 'vf', label: `${vm}: ${what}`, t_ns: at });
    }
    const rc = num(m['reconverged_ns']);
    if (rc !== undefined) marks.push({ kind: 'reconverged', label: `${vm}: all MAC tables re-converged`, t_ns: rc });
  }
  for (const e of Array.isArray(s.events) ? (s.events as unknown[]).filter(isObj) : []) {
    const kind = EVENT_MARKS[text(e['type'])];
    const t = num(e['time_ns']);
    if (kind !== undefined && t !== undefined) marks.push({ kind, label: describeEvent(e), t_ns: t });
  }
  marks.sort((a, b) => a.t_ns - b.t_ns || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
  const end = num(s.simulated_ns) ?? 0;
  // With no chart the bands and marks still need an axis: an empty "scenario" strip.
  if (charts.length === 0) {
    charts.push({ id: 'events', title: 'Scenario events (hover a band or a mark)', y_label: '', unit: '', series: [], height: 90, y_max: 1 });
  }
  return { end_s: s6(end), charts, bands, marks };
}
