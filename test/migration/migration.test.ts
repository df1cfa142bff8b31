import { describe, expect, it } from 'vitest';
import { LiveMigration, type MigrationSpec } from '../../src/migration/migration.js';
import { Simulation } from '../../src/sim/index.js';
import { ms, seconds } from '../../src/sim/time.js';
import { buildUdp, buildGratuitousArp } from '../../src/wire/build.js';
import { threeHosts } from './fake-fabric.js';

type World = ReturnType<typeof threeHosts>;

/** vm3 streams a frame to vm2 every 10 ms from 10 ms to `until`; both announce themselves at 0. */
function traffic(sim: Simulation, w: World, untilNs = seconds(4)): { sent: number[] } {
  const sent: number[] = [];
  sim.schedule(0, () => {
    w.vm2.transmit(buildGratuitousArp({ mac: w.vm2.mac, ip: 0x0a000002 }));
    w.vm3.transmit(buildGratuitousArp({ mac: w.vm3.mac, ip: 0x0a000003 }));
  });
  const tick = (): void => {
    sent.push(sim.now);
    w.vm3.transmit(
      buildUdp({ srcMac: w.vm3.mac, dstMac: w.vm2.mac, srcIp: 0x0a000003, dstIp: 0x0a000002, srcPort: 5001, dstPort: 5001, payloadLen: 64 }),
    );
    if (sim.now + ms(10) <= untilNs) sim.schedule(ms(10), tick);
  };
  sim.schedule(ms(10), tick);
  return { sent };
}

function migration(sim: Simulation, w: World, over: Partial<MigrationSpec> = {}): LiveMigration {
  const m = new LiveMigration(
    sim,
    {
      vm: 'vm2',
      from: 'hv1',
      to: 'hv2',
      memoryBytes: 1e9,
      dirtyRateBytesPerS: 2e8,
      bandwidthBitPerS: 8e9, // 1e9 B/s: one 1 s round, then 200 ms stop-and-copy
      announce: 'both',
      nics: [w.vm2],
      ...over,
    },
    { switchover: w.switchover, macTables: w.macTables, subscribe: w.subscribe, senders: w.senders },
  );
  m.scheduleAt(seconds(1));
  return m;
}

const inWindow = (ts: number[], a: number, b: number): number => ts.filter((t) => t >= a && t < b).length;

