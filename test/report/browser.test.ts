/// <reference lib="dom" />
/**
 * The HTML outputs in a real browser (Debian chromium via playwright-core): every example's
 * `vfab graph --format html` page and run report open offline with no console error and no
 * request, show one diagram node per VM/host/switch and one edge per link with no two boxes
 * overlapping, place the migration pause band at the summary's pause time, show a point's value
 * on hover and a port's counters on click. Screenshots go to out/browser/ (a CI artifact).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runTopology } from '../../src/fabric/run.js';
import type { RunSummary } from '../../src/fabric/summary.js';
import { loadAssets } from '../../src/report/assets.adapter.js';
import { renderGraph } from '../../src/report/graph.js';
import { buildRunReport } from '../../src/report/run-report.js';
import { loadTopology } from '../../src/topology/index.js';
import { launch, openPage } from '../helpers/browser.js';
import { loadQosFile } from '../../src/qos/file.adapter.js';
import { runQos } from '../../src/qos/run.js';
import { buildQosReport } from '../../src/report/qos-report.adapter.js';
import { describeWithTools } from '../helpers/tools.js';

const OUT = resolve('out/browser');
const EXAMPLES = ['quickstart', 'two-hosts', 'live-migration', 'live-migration-sriov', 'sriov', 'tcp-migration', 'disks-in-run'];
const assets = loadAssets();

interface Made {
  summary: RunSummary;
  report: string;
  graph: string;
}
const made = new Map<string, Made>();

async function make(ex: string): Promise<Made> {
  const m = made.get(ex);
  if (m) return m;
  const file = `topologies/${ex}.yaml`;
  const { summary, fabric } = runTopology(file);
  const report = join(OUT, `${ex}.report.html`);
  const graph = join(OUT, `${ex}.graph.html`);
  writeFileSync(report, await buildRunReport(summary, { command: `vfab run ${file} --report ${report}`, assets, model: fabric.model }));
  writeFileSync(graph, await renderGraph(loadTopology(file), 'html', assets));
  const out = { summary, report, graph };
  made.set(ex, out);
  return out;
}

/** Boxes of the diagram's nodes; no two overlap unless one is the other's host. */
async function checkDiagram(page: Page, ex: string): Promise<void> {
  const model = loadTopology(`topologies/${ex}.yaml`);
  const count = (sel: string) => page.locator(sel).count();
  expect(await count('svg.vfab-diagram g.node[data-kind="vm"]')).toBe(model.vms.length);
  expect(await count('svg.vfab-diagram g.node[data-kind="host"]')).toBe(model.hosts.length);
  expect(await count('svg.vfab-diagram g.node[data-kind="switch"]')).toBe(model.switches.length);
  expect(await count('svg.vfab-diagram g.edge.link')).toBe(model.links.length);
  const boxes = await page.$$eval('svg.vfab-diagram g.node', (gs) =>
    gs.map((g) => {
      const r = g.querySelector('rect.box')!.getBoundingClientRect();
      return { id: g.getAttribute('data-id')!, kind: g.getAttribute('data-kind')!, x: r.x, y: r.y, w: r.width, h: r.height };
    }),
  );
  const parentOf = new Map<string, string>();
  for (const vm of model.vms) parentOf.set(vm.name, vm.host);
  for (const h of model.hosts) {
    for (const b of h.bridges) parentOf.set(b.path, h.name);
    for (const n of h.nics) parentOf.set(n.path, h.name);
  }
  for (const b of boxes) if (b.kind === 'vf') parentOf.set(b.id, b.id.split('.')[0]!);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!;
      const b = boxes[j]!;
      if (parentOf.get(a.id) === b.id || parentOf.get(b.id) === a.id) continue;
      const hit = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      expect(hit, `${a.id} overlaps ${b.id}`).toBe(false);
    }
  }
}

