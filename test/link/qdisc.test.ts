/**
 * fq_codel and RED on a link, driven by real TCP flows: what RFC 8290 / RFC 8289 / RED promise.
 */
import { describe, expect, it } from 'vitest';
import { GuestStack } from '../../src/guest/stack.js';
import { startIperf, startPing } from '../../src/guest/index.js';
import { Link } from '../../src/link/link.js';
import { FqCodel, markCe, type QdiscConfig } from '../../src/link/qdisc.js';
import { Simulation } from '../../src/sim/simulation.js';
import { VirtioNet } from '../../src/vnic/device.js';
import { buildTcp, buildUdp } from '../../src/wire/build.js';
import { fold, sumBytes } from '../../src/wire/checksum.js';

function net(qdisc: QdiscConfig | undefined, o: { queue?: number; ecn?: boolean } = {}) {
  const sim = new Simulation(1);
  const na = new VirtioNet({ path: 'vm1.eth0', sim, mac: 0x020000000001 });
  const nb = new VirtioNet({ path: 'vm2.eth0', sim, mac: 0x020000000002 });
  const link = new Link({ sim, name: 'l', a: na.port, b: nb.port, bandwidthBps: 100e6, delayNs: 5_000_000, queueFrames: o.queue ?? 1000, ...(qdisc ? { qdisc } : {}) });
  const a = new GuestStack({ name: 'vm1', sim });
  const b = new GuestStack({ name: 'vm2', sim });
  if (o.ecn) a.configureTcp({ ecn: true });
  a.addInterface(na, { ipv4: '10.0.0.1/24' });
  b.addInterface(nb, { ipv4: '10.0.0.2/24' });
  return { sim, a, b, link, na };
}

describe('fq_codel', () => {
  it('keeps a sparse flow fast next to a bulk flow that fills a deep FIFO', () => {
    const run = (qdisc: QdiscConfig | undefined) => {
      const n = net(qdisc);
      startIperf(n.a, { dst: '10.0.0.2', durationNs: 3e9, cc: 'cubic' });
      const ping = startPing(n.a, { dst: '10.0.0.2', count: 20, intervalNs: 100e6, startNs: 1e9 });
      n.sim.run({ untilNs: 4e9 });
      return { rtt: ping.result().rtt_avg_ns!, stats: n.link.stats().ab };
    };
    const fifo = run(undefined);
    const fq = run({ kind: 'fq_codel' });
    // 1000 full frames at 100 Mbit/s are 123 ms of queue; fq_codel serves the ping's flow first.
    expect(fifo.rtt).toBeGreaterThan(50e6);
    expect(fq.rtt).toBeLessThan(12e6);
    expect(fq.stats.qdiscDrops['codel'] ?? 0).toBeGreaterThan(0);
  });

  it('CoDel holds the bulk flow\'s queue near the 5 ms target without losing throughput', () => {
    const n = net({ kind: 'fq_codel' });
    const app = startIperf(n.a, { dst: '10.0.0.2', durationNs: 4e9, cc: 'newreno', intervalNs: 1e9 });
    n.sim.run({ untilNs: 5e9 });
    const r = app.result();
    const last = r.intervals.slice(2, 4);
    for (const iv of last) expect(iv.sum.bits_per_second).toBeGreaterThan(85e6);
    // RTT = 10 ms propagation + queueing: CoDel keeps the standing queue around its target.
    for (const iv of last) expect(iv.streams[0]!.rtt).toBeLessThan(25_000);
  });

  it('marks CE instead of dropping for ECN-capable TCP, and the sender backs off without retransmitting', () => {
    const n = net({ kind: 'fq_codel' }, { ecn: true });
    const app = startIperf(n.a, { dst: '10.0.0.2', durationNs: 3e9, cc: 'newreno' });
    n.sim.run({ untilNs: 4e9 });
    const s = n.link.stats().ab;
    expect(s.ecnMarks).toBeGreaterThan(0);
    expect(s.qdiscDrops['codel'] ?? 0).toBe(0);
    const info = app.result().end.streams[0]!.sender!;
    expect(info.ecn).toBe(true);
    expect(info.total_retrans).toBe(0);
    expect(app.result().throughput_bps).toBeGreaterThan(80e6);
  });

  it('drops from the fattest flow when over its packet limit', () => {
    const dropped: string[] = [];
    const q = new FqCodel({ kind: 'fq_codel', limit: 4 }, 1500, (f, reason) => dropped.push(`${f[35]}:${reason}`));
    const mk = (sport: number) => buildUdp({ srcMac: 1, dstMac: 2, srcIp: 1, dstIp: 2, srcPort: sport, dstPort: 9, payloadLen: 100 });
    for (let i = 0; i < 4; i++) q.enqueue(mk(7), 0);
    q.enqueue(mk(8), 0);
    expect(dropped).toEqual(['7:fq-overlimit']);
    expect(q.length).toBe(4);
  });
});

describe('ECN marking', () => {
  it('sets CE on ECT packets with a valid header checksum and leaves Not-ECT alone', () => {
    const ect = buildTcp({ srcMac: 1, dstMac: 2, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 1, dstPort: 2, tos: 2 });
    const m = markCe(ect)!;
    expect(m[15]! & 3).toBe(3);
    expect(fold(sumBytes(m, 14, 34))).toBe(0xffff);
    expect(ect[15]! & 3).toBe(2); // the original is not modified (captures may hold it)
    expect(markCe(buildTcp({ srcMac: 1, dstMac: 2, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: 2 }))).toBeNull();
  });
});

describe('RED', () => {
  it('drops early before the queue is full and keeps the average queue between its thresholds', () => {
    const n = net({ kind: 'red', limit: 1000, minBytes: 30_000, maxBytes: 90_000, probability: 0.1 });
    const app = startIperf(n.a, { dst: '10.0.0.2', durationNs: 4e9, cc: 'newreno' });
    n.sim.run({ untilNs: 5e9 });
    const s = n.link.stats().ab;
    expect(s.qdiscDrops['red-early'] ?? 0).toBeGreaterThan(0);
    expect(s.qdiscDrops['red-limit'] ?? 0).toBe(0);
    expect(s.maxQueued).toBeLessThan(1000);
    expect(app.result().throughput_bps).toBeGreaterThan(70e6);
  });
});
