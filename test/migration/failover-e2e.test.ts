/**
 * End to end: live migration of a VM holding an SR-IOV VF paired with a virtio standby
 * (VIRTIO_NET_F_STANDBY failover), on the real fabric with topologies/live-migration-sriov.yaml —
 * the VF is unplugged before pre-copy, traffic fails over to virtio, loss stays inside the downtime,
 * a free VF of the destination PF carries the traffic after; and the refusals and errors around it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Fabric } from '../../src/fabric/index.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { MemorySink } from '../../src/pcap/index.js';
import { planPrecopy, type MigrationRecord } from '../../src/migration/index.js';
import { UserError, UserErrors } from '../../src/errors.js';
import { ms, seconds } from '../../src/sim/time.js';
import type { PingReply } from '../../src/guest/apps.js';
import { describeWithTools } from '../helpers/tools.js';

const FILE = 'topologies/live-migration-sriov.yaml';
const TEXT = readFileSync(FILE, 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'vfab-failover-'));

interface PingApp {
  app: 'ping';
  start_ns: number;
  interval_ns: number;
  sent: number;
  received: number;
  replies: PingReply[];
}

type Counters = Record<string, { rx: number; tx: number }>;
const WATCHED = ['vm2.eth0', 'hv1.pf0.vf0', 'hv2.pf0.vf1'];

/** Runs `text`; snapshots the counters of WATCHED ports at the given instants. */
function run(text: string, at: Record<string, number> = {}) {
  const fabric = new Fabric(loadTopologyText(text, FILE));
  const sink = new MemorySink();
  fabric.capturePcapng(sink);
  const snaps: Record<string, Counters> = {};
  const snap = (): Counters =>
    Object.fromEntries(
      WATCHED.filter((p) => fabric.ctx.ports.get(p) !== undefined).map((p) => {
        const c = fabric.ctx.ports.get(p)!.counters;
        return [p, { rx: c.rx_packets, tx: c.tx_packets }];
      }),
    );
  for (const [name, t] of Object.entries(at)) fabric.sim.scheduleAt(t, () => (snaps[name] = snap()));
  const summary = fabric.run();
  snaps['end'] = snap();
  fabric.close();
  const recs = summary['migrations'] as MigrationRecord[];
  expect(recs).toHaveLength(1);
  const pcapng = join(dir, `${Object.keys(at).length}-${text.length}.pcapng`);
  writeFileSync(pcapng, sink.bytes());
  const ping = summary.apps.find((a) => a.app === 'ping') as unknown as PingApp;
  return { fabric, summary, rec: recs[0]!, snaps, ping, pcapng };
}

// Same pre-copy numbers as live-migration.yaml: the migration starts at 1 s.
const plan = planPrecopy({ memoryBytes: 2 ** 30, dirtyRateBytesPerS: 500 * 2 ** 20, bandwidthBitPerS: 10e9 });
const PAUSE = seconds(1) + plan.stop_copy!.start_ns;
const RESUME = seconds(1) + plan.end_ns;
let cached: ReturnType<typeof run> | null = null;
const example = () => (cached ??= run(TEXT, { before: seconds(1) - 1, unplugged: seconds(1) + 1, pause: PAUSE - 1, resume: RESUME - 1 }));

function lostPings(p: PingApp): number[] {
  const got = new Set(p.replies.map((r) => r.seq));
  const out: number[] = [];
  for (let k = 0; k < p.sent; k++) if (!got.has(k + 1)) out.push(p.start_ns + k * p.interval_ns);
  return out;
}

