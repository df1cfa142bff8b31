import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Announcer,
  announceOffsets,
  announceStepNs,
  checkAnnounceParams,
  classifyAnnounce,
  QEMU_ANNOUNCE_DEFAULTS,
  type AnnounceNic,
} from '../../src/migration/announce.js';
import { Simulation } from '../../src/sim/index.js';
import { ms } from '../../src/sim/time.js';
import { Port, connect } from '../../src/port/port.js';
import { buildArpReply, buildArpRequest, buildGratuitousArp, buildNeighborAdvertisement, buildRarp } from '../../src/wire/build.js';
import { parseIpv4, type Ipv6Words } from '../../src/wire/ip.js';

const MAC = 0x02_00_00_00_00_02;

interface Sent {
  t: number;
  frame: Uint8Array;
}

/** A NIC with a real port wired to a sink; optionally a virtio-like guest announce. */
function fakeNic(
  sim: Simulation,
  opts: { virtio?: boolean; negotiated?: boolean; ackDelayNs?: number; ackHook?: boolean; path?: string; mac?: number } = {},
) {
  const mac = opts.mac ?? MAC;
  const sent: Sent[] = [];
  const sink = new Port('sink', (frame) => sent.push({ t: sim.now, frame }));
  const port = new Port(opts.path ?? 'vm2.eth0', () => {});
  connect(port, sink);
  const acks: Array<() => void> = [];
  const requests: number[] = [];
  const nic: AnnounceNic & { requests: number[] } = { path: opts.path ?? 'vm2.eth0', mac, port, requests };
  if (opts.virtio) {
    nic.requestAnnounce = () => {
      if (opts.negotiated === false) return false;
      requests.push(sim.now);
      // The guest answers with a GARP, then the ACK after ackDelayNs.
      port.send(buildGratuitousArp({ mac, ip: parseIpv4('10.0.0.2') }), { hops: 0 });
      sim.schedule(opts.ackDelayNs ?? 0, () => acks.forEach((cb) => cb()));
      return true;
    };
    if (opts.ackHook !== false) nic.onAnnounceAck = (cb) => acks.push(cb);
  }
  return { nic, sent };
}


describe('QEMU self-announce schedule (net/announce.c)', () => {
  it('puts rounds 0, 50, 200, 450 and 800 ms after resume with the defaults', () => {
    expect(announceOffsets(QEMU_ANNOUNCE_DEFAULTS)).toEqual([0, 50, 200, 450, 800].map(ms));
  });

  it('steps initial + (rounds − remaining − 1) · step, capped at max', () => {
    expect([4, 3, 2, 1].map((r) => announceStepNs(QEMU_ANNOUNCE_DEFAULTS, r))).toEqual([50, 150, 250, 350].map(ms));
    const capped = { initialNs: ms(100), maxNs: ms(150), rounds: 4, stepNs: ms(100) };
    expect(announceOffsets(capped)).toEqual([0, 100, 250, 400].map(ms));
  });

  it('follows custom parameters and sends nothing with zero rounds', () => {
    expect(announceOffsets({ initialNs: ms(10), maxNs: ms(1000), rounds: 4, stepNs: ms(30) })).toEqual([0, 10, 50, 120].map(ms));
    expect(announceOffsets({ ...QEMU_ANNOUNCE_DEFAULTS, rounds: 1 })).toEqual([0]);
    expect(announceOffsets({ ...QEMU_ANNOUNCE_DEFAULTS, rounds: 0 })).toEqual([]);
  });

  it('validates parameters with QEMU’s ranges', () => {
    expect(() => checkAnnounceParams({ ...QEMU_ANNOUNCE_DEFAULTS, stepNs: 0 })).toThrow(/step expects a value between 1 and 10000 ms/);
    expect(() => checkAnnounceParams({ ...QEMU_ANNOUNCE_DEFAULTS, rounds: 1001 })).toThrow(/rounds/);
    expect(() => checkAnnounceParams({ ...QEMU_ANNOUNCE_DEFAULTS, initialNs: ms(100_001) })).toThrow(/initial/);
    expect(() => checkAnnounceParams(QEMU_ANNOUNCE_DEFAULTS)).not.toThrow();
  });
});

