import { describe, expect, it } from 'vitest';
import { Port, connect, type Frame } from '../../src/port/port.js';
import type { FabricEvent } from '../../src/port/nic.js';
import { Simulation } from '../../src/sim/simulation.js';
import { GuestStack } from '../../src/guest/stack.js';
import { CTRL_ANNOUNCE, CTRL_CLASS, VIRTIO_NET_ERR, VIRTIO_NET_OK, VIRTIO_NET_S_ANNOUNCE } from '../../src/vnic/control.js';
import { defaultVnic } from '../../src/vnic/testing.js';

function guestWithNic(features?: string[]) {
  const sim = new Simulation(1);
  const events: FabricEvent[] = [];
  const nic = defaultVnic({ sim, events: (e) => events.push(e), ...(features ? { features } : {}) });
  const sent: Array<{ t: number; frame: Frame }> = [];
  const peer = new Port('peer', (f) => sent.push({ t: sim.now, frame: f }));
  connect(nic.port, peer);
  const stack = new GuestStack({ name: 'vm1', sim });
  stack.addInterface(nic, { ipv4: '10.0.0.1/24', ipv6: ['fd00::1/64', 'fd00::2/64'] });
  return { sim, nic, sent, events, stack };
}

const ethType = (f: Frame): number => (f[12]! << 8) | f[13]!;

describe('virtio-net guest announce', () => {
  it('sets S_ANNOUNCE; the guest sends a GARP per IPv4 and an NA per IPv6 address, then ACKs', () => {
    const { sim, nic, sent, events } = guestWithNic();
    const completions: Array<{ cls: number; ack: number; status: number; framesBefore: number }> = [];
    nic.onControlComplete((c) => completions.push({ cls: c.cls, ack: c.ack, status: c.status, framesBefore: sent.length }));
    expect(nic.requestAnnounce()).toBe(true);
    expect(nic.status & VIRTIO_NET_S_ANNOUNCE).toBe(VIRTIO_NET_S_ANNOUNCE);
    sim.run();
    expect(sent).toHaveLength(3);
    const garp = sent[0]!.frame;
    expect(ethType(garp)).toBe(0x0806);
    expect([...garp.subarray(0, 6)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect([...garp.subarray(28, 32)]).toEqual([10, 0, 0, 1]); // SPA
    expect([...garp.subarray(38, 42)]).toEqual([10, 0, 0, 1]); // TPA = SPA
    for (const na of sent.slice(1).map((s) => s.frame)) {
      expect(ethType(na)).toBe(0x86dd);
      expect(na[14 + 40]).toBe(136); // ICMPv6 neighbour advertisement
      expect(na[14 + 40 + 4]! & 0x40).toBe(0); // Solicited clear
      expect(na[14 + 40 + 4]! & 0x20).toBe(0x20); // Override set
    }
    // The ACK came after the announcements, and the bit was clear when the buffer was used.
    const ack = completions.find((c) => c.cls === CTRL_CLASS.ANNOUNCE)!;
    expect(ack.ack).toBe(VIRTIO_NET_OK);
    expect(ack.framesBefore).toBe(3);
    expect(ack.status & VIRTIO_NET_S_ANNOUNCE).toBe(0);
    expect(nic.status & VIRTIO_NET_S_ANNOUNCE).toBe(0);
    expect(events.map((e) => e.type)).toEqual(['vnic-announce-request', 'vnic-announce-ack']);
    expect(nic.metrics().device.announce_acks).toBe(1);
  });

  it('answers ANNOUNCE_ACK with ERR when the bit is not set', () => {
    const { nic } = guestWithNic();
    expect(nic.controlCommand(CTRL_CLASS.ANNOUNCE, CTRL_ANNOUNCE.ACK)).toBe(VIRTIO_NET_ERR);
    expect(nic.metrics().device.ctrl_errors).toBe(1);
  });

  it('does nothing and returns false without GUEST_ANNOUNCE', () => {
    const { sim, nic, sent } = guestWithNic(['mac', 'status', 'ctrl_vq']);
    expect(nic.requestAnnounce()).toBe(false);
    expect(nic.status & VIRTIO_NET_S_ANNOUNCE).toBe(0);
    sim.run();
    expect(sent).toHaveLength(0);
  });

  it('returns false when the driver did not acknowledge GUEST_ANNOUNCE', () => {
    const sim = new Simulation(1);
    const nic = defaultVnic({ sim, driverFeatures: ['mac', 'status', 'ctrl_vq'] });
    expect(nic.offered).toContain('guest_announce');
    expect(nic.requestAnnounce()).toBe(false);
  });

  it('runs ACK subscribers after each completed ACK so a host can pace announce rounds', () => {
    const { sim, nic, sent } = guestWithNic();
    let acks = 0;
    const off = nic.onAnnounceAck(() => {
      acks++;
      if (acks < 3) sim.schedule(50_000_000, () => nic.requestAnnounce());
    });
    nic.requestAnnounce();
    sim.run();
    expect(acks).toBe(3);
    expect(sent.map((s) => s.t)).toEqual([0, 0, 0, 50e6, 50e6, 50e6, 100e6, 100e6, 100e6]);
    off();
    nic.requestAnnounce();
    sim.run();
    expect(acks).toBe(3);
  });
});
