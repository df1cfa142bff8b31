import { GuestStack } from '../../src/guest/stack.js';
import { Link } from '../../src/link/link.js';
import { Simulation } from '../../src/sim/simulation.js';
import type { TcpConfig } from '../../src/tcp/index.js';
import { VirtioNet } from '../../src/vnic/device.js';

export interface Pair {
  sim: Simulation;
  a: GuestStack;
  b: GuestStack;
  na: VirtioNet;
  nb: VirtioNet;
  link: Link;
}

/** Two guests cabled by one link (rate, one-way delay, queue in frames, random loss). */
export function pair(o: { seed?: number; rate?: number; delayNs?: number; queue?: number; loss?: number; mtu?: number; tcp?: Partial<TcpConfig> } = {}): Pair {
  const sim = new Simulation(o.seed ?? 1);
  const na = new VirtioNet({ path: 'vm1.eth0', sim, mac: 0x020000000001, ...(o.mtu ? { mtu: o.mtu } : {}) });
  const nb = new VirtioNet({ path: 'vm2.eth0', sim, mac: 0x020000000002, ...(o.mtu ? { mtu: o.mtu } : {}) });
  const link = new Link({ sim, name: 'l0', a: na.port, b: nb.port, bandwidthBps: o.rate ?? 1e9, delayNs: o.delayNs ?? 50_000, queueFrames: o.queue ?? 1000, loss: o.loss ?? 0 });
  const a = new GuestStack({ name: 'vm1', sim });
  const b = new GuestStack({ name: 'vm2', sim });
  if (o.tcp) {
    a.configureTcp(o.tcp);
    b.configureTcp(o.tcp);
  }
  a.addInterface(na, { ipv4: '10.0.0.1/24' });
  b.addInterface(nb, { ipv4: '10.0.0.2/24' });
  return { sim, a, b, na, nb, link };
}

export const IP_A = 0x0a000001;
export const IP_B = 0x0a000002;
