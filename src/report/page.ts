/**
 * HTML pages: the `vfab graph --format html` page and the run report's page shell.
 *
 * Self-contained: styles, data (one JSON blob in a `<script type="application/json">`), the
 * libraries (uPlot, inlined from node_modules by `assets.adapter.ts`) and vfab's own glue script
 * (`client.ts`) are all inline; the page makes no request. Deterministic: the same inputs give the
 * same bytes (no timestamps, data keys in insertion order).
 */
import type { Diagram } from './graph.js';
import { esc } from './format.js';
import { CLIENT_JS, PAGE_CSS } from './client.js';

export interface ReportAssets {
  uplotJs: string;
  uplotCss: string;
}

/** Detail shown when a diagram element is clicked: a heading and rows (label, value). */
export interface DetailItem {
  title: string;
  rows: Array<[string, string]>;
  /** Drops by reason, highlighted. */
  drops?: Array<[string, number]>;
}

/** JSON for an inline `<script>`: `<` escaped so no `</script>` can end the block early. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Inline script text: a literal `</script` inside a library would end the element. */
const inlineScript = (js: string): string => js.replace(/<\/script/gi, '<\\/script');

export function diagramDetails(d: Diagram): Record<string, DetailItem> {
  const items: Record<string, DetailItem> = {};
  for (const n of d.graph.nodes) {
    items[n.id] = { title: `${n.kind} ${n.id}`, rows: n.detail.slice(1).map((l) => ['', l]) };
    for (const p of n.ports) items[p.id] = { title: `port ${p.id}`, rows: p.detail.slice(1).map((l) => ['', l]) };
  }
  for (const e of d.graph.edges) {
    items[e.id] = { title: e.kind === 'link' ? `link ${e.id}` : `attachment ${e.source} → ${e.target}`, rows: [['ends', `${e.source} ↔ ${e.target}`], ...(e.label ? [['config', e.label] as [string, string]] : [])] };
  }
  return items;
}

export interface PageParts {
  title: string;
  /** HTML placed before the diagram (header, verdicts). */
  head?: string;
  diagram?: Diagram;
  /** HTML after the diagram (timeline, tables). */
  body?: string;
  data: unknown;
  assets: ReportAssets;
  /** Inline uPlot (only pages with charts need it). */
  charts: boolean;
}

export function renderPage(p: PageParts): string {
  const out: string[] = [];
  out.push('<!DOCTYPE html>');
  out.push('<html lang="en"><head><meta charset="utf-8">');
  out.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  out.push(`<title>${esc(p.title)}</title>`);
  if (p.charts) out.push(`<style>${p.assets.uplotCss}</style>`);
  out.push(`<style>${PAGE_CSS}</style>`);
  out.push('</head><body>');
  if (p.head) out.push(p.head);
  if (p.diagram) {
    out.push('<section id="topology"><h2>Topology</h2><p class="hint">Click a VM, port, bridge or link for its details; hover for a summary.</p>');
    out.push(`<div class="diagram-row"><div class="diagram-wrap">${p.diagram.svg}</div><aside id="detail"><p class="hint">Nothing selected.</p></aside></div></section>`);
  }
  if (p.body) out.push(p.body);
  out.push(`<script type="application/json" id="vfab-data">${scriptJson(p.data)}</script>`);
  if (p.charts) out.push(`<script>${inlineScript(p.assets.uplotJs)}</script>`);
  out.push(`<script>${inlineScript(CLIENT_JS)}</script>`);
  out.push('</body></html>');
  return `${out.join('\n')}\n`;
}

export function renderGraphPage(d: Diagram, assets: ReportAssets): string {
  const head = `<header><h1>${esc(d.graph.name)}</h1><p class="meta">Topology diagram drawn by vfab graph from the file alone (nothing was simulated).</p></header>`;
  return renderPage({ title: `${d.graph.name}: topology`, head, diagram: d, data: { details: diagramDetails(d) }, assets, charts: false });
}
