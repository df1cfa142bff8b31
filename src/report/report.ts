/**
 * The run report: one self-contained HTML page from a run summary (and, when the topology file is
 * at hand, its diagram). Sections, top to bottom: how to reproduce it (command, vfab version,
 * topology hash, seed), expectation verdicts when present, the clickable diagram (ports, links,
 * VMs show counters and drops by reason), the timeline, then tables: apps, migrations, links,
 * ports, per-bridge flow tables and MAC tables, events, and any other summary section as JSON.
 *
 * It reads summaries; it never runs a simulation. Deterministic: the same summary, diagram and
 * command give the same bytes.
 */
import { errorMessage, UserError } from '../errors.js';
import type { RunSummary } from '../fabric/summary.js';
import type { PortCounters } from '../port/port.js';
import { VFAB_VERSION } from '../version.js';
import { esc, text } from './format.js';
import type { Diagram } from './graph.js';
import { diagramDetails, renderPage, type DetailItem, type ReportAssets } from './page.js';
import { buildTimeline, type Timeline } from './timeline.js';
import { formatBitRate, formatDuration } from '../util/axis.js';

export interface ReportOptions {
  /** The command line to show (`vfab run topologies/x.yaml --report out/r.html`). */
  command: string;
  /** The command that reproduces the run, when known. */
  reproduce?: string;
  diagram?: Diagram;
  assets: ReportAssets;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
// Summaries come from JSON files: a section an older or newer writer left out is absent.
function linksOf(s: RunSummary): RunSummary['links'] {
  return isObj(s.links) ? s.links : {};
}
function totalsOf(s: RunSummary): RunSummary['events_total'] {
  return isObj(s.events_total) ? s.events_total : {};
}
const str = text;
const td = (v: unknown, numeric = false): string => `<td${numeric ? ' class="num"' : ''}>${esc(str(v))}</td>`;

function table(head: string[], rows: unknown[][], numericCols: number[] = []): string {
  if (rows.length === 0) return '<p class="hint">none</p>';
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => td(c, numericCols.includes(i))).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/**
 * Checks that `text` is a run summary this vfab can draw: JSON, an object with the summary's
 * keys, written by this version. Throws a `UserError` naming the file otherwise.
 */
export function parseSummary(text: string, file: string): RunSummary {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError('REPORT_BAD_SUMMARY', `not JSON: ${errorMessage(e)}`, { where: file, hint: 'give the output of vfab run FILE --json' });
  }
  if (!isObj(v) || typeof v['topology'] !== 'string' || !isObj(v['ports']) || !Array.isArray(v['apps'])) {
    throw new UserError('REPORT_BAD_SUMMARY', 'not a vfab run summary (expected an object with topology, ports, apps)', { where: file, hint: 'give the output of vfab run FILE --json' });
  }
  const ver = v['vfab_version'];
  if (ver !== VFAB_VERSION) {
    throw new UserError(
      'REPORT_SUMMARY_VERSION',
      `the summary was written by ${typeof ver === 'string' ? `vfab ${ver}` : 'a vfab without version stamps'}; this is vfab ${VFAB_VERSION}`,
      { where: file, hint: 're-run the topology with this vfab (vfab run FILE --json) and report on that' },
    );
  }
  return v as unknown as RunSummary;
}

function portDetail(path: string, c: PortCounters | undefined, base?: DetailItem): DetailItem {
  const rows: Array<[string, string]> = [...(base?.rows ?? [])];
  if (c) rows.push(['rx packets', String(c.rx_packets)], ['rx bytes', String(c.rx_bytes)], ['tx packets', String(c.tx_packets)], ['tx bytes', String(c.tx_bytes)]);
  else rows.push(['counters', 'none (port not in the summary)']);
  const drops = c ? Object.entries(c.drops).map(([k, n]) => [k, n] as [string, number]) : [];
  return { title: `port ${path}`, rows, drops };
}

