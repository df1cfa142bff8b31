import { describe, expect, it } from 'vitest';
import { startIperf, startRpc } from '../../src/guest/index.js';
import type { TcpStack } from '../../src/tcp/index.js';
import { pair } from './helpers.js';

function closeListener(tcp: TcpStack, port: number): void {
  // A second listen on the port throws; the listener object is only reachable through the app,
  // so re-listen after forcing it closed through the stack's own API.
  (tcp as unknown as { listeners: Map<number, { close(): void }> }).listeners.get(port)!.close();
}

describe('iperf app', () => {
  it('reports per-interval throughput near the bottleneck goodput and iperf3-shaped totals', () => {
    const p = pair({ rate: 100e6, delayNs: 5_000_000, queue: 200 });
    const app = startIperf(p.a, { dst: '10.0.0.2', durationNs: 3e9, intervalNs: 500e6, cc: 'newreno' });
    p.sim.run({ untilNs: 4e9 });
    const r = app.result();
    expect(r.errors).toEqual([]);
    expect(r.intervals.length).toBeGreaterThanOrEqual(6);
    // Goodput ceiling at 100 Mbit/s: 1448 payload bytes per 1538 wire bytes = 94.1 Mbit/s.
    const steady = r.intervals.slice(2, 6).map((i) => i.sum.bits_per_second);
    for (const b of steady) expect(b).toBeGreaterThan(85e6);
    for (const b of steady) expect(b).toBeLessThanOrEqual(94.2e6);
    expect(r.intervals[3]!.streams[0]!.snd_cwnd).toBeGreaterThan(10 * 1448);
    expect(r.intervals[3]!.streams[0]!.rtt).toBeGreaterThan(10_000); // µs, like iperf3
    expect(r.end.sum_received.bytes).toBeGreaterThan(0);
    expect(Math.abs(r.end.sum_received.bytes - r.end.sum_sent.bytes)).toBeLessThan(2000);
  });

  it('runs parallel and reverse streams; a closed port ends with ECONNREFUSED', () => {
    const p = pair({ rate: 100e6, delayNs: 1_000_000 });
    const fwd = startIperf(p.a, { dst: '10.0.0.2', durationNs: 1e9, parallel: 4 });
    const rev = startIperf(p.a, { dst: '10.0.0.2', port: 5202, durationNs: 1e9, reverse: true, startNs: 2e9 });
    const refused = startIperf(p.b, { dst: '10.0.0.1', port: 6000, durationNs: 1e9, startNs: 4e9, server: false });
    p.sim.run({ untilNs: 6e9 });
    const f = fwd.result();
    expect(f.connected).toBe(4);
    expect(f.end.streams.every((s) => s.bytes_received > 0)).toBe(true);
    const rv = rev.result();
    expect(rv.end.sum_received.bytes).toBeGreaterThan(5e6);
    expect(rv.end.streams[0]!.sender!.state).not.toBe('ESTABLISHED');
    expect(refused.result().errors).toEqual(['ECONNREFUSED']);
    expect(refused.result().connected).toBe(0);
  });

  it('sends exactly `bytes` per stream', () => {
    const p = pair();
    const app = startIperf(p.a, { dst: '10.0.0.2', bytes: 1_000_000 });
    p.sim.run({ untilNs: 5e9 });
    expect(app.result().end.sum_received.bytes).toBe(1_000_000);
  });
});

describe('rpc app', () => {
  it('closed loop: latency is about one RTT plus the response serialization', () => {
    const p = pair({ rate: 1e9, delayNs: 500_000 });
    const app = startRpc(p.a, { dst: '10.0.0.2', request: 200, response: 10_000, concurrency: 1, durationNs: 1e9 });
    p.sim.run({ untilNs: 2e9 });
    const r = app.result();
    expect(r.completed).toBeGreaterThan(500);
    // RTT 1 ms + 7 segments × 12.3 µs on the wire + guest rx delays.
    expect(r.latency_ns.p50!).toBeGreaterThan(1_000_000);
    expect(r.latency_ns.p50!).toBeLessThan(1_300_000);
    expect(r.latency_ns.max!).toBeGreaterThanOrEqual(r.latency_ns.p99!);
  });

  it('open loop at a rate, persistent and per-request connections', () => {
    const p = pair({ rate: 1e9, delayNs: 100_000 });
    const a = startRpc(p.a, { dst: '10.0.0.2', rate: 1000, response: 1000, durationNs: 1e9 });
    const b = startRpc(p.a, { dst: '10.0.0.2', port: 7001, rate: 200, response: 1000, perRequest: true, durationNs: 1e9 });
    p.sim.run({ untilNs: 3e9 });
    const ra = a.result();
    expect(ra.completed).toBe(1000);
    const rb = b.result();
    expect(rb.completed).toBe(200);
    // A new connection per request adds the handshake: about one more RTT.
    expect(rb.latency_ns.p50! - ra.latency_ns.p50!).toBeGreaterThan(150_000);
    expect(rb.failed).toBe(0);
  });

  it('reports failures when the server refuses (listener gone)', () => {
    const p = pair();
    const app = startRpc(p.a, { dst: '10.0.0.2', port: 7100, rate: 10, durationNs: 1e9, perRequest: true });
    // The app started the server at vm2; take it away as if the service died.
    p.b.tcp.listen(7101, () => {});
    p.sim.schedule(0, () => closeListener(p.b.tcp, 7100));
    p.sim.run({ untilNs: 2e9 });
    const r = app.result();
    expect(r.completed).toBe(0);
    expect(r.failed).toBe(10);
    expect(r.errors).toEqual(['ECONNREFUSED']);
  });
});
