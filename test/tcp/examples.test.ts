/**
 * The TCP example topologies do what their comments say (their expect: lists hold).
 */
import { describe, expect, it } from 'vitest';
import { evaluateNetExpectations, loadNetExpectations } from '../../src/fabric/expect.js';
import { runTopology } from '../../src/fabric/run.js';

describe('TCP example topologies', () => {
  for (const name of ['tcp-incast', 'tcp-migration']) {
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
});