describe('Announcer', () => {
  it('sends QEMU’s RARP on every NIC exactly 0, 50, 200, 450, 800 ms after resume (mode rarp)', () => {
    const sim = new Simulation(1);
    const a = fakeNic(sim, { path: 'vm2.eth0', mac: MAC });
    const b = fakeNic(sim, { path: 'vm2.eth1', mac: MAC + 1 });
    sim.scheduleAt(ms(3000), () => new Announcer(sim, [a.nic, b.nic], { mode: 'rarp' }).start());
    sim.run();
    const want = [0, 50, 200, 450, 800].map((x) => ms(3000 + x));
    expect(a.sent.map((s) => s.t)).toEqual(want);
    expect(b.sent.map((s) => s.t)).toEqual(want);
    expect(a.sent.every((s) => classifyAnnounce(s.frame) === 'rarp')).toBe(true);
    expect([...a.sent[0]!.frame]).toEqual([...buildRarp(MAC)]);
  });

  it('sends the exact 60-byte RARP of announce_self_create()', () => {
    const hex = Buffer.from(buildRarp(0x52_54_00_12_34_56)).toString('hex');
    expect(hex).toBe(
      'ffffffffffff' + '525400123456' + '8035' + // broadcast, src, RARP
        '0001' + '0800' + '06' + '04' + '0003' + // Ethernet/IPv4, op 3 (reverse request)
        '525400123456' + '00000000' + '525400123456' + '00000000' + // sender = target = mac, IPs 0
        '00'.repeat(18), // padding to 60
    );
  });

  it('asks a GUEST_ANNOUNCE guest every round, after the RARP, on the same schedule when it ACKs at once (mode both)', () => {
    const sim = new Simulation(1);
    const n = fakeNic(sim, { virtio: true });
    let ann!: Announcer;
    sim.scheduleAt(ms(1000), () => {
      ann = new Announcer(sim, [n.nic], { mode: 'both' });
      ann.start();
    });
    sim.run();
    const offsets = [0, 50, 200, 450, 800].map((x) => ms(1000 + x));
    expect(n.nic.requests).toEqual(offsets);
    const kinds = n.sent.map((s) => [s.t, classifyAnnounce(s.frame)]);
    // At each instant the hypervisor's RARP leaves before the guest's GARP.
    expect(kinds).toEqual(offsets.flatMap((t) => [[t, 'rarp'], [t, 'garp']]));
    const r = ann.result();
    expect(r).toMatchObject({ mode: 'both', frames: 10, rarp: 5, garp: 5, na: 0, guest_requests: 5, first_ns: ms(1000), last_ns: ms(1800) });
  });

  it('paces guest rounds by the ANNOUNCE_ACK, as virtio_net_handle_announce does', () => {
    const sim = new Simulation(1);
    const n = fakeNic(sim, { virtio: true, ackDelayNs: ms(2) });
    sim.schedule(0, () => new Announcer(sim, [n.nic], { mode: 'garp' }).start());
    sim.run();
    // 0; ack 2 → +50 = 52; ack 54 → +150 = 204; ack 206 → +250 = 456; ack 458 → +350 = 808.
    expect(n.nic.requests).toEqual([0, 52, 204, 456, 808].map(ms));
    expect(n.sent.every((s) => classifyAnnounce(s.frame) === 'garp')).toBe(true);
  });

  it('asks only once when the guest never ACKs (the device timer is only re-armed by the ACK)', () => {
    const sim = new Simulation(1);
    const n = fakeNic(sim, { virtio: true, ackDelayNs: ms(1) });
    n.nic.onAnnounceAck = () => {}; // the guest's ACK never completes
    sim.schedule(0, () => new Announcer(sim, [n.nic], { mode: 'garp' }).start());
    sim.run();
    expect(n.nic.requests).toEqual([0]);
  });

  it('assumes an immediate ACK for devices without an ACK hook', () => {
    const sim = new Simulation(1);
    const n = fakeNic(sim, { virtio: true, ackHook: false });
    sim.schedule(0, () => new Announcer(sim, [n.nic], { mode: 'garp' }).start());
    sim.run();
    expect(n.nic.requests).toEqual([0, 50, 200, 450, 800].map(ms));
  });

  it('sends nothing with garp when the guest did not negotiate GUEST_ANNOUNCE, and says so', () => {
    const sim = new Simulation(1);
    const n = fakeNic(sim, { virtio: true, negotiated: false });
    const vf = fakeNic(sim, { path: 'vm2.eth1' });
    let ann!: Announcer;
    sim.schedule(0, () => {
      ann = new Announcer(sim, [n.nic, vf.nic], { mode: 'garp' });
      ann.start();
    });
    sim.run();
    expect(n.sent).toEqual([]);
    expect(vf.sent).toEqual([]);
    const r = ann.result();
    expect(r.frames).toBe(0);
    expect(r.first_ns).toBeNull();
    expect(r.warnings).toHaveLength(2);
    const w = [...r.warnings].sort();
    expect(w[0]).toMatch(/vm2\.eth0: guest did not negotiate GUEST_ANNOUNCE .*nothing announces it/);
    expect(w[1]).toMatch(/vm2\.eth1: not a virtio NIC/);
  });

  it('sends nothing in mode none', () => {
    const sim = new Simulation(1);
    const n = fakeNic(sim, { virtio: true });
    sim.schedule(0, () => new Announcer(sim, [n.nic], { mode: 'none' }).start());
    sim.run();
    expect(n.sent).toEqual([]);
    expect(n.nic.requests).toEqual([]);
  });

  it('stops pending rounds on stop()', () => {
    const sim = new Simulation(1);
    const n = fakeNic(sim, { virtio: true });
    sim.schedule(0, () => {
      const a = new Announcer(sim, [n.nic], { mode: 'both' });
      a.start();
      sim.schedule(ms(100), () => a.stop());
    });
    sim.run();
    expect(n.sent.map((s) => s.t)).toEqual([0, 0, ms(50), ms(50)]);
  });
});

