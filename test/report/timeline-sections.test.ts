/**
 * The run report's timeline sections for TCP and storage. TCP charts come from the iperf app's
 * own reporting intervals (each stream's snd_cwnd and rtt in µs, as iperf3 prints, at the end of
 * each interval, on the simulation axis); storage charts from the per-interval rows of the fio
 * steps in the run, with the throttles' limits and the expectations' thresholds.
 */
import { describe, expect, it } from 'vitest';
import { runTopologyAsync } from '../../src/fabric/run.js';
import { buildTimeline } from '../../src/report/timeline.js';

describe('timeline: TCP', () => {
  it('draws throughput, cwnd and RTT series that equal the iperf intervals of tcp-migration.yaml', async () => {
    const { summary } = await runTopologyAsync('topologies/tcp-migration.yaml');
    const iperf = summary.apps.find((a) => a.app === 'iperf') as unknown as {
      intervals: Array<{ sim_start_ns: number; sim_end_ns: number; sum: { bits_per_second: number }; streams: Array<{ snd_cwnd: number; rtt: number }> }>;
    };
    expect(iperf.intervals.length).toBeGreaterThan(2);
    const tl = buildTimeline(summary);
    const chart = (id: string) => tl.charts.find((c) => c.id === id)!;
    const cwnd = chart('tcp-cwnd').series[0]!.points;
    expect(cwnd).toEqual(iperf.intervals.map((iv) => [Math.round(iv.sim_end_ns / 1e3) / 1e6, iv.streams[0]!.snd_cwnd]));
    const rtt = chart('tcp-rtt').series[0]!.points;
    expect(rtt.map(([, v]) => v)).toEqual(iperf.intervals.filter((iv) => iv.streams[0]!.rtt > 0).map((iv) => iv.streams[0]!.rtt / 1000));
    const thr = chart('tcp-throughput').series[0]!.points;
    expect(thr.slice(0, -1).map(([, v]) => v)).toEqual(iperf.intervals.map((iv) => iv.sum.bits_per_second));
    // The migration in the same run pauses the VM: the cwnd chart and the pause band share the axis.
    expect(tl.bands.some((b) => b.kind === 'pause')).toBe(true);
  });
});

describe('timeline: storage jobs', () => {
  it('draws IOPS, bandwidth and p99 per disk from the run, with the throttle limit and the expectation thresholds', async () => {
    const { summary } = await runTopologyAsync('topologies/disks-in-run.yaml');
    const st = (summary as unknown as { storage: { timelines: { interval_ns: number; disks: Record<string, Array<{ t: number; iops: number; bw: number; latP99Ns: number }>> } } }).storage;
    const rows = st.timelines.disks['vm1.vda']!;
    expect(rows.length).toBeGreaterThan(5);
    const tl = buildTimeline(summary);
    const chart = (id: string) => tl.charts.find((c) => c.id === id)!;
    const iv = st.timelines.interval_ns;
    expect(chart('storage-iops').series[0]!.points).toEqual(rows.map((r) => [Math.round((r.t + iv / 2) / 1e3) / 1e6, r.iops]));
    expect(chart('storage-bw').series[0]!.points.map(([, v]) => v)).toEqual(rows.map((r) => r.bw));
    expect(chart('storage-p99').series[0]!.points.map(([, v]) => v)).toEqual(rows.map((r) => Math.round(r.latP99Ns / 1e3) / 1e3));
    // the throttle's 500 IOPS (iops-total) and the expectation thresholds are drawn
    const ys = chart('storage-iops').lines!.map((l) => l.y);
    expect(ys).toContain(500);
    expect(ys).toContain(480);
    expect(chart('storage-p99').lines!.map((l) => l.y)).toContain(10);
    // the sustained part of the run sits at the limit: the chart shows what the throttle did
    const late = rows.filter((r) => r.t >= 6e9 && r.t < 10e9).map((r) => r.iops);
    expect(Math.min(...late)).toBeGreaterThan(450);
    expect(Math.max(...late)).toBeLessThan(550);
  });
});
