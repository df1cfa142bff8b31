/**
 * `vfab run --report` and `vfab report` as a user meets them, including the bad inputs: a report
 * path in a missing folder or onto a folder, a summary from another vfab version, not JSON.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/fabric/summary.js';
import { VFAB_VERSION } from '../../src/version.js';

const dir = mkdtempSync(join(tmpdir(), 'vfab-report-'));
const vfab = (...args: string[]) => spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8' });

describe('vfab run --report / vfab report', () => {
  it('version constant matches package.json', () => {
    expect(VFAB_VERSION).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });

  it('writes the same report from a run and from its saved summary', () => {
    const a = join(dir, 'a.html');
    const r = vfab('run', 'topologies/two-hosts.yaml', '--json', '--report', a);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout) as RunSummary & { bridges: Record<string, unknown> };
    expect(summary.vfab_version).toBe(VFAB_VERSION);
    expect(summary.topology_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(summary.bridges)).toEqual(['hv1.br0', 'hv2.br0', 'tor']);
    const html = readFileSync(a, 'utf8');
    expect(html).toContain('vfab run topologies/two-hosts.yaml --json --report');
    expect(html).toContain(summary.topology_sha256!);
    expect(html).toContain('vfab run topologies/two-hosts.yaml --seed 1 --until 4000ms');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    const js = join(dir, 's.json');
    writeFileSync(js, r.stdout);
    const b = join(dir, 'b.html');
    const q = vfab('report', js, '-o', b);
    expect(q.stderr).toBe('');
    expect(q.status).toBe(0);
    const html2 = readFileSync(b, 'utf8');
    // same content but the command line
    expect(html2.replace(/<tr><th>command<\/th><td class="mono">[^<]*<\/td><\/tr>/, '')).toBe(html.replace(/<tr><th>command<\/th><td class="mono">[^<]*<\/td><\/tr>/, ''));
    expect(html2).toContain('class="vfab-diagram"');
  });

  it('refuses a report path in a missing folder or onto a folder before simulating (exit 2)', () => {
    const a = vfab('run', 'topologies/two-hosts.yaml', '--report', join(dir, 'missing', 'r.html'));
    expect(a.status).toBe(2);
    expect(a.stdout).toBe('');
    expect(a.stderr).toMatch(/^--report: the folder .*missing does not exist/);
    const b = vfab('run', 'topologies/two-hosts.yaml', '--report', dir);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/^--report: .* is a directory/);
    const c = vfab('report', 'topologies/two-hosts.yaml', '-o', join(dir, 'missing', 'r.html'));
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/^--output: the folder/);
  });

  it('refuses a summary from another version, or not a summary, with exit 2 and no stack', () => {
    const r = vfab('run', 'topologies/quickstart.yaml', '--json');
    const s = JSON.parse(r.stdout) as RunSummary;
    const old = join(dir, 'old.json');
    writeFileSync(old, JSON.stringify({ ...s, vfab_version: '0.0.1' }));
    const a = vfab('report', old, '-o', join(dir, 'x.html'));
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(new RegExp(`old\\.json: the summary was written by vfab 0\\.0\\.1; this is vfab ${VFAB_VERSION.replace(/\./g, '\\.')}`));
    const unstamped = join(dir, 'unstamped.json');
    const { vfab_version: _v, ...rest } = s;
    writeFileSync(unstamped, JSON.stringify(rest));
    expect(vfab('report', unstamped, '-o', join(dir, 'x.html')).stderr).toMatch(/without version stamps/);
    const notjson = join(dir, 'n.json');
    writeFileSync(notjson, '{"topology": ');
    const c = vfab('report', notjson, '-o', join(dir, 'x.html'));
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/n\.json: not JSON/);
    expect(c.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'x.html'))).toBe(false);
  });
});