describe('classifyAnnounce', () => {
  const ip = parseIpv4('10.0.0.2');
  it('recognizes RARP, gratuitous ARP requests and replies, and unsolicited NAs', () => {
    expect(classifyAnnounce(buildRarp(MAC))).toBe('rarp');
    expect(classifyAnnounce(buildGratuitousArp({ mac: MAC, ip }))).toBe('garp');
    const target: Ipv6Words = [0xfd000000, 0, 0, 2];
    expect(classifyAnnounce(buildNeighborAdvertisement({ srcMac: MAC, srcIp6: target, targetIp6: target, unsolicited: true }))).toBe('na');
    expect(classifyAnnounce(buildNeighborAdvertisement({ srcMac: MAC, srcIp6: target, targetIp6: target, unsolicited: false }))).toBeNull();
  });

  it('does not take an ordinary ARP request or a unicast reply for an announce', () => {
    expect(classifyAnnounce(buildArpRequest({ srcMac: MAC, srcIp: ip, dstIp: parseIpv4('10.0.0.3') }))).toBeNull();
    expect(classifyAnnounce(buildArpReply({ srcMac: MAC, srcIp: ip, dstMac: MAC + 1, dstIp: parseIpv4('10.0.0.3') }))).toBeNull();
  });

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        const k = classifyAnnounce(b);
        expect(k === null || k === 'rarp' || k === 'garp' || k === 'na').toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
