/**
 * End to end: the live-migration examples run on the real fabric (vswitch, virtio-net, guest
 * stack) and do what issue 7 promises — QEMU's announce schedule, MAC tables moved by the first
 * announce, loss confined to the downtime, a blackhole until aging without an announce,
 * non-convergence reported, a trace Wireshark dissects cleanly.
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Fabric } from '../../src/fabric/index.js';
import { loadTopology, loadTopologyText } from '../../src/topology/index.js';
import { MemorySink } from '../../src/pcap/index.js';
import { planPrecopy, type MigrationRecord } from '../../src/migration/index.js';
import { ms, seconds } from '../../src/sim/time.js';
import { describeWithTools } from '../helpers/tools.js';
import type { PingReply } from '../../src/guest/apps.js';

const VM2 = 0x020000000002;
const dir = mkdtempSync(join(tmpdir(), 'vfab-migration-'));

interface Run {
  fabric: Fabric;
  rec: MigrationRecord;
  summary: ReturnType<Fabric['summary']>;
  pcapng: string;
  /** Where each bridge sends vm2's MAC 1 ms after resume (only bridges that know it). */
  tablesAfterFirstAnnounce: Record<string, string>;
}

function run(file: string, text?: string): Run {
  const model = text === undefined ? loadTopology(file) : loadTopologyText(text, file);
  const fabric = new Fabric(model);
  const sink = new MemorySink();
  fabric.capturePcapng(sink);
  const tables: Record<string, string> = {};
  // The pre-copy plan gives the resume instant in advance (the migration starts at 1 s).
  const vm = model.vms.find((v) => v.name === 'vm2')!;
  const plan = planPrecopy({ memoryBytes: vm.memoryBytes!, dirtyRateBytesPerS: vm.dirtyRateBytesPerS!, bandwidthBitPerS: 10e9 });
  if (plan.converged) {
    fabric.sim.scheduleAt(seconds(1) + plan.end_ns + ms(1), () => {
      for (const [path, b] of fabric.ctx.bridges) {
        const e = b.macEntries().find((x) => x.mac === VM2);
        if (e) tables[path] = `${path}.${e.portName}`;
      }
    });
  }
  const summary = fabric.run();
  fabric.close();
  const pcapng = join(dir, `${model.name}.pcapng`);
  writeFileSync(pcapng, sink.bytes());
  const recs = summary['migrations'] as MigrationRecord[];
  expect(recs).toHaveLength(1);
  return { fabric, rec: recs[0]!, summary, pcapng, tablesAfterFirstAnnounce: tables };
}

const cache = new Map<string, Run>();
const example = (name: string): Run => {
  if (!cache.has(name)) cache.set(name, run(`topologies/${name}.yaml`));
  return cache.get(name)!;
};

interface PingApp {
  app: 'ping';
  from: string;
  start_ns: number;
  interval_ns: number;
  count: number;
  sent: number;
  received: number;
  replies: PingReply[];
}

/** Send times of the echo requests that got no reply. */
function lostPings(p: PingApp): number[] {
  const got = new Set(p.replies.map((r) => r.seq));
  const out: number[] = [];
  for (let k = 0; k < p.sent; k++) if (!got.has(k + 1)) out.push(p.start_ns + k * p.interval_ns);
  return out;
}

const pings = (s: Run['summary']) => s.apps.filter((a) => a.app === 'ping') as unknown as PingApp[];

