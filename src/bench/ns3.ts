/**
 * vfab against ns-3 on the same worlds (issue 19; bench/ns3/README.md): whole-process wall time of
 * `vfab run WORLD.yaml --json` over the wall time of the ns-3 program `bench/ns3/vfab-world.cc`,
 * runs interleaved (vfab, ns-3, vfab, …) so load on the shared machine hits both alike, medians.
 * Before timing, one run of each must deliver the same datagrams (count per flow) with the same
 * steady-state latency (min per flow, to the ns); a mismatch fails the bench.
 *
 * - `ns3_ratio_tor_64vms`: 8 hypervisor bridges, 64 VMs, 32 UDP flows for 100 ms (start-up counts).
 * - `ns3_ratio_long_run`: the same fabric for 500 ms of traffic (start-up amortised).
 * - `ns3_build`: which ns-3 was compared (Debian's libns3-dev, or a release build named by
 *   `VFAB_NS3_PREFIX=/path/to/ns-3 install`).
 *
 * The ns-3 program is compiled once into `$TMPDIR/vfab-ns3-<hash of source and flags>/`. Without
 * g++ or ns-3 the keys are null and the reason is logged. This is an adapter: it may read clocks.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../errors.js';
import type { BenchContext } from './main.js';
import { ns3Args, serializationNs, vfabTopology, WORLDS, type World } from './ns3-world.js';

export const keys = ['ns3_ratio_tor_64vms', 'ns3_ratio_long_run', 'ns3_build'];

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE = join(ROOT, 'bench', 'ns3', 'vfab-world.cc');
const NS3_LIBS = ['applications', 'internet', 'bridge', 'traffic-control', 'network', 'stats', 'core'];

export interface Ns3Build {
  binary: string;
  /** `debian libns3-dev 3.37 (-O2)` or `release build at PREFIX`. */
  label: string;
}

const execFileP = promisify(execFile);

/** What a failed child process printed on stderr, else the error's message. */
function childError(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'stderr' in e && typeof e.stderr === 'string' && e.stderr !== '') return e.stderr;
  return errorMessage(e);
}

/**
 * Compiles bench/ns3/vfab-world.cc (once per source + ns-3), or says why it cannot. Child
 * processes are awaited, never run synchronously: a compile blocks nothing else (a test
 * runner's worker that is blocked for a minute loses its RPC channel).
 */
export async function buildNs3(log: (m: string) => void = () => {}): Promise<Ns3Build | { skip: string }> {
  if (spawnSync('g++', ['--version']).status !== 0) return { skip: 'g++ not found' };
  const prefix = process.env.VFAB_NS3_PREFIX;
  let flags: string[];
  let label: string;
  if (prefix) {
    // A release build of ns-3 (`./ns3 configure -d release && ./ns3 build && ./ns3 install`):
    // libraries are named libns3.XX-<module>-release.so (or -optimized/-default).
    const libDir = ['lib', 'lib64'].map((d) => join(prefix, d)).find((d) => existsSync(d));
    if (!libDir) return { skip: `VFAB_NS3_PREFIX=${prefix} has no lib/ folder` };
    const libs = readdirNames(libDir);
    const find = (m: string): string | undefined => libs.find((f) => new RegExp(`^libns3[.0-9-]*-${m}(-[a-z]+)?\\.so$`).test(f));
    const missing = NS3_LIBS.filter((m) => !find(m));
    if (missing.length > 0) return { skip: `VFAB_NS3_PREFIX=${prefix}: no ns-3 ${missing.join(', ')} library in ${libDir}` };
    const incDir = readdirNames(join(prefix, 'include')).find((d) => d.startsWith('ns3'));
    flags = [
      `-I${join(prefix, 'include', incDir ?? 'ns3')}`, '-O3',
      ...NS3_LIBS.map((m) => join(libDir, find(m)!)), `-Wl,-rpath,${libDir}`,
    ];
    label = `release build at ${prefix} (-O3)`;
  } else {
    if (!existsSync('/usr/include/ns3/bridge-net-device.h')) return { skip: 'ns-3 headers not found (apt-get install libns3-dev)' };
    // Not `pkg-config --libs`: Debian's .pc files also name libgsl.so, which only libgsl-dev ships.
    flags = ['-O2', ...NS3_LIBS.map((m) => `-lns3-${m}`)];
    label = 'debian libns3-dev 3.37 (-O2, logging compiled in)';
  }
  const src = readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).update(flags.join(' ')).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `vfab-ns3-${hash}`);
  const binary = join(dir, 'vfab-world');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    log(`compiling ${SOURCE} into ${dir} …`);
    try {
      await execFileP('g++', ['-std=c++17', SOURCE, ...flags, '-o', `${binary}.tmp`], { encoding: 'utf8', maxBuffer: 16 << 20 });
    } catch (e) {
      return { skip: `g++ failed: ${childError(e).slice(0, 400)}` };
    }
    renameSync(`${binary}.tmp`, binary);
  }
  return { binary, label };
}

function readdirNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

interface FlowResult {
  received: number;
  latency_min_ns: number | null;
  latency_avg_ns: number | null;
  latency_max_ns: number | null;
}

export interface RaceRun {
  wallMs: number;
  flows: FlowResult[];
}

