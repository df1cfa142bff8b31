/**
 * The packet's cached connection (lib/conntrack.c `conntrack_execute`: `pkt->md.conn`, set by
 * `set_cached_conn`, used by `process_one_fast`): after a ct() found a connection, a later ct()
 * on the same packet in the same zone (without `force`, without `nat` the first time) neither
 * looks the connection up again nor re-runs TCP tracking: it keeps the ct_state and original
 * tuple, and only sets zone, mark and label. So a header rewritten between the two ct() does not
 * create a second connection, while `force` or another zone goes through the full lookup.
 */
import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/sim/simulation.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { buildTcp } from '../../src/wire/build.js';

const A = 0x0a000001;
const B = 0x0a000002;

function seg(out: boolean, flags: number, seq: number, ack: number): Uint8Array {
  return buildTcp({
    srcMac: out ? 0x020000000001 : 0x020000000002,
    dstMac: out ? 0x020000000002 : 0x020000000001,
    srcIp: out ? A : B,
    dstIp: out ? B : A,
    srcPort: out ? 40000 : 80,
    dstPort: out ? 80 : 40000,
    flags,
    seq,
    ack,
    window: 65535,
  });
}

/** A connection set up (SYN, SYN-ACK through `ct(commit)`), then the bridge's table 1 for +est is `est`. */
function bridgeWith(est: string): Bridge {
  const flows = `table=0,priority=100,ip,ct_state=-trk,actions=ct(table=1)
table=1,priority=10,ip,ct_state=+trk+new,actions=ct(commit),2
table=1,priority=10,ip,in_port=2,ct_state=+trk+est,actions=1
table=1,priority=10,ip,in_port=1,ct_state=+trk+est,actions=${est}
table=1,priority=1,actions=drop`;
  const br = new Bridge({ path: 'br0', sim: new Simulation(1), flows });
  br.addPort({ name: 'p1', ofport: 1 });
  br.addPort({ name: 'p2', ofport: 2 });
  expect(br.process(1, seg(true, 0x02, 1000, 0), { mayLearn: true })!.outputs.map((o) => o.ofport)).toEqual([2]);
  expect(br.process(2, seg(false, 0x12, 5000, 1001), { mayLearn: true })!.outputs.map((o) => o.ofport)).toEqual([1]);
  expect(br.conntrack.size).toBe(1);
  return br;
}

describe('conntrack: the packet keeps the connection an earlier ct() found (md.conn)', () => {
  it('a ct(commit) after the destination was rewritten reuses the connection (no second one)', () => {
    const br = bridgeWith('set_field:10.9.9.9->ip_dst,ct(commit,exec(set_field:0x5->ct_mark)),2');
    const r = br.process(1, seg(true, 0x10, 1001, 5001), { mayLearn: true })!;
    expect(r.outputs.map((o) => o.ofport)).toEqual([2]);
    expect(br.conntrack.size).toBe(1);
    // The mark went to the cached connection, the one the packet belongs to.
    expect(br.conntrack.dump(0)).toEqual(['tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=40000,dport=80),reply=(src=10.0.0.2,dst=10.0.0.1,sport=80,dport=40000),mark=5']);
  });
  it('ct(commit,force) looks up again: the rewritten tuple is a new connection', () => {
    const br = bridgeWith('set_field:10.9.9.9->ip_dst,ct(commit,force),2');
    br.process(1, seg(true, 0x10, 1001, 5001), { mayLearn: true });
    expect(br.conntrack.size).toBe(2);
  });
  it('a ct(commit) in another zone looks up there (a new connection in that zone)', () => {
    const br = bridgeWith('ct(commit,zone=3),2');
    br.process(1, seg(true, 0x10, 1001, 5001), { mayLearn: true });
    expect(br.conntrack.size).toBe(2);
    expect(br.conntrack.zoneSize(3)).toBe(1);
  });
});
