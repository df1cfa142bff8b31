/**
 * The TCP example topologies do what their comments say (their expect: lists hold).
 */
import { describe, expect, it } from 'vitest';
import { evaluateNetExpectations, loadNetExpectations } from '../../src/fabric/expect.js';
import { runTopology } from '../../src/fabric/run.js';

describe('TCP example topologies', () => {
  for (const name of ['tcp-incast', 'tcp-migration', 'tcp-pmtu']) {
    it(`topologies/${name}.yaml: every expectation holds`, () => {
      const r = runTopology(`topologies/${name}.yaml`);
      const v = evaluateNetExpectations(loadNetExpectations(r.fabric.model), r.summary, r.fabric.scenarioApps);
      expect(v.length).toBeGreaterThan(0);
      expect(v.filter((x) => !x.pass)).toEqual([]);
    }, 120_000);
  }

  it('tcp-incast: the fq_codel rack drops nothing at the bottleneck; the tail-drop rack drops and times out', () => {
    const r = runTopology('topologies/tcp-incast.yaml');
    const links = Object.values(r.summary.links);
    expect(links[0]!.a_to_b.queue_full).toBeGreaterThan(0);
    expect(links[1]!.a_to_b.queue_full).toBe(0);
    expect(links[1]!.a_to_b.qdisc_drops ?? {}).toEqual({});
  }, 120_000);

  it('tcp-pmtu: the MSS-clamped stream never hits the 1400-byte hop; the other loses only its initial window to it', () => {
    const r = runTopology('topologies/tcp-pmtu.yaml');
    const mss = r.summary.apps.map((a) => (a['end'] as { streams: Array<{ sender: { snd_mss: number } }> }).streams[0]!.sender.snd_mss);
    // 1360 − 12 (timestamps) and 1400 − 40 − 12: the same segment size by either route.
    expect(mss).toEqual([1348, 1348]);
    const p1 = r.summary.ports['r1.p1'] as { drops: Record<string, number> };
    expect(p1.drops['frag-needed']).toBe(10); // IW10, all sent before the first ICMP came back
    expect(r.fabric.ctx.vms.get('a')!.stack.pathMtuTo(0x0a00020a)).toBe(1400);
  }, 120_000);
});
