/**
 * NBD over vfab's simulated TCP: two guest TCP/IP stacks (virtio NICs joined by a link) carry
 * vfab's client and server, as the fabric will carry a VM disk to a storage host on port 10809.
 * Random 4 KiB I/O at iodepth 32: data is exact, results are deterministic, a server-side service
 * time shows in the latency, loss only slows it down, and a cable pulled mid-run fails the
 * requests in flight once TCP gives up, without crashing.
 */
import { describe, expect, it } from 'vitest';
import { createImage, openImage } from '../../src/block/api.js';
import { MemoryProvider } from '../../src/block/chain.js';
import { GuestStack } from '../../src/guest/stack.js';
import { Link } from '../../src/link/link.js';
import { chainImage, NBD_PORT, nbdClientOnTcp, nbdServerOnTcp, type NbdClient, type NbdReply } from '../../src/nbd/index.js';
import { Simulation } from '../../src/sim/simulation.js';
import { VirtioNet } from '../../src/vnic/device.js';

const MiB = 1 << 20;

interface Setup {
  sim: Simulation;
  link: Link;
  client: NbdClient;
  ready: () => boolean;
}

function world(opts: { seed?: number; loss?: number; serviceNs?: number } = {}): Setup {
  const sim = new Simulation(opts.seed ?? 1);
  const na = new VirtioNet({ path: 'hv1.mgmt', sim, mac: 0x020000000001 });
  const nb = new VirtioNet({ path: 'st1.mgmt', sim, mac: 0x020000000002 });
  const link = new Link({ sim, name: 'l0', a: na.port, b: nb.port, bandwidthBps: 10e9, delayNs: 20_000, queueFrames: 1000, ...(opts.loss ? { loss: opts.loss } : {}) });
  const a = new GuestStack({ name: 'hv1', sim });
  const b = new GuestStack({ name: 'st1', sim });
  a.addInterface(na, { ipv4: '10.0.0.1/24' });
  b.addInterface(nb, { ipv4: '10.0.0.2/24' });
  const p = new MemoryProvider();
  createImage('vol1', { size: 64 * MiB, format: 'raw' }, p);
  const image = chainImage(openImage('vol1', { format: 'raw' }, p));
  const service = opts.serviceNs;
  b.tcp.listen(NBD_PORT, (c) => {
    nbdServerOnTcp(c, { exports: [{ name: 'vol1', image }], ...(service !== undefined ? { schedule: (_r, run) => void sim.schedule(service, run) } : {}) });
  });
  let ok = false;
  const client = nbdClientOnTcp(a.tcp.connect(0x0a000002, NBD_PORT), { exportName: 'vol1', onReady: () => (ok = true) });
  return { sim, link, client, ready: () => ok };
}

/** Keeps `depth` random 4 KiB I/Os in flight until `total` completed; records each completion. */
function randomIo(s: Setup, total: number, depth: number, writes: boolean) {
  const prng = s.sim.prng.fork('io');
  const log: { t: number; off: number; err: number; first?: number }[] = [];
  let issued = 0;
  const issue = (): void => {
    if (issued >= total) return;
    issued++;
    const off = prng.int(16384) * 4096;
    const t0 = s.sim.now;
    const done = (r: NbdReply): void => {
      log.push({ t: s.sim.now - t0, off, err: r.error, ...(r.data ? { first: r.data[0]! } : {}) });
      if (r.error === 0) issue();
    };
    if (writes) s.client.write(off, new Uint8Array(4096).fill((off / 4096) & 0xff), done);
    else s.client.read(off, 4096, done);
  };
  return {
    log,
    start: () => {
      for (let i = 0; i < depth; i++) issue();
    },
  };
}

describe('NBD over simulated TCP', () => {
  it('handshakes on port 10809 and moves exact data at iodepth 32, the same way every run', () => {
    const runOnce = () => {
      const s = world();
      s.sim.run({ untilNs: 5_000_000 });
      expect(s.ready()).toBe(true);
      const w = randomIo(s, 500, 32, true);
      w.start();
      s.sim.run({ untilNs: 200_000_000 });
      expect(w.log).toHaveLength(500);
      expect(w.log.every((l) => l.err === 0)).toBe(true);
      const r = randomIo(s, 500, 32, false);
      r.start();
      s.sim.run({ untilNs: 400_000_000 });
      expect(r.log).toHaveLength(500);
      // Every read sees what the last write to its block put there (or zeros if none).
      const written = new Map(w.log.map((l) => [l.off, (l.off / 4096) & 0xff]));
      for (const l of r.log) expect(l.first).toBe(written.get(l.off) ?? 0);
      return [...w.log, ...r.log].map((l) => `${l.t}:${l.off}`).join(',');
    };
    expect(runOnce()).toBe(runOnce());
  });

  it('a storage service time adds to every I/O, network round trip on top', () => {
    const fast = world();
    const slow = world({ serviceNs: 200_000 });
    for (const s of [fast, slow]) s.sim.run({ untilNs: 5_000_000 });
    const a = randomIo(fast, 64, 1, false);
    const b = randomIo(slow, 64, 1, false);
    a.start();
    b.start();
    fast.sim.run({ untilNs: 100_000_000 });
    slow.sim.run({ untilNs: 100_000_000 });
    const mean = (l: { t: number }[]) => l.reduce((s, x) => s + x.t, 0) / l.length;
    // One round trip is at least 2 x 20 us of link delay.
    expect(mean(a.log)).toBeGreaterThanOrEqual(40_000);
    expect(mean(b.log) - mean(a.log)).toBeGreaterThanOrEqual(200_000);
    expect(mean(b.log) - mean(a.log)).toBeLessThan(210_000);
  });

  it('1 % frame loss: TCP recovers, every I/O completes correctly', () => {
    const s = world({ loss: 0.01, seed: 3 });
    s.sim.run({ untilNs: 50_000_000 });
    expect(s.ready()).toBe(true);
    const w = randomIo(s, 300, 32, true);
    w.start();
    s.sim.run({ untilNs: 10_000_000_000 });
    expect(w.log).toHaveLength(300);
    expect(w.log.every((l) => l.err === 0)).toBe(true);
  });

  it('a cable pulled mid-run fails the I/Os in flight once TCP gives up; nothing throws', () => {
    const s = world();
    s.sim.run({ untilNs: 5_000_000 });
    const r = randomIo(s, 10_000, 8, false);
    r.start();
    s.sim.run({ untilNs: 10_000_000 });
    const before = r.log.length;
    expect(before).toBeGreaterThan(0);
    s.link.setUp(false);
    s.sim.run({ untilNs: 3_600_000_000_000 });
    const failed = r.log.filter((l) => l.err !== 0);
    expect(failed.length).toBe(8);
    expect(s.client.closed).toBe(true);
  });
});
