/**
 * A tiny learning-switch world for orchestrator tests (the real vswitch lives in src/vswitch):
 * NORMAL-like learning on the source MAC, unicast to the learned port, flood otherwise, optional
 * idle aging, and `mac_move` events shaped like the vswitch's.
 */
import { Port, connect, type Frame } from '../../src/port/port.js';
import type { FabricEvent } from '../../src/port/nic.js';
import type { Simulation } from '../../src/sim/index.js';
import type { MacTableView } from '../../src/migration/reconverge.js';
import type { MigratableNic, SwitchoverResult } from '../../src/migration/migration.js';
import { buildGratuitousArp } from '../../src/wire/build.js';
import { formatMac } from '../../src/wire/mac.js';

const readMac = (f: Uint8Array, off: number): number => {
  let n = 0;
  for (let i = 0; i < 6; i++) n = n * 256 + f[off + i]!;
  return n;
};

export class FakeBridge implements MacTableView {
  readonly ports: Port[] = [];
  private table = new Map<number, { port: Port; seen: number }>();
  constructor(
    readonly name: string,
    private readonly sim: Simulation,
    private readonly events: (e: FabricEvent) => void,
    private readonly agingNs = Infinity,
  ) {}

  addPort(name: string): Port {
    const p = new Port(`${this.name}.${name}`, (frame, _meta, port) => this.input(port, frame));
    this.ports.push(p);
    return p;
  }

  lookup(mac: number): string | null {
    const e = this.table.get(mac);
    if (!e) return null;
    if (this.sim.now - e.seen >= this.agingNs) return null;
    return e.port.path;
  }

  /** Forgets the MACs learned on `port` (OVS, when a port goes away). */
  flush(port: Port): void {
    for (const [mac, e] of this.table) if (e.port === port) this.table.delete(mac);
  }

  expiresAt(mac: number): number | null {
    const e = this.table.get(mac);
    return e && Number.isFinite(this.agingNs) ? e.seen + this.agingNs : null;
  }

  private input(inPort: Port, frame: Frame): void {
    const src = readMac(frame, 6);
    const dst = readMac(frame, 0);
    const old = this.table.get(src);
    const fresh = old && this.sim.now - old.seen < this.agingNs;
    if (fresh && old.port !== inPort) {
      this.events({ type: 'mac_move', time_ns: this.sim.now, bridge: this.name, mac: formatMac(src), vlan: 0, from: old.port.path, to: inPort.path });
    }
    this.table.set(src, { port: inPort, seen: this.sim.now });
    const hit = this.lookup(dst);
    if (hit !== null) {
      const out = this.ports.find((p) => p.path === hit)!;
      if (out !== inPort) out.send(frame, { hops: 0 });
      return;
    }
    for (const p of this.ports) if (p !== inPort) p.send(frame, { hops: 0 });
  }
}

export class FakeNic implements MigratableNic {
  readonly port: Port;
  received: number[] = [];
  paused = false;
  requests: number[] = [];
  private acks: Array<() => void> = [];
  constructor(
    readonly path: string,
    readonly mac: number,
    private readonly sim: Simulation,
    private readonly ip = 0x0a000002,
    private readonly guestAnnounce = true,
    /** Answer every unicast frame with one back to its source (a ping responder). */
    private readonly echo = false,
  ) {
    this.port = new Port(path, (frame) => {
      if (this.paused) this.port.drop('migration', frame);
      else if (readMac(frame, 0) === this.mac) {
        this.received.push(this.sim.now);
        if (this.echo) {
          const reply = frame.slice();
          reply.set(frame.subarray(6, 12), 0);
          reply.set(frame.subarray(0, 6), 6);
          this.transmit(reply);
        }
      }
    });
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  transmit(frame: Frame): void {
    if (this.paused) this.port.drop('migration', frame);
    else this.port.send(frame, { hops: 0 });
  }
  requestAnnounce(): boolean {
    if (!this.guestAnnounce) return false;
    this.requests.push(this.sim.now);
    this.transmit(buildGratuitousArp({ mac: this.mac, ip: this.ip }));
    this.sim.schedule(0, () => this.acks.forEach((a) => a()));
    return true;
  }
  onAnnounceAck(cb: () => void): void {
    this.acks.push(cb);
  }
}

/** hv1.br0, hv2.br0 and hv3.br0 under a ToR; vm2 on hv1, vm3 on hv3. */
export function threeHosts(sim: Simulation, opts: { agingNs?: number; guestAnnounce?: boolean } = {}) {
  const events: FabricEvent[] = [];
  const subs: Array<(e: FabricEvent) => void> = [];
  const emit = (e: FabricEvent): void => {
    events.push(e);
    subs.forEach((s) => s(e));
  };
  const aging = opts.agingNs ?? Infinity;
  const hv1 = new FakeBridge('hv1.br0', sim, emit, aging);
  const hv2 = new FakeBridge('hv2.br0', sim, emit, aging);
  const hv3 = new FakeBridge('hv3.br0', sim, emit, aging);
  const tor = new FakeBridge('tor', sim, emit, aging);
  connect(hv1.addPort('uplink'), tor.addPort('p1'));
  connect(hv2.addPort('uplink'), tor.addPort('p2'));
  connect(hv3.addPort('uplink'), tor.addPort('p3'));
  const vm2 = new FakeNic('vm2.eth0', 0x020000000002, sim, 0x0a000002, opts.guestAnnounce ?? true, true);
  const vm3 = new FakeNic('vm3.eth0', 0x020000000003, sim, 0x0a000003);
  connect(vm2.port, hv1.addPort('vm2-eth0'));
  connect(vm3.port, hv3.addPort('vm3-eth0'));
  const switchover = (nic: MigratableNic): SwitchoverResult => {
    const old = hv1.ports.find((p) => p.peer === nic.port)!;
    hv1.flush(old); // the fabric forgets the MACs of the tap that went away
    const fresh = hv2.addPort('vm2-eth0');
    connect(nic.port, fresh);
    // Dead end: frames for the VM still switched here are lost to the migration; anything else
    // (broadcasts, other MACs flooded here) is just unplugged.
    old.peer = { receive: (f) => old.drop(readMac(f, 0) === nic.mac ? 'migration' : 'unplugged', f) };
    return { newPort: fresh.path, oldPort: old };
  };
  return {
    hv1,
    hv2,
    hv3,
    tor,
    vm2,
    vm3,
    events,
    switchover,
    macTables: () => [hv1, hv2, hv3, tor],
    subscribe: (cb: (e: FabricEvent) => void) => subs.push(cb),
    senders: () => [vm3.port],
  };
}
