/**
 * A block mirror on the hosts' storage devices (mirror-devices.ts): drive-mirror's reads take
 * queue slots and service time on the source disk's device and its writes on the destination's
 * device of the same name, so the mirror competes with the guest's own disk I/O there; the
 * guest's throttle does not count the mirror (QEMU's job reads below the throttle group), and
 * `storage_speed` (QEMU drive-mirror `speed`) is the job's own limit.
 */
import { describe, expect, it } from 'vitest';
import { runTopologyAsync } from '../../src/fabric/index.js';
import { validateModel } from '../../src/fabric/validate.js';
import { loadTopologyText } from '../../src/topology/index.js';

const MiB = 1 << 20;

function topo(o: { migrate?: string | null; disk?: string; duration?: string } = {}): string {
  const migrate = o.migrate === null ? '' : `  - { at: 100ms, migrate: { vm: vm1, to: hv2, via: mgmt, storage: mirror${o.migrate ?? ''} } }`;
  return `
name: mirror-backend
seed: 4
duration: ${o.duration ?? '600ms'}
hosts:
  hv1:
    bridges: { br0: { ports: { uplink: {} } } }
    interfaces: { mgmt: { bridge: br0, ipv4: 192.168.100.1/24 } }
    backends: { ssd: { parallelism: 1, service: { fixed: 2ms } } }
  hv2:
    bridges: { br0: { ports: { uplink: {} } } }
    interfaces: { mgmt: { bridge: br0, ipv4: 192.168.100.2/24 } }
    backends: { ssd: { parallelism: 1, service: { fixed: 3ms } } }
switches:
  tor: { ports: { p1: {}, p2: {} } }
links:
  - { a: hv1.br0.uplink, b: tor.p1, bandwidth: 10Gbit, delay: 20us }
  - { a: hv2.br0.uplink, b: tor.p2, bandwidth: 10Gbit, delay: 20us }
vms:
  vm1:
    host: hv1
    memory: 16MiB
    dirty_rate: 1MiB
    interfaces: { eth0: { bridge: br0, mac: "02:00:00:00:00:01", ipv4: 10.0.0.1/24 } }
    disks: { vda: ${o.disk ?? '{ memory: 64MiB, data: true, backend: ssd, throttle: { iops-total: 40 } }'} }
scenario:
  - { at: 0s, fio: { name: fill, disk: vm1.vda, rw: write, bs: 1M, size: 8M, iodepth: 1 } }
  - { at: 60ms, fio: { name: reader, disk: vm1.vda, rw: randread, bs: 4k, size: 8M, iodepth: 1, runtime: 400ms, time_based: 1 } }
${migrate}
`;
}

type Job = { jobname: string; read: { total_ios: number; clat_ns: { max: number; mean: number } }; write: { total_ios: number } };
type St = {
  status: string;
  start_ns: number;
  ready_ns: number;
  data_bytes: number;
  target_device: string;
  target_device_ios: number;
  disks: { writes: number; zero_writes: number; devices: { source: string; source_reads: number; target: string } }[];
};

async function run(text: string) {
  const r = await runTopologyAsync({ text, file: 't.yaml' });
  const storage = r.summary['storage'] as { fio: { jobs: Job[] }; backends: Record<string, { served: number }> };
  const mig = (r.summary['migrations'] as { status: string; storage: St }[] | undefined)?.[0];
  return { storage, mig, jobs: Object.fromEntries(storage.fio.jobs.map((j) => [j.jobname, j])) };
}

