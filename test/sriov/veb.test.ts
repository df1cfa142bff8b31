import { describe, expect, it } from 'vitest';
import type { FabricEvent } from '../../src/port/nic.js';
import { Simulation } from '../../src/sim/index.js';
import { makePf, wire, guests, frame, MAC, BCAST, tpidOf, tciOf } from './helpers.js';

const M0 = MAC('02:00:00:00:01:00');
const M1 = MAC('02:00:00:00:01:01');
const M2 = MAC('02:00:00:00:01:02');
const M3 = MAC('02:00:00:00:01:03');
const OUTSIDE = MAC('02:00:00:00:09:09');

/** Four VFs: 0 and 1 untagged, 2 on port VLAN 10 (qos 5), 3 on port VLAN 20. */
function setup(opts: Parameters<typeof makePf>[0] = {}) {
  const events: FabricEvent[] = [];
  const pf = makePf({ events: (e) => events.push(e), ...opts });
  pf.configureVf(0, { mac: M0 });
  pf.configureVf(1, { mac: M1 });
  pf.configureVf(2, { mac: M2, vlan: 10, qos: 5 });
  pf.configureVf(3, { mac: M3, vlan: 20 });
  const w = wire(pf);
  const g = guests(pf);
  return { pf, w, g, events };
}

describe('legacy VEB switching', () => {
  it('switches unicast between VFs inside the NIC without touching the uplink', () => {
    const { pf, w, g } = setup();
    expect(pf.vf(0).transmit(frame(M1, M0))).toBe(true);
    expect(g[1]).toHaveLength(1);
    expect(w.got).toHaveLength(0);
    expect(pf.stats.veb_unicast).toBe(1);
    expect(pf.vfCounters(0)).toMatchObject({ tx_packets: 1, tx_veb: 1, tx_uplink: 0 });
    expect(pf.vfCounters(1)).toMatchObject({ rx_packets: 1, rx_bytes: 64 });
    expect(pf.uplink.counters.tx_packets).toBe(0);
  });

  it('sends unknown unicast out of the uplink only', () => {
    const { pf, w, g } = setup();
    pf.vf(0).transmit(frame(OUTSIDE, M0));
    expect(w.got).toHaveLength(1);
    expect(g.flat()).toHaveLength(0);
    expect(pf.vfCounters(0).tx_uplink).toBe(1);
  });

  it('replicates broadcast to the other VFs of the same VLAN and out of the uplink', () => {
    const { pf, w, g } = setup();
    pf.vf(0).transmit(frame(BCAST, M0, { type: 0x0806 }));
    expect(g.map((x) => x.length)).toEqual([0, 1, 0, 0]);
    expect(w.got).toHaveLength(1);
    expect(pf.vfCounters(1).rx_broadcast).toBe(1);
    expect(pf.stats.veb_flood_copies).toBe(1);
  });

  it('delivers a frame from the uplink to the VF whose MAC matches, and drops unknown unicast', () => {
    const { pf, w, g } = setup();
    w.inject(frame(M1, OUTSIDE));
    w.inject(frame(MAC('02:00:00:00:07:07'), OUTSIDE));
    expect(g.map((x) => x.length)).toEqual([0, 1, 0, 0]);
    expect(pf.uplink.counters.drops['no-vf-match']).toBe(1);
  });
});

