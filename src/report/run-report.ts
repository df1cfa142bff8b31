/**
 * Report assembly for the commands: the summary plus the diagram of its topology (when the
 * topology can be loaded and is the one that ran, by `topology_sha256`).
 */
import type { RunSummary } from '../fabric/summary.js';
import { topologyHash } from '../fabric/tables.js';
import type { TopologyModel } from '../topology/model.js';
import { diagram } from './graph.js';
import type { ReportAssets } from './page.js';
import { renderReport } from './report.js';
import { reproduceLine } from './command-line.js';

export interface RunReportOptions {
  command: string;
  assets: ReportAssets;
  /** The topology that ran; omitted or mismatching (hash) means no diagram. */
  model?: TopologyModel;
}

/** True when `model` is the topology `summary` was produced from. */
export function sameTopology(summary: RunSummary, model: TopologyModel): boolean {
  return summary.topology_sha256 === undefined || summary.topology_sha256 === topologyHash(model);
}

export async function buildRunReport(summary: RunSummary, o: RunReportOptions): Promise<string> {
  const d = o.model && sameTopology(summary, o.model) ? await diagram(o.model) : undefined;
  const reproduce = reproduceLine(summary.topology_file, summary.seed, summary.simulated_ns);
  return renderReport(summary, { command: o.command, assets: o.assets, ...(reproduce ? { reproduce } : {}), ...(d ? { diagram: d } : {}) });
}