async function timed(cmd: string, args: string[]): Promise<{ wallMs: number; stdout: string }> {
  const t0 = performance.now();
  try {
    const r = await execFileP(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    return { wallMs: performance.now() - t0, stdout: r.stdout };
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${childError(e).slice(0, 400)}`);
  }
}

/** Writes the world's topology under $TMPDIR and returns its path. */
export function writeWorld(w: World): string {
  const dir = join(tmpdir(), 'vfab-ns3-worlds');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${w.name}.yaml`);
  writeFileSync(file, vfabTopology(w));
  return file;
}

export async function runVfab(file: string): Promise<RaceRun> {
  const { wallMs, stdout } = await timed(process.execPath, [join(ROOT, 'bin', 'run.js'), 'run', file, '--json']);
  const apps = (JSON.parse(stdout) as { apps: Array<FlowResult & { app: string; received_packets: number }> }).apps;
  return { wallMs, flows: apps.filter((a) => a.app === 'udp').map((a) => ({ ...a, received: a.received_packets })) };
}

export async function runNs3(binary: string, w: World): Promise<RaceRun> {
  const { wallMs, stdout } = await timed(binary, ns3Args(w));
  return { wallMs, flows: (JSON.parse(stdout) as { flows: FlowResult[] }).flows };
}

/**
 * Differences between the two runs that the worlds' design does not explain; [] when they agree.
 * Counts and the steady-state (minimum) latency must be equal. The maximum is the first datagram,
 * which waited for ARP: ns-3 is given one per-hop time for every packet (no Ethernet framing in
 * SimpleNetDevice), so its 60-byte ARP frames cross each uplink slower by the difference in
 * serialization; 2 uplinks each way, request and reply.
 */
export function compareRuns(w: World, vfab: RaceRun, ns3: RaceRun): string[] {
  const problems: string[] = [];
  if (vfab.flows.length !== w.flows || ns3.flows.length !== w.flows) {
    return [`flows: vfab ${vfab.flows.length}, ns-3 ${ns3.flows.length}, expected ${w.flows}`];
  }
  const uplinks = w.hosts > 1 ? 4 : 0;
  const arpSlower = uplinks * (serializationNs(14 + 28 + w.size, w.linkBps) - serializationNs(60, w.linkBps));
  for (let f = 0; f < w.flows; f++) {
    const a = vfab.flows[f]!;
    const b = ns3.flows[f]!;
    if (a.received !== b.received) problems.push(`flow ${f}: vfab received ${a.received}, ns-3 ${b.received}`);
    if (a.latency_min_ns !== b.latency_min_ns) problems.push(`flow ${f}: latency min vfab ${a.latency_min_ns} ns, ns-3 ${b.latency_min_ns} ns`);
    if (a.latency_max_ns !== null && b.latency_max_ns !== null && b.latency_max_ns - a.latency_max_ns !== arpSlower) {
      problems.push(`flow ${f}: latency max vfab ${a.latency_max_ns} ns, ns-3 ${b.latency_max_ns} ns (expected ns-3 + ${arpSlower})`);
    }
  }
  return problems;
}

/** Checks one world, then `n` interleaved timed runs; returns the median ratio and walls. */
export async function race(w: World, binary: string, n: number, log: (m: string) => void): Promise<{ ratio: number; vfabMs: number; ns3Ms: number }> {
  const file = writeWorld(w);
  const problems = compareRuns(w, await runVfab(file), await runNs3(binary, w));
  if (problems.length > 0) throw new Error(`${w.name}: vfab and ns-3 disagree:\n  ${problems.slice(0, 10).join('\n  ')}`);
  const ratios: number[] = [];
  const vs: number[] = [];
  const ns: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = (await runVfab(file)).wallMs;
    const s = (await runNs3(binary, w)).wallMs;
    vs.push(v);
    ns.push(s);
    ratios.push(v / s);
    log(`${w.name} run ${i + 1}/${n}: vfab ${v.toFixed(0)} ms, ns-3 ${s.toFixed(0)} ms`);
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { ratio: med(ratios), vfabMs: med(vs), ns3Ms: med(ns) };
}

export async function run(ctx: BenchContext): Promise<Record<string, number | string | null>> {
  const log = (m: string): void => ctx.log(m);
  const built = await buildNs3(log);
  if ('skip' in built) {
    log(`ns3: skipped: ${built.skip}`);
    return { ns3_ratio_tor_64vms: null, ns3_ratio_long_run: null, ns3_build: `skipped: ${built.skip}` };
  }
  const out: Record<string, number | string | null> = { ns3_build: built.label };
  for (const [key, w] of [['ns3_ratio_tor_64vms', WORLDS.tor_64vms!], ['ns3_ratio_long_run', WORLDS.long_run!]] as const) {
    if (ctx.only && !key.startsWith(ctx.only) && !ctx.only.startsWith(key)) continue;
    const r = await race(w, built.binary, 3, log);
    ctx.log(`${key}: ${r.ratio.toFixed(2)} (vfab ${r.vfabMs.toFixed(0)} ms, ns-3 ${r.ns3Ms.toFixed(0)} ms; ${built.label})`);
    out[key] = Math.round(r.ratio * 1000) / 1000;
  }
  return out;
}
