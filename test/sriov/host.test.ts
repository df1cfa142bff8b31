import { describe, expect, it } from 'vitest';
import { Port, connect, type Frame } from '../../src/port/port.js';
import { makePf, wire, guests, frame, MAC, BCAST, tpidOf, tciOf } from './helpers.js';

const M0 = MAC('02:00:00:00:01:00');
const M1 = MAC('02:00:00:00:01:01');
const PF = MAC('3c:fd:fe:00:00:01');
const BEHIND = MAC('02:00:00:00:0b:0b'); // a VM on the PF's host bridge

function setup() {
  const pf = makePf({ mac: '3c:fd:fe:00:00:01' });
  pf.configureVf(0, { mac: M0, vlan: 10 });
  pf.configureVf(1, { mac: M1 });
  const w = wire(pf);
  const g = guests(pf);
  const hostGot: Frame[] = [];
  const bridgePort = new Port('hv1.br0.pf0', (f) => hostGot.push(f));
  connect(bridgePort, pf.hostPort());
  return { pf, w, g, hostGot, bridgePort };
}

describe('the PF netdev as a VEB endpoint (legacy)', () => {
  it('receives VF unicast for its own MAC inside the NIC, tagged with the VF port VLAN', () => {
    const { pf, w, hostGot } = setup();
    pf.vf(0).transmit(frame(PF, M0));
    expect(hostGot).toHaveLength(1);
    expect([tpidOf(hostGot[0]!), tciOf(hostGot[0]!) & 0xfff]).toEqual([0x8100, 10]);
    expect(w.got).toHaveLength(0);
    expect(pf.stats.host_tx).toBe(1);
  });

  it('sends VF traffic for a VM behind the bridge to the wire until that MAC is in the PF FDB', () => {
    const { pf, w, hostGot } = setup();
    pf.vf(1).transmit(frame(BEHIND, M1));
    expect(w.got).toHaveLength(1);
    expect(hostGot).toHaveLength(0);
    pf.addHostFdb(BEHIND); // bridge fdb add 02:00:00:00:0b:0b dev pf0 self
    pf.vf(1).transmit(frame(BEHIND, M1));
    expect(hostGot).toHaveLength(1);
    expect(w.got).toHaveLength(1);
  });

  it('switches what the bridge sends to VFs by MAC and VLAN, floods broadcast to the VLAN and the wire', () => {
    const { g, w, bridgePort } = setup();
    bridgePort.send(frame(M0, BEHIND, { tag: { tpid: 0x8100, tci: 10 } }), { hops: 1 });
    expect(g[0]).toHaveLength(1);
    expect(tpidOf(g[0]![0]!)).toBe(0x0800);
    bridgePort.send(frame(M0, BEHIND), { hops: 1 }); // untagged: not VF0's VLAN → wire
    expect(g[0]).toHaveLength(1);
    bridgePort.send(frame(BCAST, BEHIND), { hops: 1 });
    expect(g.map((x) => x.length)).toEqual([1, 1, 1, 1]); // VF0 (VLAN 10) had its copy earlier; VF1-3 are untagged
    expect(w.got).toHaveLength(2);
  });

  it('gets broadcasts from VFs and unknown unicast from the wire (a bridged PF is promiscuous)', () => {
    const { pf, w, hostGot } = setup();
    pf.vf(1).transmit(frame(BCAST, M1));
    expect(hostGot).toHaveLength(1);
    w.inject(frame(BEHIND, MAC('02:00:00:00:0c:0c')));
    expect(hostGot).toHaveLength(2);
    expect(pf.uplink.counters.drops['no-vf-match']).toBeUndefined();
  });
});
