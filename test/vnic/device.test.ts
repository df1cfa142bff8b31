import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UserError } from '../../src/errors.js';
import { Port, connect, type Frame } from '../../src/port/port.js';
import { Simulation } from '../../src/sim/simulation.js';
import { buildArpRequest, buildUdp } from '../../src/wire/build.js';
import {
  CTRL_CLASS, CTRL_MAC, CTRL_MQ, CTRL_RX, CTRL_VLAN, VIRTIO_NET_ERR, VIRTIO_NET_OK, VIRTIO_NET_S_LINK_UP, vqPairsSetData,
} from '../../src/vnic/control.js';
import { symmetricFlowHash } from '../../src/vnic/flow-hash.js';
import { defaultVnic } from '../../src/vnic/testing.js';
import type { VirtioNet } from '../../src/vnic/device.js';

const MAC = 0x020000000001;
const PEER_MAC = 0x020000000002;

/** Connects `nic` to a peer port that records what the NIC sends; returns the peer and the log. */
function wire(nic: VirtioNet): { peer: Port; sent: Frame[] } {
  const sent: Frame[] = [];
  const peer = new Port('peer', (f) => sent.push(f));
  connect(nic.port, peer);
  return { peer, sent };
}

function udpTo(mac: number, srcPort: number, dstPort = 5001, srcIp = 0x0a000002, dstIp = 0x0a000001): Frame {
  return buildUdp({ srcMac: PEER_MAC, dstMac: mac, srcIp, dstIp, srcPort, dstPort, payloadLen: 100 });
}

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error('expected a UserError');
}

describe('virtio-net device configuration', () => {
  it('accepts power-of-two queue sizes up to 32768 and rejects others with the field named', () => {
    for (const size of [1, 2, 64, 256, 1024, 32768]) expect(defaultVnic({ queueSize: size }).queueSize).toBe(size);
    for (const size of [0, 3, 100, 255, 65536, 1.5, -2]) {
      const e = userError(() => defaultVnic({ queueSize: size }));
      expect(e.code).toBe('VNIC_QUEUE_SIZE');
      expect(e.where).toBe('vm1.eth0.queue_size');
    }
  });

  it('rejects an MTU outside 68..65535, needs the MTU feature for another MTU, and keeps 1500 when the driver declines it', () => {
    expect(userError(() => defaultVnic({ mtu: 67 })).message).toBe('MTU 67 is out of range [68, 65535]');
    expect(userError(() => defaultVnic({ mtu: 65536 })).code).toBe('VNIC_MTU');
    expect(defaultVnic({ mtu: 9000 }).mtu).toBe(9000);
    expect(userError(() => defaultVnic({ mtu: 9000, features: ['mac', 'status'] })).code).toBe('VNIC_MTU_FEATURE');
    expect(defaultVnic({ mtu: 9000, features: ['mac', 'mtu'], driverFeatures: ['mac'] }).mtu).toBe(1500);
    expect(defaultVnic({ mtu: 1500 }).offered).not.toContain('mtu');
  });

  it('rejects a multicast or out-of-range MAC', () => {
    expect(userError(() => defaultVnic({ mac: 0x010000000001 })).code).toBe('VNIC_MAC');
    expect(userError(() => defaultVnic({ mac: 2 ** 48 })).where).toBe('vm1.eth0.mac');
  });

  it('needs mq for more than one queue pair', () => {
    const e = userError(() => defaultVnic({ queuePairs: 2, features: ['mac', 'ctrl_vq'] }));
    expect(e.code).toBe('VNIC_QUEUE_PAIRS');
    expect(e.message).toContain("'mq'");
  });

  it('lays out queues rx0, tx0, …, ctrl as the spec says', () => {
    const mq = defaultVnic({ queuePairs: 3 });
    expect(mq.queues.map((q) => `${q.index}:${q.name}`)).toEqual(['0:rx0', '1:tx0', '2:rx1', '3:tx1', '4:rx2', '5:tx2', '6:ctrl']);
    expect(mq.queues.at(-1)!.size).toBe(64);
  });

  it('exposes no control queue without CTRL_VQ (unlike QEMU issue #151)', () => {
    const nic = defaultVnic({ features: ['mac', 'status'] });
    expect(nic.queues.map((q) => q.name)).toEqual(['rx0', 'tx0']);
    expect(nic.controlCommand(CTRL_CLASS.MQ, CTRL_MQ.VQ_PAIRS_SET, vqPairsSetData(1))).toBe(VIRTIO_NET_ERR);
  });

  it('writes the config space little-endian: mac, status, max pairs, mtu', () => {
    const cfg = defaultVnic({ queuePairs: 4, mtu: 9000 }).configSpace();
    expect([...cfg.subarray(0, 6)]).toEqual([2, 0, 0, 0, 0, 1]);
    expect(cfg[6]! | (cfg[7]! << 8)).toBe(VIRTIO_NET_S_LINK_UP);
    expect(cfg[8]! | (cfg[9]! << 8)).toBe(4);
    expect(cfg[10]! | (cfg[11]! << 8)).toBe(9000);
  });
});

