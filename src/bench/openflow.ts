/**
 * OpenFlow figures (issue 15).
 *
 * - `openflow_msgs_per_s`: encode + decode of a FLOW_MOD / PACKET_IN mix (half each: a learning
 *   switch's flow-mod with three OXMs and an output, a 98-byte table-miss packet-in), counted per
 *   message round trip through the codec, per second of CPU time. Median of 5 runs of 400k messages.
 * - `packet_in_round_trips_per_s`: a one-bridge topology whose every new flow goes to a real
 *   controller (ovs-testcontroller when installed, then os-ken's learning switch), settled the
 *   way a run settles (docs/openflow.md): packet-ins answered per wall second. `null` with a note
 *   when no controller is installed.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { decode, encode, type OfpMessage } from '../openflow/index.js';
import { runTopologyAsync } from '../fabric/run.js';
import type { BenchContext } from './main.js';
import { freePort } from './free-port.js';

export const keys = ['openflow_msgs_per_s', 'packet_in_round_trips_per_s', 'packet_in_round_trips_per_s_osken'];

const N = 400_000;

function mix(): OfpMessage[] {
  const data = new Uint8Array(98).fill(0x5a);
  const fm: OfpMessage = {
    type: 'flow_mod', xid: 7, cookie: 0n, cookieMask: 0n, tableId: 0, command: 0, idleTimeout: 60, hardTimeout: 0, priority: 1,
    bufferId: 0xffffffff, outPort: 0xffffffff, outGroup: 0xffffffff, flags: 0,
    match: [{ field: 'in_port', value: 1 }, { field: 'eth_dst', value: 0x020000000002 }, { field: 'eth_src', value: 0x020000000001 }],
    instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: 2, maxLen: 0 }] }],
  };
  const pi: OfpMessage = { type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: 98, reason: 0, tableId: 0, cookie: 0n, match: [{ field: 'in_port', value: 1 }], data };
  return [fm, pi];
}

/** Waits until something listens on `port`, by trying to bind it (no connection to the controller). */
async function listening(port: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const busy = await new Promise<boolean>((r) => {
      const s = createServer();
      s.once('error', () => r(true));
      s.listen(port, '127.0.0.1', () => s.close(() => r(false)));
    });
    if (busy) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Pings between many VM pairs through one controlled bridge: every pair's first packets go to the controller. */
async function roundTrips(kind: 'ovs-testcontroller' | 'os-ken'): Promise<number | null> {
  const port = await freePort();
  const app = fileURLToPath(new URL('../../test/openflow/apps/learning_switch_13.py', import.meta.url));
  let proc;
  try {
    proc =
      kind === 'ovs-testcontroller'
        ? spawn('ovs-testcontroller', ['-O', 'OpenFlow13', `--unixctl=/tmp/vfab-bench-tc-${port}.ctl`, `ptcp:${port}:127.0.0.1`], { stdio: 'ignore' })
        : spawn('osken-manager', [app, '--ofp-tcp-listen-port', String(port), '--ofp-listen-host', '127.0.0.1'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const failed = await new Promise<boolean>((r) => {
    proc.once('error', () => r(true));
    setTimeout(() => r(false), 50);
  });
  if (failed) return null;
  const vms = 8;
  let text = `name: bench\nduration: 2s\nhosts:\n  hv1:\n    bridges:\n      br0: { controller: "tcp:127.0.0.1:${port}", fail_mode: secure }\nvms:\n`;
  for (let i = 1; i <= vms; i++) text += `  vm${i}: { host: hv1, interfaces: { eth0: { bridge: br0, mac: "02:00:00:00:00:${i.toString(16).padStart(2, '0')}", ipv4: 10.0.0.${i}/24 } } }\n`;
  text += 'scenario:\n';
  for (let i = 1; i <= vms; i++) for (let j = 1; j <= vms; j++) if (i !== j) text += `  - { at: ${100 + i * 10}ms, ping: { from: vm${i}, to: vm${j}, count: 1 } }\n`;
  try {
    if (!(await listening(port))) return null;
    const t0 = performance.now();
    const r = await runTopologyAsync({ text }, {});
    const dt = (performance.now() - t0) / 1000;
    const pins = r.summary.events_total['packet_in'] ?? 0;
    return pins / dt;
  } finally {
    // Wait for the controller to exit, so the next one starts on a quiet machine and no child outlives the bench.
    await new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  }
}

export async function run(ctx: BenchContext): Promise<Record<string, number | null>> {
  const msgs = mix();
  // Messages per second of CPU time (user + system of this process, GC threads included), so a
  // loaded shared machine does not divide the figure; the wall-clock rate is logged alongside.
  const once = (): number => {
    let n = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const r = decode(encode(msgs[i & 1]!));
      if (r.ok) n++;
    }
    const c = process.cpuUsage(c0);
    const wall = (performance.now() - t0) / 1000;
    if (n !== N) throw new Error('decode failed in the bench');
    const cpu = (c.user + c.system) / 1e6;
    ctx.log(`openflow: ${Math.round(N / cpu)} msgs/s CPU, ${Math.round(N / wall)} msgs/s wall`);
    return N / cpu;
  };
  once();
  const out: Record<string, number | null> = {};
  if (!ctx.only || 'openflow_msgs_per_s'.startsWith(ctx.only) || ctx.only.startsWith('openflow')) out['openflow_msgs_per_s'] = Math.round(await ctx.median(5, once));
  if (!ctx.only || 'packet_in_round_trips_per_s'.startsWith(ctx.only)) {
    const tc = await roundTrips('ovs-testcontroller');
    if (tc === null) ctx.log('packet_in_round_trips_per_s: ovs-testcontroller not installed');
    out['packet_in_round_trips_per_s'] = tc === null ? null : Math.round(tc);
    const ok = await roundTrips('os-ken');
    if (ok === null) ctx.log('packet_in_round_trips_per_s_osken: osken-manager not installed');
    out['packet_in_round_trips_per_s_osken'] = ok === null ? null : Math.round(ok);
  }
  return out;
}
