#!/usr/bin/env node
// Regenerates the README pictures (docs/img/*.png) from the examples, with Debian's chromium
// driven by playwright-core:  npm run screenshots   (builds dist/ first)
//
//   docs/img/two-hosts-graph.png          vfab graph topologies/two-hosts.yaml --format html
//   docs/img/live-migration-report.png    vfab run topologies/live-migration.yaml --report …
//
// Both are clipped to the part worth showing and kept small (palette-free PNG at 1x).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { runTopology } from '../dist/fabric/run.js';
import { loadTopology } from '../dist/topology/index.js';
import { renderGraph } from '../dist/report/graph.js';
import { buildRunReport } from '../dist/report/run-report.js';
import { loadAssets } from '../dist/report/assets.adapter.js';

const root = resolve(import.meta.dirname, '..');
const img = join(root, 'docs', 'img');
mkdirSync(img, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), 'vfab-shots-'));
const assets = loadAssets();

const graphFile = join(tmp, 'two-hosts.html');
writeFileSync(graphFile, await renderGraph(loadTopology(join(root, 'topologies/two-hosts.yaml')), 'html', assets));
const lm = 'topologies/live-migration.yaml';
const { summary, fabric } = runTopology(join(root, lm));
const reportFile = join(tmp, 'live-migration.html');
writeFileSync(reportFile, await buildRunReport(summary, { command: `vfab run ${lm} --report out/live-migration.html`, assets, model: fabric.model }));

const browser = await chromium.launch({
  executablePath: process.env.VFAB_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  let page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  await page.goto(`file://${graphFile}`);
  const svg = await page.locator('svg.vfab-diagram').boundingBox();
  await page.screenshot({ path: join(img, 'two-hosts-graph.png'), clip: { x: svg.x, y: svg.y, width: Math.min(svg.width, 880), height: Math.min(svg.height, 600) } });
  await page.close();

  page = await browser.newPage({ viewport: { width: 1200, height: 1500 } });
  await page.goto(`file://${reportFile}`);
  // show a clicked port and a hovered ping, as a reader would
  await page.locator('svg.vfab-diagram g.port[data-id="vm2.eth0"] rect').click({ force: true });
  const top = await page.locator('#topology').boundingBox();
  const tl = await page.locator('#timeline').boundingBox();
  await page.screenshot({ path: join(img, 'live-migration-report.png'), clip: { x: 0, y: top.y, width: 1200, height: Math.min(tl.y + tl.height - top.y, 1350) } });
  await page.close();
} finally {
  await browser.close();
}
process.stdout.write(`wrote ${join('docs', 'img', 'two-hosts-graph.png')} and ${join('docs', 'img', 'live-migration-report.png')}\n`);