describe('virtio-net receive path', () => {
  it('drops frames as no-rx-buffer when the guest has posted no buffers', () => {
    const nic = defaultVnic({ rxBuffersPosted: 2 });
    const got: Frame[] = [];
    nic.setReceiver((f) => got.push(f));
    nic.setRxRefill(false);
    const { peer } = wire(nic);
    for (let i = 0; i < 5; i++) peer.send(udpTo(MAC, 1000 + i), { hops: 0 });
    expect(got).toHaveLength(2);
    expect(nic.port.counters.drops['no-rx-buffer']).toBe(3);
    const m = nic.metrics();
    expect(m.queues[0]!.drops['no-rx-buffer']).toBe(3);
    expect(m.queues[0]!.packets).toBe(2);
    expect(m.device.rx_packets).toBe(5);
    // Posting buffers again lets frames through.
    expect(nic.postRxBuffers(0, 1)).toBe(1);
    peer.send(udpTo(MAC, 2000), { hops: 0 });
    expect(got).toHaveLength(3);
  });

  it('refills rx buffers after the configured delay, dropping what arrives before', () => {
    const sim = new Simulation(1);
    const nic = defaultVnic({ sim, queueSize: 4, rxRefillDelayNs: 1000 });
    let got = 0;
    nic.setReceiver(() => got++);
    const { peer } = wire(nic);
    for (let i = 0; i < 6; i++) peer.send(udpTo(MAC, 1000 + i), { hops: 0 });
    expect(got).toBe(4);
    expect(nic.port.counters.drops['no-rx-buffer']).toBe(2);
    sim.run({ untilNs: 1000 });
    expect(nic.queues[0]!.outstanding).toBe(4);
    peer.send(udpTo(MAC, 3000), { hops: 0 });
    expect(got).toBe(5);
  });

  it('uses several mergeable buffers for a frame larger than one buffer', () => {
    const nic = defaultVnic({ mtu: 9000, rxBufferBytes: 1536 });
    nic.setReceiver(() => undefined);
    const { peer } = wire(nic);
    const big = buildUdp({ srcMac: PEER_MAC, dstMac: MAC, srcIp: 1, dstIp: 2, srcPort: 1, dstPort: 2, payloadLen: 4000 });
    nic.setRxRefill(false);
    peer.send(big, { hops: 0 });
    expect(nic.metrics().queues[0]!.used_buffers).toBe(Math.ceil((big.length + 12) / 1536));
  });

  it('filters unicast frames for other MACs once the driver turned promiscuous mode off', () => {
    const nic = defaultVnic();
    let got = 0;
    nic.setReceiver(() => got++);
    const { peer } = wire(nic);
    peer.send(udpTo(0x02000000ffff, 1), { hops: 0 });
    peer.send(udpTo(MAC, 1), { hops: 0 });
    peer.send(buildArpRequest({ srcMac: PEER_MAC, srcIp: 1, dstIp: 2 }), { hops: 0 });
    expect(got).toBe(2);
    expect(nic.port.counters.drops['rx-filter']).toBe(1);
    // Without CTRL_RX the device stays promiscuous (QEMU's reset state).
    const promisc = defaultVnic({ features: ['mac', 'status'] });
    let got2 = 0;
    promisc.setReceiver(() => got2++);
    wire(promisc).peer.send(udpTo(0x02000000ffff, 1), { hops: 0 });
    expect(got2).toBe(1);
  });

  it('drops VLAN-tagged frames for VLANs the driver did not add when CTRL_VLAN is negotiated', () => {
    const nic = defaultVnic();
    let got = 0;
    nic.setReceiver(() => got++);
    const { peer } = wire(nic);
    const untagged = udpTo(MAC, 1);
    const tagged = new Uint8Array(untagged.length + 4);
    tagged.set(untagged.subarray(0, 12));
    tagged.set([0x81, 0x00, 0x00, 10], 12);
    tagged.set(untagged.subarray(12), 16);
    peer.send(tagged, { hops: 0 });
    expect(nic.port.counters.drops['vlan-filter']).toBe(1);
    expect(nic.controlCommand(CTRL_CLASS.VLAN, CTRL_VLAN.ADD, new Uint8Array([10, 0]))).toBe(VIRTIO_NET_OK);
    peer.send(tagged, { hops: 0 });
    expect(got).toBe(1);
  });
});

