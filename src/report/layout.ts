/**
 * Lays a `FabricGraph` out with ELK's layered algorithm (elkjs, Eclipse Layout Kernel compiled
 * to JavaScript): nodes with ports on fixed sides, hosts as compound nodes, edge labels placed
 * by the layout so they do not overlap nodes or each other.
 *
 * Deterministic: ELK layered is a deterministic algorithm for a given input order and options
 * (`elk.randomSeed` is fixed), and every coordinate is rounded to 0.1 px.
 *
 * Costs: ELK layered is roughly O(E log E) per layer sweep; a 1,000-VM graph lays out in a few
 * seconds. Text widths are estimated (7 px per character at 12 px sans-serif), which is enough for
 * label boxes not to overlap; the renderers draw the text left-aligned inside those boxes.
 */
import type { ElkExtendedEdge, ElkNode, ElkPort } from 'elkjs/lib/elk-api.js';
import type { FabricGraph, GNode } from './graph-model.js';

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LaidPort extends Box {
  id: string;
  side: 'N' | 'S' | 'E' | 'W';
  label?: Box;
}

export interface LaidNode extends Box {
  id: string;
  label?: Box;
  ports: LaidPort[];
}

export interface LaidEdge {
  id: string;
  points: Array<[number, number]>;
  label?: Box;
}

export interface Layout {
  width: number;
  height: number;
  nodes: Map<string, LaidNode>;
  edges: Map<string, LaidEdge>;
}

export const CHAR_W = 7;
export const LINE_H = 16;
const r1 = (v: number): number => Math.round(v * 10) / 10;
export const textWidth = (s: string): number => s.length * CHAR_W + 6;

// elkjs ships CommonJS; under NodeNext the default import is the constructor (or wraps it).
type ElkCtor = new () => { layout(g: ElkNode): Promise<ElkNode> };

/**
 * elkjs is 3.4 MB of JavaScript, 60 % of a bundled command: it is imported on the first layout
 * only, so `vfab run` without a report (and every other command) never parses it. The CLI
 * bundle keeps it external (scripts/bundle-commands.mjs) for the same reason.
 */
let elk: Promise<ElkCtor> | undefined;
function loadElk(): Promise<ElkCtor> {
  elk ??= import('elkjs/lib/elk.bundled.js').then(
    (m: unknown) => ((m as { default?: { default?: ElkCtor } }).default?.default ?? (m as { default?: ElkCtor }).default) as ElkCtor,
  );
  return elk;
}

function portSide(n: GNode, up: boolean): 'NORTH' | 'SOUTH' {
  // Diagrams read top-down: VMs on top with their NICs facing down to the bridges; taps and VF
  // attachments face up, uplinks face down to the switches; switch ports face up.
  if (n.kind === 'vm') return 'SOUTH';
  if (n.kind === 'switch') return 'NORTH';
  if (n.kind === 'router') return 'SOUTH'; // routers sit above the switches they route between
  return up ? 'NORTH' : 'SOUTH';
}

