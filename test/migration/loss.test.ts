import { describe, expect, it } from 'vitest';
import { LossMeter, frameKey } from '../../src/migration/loss.js';
import { Simulation } from '../../src/sim/index.js';
import { ms } from '../../src/sim/time.js';
import { Port, connect } from '../../src/port/port.js';
import { buildUdp, buildRarp } from '../../src/wire/build.js';
import { pushVlan } from '../../src/wire/vlan.js';

const VM = 0x020000000002;
const udp = (n: number) => buildUdp({ srcMac: 0x020000000003, dstMac: VM, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: n, payloadLen: 10 });

function rig(sim: Simulation, opts: { maxOutstanding?: number } = {}) {
  const sender = new Port('vm3.eth0', () => {});
  const wire = new Port('wire', () => {});
  connect(sender, wire);
  const vmPort = new Port('vm2.eth0', () => {});
  let paused = false;
  const meter = new LossMeter(sim, [VM], opts);
  meter.watchSender(sender);
  meter.watchReceiver(vmPort, () => !paused);
  meter.start();
  return { sender, vmPort, meter, pause: (p: boolean) => (paused = p) };
}

describe('migration loss meter', () => {
  it('counts frames sent to the VM that never arrive, ignoring those still in flight', () => {
    const sim = new Simulation(1);
    const r = rig(sim);
    sim.schedule(0, () => {
      for (let i = 0; i < 5; i++) r.sender.send(udp(i), { hops: 0 });
      r.vmPort.receive(udp(1), { hops: 0 });
      r.vmPort.receive(udp(3), { hops: 0 });
    });
    sim.run();
    expect(r.meter.lost()).toBe(0); // all within the 10 ms grace
    sim.schedule(ms(10), () => {});
    sim.run();
    expect(r.meter.lost()).toBe(3);
    expect([r.meter.sent, r.meter.received]).toEqual([5, 2]);
  });

  it('does not count frames the paused VM receives as delivered', () => {
    const sim = new Simulation(1);
    const r = rig(sim);
    sim.schedule(0, () => {
      r.sender.send(udp(1), { hops: 0 });
      r.pause(true);
      r.vmPort.receive(udp(1), { hops: 0 });
    });
    sim.schedule(ms(20), () => {});
    sim.run();
    expect(r.meter.lost()).toBe(1);
  });

  it('matches identical frames newest first, so in-flight ones are not blamed', () => {
    const sim = new Simulation(1);
    const r = rig(sim);
    sim.schedule(0, () => r.sender.send(udp(7), { hops: 0 })); // lost
    sim.schedule(ms(50), () => r.sender.send(udp(7), { hops: 0 })); // arrives
    sim.schedule(ms(51), () => r.vmPort.receive(udp(7), { hops: 0 }));
    sim.schedule(ms(100), () => r.sender.send(udp(7), { hops: 0 })); // in flight at the end
    sim.run();
    expect(r.meter.lost()).toBe(1);
  });

  it('identifies a frame the same with or without a VLAN tag', () => {
    const f = udp(9);
    const tagged = pushVlan(f, { tpid: 0x8100, vid: 10, pcp: 0, dei: false });
    expect(tagged.length).toBe(f.length + 4);
    expect(frameKey(tagged)).toBe(frameKey(f));
    expect(frameKey(udp(10))).not.toBe(frameKey(f));
  });

  it('ignores broadcasts and bounds what it tracks', () => {
    const sim = new Simulation(1);
    const r = rig(sim, { maxOutstanding: 3 });
    sim.schedule(0, () => {
      r.sender.send(buildRarp(VM), { hops: 0 });
      for (let i = 0; i < 10; i++) r.sender.send(udp(i), { hops: 0 });
    });
    sim.schedule(ms(20), () => {});
    sim.run();
    expect(r.meter.sent).toBe(10);
    expect(r.meter.lost()).toBe(10); // 3 tracked + 7 counted without tracking
  });
});

describe('migration loss meter and device drops', () => {
  it('takes back a frame the NIC drops after it arrived', () => {
    const sim = new Simulation(1);
    const sender = new Port('vm3.eth0', () => {});
    connect(sender, new Port('wire', () => {}));
    const vmPort = new Port('vm2.eth0', (f, _m, p) => p.drop('no-rx-buffer', f)); // ring full
    const meter = new LossMeter(sim, [VM]);
    meter.watchSender(sender);
    meter.watchReceiver(vmPort, () => true);
    meter.start();
    sim.schedule(0, () => {
      const f = udp(1);
      sender.send(f, { hops: 0 });
      vmPort.receive(f, { hops: 0 });
    });
    sim.schedule(ms(20), () => {});
    sim.run();
    expect(meter.lost()).toBe(1);
    expect(meter.received).toBe(0);
  });
});