describe('port VLANs (VST)', () => {
  it('tags on the uplink with the VLAN and qos as PCP, and the VF never sees the tag', () => {
    const { pf, w, g } = setup();
    const sent = frame(OUTSIDE, M2);
    pf.vf(2).transmit(sent);
    expect(w.got).toHaveLength(1);
    const out = w.got[0]!;
    expect(out.length).toBe(sent.length + 4);
    expect(tpidOf(out)).toBe(0x8100);
    expect(tciOf(out)).toBe((5 << 13) | 10);
    expect(out.subarray(16)).toEqual(sent.subarray(12));
    w.inject(frame(M2, OUTSIDE, { tag: { tpid: 0x8100, tci: 10 } }));
    expect(g[2]).toHaveLength(1);
    expect(tpidOf(g[2]![0]!)).toBe(0x0800);
    expect(g[2]![0]!.length).toBe(60); // the 64-byte tagged frame minus its tag
  });

  it('uses an 802.1ad S-tag when proto is 802.1ad and keeps the guest C-tag inside', () => {
    const { pf, w, g } = setup({ model: 'mlx5' });
    pf.configureVf(3, { vlan: 100, proto: '802.1ad' });
    pf.vf(3).transmit(frame(OUTSIDE, M3, { tag: { tpid: 0x8100, tci: 7 } }));
    const out = w.got[0]!;
    expect([tpidOf(out), tciOf(out) & 0xfff]).toEqual([0x88a8, 100]);
    expect((out[16]! << 8) | out[17]!).toBe(0x8100);
    w.inject(frame(M3, OUTSIDE, { tag: { tpid: 0x88a8, tci: 100 } }));
    w.inject(frame(M3, OUTSIDE, { tag: { tpid: 0x8100, tci: 100 } }));
    expect(g[3]).toHaveLength(1);
  });

  it('isolates VLANs: a VF receives only its VLAN, from the uplink and from other VFs', () => {
    const { pf, w, g } = setup();
    w.inject(frame(BCAST, OUTSIDE, { tag: { tpid: 0x8100, tci: 10 } }));
    expect(g.map((x) => x.length)).toEqual([0, 0, 1, 0]);
    w.inject(frame(BCAST, OUTSIDE));
    expect(g.map((x) => x.length)).toEqual([1, 1, 1, 0]);
    // VF2 (VLAN 10) → VF3's MAC (VLAN 20): not switched, leaves tagged 10 via the uplink.
    pf.vf(2).transmit(frame(M3, M2));
    expect(g[3]).toHaveLength(0);
    expect(tciOf(w.got[0]!) & 0xfff).toBe(10);
    // VF2 broadcast reaches no untagged VF.
    pf.vf(2).transmit(frame(BCAST, M2));
    expect(g.map((x) => x.length)).toEqual([1, 1, 1, 0]);
  });

  it('switches between two VFs of the same port VLAN without tags', () => {
    const { pf, w, g } = setup();
    pf.configureVf(3, { vlan: 10 });
    pf.vf(2).transmit(frame(M3, M2));
    expect(g[3]).toHaveLength(1);
    expect(g[3]![0]!.length).toBe(64);
    expect(w.got).toHaveLength(0);
  });

  it('drops a guest-tagged frame on a VF with an 802.1Q port VLAN', () => {
    const { pf, w } = setup();
    expect(pf.vf(2).transmit(frame(OUTSIDE, M2, { tag: { tpid: 0x8100, tci: 30 } }))).toBe(false);
    expect(pf.vf(2).port.counters.drops['vlan-filter']).toBe(1);
    expect(w.got).toHaveLength(0);
  });

  it('lets a VGT guest use VLANs it registered and tags them towards other VFs', () => {
    const { pf, g } = setup();
    expect(pf.vf(0).guestAddVlan(10)).toEqual({ ok: true });
    pf.vf(0).transmit(frame(M2, M0, { tag: { tpid: 0x8100, tci: 10 } }));
    expect(g[2]).toHaveLength(1);
    expect(tpidOf(g[2]![0]!)).toBe(0x0800);
    pf.vf(2).transmit(frame(M0, M2));
    expect(tpidOf(g[0]![0]!)).toBe(0x8100);
    expect(pf.vf(1).transmit(frame(M2, M1, { tag: { tpid: 0x8100, tci: 10 } }))).toBe(false);
    expect(pf.vfCounters(1).spoofed).toBe(1);
  });
});

