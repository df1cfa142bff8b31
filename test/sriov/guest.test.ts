import { describe, expect, it } from 'vitest';
import { GuestStack } from '../../src/guest/stack.js';
import { startPing } from '../../src/guest/apps.js';
import { Simulation, ms, seconds } from '../../src/sim/index.js';
import { makePf, wire, MAC } from './helpers.js';

describe('guest stacks over VFs', () => {
  it('ping between two VMs on VFs of one PF crosses only the VEB (ARP broadcast aside)', () => {
    const sim = new Simulation(1);
    const pf = makePf({ sim });
    pf.configureVf(0, { mac: MAC('02:00:00:00:01:00'), vlan: 10 });
    pf.configureVf(1, { mac: MAC('02:00:00:00:01:01'), vlan: 10 });
    const w = wire(pf);
    const vm1 = new GuestStack({ name: 'vm1', sim });
    vm1.addInterface(pf.vf(0), { ipv4: '10.0.1.1/24' });
    const vm2 = new GuestStack({ name: 'vm2', sim });
    vm2.addInterface(pf.vf(1), { ipv4: '10.0.1.2/24' });
    const app = startPing(vm1, { dst: '10.0.1.2', count: 3, intervalNs: ms(100) });
    sim.run({ untilNs: seconds(1) });
    expect(app.result()).toMatchObject({ sent: 3, received: 3 });
    expect(w.got).toHaveLength(1); // the ARP request broadcast, tagged 10
    expect(((w.got[0]![14]! << 8) | w.got[0]![15]!) & 0xfff).toBe(10);
    expect(pf.stats.veb_unicast).toBe(7); // ARP reply + 3 requests + 3 replies
  });

  it('a VM on another port VLAN gets nothing: ping fails', () => {
    const sim = new Simulation(1);
    const pf = makePf({ sim });
    pf.configureVf(0, { mac: MAC('02:00:00:00:01:00'), vlan: 10 });
    pf.configureVf(1, { mac: MAC('02:00:00:00:01:01'), vlan: 20 });
    const vm1 = new GuestStack({ name: 'vm1', sim });
    vm1.addInterface(pf.vf(0), { ipv4: '10.0.1.1/24' });
    const vm2 = new GuestStack({ name: 'vm2', sim });
    vm2.addInterface(pf.vf(1), { ipv4: '10.0.1.2/24' });
    const app = startPing(vm1, { dst: '10.0.1.2', count: 2, intervalNs: ms(100) });
    sim.run({ untilNs: seconds(5) });
    expect(app.result().received).toBe(0);
    expect(pf.vfCounters(1).rx_packets).toBe(0);
  });
});