describe('topologies/live-migration-sriov.yaml (VF + virtio standby)', () => {
  it('completes and records the failover: VF unplugged at the start, a destination VF plugged at resume', () => {
    const { rec } = example();
    expect(rec).toMatchObject({ status: 'completed', converged: true, from: 'hv1', to: 'hv2', pause_ns: PAUSE, resume_ns: RESUME, message: null });
    expect(rec.failover).toEqual([
      {
        interface: 'vm2.eth1',
        standby: 'vm2.eth0',
        source_vf: 'hv1.pf0.vf0',
        unplugged_ns: seconds(1),
        plugged_ns: RESUME,
        // vm4 holds vf0 of hv2.pf0: the first free one is vf1.
        dest_vf: 'hv2.pf0.vf1',
        message: null,
      },
    ]);
    const what = rec.timeline.map((e) => e.what);
    expect(what[0]).toBe('vm2.eth1: VF hv1.pf0.vf0 unplugged, traffic fails over to standby vm2.eth0');
    expect(what).toContain('vm2.eth1: VF hv2.pf0.vf1 plugged on hv2; traffic fails back from the standby');
  });

  it('uses the VF before, the virtio standby while the VF is unplugged, and the destination VF after', () => {
    const { snaps } = example();
    const d = (a: string, b: string, port: string, k: 'rx' | 'tx') => snaps[b]![port]![k] - snaps[a]![port]![k];
    // 100 ms .. 1 s: ~90 ping replies leave through hv1's VF, none through virtio.
    expect(snaps['before']!['hv1.pf0.vf0']!.tx).toBeGreaterThan(85);
    expect(snaps['before']!['vm2.eth0']!.tx).toBe(0);
    // Pre-copy (VF unplugged): requests and replies through virtio, nothing through the old VF.
    const pings = Math.floor((PAUSE - seconds(1)) / ms(10));
    expect(Math.abs(d('unplugged', 'pause', 'vm2.eth0', 'tx') - pings)).toBeLessThanOrEqual(2);
    expect(Math.abs(d('unplugged', 'pause', 'vm2.eth0', 'rx') - pings)).toBeLessThanOrEqual(2);
    expect(d('unplugged', 'end', 'hv1.pf0.vf0', 'tx')).toBe(0);
    // After resume the replies (and the guest's 5 GARPs) leave through hv2.pf0.vf1; virtio only
    // sends QEMU's 5 RARPs. The last request is sent at 3.89 s.
    const after = Math.floor((ms(3890) - RESUME) / ms(10)) + 1;
    expect(Math.abs(d('resume', 'end', 'hv2.pf0.vf1', 'tx') - (after + 5))).toBeLessThanOrEqual(1);
    expect(d('resume', 'end', 'hv2.pf0.vf1', 'rx')).toBeGreaterThanOrEqual(after);
    expect(d('resume', 'end', 'vm2.eth0', 'tx')).toBe(5);
  });

  it('loses pings only inside the downtime window, about as many as were sent during it', () => {
    const { rec, ping } = example();
    const lost = lostPings(ping);
    expect(lost.length).toBeGreaterThan(0);
    for (const t of lost) {
      expect(t).toBeGreaterThanOrEqual(PAUSE - ms(1));
      expect(t).toBeLessThan(RESUME);
    }
    expect(Math.abs(lost.length - Math.ceil((RESUME - PAUSE) / ping.interval_ns))).toBeLessThanOrEqual(1);
    expect(rec.packets_lost).toBe(ping.sent - ping.received);
  });

  it('counts the guest’s GARPs sent through the new VF with QEMU’s RARPs from the standby', () => {
    const { rec } = example();
    expect(rec.announce).toMatchObject({ mode: 'both', rarp: 5, garp: 5, frames: 10, first_ns: RESUME, warnings: [] });
    expect(rec.tables.find((t) => t.table === 'tor')).toMatchObject({ how: 'moved', old_port: 'tor.p1', new_port: 'tor.p2' });
  });

  it('gives the destination VF the source VF’s MAC and hands the source VF back without one', () => {
    const { fabric } = example();
    const nics = fabric.renderSummary();
    expect(nics).toMatch(/vf1 02:00:00:00:00:02 -> vm2\.eth1: tx \d+/);
    expect(nics).toMatch(/failover vm2\.eth1: hv1\.pf0\.vf0 unplugged at 1\.000 s \(standby vm2\.eth0 carries the traffic\), hv2\.pf0\.vf1 plugged at 2\.370 s/);
    expect(fabric.ctx.vms.get('vm2')!.nics.get('eth1')!.nic.path).toBe('hv2.pf0.vf1');
    expect(nics).not.toMatch(/vf0 [0-9a-f:]+ -> vm2/);
  });

  describeWithTools(['tshark'], 'its pcapng', () => {
    it('checks clean with pcap-check.sh', () => {
      const r = spawnSync('bash', ['test/oracles/pcap-check.sh', example().pcapng], { encoding: 'utf8' });
      expect(r.stdout).toMatch(/malformed=0 expert_errors=0/);
      expect(r.status).toBe(0);
    });
  });
});

