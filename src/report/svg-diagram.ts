/**
 * A laid-out `FabricGraph` as one SVG 1.1 document (`vfab graph --format svg`, and the diagram
 * inside the HTML report).
 *
 * Drawing order: host containers, edges, the other nodes, ports, then edge labels on a white
 * backing, so nothing hides a label. Every element a reader (or a browser test) may want to find
 * carries a class and `data-id`: `g.node[data-kind]`, `g.port`, `g.edge.link|attach`. Plain SVG
 * viewers show the details as `<title>` tooltips; the HTML report adds click panels on top.
 */
import type { FabricGraph, GNode } from './graph-model.js';
import { tenantColor } from './graph-model.js';
import type { Layout } from './layout.js';
import { esc } from './format.js';

const FILL: Record<GNode['kind'], string> = {
  host: '#f4f6f8',
  bridge: '#e8f1fb',
  switch: '#fdf0dc',
  router: '#e3f4ea',
  vm: '#ffffff',
  pf: '#efe8f7',
  vf: '#f7f2fb',
};

export interface SvgDiagramOptions {
  /** Omit the XML declaration (for inlining into HTML). */
  inline?: boolean;
}

const title = (lines: string[]): string => (lines.length ? `<title>${esc(lines.join('\n'))}</title>` : '');

export function renderSvgDiagram(g: FabricGraph, layout: Layout, opts: SvgDiagramOptions = {}): string {
  const W = layout.width;
  const legendH = g.tenants.length > 0 ? 24 : 0;
  const H = layout.height + legendH;
  const out: string[] = [];
  if (!opts.inline) out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" class="vfab-diagram" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<title>${esc(`topology ${g.name}`)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  const nodeSvg = (n: GNode): string => {
    const b = layout.nodes.get(n.id);
    if (!b) return '';
    const stroke = n.kind === 'vm' || n.kind === 'vf' ? tenantColor(g, n.tenant) : n.kind === 'host' ? '#9aa5b1' : '#4a5560';
    const sw = n.kind === 'vm' ? 2 : 1;
    const dash = n.kind === 'host' ? ' stroke-dasharray="5 3"' : '';
    const lb = b.label ?? { x: b.x + 6, y: b.y + 4, w: 0, h: 16 };
    const weight = n.kind === 'host' || n.kind === 'switch' || n.kind === 'router' ? ' font-weight="bold"' : '';
    return (
      `<g class="node" data-id="${esc(n.id)}" data-kind="${n.kind}"${n.tenant !== undefined ? ` data-tenant="${n.tenant}"` : ''}>${title(n.detail)}` +
      `<rect class="box" x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="${n.kind === 'vm' ? 6 : 3}" fill="${FILL[n.kind]}" stroke="${stroke}" stroke-width="${sw}"${dash}/>` +
      `<text x="${lb.x}" y="${+(lb.y + 12).toFixed(1)}"${weight}>${esc(n.label)}</text></g>`
    );
  };
  const hosts = g.nodes.filter((n) => n.kind === 'host');
  const others = g.nodes.filter((n) => n.kind !== 'host');
  out.push('<g class="hosts">', ...hosts.map(nodeSvg), '</g>');
  out.push('<g class="edges" fill="none">');
  for (const e of g.edges) {
    const l = layout.edges.get(e.id);
    if (!l || l.points.length === 0) continue;
    const d = l.points.map((p, i) => `${i ? 'L' : 'M'}${p[0]},${p[1]}`).join('');
    const color = e.kind === 'link' ? '#333333' : tenantColor(g, e.tenant);
    out.push(
      `<g class="edge ${e.kind}" data-id="${esc(e.id)}" data-source="${esc(e.source)}" data-target="${esc(e.target)}">${title([e.kind === 'link' ? `${e.id}: ${e.source} ↔ ${e.target}` : `${e.source} → ${e.target}`, ...(e.label ? [e.label] : [])])}` +
        `<path d="${d}" stroke="${color}" stroke-width="${e.kind === 'link' ? 2 : 1.5}"/>` +
        // a wide transparent twin makes thin edges easy to click
        `<path class="hit" d="${d}" stroke="transparent" stroke-width="9"/></g>`,
    );
  }
  out.push('</g>');
  out.push('<g class="nodes">', ...others.map(nodeSvg), '</g>');
  out.push('<g class="ports">');
  for (const n of g.nodes) {
    const b = layout.nodes.get(n.id);
    if (!b) continue;
    for (const p of b.ports) {
      const gp = n.ports.find((x) => x.id === p.id);
      if (!gp) continue;
      const color = tenantColor(g, gp.tenant);
      const text = gp.label && p.label ? `<text class="port-label" x="${p.label.x + 3}" y="${+(p.label.y + 11).toFixed(1)}" font-size="11" fill="#333">${esc(gp.label)}</text>` : '';
      out.push(
        `<g class="port" data-id="${esc(p.id)}" data-node="${esc(n.id)}">${title(gp.detail)}<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${p.h}" fill="${gp.tenant !== undefined ? color : '#4a5560'}" stroke="white" stroke-width="1"/>${text}</g>`,
      );
    }
  }
  out.push('</g>');
  out.push('<g class="edge-labels" font-size="11">');
  for (const e of g.edges) {
    const l = layout.edges.get(e.id)?.label;
    if (!l || !e.label) continue;
    out.push(
      `<g class="edge-label" data-id="${esc(e.id)}"><rect x="${l.x}" y="${l.y}" width="${l.w}" height="${l.h}" fill="white" fill-opacity="0.9"/><text x="${l.x + 3}" y="${+(l.y + 11).toFixed(1)}">${esc(e.label)}</text></g>`,
    );
  }
  out.push('</g>');
  if (g.tenants.length > 0) {
    let x = 20;
    const y = layout.height + 6;
    out.push('<g class="legend" font-size="11">');
    out.push(`<text x="${x}" y="${y + 11}">tenants:</text>`);
    x += 60;
    for (const t of g.tenants) {
      const c = tenantColor(g, t);
      out.push(`<rect x="${x}" y="${y + 2}" width="10" height="10" fill="${c}"/><text x="${x + 14}" y="${y + 11}">VLAN ${t}</text>`);
      x += 72;
    }
    out.push('</g>');
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
