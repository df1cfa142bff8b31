/**
 * How fast the CLI starts, as a user's shell sees it: whole-process wall time, spawn to exit,
 * median of interleaved runs (node, vfab --version, node, disk info, node, run quickstart, …) so
 * machine load hits all alike.
 *
 * - `cli_start_ms_node`: `node -e 0`, the floor every Node CLI pays.
 * - `cli_start_ms_version`: `vfab --version` (goal ≤ 4× node).
 * - `cli_start_ms_disk_info`: `vfab disk info` of a small qcow2 (goal ≤ 5× node).
 * - `cli_run_quickstart_ms`: `vfab run topologies/quickstart.yaml` (goal ≤ 400 ms).
 * - `cli_start_ratio_version`, `cli_start_ratio_disk_info`: the ratios to `node -e 0`.
 *
 * This is an adapter: it may read the wall clock.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext } from './main.js';

export const keys = [
  'cli_start_ms_node', 'cli_start_ms_version', 'cli_start_ms_disk_info', 'cli_run_quickstart_ms',
  'cli_start_ratio_version', 'cli_start_ratio_disk_info',
];

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUNS = 9;

function wallMs(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 300)}`);
  return ms;
}

export function run(ctx: BenchContext): Promise<Record<string, number>> {
  const bin = join(ROOT, 'bin', 'run.js');
  const dir = mkdtempSync(join(tmpdir(), 'vfab-bench-cli-'));
  try {
    const image = join(dir, 'disk.qcow2');
    wallMs([bin, 'disk', 'create', '-f', 'qcow2', image, '64M']);
    const cases: Record<string, string[]> = {
      cli_start_ms_node: ['-e', '0'],
      cli_start_ms_version: [bin, '--version'],
      cli_start_ms_disk_info: [bin, 'disk', 'info', image],
      cli_run_quickstart_ms: [bin, 'run', 'topologies/quickstart.yaml'],
    };
    const times: Record<string, number[]> = {};
    for (const [k, args] of Object.entries(cases)) {
      wallMs(args); // warm the page cache
      times[k] = [];
    }
    for (let i = 0; i < RUNS; i++) for (const [k, args] of Object.entries(cases)) times[k]!.push(wallMs(args));
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const out: Record<string, number> = {};
    for (const k of Object.keys(cases)) out[k] = Math.round(med(times[k]!));
    // Ratios of medians of per-round ratios: each round's runs share the machine's load.
    const ratio = (k: string): number => Math.round(med(times[k]!.map((t, i) => t / times.cli_start_ms_node![i]!)) * 100) / 100;
    out.cli_start_ratio_version = ratio('cli_start_ms_version');
    out.cli_start_ratio_disk_info = ratio('cli_start_ms_disk_info');
    ctx.log(`cli: node ${out.cli_start_ms_node} ms, --version ${out.cli_start_ms_version} ms (${out.cli_start_ratio_version}×), disk info ${out.cli_start_ms_disk_info} ms (${out.cli_start_ratio_disk_info}×), run quickstart ${out.cli_run_quickstart_ms} ms`);
    return Promise.resolve(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
