/**
 * The race against ns-3 (bench/ns3/): the two simulators must agree datagram for datagram before
 * any wall time means something. Runs the real ns-3 3.37 program on small versions of the worlds.
 */
import { describe, expect, it } from 'vitest';
import { buildNs3, compareRuns, runNs3, runVfab, writeWorld, type RaceRun } from '../../src/bench/ns3.js';
import { ns3Args, vfabTopology, WORLDS, type World } from '../../src/bench/ns3-world.js';
import { describeWithTools } from '../helpers/tools.js';

const small = (w: World, durationNs: number): World => ({ ...w, name: `${w.name}_test`, durationNs });

describe('compareRuns', () => {
  const w = small(WORLDS.tor_64vms!, 1e6);
  const flows = (over: Partial<RaceRun['flows'][number]> = {}): RaceRun => ({
    wallMs: 1,
    flows: Array.from({ length: w.flows }, () => ({ received: 13, latency_min_ns: 11706, latency_avg_ns: 11900, latency_max_ns: 31978, ...over })),
  });
  const ns3 = (over: Partial<RaceRun['flows'][number]> = {}): RaceRun => flows({ latency_max_ns: 31978 + 3140, ...over });
  it('accepts runs that differ only by the ARP frames ns-3 cannot frame like Ethernet', () => {
    expect(compareRuns(w, flows(), ns3())).toEqual([]);
  });
  it('reports a flow that lost a datagram in one simulator', () => {
    expect(compareRuns(w, flows(), ns3({ received: 12 }))).toHaveLength(w.flows);
  });
  it('reports a steady-state latency that differs by a nanosecond', () => {
    expect(compareRuns(w, flows(), ns3({ latency_min_ns: 11707 }))[0]).toMatch(/latency min/);
  });
});

describe('the worlds', () => {
  it('give every VM of the ToR world its own address and send every flow across the ToR', () => {
    const text = vfabTopology(WORLDS.tor_64vms!);
    expect(text.match(/ipv4: 10\.0\.0\.(\d+)\/16/g)).toHaveLength(64);
    expect(text.match(/udp: \{ from: vm(\d+), to: 10\.0\.0\.(\d+)/g)!.every((l) => {
      const [, from, to] = /vm(\d+), to: 10\.0\.0\.(\d+)/.exec(l)!;
      return Math.floor(Number(from) / 8) !== Math.floor((Number(to) - 1) / 8);
    })).toBe(true);
    expect(ns3Args(WORLDS.tor_64vms!)).toContain('--uplinkDelayNs=5853'); // 853 ns of 10G serialization + 5 us
  });
});

describeWithTools(['g++'], 'vfab and ns-3 3.37 deliver the same datagrams', () => {
  for (const w of [small(WORLDS.one_bridge!, 20e6), small(WORLDS.tor_64vms!, 5e6)]) {
    it(`${w.name}: same counts and steady-state latencies per flow`, async () => {
      const built = await buildNs3();
      if ('skip' in built) throw new Error(built.skip);
      const file = writeWorld(w);
      const v = await runVfab(file);
      const n = await runNs3(built.binary, w);
      expect(v.flows.map((f) => f.received).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect(compareRuns(w, v, n)).toEqual([]);
    }, 120_000);
  }
});