describe('live migration orchestrator', () => {
  it('pauses after pre-copy, switches over, resumes and announces on QEMU’s schedule', () => {
    const sim = new Simulation(1);
    const w = threeHosts(sim);
    traffic(sim, w);
    const m = migration(sim, w);
    sim.run({ untilNs: seconds(4) });
    m.finish();
    const r = m.record();
    expect(r).toMatchObject({
      vm: 'vm2',
      from: 'hv1',
      to: 'hv2',
      start_ns: seconds(1),
      status: 'completed',
      rounds: 1,
      transferred_bytes: 1.2e9,
      downtime_ns: ms(200),
      converged: true,
      pause_ns: seconds(2),
      resume_ns: ms(2200),
      message: null,
    });
    expect(r.announce).toMatchObject({ mode: 'both', frames: 10, rarp: 5, garp: 5, first_ns: ms(2200), last_ns: ms(3000) });
    expect(w.vm2.requests).toEqual([0, 50, 200, 450, 800].map((x) => ms(2200 + x)));
    // The NIC now hangs off hv2's bridge.
    expect(w.vm2.port.peer).toBe(w.hv2.ports.find((p) => p.path === 'hv2.br0.vm2-eth0'));
  });

  it('loses exactly the frames sent during the downtime when announcing, and reconverges at resume', () => {
    const sim = new Simulation(1);
    const w = threeHosts(sim);
    const { sent } = traffic(sim, w);
    const m = migration(sim, w);
    sim.run({ untilNs: seconds(4) });
    m.finish();
    const r = m.record();
    const duringDowntime = inWindow(sent, r.pause_ns!, r.resume_ns!);
    expect(duringDowntime).toBe(20);
    expect(r.packets_lost).toBe(duringDowntime);
    expect(sent.length - w.vm2.received.length).toBe(duringDowntime);
    // Every frame sent after resume arrived.
    expect(inWindow(w.vm2.received, r.resume_ns!, seconds(5))).toBe(inWindow(sent, r.resume_ns!, seconds(5)));
    // The first RARP moved every table that had the MAC, at the resume instant.
    expect(r.reconverged_ns).toBe(ms(2200));
    for (const t of [w.hv1, w.hv2, w.hv3, w.tor]) expect(t.lookup(w.vm2.mac)).not.toBe('hv1.br0.vm2-eth0');
    expect(w.tor.lookup(w.vm2.mac)).toBe('tor.p2');
    expect(w.hv2.lookup(w.vm2.mac)).toBe('hv2.br0.vm2-eth0');
    expect(w.hv1.lookup(w.vm2.mac)).toBe('hv1.br0.uplink'); // relearned from the RARP flood
    const how = Object.fromEntries(r.tables.map((t) => [t.table, [t.how, t.new_port, t.at_ns]]));
    expect(how).toEqual({
      'hv1.br0': ['flushed', null, ms(2200)],
      'hv2.br0': ['moved', 'hv2.br0.vm2-eth0', ms(2200)],
      'hv3.br0': ['unchanged', 'hv3.br0.uplink', ms(2200)],
      tor: ['moved', 'tor.p2', ms(2200)],
    });
    // hv1 forgot the MAC with its tap: a new entry there, moves on hv2 and the ToR.
    expect(w.events.filter((e) => e.type === 'mac_move' && e['mac'] === '02:00:00:00:00:02' && e.time_ns === ms(2200))).toHaveLength(2);
    expect(r.migration_drops).toBe(duringDowntime);
  });

  it('rarp alone reconverges the fabric just as fast', () => {
    const sim = new Simulation(1);
    const w = threeHosts(sim);
    const { sent } = traffic(sim, w);
    const m = migration(sim, w, { announce: 'rarp' });
    sim.run({ untilNs: seconds(4) });
    m.finish();
    const r = m.record();
    expect(r.announce).toMatchObject({ frames: 5, rarp: 5, garp: 0 });
    expect(w.vm2.requests).toEqual([]);
    expect(r.packets_lost).toBe(inWindow(sent, r.pause_ns!, r.resume_ns!));
    expect(r.reconverged_ns).toBe(ms(2200));
  });

  it('without an announce, blackholes traffic until the stale entries age out', () => {
    const sim = new Simulation(1);
    const w = threeHosts(sim, { agingNs: seconds(1) });
    const { sent } = traffic(sim, w);
    const m = migration(sim, w, { announce: 'none' });
    sim.run({ untilNs: seconds(4) });
    m.finish();
    const r = m.record();
    expect(r.announce).toMatchObject({ mode: 'none', frames: 0, first_ns: null });
    // vm2 last answered at 1.99 s (just before the pause); the tables forget it at 2.99 s and flood.
    expect(r.reconverged_ns).toBe(ms(2990));
    expect(r.packets_lost).toBe(inWindow(sent, r.pause_ns!, ms(2990)));
    expect(r.packets_lost).toBe(99);
    expect(sent.length - w.vm2.received.length).toBe(99);
    expect(r.tables.find((t) => t.table === 'tor')).toMatchObject({ how: 'aged', at_ns: ms(2990) });
    expect(r.tables.find((t) => t.table === 'hv1.br0')).toMatchObject({ how: 'flushed', at_ns: ms(2200) });
    // Frames after the switchover died at the dead source port, flooded there by hv1 (79), plus
    // the copy of the 2.99 s frame the aged-out ToR flooded both ways (the other copy arrived).
    expect(w.hv1.ports.find((p) => p.path === 'hv1.br0.vm2-eth0')!.counters.drops['migration']).toBe(99 - 20 + 1);
    expect(r.migration_drops).toBe(99 + 1);
  });

  it('without an announce and without aging, stays unconverged and keeps losing', () => {
    const sim = new Simulation(1);
    const w = threeHosts(sim);
    const { sent } = traffic(sim, w);
    const m = migration(sim, w, { announce: 'none' });
    sim.run({ untilNs: seconds(4) });
    m.finish();
    const r = m.record();
    expect(r.reconverged_ns).toBeNull();
    // Everything sent since the pause is lost, except the last 10 ms (possibly still in flight).
    expect(r.packets_lost).toBe(inWindow(sent, r.pause_ns!, seconds(4) - ms(10) + 1));
    expect(r.tables.find((t) => t.table === 'tor')).toMatchObject({ how: 'stale', at_ns: null, old_port: 'tor.p1' });
  });

  it('reports non-convergence and leaves the VM running on the source', () => {
    const sim = new Simulation(1);
    const w = threeHosts(sim);
    const { sent } = traffic(sim, w);
    const m = migration(sim, w, { dirtyRateBytesPerS: 2e9 });
    sim.run({ untilNs: seconds(4) });
    m.finish();
    const r = m.record();
    expect(r).toMatchObject({ status: 'failed', converged: false, rounds: 1, downtime_ns: 0, pause_ns: null, resume_ns: null, packets_lost: 0 });
    expect(r.message).toMatch(/^did not converge after 1 round: dirty rate .* ≥ migration bandwidth/);
    expect(r.timeline.map((e) => e.what).join('\n')).toMatch(/vm2 stays on hv1/);
    expect(w.vm2.received.length).toBe(sent.length);
    expect(w.vm2.port.peer).toBe(w.hv1.ports.find((p) => p.path === 'hv1.br0.vm2-eth0'));
  });

  it('shows progress when the run ends mid pre-copy', () => {
    const sim = new Simulation(1);
    const w = threeHosts(sim);
    const m = migration(sim, w, { dirtyRateBytesPerS: 4e8, maxDowntimeNs: ms(100) }); // rounds end at 2.0, 2.4, 2.56 s
    sim.run({ untilNs: ms(2500) });
    const r = m.record();
    expect(r).toMatchObject({ status: 'precopy', rounds: 2, transferred_bytes: 1.4e9, downtime_ns: 0 });
  });

  it('refuses a VM holding a VF without a virtio standby, with a clear message', () => {
    const sim = new Simulation(1);
    const w = threeHosts(sim);
    const m = migration(sim, w, { vfs: [{ path: 'vm2.eth1', vf: 'hv1.pf0.vf0' }] });
    sim.run({ untilNs: seconds(4) });
    const r = m.record();
    expect(r.status).toBe('refused');
    expect(r.converged).toBe(false);
    expect(r.message).toMatch(/vm2 holds SR-IOV VF vm2\.eth1 \(hv1\.pf0\.vf0\): a passed-through VF cannot be live-migrated/);
    expect(r.message).toMatch(/standby/);
    expect(w.vm2.port.peer).toBe(w.hv1.ports.find((p) => p.path === 'hv1.br0.vm2-eth0'));
  });

  it('unplugs a standby-paired VF before migrating and plugs one on the destination after', () => {
    const sim = new Simulation(1);
    const w = threeHosts(sim);
    const calls: string[] = [];
    const m = new LiveMigration(
      sim,
      {
        vm: 'vm2', from: 'hv1', to: 'hv2', memoryBytes: 1e9, dirtyRateBytesPerS: 2e8, bandwidthBitPerS: 8e9, announce: 'both',
        nics: [w.vm2], vfs: [{ path: 'vm2.eth1', vf: 'hv1.pf0.vf0', standby: 'eth0' }],
      },
      {
        switchover: w.switchover,
        failover: {
          unplug: (vf) => calls.push(`unplug ${vf.vf} @${sim.now}`),
          plug: (vf, host) => (calls.push(`plug ${vf.path} on ${host} @${sim.now}`), { vf: 'hv2.pf0.vf0' }),
        },
      },
    );
    m.scheduleAt(seconds(1));
    sim.run({ untilNs: seconds(3) });
    expect(calls).toEqual([`unplug hv1.pf0.vf0 @${seconds(1)}`, `plug vm2.eth1 on hv2 @${ms(2200)}`]);
    expect(m.record().status).toBe('completed');
  });

  it('orders the timeline by time', () => {
    const sim = new Simulation(1);
    const w = threeHosts(sim);
    traffic(sim, w);
    const m = migration(sim, w);
    sim.run({ untilNs: seconds(4) });
    m.finish();
    const tl = m.record().timeline;
    for (let i = 1; i < tl.length; i++) expect(tl[i]!.time_ns).toBeGreaterThanOrEqual(tl[i - 1]!.time_ns);
    expect(tl[0]!.what).toMatch(/migration vm2 hv1 → hv2 starts/);
    expect(tl.map((e) => e.what)).toContain('all MAC tables point at the new location');
  });
});
