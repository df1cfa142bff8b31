import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/sim/simulation.js';
import { connect } from '../../src/port/port.js';
import { VirtioNet } from '../../src/vnic/device.js';
import { GuestStack } from '../../src/guest/stack.js';
import { startPing, startUdpCbr } from '../../src/guest/apps.js';
import { ms, seconds } from '../../src/sim/time.js';

function pair(sim: Simulation, opts: { connected?: boolean } = {}) {
  const n1 = new VirtioNet({ path: 'vm1.eth0', sim, mac: 0x020000000001 });
  const n2 = new VirtioNet({ path: 'vm2.eth0', sim, mac: 0x020000000002 });
  if (opts.connected ?? true) connect(n1.port, n2.port);
  const s1 = new GuestStack({ name: 'vm1', sim });
  const s2 = new GuestStack({ name: 'vm2', sim });
  s1.addInterface(n1, { ipv4: '10.0.0.1/24' });
  s2.addInterface(n2, { ipv4: '10.0.0.2/24' });
  return { n1, n2, s1, s2 };
}

describe('two guests back to back', () => {
  it('resolve each other with ARP and ping with no loss', () => {
    const sim = new Simulation(1);
    const { s1 } = pair(sim);
    const app = startPing(s1, { dst: '10.0.0.2', count: 5, intervalNs: ms(100), size: 56 });
    sim.run({ untilNs: seconds(2) });
    const r = app.result();
    expect(r.sent).toBe(5);
    expect(r.received).toBe(5);
    expect(r.loss_pct).toBe(0);
  });
});
