/**
 * Distributed sweeps on a real redis-server (started here on a free loopback port, killed after)
 * with real `vfab worker` processes. Each test has its own queue, so workers of one test never
 * see another's points. Needs `npm run build` (workers run dist/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithTools } from '../helpers/tools.js';
import { acceptResult, checkRedis, parseRedisUrl } from '../../src/sweep/redis.adapter.js';
import { vfabBuild, vfabVersion } from '../../src/sweep/version.js';
import { freePort } from '../helpers/free-port.js';

const BASE = resolve('topologies/two-hosts.yaml');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A sweep of `n` link delays x `seeds` seeds; `until` sets how long each point computes. */
function sweepFile(until: string, delays: number, seeds: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'sweeps-redis-'));
  const f = join(dir, 's.sweep.yaml');
  const values = Array.from({ length: delays }, (_, i) => `${(i + 1) * 10}us`).join(', ');
  writeFileSync(f, `base: ${BASE}\nuntil: ${until}\nparameters:\n  links[0].delay: [${values}]\nseeds: 1..${seeds}\nmetrics:\n  rtt_max: apps[0].rtt_max_ns\n  events: sim_events\nexpect:\n  - "rtt_max < 10ms"\n`);
  return f;
}

interface Ran { status: number | null; stdout: string; stderr: string }

