/**
 * `vfab run` on a terminal and under Ctrl-C: a progress bar only on a TTY without --json (the
 * TTY comes from util-linux `script`), and SIGINT stopping the run at the current instant with
 * closed traces and the partial summary (exit 130).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/fabric/summary.js';
import { readPcapng } from '../pcap/read-pcapng.js';
import { describeWithTools } from '../helpers/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'vfab-progress-'));
const LONG = join(dir, 'long.yaml');
writeFileSync(
  LONG,
  [
    'name: long',
    'duration: 100s',
    'hosts:',
    '  hv1: { bridges: { br0: {} } }',
    'vms:',
    '  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } } }',
    '  vm2: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24 } } }',
    'scenario:',
    '  - { at: 0s, udp: { from: vm1, to: 10.0.0.2, rate: 100Mbit, size: 1000, duration: 100s } }',
    'capture: { ports: [vm2.eth0] }',
    '',
  ].join('\n'),
);

describe('Ctrl-C during vfab run', () => {
  it('stops at the current instant, closes the pcapng, prints the partial summary and exits 130', async () => {
    const pcap = join(dir, 'long.pcapng');
    const child = spawn(process.execPath, ['bin/run.js', 'run', LONG, '--json', '--pcapng', pcap], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    // the pcapng is opened after the Ctrl-C handler is in place: wait for it, let the run go a bit
    for (let i = 0; i < 300 && !existsSync(pcap); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 800));
    child.kill('SIGINT');
    const code = await exited;
    expect(err).toBe('');
    expect(code).toBe(130);
    const s = JSON.parse(out) as RunSummary;
    expect(s.partial).toBe(true);
    expect(s.simulated_ns).toBeGreaterThan(0);
    expect(s.simulated_ns).toBeLessThan(100e9);
    // closed and complete: every block parses, and the capture holds what vm2 received so far
    const ng = readPcapng(readFileSync(pcap));
    const rx = s.ports['vm2.eth0']!.rx_packets + s.ports['vm2.eth0']!.tx_packets;
    expect(ng.packets.length).toBe(rx);
  }, 60_000);
});

describeWithTools(['script'], 'progress bar', () => {
  const tty = (cmd: string) => spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
  it('is drawn on a terminal: simulated time, events/s, time left', () => {
    const r = tty(`${process.execPath} bin/run.js run topologies/two-hosts.yaml`);
    expect(r.stdout).toMatch(/simulating \[/);
    expect(r.stdout).toMatch(/of 4 s \| [\d,]+ events\/s \| \S+ left/);
    expect(r.stdout).toContain('topology two-hosts');
  });
  it('is not drawn with --json, nor when stdout is not a terminal', () => {
    const r = tty(`${process.execPath} bin/run.js run topologies/two-hosts.yaml --json`);
    expect(r.stdout).not.toMatch(/simulating/);
    expect((JSON.parse(r.stdout.replace(/\r/g, '')) as RunSummary).topology).toBe('two-hosts');
    const p = spawnSync(process.execPath, ['bin/run.js', 'run', 'topologies/two-hosts.yaml'], { encoding: 'utf8' });
    expect(p.stdout + p.stderr).not.toMatch(/simulating/);
  });
});
