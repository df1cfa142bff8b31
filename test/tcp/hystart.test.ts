/**
 * CUBIC's HyStart against Linux's tcp_cubic.c (classic HyStart, Linux 5.8+ constants): the rules
 * driven directly with synthetic ACKs, then one flow whose slow start would overflow a deep
 * bottleneck queue without it.
 */
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../src/fabric/run.js';
import type { CcState } from '../../src/tcp/cc.js';
import { HyStart } from '../../src/tcp/hystart.js';

const MS = 1e6;

/** Feeds ACKs: `rtts[i]` ms at times `t0 + i * spacing` ms, all in round `round` (snd_una past the previous end). */
function feed(h: HyStart, s: CcState, round: number, t0: number, spacingMs: number, rtts: number[]): void {
  rtts.forEach((rtt, i) => {
    s.now = (t0 + i * spacingMs) * MS;
    h.acked(s, { rttNs: rtt * MS, sndUna: round * 1000 + i + 1, sndNxt: (round + 1) * 1000, srttNs: 20 * MS, mss: 1448 });
  });
}

const state = (cwnd: number): CcState => ({ cwnd, ssthresh: 0x7fffffff, cwndCnt: 0, minRttNs: 0, now: 0 });

describe('HyStart (tcp_cubic.c)', () => {
  it('delay increase: exits when the round minimum of 8 samples exceeds delay_min + clamp(delay_min/8, 4 ms, 16 ms)', () => {
    // delay_min 20 ms → threshold 4 ms (2.5 ms clamped up). ACKs 3 ms apart: no ACK train.
    const a = new HyStart();
    const sa = state(20);
    feed(a, sa, 0, 0, 3, Array(10).fill(20));
    feed(a, sa, 1, 100, 3, Array(10).fill(23.9));
    expect(a.found).toBe(false);
    feed(a, sa, 2, 200, 3, Array(10).fill(24.1));
    expect(a.reason).toBe('delay');
    expect(sa.ssthresh).toBe(20);
    // delay_min 80 ms → 10 ms; delay_min 400 ms → 50 ms clamped down to 16 ms.
    const b = new HyStart();
    const sb = state(20);
    feed(b, sb, 0, 0, 3, Array(10).fill(80));
    feed(b, sb, 1, 1000, 3, Array(10).fill(89.9));
    expect(b.found).toBe(false);
    feed(b, sb, 2, 2000, 3, Array(10).fill(90.1));
    expect(b.found).toBe(true);
    const c = new HyStart();
    const sc = state(20);
    feed(c, sc, 0, 0, 3, Array(10).fill(400));
    feed(c, sc, 1, 1000, 3, Array(10).fill(415.9));
    expect(c.found).toBe(false);
    feed(c, sc, 2, 2000, 3, Array(10).fill(416.1));
    expect(c.reason).toBe('delay');
  });

  it('needs 8 samples in the round before judging, and one low sample keeps the round minimum down', () => {
    const h = new HyStart();
    const s = state(20);
    feed(h, s, 0, 0, 3, Array(10).fill(20));
    feed(h, s, 1, 100, 3, [30, 30, 30, 30, 30, 30, 30, 30]); // 8 samples: counted, not judged
    expect(h.found).toBe(false);
    feed(h, s, 2, 200, 3, [30, 30, 30, 20, 30, 30, 30, 30, 30, 30]);
    expect(h.found).toBe(false);
  });

  it('ACK train: ACKs ≤ 2 ms apart for longer than (delay_min + ack_delay)/2 since the round start', () => {
    // delay_min 10 ms; pacing rate 2·cwnd·mss/srtt = 2·20·1448/20 ms ≈ 2.9 MB/s → ack_delay = min(1 ms, 4·64 KiB / rate) = 1 ms.
    // Threshold (10 + 1) / 2 = 5.5 ms: the ACK at 6 ms into the round ends slow start.
    const h = new HyStart();
    const s = state(20);
    feed(h, s, 0, 0, 3, [10]);
    feed(h, s, 1, 50, 0.5, Array(11).fill(10)); // 0 .. 5 ms: below the threshold
    expect(h.found).toBe(false);
    feed(h, s, 1, 55.5, 0.5, [10]); // still round 1; 5.5 ms exactly is not "more than"
    expect(h.found).toBe(false);
    feed(h, s, 1, 56, 0.5, [10]);
    expect(h.reason).toBe('train');
    expect(s.ssthresh).toBe(20);
    // ACKs 2.5 ms apart never form a train.
    const g = new HyStart();
    const t = state(20);
    feed(g, t, 0, 0, 3, [10]);
    feed(g, t, 1, 50, 2.5, Array(6).fill(10));
    expect(g.found).toBe(false);
  });

  it('does nothing below cwnd 16 (hystart_low_window) or after slow start', () => {
    const h = new HyStart();
    const s = state(15);
    feed(h, s, 0, 0, 3, Array(10).fill(20));
    feed(h, s, 1, 100, 3, Array(10).fill(40));
    expect(h.found).toBe(false);
    s.cwnd = 16;
    feed(h, s, 2, 200, 3, Array(10).fill(40));
    expect(h.found).toBe(true);
  });

  const topo = (hystart: boolean) => `
name: hs
duration: 1s
hosts:
  hv1: { bridges: { br0: { ports: { uplink: {} } } } }
  hv2: { bridges: { br0: { ports: { uplink: {} } } } }
links:
  - { a: hv1.br0.uplink, b: hv2.br0.uplink, bandwidth: 100Mbit, delay: 10ms, queue: 600 }
vms:
  vm1: { host: hv1, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } } }
  vm2: { host: hv2, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.2/24 } } }
scenario:
  - { at: 10ms, iperf: { from: vm1, to: vm2, duration: 700ms, interval: 100ms, cc: cubic, hystart: ${hystart} } }
`;

  it('ends slow start near the path BDP before a deep queue overflows; without it slow start overshoots into loss', () => {
    const end = (hystart: boolean) => {
      const r = runTopology({ text: topo(hystart) });
      const e = r.summary.apps[0]!['end'] as { sum_sent: { retransmits: number }; streams: Array<{ sender: { snd_ssthresh: number } }> };
      return { rtx: e.sum_sent.retransmits, ssthresh: e.streams[0]!.sender.snd_ssthresh };
    };
    const on = end(true);
    const off = end(false);
    // BDP: 100 Mbit/s × 20 ms ≈ 250 kB ≈ 170 segments; the queue holds 600 more. Slow start
    // doubles past BDP + queue (≈ 770) unless HyStart stops it; the exit comes in the round
    // where the queue starts to build (ACK train ≥ half the RTT, or +4 ms of queueing delay).
    expect(on.rtx).toBe(0);
    expect(on.ssthresh).toBeGreaterThan(80);
    expect(on.ssthresh).toBeLessThan(500);
    expect(off.rtx).toBeGreaterThan(0);
  });
});
