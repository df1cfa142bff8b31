import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { loadTopology } from '../topology/load.js';
import { checkTopology } from '../fabric/fabric.js';
import { GRAPH_FORMATS, renderGraph, type GraphFormat } from '../report/graph.js';
import { loadAssets } from '../report/assets.adapter.js';
import { checkOutputPath, writeOutput } from '../report/output.adapter.js';

export default class Graph extends BaseCommand {
  static override summary = 'Draw a topology: hosts holding bridges, VMs, PFs and VFs; switches; links with bandwidth, delay and VLANs.';
  static override description =
    'Works from the file alone (nothing is simulated). SVG and HTML are laid out with ELK (ports on node edges,\n' +
    'tenants coloured by VLAN); DOT is for Graphviz (dot -Tsvg), mermaid for Markdown, drawio for diagrams.net.';
  static override examples = [
    '<%= config.bin %> graph topologies/two-hosts.yaml -o out/two-hosts.svg',
    '<%= config.bin %> graph topologies/live-migration.yaml --format html -o out/lm.html',
    '<%= config.bin %> graph topologies/sriov.yaml --format dot | dot -Tpng -o out/sriov.png',
  ];
  static override args = { file: Args.string({ description: 'topology YAML file', required: true }) };
  static override flags = {
    format: Flags.string({ char: 'f', description: 'output format', options: [...GRAPH_FORMATS], default: 'svg' }),
    output: Flags.string({ char: 'o', description: 'write to this file (default: standard output)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Graph);
    if (flags.output !== undefined) checkOutputPath(flags.output, '--output');
    const model = loadTopology(args.file);
    checkTopology(model);
    const text = await renderGraph(model, flags.format as GraphFormat, loadAssets());
    if (flags.output !== undefined) writeOutput(flags.output, text, '--output');
    else process.stdout.write(text);
  }
}