export async function layoutGraph(g: FabricGraph): Promise<Layout> {
  const elkNodes = new Map<string, ElkNode>();
  const root: ElkNode = {
    id: '__root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.json.edgeCoords': 'ROOT',
      'elk.json.shapeCoords': 'ROOT',
      'elk.randomSeed': '1',
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      'elk.layered.crossingMinimization.forceNodeModelOrder': 'true',
      'elk.spacing.nodeNode': '24',
      'elk.layered.spacing.nodeNodeBetweenLayers': '40',
      'elk.spacing.edgeLabel': '4',
      'elk.edgeLabels.inline': 'false',
      'elk.layered.edgeLabels.sideSelection': 'SMART_DOWN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.padding': '[top=20,left=20,bottom=20,right=20]',
    },
    children: [],
    edges: [],
  };
  for (const n of g.nodes) {
    const isHost = n.kind === 'host';
    const ports: ElkPort[] = n.ports.map((p) => ({
      id: p.id,
      width: 8,
      height: 8,
      layoutOptions: { 'elk.port.side': portSide(n, p.up === true) },
      ...(p.label ? { labels: [{ text: p.label, width: textWidth(p.label), height: 14 }] } : {}),
    }));
    const minW = Math.max(textWidth(n.label) + 16, 60);
    const en: ElkNode = {
      id: n.id,
      labels: [{ text: n.label, width: textWidth(n.label), height: LINE_H }],
      ports,
      layoutOptions: {
        'elk.portConstraints': 'FIXED_SIDE',
        'elk.nodeLabels.placement': isHost ? '[H_LEFT, V_TOP, INSIDE]' : '[H_CENTER, V_CENTER, INSIDE]',
        'elk.portLabels.placement': '[INSIDE]',
        'elk.nodeSize.constraints': '[PORTS, PORT_LABELS, NODE_LABELS, MINIMUM_SIZE]',
        'elk.nodeSize.minimum': `(${minW}, ${isHost ? 60 : 44})`,
        'elk.spacing.portPort': '10',
        ...(isHost ? { 'elk.padding': '[top=28,left=12,bottom=12,right=12]' } : {}),
      },
      children: [],
    };
    elkNodes.set(n.id, en);
    const parent = n.parent !== undefined ? elkNodes.get(n.parent) : undefined;
    (parent ?? root).children!.push(en);
  }
  for (const e of g.edges) {
    const ee: ElkExtendedEdge = {
      id: e.id,
      sources: [e.source],
      targets: [e.target],
      ...(e.label ? { labels: [{ text: e.label, width: textWidth(e.label), height: 14 }] } : {}),
    };
    root.edges!.push(ee);
  }
  const ELK = await loadElk();
  const out = await new ELK().layout(root);
  const nodes = new Map<string, LaidNode>();
  const edges = new Map<string, LaidEdge>();
  const walk = (n: ElkNode): void => {
    for (const c of n.children ?? []) {
      const x = r1(c.x ?? 0);
      const y = r1(c.y ?? 0);
      const w = r1(c.width ?? 0);
      const h = r1(c.height ?? 0);
      const ports: LaidPort[] = (c.ports ?? []).map((p) => {
        const px = r1(p.x ?? 0);
        const py = r1(p.y ?? 0);
        // With shapeCoords ROOT ports are absolute; the side follows from where the port sits.
        const cx = px + 4 - x;
        const cy = py + 4 - y;
        const side = cy <= 1 + 4 ? 'N' : cy >= h - 5 ? 'S' : cx <= 5 ? 'W' : 'E';
        const l = p.labels?.[0];
        return { id: p.id, x: px, y: py, w: r1(p.width ?? 8), h: r1(p.height ?? 8), side, ...(l ? { label: { x: r1(l.x ?? 0), y: r1(l.y ?? 0), w: r1(l.width ?? 0), h: r1(l.height ?? 0) } } : {}) };
      });
      const nl = c.labels?.[0];
      nodes.set(c.id, { id: c.id, x, y, w, h, ports, ...(nl ? { label: { x: r1(nl.x ?? 0), y: r1(nl.y ?? 0), w: r1(nl.width ?? 0), h: r1(nl.height ?? 0) } } : {}) });
      walk(c);
    }
    for (const e of n.edges ?? []) {
      const pts: Array<[number, number]> = [];
      for (const s of e.sections ?? []) {
        pts.push([r1(s.startPoint.x), r1(s.startPoint.y)]);
        for (const b of s.bendPoints ?? []) pts.push([r1(b.x), r1(b.y)]);
        pts.push([r1(s.endPoint.x), r1(s.endPoint.y)]);
      }
      const l = e.labels?.[0];
      edges.set(e.id, { id: e.id, points: pts, ...(l ? { label: { x: r1(l.x ?? 0), y: r1(l.y ?? 0), w: r1(l.width ?? 0), h: r1(l.height ?? 0) } } : {}) });
    }
  };
  walk(out);
  return { width: Math.ceil(out.width ?? 0), height: Math.ceil(out.height ?? 0), nodes, edges };
}
