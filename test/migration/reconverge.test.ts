import { describe, expect, it } from 'vitest';
import { ReconvergenceTracker, type MacTableView } from '../../src/migration/reconverge.js';
import { Simulation } from '../../src/sim/index.js';
import { ms } from '../../src/sim/time.js';

const MAC = 0x020000000002;

/** A table with a scripted entry: `port` until `expires`, then gone. */
function table(name: string, port: string | null, expires: number | null, withExpiry = true): MacTableView & { port: string | null } {
  const t = {
    name,
    ports: [],
    port,
    lookup(mac: number) {
      if (mac !== MAC) return null;
      return t.port;
    },
  } as MacTableView & { port: string | null; expiresAt?: (m: number, v: number) => number | null };
  if (withExpiry) t.expiresAt = () => expires;
  return t;
}

describe('re-convergence tracker', () => {
  it('settles a table on a mac_move event that names the MAC as text', () => {
    const sim = new Simulation(1);
    const t = table('tor', 'tor.p1', null);
    const tr = new ReconvergenceTracker(sim, [{ mac: MAC, vlan: 10 }], () => [t]);
    sim.scheduleAt(ms(100), () => tr.arm());
    sim.scheduleAt(ms(130), () => {
      t.port = 'tor.p2';
      tr.onEvent({ type: 'mac_move', time_ns: sim.now, bridge: 'tor', mac: '02:00:00:00:00:02', vlan: 10, from: 'tor.p1', to: 'tor.p2' });
    });
    sim.run();
    tr.finish();
    expect(tr.reconvergedNs).toBe(ms(130));
    expect(tr.details()).toEqual([{ table: 'tor', mac: '02:00:00:00:00:02', vlan: 10, old_port: 'tor.p1', new_port: 'tor.p2', at_ns: ms(130), how: 'moved' }]);
  });

  it('times silent aging from the entry’s expiry', () => {
    const sim = new Simulation(1);
    const t = table('hv1.br0', 'hv1.br0.vm2-eth0', ms(900));
    const tr = new ReconvergenceTracker(sim, [{ mac: MAC, vlan: 0 }], () => [t]);
    sim.scheduleAt(ms(100), () => tr.arm());
    sim.scheduleAt(ms(900), () => (t.port = null)); // the table forgets it at its expiry
    sim.run();
    expect(tr.reconvergedNs).toBe(ms(900));
    expect(tr.details()[0]).toMatchObject({ how: 'aged', at_ns: ms(900), new_port: null });
  });

  it('reports no time when a table without expiry information is found aged only at the end', () => {
    const sim = new Simulation(1);
    const t = table('sw', 'sw.p1', null, false);
    const tr = new ReconvergenceTracker(sim, [{ mac: MAC, vlan: 0 }], () => [t]);
    sim.scheduleAt(ms(100), () => tr.arm());
    sim.scheduleAt(ms(500), () => (t.port = null));
    sim.run();
    expect(tr.reconvergedNs).toBeNull(); // still pointing at the old port until finish()
    tr.finish();
    expect(tr.reconvergedNs).toBeNull();
    expect(tr.details()[0]).toMatchObject({ how: 'aged', at_ns: null });
  });

  it('counts as converged at resume when no table knew the MAC', () => {
    const sim = new Simulation(1);
    const tr = new ReconvergenceTracker(sim, [{ mac: MAC, vlan: 0 }], () => [table('x', null, null)]);
    sim.scheduleAt(ms(100), () => tr.arm());
    sim.run();
    expect(tr.reconvergedNs).toBe(ms(100));
    expect(tr.details()).toEqual([]);
  });
});