describe('spoof checking and trust', () => {
  it('drops frames whose source MAC is not the VF MAC and counts them as spoofed', () => {
    const { pf, w, g, events } = setup();
    expect(pf.vf(0).transmit(frame(M1, MAC('02:de:ad:be:ef:00')))).toBe(false);
    expect(pf.vf(0).transmit(frame(OUTSIDE, MAC('02:de:ad:be:ef:00')))).toBe(false);
    expect(g[1]).toHaveLength(0);
    expect(w.got).toHaveLength(0);
    expect(pf.vfCounters(0)).toMatchObject({ spoofed: 2, tx_packets: 0 });
    expect(events.filter((e) => e.type === 'vf-spoofed')).toHaveLength(1);
  });

  it('passes spoofed source MACs once spoofchk is off', () => {
    const { pf, w } = setup();
    pf.configureVf(0, { spoofchk: false });
    expect(pf.vf(0).transmit(frame(OUTSIDE, MAC('02:de:ad:be:ef:00')))).toBe(true);
    expect(w.got).toHaveLength(1);
  });

  it('refuses a guest MAC change over an admin MAC unless the VF is trusted', () => {
    const { pf, g, events } = setup();
    const NEW = MAC('02:00:00:00:0a:0a');
    const r = pf.vf(1).guestSetMac(NEW);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errno).toBe('EPERM');
    expect(!r.ok && r.message).toContain('not trusted');
    expect(events.some((e) => e.type === 'vf-mac-refused')).toBe(true);
    expect(pf.vf(1).mac).toBe(M1);
    pf.configureVf(1, { trust: true });
    expect(pf.vf(1).guestSetMac(NEW)).toEqual({ ok: true });
    expect(pf.vf(1).mac).toBe(NEW);
    // The VEB follows the new MAC and spoofchk now checks it.
    pf.vf(0).transmit(frame(NEW, M0));
    expect(g[1]).toHaveLength(1);
    expect(pf.vf(1).transmit(frame(M0, NEW))).toBe(true);
    expect(pf.vf(1).transmit(frame(M0, M1))).toBe(false);
  });

  it('lets a guest pick its MAC when the PF set none', () => {
    const pf = makePf();
    expect(pf.vf(0).guestSetMac(MAC('02:00:00:00:0b:0b'))).toEqual({ ok: true });
  });

  it('resets the guest MAC when the admin sets a new one', () => {
    const { pf } = setup();
    pf.configureVf(1, { trust: true });
    pf.vf(1).guestSetMac(MAC('02:00:00:00:0a:0a'));
    pf.configureVf(1, { mac: '02:00:00:00:0c:0c' });
    expect(pf.vf(1).mac).toBe(MAC('02:00:00:00:0c:0c'));
  });

  it('limits an untrusted VF to a few secondary MACs', () => {
    const { pf } = setup();
    let last = pf.vf(0).guestAddMac(MAC('02:00:00:00:20:00'));
    for (let i = 1; i < 20 && last.ok; i++) last = pf.vf(0).guestAddMac(MAC(`02:00:00:00:20:${i.toString(16).padStart(2, '0')}`));
    expect(!last.ok && last.message).toContain('Cannot add more MAC addresses, VF is not trusted');
  });
});

describe('link state', () => {
  it('takes the carrier down with state disable: transmit and receive are dropped', () => {
    const { pf, w, g } = setup();
    pf.configureVf(1, { state: 'disable' });
    expect(pf.vf(1).linkUp).toBe(false);
    expect(pf.vf(1).transmit(frame(M0, M1))).toBe(false);
    pf.vf(0).transmit(frame(M1, M0));
    w.inject(frame(M1, OUTSIDE));
    expect(g[1]).toHaveLength(0);
    expect(g[0]).toHaveLength(0);
    expect(pf.vf(1).port.counters.drops['link-down']).toBe(3);
  });

  it('follows the PF link in auto, while enable keeps VF-to-VF traffic up', () => {
    const { pf, w, g } = setup();
    pf.setLinkUp(false);
    expect(pf.vf(0).linkUp).toBe(false);
    expect(pf.vf(0).transmit(frame(M1, M0))).toBe(false);
    pf.configureVf(0, { state: 'enable' });
    pf.configureVf(1, { state: 'enable' });
    expect(pf.vf(0).transmit(frame(M1, M0))).toBe(true);
    expect(g[1]).toHaveLength(1);
    pf.vf(0).transmit(frame(OUTSIDE, M0));
    expect(w.got).toHaveLength(0);
    expect(pf.uplink.counters.drops['link-down']).toBe(1);
  });
});

describe('VEPA', () => {
  it('sends VF-to-VF traffic through the adjacent switch, which hairpins it back', () => {
    const pf = makePf({ hwmode: 'vepa', sim: new Simulation(1) });
    pf.configureVf(0, { mac: M0 });
    pf.configureVf(1, { mac: M1 });
    const g = guests(pf);
    const reflected: Uint8Array[] = [];
    const w = wire(pf);
    pf.vf(0).transmit(frame(M1, M0));
    expect(g[1]).toHaveLength(0);
    expect(w.got).toHaveLength(1);
    for (const f of w.got) reflected.push(f);
    for (const f of reflected) w.inject(f); // a reflective relay (802.1Qbg hairpin)
    expect(g[1]).toHaveLength(1);
    pf.vf(0).transmit(frame(BCAST, M0));
    w.inject(w.got[1]!);
    expect(g[0]).toHaveLength(0); // pruned: carries VF0's own source MAC
    expect(g[1]).toHaveLength(2);
    expect(pf.stats.vepa_pruned).toBe(1);
  });

  it('is refused on NICs without VEPA support', () => {
    expect(() => makePf({ model: 'igb', hwmode: 'vepa' })).toThrow(/does not support hwmode vepa/);
  });
});
