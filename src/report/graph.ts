/**
 * `vfab graph`: the topology drawn in one of five formats, from the validated model alone (no
 * simulation). SVG and draw.io use the ELK layout; DOT and mermaid leave layout to their tools.
 */
import type { TopologyModel } from '../topology/model.js';
import { buildGraph, type FabricGraph } from './graph-model.js';
import { layoutGraph, type Layout } from './layout.js';
import { renderSvgDiagram } from './svg-diagram.js';
import { renderDot, renderDrawio, renderMermaid } from './text-formats.js';
import { renderGraphPage } from './page.js';
import type { ReportAssets } from './page.js';

export const GRAPH_FORMATS = ['svg', 'html', 'dot', 'mermaid', 'drawio'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

export interface Diagram {
  graph: FabricGraph;
  layout: Layout;
  svg: string;
}

/** The laid-out diagram as inline SVG (for HTML) plus the graph it shows. */
export async function diagram(model: TopologyModel): Promise<Diagram> {
  const graph = buildGraph(model);
  const layout = await layoutGraph(graph);
  return { graph, layout, svg: renderSvgDiagram(graph, layout, { inline: true }) };
}

export async function renderGraph(model: TopologyModel, format: GraphFormat, assets: ReportAssets): Promise<string> {
  const graph = buildGraph(model);
  if (format === 'dot') return renderDot(graph);
  if (format === 'mermaid') return renderMermaid(graph);
  const layout = await layoutGraph(graph);
  if (format === 'drawio') return renderDrawio(graph, layout);
  if (format === 'svg') return renderSvgDiagram(graph, layout);
  return renderGraphPage({ graph, layout, svg: renderSvgDiagram(graph, layout, { inline: true }) }, assets);
}
