/**
 * The run summary: one JSON object (`vfab run --json`) and a readable text rendering of it.
 *
 * Deterministic by construction: ports are sorted by path, apps are in scenario order, events in
 * simulated-time order, and nothing reads a wall clock. Keys (the design map's contract):
 * `topology`, `seed`, `simulated_ns`, `ports`, `apps`, `events`, and extension sections when they
 * happen (`migrations`, `disks`, …).
 */
import type { FabricEvent } from '../port/nic.js';
import type { Port, PortCounters } from '../port/port.js';
import { formatTime } from '../sim/time.js';

/**
 * One scenario app's result: the guest app's own result (`guest/apps.ts`: ping `sent`,
 * `received`, `loss_pct`, `rtt_*_ns`, `replies`; UDP `sent_packets`, `received_packets`, `lost`,
 * `loss_pct`, latency and jitter) plus where and when: `app`, `from` (VM), `to` (IPv4),
 * `start_ns`, and for UDP the configured `rate_bps`, `size`, `duration_ns` and the receiver's
 * `throughput_bps`.
 */
export interface AppSummary {
  app: 'ping' | 'udp' | 'iperf' | 'rpc';
  /** The app's name for expectations (`ping1`, `iperf2`, or the file's `name:`). */
  name?: string;
  from: string;
  to: string;
  start_ns: number;
  [field: string]: unknown;
}

export interface LinkSummary {
  a: string;
  b: string;
  up: boolean;
  a_to_b: LinkDirectionSummary;
  b_to_a: LinkDirectionSummary;
}

export interface LinkDirectionSummary {
  frames: number;
  bytes: number;
  queue_full: number;
  lost: number;
  link_down: number;
  max_queued: number;
  /** fq_codel / red only: drops by reason and CE marks. */
  qdisc_drops?: Record<string, number>;
  ecn_marks?: number;
}

export interface RunSummary {
  /** The vfab that wrote it (`src/version.ts`); reports refuse other versions. */
  vfab_version?: string;
  topology: string;
  /** The topology file as given to the run (reports load it again to draw the diagram). */
  topology_file?: string;
  /** SHA-256 of the validated topology document as canonical JSON (comments and layout do not count). */
  topology_sha256?: string;
  /** True when the run was interrupted (Ctrl-C) before `until`: counters are as of `simulated_ns`. */
  partial?: boolean;
  seed: number;
  simulated_ns: number;
  /** Simulation events executed (deterministic). */
  sim_events: number;
  ports: Record<string, PortCounters>;
  links: Record<string, LinkSummary>;
  apps: AppSummary[];
  /** Fabric events in time order (the first `eventLimit`; `events_total` counts them all). */
  events: FabricEvent[];
  events_total: Record<string, number>;
  [section: string]: unknown;
}

export function portCounters(ports: readonly Port[]): Record<string, PortCounters> {
  const out: Record<string, PortCounters> = {};
  for (const p of ports) {
    const c = p.counters;
    const drops: Record<string, number> = {};
    for (const k of Object.keys(c.drops).sort()) drops[k] = c.drops[k]!;
    out[p.path] = { rx_packets: c.rx_packets, rx_bytes: c.rx_bytes, tx_packets: c.tx_packets, tx_bytes: c.tx_bytes, drops };
  }
  return out;
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

function table(head: string[], rows: string[][], right: boolean[]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (right[i] ? lpad(c, w[i]!) : pad(c, w[i]!))).join('  ').trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)];
}

const ms = (ns: number | null): string => (ns === null ? '-' : (ns / 1e6).toFixed(3));