describe('virtio-net transmit path', () => {
  it('sends guest frames out of its port and counts them on the tx queue', () => {
    const nic = defaultVnic();
    const { sent } = wire(nic);
    expect(nic.transmit(udpTo(PEER_MAC, 1))).toBe(true);
    expect(sent).toHaveLength(1);
    expect(nic.metrics().queues[1]!.packets).toBe(1);
    expect(nic.port.counters.tx_packets).toBe(1);
  });

  it('drops transmits as tx-queue-full when the ring is full', () => {
    const sim = new Simulation(1);
    const nic = defaultVnic({ sim, queueSize: 4, txServiceNs: 1000 });
    const { sent } = wire(nic);
    const results = Array.from({ length: 6 }, (_, i) => nic.transmit(udpTo(PEER_MAC, i)));
    expect(results).toEqual([true, true, true, true, false, false]);
    expect(nic.port.counters.drops['tx-queue-full']).toBe(2);
    sim.run();
    expect(sent).toHaveLength(4);
    expect(sim.now).toBe(4000);
    expect(nic.metrics().queues[1]!.peak_outstanding).toBe(4);
  });
});

describe('virtio-net multiqueue', () => {
  it('uses only pair 0 until the driver sets the number of queue pairs', () => {
    const nic = defaultVnic({ queuePairs: 4, guestQueuePairs: 1 });
    expect(nic.activePairs).toBe(1);
    nic.setReceiver(() => undefined);
    const { peer } = wire(nic);
    for (let i = 0; i < 32; i++) peer.send(udpTo(MAC, 1000 + i), { hops: 0 });
    expect(nic.metrics().queues.filter((q) => q.name.startsWith('rx')).map((q) => q.packets)).toEqual([32, 0, 0, 0]);
    expect(nic.controlCommand(CTRL_CLASS.MQ, CTRL_MQ.VQ_PAIRS_SET, vqPairsSetData(4))).toBe(VIRTIO_NET_OK);
    expect(nic.activePairs).toBe(4);
  });

  it('rejects VQ_PAIRS_SET outside 1..max_virtqueue_pairs', () => {
    const nic = defaultVnic({ queuePairs: 4 });
    expect(nic.controlCommand(CTRL_CLASS.MQ, CTRL_MQ.VQ_PAIRS_SET, vqPairsSetData(0))).toBe(VIRTIO_NET_ERR);
    expect(nic.controlCommand(CTRL_CLASS.MQ, CTRL_MQ.VQ_PAIRS_SET, vqPairsSetData(5))).toBe(VIRTIO_NET_ERR);
    expect(nic.activePairs).toBe(4);
  });

  it('spreads many flows over all active rx queues', () => {
    const nic = defaultVnic({ queuePairs: 4 });
    nic.setReceiver(() => undefined);
    const { peer } = wire(nic);
    for (let i = 0; i < 400; i++) peer.send(udpTo(MAC, 1000 + i), { hops: 0 });
    const counts = nic.metrics().queues.filter((q) => q.name.startsWith('rx')).map((q) => q.packets);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(400);
    for (const c of counts) expect(c).toBeGreaterThan(50);
  });

  it('keeps a flow on one queue, and both directions of a flow on the same pair', () => {
    const nic = defaultVnic({ queuePairs: 8 });
    nic.setReceiver(() => undefined);
    const { peer } = wire(nic);
    for (let i = 0; i < 10; i++) peer.send(udpTo(MAC, 4242), { hops: 0 });
    const rx = nic.metrics().queues.filter((q) => q.name.startsWith('rx'));
    expect(rx.filter((q) => q.packets > 0)).toHaveLength(1);
    const rxPair = rx.findIndex((q) => q.packets === 10);
    // The reverse direction leaves on the tx queue of the same pair.
    nic.transmit(buildUdp({ srcMac: MAC, dstMac: PEER_MAC, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 5001, dstPort: 4242, payloadLen: 100 }));
    const tx = nic.metrics().queues.filter((q) => q.name.startsWith('tx'));
    expect(tx.findIndex((q) => q.packets === 1)).toBe(rxPair);
  });

  it('hashes symmetrically and never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        const h = symmetricFlowHash(bytes);
        return Number.isInteger(h) && h >= 0 && h < 2 ** 32;
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), (a, b, pa, pb) => {
        const f1 = buildUdp({ srcMac: 1, dstMac: 2, srcIp: a, dstIp: b, srcPort: pa, dstPort: pb, payloadLen: 0 });
        const f2 = buildUdp({ srcMac: 2, dstMac: 1, srcIp: b, dstIp: a, srcPort: pb, dstPort: pa, payloadLen: 0 });
        return symmetricFlowHash(f1) === symmetricFlowHash(f2);
      }),
    );
  });
});