describeWithTools(['chromium'], 'HTML in chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    browser = await launch();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  for (const ex of EXAMPLES) {
    it(`${ex}: graph page opens offline with one node per VM/host/switch and no overlaps`, async () => {
      const { graph } = await make(ex);
      const { page, problems } = await openPage(browser, `file://${graph}`);
      await checkDiagram(page, ex);
      await page.screenshot({ path: join(OUT, `${ex}.graph.png`) });
      expect(problems).toEqual([]);
      await page.close();
    }, 60_000);

    it(`${ex}: report opens offline, draws its charts, and a clicked port shows its counters`, async () => {
      const { report, summary } = await make(ex);
      const { page, problems } = await openPage(browser, `file://${report}`);
      await checkDiagram(page, ex);
      expect(await page.evaluate(() => (window as unknown as { vfabCharts: unknown[] }).vfabCharts.length)).toBeGreaterThan(0);
      // the TCP and storage sections are drawn where the run has them
      if (ex === 'tcp-migration') for (const c of ['tcp-throughput', 'tcp-cwnd', 'tcp-rtt']) expect(await page.locator(`.chart[data-chart="${c}"]`).count(), c).toBe(1);
      if (ex === 'disks-in-run') for (const c of ['storage-iops', 'storage-bw', 'storage-p99']) expect(await page.locator(`.chart[data-chart="${c}"]`).count(), c).toBe(1);
      // click the first VM NIC port: its counters from the summary appear in the panel
      // (the VM NIC with the most drop reasons, so drops by reason are checked where there are any)
      const nics = Object.keys(summary.ports).filter((p) => /^vm\d+\.eth\d+$/.test(p));
      const port = nics.sort((a, b) => Object.keys(summary.ports[b]!.drops).length - Object.keys(summary.ports[a]!.drops).length)[0]!;
      if (ex === 'live-migration') expect(Object.keys(summary.ports[port]!.drops).length).toBeGreaterThan(0);
      await page.locator(`svg.vfab-diagram g.port[data-id="${port}"] rect`).click({ force: true });
      const panel = await page.locator('#detail').innerText();
      expect(panel).toContain(`port ${port}`);
      expect(panel).toMatch(new RegExp(`rx packets\\s+${summary.ports[port]!.rx_packets}\\b`));
      expect(panel).toMatch(new RegExp(`tx bytes\\s+${summary.ports[port]!.tx_bytes}\\b`));
      for (const [reason, n] of Object.entries(summary.ports[port]!.drops)) expect(panel).toMatch(new RegExp(`${reason}\\s+${n}\\b`));
      await page.screenshot({ path: join(OUT, `${ex}.report.png`) });
      expect(problems).toEqual([]);
      await page.close();
    }, 60_000);
  }

  it('live-migration: the pause band sits at migrations[0].pause_ns, and hovering a ping shows its RTT', async () => {
    const { report, summary } = await make('live-migration');
    const { page, problems } = await openPage(browser, `file://${report}`);
    const mig = (summary['migrations'] as Array<{ pause_ns: number; resume_ns: number }>)[0]!;
    const band = page.locator('.chart[data-chart="ping"] .band[data-kind="pause"]');
    expect(await band.getAttribute('data-start-ns')).toBe(String(mig.pause_ns));
    expect(await band.getAttribute('data-end-ns')).toBe(String(mig.resume_ns));
    // the band's left edge is where the chart's own x scale puts the pause time
    const pos = await page.evaluate((ns) => {
      const u = (window as unknown as { vfabCharts: Array<{ valToPos(v: number, s: string): number; root: HTMLElement; over: HTMLElement; scales: { x: { min: number; max: number } } }> }).vfabCharts[0]!;
      const band = u.over.querySelector('.band[data-kind="pause"]') as HTMLElement;
      const r = u.over.getBoundingClientRect();
      return { left: parseFloat(band.style.left), expected: ((ns / 1e9 - u.scales.x.min) / (u.scales.x.max - u.scales.x.min)) * r.width, min: u.scales.x.min, max: u.scales.x.max };
    }, mig.pause_ns);
    expect(pos.min).toBe(0);
    expect(pos.max).toBe(summary.simulated_ns / 1e9);
    expect(Math.abs(pos.left - pos.expected)).toBeLessThan(1);
    // hover the 50th reply of vm3's ping: the tooltip shows its RTT from the JSON
    const ping = summary.apps[0]!;
    const reply = (ping['replies'] as Array<{ time_ns: number; rtt_ns: number }>)[49]!;
    const xy = await page.evaluate((t) => {
      const u = (window as unknown as { vfabCharts: Array<{ valToPos(v: number, s: string): number; over: HTMLElement }> }).vfabCharts[0]!;
      const r = u.over.getBoundingClientRect();
      return { x: r.left + u.valToPos(t, 'x'), y: r.top + r.height / 2 };
    }, Math.round((reply.time_ns - reply.rtt_ns) / 1e3) / 1e6);
    await page.mouse.move(xy.x, xy.y);
    const tip = await page.locator('#tl-tip').innerText();
    expect(tip).toContain(`ping vm3 → 10.0.0.2: ${+(reply.rtt_ns / 1e6).toFixed(3)} ms`);
    // zoom: dragging across the chart narrows every chart's x range
    await page.mouse.move(xy.x - 100, xy.y);
    await page.mouse.down();
    await page.mouse.move(xy.x + 100, xy.y, { steps: 5 });
    await page.mouse.up();
    const ranges = await page.evaluate(() => (window as unknown as { vfabCharts: Array<{ scales: { x: { min: number; max: number } } }> }).vfabCharts.map((u) => [u.scales.x.min, u.scales.x.max]));
    for (const r of ranges) {
      expect(r[0]).toBeGreaterThan(0);
      expect(r[1]).toBeLessThan(summary.simulated_ns / 1e9);
      expect(r).toEqual(ranges[0]);
    }
    await page.screenshot({ path: join(OUT, 'live-migration.zoomed.png') });
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('qos-noisy-neighbor: the QoS report opens offline with IOPS, bandwidth and p99 charts, limits and thresholds', async () => {
    const qos = loadQosFile('topologies/qos-noisy-neighbor.qos.yaml');
    const exps = qos.expectations.map((e) => e.exp);
    const { engine, result } = runQos(qos.model, { expectations: exps });
    const file = join(OUT, 'qos-noisy-neighbor.report.html');
    writeFileSync(file, await buildQosReport(qos, engine, result, 'vfab qos run topologies/qos-noisy-neighbor.qos.yaml --report x.html'));
    const { page, problems } = await openPage(browser, `file://${file}`);
    expect(await page.locator('.chart').count()).toBe(3);
    const legend = await page.locator('.chart[data-chart="iops"] .u-legend').innerText();
    expect(legend).toContain('vm3.vda iops-total');
    for (const e of exps.filter((x) => /iops$/.test(x.metric))) expect(legend).toContain(`expect ${e.text}`);
    // the bandwidth axis counts in binary units
    // (uPlot draws axes on a canvas; the tick labels it drew are kept in the axis' _values)
    const bwTicks = await page.evaluate(() => {
      const u = (window as unknown as { vfabCharts: Array<{ root: HTMLElement; axes: Array<{ _values?: string[]; _splits?: number[] }> }> }).vfabCharts.find((c) => c.root.parentElement?.getAttribute('data-chart') === 'bw')!;
      return { labels: u.axes[1]!._values ?? [], splits: u.axes[1]!._splits ?? [] };
    });
    expect(bwTicks.labels.length).toBeGreaterThan(1);
    for (const l of bwTicks.labels) expect(l).toMatch(/^\d+ (B|MiB)\/s$/);
    const st = bwTicks.splits[1]! - bwTicks.splits[0]!;
    expect(String(st / 2 ** 20)).toMatch(/^(1|2|5)0*$/);
    await page.screenshot({ path: join(OUT, 'qos-noisy-neighbor.report.png') });
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('mermaid output parses with mermaid itself', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setContent('<!DOCTYPE html><html><body></body></html>');
    await page.addScriptTag({ path: createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js') });
    for (const ex of [...EXAMPLES, 'qos-noisy-neighbor']) {
      const text = await renderGraph(loadTopology(`topologies/${ex}.yaml`), 'mermaid', assets);
      const r = await page.evaluate(async (t) => {
        const m = (window as unknown as { mermaid: { parse(t: string): Promise<unknown>; render(id: string, t: string): Promise<{ svg: string }> } }).mermaid;
        try {
          await m.parse(t);
          const { svg } = await m.render('g1', t);
          return { ok: true, nodes: (svg.match(/class="node /g) ?? []).length };
        } catch (e) {
          return { ok: false, err: String(e) };
        }
      }, text);
      expect(r, `${ex}: ${text}`).toMatchObject({ ok: true });
    }
    // a broken diagram is rejected, so the check above can fail
    const bad = await page.evaluate(async () => {
      try {
        await (window as unknown as { mermaid: { parse(t: string): Promise<unknown> } }).mermaid.parse('flowchart TB\n  a --- |"x| b');
        return 'parsed';
      } catch {
        return 'rejected';
      }
    });
    expect(bad).toBe('rejected');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});

it('reports are deterministic and small', async () => {
  mkdirSync(OUT, { recursive: true });
  for (const ex of EXAMPLES) {
    const a = await make(ex);
    const first = readFileSync(a.report);
    const { summary, fabric } = runTopology(`topologies/${ex}.yaml`);
    const again = await buildRunReport(summary, { command: `vfab run topologies/${ex}.yaml --report ${a.report}`, assets, model: fabric.model });
    expect(Buffer.from(again).equals(first), ex).toBe(true);
    expect(first.length).toBeLessThan(2 * 1024 * 1024);
  }
}, 120_000);
