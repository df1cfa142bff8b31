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
 */
import { writeFileSync } from 'node:fs';
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
  for (const name of MODULES) {
    let mod: BenchModule;
    try {
      mod = (await import(`./${name}.js`)) as BenchModule;
    } catch (e) {
      if (errnoCode(e) === 'ERR_MODULE_NOT_FOUND') continue;
      throw e;
    }
    if (only && !mod.keys.some((k) => k.startsWith(only) || only.startsWith(k))) continue;
    ctx.log(`${name}…`);
    const figures = profileKey ? await profiled(profileKey, flag('--profile-out') ?? `bench-${profileKey}.cpuprofile`, () => mod.run(ctx), ctx) : await mod.run(ctx);
    for (const [k, v] of Object.entries(figures)) if (!only || k.startsWith(only)) out[k] = v;
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
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