/** Click details: the diagram's configuration plus the run's counters. */
function details(s: RunSummary, d: Diagram | undefined): Record<string, DetailItem> {
  const items = d ? diagramDetails(d) : {};
  for (const [path, c] of Object.entries(s.ports)) items[path] = portDetail(path, c, items[path]);
  if (d) {
    for (const n of d.graph.nodes) {
      const it = items[n.id];
      if (!it) continue;
      const ports = n.ports.map((p) => s.ports[p.id]).filter((c): c is PortCounters => c !== undefined);
      if (ports.length > 0) {
        const sum = (k: 'rx_packets' | 'tx_packets' | 'rx_bytes' | 'tx_bytes') => ports.reduce((a, c) => a + c[k], 0);
        it.rows.push(['rx packets (all ports)', String(sum('rx_packets'))], ['tx packets (all ports)', String(sum('tx_packets'))], ['rx bytes', String(sum('rx_bytes'))], ['tx bytes', String(sum('tx_bytes'))]);
        const drops = new Map<string, number>();
        for (const c of ports) for (const [k, v] of Object.entries(c.drops)) drops.set(k, (drops.get(k) ?? 0) + v);
        it.drops = [...drops].sort((a, b) => (a[0] < b[0] ? -1 : 1));
      }
      if (n.kind === 'vm') for (const a of s.apps.filter((x) => x.from === n.id)) it.rows.push([`${a.app} → ${a.to}`, a.app === 'ping' ? `${str(a['received'])}/${str(a['sent'])} replies, loss ${str(a['loss_pct'])}%` : `${str(a['received_packets'])}/${str(a['sent_packets'])} datagrams, loss ${str(a['loss_pct'])}%`]);
      const br = isObj(s['bridges']) ? s['bridges'][n.id] : undefined;
      if (isObj(br)) it.rows.push(['flows', String(Array.isArray(br['flows']) ? br['flows'].length : 0)], ['MAC entries', String(Array.isArray(br['mac_table']) ? br['mac_table'].length : 0)]);
    }
  }
  for (const [name, l] of Object.entries(linksOf(s))) {
    const it = items[name] ?? { title: `link ${name}`, rows: [] };
    const dir = (k: string, x: LinkDir) => [[`${k} frames`, String(x.frames)], [`${k} bytes`, String(x.bytes)], [`${k} max queued`, String(x.max_queued)]] as Array<[string, string]>;
    it.rows.push(['state at end', l.up ? 'up' : 'down'], ...dir(`${l.a} →`, l.a_to_b), ...dir(`${l.b} →`, l.b_to_a));
    it.drops = [
      ['lost', l.a_to_b.lost + l.b_to_a.lost],
      ['queue_full', l.a_to_b.queue_full + l.b_to_a.queue_full],
      ['link_down', l.a_to_b.link_down + l.b_to_a.link_down],
    ];
    items[name] = it;
  }
  return items;
}

type LinkDir = RunSummary['links'][string]['a_to_b'];

function expectations(s: RunSummary): string {
  const raw = s['expectations'] ?? s['expect'];
  const list = Array.isArray(raw) ? raw.filter(isObj) : isObj(raw) && Array.isArray(raw['results']) ? (raw['results'] as unknown[]).filter(isObj) : [];
  if (list.length === 0) return '';
  const pass = (e: Record<string, unknown>): boolean => e['pass'] === true || e['ok'] === true || e['verdict'] === 'pass' || e['status'] === 'pass';
  const failed = list.filter((e) => !pass(e)).length;
  const rows = list
    .map((e) => {
      const ok = pass(e);
      const what = e['text'] ?? e['expect'] ?? e['name'] ?? e['expected'] ?? '';
      return `<tr><td class="${ok ? 'pass' : 'fail'}">${ok ? 'PASS' : 'FAIL'}</td>${td(what)}${td(e['expected'] ?? '')}${td(e['measured'] ?? e['actual'] ?? '')}</tr>`;
    })
    .join('\n');
  return `<section id="verdicts"><h2>Expectations: ${failed === 0 ? `<span class="pass">all ${list.length} hold</span>` : `<span class="fail">${failed} of ${list.length} failed</span>`}</h2><table><thead><tr><th></th><th>expectation</th><th>expected</th><th>measured</th></tr></thead><tbody>\n${rows}\n</tbody></table></section>`;
}