function vfab(args: string[], onSpawn?: (c: ChildProcess) => void): Promise<Ran> {
  return new Promise((res) => {
    const c = spawn(process.execPath, ['bin/run.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.on('close', (status) => res({ status, stdout, stderr }));
    onSpawn?.(c);
  });
}

/** A `vfab worker` in its own process group (so a SIGKILL takes its sandbox children too). */
class WorkerProc {
  log = '';
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  constructor(url: string, queue: string) {
    this.child = spawn(process.execPath, ['bin/run.js', 'worker', '--redis', url, '--queue', queue, '--concurrency', '1', '--lock-ms', '2000'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.child.stderr!.on('data', (d: Buffer) => { this.log += d.toString(); });
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
  }
  async ready(): Promise<void> {
    for (let i = 0; i < 600 && !this.log.includes(', concurrency 1'); i++) await sleep(50);
    expect(this.log).toContain(', concurrency 1');
  }
  /** The points it finished (not the flow's aggregating parent). */
  done(): string[] {
    return [...this.log.matchAll(/^vfab worker: done (p-\S+)$/gm)].map((m) => m[1]!);
  }
  /** The sweep parents (aggregate jobs) it finished. */
  aggregated(): string[] {
    return [...this.log.matchAll(/^vfab worker: done (s-\S+)$/gm)].map((m) => m[1]!);
  }
  /** The job it started and has not finished, if any. */
  inHand(): string | undefined {
    const started = [...this.log.matchAll(/^vfab worker: start (\S+)$/gm)].map((m) => m[1]!);
    const last = started[started.length - 1];
    return last !== undefined && !this.done().includes(last) ? last : undefined;
  }
  kill(sig: NodeJS.Signals = 'SIGKILL'): void {
    try {
      process.kill(-this.child.pid!, sig);
    } catch {
      // already gone
    }
  }
}

describe('redis URLs and results (no server needed)', () => {
  it('parses redis URLs and rejects others with the flag named', () => {
    expect(parseRedisUrl('redis://u:p%40ss@h.example:6380/2')).toEqual({ host: 'h.example', port: 6380, username: 'u', password: 'p@ss', db: 2, maxRetriesPerRequest: null });
    expect(parseRedisUrl('rediss://[::1]')).toMatchObject({ host: '::1', port: 6379, tls: {} });
    expect(() => parseRedisUrl('http://h:1')).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => parseRedisUrl('redis://h/x')).toThrow(/database/);
  });

  it('a result computed by another vfab build is discarded, never mixed in', () => {
    const result = { metrics: { m: 1 }, verdict: 'pass' as const, failures: [], error: null };
    expect(acceptResult('j', { version: vfabVersion(), build: vfabBuild(), result }, ['m'])).toEqual(result);
    const other = acceptResult('j', { version: vfabVersion(), build: 'ffffffffffffffff', result }, ['m']);
    expect(other.verdict).toBe('error');
    expect(other.metrics).toEqual({ m: null });
    expect(other.error).toContain('build ffffffffffffffff');
  });

  it('a Redis that refuses connections: exit 2 naming --redis, no stack, for sweep and worker', async () => {
    const port = await freePort(); // nothing listens there
    const f = sweepFile('1s', 1, 1);
    for (const args of [['sweep', f, '--redis', `redis://127.0.0.1:${port}`], ['worker', '--redis', `redis://127.0.0.1:${port}`]]) {
      const r = await vfab(args);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`--redis: cannot reach Redis at redis://127.0.0.1:${port}: `);
      expect(r.stderr).toMatch(/ECONNREFUSED/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const bad = await vfab(['sweep', f, '--redis', 'localhost:6379']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--redis: expected a redis:// or rediss:// URL');
    const jobs = await vfab(['sweep', f, '--redis', `redis://127.0.0.1:${port}`, '--jobs', '2']);
    expect(jobs.status).toBe(2);
    expect(jobs.stderr).toContain('--jobs: with --redis');
  }, 60_000);
});

describeWithTools(['redis-server'], 'sweeps on BullMQ with real vfab workers', () => {
  let redis: ChildProcess;
  let url = '';
  const workers: WorkerProc[] = [];
  const worker = (queue: string): WorkerProc => {
    const w = new WorkerProc(url, queue);
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await checkRedis(url).then(() => true, () => false)) return;
      await sleep(100);
    }
    throw new Error('redis-server did not start');
  }, 30_000);

  afterAll(async () => {
    for (const w of workers) w.kill();
    redis?.kill('SIGKILL');
    await sleep(100);
  });

  it('a 40-point sweep on two workers: the same bytes as the local pool, every point run once', async () => {
    const f = sweepFile('20s', 10, 4);
    const dir = mkdtempSync(join(tmpdir(), 'sweeps-redis-out-'));
    const local = await vfab(['sweep', f, '--jobs', '2', '--json', '--csv', join(dir, 'local.csv'), '--report', join(dir, 'local.html')]);
    expect(local.status).toBe(0);
    const a = worker('q-identical');
    const b = worker('q-identical');
    await Promise.all([a.ready(), b.ready()]);
    const { Queue } = await import('bullmq');
    const q = new Queue('q-identical', { connection: parseRedisUrl(url) });
    let most = 0;
    let running = true;
    const watch = (async () => {
      while (running) {
        // points only: the flow's parent waits in waiting-children the whole time
        const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        most = Math.max(most, Object.values(c).reduce((x, y) => x + y, 0));
        await sleep(20);
      }
    })();
    const remote = await vfab(['sweep', f, '--redis', url, '--queue', 'q-identical', '--json', '--csv', join(dir, 'remote.csv'), '--report', join(dir, 'remote.html'), '--max-queued', '8']);
    running = false;
    await watch;
    await q.close();
    // --max-queued bounds the points in Redis at once (and the watcher saw the queue busy)
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(8);
    expect(remote.stderr).toBe('');
    expect(remote.status).toBe(0);
    expect(remote.stdout).toBe(local.stdout);
    expect(readFileSync(join(dir, 'remote.csv'), 'utf8')).toBe(readFileSync(join(dir, 'local.csv'), 'utf8'));
    expect(readFileSync(join(dir, 'remote.html'), 'utf8')).toBe(readFileSync(join(dir, 'local.html'), 'utf8'));
    const ran = [...a.done(), ...b.done()];
    expect(ran).toHaveLength(40);
    expect(new Set(ran).size).toBe(40);
    // the points were one BullMQ flow: a parent that a worker ran after the last point, whose
    // aggregate (kept in Redis) is the submitter's, and which saw every point as its child
    const parents = [...a.aggregated(), ...b.aggregated()];
    expect(parents).toHaveLength(1);
    const q2 = new Queue('q-identical', { connection: parseRedisUrl(url) });
    const parent = await q2.getJob(parents[0]!);
    expect(parent!.name).toBe('aggregate');
    const agg = (typeof parent!.returnvalue === 'string' ? JSON.parse(parent!.returnvalue) : parent!.returnvalue) as { points: number; aggregates: unknown };
    expect(agg.points).toBe(40);
    expect(agg.aggregates).toEqual((JSON.parse(local.stdout) as { aggregates: unknown }).aggregates);
    const deps = await parent!.getDependenciesCount();
    expect(deps.processed).toBe(41); // 40 points + the submitter's seal
    await q2.close();
    // both workers took part
    expect(a.done().length).toBeGreaterThan(0);
    expect(b.done().length).toBeGreaterThan(0);
    // the table (not only --json) is the same too
    const table = await vfab(['sweep', f, '--redis', url, '--queue', 'q-identical']);
    expect(table.stdout).toBe((await vfab(['sweep', f, '--jobs', '1'])).stdout);
    // graceful stop: SIGTERM finishes the point in hand and exits 0
    a.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(a.log).toContain('vfab worker: stopped');
  }, 240_000);

  it('a worker SIGKILLed mid-point loses nothing: the other worker finishes its point', async () => {
    const f = sweepFile('600s', 6, 2);
    const local = await vfab(['sweep', f, '--jobs', '2', '--json']);
    const a = worker('q-kill');
    const b = worker('q-kill');
    await Promise.all([a.ready(), b.ready()]);
    let lost: string | undefined;
    const remote = vfab(['sweep', f, '--redis', url, '--queue', 'q-kill', '--json'], () => {
      void (async () => {
        // kill A while it holds a point it has not finished, after it finished one (warm)
        for (let i = 0; i < 3000 && lost === undefined; i++) {
          const x = a.done().length > 0 ? a.inHand() : undefined;
          if (x !== undefined) {
            a.kill();
            lost = x;
          } else await sleep(10);
        }
      })();
    });
    const r = await remote;
    expect(lost, 'worker A never held a point').toBeDefined();
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(local.stdout);
    expect(a.done()).not.toContain(lost);
    expect(b.done()).toContain(lost);
  }, 240_000);

  it('a submitter SIGKILLed mid-sweep: the rerun collects the rest and no point runs twice', async () => {
    const f = sweepFile('200s', 6, 2);
    const out = mkdtempSync(join(tmpdir(), 'sweeps-redis-out-'));
    const points = join(out, 'points');
    const cached = () => { try { return readdirSync(points).filter((x) => x.endsWith('.json')); } catch { return []; } };
    const a = worker('q-resume');
    const b = worker('q-resume');
    await Promise.all([a.ready(), b.ready()]);
    const first = await vfab(['sweep', f, '--redis', url, '--queue', 'q-resume', '--out', out], (c) => {
      void (async () => {
        for (let i = 0; i < 3000 && cached().length < 3; i++) await sleep(10);
        c.kill('SIGKILL');
      })();
    });
    expect(first.status).toBe(null); // killed
    const before = cached().length;
    expect(before).toBeGreaterThanOrEqual(3);
    expect(before).toBeLessThan(12);
    const again = await vfab(['sweep', f, '--redis', url, '--queue', 'q-resume', '--out', out, '--json']);
    expect(again.status).toBe(0);
    expect(cached()).toHaveLength(12);
    const ran = [...a.done(), ...b.done()];
    expect(ran).toHaveLength(12);
    expect(new Set(ran).size).toBe(12);
    // the rerun re-attached to the first submit's flow and sealed it: one parent, run once
    expect([...a.aggregated(), ...b.aggregated()]).toHaveLength(1);
    expect(again.stdout).toBe((await vfab(['sweep', f, '--jobs', '2', '--json'])).stdout);
  }, 240_000);

  it('Ctrl-C on the submitter: exit 130 with how to resume; the same command then finishes', async () => {
    const f = sweepFile('300s', 6, 1);
    const { Queue } = await import('bullmq');
    const q = new Queue('q-int', { connection: parseRedisUrl(url) });
    // no worker yet: the points wait in Redis
    const first = await vfab(['sweep', f, '--redis', url, '--queue', 'q-int'], (c) => {
      void (async () => {
        for (let i = 0; i < 600 && (await q.getWaitingCount()) < 6; i++) await sleep(50);
        c.kill('SIGINT');
      })();
    });
    await q.close();
    expect(first.status).toBe(130);
    expect(first.stderr).toContain('interrupted with 0 of 6 points done');
    expect(first.stderr).toContain('run the same command again');
    expect(first.stderr).toContain(`vfab sweep: no vfab worker is connected to queue "q-int" on ${url} yet`);
    const w = worker('q-int');
    await w.ready();
    const again = await vfab(['sweep', f, '--redis', url, '--queue', 'q-int']);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('6 points: 6 passed, 0 failed, 0 errors');
    expect(w.done()).toHaveLength(6);
  }, 240_000);

  it('a worker of another vfab version or build refuses the point with a message and never runs it', async () => {
    const f = sweepFile('1s', 1, 1);
    const w = worker('q-version');
    await w.ready();
    // a job as a submitter of another build would queue it
    const { Queue } = await import('bullmq');
    const q = new Queue('q-version', { connection: parseRedisUrl(url) });
    const { loadSweepFile } = await import('../../src/sweep/file.js');
    const { taskOf } = await import('../../src/sweep/run.js');
    const task = { ...taskOf(loadSweepFile(f), 0), version: '9.9.9' };
    const job = await q.add('point', { task, hash: 'h', build: '0123456789abcdef' }, { jobId: 'p-other', attempts: 1 });
    let state = '';
    for (let i = 0; i < 300 && state !== 'failed'; i++) {
      state = await job.getState();
      await sleep(50);
    }
    expect(state).toBe('failed');
    const failed = await q.getJob('p-other');
    expect(failed!.failedReason).toContain(`vfab worker refuses point p-other: this worker runs vfab ${vfabVersion()} (build ${vfabBuild()}), the sweep was planned by vfab 9.9.9 (build 0123456789abcdef)`);
    expect(failed!.returnvalue).toBeFalsy();
    expect(w.log).toContain('failed p-other (attempt 1): vfab worker refuses point p-other');
    expect(w.done()).toEqual([]);
    await q.close();
  }, 60_000);
});
