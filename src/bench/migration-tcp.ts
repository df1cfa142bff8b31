/**
 * Migration stream speed (issue 13):
 * - `migration_stream_sim_s_per_wall_s`: a 4 GiB VM migrating over TCP (`migrate: { via: mgmt }`,
 *   max-bandwidth unlimited, MTU 1500) between two hypervisors behind a ToR on 10 Gbit/s links;
 *   simulated seconds per wall second. Scaled down to fit the bench budget: each run simulates
 *   the first 60 ms of pre-copy round 1 (about 70 MB of the 4 GiB, ~48k data segments plus
 *   ACKs), which is the steady state a whole migration spends nearly all its time in. Median of 3.
 */
import { Fabric } from '../fabric/index.js';
import { loadTopologyText } from '../topology/index.js';
import type { BenchContext } from './main.js';

export const keys = ['migration_stream_sim_s_per_wall_s'];

const SIM_NS = 60_000_000;

const TOPOLOGY = `name: bench-migration-tcp
seed: 1
hosts:
  hv1: { bridges: { br0: { ports: { uplink: {} } } }, interfaces: { mgmt: { bridge: br0, ipv4: 192.168.0.1/24 } } }
  hv2: { bridges: { br0: { ports: { uplink: {} } } }, interfaces: { mgmt: { bridge: br0, ipv4: 192.168.0.2/24 } } }
switches:
  tor: { ports: { p1: {}, p2: {} } }
links:
  - { a: hv1.br0.uplink, b: tor.p1, bandwidth: 10Gbit, delay: 20us }
  - { a: hv2.br0.uplink, b: tor.p2, bandwidth: 10Gbit, delay: 20us }
vms:
  vm1: { host: hv1, memory: 4GiB, dirty_rate: 100MiB, interfaces: { eth0: { bridge: br0, ipv4: 10.0.0.1/24 } } }
scenario:
  - { at: 0s, migrate: { vm: vm1, to: hv2, via: mgmt, max_bandwidth: 0 } }
`;

export async function run(ctx: BenchContext): Promise<Record<string, number>> {
  const once = (): number => {
    const fabric = new Fabric(loadTopologyText(TOPOLOGY, 'bench-migration-tcp.yaml'));
    const t0 = performance.now();
    fabric.run({ untilNs: SIM_NS });
    const wall = (performance.now() - t0) / 1000;
    fabric.close();
    return SIM_NS / 1e9 / wall;
  };
  const r = await ctx.median(3, once);
  ctx.log(`migration stream ${r.toFixed(3)} simulated s per wall s (4 GiB VM, first 60 ms of pre-copy at 10 Gbit/s)`);
  return { migration_stream_sim_s_per_wall_s: Math.round(r * 1000) / 1000 };
}
