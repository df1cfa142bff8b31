/**
 * Network disks over NBD inside a run (issue 13 item 4): located errors for bad input, the I/O
 * really travelling as NBD over the simulated TCP (request counts, throttle before NBD, a link
 * going down failing I/Os as QEMU's client with reconnect-delay 0 does), `data: true` bytes
 * landing in the export (read back with the real qemu-io), and determinism.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { runTopologyAsync } from '../../src/fabric/index.js';
import { validateModel } from '../../src/fabric/validate.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { UserError, UserErrors } from '../../src/errors.js';
import { MAX_NBD_REQUESTS } from '../../src/fabric/nbd-disks.js';
import { describeWithTools } from '../helpers/tools.js';
import Run from '../../src/commands/run.js';
import { cli } from '../helpers/cli.js';

interface Opts {
  disk?: string;
  export?: string;
  hv1Ip?: string;
  duration?: string;
  scenario?: string;
}

function topo(o: Opts = {}): string {
  return `
name: nbd-t
seed: 3
duration: ${o.duration ?? '2s'}
hosts:
  hv1:
    bridges: { br0: { ports: { up: {} } } }
    interfaces:
      storage: { bridge: br0, ipv4: ${o.hv1Ip ?? '10.9.0.1/24'} }
  st1:
    bridges: { br0: { ports: { up: {} } } }
    interfaces:
      storage: { bridge: br0, ipv4: 10.9.0.10/24 }
    backends:
      ssd: { parallelism: 8, service: { fixed: 200us } }
    exports:
      vol1: ${o.export ?? '{ memory: 1GiB, backend: ssd }'}
links:
  - { a: hv1.br0.up, b: st1.br0.up, bandwidth: 10Gbit, delay: 20us }
vms:
  vm1:
    host: hv1
    interfaces: { eth0: { bridge: br0, ipv4: 10.9.0.101/24 } }
    disks:
      vda: ${o.disk ?? '{ nbd: st1/vol1, via: storage }'}
scenario:
${o.scenario ?? '  - { at: 0s, fio: { name: j, disk: vm1.vda, rw: randread, bs: 4k, iodepth: 4, runtime: 1s, time_based: 1 } }'}
`;
}

function errorsOf(text: string): UserError[] {
  const model = loadTopologyText(text, 'bad.yaml');
  return validateModel(model);
}

function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((l) => l.includes(needle)) + 1;
}

describe('network disks: bad input is a located error', () => {
  it('an export that does not exist', () => {
    const text = topo({ disk: '{ nbd: st1/vol2, via: storage }' });
    const errs = errorsOf(text);
    expect(errs.map((e) => e.code)).toEqual(['NBD_UNKNOWN_EXPORT']);
    expect(errs[0]!.location?.line).toBe(lineOf(text, 'st1/vol2'));
    expect(errs[0]!.message).toMatch(/host st1 has no export "vol2"; did you mean "vol1"\?/);
  });

  it('a disk with both nbd: and image:', () => {
    const text = topo({ disk: '{ nbd: st1/vol1, via: storage, image: vm1.qcow2 }' });
    const errs = errorsOf(text);
    expect(errs.map((e) => e.code)).toEqual(['NBD_DISK_SOURCE']);
    expect(errs[0]!.location?.line).toBe(lineOf(text, 'image: vm1.qcow2'));
    expect(errs[0]!.message).toMatch(/either a network disk \("nbd"\) or a local one \("image"\), not both/);
  });

  it('a via: interface with no route to the storage host', () => {
    const text = topo({ hv1Ip: '10.8.0.1/24' });
    const errs = errorsOf(text);
    expect(errs.map((e) => e.code)).toEqual(['NBD_NO_ROUTE']);
    expect(errs[0]!.location?.line).toBe(lineOf(text, 'via: storage'));
    expect(errs[0]!.message).toMatch(/no route to the storage host: hv1\.storage \(10\.8\.0\.1\/24, no gateway\) has no route to host st1/);
  });

  it('an unknown via:, a missing via:, a bad reference, a backend on the disk, an unknown export backend', () => {
    expect(errorsOf(topo({ disk: '{ nbd: st1/vol1, via: mgmt }' })).map((e) => e.code)).toEqual(['NBD_UNKNOWN_VIA']);
    expect(errorsOf(topo({ disk: '{ nbd: st1/vol1 }' })).map((e) => e.code)).toEqual(['NBD_NEEDS_VIA']);
    expect(errorsOf(topo({ disk: '{ nbd: st1, via: storage }' })).map((e) => e.code)).toEqual(['NBD_DISK_SYNTAX']);
    expect(errorsOf(topo({ disk: '{ nbd: st1/vol1, via: storage, backend: ssd }' })).map((e) => e.code)).toEqual(['NBD_DISK_OPTION']);
    expect(errorsOf(topo({ export: '{ memory: 1GiB, backend: nvme }' })).map((e) => e.code)).toEqual(['NBD_UNKNOWN_BACKEND']);
    expect(errorsOf(topo({ export: '{ backend: ssd }' })).map((e) => e.code)).toEqual(['NBD_EXPORT_SOURCE']);
  });

  it('vfab run exits 2 with file:line:col and no stack', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nbd-exports-'));
    try {
      const f = join(dir, 'bad.yaml');
      const text = topo({ disk: '{ nbd: st1/vol2, via: storage }' });
      (await import('node:fs')).writeFileSync(f, text);
      const r = await cli(Run, [f]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(new RegExp(`bad\\.yaml:${lineOf(text, 'st1/vol2')}:\\d+: .*no export "vol2"`));
      expect(r.err).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad input errors are UserErrors when building too (never a crash)', async () => {
    await expect(runTopologyAsync({ text: topo({ disk: '{ nbd: st1/vol1, via: storage, memory: 1GiB }' }), file: 'bad.yaml' })).rejects.toSatisfy(
      (e: unknown) => e instanceof UserError || e instanceof UserErrors,
    );
  });
});

type NbdSummary = {
  exports: Record<string, { requests: number; device: { served: number } | null }>;
  disks: Record<string, { requests: number; failed_ios: number; unanswered_ios: number; lost_ns?: number; lost_reason?: string; failures: { op: string; error: string }[] }>;
};
type Storage = { completed_ios: number; fio: { jobs: { error: number; read: { total_ios: number; iops: number }; write: { total_ios: number } }[] } };

describe('network disks: the I/O is NBD over the fabric', () => {
  it('every completed I/O is one NBD request served by the export\'s device, and crosses the link', async () => {
    const run = await runTopologyAsync({ text: topo(), file: 't.yaml' });
    const nbd = run.summary['nbd'] as NbdSummary;
    const st = run.summary['storage'] as Storage;
    const d = nbd.disks['vm1.vda']!;
    expect(st.completed_ios).toBeGreaterThan(1000);
    // at most the job's depth is still in flight at the end
    expect(d.requests - st.completed_ios).toBeGreaterThanOrEqual(0);
    expect(d.requests - st.completed_ios).toBeLessThanOrEqual(4);
    expect(nbd.exports['st1/vol1']!.device!.served).toBe(nbd.exports['st1/vol1']!.requests);
    // the storage block names the export as the disk's device (no local null device listed)
    const sd = run.summary['storage'] as { disks: Record<string, { backend: string }>; backends: Record<string, unknown> };
    expect(sd.disks['vm1.vda']!.backend).toBe('nbd:st1/vol1');
    expect(sd.backends).toEqual({});
    // fixed 200 us service, 4 in flight: the device bounds IOPS below 4 / 200us = 20000, the network adds RTTs
    expect(st.fio.jobs[0]!.read.iops).toBeLessThan(20000);
    const link = run.summary.links['link0']!;
    // each 4 KiB read reply crosses st1 -> hv1 (b -> a) as at least 3 frames (MTU 1500)
    expect(link.b_to_a.frames).toBeGreaterThanOrEqual(3 * st.completed_ios);
  });

  it('the throttle applies at the virtio-blk, before NBD: requests on the wire follow the limit', async () => {
    const run = await runTopologyAsync({ text: topo({ disk: '{ nbd: st1/vol1, via: storage, throttle: { iops-total: 300 } }' }), file: 't.yaml' });
    const d = (run.summary['nbd'] as NbdSummary).disks['vm1.vda']!;
    // QEMU's leaky bucket lets a burst of iops-total/10 through at once, then 300/s (1 s job)
    expect(d.requests).toBeGreaterThanOrEqual(300);
    expect(d.requests).toBeLessThanOrEqual(300 + 30 + 4);
  });

  it(`at most ${MAX_NBD_REQUESTS} requests in flight on one connection (block/nbd.c MAX_NBD_REQUESTS)`, async () => {
    const deep = '  - { at: 0s, fio: { name: j, disk: vm1.vda, rw: randread, bs: 4k, iodepth: 64, runtime: 500ms, time_based: 1 } }';
    const run = await runTopologyAsync({ text: topo({ scenario: deep }), file: 't.yaml' });
    const d = (run.summary['nbd'] as NbdSummary).disks['vm1.vda']!;
    // the device (parallelism 8, 200 us) bounds throughput either way; what the client
    // limits is the device's queue: never more than 16 - 8 waiting
    const dev = (run.summary['nbd'] as { exports: Record<string, { device: { max_queue: number } }> }).exports['st1/vol1']!.device;
    expect(dev.max_queue).toBeLessThanOrEqual(MAX_NBD_REQUESTS - 8);
    expect(d.requests).toBeGreaterThan(1000);
  });

  it('a storage host going down mid-run: I/Os hang, then fail with EIO when TCP gives up; fio stops with error 5', async () => {
    const scenario = `  - { at: 0s, fio: { name: j, disk: vm1.vda, rw: randread, bs: 4k, iodepth: 4, runtime: 1000s, time_based: 1 } }
  - { at: 1s, link_down: st1.br0.up }`;
    // a short run: the requests in flight are unanswered (QEMU has no per-request timeout)
    const short = await runTopologyAsync({ text: topo({ scenario, duration: '3s' }), file: 't.yaml' });
    const ds = (short.summary['nbd'] as NbdSummary).disks['vm1.vda']!;
    expect(ds.unanswered_ios).toBe(4);
    expect(ds.failed_ios).toBe(0);
    expect(ds.lost_ns).toBeUndefined();
    // long enough for tcp_retries2 (15 retransmissions, RTO doubling to 120 s): ~925 s after the link went down
    const long = await runTopologyAsync({ text: topo({ scenario, duration: '1000s' }), file: 't.yaml' });
    const d = (long.summary['nbd'] as NbdSummary).disks['vm1.vda']!;
    expect(d.lost_reason).toBe('connection ETIMEDOUT');
    expect(d.lost_ns! / 1e9).toBeGreaterThan(900);
    expect(d.lost_ns! / 1e9).toBeLessThan(1000);
    expect(d.failed_ios).toBe(4);
    expect(d.unanswered_ios).toBe(0);
    expect(d.failures.map((f) => f.op)).toEqual(['read', 'read', 'read', 'read']);
    expect(d.failures[0]!.error).toMatch(/^EIO: connection ETIMEDOUT/);
    const job = (long.summary['storage'] as Storage).fio.jobs[0]!;
    expect(job.error).toBe(5);
    expect(long.text).toMatch(/connection lost at 9\d\d\.\d{3}s \(connection ETIMEDOUT\): 4 I\/Os failed with EIO/);
    expect(long.text).toMatch(/fio j: read \d+ IOPS .*, error 5 \(EIO\)/);
  });

  it('a gateway that never answers ARP: the connection fails (EHOSTUNREACH) and every I/O fails with EIO, no crash', async () => {
    // off st1's subnet, through a gateway nobody has: valid, but ARP for the gateway fails at run time
    const text = topo({ hv1Ip: '10.8.0.1/24, gateway: 10.8.0.254', duration: '5s' });
    expect(errorsOf(text)).toEqual([]);
    const run = await runTopologyAsync({ text, file: 't.yaml' });
    const d = (run.summary['nbd'] as NbdSummary).disks['vm1.vda']!;
    expect(d.requests).toBe(0);
    expect(d.lost_reason).toBe('connection EHOSTUNREACH');
    expect(d.failed_ios).toBe(4);
    expect((run.summary['storage'] as Storage).fio.jobs[0]!.error).toBe(5);
  });

  it('same topology and seed: same summary bytes', async () => {
    const a = await runTopologyAsync({ text: topo(), file: 't.yaml' });
    const b = await runTopologyAsync({ text: topo(), file: 't.yaml' });
    expect(JSON.stringify(a.summary)).toBe(JSON.stringify(b.summary));
  });
});

describeWithTools(['qemu-io', 'qemu-img'], 'network disks: data: true lands the bytes in the exported image', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nbd-exports-data-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes through NBD are in the image file; qemu-img check passes; qemu-io reads the pattern back', async () => {
    const img = join(dir, 'vol1.qcow2');
    const scenario = '  - { at: 0s, fio: { name: w, disk: vm1.vda, rw: write, bs: 64k, iodepth: 4, size: 4MiB } }';
    const run = await runTopologyAsync({ text: topo({ export: `{ image: ${img}, size: 64MiB, backend: ssd, data: true }`, scenario }), file: join(dir, 't.yaml') });
    const st = run.summary['storage'] as Storage;
    expect(st.fio.jobs[0]!.write.total_ios).toBe(64);
    execFileSync('qemu-img', ['check', img], { stdio: 'pipe' });
    // fio wrote 4 MiB sequentially from 0 with vfab's fill byte 0x5a; the rest is unallocated
    const out = execFileSync('qemu-io', ['-r', '-f', 'qcow2', '-c', 'read -P 0x5a 0 4M', '-c', 'read -P 0 4M 4M', img], { encoding: 'utf8' });
    expect(out).not.toMatch(/Pattern verification failed/);
    const map = JSON.parse(execFileSync('qemu-img', ['map', '--output=json', img], { encoding: 'utf8' })) as { start: number; length: number; data: boolean }[];
    expect(map.filter((m) => m.data).reduce((s, m) => s + m.length, 0)).toBe(4 << 20);
  });
});
