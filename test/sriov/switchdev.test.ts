import { describe, expect, it } from 'vitest';
import { Port, connect, type Frame } from '../../src/port/port.js';
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
