/**
 * The exact-match cache's revalidation tags (bridge.ts `tablesUnchanged`, FlowTables.stamps): a
 * flow change invalidates only the cached translations that looked up the changed table, as
 * OVS's revalidators keep the datapath flows a change cannot affect. (Correctness in general,
 * cache on == cache off, is cache-equivalence*.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { buildUdp } from '../../src/wire/build.js';

// Port 2's traffic never reaches table 10; port 1's learns into table 10 and looks it up.
const FLOWS = `table=0,in_port=2,actions=output:1
table=0,in_port=1,actions=learn(table=10,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),resubmit(,10)
table=10,priority=0,actions=drop`;

function frame(src: number, dst: number): Uint8Array {
  return buildUdp({ srcMac: src, dstMac: dst, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: 2, payloadLen: 0 });
}

describe('exact-match cache revalidation tags', () => {
  it('a learned flow in table 10 leaves the cached translation of a packet that never looked up table 10', () => {
    const br = new Bridge({ path: 'br0', sim: new Simulation(1), flows: FLOWS });
    br.addPort({ name: 'p1', ofport: 1 });
    br.addPort({ name: 'p2', ofport: 2 });
    const back = frame(0x0200_0000_0002, 0x0200_0000_0001);
    br.process(2, back, { mayLearn: true }); // translated and cached
    for (let i = 0; i < 5; i++) br.process(1, frame(0x0200_0000_1000 + i, 0x0200_0000_0002), { mayLearn: true }); // 5 new flows in table 10
    expect(br.learnedFlows).toBe(5);
    const before = br.cacheStats().hits;
    expect(br.process(2, back, { mayLearn: true })!.outputs.map((o) => o.ofport)).toEqual([1]);
    expect(br.cacheStats().hits).toBe(before + 1);
  });

  it('a flow added to a table the cached translation looked up makes it a miss, and the new flow wins', () => {
    const br = new Bridge({ path: 'br0', sim: new Simulation(1), flows: FLOWS });
    br.addPort({ name: 'p1', ofport: 1 });
    br.addPort({ name: 'p2', ofport: 2 });
    br.addPort({ name: 'p3', ofport: 3 });
    const back = frame(0x0200_0000_0002, 0x0200_0000_0001);
    br.process(2, back, { mayLearn: true });
    br.addFlows('table=0,priority=40000,in_port=2,actions=output:3');
    const before = br.cacheStats();
    expect(br.process(2, back, { mayLearn: true })!.outputs.map((o) => o.ofport)).toEqual([3]);
    expect(br.cacheStats().hits).toBe(before.hits);
    expect(br.cacheStats().misses).toBe(before.misses + 1);
  });
});
