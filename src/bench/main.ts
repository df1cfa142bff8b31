/**
 * `npm run bench`: runs every benchmark module and prints ONE JSON object of figures.
 *
 * Each module under src/bench/ exports `run(ctx): Promise<Record<string, number | string>>`.
 * `--only PREFIX` keeps the keys (and skips the modules) whose names do not start with PREFIX.
 * Figures are medians of several runs (each module decides how many); progress goes to stderr so
 * stdout stays one JSON object. This is an adapter: it may read the wall clock.
 *
 * `--profile KEY` runs only the module that measures KEY (as `--only KEY`) under the V8 CPU
 * profiler (node:inspector) and writes `bench-KEY.cpuprofile` (or `--profile-out FILE`): open it
 * in Chrome DevTools (Performance → Load profile) or VS Code to see where the time goes.
 *
 * Each module runs in a process of its own (`--module NAME`, spawned here with the same node
 * flags). Run one after another in one process, a late module inherited the heap, the JIT's
 * type feedback and the GC pressure of every module before it: `conntrack_packets_per_s` read
 * 0.39 M at the end of a full run and 1.1 M alone on the same machine. A user runs one
 * workload per process, so that is what each figure measures. `--in-process` keeps the old way.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { errnoCode } from '../errors.js';

export interface BenchContext {
  /** Median of `n` runs of `fn`, each returning a figure. */
  median(n: number, fn: () => number | Promise<number>): Promise<number>;
  log(msg: string): void;
  only: string | undefined;
}

type BenchModule = { keys: string[]; run(ctx: BenchContext): Promise<Record<string, number | string | null>> };

// Modules in output order. A module that is missing (not built yet) is skipped with a note.
const MODULES = ['sim', 'frames', 'pcap', 'topology', 'classifier', 'sriov', 'qcow2', 'bitmap', 'qos', 'report', 'ns3', 'cli', 'overlay', 'openflow', 'tcp', 'ovs', 'sweep', 'bullmq', 'fabric-disks', 'migration-tcp', 'nbd', 'conntrack', 'convert'];

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const profileKey = flag('--profile');
  const only = profileKey ?? flag('--only');
  const moduleFlag = flag('--module');
  const isolated = moduleFlag === undefined && !argv.includes('--in-process');
  const ctx: BenchContext = {
    only,
    log: (msg) => process.stderr.write(`bench: ${msg}\n`),
    async median(n, fn) {
      const xs: number[] = [];
      for (let k = 0; k < n; k++) xs.push(await fn());
      xs.sort((a, b) => a - b);
      return xs[Math.floor(xs.length / 2)]!;
    },
  };
  const out: Record<string, number | string | null> = {};
  for (const name of moduleFlag !== undefined ? [moduleFlag] : MODULES) {
    let mod: BenchModule;
    try {
      mod = (await import(`./${name}.js`)) as BenchModule;
    } catch (e) {
      if (errnoCode(e) === 'ERR_MODULE_NOT_FOUND') continue;
      throw e;
    }
    if (only && !mod.keys.some((k) => k.startsWith(only) || only.startsWith(k))) continue;
    if (isolated) {
      // Importing a module only defines it; its work (and its garbage) happens in the child.
      Object.assign(out, await inChild(name, argv));
      continue;
    }
    ctx.log(`${name}…`);
    const figures = profileKey ? await profiled(profileKey, flag('--profile-out') ?? `bench-${profileKey}.cpuprofile`, () => mod.run(ctx), ctx) : await mod.run(ctx);
    for (const [k, v] of Object.entries(figures)) if (!only || k.startsWith(only)) out[k] = v;
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

/** Runs one module in a fresh node process with this process's flags; returns its figures. */
function inChild(name: string, argv: string[]): Promise<Record<string, number | string | null>> {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), ...argv, '--module', name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench module ${name} exited with ${code}`));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, number | string | null>);
      } catch (e) {
        reject(new Error(`bench module ${name} printed no JSON object: ${String(e)}`));
      }
    });
  });
}

/** Runs `fn` under the CPU profiler and writes the profile to `file`. */
async function profiled<T>(key: string, file: string, fn: () => Promise<T>, ctx: BenchContext): Promise<T> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    ctx.log(`CPU profile of ${key} written to ${file}`);
  }
}

await main();