describe('block mirror on the hosts\' storage devices', () => {
  it('the mirror\'s reads are served by the source disk\'s device and its writes by the destination\'s; the guest\'s throttle does not count them', async () => {
    const quiet = await run(topo({ migrate: null }));
    const busy = await run(topo());
    const st = busy.mig!.storage;
    expect(busy.mig!.status).toBe('completed');
    expect(st.data_bytes).toBe(8 * MiB);
    const copies = st.disks[0]!.writes;
    const zeroes = st.disks[0]!.zero_writes;
    // hv1.ssd: the guest's I/Os plus one read per data copy; without the mirror only the guest's
    const guest = (j: { [k: string]: Job }): number => j['fill']!.write.total_ios + j['reader']!.read.total_ios;
    expect(quiet.storage.backends['hv1.ssd']!.served).toBe(guest(quiet.jobs));
    const inFlightAtEnd = 1; // the reader's one I/O of iodepth 1 may be in service at the end
    expect(busy.storage.backends['hv1.ssd']!.served).toBeGreaterThanOrEqual(guest(busy.jobs) + copies - inFlightAtEnd);
    expect(busy.storage.backends['hv1.ssd']!.served).toBeLessThanOrEqual(guest(busy.jobs) + copies + inFlightAtEnd);
    expect(st.disks[0]!.devices).toEqual({ source: 'hv1.ssd', source_reads: copies, target: 'hv2.ssd' });
    // hv2.ssd (3 ms per command): every NBD command of the mirror (zeroes, writes, the final flush)
    expect(st.target_device).toBe('hv2.ssd');
    expect(st.target_device_ios).toBe(copies + zeroes + 1);
    // 8 data copies read at 2 ms each and written at 3 ms each, one at a time on each device
    expect(st.ready_ns - st.start_ns).toBeGreaterThanOrEqual(copies * 3e6);
    // the throttle (40 IOPS) did not count the mirror: the guest got the same number of reads
    expect(busy.jobs['reader']!.read.total_ios).toBe(quiet.jobs['reader']!.read.total_ios);
    // and the mirror was not held to 40 IOPS: its copies and zero writes took far less than (n / 40) s
    expect(st.ready_ns - st.start_ns).toBeLessThan(((copies + zeroes) / 40) * 1e9);
  });

  it('without a throttle the guest\'s reads queue behind the mirror\'s on the one-slot device', async () => {
    const disk = '{ memory: 64MiB, data: true, backend: ssd }';
    const quiet = await run(topo({ migrate: null, disk }));
    const busy = await run(topo({ disk }));
    expect(busy.mig!.status).toBe('completed');
    const q = quiet.jobs['reader']!.read;
    const b = busy.jobs['reader']!.read;
    // alone: every read takes the 2 ms service; with the mirror some wait for a mirror read too
    expect(q.clat_ns.max).toBeLessThan(2.5e6);
    expect(b.clat_ns.max).toBeGreaterThan(3.5e6);
    expect(b.total_ios).toBeLessThan(q.total_ios);
  });

  it('storage_speed limits the copy (QEMU drive-mirror speed, 100 ms slices)', async () => {
    const fast = await run(topo({ duration: '2s' }));
    const slow = await run(topo({ migrate: ', storage_speed: 80Mbit', duration: '2s' }));
    const f = fast.mig!.storage;
    const s = slow.mig!.storage;
    expect(s.data_bytes).toBe(8 * MiB);
    // 10 MB/s: after the first 100 ms slice's quota (1 MB) the job sleeps; 8 MiB takes >= 0.73 s
    const speed = 80e6 / 8;
    expect(s.ready_ns - s.start_ns).toBeGreaterThanOrEqual(((8 * MiB - speed / 10) / speed) * 1e9);
    expect(s.ready_ns - s.start_ns).toBeLessThan(((8 * MiB) / speed) * 1e9 + 0.2e9);
    expect(f.ready_ns - f.start_ns).toBeLessThan(0.2e9);
    expect((slow.mig as unknown as { storage: { speed_bps: number } }).storage.speed_bps).toBe(80e6);
  });

  it('storage_speed without storage: mirror is a located error', () => {
    const text = topo({ migrate: null }).replace('scenario:\n', 'scenario:\n  - { at: 100ms, migrate: { vm: vm1, to: hv2, via: mgmt, storage_speed: 80Mbit } }\n');
    const errs = validateModel(loadTopologyText(text, 'bad.yaml'));
    expect(errs.map((e) => e.code)).toEqual(['MIGRATION_MIRROR']);
    expect(errs[0]!.location?.line).toBe(text.split('\n').findIndex((l) => l.includes('storage_speed')) + 1);
  });
});
