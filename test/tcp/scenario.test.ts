/**
 * TCP apps in topologies: results in the summary, expectations and `vfab test`, bad input.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateNetExpectations, loadNetExpectations } from '../../src/fabric/expect.js';
import { runTopology } from '../../src/fabric/run.js';
import { MemorySink } from '../../src/pcap/index.js';

const base = (scenario: string, extra = ''): string => `
name: t
seed: 1
duration: 3s
hosts:
  hv1: { bridges: { br0: { ports: { uplink: {} } } } }
  hv2: { bridges: { br0: { ports: { uplink: {} } } } }
links:
  - { a: hv1.br0.uplink, b: hv2.br0.uplink, bandwidth: 100Mbit, delay: 2ms, queue: 100 }
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } } }
  vm2: { host: hv2, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24 } } }
scenario:
${scenario}
${extra}`;

const dir = mkdtempSync(join(tmpdir(), 'vfab-tcp-scn-'));
const vfab = (...args: string[]) => spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8' });

describe('iperf and rpc in a topology', () => {
  it('puts iperf3-shaped results and per-interval series in the summary', () => {
    const r = runTopology({ text: base(`  - { at: 100ms, iperf: { from: vm1, to: vm2, duration: 2s, interval: 500ms, cc: newreno } }\n  - { at: 100ms, rpc: { name: web, from: vm2, to: vm1, concurrency: 2, response: 4KiB, duration: 2s } }`) });
    const [ip, rpc] = r.summary.apps;
    expect(ip!.app).toBe('iperf');
    expect(ip!.name).toBe('iperf1');
    const ivs = ip!['intervals'] as Array<{ sum: { bits_per_second: number }; streams: Array<{ snd_cwnd: number; rtt: number }> }>;
    expect(ivs.length).toBeGreaterThanOrEqual(4);
    expect(ivs[2]!.sum.bits_per_second).toBeGreaterThan(40e6); // shares the bottleneck with the rpc responses
    expect(ivs[2]!.streams[0]!.snd_cwnd).toBeGreaterThan(0);
    expect(rpc!.name).toBe('web');
    expect(rpc!['completed'] as number).toBeGreaterThan(100);
    expect(r.text).toMatch(/iperf1\s+vm1\s+10\.0\.0\.2:5201/);
    expect(r.text).toMatch(/rpc \(latency ms\)/);
  });

  it('is deterministic: same file and seed, same JSON and pcapng bytes', () => {
    const text = base(`  - { at: 100ms, iperf: { from: vm1, to: vm2, duration: 500ms, parallel: 2 } }`, 'capture: { ports: [vm1.eth0] }');
    const run = () => {
      const sink = new MemorySink();
      const r = runTopology({ text }, { pcapngSink: sink, untilNs: 1e9 });
      return { json: JSON.stringify(r.summary), bytes: Buffer.from(sink.bytes()) };
    };
    const a = run();
    const b = run();
    expect(b.json).toBe(a.json);
    expect(b.bytes.equals(a.bytes)).toBe(true);
    expect(a.bytes.length).toBeGreaterThan(100_000);
  });

  it('reports an RST from a closed port, a timeout to a silent address and no route, without crashing', () => {
    const text = base([
      '  - { at: 100ms, iperf: { from: vm1, to: vm2, port: 9, server: false, duration: 1s } }',
      '  - { at: 100ms, rpc: { from: vm1, to: 10.0.0.99, duration: 500ms, rate: 2/s } }',
      '  - { at: 100ms, iperf: { from: vm1, to: 192.168.1.1, duration: 1s } }',
    ].join('\n'));
    const r = runTopology({ text }, { untilNs: 30e9 });
    const [refused, silent, noroute] = r.summary.apps;
    expect(refused!['errors']).toEqual(['ECONNREFUSED']);
    // ARP gives up after 3 probes 1 s apart; Linux then fails the connect with EHOSTUNREACH.
    expect(silent!['failed']).toBe(1);
    expect(silent!['errors']).toEqual(['EHOSTUNREACH']);
    expect(noroute!['errors']).toEqual(['ENETUNREACH']);
  });

  it('rejects zero durations, both duration and bytes, and oversize buffers with file:line:col (exit 2)', () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, base([
      '  - { at: 0s, iperf: { from: vm1, to: vm2, duration: 0s } }',
      '  - { at: 0s, iperf: { from: vm1, to: vm2, duration: 1s, bytes: 1M } }',
      '  - { at: 0s, iperf: { from: vm1, to: vm2, window: 4GiB } }',
      '  - { at: 0s, rpc: { from: vm1, to: vm2, duration: 0s } }',
    ].join('\n')));
    const r = vfab('validate', f);
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      `${f}:14:54: "duration" must be positive`,
      `${f}:15:65: give "duration" or "bytes", not both (iperf3 -t or -n)`,
      `${f}:16:52: window 4294967296 bytes is outside 4KiB..1GiB`,
      `${f}:17:52: "duration" must be positive`,
    ]);
  });
});

describe('expectations and vfab test', () => {
  const text = base(
    `  - { at: 100ms, iperf: { from: vm1, to: vm2, duration: 2s } }\n  - { at: 100ms, ping: { from: vm2, to: vm1, count: 3, interval: 100ms } }`,
    'expect:\n  - "iperf1: throughput >= 80Mbit over [1s, 2s]"\n  - "ping1: loss == 0"\n  - "iperf1: throughput >= 95Mbit"\n',
  );

  it('evaluates against the run: goodput ceiling 94.1 Mbit/s at 100 Mbit/s makes the third fail', () => {
    const r = runTopology({ text });
    const exps = loadNetExpectations(r.fabric.model);
    const v = evaluateNetExpectations(exps, r.summary, r.fabric.scenarioApps);
    expect(v.map((x) => x.pass)).toEqual([true, true, false]);
    expect(v[0]!.value!).toBeGreaterThan(90e6);
    expect(v[0]!.value!).toBeLessThan(94.2e6);
  });

  it('vfab test exits 1 with the failure table, 0 when all hold, 2 on a bad expectation', () => {
    const f = join(dir, 'exp.yaml');
    writeFileSync(f, text);
    const r1 = vfab('test', f);
    expect(r1.status).toBe(1);
    expect(r1.stdout).toMatch(/FAIL\s+iperf1: throughput >= 95Mbit/);
    expect(r1.stdout).toMatch(/1 of 3 expectations failed/);
    writeFileSync(f, text.replace('throughput >= 95Mbit', 'throughput >= 90Mbit'));
    expect(vfab('test', f).status).toBe(0);
    writeFileSync(f, text.replace('throughput >= 95Mbit', 'goodput >= 90Mbit'));
    const r2 = vfab('test', f);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/exp\.yaml:\d+:\d+: "goodput" is not a iperf metric/);
    writeFileSync(f, text.replace('iperf1: throughput >= 95Mbit', 'iperf7: throughput >= 95Mbit'));
    expect(vfab('test', f).stderr).toMatch(/no app named "iperf7"/);
  });
});
