/**
 * virtio-net metrics: one counter set per device and one per virtqueue.
 *
 * Example (`vnic.metrics()`):
 * ```json
 * { "path": "vm1.eth0", "mac": "02:00:00:00:00:01", "mtu": 1500, "features": ["csum", …],
 *   "queue_pairs": { "max": 2, "active": 2 }, "status": { "link_up": true, "announce": false },
 *   "paused": false,
 *   "device": { "rx_packets": 5, "rx_bytes": 490, "tx_packets": 5, "tx_bytes": 490,
 *               "drops": { "no-rx-buffer": 1 }, "config_interrupts": 1, "ctrl_commands": 4,
 *               "ctrl_errors": 0, "announce_requests": 1, "announce_acks": 1 },
 *   "queues": [ { "name": "rx0", "index": 0, "size": 256, "outstanding": 256, "packets": 5, … } ] }
 * ```
 * `device.rx_*`/`tx_*` are the wire port's counters (what reached / left the NIC); per-queue
 * `packets`/`bytes` count what the queue completed (Linux ethtool `rx_queue_N_packets` style), so
 * the rx queues sum to `device.rx_packets` minus the rx drops.
 */
import type { PortCounters } from '../port/port.js';
import { VIRTIO_NET_S_ANNOUNCE, VIRTIO_NET_S_LINK_UP } from './control.js';
import type { FeatureName } from './features.js';
import type { Virtqueue } from './virtqueue.js';

export interface QueueMetrics {
  name: string;
  index: number;
  size: number;
  /** Chains available to the device right now (posted rx buffers / queued tx frames / ctrl). */
  outstanding: number;
  peak_outstanding: number;
  packets: number;
  bytes: number;
  used_buffers: number;
  drops: Record<string, number>;
}

export interface VnicMetrics {
  path: string;
  mac: string;
  mtu: number;
  features: FeatureName[];
  queue_pairs: { max: number; active: number };
  status: { link_up: boolean; announce: boolean };
  paused: boolean;
  device: {
    rx_packets: number;
    rx_bytes: number;
    tx_packets: number;
    tx_bytes: number;
    drops: Record<string, number>;
    config_interrupts: number;
    ctrl_commands: number;
    ctrl_errors: number;
    announce_requests: number;
    announce_acks: number;
  };
  queues: QueueMetrics[];
}

export interface MetricsInput {
  path: string;
  mac: string;
  mtu: number;
  negotiated: readonly FeatureName[];
  maxPairs: number;
  activePairs: number;
  status: number;
  paused: boolean;
  port: PortCounters;
  stats: { config_interrupts: number; ctrl_commands: number; ctrl_errors: number; announce_requests: number; announce_acks: number };
  queues: readonly Virtqueue[];
}

export function buildMetrics(m: MetricsInput): VnicMetrics {
  return {
    path: m.path,
    mac: m.mac,
    mtu: m.mtu,
    features: [...m.negotiated],
    queue_pairs: { max: m.maxPairs, active: m.activePairs },
    status: { link_up: (m.status & VIRTIO_NET_S_LINK_UP) !== 0, announce: (m.status & VIRTIO_NET_S_ANNOUNCE) !== 0 },
    paused: m.paused,
    device: {
      rx_packets: m.port.rx_packets,
      rx_bytes: m.port.rx_bytes,
      tx_packets: m.port.tx_packets,
      tx_bytes: m.port.tx_bytes,
      drops: { ...m.port.drops },
      ...m.stats,
    },
    queues: m.queues.map((q) => ({
      name: q.name,
      index: q.index,
      size: q.size,
      outstanding: q.outstanding,
      peak_outstanding: q.counters.peak_outstanding,
      packets: q.counters.packets,
      bytes: q.counters.bytes,
      used_buffers: q.counters.used_buffers,
      drops: { ...q.counters.drops },
    })),
  };
}

/** `aa:bb:cc:dd:ee:ff` for a 48-bit MAC (private helper so vnic does not depend on wire). */
export function formatMacAddr(mac: number): string {
  const parts: string[] = [];
  for (let i = 5; i >= 0; i--) parts.push((Math.floor(mac / 2 ** (8 * i)) & 0xff).toString(16).padStart(2, '0'));
  return parts.join(':');
}
