/**
 * The topology graph as text other tools draw: Graphviz DOT, mermaid flowchart, draw.io XML.
 *
 * - DOT: one `cluster_` subgraph per host; nodes are HTML-like tables whose cells are the ports
 *   (`<TD PORT="p3">`), so edges attach to ports as in the SVG (`dot` lays it out itself).
 * - mermaid: `flowchart TB`, a subgraph per host; mermaid has no ports, so edge labels name them.
 * - draw.io (mxGraph XML, uncompressed): the ELK layout's positions, hosts as containers.
 *
 * Identifiers are generated (`n0`, `n1`, … in node order) because topology names may hold
 * characters these languages reserve; the real names are in the labels.
 */
import type { FabricGraph, GNode } from './graph-model.js';
import { tenantColor } from './graph-model.js';
import type { Layout } from './layout.js';
import { esc } from './format.js';

function ids(g: FabricGraph): { node: Map<string, string>; port: Map<string, string> } {
  const node = new Map<string, string>();
  const port = new Map<string, string>();
  g.nodes.forEach((n, i) => {
    node.set(n.id, `n${i}`);
    n.ports.forEach((p, j) => port.set(p.id, `p${j}`));
  });
  return { node, port };
}

const dq = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

export function renderDot(g: FabricGraph): string {
  const { node, port } = ids(g);
  const out: string[] = [];
  out.push(`digraph ${dq(g.name)} {`);
  out.push('  graph [rankdir=TB, fontname="sans-serif", fontsize=12, compound=true];');
  out.push('  node [shape=plaintext, fontname="sans-serif", fontsize=11];');
  out.push('  edge [dir=none, fontname="sans-serif", fontsize=10];');
  const nodeLine = (n: GNode, indent: string): string => {
    const color = n.kind === 'vm' || n.kind === 'vf' ? tenantColor(g, n.tenant) : '#4a5560';
    const cells = n.ports.map((p) => `<TD PORT="${port.get(p.id)}" BORDER="1">${esc(p.label || ' ')}</TD>`);
    const span = Math.max(1, cells.length);
    const rows = [`<TR><TD COLSPAN="${span}" BORDER="0"><B>${esc(n.label)}</B> <FONT POINT-SIZE="9">${n.kind}</FONT></TD></TR>`];
    if (cells.length) rows.push(`<TR>${cells.join('')}</TR>`);
    return `${indent}${node.get(n.id)} [label=<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="2" COLOR="${color}">${rows.join('')}</TABLE>>, tooltip=${dq(n.detail.join('\n'))}];`;
  };
  const children = (id: string | undefined): GNode[] => g.nodes.filter((n) => n.parent === id && n.kind !== 'host');
  g.nodes
    .filter((n) => n.kind === 'host')
    .forEach((h) => {
      out.push(`  subgraph cluster_${node.get(h.id)} {`);
      out.push(`    label=${dq(h.label)}; style=dashed; color="#9aa5b1";`);
      for (const c of children(h.id)) out.push(nodeLine(c, '    '));
      out.push('  }');
    });
  for (const n of g.nodes.filter((x) => x.parent === undefined && x.kind !== 'host')) out.push(nodeLine(n, '  '));
  for (const e of g.edges) {
    const s = g.portOwner.get(e.source);
    const t = g.portOwner.get(e.target);
    if (s === undefined || t === undefined) continue;
    const attrs = [e.label ? `label=${dq(e.label)}` : '', e.kind === 'attach' ? `color="${tenantColor(g, e.tenant)}"` : 'penwidth=2', `tooltip=${dq(e.id)}`].filter((x) => x);
    out.push(`  ${node.get(s)}:${port.get(e.source)} -> ${node.get(t)}:${port.get(e.target)} [${attrs.join(', ')}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** Mermaid label text: quotes and markup characters as entity codes (`#quot;`). */
const mq = (s: string): string => `"${s.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;')}"`;

export function renderMermaid(g: FabricGraph): string {
  const { node } = ids(g);
  const out: string[] = ['flowchart TB'];
  const shape = (n: GNode): string => {
    const id = node.get(n.id)!;
    const text = mq(`${n.label} (${n.kind})`);
    return n.kind === 'vm' ? `${id}(${text})` : n.kind === 'switch' ? `${id}[[${text}]]` : n.kind === 'router' ? `${id}{{${text}}}` : `${id}[${text}]`;
  };
  for (const h of g.nodes.filter((n) => n.kind === 'host')) {
    out.push(`  subgraph ${node.get(h.id)}[${mq(h.label)}]`);
    for (const c of g.nodes.filter((n) => n.parent === h.id)) out.push(`    ${shape(c)}`);
    out.push('  end');
  }
  for (const n of g.nodes.filter((x) => x.parent === undefined && x.kind !== 'host')) out.push(`  ${shape(n)}`);
  for (const e of g.edges) {
    const s = g.portOwner.get(e.source);
    const t = g.portOwner.get(e.target);
    if (s === undefined || t === undefined) continue;
    const label = e.kind === 'link' ? `${e.source} ↔ ${e.target}: ${e.label}` : '';
    out.push(`  ${node.get(s)} ${e.kind === 'link' ? '===' : '---'}${label ? `|${mq(label)}|` : ''} ${node.get(t)}`);
  }
  const classes = new Map<number, string[]>();
  for (const n of g.nodes) if (n.tenant !== undefined) classes.set(n.tenant, [...(classes.get(n.tenant) ?? []), node.get(n.id)!]);
  for (const [t, members] of [...classes].sort((a, b) => a[0] - b[0])) {
    out.push(`  classDef vlan${t} stroke:${tenantColor(g, t)},stroke-width:2px`);
    out.push(`  class ${members.join(',')} vlan${t}`);
  }
  return `${out.join('\n')}\n`;
}

export function renderDrawio(g: FabricGraph, layout: Layout): string {
  const { node } = ids(g);
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(`<mxfile host="vfab"><diagram id="vfab" name="${esc(g.name)}"><mxGraphModel dx="0" dy="0" grid="0" gridSize="10" guides="1" tooltips="1" connect="1" arrows="0" fold="1" page="0" pageScale="1" pageWidth="${layout.width}" pageHeight="${layout.height}"><root>`);
  out.push('<mxCell id="0"/><mxCell id="1" parent="0"/>');
  const pos = (id: string) => layout.nodes.get(id);
  for (const n of g.nodes) {
    const b = pos(n.id);
    if (!b) continue;
    const parentBox = n.parent !== undefined ? pos(n.parent) : undefined;
    const parent = n.parent !== undefined ? node.get(n.parent)! : '1';
    const x = b.x - (parentBox?.x ?? 0);
    const y = b.y - (parentBox?.y ?? 0);
    const stroke = n.kind === 'vm' || n.kind === 'vf' ? tenantColor(g, n.tenant) : '#4a5560';
    const style =
      n.kind === 'host'
        ? 'swimlane;startSize=22;dashed=1;fillColor=#f4f6f8;strokeColor=#9aa5b1;'
        : `rounded=${n.kind === 'vm' ? 1 : 0};whiteSpace=wrap;html=0;strokeColor=${stroke};`;
    out.push(`<mxCell id="${node.get(n.id)}" value="${esc(n.label)}" style="${style}" vertex="1" parent="${parent}"><mxGeometry x="${+x.toFixed(1)}" y="${+y.toFixed(1)}" width="${b.w}" height="${b.h}" as="geometry"/></mxCell>`);
  }
  g.edges.forEach((e, i) => {
    const s = g.portOwner.get(e.source);
    const t = g.portOwner.get(e.target);
    if (s === undefined || t === undefined) return;
    const color = e.kind === 'link' ? '#333333' : tenantColor(g, e.tenant);
    out.push(`<mxCell id="e${i}" value="${esc(e.label)}" style="edgeStyle=orthogonalEdgeStyle;endArrow=none;strokeColor=${color};strokeWidth=${e.kind === 'link' ? 2 : 1};" edge="1" parent="1" source="${node.get(s)}" target="${node.get(t)}"><mxGeometry relative="1" as="geometry"/></mxCell>`);
  });
  out.push('</root></mxGraphModel></diagram></mxfile>');
  return `${out.join('\n')}\n`;
}