function header(s: RunSummary, o: ReportOptions): string {
  const rows: Array<[string, string]> = [
    ['command', o.command],
    ...(o.reproduce ? [['reproduce', o.reproduce] as [string, string]] : []),
    ['vfab version', str(s.vfab_version)],
    ['topology', s.topology],
    ['topology sha256', str(s.topology_sha256)],
    ['seed', String(s.seed)],
    ['simulated', `${formatDuration(s.simulated_ns)} (${s.sim_events} events)`],
  ];
  const meta = `<table class="meta-table">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td class="mono">${esc(v)}</td></tr>`).join('')}</table>`;
  const partial = s.partial ? '<div class="partial"><b>Partial run</b>: interrupted before the end; counters are as of the simulated time below.</div>' : '';
  return `<header><h1>vfab report: ${esc(s.topology)}</h1>${partial}${meta}</header>`;
}

function appTables(s: RunSummary): string {
  const pings = s.apps.filter((a) => a.app === 'ping');
  const udps = s.apps.filter((a) => a.app === 'udp');
  // apps other helpers add (tcp, …): shown as JSON until the report knows them
  const others = s.apps.filter((a) => !['ping', 'udp'].includes(a.app));
  const ms = (v: unknown) => (typeof v === 'number' ? (v / 1e6).toFixed(3) : '-');
  const out: string[] = ['<section id="apps"><h2>Apps</h2>'];
  if (pings.length) {
    out.push('<h3>ping</h3>', table(['from', 'to', 'start', 'sent', 'received', 'loss %', 'rtt min ms', 'avg ms', 'max ms'], pings.map((p) => [p.from, p.to, formatDuration(p.start_ns), p['sent'], p['received'], p['loss_pct'], ms(p['rtt_min_ns']), ms(p['rtt_avg_ns']), ms(p['rtt_max_ns'])]), [3, 4, 5, 6, 7, 8]));
  }
  if (udps.length) {
    out.push('<h3>udp</h3>', table(['from', 'to', 'port', 'start', 'rate', 'sent', 'received', 'loss %', 'throughput', 'jitter'], udps.map((u) => [u.from, u.to, u['port'], formatDuration(u.start_ns), formatBitRate(Number(u['rate_bps'] ?? 0)), u['sent_packets'], u['received_packets'], u['loss_pct'], formatBitRate(Number(u['throughput_bps'] ?? 0)), typeof u['jitter_ns'] === 'number' ? formatDuration(u['jitter_ns']) : '-']), [5, 6, 7]));
  }
  for (const a of others) out.push(`<h3>${esc(a.app)} ${esc(a.from)} → ${esc(a.to)}</h3><pre class="mono">${esc(JSON.stringify(a, null, 1))}</pre>`);
  if (s.apps.length === 0) out.push('<p class="hint">no apps in the scenario</p>');
  out.push('</section>');
  return out.join('\n');
}

function migrationTable(s: RunSummary): string {
  const migs = Array.isArray(s['migrations']) ? (s['migrations'] as unknown[]).filter(isObj) : [];
  if (migs.length === 0) return '';
  const rows = migs.map((m) => [m['vm'], `${str(m['from'])} → ${str(m['to'])}`, m['status'], m['rounds'], m['transferred_bytes'], typeof m['downtime_ns'] === 'number' ? formatDuration(m['downtime_ns']) : '-', m['packets_lost'], isObj(m['announce']) ? m['announce']['frames'] : '-', typeof m['reconverged_ns'] === 'number' ? formatDuration(m['reconverged_ns']) : '-']);
  const tl = migs.map((m) => table(['time', 'what'], (Array.isArray(m['timeline']) ? (m['timeline'] as unknown[]).filter(isObj) : []).map((t) => [formatDuration(Number(t['time_ns'])), t['what']]))).join('\n');
  return `<section id="migrations"><h2>Migrations</h2>${table(['vm', 'move', 'status', 'rounds', 'bytes', 'downtime', 'lost', 'announce frames', 're-converged at'], rows, [3, 4, 6, 7])}<h3>timeline</h3>${tl}</section>`;
}

function fabricTables(s: RunSummary): string {
  const out: string[] = [];
  out.push('<section id="links"><h2>Links</h2>');
  out.push(table(['link', 'a', 'b', 'state', 'a→b frames', 'b→a frames', 'lost', 'queue full', 'down drops'], Object.entries(linksOf(s)).map(([n, l]) => [n, l.a, l.b, l.up ? 'up' : 'down', l.a_to_b.frames, l.b_to_a.frames, l.a_to_b.lost + l.b_to_a.lost, l.a_to_b.queue_full + l.b_to_a.queue_full, l.a_to_b.link_down + l.b_to_a.link_down]), [4, 5, 6, 7, 8]));
  out.push('</section><section id="ports"><h2>Ports</h2>');
  out.push(table(['port', 'rx packets', 'rx bytes', 'tx packets', 'tx bytes', 'drops by reason'], Object.entries(s.ports).map(([p, c]) => [p, c.rx_packets, c.rx_bytes, c.tx_packets, c.tx_bytes, Object.entries(c.drops).map(([k, v]) => `${k}=${v}`).join(' ') || '-']), [1, 2, 3, 4]));
  out.push('</section>');
  const bridges = isObj(s['bridges']) ? s['bridges'] : {};
  const names = Object.keys(bridges);
  if (names.length > 0) {
    out.push('<section id="bridges"><h2>Bridges: flow tables and MAC tables at the end of the run</h2>');
    for (const name of names) {
      const b = bridges[name];
      if (!isObj(b)) continue;
      const flows = Array.isArray(b['flows']) ? (b['flows'] as unknown[]).filter(isObj) : [];
      const macs = Array.isArray(b['mac_table']) ? (b['mac_table'] as unknown[]).filter(isObj) : [];
      out.push(`<h3 id="bridge-${esc(name)}">${esc(name)}</h3>`);
      out.push(table(['table', 'priority', 'match', 'actions', 'n_packets', 'n_bytes'], flows.map((f) => [f['table'], f['priority'], f['match'] || '(any)', f['actions'], f['n_packets'], f['n_bytes']]), [0, 1, 4, 5]));
      out.push(table(['port', 'VLAN', 'MAC', 'age s'], macs.map((m) => [m['port'], m['vlan'], m['mac'], m['age_s']]), [1, 3]));
    }
    out.push('</section>');
  }
  return out.join('\n');
}

function eventsTable(s: RunSummary): string {
  const ev = (Array.isArray(s.events) ? s.events : []).slice(0, 500);
  const totals = Object.entries(totalsOf(s)).map(([k, v]) => `${k}=${v}`).join(' ');
  return `<section id="events"><h2>Events</h2><p class="hint">${esc(totals || 'none')}</p>${table(['time', 'type', 'detail'], ev.map((e) => {
    const { type, time_ns, ...rest } = e as unknown as Record<string, unknown>;
    return [formatDuration(Number(time_ns)), type, Object.entries(rest).map(([k, v]) => `${k}=${str(v)}`).join(' ')];
  }))}</section>`;
}

const KNOWN = new Set(['vfab_version', 'topology', 'topology_sha256', 'partial', 'seed', 'simulated_ns', 'sim_events', 'ports', 'links', 'apps', 'events', 'events_total', 'migrations', 'bridges', 'expectations', 'expect']);

function otherSections(s: RunSummary): string {
  const keys = Object.keys(s).filter((k) => !KNOWN.has(k));
  if (keys.length === 0) return '';
  return `<section id="sections"><h2>Other sections</h2>${keys.map((k) => `<details><summary>${esc(k)}</summary><pre class="mono">${esc(JSON.stringify(s[k], null, 1))}</pre></details>`).join('\n')}</section>`;
}

function timelineSection(tl: Timeline): string {
  const kinds = [...new Set([...tl.bands.map((b) => `band-${b.kind}`), ...tl.marks.map((m) => `mark-${m.kind}`)])];
  const legend = kinds.map((k) => `<span><i class="${k.startsWith('band') ? `band ${k}` : `mark ${k}`}" style="position:static;display:inline-block;height:10px;width:${k.startsWith('band') ? 12 : 0}px"></i>${esc(k.replace(/^(band|mark)-/, ''))}</span>`).join('');
  return `<section id="timeline"><h2>Timeline</h2><p class="hint">Drag across a chart to zoom (all charts follow), double-click or <button id="tl-reset" type="button">reset zoom</button>; hover for values.</p><div class="tl-legend">${legend}</div><div id="timeline-charts"></div></section>`;
}

export function renderReport(s: RunSummary, o: ReportOptions): string {
  const tl = buildTimeline(s);
  const head = header(s, o) + expectations(s);
  const body = [timelineSection(tl), appTables(s), migrationTable(s), fabricTables(s), eventsTable(s), otherSections(s)].join('\n');
  return renderPage({
    title: `vfab report: ${s.topology}`,
    head,
    ...(o.diagram ? { diagram: o.diagram } : {}),
    body,
    data: { details: details(s, o.diagram), timeline: tl },
    assets: o.assets,
    charts: true,
  });
}
