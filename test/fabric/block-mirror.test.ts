/**
 * Block migration end to end (`migrate: { storage: mirror }`): a thin qcow2 made by the real
 * qemu-img/qemu-io is mirrored over NBD (TCP port 10809 on the hosts' mgmt interfaces) while fio
 * writes to it, then the RAM follows. The copy equals the source (`qemu-img compare`), passes
 * `qemu-img check`, and only the clusters `qemu-img map` reports as data travelled as data; the
 * capture dissects cleanly in tshark; the same seed gives the same bytes; a cable pulled during the
 * copy fails the migration and the VM stays on the source.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fabric } from '../../src/fabric/index.js';
import { loadTopology, loadTopologyText } from '../../src/topology/index.js';
import { MemorySink } from '../../src/pcap/index.js';
import type { MigrationRecord } from '../../src/migration/index.js';
import { describeWithTools } from '../helpers/tools.js';

const MiB = 1 << 20;
// tshark runs asynchronously: a long dissection must not block the vitest worker
const tshark = async (args: string[]): Promise<string> => (await promisify(execFile)('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28 })).stdout;

// Deep queues: the hosts' stacks send in bursts faster than the uplink; without drops the capture
// has no retransmissions (Wireshark's NBD reassembly flags those as overlaps even when equal).
const hosts = (bandwidth: string) => `
hosts:
  hv1:
    bridges: { br0: { ports: { uplink: {} } } }
    interfaces: { mgmt: { bridge: br0, ipv4: 192.168.100.1/24 } }
  hv2:
    bridges: { br0: { ports: { uplink: {} } } }
    interfaces: { mgmt: { bridge: br0, ipv4: 192.168.100.2/24 } }
switches:
  tor: { ports: { p1: {}, p2: {} } }
links:
  - { a: hv1.br0.uplink, b: tor.p1, bandwidth: ${bandwidth}, delay: 20us, queue: 50000 }
  - { a: hv2.br0.uplink, b: tor.p2, bandwidth: ${bandwidth}, delay: 20us, queue: 50000 }
`;

const vm = (disk: string) => `
vms:
  vm1:
    host: hv1
    memory: 16MiB
    dirty_rate: 10MiB
    interfaces: { eth0: { bridge: br0, mac: "02:00:00:00:00:01", ipv4: 10.0.0.1/24 } }
    disks: { vda: ${disk} }
`;

interface StorageRecord {
  status: string;
  port: number;
  ready_ns: number | null;
  completed_ns: number | null;
  total_ns: number | null;
  bytes_sent: number;
  data_bytes: number;
  clusters_copied: number;
  dirty_resends: number;
  disks: Array<{ target: string; zero_bytes: number; data_bytes: number; dirty_resends: number; granularity: number; error: string | null }>;
}

async function run(text: string, file: string): Promise<{ rec: MigrationRecord; st: StorageRecord; pcapng: Uint8Array; json: string }> {
  const fabric = new Fabric(file ? loadTopology(file) : loadTopologyText(text, 'mem.yaml'));
  const sink = new MemorySink();
  fabric.capturePcapng(sink);
  try {
    const summary = await fabric.runAsync();
    const rec = (summary['migrations'] as MigrationRecord[])[0]!;
    return { rec, st: rec.storage as unknown as StorageRecord, pcapng: sink.bytes(), json: JSON.stringify(summary) };
  } finally {
    fabric.close();
  }
}

describeWithTools(['qemu-img', 'qemu-io', 'tshark'], 'block migration of a thin qcow2 over NBD', () => {
  let dir = '';
  let src = '';
  let mapped: Array<{ start: number; length: number; data: boolean; zero: boolean }> = [];
  let r: Awaited<ReturnType<typeof run>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vfab-block-mirror-'));
    src = join(dir, 'vm1-vda.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', src, '1G']);
    // data clusters in three places and one zero range (allocated, reads as zeros)
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -q -P 0x11 0 2M', '-c', 'write -q -P 0x22 300M 1M', '-c', 'write -q -z 600M 1M', '-c', 'write -q -P 0x33 900M 64k', src]);
    mapped = JSON.parse(execFileSync('qemu-img', ['map', '--output=json', '-f', 'qcow2', src], { encoding: 'utf8' })) as typeof mapped;
    // the guest writes inside its first 2 MiB while the copy runs (those clusters are data already)
    const text = `name: block-mirror-file\nseed: 3\nduration: 400ms\n${hosts('10Gbit')}${vm('{ image: vm1-vda.qcow2, data: true }')}
scenario:
  - { at: 10ms, fio: { name: writer, disk: vm1.vda, rw: randwrite, bs: 4k, size: 2M, iodepth: 1, rate_iops: 300, runtime: 60ms, time_based: 1 } }
  - { at: 20ms, migrate: { vm: vm1, to: hv2, via: mgmt, storage: mirror } }
capture: { ports: [hv1.mgmt] }
`;
    writeFileSync(join(dir, 't.yaml'), text);
    r = await run(text, join(dir, 't.yaml'));
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('mirrors, becomes ready, then migrates the RAM; the copy equals the source and passes qemu-img check', () => {
    expect(r.rec.status).toBe('completed');
    expect(r.st.status).toBe('completed');
    // the RAM stream starts only once the mirror is ready (libvirt waits for every job's READY)
    const ready = r.st.ready_ns!;
    expect(ready).toBeGreaterThan(20e6);
    expect(r.rec.precopy[0]!.start_ns).toBeGreaterThanOrEqual(ready);
    expect(r.st.completed_ns!).toBeGreaterThanOrEqual(r.rec.pause_ns!);
    expect(r.st.total_ns).toBe(r.st.completed_ns! - 20e6);
    const dst = join(dir, 'vm1-vda.hv2.qcow2');
    expect(r.st.disks[0]!.target).toBe(dst);
    expect(existsSync(dst)).toBe(true);
    execFileSync('qemu-img', ['compare', '-q', '-f', 'qcow2', '-F', 'qcow2', src, dst]);
    execFileSync('qemu-img', ['check', '-q', dst]);
  });

  it('sends as data only the clusters qemu-img map reports as data, plus the re-sent dirty chunks', () => {
    const data = mapped.filter((m) => m.data).reduce((a, m) => a + m.length, 0);
    expect(data).toBe(2 * MiB + MiB + 64 * 1024);
    const d = r.st.disks[0]!;
    // the guest wrote during the copy: those chunks went again (whole 64 KiB granules)
    expect(d.dirty_resends).toBeGreaterThan(0);
    expect(d.granularity).toBe(65536);
    expect(d.data_bytes).toBe(data + d.dirty_resends * 65536);
    // the rest of the 1 GiB went as NBD_CMD_WRITE_ZEROES (pre-zeroing and the zero range), not data
    expect(d.zero_bytes).toBeGreaterThanOrEqual(1024 * MiB);
    // TCP carried the payload plus NBD headers, far less than the disk's size
    expect(r.st.bytes_sent).toBeGreaterThan(d.data_bytes);
    expect(r.st.bytes_sent).toBeLessThan(d.data_bytes + 64 * 1024);
  });

  it('the capture dissects cleanly: the mirror is TCP on 10809, no malformed frames', async () => {
    const f = join(dir, 'b.pcapng');
    writeFileSync(f, r.pcapng);
    const malformed = await tshark(['-r', f, '-Y', '_ws.malformed || _ws.expert.severity >= error']);
    expect(malformed.trim()).toBe('');
    const nbd = (await tshark(['-r', f, '-Y', 'tcp.port == 10809 && tcp.len > 0', '-T', 'fields', '-e', 'tcp.len']))
      .trim()
      .split('\n')
      .reduce((a, l) => a + Number(l), 0);
    // every payload byte the mirror's connection sent and the replies are in the capture
    expect(nbd).toBeGreaterThanOrEqual(r.st.bytes_sent);
    const ports = (await tshark(['-r', f, '-Y', 'tcp.flags.syn == 1 && tcp.flags.ack == 0', '-T', 'fields', '-e', 'tcp.dstport'])).trim().split('\n');
    expect(ports).toContain('10809');
    expect(ports).toContain('49152');
  });
});

describe('block migration in memory', () => {
  const text = (extra: string, bw = '10Gbit', duration = '600ms') => `name: block-mirror-mem\nseed: 5\nduration: ${duration}\n${hosts(bw)}${vm('{ memory: 4GiB, data: true }')}
scenario:
  - { at: 0s, fio: { name: fill, disk: vm1.vda, rw: write, bs: 1M, size: 16M, iodepth: 4 } }
  - { at: 10ms, migrate: { vm: vm1, to: hv2, via: mgmt, storage: mirror } }
${extra}capture: { ports: [hv1.mgmt] }
`;

  it('gives the same bytes and numbers for the same seed', async () => {
    const a = await run(text(''), '');
    const b = await run(text(''), '');
    expect(a.rec.status).toBe('completed');
    expect(a.st.data_bytes).toBe(16 * MiB);
    expect(Buffer.from(a.pcapng).equals(Buffer.from(b.pcapng))).toBe(true);
    expect(a.json).toBe(b.json);
  }, 60_000);

  it('a cable pulled during the copy fails the migration; the VM keeps running on the source', async () => {
    // 1 Gbit/s: the 16 MiB copy takes > 100 ms, the cable goes at 40 ms; TCP gives up after its
    // retransmissions (tcp_retries2 15, ~15 min of virtual time)
    const r = await run(text('  - { at: 40ms, link_down: hv1.br0.uplink }\n', '1Gbit', '1200s'), '');
    expect(r.rec.status).toBe('failed');
    expect(r.rec.message).toMatch(/^block mirror failed: vm1\.vda: /);
    expect(r.st.status).toBe('failed');
    expect(r.st.ready_ns).toBeNull();
    expect(r.rec.pause_ns).toBeNull();
    expect(r.rec.resume_ns).toBeNull();
    expect(r.rec.timeline.map((t) => t.what).join('\n')).toMatch(/vm1 stays on hv1/);
  }, 60_000);
});
