/**
 * A storage host's path going down mid-run with QEMU's `reconnect-delay` (block/nbd.c): the
 * connection is lost when TCP gives up (tcp_retries2, ~925 s after the link went down); with
 * reconnect-delay N the I/Os in flight wait for a new connection (a new TCP connection and a new
 * NBD handshake from the same host) and are retried on it; if none comes within N seconds they
 * fail with EIO. With 0 (the default) they fail at once (test/fabric/nbd-disks.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { runTopologyAsync } from '../../src/fabric/index.js';
import { validateModel } from '../../src/fabric/validate.js';
import { loadTopologyText } from '../../src/topology/index.js';

function topo(disk: string, scenario: string, duration: string): string {
  return `
name: nbd-reconnect
seed: 5
duration: ${duration}
hosts:
  hv1:
    bridges: { br0: { ports: { up: {} } } }
    interfaces:
      storage: { bridge: br0, ipv4: 10.9.0.1/24 }
  st1:
    bridges: { br0: { ports: { up: {} } } }
    interfaces:
      storage: { bridge: br0, ipv4: 10.9.0.10/24 }
    backends:
      ssd: { parallelism: 8, service: { fixed: 200us } }
    exports:
      vol1: { memory: 1GiB, backend: ssd }
links:
  - { a: hv1.br0.up, b: st1.br0.up, bandwidth: 10Gbit, delay: 20us }
vms:
  vm1:
    host: hv1
    interfaces: { eth0: { bridge: br0, ipv4: 10.9.0.101/24 } }
    disks:
      vda: ${disk}
scenario:
${scenario}
`;
}

// 200 IOPS keeps the event count of a 1000 s run small; the throttle is before NBD (virtio-blk)
const JOB = '  - { at: 0s, fio: { name: j, disk: vm1.vda, rw: randread, bs: 4k, iodepth: 4, runtime: 2000s, time_based: 1 } }';
const DISK = (delay: string): string => `{ nbd: st1/vol1, via: storage, reconnect_delay: ${delay}, throttle: { iops-total: 200 } }`;

type Disk = {
  requests: number;
  failed_ios: number;
  unanswered_ios: number;
  lost_ns?: number;
  lost_reason?: string;
  reconnect_delay_s?: number;
  reconnects?: number;
  retried_ios?: number;
  expired_ios?: number;
  failures: { at_ns: number; op: string; error: string }[];
  connection_events?: { lost_ns: number; reason: string; reconnected_ns: number | null; expired_ns: number | null; retried_ios: number }[];
};
type Job = { error: number; read: { total_ios: number } };

async function run(text: string) {
  const r = await runTopologyAsync({ text, file: 't.yaml' });
  const d = (r.summary['nbd'] as { disks: Record<string, Disk> }).disks['vm1.vda']!;
  const job = (r.summary['storage'] as { fio: { jobs: Job[] } }).fio.jobs[0]!;
  return { r, d, job };
}

describe('NBD reconnect-delay (block/nbd.c CONNECTING_WAIT)', () => {
  it('the path comes back within the delay: the I/Os in flight are retried on a new connection and complete late, none fails', async () => {
    const scenario = `${JOB}
  - { at: 1s, link_down: st1.br0.up }
  - { at: 935s, link_up: st1.br0.up }`;
    const { r, d, job } = await run(topo(DISK('60s'), scenario, '945s'));
    // TCP gave up first (the link was down for ~925 s of retransmissions)
    expect(d.lost_reason).toBe('connection ETIMEDOUT');
    expect(d.lost_ns! / 1e9).toBeGreaterThan(900);
    expect(d.lost_ns! / 1e9).toBeLessThan(935);
    expect(d.reconnect_delay_s).toBe(60);
    expect(d.reconnects).toBe(1);
    const ev = d.connection_events![0]!;
    // reconnected after the link came back (the next SYN retransmission), within the delay
    expect(ev.reconnected_ns! / 1e9).toBeGreaterThanOrEqual(935);
    expect(ev.reconnected_ns! - ev.lost_ns).toBeLessThan(60e9);
    expect(ev.expired_ns).toBeNull();
    // the 4 reads in flight when the link went down were retried, none failed
    expect(ev.retried_ios).toBe(4);
    expect(d.retried_ios).toBe(4);
    expect(d.failed_ios).toBe(0);
    expect(d.failures).toEqual([]);
    expect(job.error).toBe(0);
    // and the job went on after the reconnection: ~200 IOPS for the last seconds
    expect(job.read.total_ios).toBeGreaterThan(200 * 2 + 1000);
    expect(r.text).toMatch(/connection lost at 9\d\d\.\d{3}s \(connection ETIMEDOUT\), reconnected at 9\d\d\.\d{3}s: 4 I\/Os retried; no I\/O failed/);
  });

  it('the path stays down: the I/Os fail with EIO when reconnect-delay runs out, and the summary says which', async () => {
    const scenario = `${JOB}
  - { at: 1s, link_down: st1.br0.up }`;
    const { r, d, job } = await run(topo(DISK('20s'), scenario, '1000s'));
    expect(d.reconnects).toBe(0);
    const ev = d.connection_events![0]!;
    expect(ev.reconnected_ns).toBeNull();
    // exactly reconnect-delay after the loss (the timer is armed by the retried requests at once)
    expect(ev.expired_ns! - ev.lost_ns).toBe(20e9);
    expect(d.failed_ios).toBe(4);
    expect(d.expired_ios).toBe(4);
    expect(d.unanswered_ios).toBe(0);
    expect(d.failures.map((f) => f.op)).toEqual(['read', 'read', 'read', 'read']);
    for (const f of d.failures) {
      expect(f.at_ns).toBe(ev.expired_ns);
      expect(f.error).toBe('EIO: NBD connection lost (connection ETIMEDOUT) and not back within reconnect-delay 20s');
    }
    expect(job.error).toBe(5);
    expect(r.text).toMatch(/connection lost at 9\d\d\.\d{3}s \(connection ETIMEDOUT\), not back within reconnect-delay 20s; 4 I\/Os failed with EIO \(4 when reconnect-delay ran out\)/);
  });

  it('reconnect_delay is whole seconds and only for network disks: located errors', () => {
    const e1 = validateModel(loadTopologyText(topo('{ nbd: st1/vol1, via: storage, reconnect_delay: 1500ms }', JOB, '1s'), 'bad.yaml'));
    expect(e1.map((e) => e.code)).toEqual(['NBD_RECONNECT_DELAY']);
    expect(e1[0]!.location?.line).toBeGreaterThan(0);
    const e2 = validateModel(loadTopologyText(topo('{ memory: 1GiB, reconnect_delay: 5s }', JOB, '1s'), 'bad.yaml'));
    expect(e2.map((e) => e.code)).toEqual(['NBD_DISK_OPTION']);
  });
});