describe('virtio-net link and pause', () => {
  it('drops both ways while the link is down and tells the guest through STATUS', () => {
    const sim = new Simulation(1);
    const nic = defaultVnic({ sim });
    let got = 0;
    nic.setReceiver(() => got++);
    const { peer, sent } = wire(nic);
    nic.setLinkUp(false);
    expect(nic.status & VIRTIO_NET_S_LINK_UP).toBe(0);
    sim.run();
    expect(nic.linkUp).toBe(false);
    expect(nic.transmit(udpTo(PEER_MAC, 1))).toBe(false);
    peer.send(udpTo(MAC, 1), { hops: 0 });
    expect(got).toBe(0);
    expect(sent).toHaveLength(0);
    expect(nic.port.counters.drops['link-down']).toBe(2);
    nic.setLinkUp(true);
    sim.run();
    expect(nic.linkUp).toBe(true);
    peer.send(udpTo(MAC, 1), { hops: 0 });
    expect(got).toBe(1);
    expect(nic.metrics().device.config_interrupts).toBe(2);
  });

  it('drops both ways as migration while paused', () => {
    const nic = defaultVnic();
    let got = 0;
    nic.setReceiver(() => got++);
    const { peer, sent } = wire(nic);
    nic.pause();
    expect(nic.transmit(udpTo(PEER_MAC, 1))).toBe(false);
    peer.send(udpTo(MAC, 1), { hops: 0 });
    expect(nic.port.counters.drops['migration']).toBe(2);
    nic.resume();
    nic.transmit(udpTo(PEER_MAC, 1));
    peer.send(udpTo(MAC, 1), { hops: 0 });
    expect([got, sent.length]).toEqual([1, 1]);
  });
});

