import type { FrameMeta, Port } from '../../src/port/port.js';
import type { Frame } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { GuestStack, type GuestStackOptions } from '../../src/guest/stack.js';
import { VirtioNet } from '../../src/vnic/device.js';

/** Joins two ports with a one-way delay and an optional filter that may drop frames. */
export function delayedConnect(sim: Simulation, a: Port, b: Port, delayNs: number, keep: (f: Frame) => boolean = () => true): void {
  a.peer = { receive: (f: Frame, m: FrameMeta) => { if (keep(f)) sim.schedule(delayNs, () => b.receive(f, m)); } };
  b.peer = { receive: (f: Frame, m: FrameMeta) => { if (keep(f)) sim.schedule(delayNs, () => a.receive(f, m)); } };
}

export interface Vm {
  nic: VirtioNet;
  stack: GuestStack;
}

export function vm(sim: Simulation, n: number, ipv4: string, opts: Partial<GuestStackOptions> = {}, gateway?: string): Vm {
  const nic = new VirtioNet({ path: `vm${n}.eth0`, sim, mac: 0x020000000000 + n });
  const stack = new GuestStack({ name: `vm${n}`, sim, ...opts });
  stack.addInterface(nic, { ipv4, ...(gateway ? { gateway } : {}) });
  return { nic, stack };
}

/** A tiny learning switch for tests: floods broadcast/unknown, forwards known unicast. */
export class TestSwitch {
  private table = new Map<number, Port>();
  readonly ports: Port[] = [];

  constructor(private readonly sim: Simulation, private readonly delayNs = 0) {}

  attach(nicPort: Port): void {
    this.ports.push(nicPort);
    nicPort.peer = {
      receive: (f: Frame, m: FrameMeta) => {
        this.sim.schedule(this.delayNs, () => this.forward(nicPort, f, m));
      },
    };
  }

  private forward(from: Port, f: Frame, m: FrameMeta): void {
    const src = mac48(f, 6);
    this.table.set(src, from);
    const dst = mac48(f, 0);
    const out = (f[0]! & 1) === 0 ? this.table.get(dst) : undefined;
    if (out) {
      if (out !== from) out.receive(f, m);
      return;
    }
    for (const p of this.ports) if (p !== from) p.receive(f, m);
  }
}

export function mac48(f: Uint8Array, o: number): number {
  return f[o]! * 2 ** 40 + f[o + 1]! * 2 ** 32 + (((f[o + 2]! << 24) | (f[o + 3]! << 16) | (f[o + 4]! << 8) | f[o + 5]!) >>> 0);
}
