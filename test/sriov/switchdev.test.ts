import { describe, expect, it } from 'vitest';
import { Port, connect, type Frame } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/index.js';
import { Bridge } from '../../src/vswitch/bridge.js';
import { makePf, wire, guests, frame, MAC, BCAST } from './helpers.js';

const M0 = MAC('02:00:00:00:02:00');
const M1 = MAC('02:00:00:00:02:01');
const OUTSIDE = MAC('02:00:00:00:09:09');

/** A bridge double: records what each representor hands it. */
function bridgeSide(pf: ReturnType<typeof makePf>, n: number): { ports: Port[]; got: Frame[][]; uplinkPort: Port; uplinkGot: Frame[] } {
  const got: Frame[][] = [];
  const ports: Port[] = [];
  for (let i = 0; i < n; i++) {
    const rx: Frame[] = [];
    got.push(rx);
    const p = new Port(`hv1.br0.${pf.representorName(i)}`, (f) => rx.push(f));
    connect(p, pf.representor(i));
    ports.push(p);
  }
  const uplinkGot: Frame[] = [];
  const uplinkPort = new Port(`hv1.br0.${pf.name}`, (f) => uplinkGot.push(f));
  connect(uplinkPort, pf.uplinkRepresentor());
  return { ports, got, uplinkPort, uplinkGot };
}

describe('switchdev representors', () => {
  it('names representors like the kernel does (pf0vf0)', () => {
    const pf = makePf({ model: 'mlx5', eswitchMode: 'switchdev' });
    expect(pf.representorName(3)).toBe('pf0vf3');
  });

  it('sends every VF frame to its representor instead of the VEB, even to another VF MAC', () => {
    const pf = makePf({ model: 'mlx5', eswitchMode: 'switchdev', numVfs: 2 });
    pf.configureVf(0, { mac: M0 });
    pf.configureVf(1, { mac: M1 });
    const g = guests(pf);
    const w = wire(pf);
    const b = bridgeSide(pf, 2);
    pf.vf(0).transmit(frame(M1, M0));
    pf.vf(0).transmit(frame(BCAST, M0));
    expect(b.got[0]).toHaveLength(2);
    expect(g[1]).toHaveLength(0);
    expect(w.got).toHaveLength(0);
    expect(pf.stats.veb_unicast).toBe(0);
    expect(pf.vfCounters(0).tx_representor).toBe(2);
  });

  it('delivers frames sent into a representor to its VF', () => {
    const pf = makePf({ model: 'mlx5', eswitchMode: 'switchdev', numVfs: 2 });
    const g = guests(pf);
    const b = bridgeSide(pf, 2);
    b.ports[1]!.send(frame(M1, M0), { hops: 1 });
    expect(g[1]).toHaveLength(1);
    expect(pf.vfCounters(1).rx_packets).toBe(1);
    expect(pf.stats.representor_rx).toBe(1);
  });

  it('connects the wire to the bridge through the uplink representor', () => {
    const pf = makePf({ model: 'mlx5', eswitchMode: 'switchdev', numVfs: 1 });
    const w = wire(pf);
    const b = bridgeSide(pf, 1);
    w.inject(frame(M0, OUTSIDE));
    expect(b.uplinkGot).toHaveLength(1);
    b.uplinkPort.send(frame(OUTSIDE, M0), { hops: 1 });
    expect(w.got).toHaveLength(1);
  });

  it('leaves spoof checking to the bridge rules in switchdev mode', () => {
    const pf = makePf({ model: 'mlx5', eswitchMode: 'switchdev', numVfs: 1 });
    pf.configureVf(0, { mac: M0 });
    const b = bridgeSide(pf, 1);
    expect(pf.vf(0).transmit(frame(OUTSIDE, MAC('02:de:ad:00:00:01')))).toBe(true);
    expect(b.got[0]).toHaveLength(1);
  });

  it('still enforces the VF carrier and rate in switchdev mode', () => {
    const pf = makePf({ model: 'mlx5', eswitchMode: 'switchdev', numVfs: 1 });
    pf.configureVf(0, { mac: M0, state: 'disable' });
    bridgeSide(pf, 1);
    expect(pf.vf(0).transmit(frame(OUTSIDE, M0))).toBe(false);
  });
});

describe('switchdev with a real bridge', () => {
  it('applies OpenFlow rules to VF traffic through the representor ports', () => {
    const sim = new Simulation(1);
    const pf = makePf({ sim, model: 'mlx5', eswitchMode: 'switchdev', numVfs: 3 });
    pf.configureVf(0, { mac: M0 });
    pf.configureVf(1, { mac: M1 });
    const M2 = MAC('02:00:00:00:02:02');
    pf.configureVf(2, { mac: M2 });
    const g = guests(pf);
    const br = new Bridge({ path: 'hv1.br0', sim });
    const bp: Port[] = [];
    for (let i = 0; i < 3; i++) {
      const p = br.addPort({ name: pf.representorName(i) });
      connect(p, pf.representor(i));
      bp.push(p);
    }
    br.loadFlows(['priority=10,in_port=pf0vf0,actions=output:pf0vf1', 'priority=10,in_port=pf0vf2,actions=drop', 'priority=0,actions=normal'].join('\n'));
    pf.vf(0).transmit(frame(M2, M0)); // the rule sends it to vf1 whatever the destination
    pf.vf(2).transmit(frame(M0, M2)); // dropped by the bridge
    expect(g.map((x) => x.length)).toEqual([0, 1, 0]);
    expect(bp[0]!.counters.rx_packets).toBe(1);
    expect(bp[1]!.counters.tx_packets).toBe(1);
    expect(bp[2]!.counters.rx_packets).toBe(1);
    expect(pf.vfCounters(1).rx_packets).toBe(1);
    expect(pf.stats.veb_unicast).toBe(0);
  });
});
