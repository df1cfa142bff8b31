/**
 * Pictures at scale: a 1,000-VM topology (50 hosts × 20 VMs, 4 switches, two tenants) drawn by
 * `vfab graph --format html`. `graph_1k_vms_layout_ms` is the ELK layout plus SVG/HTML rendering
 * in Node; `graph_1k_vms_render_ms` is the time the page takes to load and paint in Debian's
 * chromium (playwright-core; null when chromium or playwright-core is absent). The goal is
 * under 5 s in the test browser (measured, not asserted).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTopologyText } from '../topology/load.js';
import { renderGraph } from '../report/graph.js';
import { loadAssets } from '../report/assets.adapter.js';
import type { BenchContext } from './main.js';

export const keys = ['graph_1k_vms_layout_ms', 'graph_1k_vms_render_ms'];

export function generateVms(n: number, perHost = 20): string {
  const hosts = Math.ceil(n / perHost);
  const out: string[] = [`name: graph${n}`, 'hosts:'];
  for (let h = 0; h < hosts; h++) out.push(`  hv${h}: { bridges: { br0: { ports: { uplink: { trunks: [10, 20] } } } } }`);
  out.push('switches:');
  for (let s = 0; s < 4; s++) {
    out.push(`  sw${s}:`, '    ports:');
    for (let h = s; h < hosts; h += 4) out.push(`      p${h}: { trunks: [10, 20] }`);
  }
  out.push('links:');
  for (let h = 0; h < hosts; h++) out.push(`  - { a: hv${h}.br0.uplink, b: sw${h % 4}.p${h}, bandwidth: 25Gbit, delay: 5us }`);
  out.push('vms:');
  for (let i = 0; i < n; i++) out.push(`  vm${i}: { host: hv${Math.floor(i / perHost)}, interfaces: { eth0: { bridge: br0, tag: ${i % 2 ? 20 : 10} } } }`);
  return `${out.join('\n')}\n`;
}

export async function run(ctx: BenchContext): Promise<Record<string, number | null>> {
  const model = loadTopologyText(generateVms(1000), 'graph1k.yaml');
  const assets = loadAssets();
  let html = '';
  const layout = await ctx.median(1, async () => {
    const t = performance.now();
    html = await renderGraph(model, 'html', assets);
    return Math.round(performance.now() - t);
  });
  let render: number | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'vfab-bench-'));
  try {
    const file = join(dir, 'graph.html');
    writeFileSync(file, html);
    const pw = (await import('playwright-core').catch(() => undefined)) as typeof import('playwright-core') | undefined;
    if (pw) {
      const browser = await pw.chromium
        .launch({ executablePath: process.env['VFAB_CHROMIUM'] ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
        .catch((e: unknown) => {
          ctx.log(`report: no chromium (${(e as Error).message.split('\n')[0]}); graph_1k_vms_render_ms = null`);
          return undefined;
        });
      if (browser) {
        try {
          render = await ctx.median(3, async () => {
            const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
            const t = performance.now();
            await page.goto(`file://${file}`, { waitUntil: 'load' });
            // two animation frames: the SVG has been laid out and painted
            await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
            const ms = Math.round(performance.now() - t);
            await page.close();
            return ms;
          });
        } finally {
          await browser.close();
        }
      }
    } else ctx.log('report: playwright-core not installed; graph_1k_vms_render_ms = null');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { graph_1k_vms_layout_ms: layout, graph_1k_vms_render_ms: render };
}
