/**
 * QoS pictures: SVG charts with 1/2/5 ticks, binary byte units, limits and expectation
 * thresholds labelled; `vfab qos run --report` writes the HTML report (browser checks in
 * browser.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { loadQosFile } from '../../src/qos/file.adapter.js';
import { runQos } from '../../src/qos/run.js';
import { qosCharts } from '../../src/qos/svg.js';

const dir = mkdtempSync(join(tmpdir(), 'vfab-qosreport-'));
const vfab = (...args: string[]) => spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8' });

function texts(svg: string, cls: string): string[] {
  const doc = new DOMParser().parseFromString(svg, 'text/xml');
  const all = Array.from(doc.getElementsByTagName('text') as unknown as ArrayLike<{ getAttribute(n: string): string | null; textContent: string | null }>);
  return all.filter((t) => t.getAttribute('class') === cls).map((t) => t.textContent ?? '');
}

describe('QoS SVG charts', () => {
  const qos = loadQosFile('topologies/qos-burst.qos.yaml');
  const exps = qos.expectations.map((e) => e.exp);
  const { engine } = runQos(qos.model, { expectations: exps });
  const charts = qosCharts(engine, exps);

  it('puts y ticks on 1, 2 or 5 × 10ⁿ and x ticks on round seconds', () => {
    const ys = texts(charts['iops.svg']!, 'ytick').map((t) => Number(t.replace(/k$/, 'e3').replace(/M$/, 'e6')));
    const steps = ys.slice(1).map((v, i) => v - ys[i]!);
    expect(new Set(steps).size).toBe(1);
    expect(String(steps[0])).toMatch(/^(1|2|5)0*$/);
    const xs = texts(charts['iops.svg']!, 'xtick');
    for (const x of xs) expect(x).toMatch(/^\d+(\.\d+)? s$/);
  });

  it('draws the expectations as labelled thresholds', () => {
    const all = Object.values(charts).join('\n');
    const x = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    for (const e of exps) expect(all).toContain(x(`expect ${e.text}`));
    expect(all).toMatch(/class="threshold"/);
  });

  it('labels bandwidth in binary units, with the limit in the same unit', () => {
    const f = join(dir, 'bw.qos.yaml');
    writeFileSync(
      f,
      [`topology: ${resolve('topologies/qos-noisy-neighbor.yaml')}`, 'duration: 3s', 'backends: { ssd: { parallelism: 8, service: { fixed: 100us }, bandwidth: 1GiB/s } }', 'disks:', '  vm1.vda: { backend: ssd, policy: { bps-total: 300MiB } }', 'jobs:', '  big: { disk: vm1.vda, rw: write, bs: 1M, iodepth: 8, runtime: 3s, time_based: 1 }', 'expect:', '  - "vm1.vda: bw <= 310MiB"', ''].join('\n'),
    );
    const q = loadQosFile(f);
    const e = q.expectations.map((x) => x.exp);
    const c = qosCharts(runQos(q.model, { expectations: e }).engine, e);
    const svg = c['bandwidth.svg']!;
    expect(svg).toContain('vm1.vda bps-total 300 MiB/s');
    expect(svg).toContain('expect vm1.vda: bw &lt;= 310MiB');
    const ys = texts(svg, 'ytick');
    expect(ys[0]).toBe('0 B/s');
    for (const y of ys.slice(1)) expect(y).toMatch(/^(\d+) MiB\/s$/);
  });
});

describe('vfab qos run --report', () => {
  it('writes one HTML file with the verdicts, and refuses a missing folder with exit 2', () => {
    const out = join(dir, 'q.html');
    const r = vfab('qos', 'run', 'topologies/qos-noisy-neighbor.qos.yaml', '--report', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`wrote ${out}`);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('Expectations: <span class="pass">all 5 hold</span>');
    expect(html).toContain('vfab qos run topologies/qos-noisy-neighbor.qos.yaml --report');
    const bad = vfab('qos', 'run', 'topologies/qos-noisy-neighbor.qos.yaml', '--report', join(dir, 'no', 'q.html'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^--report: the folder/);
  });
});
