/**
 * topologies/block-migration.yaml: a 100 GiB thin disk with 8 MiB written is block-migrated over
 * NBD while a guest writer runs and a tenant iperf shares the uplink. One run: the copy is thin,
 * re-sends the writer's chunks, is ready before the RAM starts, drains at the pause; the capture
 * dissects cleanly with the mirror as TCP on 10809.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fabric } from '../../src/fabric/index.js';
import { loadTopology } from '../../src/topology/index.js';
import { MemorySink } from '../../src/pcap/index.js';
import type { MigrationRecord } from '../../src/migration/index.js';
import { describeWithTools } from '../helpers/tools.js';

const MiB = 1 << 20;
// tshark runs asynchronously: a long dissection must not block the vitest worker
const tshark = async (args: string[]): Promise<string> => (await promisify(execFile)('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28 })).stdout;
let rec: MigrationRecord;
let st: Record<string, unknown>;
let text = '';
let dir = '';
let file = '';

beforeAll(async () => {
  const fabric = new Fabric(loadTopology('topologies/block-migration.yaml'));
  const sink = new MemorySink();
  fabric.capturePcapng(sink);
  const run = await fabric.runAsync();
  text = fabric.renderSummary(run);
  fabric.close();
  rec = (run['migrations'] as MigrationRecord[])[0]!;
  st = rec.storage!;
  dir = mkdtempSync(join(tmpdir(), 'vfab-block-example-'));
  file = join(dir, 'b.pcapng');
  writeFileSync(file, sink.bytes());
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('topologies/block-migration.yaml', () => {
  it('copies the 8 MiB written (plus the writer\'s chunks again), not the 100 GiB, then the RAM', () => {
    expect(rec.status).toBe('completed');
    expect(st['status']).toBe('completed');
    const data = st['data_bytes'] as number;
    const resends = st['dirty_resends'] as number;
    expect(resends).toBeGreaterThan(0);
    // the fill job's 8 MiB, plus chunks the writer first touched outside it (none: same region), plus re-sends
    expect(data).toBe(8 * MiB + resends * 65536);
    expect(st['bytes_sent'] as number).toBeLessThan(data + MiB);
    const disk = (st['disks'] as Array<Record<string, number>>)[0]!;
    expect(disk['zero_bytes']).toBeGreaterThanOrEqual(100 * 1024 * MiB);
    // ready first, then the RAM rounds; the drain ends inside the downtime
    expect(rec.precopy[0]!.start_ns).toBeGreaterThanOrEqual(st['ready_ns'] as number);
    expect(st['completed_ns'] as number).toBeGreaterThanOrEqual(rec.pause_ns!);
    expect(st['completed_ns'] as number).toBeLessThanOrEqual(rec.resume_ns!);
    expect(text).toMatch(/block mirror via hv1\.mgmt -> 192\.168\.100\.2:10809 \(NBD\): completed/);
  });
});

describeWithTools(['tshark'], 'topologies/block-migration.yaml capture', () => {
  it('dissects cleanly; the mirror is TCP to 10809 from hv1.mgmt', async () => {
    const bad = await tshark(['-r', file, '-Y', '_ws.malformed || _ws.expert.severity >= error']);
    expect(bad.trim()).toBe('');
    const syn = await tshark(['-r', file, '-Y', 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 10809', '-T', 'fields', '-e', 'frame.interface_name', '-e', 'ip.src']);
    expect(syn.trim()).toBe('hv1.mgmt\t192.168.100.1');
  });
});
