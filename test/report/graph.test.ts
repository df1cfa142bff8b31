/**
 * `vfab graph`: every format from a topology that never ran. DOT is checked by Graphviz itself,
 * SVG and draw.io by an XML parser; the layout is checked for overlaps on a 120-VM topology.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { loadTopology, loadTopologyText } from '../../src/topology/index.js';
import { buildGraph } from '../../src/report/graph-model.js';
import { layoutGraph, type Box } from '../../src/report/layout.js';
import { renderGraph } from '../../src/report/graph.js';
import { loadAssets } from '../../src/report/assets.adapter.js';
import { describeWithTools } from '../helpers/tools.js';
import { generateVms as bigTopology } from '../../src/bench/report.js';

const dir = mkdtempSync(join(tmpdir(), 'vfab-graph-'));
const vfab = (...args: string[]) => spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8' });
// Every example topology (not the QoS files): a new example is drawn and checked without anyone
// remembering to list it here.
const EXAMPLES = readdirSync('topologies')
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('.qos.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

function parseXml(text: string) {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => { if (level !== 'warning') errors.push(msg); } }).parseFromString(text, 'text/xml');
  expect(errors).toEqual([]);
  return doc;
}

const overlap = (a: Box, b: Box): boolean => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

describe('graph model', () => {
  it('has one node per host, bridge, switch and VM, and one link edge per link', () => {
    const m = loadTopology('topologies/two-hosts.yaml');
    const g = buildGraph(m);
    const kinds = (k: string) => g.nodes.filter((n) => n.kind === k).length;
    expect(kinds('host')).toBe(m.hosts.length);
    expect(kinds('vm')).toBe(m.vms.length);
    expect(kinds('switch')).toBe(m.switches.length);
    expect(g.edges.filter((e) => e.kind === 'link').map((e) => e.id)).toEqual(m.links.map((l) => l.name));
    expect(g.edges.find((e) => e.id === 'link0')!.label).toBe('10 Gbit/s · 20 µs · trunks 10,20');
    // tenants are the VMs' access VLANs; vm1 and vm3 share VLAN 10
    expect(g.tenants).toEqual([10, 20]);
    expect(g.nodes.find((n) => n.id === 'vm3')!.tenant).toBe(10);
    // VMs sit inside their host
    expect(g.nodes.find((n) => n.id === 'vm2')!.parent).toBe('hv1');
  });

  it('draws VFs on their PF inside the host', () => {
    const g = buildGraph(loadTopology('topologies/sriov.yaml'));
    const vf = g.nodes.find((n) => n.id === 'hv1.pf0.vf0')!;
    expect(vf.kind).toBe('vf');
    expect(vf.parent).toBe('hv1');
    expect(vf.tenant).toBe(10);
    expect(g.edges.some((e) => e.source === 'vm1.eth0' && e.target === 'hv1.pf0.vf0:vm')).toBe(true);
  });
});

describe('layout', () => {
  it('keeps node boxes and labels of a 120-VM topology apart', async () => {
    const m = loadTopologyText(bigTopology(120), 'big.yaml');
    const g = buildGraph(m);
    const l = await layoutGraph(g);
    expect(l.nodes.size).toBe(g.nodes.length);
    const parent = new Map(g.nodes.map((n) => [n.id, n.parent]));
    const leaves = g.nodes.filter((n) => n.kind !== 'host').map((n) => ({ id: n.id, b: l.nodes.get(n.id)! }));
    const hosts = g.nodes.filter((n) => n.kind === 'host').map((n) => l.nodes.get(n.id)!);
    const boxes = [...leaves.map((x) => x.b), ...hosts];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!;
      const b = boxes[j]!;
      // a host contains its children; any other pair must be apart
      if (parent.get(a.id) === b.id || parent.get(b.id) === a.id) continue;
      if (overlap(a, b)) throw new Error(`${a.id} overlaps ${b.id}`);
    }
    const labels = [...l.edges.values()].flatMap((e) => (e.label ? [{ id: e.id, b: e.label }] : []));
    expect(labels.length).toBe(m.links.length);
    for (let i = 0; i < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) expect(overlap(labels[i]!.b, labels[j]!.b), `${labels[i]!.id} / ${labels[j]!.id}`).toBe(false);
      for (const n of leaves) expect(overlap(labels[i]!.b, n.b), `${labels[i]!.id} on ${n.id}`).toBe(false);
    }
  }, 60_000);
});

describe('formats', () => {
  const assets = loadAssets();
  for (const ex of EXAMPLES) {
    it(`${ex}: SVG and draw.io are well-formed XML with one element per node and link`, async () => {
      const m = loadTopology(`topologies/${ex}.yaml`);
      const g = buildGraph(m);
      const svg = await renderGraph(m, 'svg', assets);
      const doc = parseXml(svg);
      const gs = Array.from(doc.getElementsByTagName('g') as unknown as ArrayLike<Element>);
      const nodesOf = (k: string) => gs.filter((e) => (e.getAttribute('class') ?? '') === 'node' && e.getAttribute('data-kind') === k).length;
      expect(nodesOf('vm')).toBe(m.vms.length);
      expect(nodesOf('host')).toBe(m.hosts.length);
      expect(nodesOf('switch')).toBe(m.switches.length);
      expect(nodesOf('router')).toBe((m.routers ?? []).length);
      expect(gs.filter((e) => e.getAttribute('class') === 'edge link').length).toBe(m.links.length);
      const drawio = parseXml(await renderGraph(m, 'drawio', assets));
      const cells = Array.from(drawio.getElementsByTagName('mxCell') as unknown as ArrayLike<Element>);
      expect(cells.filter((c) => c.getAttribute('vertex') === '1').length).toBe(g.nodes.length);
      expect(cells.filter((c) => c.getAttribute('edge') === '1').length).toBe(g.edges.length);
    });
  }

  it('is deterministic: the same file gives the same bytes', async () => {
    const m = loadTopology('topologies/live-migration.yaml');
    for (const f of ['svg', 'html', 'dot', 'mermaid', 'drawio'] as const) expect(await renderGraph(m, f, assets)).toBe(await renderGraph(loadTopology('topologies/live-migration.yaml'), f, assets));
  });
});

describeWithTools(['dot'], 'DOT through Graphviz', () => {
  for (const ex of EXAMPLES) {
    it(`${ex}: dot -Tsvg accepts it, and draws one cluster per host and every port`, async () => {
      const m = loadTopology(`topologies/${ex}.yaml`);
      const dot = await renderGraph(m, 'dot', loadAssets());
      const out = execFileSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
      const doc = parseXml(out);
      const clusters = Array.from(doc.getElementsByTagName('g') as unknown as ArrayLike<Element>).filter((e) => e.getAttribute('class') === 'cluster');
      expect(clusters.length).toBe(m.hosts.length);
      // Graphviz writes each edge as <g class="edge">: one per link and attachment
      const edges = Array.from(doc.getElementsByTagName('g') as unknown as ArrayLike<Element>).filter((e) => e.getAttribute('class') === 'edge');
      expect(edges.length).toBe(buildGraph(m).edges.length);
    });
  }
});

describe('vfab graph CLI', () => {
  it('writes SVG by default and every format on request', () => {
    const r = vfab('graph', 'topologies/two-hosts.yaml');
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('<?xml')).toBe(true);
    for (const f of ['html', 'dot', 'mermaid', 'drawio']) {
      const out = join(dir, `g.${f}`);
      const w = vfab('graph', 'topologies/two-hosts.yaml', '--format', f, '-o', out);
      expect(w.stderr).toBe('');
      expect(w.status).toBe(0);
      expect(readFileSync(out, 'utf8').length).toBeGreaterThan(100);
    }
  });

  it('exits 2 with a clear message for a missing folder, a folder, or a bad format', () => {
    const a = vfab('graph', 'topologies/two-hosts.yaml', '-o', join(dir, 'nope', 'g.svg'));
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/--output: the folder .*nope does not exist/);
    const b = vfab('graph', 'topologies/two-hosts.yaml', '-o', dir);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--output: .* is a directory/);
    const c = vfab('graph', 'topologies/two-hosts.yaml', '--format', 'png');
    expect(c.status).toBe(2);
    expect(c.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports topology errors with file:line:col and exit 2', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'hosts:\n  hv1: {}\nvms:\n  vm1: { host: hv9, interfaces: {} }\n');
    const r = vfab('graph', bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+/);
  });
});
