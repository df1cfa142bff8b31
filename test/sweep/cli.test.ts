/** `vfab sweep` end to end: exit codes, outputs, and a resume after the submitter is killed. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const vfab = (...args: string[]) => spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8' });
const BASE = resolve('topologies/two-hosts.yaml');

function sweepFile(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sweeps-cli-'));
  const f = join(dir, 's.sweep.yaml');
  writeFileSync(f, `base: ${BASE}\n${body}`);
  return f;
}

describe('vfab sweep', () => {
  it('exit 2 with a located did-you-mean for a path not in the base file', () => {
    const f = sweepFile('parameters:\n  linkz[0].delay: [1us]\n');
    const r = vfab('sweep', f);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${f}:3:3: parameter "linkz[0].delay": no "linkz" under (top level)`);
    expect(r.stderr).toContain('did you mean "links"');
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  }, 60_000);

  it('exit 0 when every point holds, 1 when one fails; --json and --csv carry one row per point', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sweeps-cli-'));
    const body = 'until: 300ms\nparameters:\n  links[0].delay: [20us, 500us]\nmetrics:\n  rtt_max: apps[0].rtt_max_ns\n';
    const ok = vfab('sweep', sweepFile(`${body}expect: ["rtt_max < 10ms"]\n`), '--jobs', '1', '--json', '--csv', join(dir, 'r.csv'));
    expect(ok.status).toBe(0);
    const json = JSON.parse(ok.stdout) as { rows: Array<{ metrics: { rtt_max: number }; vfab_version: string; input_hash: string }> };
    expect(json.rows).toHaveLength(2);
    expect(json.rows[0]!.vfab_version).toBe('0.1.0');
    expect(readFileSync(join(dir, 'r.csv'), 'utf8').trimEnd().split('\r\n')).toHaveLength(3);
    const bad = vfab('sweep', sweepFile(`${body}expect: ["rtt_max < ${json.rows[1]!.metrics.rtt_max}"]\n`), '--jobs', '1');
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('2 points: 1 passed, 1 failed, 0 errors');
  }, 60_000);

  it('a sweep resumed after the submitter is SIGKILLed finishes without rerunning completed points', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sweeps-out-'));
    const f = sweepFile('until: 1s\nparameters:\n  links[0].delay: [10us, 20us, 30us, 40us, 50us, 60us]\nseeds: 1..2\nmetrics: { ev: sim_events }\n');
    const child = spawn(process.execPath, ['bin/run.js', 'sweep', f, '--jobs', '1', '--out', out], { stdio: 'ignore' });
    const points = join(out, 'points');
    const done = () => { try { return readdirSync(points).filter((x) => x.endsWith('.json')); } catch { return []; } };
    for (let i = 0; i < 600 && done().length < 3; i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const before = new Map(done().map((x) => [x, statSync(join(points, x)).mtimeMs]));
    expect(before.size).toBeGreaterThanOrEqual(3);
    expect(before.size).toBeLessThan(12);
    const resumed = vfab('sweep', f, '--jobs', '1', '--out', out, '--json');
    expect(resumed.status).toBe(0);
    // completed points were not rerun: their files were not rewritten
    for (const [x, t] of before) expect(statSync(join(points, x)).mtimeMs).toBe(t);
    expect(done()).toHaveLength(12);
    // and the resumed results equal a fresh run's
    const fresh = vfab('sweep', f, '--jobs', '2', '--json');
    expect(resumed.stdout).toBe(fresh.stdout);
  }, 180_000);
});