describe('virtio-net control queue', () => {
  it('changes the MAC with MAC_ADDR_SET only when CTRL_MAC_ADDR was negotiated', () => {
    const nic = defaultVnic();
    let got = 0;
    nic.setReceiver(() => got++);
    const { peer } = wire(nic);
    expect(nic.controlCommand(CTRL_CLASS.MAC, CTRL_MAC.ADDR_SET, new Uint8Array([2, 0, 0, 0, 0xbe, 0xef]))).toBe(VIRTIO_NET_OK);
    expect(nic.mac).toBe(0x02000000beef);
    peer.send(udpTo(0x02000000beef, 1), { hops: 0 });
    peer.send(udpTo(MAC, 1), { hops: 0 });
    expect(got).toBe(1);
    const plain = defaultVnic({ features: ['mac', 'status', 'ctrl_vq', 'ctrl_rx'] });
    expect(plain.controlCommand(CTRL_CLASS.MAC, CTRL_MAC.ADDR_SET, new Uint8Array(6))).toBe(VIRTIO_NET_ERR);
  });

  it('accepts extra unicast MACs from MAC_TABLE_SET and rejects a malformed table', () => {
    const nic = defaultVnic();
    let got = 0;
    nic.setReceiver(() => got++);
    const { peer } = wire(nic);
    // 1 unicast entry (02:00:00:00:00:77), 0 multicast entries.
    const table = new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0, 0, 0x77, 0, 0, 0, 0]);
    expect(nic.controlCommand(CTRL_CLASS.MAC, CTRL_MAC.TABLE_SET, table)).toBe(VIRTIO_NET_OK);
    peer.send(udpTo(0x020000000077, 1), { hops: 0 });
    expect(got).toBe(1);
    expect(nic.controlCommand(CTRL_CLASS.MAC, CTRL_MAC.TABLE_SET, table.subarray(0, 9))).toBe(VIRTIO_NET_ERR);
  });

  it('needs CTRL_RX_EXTRA for NOBCAST, which then drops broadcasts', () => {
    const nic = defaultVnic();
    let got = 0;
    nic.setReceiver(() => got++);
    const { peer } = wire(nic);
    expect(nic.controlCommand(CTRL_CLASS.RX, CTRL_RX.NOBCAST, new Uint8Array([1]))).toBe(VIRTIO_NET_OK);
    peer.send(buildArpRequest({ srcMac: PEER_MAC, srcIp: 1, dstIp: 2 }), { hops: 0 });
    expect(got).toBe(0);
    const basic = defaultVnic({ features: ['mac', 'status', 'ctrl_vq', 'ctrl_rx'] });
    expect(basic.controlCommand(CTRL_CLASS.RX, CTRL_RX.NOBCAST, new Uint8Array([1]))).toBe(VIRTIO_NET_ERR);
    expect(basic.controlCommand(CTRL_CLASS.RX, CTRL_RX.PROMISC, new Uint8Array([1]))).toBe(VIRTIO_NET_OK);
  });

  it('answers unknown classes with ERR and counts the errors', () => {
    const nic = defaultVnic();
    const before = nic.metrics().device.ctrl_errors;
    expect(nic.controlCommand(42, 0)).toBe(VIRTIO_NET_ERR);
    expect(nic.metrics().device.ctrl_errors).toBe(before + 1);
    expect(nic.metrics().queues.at(-1)!.name).toBe('ctrl');
  });

  it('keeps the link up for the guest when STATUS was not negotiated', () => {
    const sim = new Simulation(1);
    const nic = defaultVnic({ sim, features: ['mac'] });
    nic.setLinkUp(false);
    sim.run();
    expect(nic.linkUp).toBe(true);
    expect(nic.transmit(udpTo(PEER_MAC, 1))).toBe(false);
  });
});