describe('VF failover corner cases', () => {
  it('stays on the virtio standby when the destination PF has no free VF, and says so', () => {
    const text = TEXT.replace(/(hv2:\n {4}bridges: \{ br0: \{\} \}\n {4}nics:\n {6}pf0: \{ model: ixgbe, num_vfs: )2/, '$11');
    expect(text).not.toBe(TEXT);
    const { rec, ping, snaps } = run(text, { resume: RESUME - 1 });
    expect(rec.status).toBe('completed');
    expect(rec.failover![0]).toMatchObject({ dest_vf: null, plugged_ns: null, message: 'no free VF on hv2.pf0 (1 VFs, all assigned)' });
    expect(rec.timeline.map((e) => e.what)).toContain('vm2.eth1: no VF plugged on hv2 (no free VF on hv2.pf0 (1 VFs, all assigned)); traffic stays on standby vm2.eth0');
    for (const t of lostPings(ping)) expect(t).toBeLessThan(RESUME);
    // the replies after resume leave through virtio
    expect(snaps['end']!['vm2.eth0']!.tx - snaps['resume']!['vm2.eth0']!.tx).toBeGreaterThan(150);
  });

  it('plugs the VF back on the source when the migration does not converge, as QEMU does', () => {
    const { rec, ping } = run(TEXT.replace('dirty_rate: 500MiB', 'dirty_rate: 2GiB'));
    expect(rec).toMatchObject({ status: 'failed', converged: false });
    expect(rec.failover![0]).toMatchObject({ dest_vf: null, plugged_ns: seconds(1) + planPrecopy({ memoryBytes: 2 ** 30, dirtyRateBytesPerS: 2 ** 31, bandwidthBitPerS: 10e9 }).end_ns });
    expect(rec.failover![0]!.message).toBe('migration failed: hv1.pf0.vf0 plugged back on hv1');
    expect(ping.received).toBe(ping.sent);
  });

  it('takes the standby’s MAC for the VF and adds "standby" to a default virtio offer', () => {
    const text = TEXT.replace(',\n              features: [csum, mac, status, ctrl_vq, guest_announce, standby] }', ' }');
    expect(text).not.toBe(TEXT);
    const fabric = new Fabric(loadTopologyText(text, FILE));
    const vm2 = fabric.ctx.vms.get('vm2')!;
    expect(vm2.nics.get('eth0')!.virtio!.negotiated).toContain('standby');
    expect(vm2.nics.get('eth1')!.nic.mac).toBe(0x020000000002);
  });

  it('refuses to migrate a VF without a standby, naming the interface and suggesting standby:', () => {
    const model = loadTopologyText(TEXT.replace(', standby: eth0 }', ' }'), FILE);
    let err: unknown;
    try {
      new Fabric(model);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect(err).not.toBeInstanceOf(UserErrors);
    const line = TEXT.split('\n').findIndex((l) => l.includes('migrate:')) + 1;
    expect((err as UserError).render()).toMatch(
      new RegExp(`^topologies/live-migration-sriov\\.yaml:${line}:\\d+: vm2 holds SR-IOV VF interface eth1: a passed-through VF cannot be live-migrated`),
    );
    expect((err as UserError).hint).toMatch(/pair it with a virtio standby interface \(standby: <virtio iface> on eth1/);
  });

  it('rejects a standby whose features lack "standby" with exit 2 and file:line:col', () => {
    const file = join(dir, 'no-standby-feature.yaml');
    const text = TEXT.replace('guest_announce, standby]', 'guest_announce]');
    expect(text).not.toBe(TEXT);
    writeFileSync(file, text);
    const r = spawnSync(process.execPath, ['bin/run.js', 'validate', file], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    const line = text.split('\n').findIndex((l) => l.includes('features: [csum, mac, status, ctrl_vq, guest_announce]')) + 1;
    expect(r.stderr).toContain(
      `${file}:${line}:25: vm2.eth0 is the failover standby of vm2.eth1 but does not offer "standby" (VIRTIO_NET_F_STANDBY, bit 62)`,
    );
  });

  it('rejects a VF MAC other than its standby’s, and addresses on both', () => {
    const text = TEXT.replace('{ model: vf, nic: pf0, vf: 0, standby: eth0 }', '{ model: vf, nic: pf0, vf: 0, standby: eth0, mac: "02:00:00:00:00:09", ipv4: 10.0.0.9/24 }');
    let err: unknown;
    try {
      new Fabric(loadTopologyText(text, FILE));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserErrors);
    const msgs = (err as UserErrors).errors.map((e) => `${e.code}: ${e.message}`);
    expect(msgs).toEqual([
      'FAILOVER_MAC: vm2.eth1 has MAC 02:00:00:00:00:09 but its standby vm2.eth0 has 02:00:00:00:00:02: net_failover needs the same MAC on both',
      'FAILOVER_ADDRESS: ipv4 is set on both vm2.eth1 and its standby vm2.eth0; the guest configures one failover netdev: set it on one of them',
    ]);
  });

  it('accepts the same MAC written on the VF and its standby (one netdev, not a duplicate)', () => {
    const text = TEXT.replace('{ model: vf, nic: pf0, vf: 0, standby: eth0 }', '{ model: vf, nic: pf0, vf: 0, standby: eth0, mac: "02:00:00:00:00:02" }');
    expect(() => new Fabric(loadTopologyText(text, FILE))).not.toThrow();
  });
});
