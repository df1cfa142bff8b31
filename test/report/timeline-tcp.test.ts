/**
 * The run report's TCP charts come from the iperf app's own reporting intervals: each stream's
 * snd_cwnd and rtt (µs, as iperf3 prints) at the end of each interval, on the simulation axis.
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
