import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/fabric/run.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { loadSweepText } from '../../src/sweep/file.js';
import { runPoint, type PointTask } from '../../src/sweep/point.js';
import { localPool, runSweep, stats, type Executor } from '../../src/sweep/run.js';
import { renderCsv } from '../../src/sweep/render.js';
import { renderSweepReport } from '../../src/sweep/plot.js';

const BASE = resolve('topologies/two-hosts.yaml');
const SWEEP = `base: ${BASE}
until: 300ms
parameters:
  links[0].delay: [20us, 500us]
seeds: 1..2
metrics:
  rtt_max: apps[0].rtt_max_ns
  events: sim_events
expect:
  - "rtt_max < 1ms"
`;

function plan(text = SWEEP): ReturnType<typeof loadSweepText> {
  const dir = mkdtempSync(join(tmpdir(), 'sweeps-'));
  writeFileSync(join(dir, 's.sweep.yaml'), text);
  return loadSweepText(text, join(dir, 's.sweep.yaml'));
}

/** Runs points in this thread and counts them. */
function inline(): Executor & { calls: number } {
  const ex = {
    calls: 0,
    run: (task: PointTask) => {
      ex.calls++;
      return Promise.resolve(runPoint(task));
    },
    close: () => Promise.resolve(),
  };
  return ex;
}

describe('running sweeps', () => {
  it('each point equals a direct run of the substituted topology with its seed', async () => {
    const p = plan();
    const r = await runSweep(p, { executor: inline() });
    expect(r.rows).toHaveLength(4);
    for (const row of r.rows) {
      const text = p.points[row.index]!.text;
      const direct = JSON.parse(JSON.stringify(runTopology(loadTopologyText(text, BASE), { seed: row.seed, untilNs: 300_000_000 }).summary)) as { apps: Array<{ rtt_max_ns: number }>; sim_events: number };
      expect(row.metrics).toEqual({ rtt_max: direct.apps[0]!.rtt_max_ns, events: direct.sim_events });
      expect(row.verdict).toBe(direct.apps[0]!.rtt_max_ns < 1e6 ? 'pass' : 'fail');
    }
    // the longer link shows in the RTT
    expect(r.rows[2]!.metrics['rtt_max']!).toBeGreaterThan(r.rows[0]!.metrics['rtt_max']!);
    expect(r.aggregates).toHaveLength(2);
    expect(r.aggregates[0]!.seeds).toBe(2);
  });

  it('the worker-thread pool gives byte-identical results to in-thread runs, at any --jobs', async () => {
    expect(existsSync(resolve('dist/sweep/pool-worker.js')), 'npm run build first').toBe(true);
    const p = plan();
    const a = JSON.stringify(await runSweep(p, { executor: inline() }));
    const b = JSON.stringify(await runSweep(p, { executor: localPool(2) }));
    const c = JSON.stringify(await runSweep(p, { executor: localPool(1) }));
    expect(b).toBe(a);
    expect(c).toBe(a);
  }, 120_000);

  it('caches under --out: a rerun runs nothing, --force reruns all, results identical', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sweeps-out-'));
    const p = plan();
    const first = inline();
    const r1 = await runSweep(p, { executor: first, outDir: out });
    expect(first.calls).toBe(4);
    expect(readdirSync(join(out, 'points'))).toHaveLength(4);
    const second = inline();
    const r2 = await runSweep(p, { executor: second, outDir: out });
    expect(second.calls).toBe(0);
    expect(JSON.stringify(r2)).toBe(JSON.stringify(r1));
    const forced = inline();
    await runSweep(p, { executor: forced, outDir: out, force: true });
    expect(forced.calls).toBe(4);
    // a changed parameter value is a new point; the old ones stay cached
    const third = inline();
    await runSweep(plan(SWEEP.replace('500us', '600us')), { executor: third, outDir: out });
    expect(third.calls).toBe(2);
  });

  it('a crashing point is recorded and the sweep goes on', async () => {
    const p = plan();
    let n = 0;
    const flaky: Executor = {
      run: (task) => (n++ === 1 ? Promise.reject(new Error('worker exited')) : Promise.resolve(runPoint(task))),
      close: () => Promise.resolve(),
    };
    const r = await runSweep(p, { executor: flaky });
    expect(r.rows.map((x) => x.verdict).filter((v) => v === 'error')).toHaveLength(1);
    expect(r.rows.find((x) => x.verdict === 'error')!.error).toContain('worker exited');
    expect(r.errors).toBe(1);
  });

  it('a point its base rejects after substitution is an error row, not a crash', async () => {
    // each value alone is fine; together they collide (same MAC twice)
    const p = plan(`base: ${BASE}\nuntil: 100ms\nparameters:\n  vms.vm1.interfaces.eth0.mac: ["02:00:00:00:0a:01", "02:00:00:00:0a:09"]\n  vms.vm2.interfaces.eth0.mac: ["02:00:00:00:0a:09", "02:00:00:00:14:02"]\n`);
    const r = await runSweep(p, { executor: inline() });
    const bad = r.rows.filter((x) => x.verdict === 'error');
    expect(bad.length).toBeGreaterThan(0);
    expect(bad[0]!.error).toMatch(/02:00:00:00:0a:09/);
  });

  it('csv: one row per point plus a header; stats use nearest rank', async () => {
    const r = await runSweep(plan(), { executor: inline() });
    expect(renderCsv(r).trimEnd().split('\r\n')).toHaveLength(5);
    expect(stats([5, 1, 4, 2, 3])).toEqual({ n: 5, mean: 3, min: 1, max: 5, p50: 3, p95: 5 });
  });

  it('--report: one SVG chart per metric x parameter, points carry the across-seed stats', async () => {
    const p = plan();
    const r = await runSweep(p, { executor: inline() });
    const html = renderSweepReport(p, r);
    expect(html.match(/<svg /g)).toHaveLength(2 * 1);
    const a = r.aggregates[1]!.metrics['rtt_max']!;
    expect(html).toContain(`links[0].delay=500us: mean`);
    expect(html).toContain(`max ${a.max!.toExponential(2)}`);
    expect(html).not.toContain('<script');
  });
});