describe('topologies/live-migration.yaml', () => {
  it('carries the migration record in the summary', () => {
    const { rec } = example('live-migration');
    const plan = planPrecopy({ memoryBytes: 2 ** 30, dirtyRateBytesPerS: 500 * 2 ** 20, bandwidthBitPerS: 10e9 });
    expect(rec).toMatchObject({
      vm: 'vm2',
      from: 'hv1',
      to: 'hv2',
      start_ns: seconds(1),
      status: 'completed',
      converged: true,
      rounds: 2,
      transferred_bytes: plan.transferred_bytes,
      downtime_ns: plan.downtime_ns,
      pause_ns: seconds(1) + plan.stop_copy!.start_ns,
      resume_ns: seconds(1) + plan.end_ns,
      message: null,
    });
    expect(rec.downtime_ns).toBeGreaterThan(ms(150));
    expect(rec.downtime_ns).toBeLessThan(ms(300));
  });

  it('announces with RARP and the guest’s GARP/NA 0, 50, 200, 450 and 800 ms after resume', () => {
    const { rec } = example('live-migration');
    expect(rec.announce).toMatchObject({ mode: 'both', rarp: 5, garp: 5, na: 5, frames: 15, guest_requests: 5, warnings: [] });
    expect(rec.announce.first_ns).toBe(rec.resume_ns);
    // Guest rounds are paced by its ANNOUNCE_ACK, which a virtio guest sends at once here, so
    // the RARP and the guest's GARP + NA leave together each round (the RARP first).
    const rounds = rec.timeline.filter((e) => / from vm2\.eth0$/.test(e.what)).map((e) => [e.time_ns - rec.resume_ns!, e.what]);
    expect(rounds).toEqual([0, 50, 200, 450, 800].map((t) => [ms(t), 'RARP + GARP + NA from vm2.eth0']));
  });

  it('has every bridge that knows vm2 point at its new location right after the first announce', () => {
    const { tablesAfterFirstAnnounce: t, rec } = example('live-migration');
    expect(t).toEqual({
      'hv1.br0': 'hv1.br0.uplink',
      'hv2.br0': 'hv2.br0.vm2-eth0',
      'hv3.br0': 'hv3.br0.uplink',
      tor: 'tor.p2',
    });
    // …and reconverged within the first announce's flight time (two 20 µs links).
    expect(rec.reconverged_ns! - rec.resume_ns!).toBeLessThan(ms(1));
    expect(Object.fromEntries(rec.tables.map((x) => [x.table, x.how]))).toEqual({ 'hv1.br0': 'flushed', 'hv3.br0': 'unchanged', tor: 'moved' });
  });

  it('loses pings only inside the downtime window, about as many as were sent during it', () => {
    const { rec, summary } = example('live-migration');
    for (const p of pings(summary)) {
      const lost = lostPings(p);
      expect(lost.length).toBeGreaterThan(0);
      // Requests in flight (≈ 0.1 ms RTT) when the VM paused may be lost too.
      for (const t of lost) {
        expect(t).toBeGreaterThanOrEqual(rec.pause_ns! - ms(1));
        expect(t).toBeLessThan(rec.resume_ns!);
      }
      const inWindow = Math.ceil((rec.resume_ns! - rec.pause_ns!) / p.interval_ns);
      expect(Math.abs(lost.length - inWindow)).toBeLessThanOrEqual(1);
    }
  });

  it('counts as lost what the apps lost, and nothing more with an announce', () => {
    const { rec, summary } = example('live-migration');
    const appLost = summary.apps.reduce((n, a) => n + (a.app === 'ping' ? (a['sent'] as number) - (a['received'] as number) : (a['lost'] as number)), 0);
    expect(rec.packets_lost).toBe(appLost);
    // UDP at 2 Mbit/s of 1000-byte datagrams = 250/s: the downtime’s worth, ±1.
    const udp = summary.apps.find((a) => a.app === 'udp')!;
    expect(Math.abs((udp['lost'] as number) - (rec.downtime_ns * 250) / 1e9)).toBeLessThanOrEqual(1);
    expect(rec.migration_drops).toBe(summary.ports['vm2.eth0']!.drops['migration']);
  });

  it('prints a timeline in the text summary', () => {
    const { fabric } = example('live-migration');
    const text = fabric.renderSummary();
    expect(text).toMatch(/\nmigrations\n {2}vm2 hv1 -> hv2: 2 rounds, \d+ bytes, downtime 151\.\d+ ms, announce both \(15 frames\), \d+ packets lost, reconverged at 2\.370 s/);
    expect(text).toMatch(/vm2 paused for stop-and-copy/);
    expect(text).toMatch(/MAC table tor: tor\.p1 -> tor\.p2 at 2\.370 s/);
  });

  describeWithTools(['tshark'], 'its pcapng', () => {
    it('checks clean with pcap-check.sh', () => {
      const r = spawnSync('bash', ['test/oracles/pcap-check.sh', example('live-migration').pcapng], { encoding: 'utf8' });
      expect(r.stdout).toMatch(/malformed=0 expert_errors=0/);
      expect(r.status).toBe(0);
    });

    it('shows the RARP and GARP announces leaving vm2 at the right times', () => {
      const { pcapng, rec } = example('live-migration');
      const out = execFileSync(
        'tshark',
        ['-r', pcapng, '-Y', '(arp.isgratuitous==1 || eth.type==0x8035) && frame.interface_name=="vm2.eth0"', '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'eth.type'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      const rows = out.trim().split('\n').map((l) => l.split('\t'));
      const at = (type: string) => rows.filter((r) => r[1] === type).map((r) => Math.round((Number(r[0]) * 1e9 - rec.resume_ns!) / 1e6));
      expect(at('0x8035')).toEqual([0, 50, 200, 450, 800]);
      expect(at('0x0806')).toEqual([0, 50, 200, 450, 800]);
    });
  });
});

describe('topologies/live-migration-no-announce.yaml', () => {
  it('blackholes vm2 until the ToR entry ages out, then reconverges', () => {
    const { rec } = example('live-migration-no-announce');
    expect(rec.announce).toMatchObject({ mode: 'none', frames: 0, first_ns: null });
    // The ToR last heard from vm2 just before the pause; it forgets it mac_aging (2 s) later.
    expect(rec.reconverged_ns!).toBeGreaterThan(rec.pause_ns! + seconds(2) - ms(20));
    expect(rec.reconverged_ns!).toBeLessThanOrEqual(rec.pause_ns! + seconds(2));
    expect(rec.tables.find((t) => t.table === 'tor')).toMatchObject({ how: 'aged', old_port: 'tor.p1' });
  });

  it('loses everything sent between the pause and the aging, far more than the downtime', () => {
    const { rec, summary } = example('live-migration-no-announce');
    for (const p of pings(summary)) {
      const lost = lostPings(p);
      for (const t of lost) {
        expect(t).toBeGreaterThanOrEqual(rec.pause_ns! - ms(1));
        expect(t).toBeLessThan(rec.reconverged_ns!);
      }
      const window = Math.ceil((rec.reconverged_ns! - rec.pause_ns!) / p.interval_ns);
      expect(Math.abs(lost.length - window)).toBeLessThanOrEqual(1);
    }
    expect(rec.packets_lost).toBeGreaterThan(10 * example('live-migration').rec.packets_lost);
    // After the switchover the frames died on hv1's dead tap.
    expect(summary.ports['hv1.br0.vm2-eth0']!.drops['migration']).toBeGreaterThan(500);
  });
});

describe('a migration that cannot converge', () => {
  it('is reported as "did not converge after N rounds" and leaves vm2 on hv1 without loss', () => {
    const text = readFileSync('topologies/live-migration.yaml', 'utf8').replace('dirty_rate: 500MiB', 'dirty_rate: 2GiB');
    const { rec, summary, fabric } = run('topologies/live-migration.yaml', text);
    expect(rec).toMatchObject({ status: 'failed', converged: false, rounds: 1, downtime_ns: 0, pause_ns: null, packets_lost: 0, reconverged_ns: null });
    expect(rec.message).toBe('did not converge after 1 round: dirty rate 2048 MiB/s ≥ migration bandwidth 1192.1 MiB/s');
    for (const p of pings(summary)) expect(p.received).toBe(p.sent);
    expect(fabric.ctx.vms.get('vm2')!.host).toBe('hv1');
    expect(fabric.renderSummary()).toMatch(/vm2 hv1 -> hv2: failed — did not converge after 1 round/);
  });
});

describe('announce modes on the real fabric', () => {
  const variant = (edit: (t: string) => string) => run('topologies/live-migration.yaml', edit(readFileSync('topologies/live-migration.yaml', 'utf8')));

  it('garp: only the guest announces (GARP + NA), and that alone moves the tables', () => {
    const { rec } = variant((t) => t.replace('announce: both', 'announce: garp'));
    expect(rec.announce).toMatchObject({ mode: 'garp', rarp: 0, garp: 5, na: 5, guest_requests: 5, warnings: [] });
    expect(rec.reconverged_ns! - rec.resume_ns!).toBeLessThan(ms(1));
  });

  it('garp without GUEST_ANNOUNCE: nothing is sent, as in QEMU, and the summary warns', () => {
    const { rec } = variant((t) => t.replace('announce: both', 'announce: garp').replace('features: [csum, mac, status, ctrl_vq, guest_announce]', 'features: [csum, mac, status, ctrl_vq]'));
    expect(rec.announce).toMatchObject({ mode: 'garp', frames: 0, guest_requests: 0 });
    expect(rec.announce.warnings).toEqual([
      'vm2.eth0: guest did not negotiate GUEST_ANNOUNCE (needs CTRL_VQ), so the guest is never asked to announce; with announce: garp nothing announces it (QEMU would only send RARP)',
    ]);
    expect(rec.reconverged_ns).toBeNull(); // default 300 s aging: stale for the rest of the run
  });

  it('rarp without GUEST_ANNOUNCE: the hypervisor’s RARP alone reconverges', () => {
    const { rec } = variant((t) => t.replace('announce: both', 'announce: rarp').replace('features: [csum, mac, status, ctrl_vq, guest_announce]', 'features: [csum, mac, status, ctrl_vq]'));
    expect(rec.announce).toMatchObject({ mode: 'rarp', frames: 5, rarp: 5, garp: 0 });
    expect(rec.reconverged_ns! - rec.resume_ns!).toBeLessThan(ms(1));
  });
});

describe('migrating back', () => {
  it('keeps each record to its own migration: loss, announces, MAC tables', () => {
    const text = readFileSync('topologies/live-migration.yaml', 'utf8')
      .replace('duration: 4s', 'duration: 7s')
      .replace('count: 380, interval: 10ms', 'count: 680, interval: 10ms')
      .replace('count: 76, interval: 50ms', 'count: 136, interval: 50ms')
      .replace('duration: 3800ms', 'duration: 6800ms')
      .replace('announce: both } }\n', 'announce: both } }\n  - { at: 4s, migrate: { vm: vm2, to: hv1, bandwidth: 10Gbit } }\n');
    const model = loadTopologyText(text, 'back.yaml');
    const fabric = new Fabric(model);
    const summary = fabric.run();
    const [there, back] = summary['migrations'] as MigrationRecord[];
    expect([there!.from, there!.to, back!.from, back!.to]).toEqual(['hv1', 'hv2', 'hv2', 'hv1']);
    const appLost = summary.apps.reduce((n, a) => n + (a.app === 'ping' ? (a['sent'] as number) - (a['received'] as number) : (a['lost'] as number)), 0);
    expect(there!.packets_lost + back!.packets_lost).toBe(appLost);
    expect(Math.abs(there!.packets_lost - back!.packets_lost)).toBeLessThanOrEqual(2);
    expect([there!.announce.frames, back!.announce.frames]).toEqual([15, 15]);
    expect(back!.tables.find((t) => t.table === 'hv1.br0')).toMatchObject({ how: 'moved', old_port: 'hv1.br0.uplink', new_port: 'hv1.br0.vm2-eth0' });
    expect(back!.tables.find((t) => t.table === 'tor')).toMatchObject({ how: 'moved', old_port: 'tor.p2', new_port: 'tor.p1' });
    expect(fabric.ctx.vms.get('vm2')!.host).toBe('hv1');
  });
});

describe('overlapping migrations', () => {
  it('refuses a second migrate of a VM whose migration is in progress, as QEMU does', () => {
    const text = readFileSync('topologies/live-migration.yaml', 'utf8').replace(
      'announce: both } }\n',
      'announce: both } }\n  - { at: 1500ms, migrate: { vm: vm2, to: hv3, bandwidth: 10Gbit } }\n',
    );
    const fabric = new Fabric(loadTopologyText(text, 'overlap.yaml'));
    const summary = fabric.run();
    const [first, second] = summary['migrations'] as MigrationRecord[];
    expect(first).toMatchObject({ status: 'completed', to: 'hv2' });
    expect(second).toMatchObject({ status: 'refused', to: 'hv3', start_ns: ms(1500), converged: false });
    expect(second!.message).toBe('a migration of vm2 to hv2 is already in progress');
    expect(fabric.ctx.vms.get('vm2')!.host).toBe('hv2');
    expect(fabric.renderSummary()).toMatch(/vm2 hv1 -> hv3: refused — a migration of vm2 to hv2 is already in progress/);
  });
});
