/**
 * A UDP receiver that counts what arrives, per flow (source address and port), like an
 * `iperf -s -u` server: packets, bytes, loss and reordering by sequence number, one-way latency and
 * RFC 3550 interarrival jitter.
 *
 * vfab's UDP CBR sender (`apps.ts`) writes a 32-bit sequence number in the first 4 payload bytes
 * and the send time (64-bit ns) in the next 8. Loss accounting follows iperf2's server: a sequence
 * above the expected one counts the gap as lost; a sequence below it is out of order and takes one
 * back off the loss count. Memory per flow is constant.
 */
export interface UdpFlowStats {
  src_ip: number;
  src_port: number;
  received_packets: number;
  received_bytes: number;
  /** Gaps in the sequence (iperf2-style; trailing losses are only visible to the sender). */
  lost: number;
  out_of_order: number;
  first_ns: number;
  last_ns: number;
  latency_min_ns: number | null;
  latency_avg_ns: number | null;
  latency_max_ns: number | null;
  /** RFC 3550 §6.4.1 interarrival jitter estimate. */
  jitter_ns: number;
}

/**
 * Received bytes per fixed interval (`interval_ns`, from simulated time 0), for throughput over
 * time in the run report. Bounded: at most `UDP_SERIES_MAX_BINS` intervals; later arrivals fold
 * into the last one.
 */
export interface UdpRxSeries {
  interval_ns: number;
  bytes: number[];
}

export const UDP_SERIES_INTERVAL_NS = 100_000_000;
export const UDP_SERIES_MAX_BINS = 36_000;

interface FlowState extends UdpFlowStats {
  bins: number[];
  nextSeq: number;
  latencySum: number;
  latencyCount: number;
  lastTransit: number | null;
}

export interface UdpSinkTotals {
  port: number;
  received_packets: number;
  received_bytes: number;
  lost: number;
  out_of_order: number;
  flows: UdpFlowStats[];
}

export class UdpSink {
  private flows = new Map<string, FlowState>();

  constructor(readonly port: number) {}

  /** Called by the stack for each datagram to `port` (payload = UDP payload). */
  deliver(srcIp: number, srcPort: number, payload: Uint8Array, nowNs: number): void {
    const key = `${srcIp}:${srcPort}`;
    let f = this.flows.get(key);
    if (f === undefined) {
      f = {
        src_ip: srcIp, src_port: srcPort, received_packets: 0, received_bytes: 0, lost: 0, out_of_order: 0,
        first_ns: nowNs, last_ns: nowNs, latency_min_ns: null, latency_avg_ns: null, latency_max_ns: null,
        jitter_ns: 0, bins: [], nextSeq: 0, latencySum: 0, latencyCount: 0, lastTransit: null,
      };
      this.flows.set(key, f);
    }
    f.received_packets++;
    f.received_bytes += payload.length;
    const bin = Math.min(Math.floor(nowNs / UDP_SERIES_INTERVAL_NS), UDP_SERIES_MAX_BINS - 1);
    while (f.bins.length <= bin) f.bins.push(0);
    f.bins[bin]! += payload.length;
    f.last_ns = nowNs;
    if (payload.length >= 4) {
      const seq = ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0;
      if (seq >= f.nextSeq) {
        f.lost += seq - f.nextSeq;
        f.nextSeq = seq + 1;
      } else {
        f.out_of_order++;
        if (f.lost > 0) f.lost--;
      }
    }
    if (payload.length >= 12) {
      const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const sent = Number(dv.getBigUint64(4));
      const transit = nowNs - sent;
      if (f.latency_min_ns === null || transit < f.latency_min_ns) f.latency_min_ns = transit;
      if (f.latency_max_ns === null || transit > f.latency_max_ns) f.latency_max_ns = transit;
      f.latencySum += transit;
      f.latencyCount++;
      f.latency_avg_ns = Math.round(f.latencySum / f.latencyCount);
      if (f.lastTransit !== null) f.jitter_ns += (Math.abs(transit - f.lastTransit) - f.jitter_ns) / 16;
      f.lastTransit = transit;
    }
  }

  /** Stats for one flow, or undefined if nothing arrived from it. */
  flow(srcIp: number, srcPort: number): UdpFlowStats | undefined {
    const f = this.flows.get(`${srcIp}:${srcPort}`);
    return f ? publicStats(f) : undefined;
  }

  /** Received bytes per interval for one flow (empty when nothing arrived). */
  series(srcIp: number, srcPort: number): UdpRxSeries {
    const f = this.flows.get(`${srcIp}:${srcPort}`) ?? [...this.flows.values()].find((x) => x.src_port === srcPort);
    return { interval_ns: UDP_SERIES_INTERVAL_NS, bytes: f ? [...f.bins] : [] };
  }

  totals(): UdpSinkTotals {
    const flows = [...this.flows.values()].map(publicStats).sort((a, b) => a.src_ip - b.src_ip || a.src_port - b.src_port);
    let rp = 0;
    let rb = 0;
    let lost = 0;
    let ooo = 0;
    for (const f of flows) {
      rp += f.received_packets;
      rb += f.received_bytes;
      lost += f.lost;
      ooo += f.out_of_order;
    }
    return { port: this.port, received_packets: rp, received_bytes: rb, lost, out_of_order: ooo, flows };
  }
}

function publicStats(f: FlowState): UdpFlowStats {
  return {
    src_ip: f.src_ip, src_port: f.src_port, received_packets: f.received_packets, received_bytes: f.received_bytes,
    lost: f.lost, out_of_order: f.out_of_order, first_ns: f.first_ns, last_ns: f.last_ns,
    latency_min_ns: f.latency_min_ns, latency_avg_ns: f.latency_avg_ns, latency_max_ns: f.latency_max_ns,
    jitter_ns: Math.round(f.jitter_ns),
  };
}