function rate(bps: number): string {
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(2)} Gbit/s`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mbit/s`;
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(2)} kbit/s`;
  return `${bps.toFixed(0)} bit/s`;
}

/** Human-readable summary: apps, per-port counters, events, extension sections. */
export function renderSummary(s: RunSummary, sectionText: Array<{ key: string; lines: string[] }> = []): string {
  const out: string[] = [];
  if (s.partial) out.push(`PARTIAL: interrupted at ${formatTime(s.simulated_ns)} of simulated time; counters are as of then`);
  out.push(`topology ${s.topology}  seed ${s.seed}  simulated ${formatTime(s.simulated_ns)}  (${s.sim_events} events)`);
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  const str = (v: unknown): string => (v === null || v === undefined ? '-' : fieldText(v));
  const pings = s.apps.filter((a) => a.app === 'ping');
  const udps = s.apps.filter((a) => a.app === 'udp');
  if (pings.length > 0) {
    out.push('', 'ping');
    out.push(
      ...table(
        ['from', 'to', 'at', 'sent', 'recv', 'loss', 'rtt min/avg/max ms'],
        pings.map((p) => [p.from, p.to, formatTime(p.start_ns), str(p['sent']), str(p['received']), `${str(p['loss_pct'])}%`, `${ms(num(p['rtt_min_ns']))}/${ms(num(p['rtt_avg_ns']))}/${ms(num(p['rtt_max_ns']))}`]),
        [false, false, true, true, true, true, false],
      ),
    );
  }
  if (udps.length > 0) {
    out.push('', 'udp');
    out.push(
      ...table(
        ['from', 'to', 'at', 'rate', 'sent', 'recv', 'loss', 'throughput'],
        udps.map((u) => [u.from, `${u.to}:${str(u['port'])}`, formatTime(u.start_ns), rate(num(u['rate_bps']) ?? 0), str(u['sent_packets']), str(u['received_packets']), `${str(u['loss_pct'])}%`, rate(num(u['throughput_bps']) ?? 0)]),
        [false, false, true, true, true, true, true, true],
      ),
    );
  }
  const iperfs = s.apps.filter((a) => a.app === 'iperf');
  if (iperfs.length > 0) {
    out.push('', 'iperf');
    out.push(
      ...table(
        ['name', 'from', 'to', 'at', 'cc', 'streams', 'throughput', 'retransmits', 'errors'],
        iperfs.map((a) => {
          const end = a['end'] as { sum_received?: { bits_per_second?: number } } | undefined;
          const errs = a['errors'] as string[] | undefined;
          return [str(a.name), a.from, `${a.to}:${str(a['port'])}${a['reverse'] ? ' (reverse)' : ''}`, formatTime(a.start_ns), str(a['cc']), str(a['parallel']), rate(end?.sum_received?.bits_per_second ?? 0), str(a['retransmits']), errs && errs.length ? errs.join(',') : '-'];
        }),
        [false, false, false, true, false, true, true, true, false],
      ),
    );
  }
  const rpcs = s.apps.filter((a) => a.app === 'rpc');
  if (rpcs.length > 0) {
    out.push('', 'rpc (latency ms)');
    out.push(
      ...table(
        ['name', 'from', 'to', 'at', 'done', 'failed', 'req/s', 'p50', 'p90', 'p99', 'p99.9', 'max'],
        rpcs.map((a) => {
          const l = (a['latency_ns'] ?? {}) as Record<string, number | null>;
          return [str(a.name), a.from, `${a.to}:${str(a['port'])}`, formatTime(a.start_ns), str(a['completed']), str(a['failed']), str(a['requests_per_s']), ms(l['p50'] ?? null), ms(l['p90'] ?? null), ms(l['p99'] ?? null), ms(l['p99_9'] ?? null), ms(l['max'] ?? null)];
        }),
        [false, false, false, true, true, true, true, true, true, true, true, true],
      ),
    );
  }
  const ports = Object.entries(s.ports);
  if (ports.length > 0) {
    out.push('', 'ports');
    out.push(
      ...table(
        ['port', 'rx pkts', 'rx bytes', 'tx pkts', 'tx bytes', 'drops'],
        ports.map(([path, c]) => [
          path,
          String(c.rx_packets),
          String(c.rx_bytes),
          String(c.tx_packets),
          String(c.tx_bytes),
          Object.entries(c.drops).map(([k, v]) => `${k}=${v}`).join(' ') || '-',
        ]),
        [false, true, true, true, true, false],
      ),
    );
  }
  const links = Object.entries(s.links);
  if (links.length > 0) {
    out.push('', 'links');
    out.push(
      ...table(
        ['link', 'ends', 'state', 'a->b frames', 'b->a frames', 'lost', 'queue-full'],
        links.map(([name, l]) => [
          name,
          `${l.a} <-> ${l.b}`,
          l.up ? 'up' : 'down',
          String(l.a_to_b.frames),
          String(l.b_to_a.frames),
          String(l.a_to_b.lost + l.b_to_a.lost),
          String(l.a_to_b.queue_full + l.b_to_a.queue_full),
        ]),
        [false, false, false, true, true, true, true],
      ),
    );
  }
  const totals = Object.entries(s.events_total);
  if (totals.length > 0) {
    out.push('', `events (${totals.map(([k, v]) => `${k}=${v}`).join(' ')})`);
    const shown = s.events.slice(0, 40);
    for (const e of shown) {
      const { type, time_ns, ...rest } = e;
      const detail = Object.entries(rest).map(([k, v]) => `${k}=${fieldText(v)}`).join(' ');
      out.push(`  ${lpad(formatTime(time_ns), 12)}  ${type}  ${detail}`);
    }
    if (s.events.length > shown.length) out.push(`  … ${s.events.length - shown.length} more (see --json)`);
  }
  for (const sec of sectionText) {
    if (sec.lines.length === 0) continue;
    out.push('', sec.key, ...sec.lines.map((l) => `  ${l}`));
  }
  return `${out.join('\n')}\n`;
}

/** A summary field as text: scalars as String() writes them, objects (and null) as JSON. */
function fieldText(v: unknown): string {
  if (typeof v === 'object') return JSON.stringify(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === undefined) return String(v);
  return typeof v; // functions and symbols never appear in a summary
}
