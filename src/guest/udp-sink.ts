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

/**
 * Per-flow counters live in one Float64Array, STRIDE slots per flow: a datagram updates numbers
 * in place, allocating nothing and keeping one object shape (the per-frame path of a big run is
 * mostly this). Sums and the jitter filter run in the same float arithmetic as before, so the
 * figures are the same to the bit.
 */
const F_SRC_IP = 0;
const F_SRC_PORT = 1;
const F_PACKETS = 2;
const F_BYTES = 3;
const F_LOST = 4;
const F_OOO = 5;
const F_FIRST = 6;
const F_LAST = 7;
const F_LAT_MIN = 8;
const F_LAT_MAX = 9;
const F_LAT_SUM = 10;
const F_LAT_N = 11;
const F_JITTER = 12;
const F_LAST_TRANSIT = 13;
const F_HAS_TRANSIT = 14;
const F_NEXT_SEQ = 15;
const STRIDE = 16;

export interface UdpSinkTotals {
  port: number;
  received_packets: number;
  received_bytes: number;
  lost: number;
  out_of_order: number;
  flows: UdpFlowStats[];
}

export class UdpSink {
  /** Flow key (srcIp · 65536 + srcPort) → slot offset in `stats`. */
  private slots = new Map<number, number>();
  private stats = new Float64Array(4 * STRIDE);
  private nFlows = 0;
  /** The last flow seen: consecutive datagrams are nearly always from the same flow. */
  private lastKey = -1;
  private lastSlot = 0;
  /** Received bytes per `UDP_SERIES_INTERVAL_NS`, one array per flow (index = slot / STRIDE). */
  private bins: number[][] = [];

  constructor(readonly port: number) {}

  private slotOf(srcIp: number, srcPort: number, nowNs: number): number {
    const key = (srcIp >>> 0) * 65536 + srcPort;
    if (key === this.lastKey) return this.lastSlot;
    let o = this.slots.get(key);
    if (o === undefined) {
      o = this.nFlows++ * STRIDE;
      if (o + STRIDE > this.stats.length) {
        const grown = new Float64Array(this.stats.length * 2);
        grown.set(this.stats);
        this.stats = grown;
      }
      const st = this.stats;
      st[o + F_SRC_IP] = srcIp >>> 0;
      st[o + F_SRC_PORT] = srcPort;
      st[o + F_FIRST] = nowNs;
      st[o + F_LAST] = nowNs;
      this.slots.set(key, o);
      this.bins.push([]);
    }
    this.lastKey = key;
    this.lastSlot = o;
    return o;
  }

  /** Called by the stack for each datagram to `port` (payload = UDP payload). */
  deliver(srcIp: number, srcPort: number, payload: Uint8Array, nowNs: number): void {
    this.deliverAt(srcIp, srcPort, payload, 0, payload.length, nowNs);
  }

  /** `deliver` of the payload at bytes[p, p + len) (the stack passes the frame: no view per datagram). */
  deliverAt(srcIp: number, srcPort: number, bytes: Uint8Array, p: number, len: number, nowNs: number): void {
    const o = this.slotOf(srcIp, srcPort, nowNs);
    const st = this.stats;
    st[o + F_PACKETS] = st[o + F_PACKETS]! + 1;
    st[o + F_BYTES] = st[o + F_BYTES]! + (len);
    st[o + F_LAST] = nowNs;
    const bins = this.bins[o / STRIDE]!;
    const bin = Math.min(Math.floor(nowNs / UDP_SERIES_INTERVAL_NS), UDP_SERIES_MAX_BINS - 1);
    while (bins.length <= bin) bins.push(0);
    bins[bin]! += len;
    if (len >= 4) {
      const seq = u32(bytes, p);
      const next = st[o + F_NEXT_SEQ]!;
      if (seq >= next) {
        st[o + F_LOST] = st[o + F_LOST]! + (seq - next);
        st[o + F_NEXT_SEQ] = seq + 1;
      } else {
        st[o + F_OOO] = st[o + F_OOO]! + 1;
        if (st[o + F_LOST]! > 0) st[o + F_LOST] = st[o + F_LOST]! - 1;
      }
    }
    if (len >= 12) {
      const sent = u32(bytes, p + 4) * 0x1_0000_0000 + u32(bytes, p + 8);
      const transit = nowNs - sent;
      const n = st[o + F_LAT_N]!;
      if (n === 0 || transit < st[o + F_LAT_MIN]!) st[o + F_LAT_MIN] = transit;
      if (n === 0 || transit > st[o + F_LAT_MAX]!) st[o + F_LAT_MAX] = transit;
      st[o + F_LAT_SUM] = st[o + F_LAT_SUM]! + (transit);
      st[o + F_LAT_N] = n + 1;
      if (st[o + F_HAS_TRANSIT] === 1) st[o + F_JITTER] = st[o + F_JITTER]! + ((Math.abs(transit - st[o + F_LAST_TRANSIT]!) - st[o + F_JITTER]!) / 16);
      st[o + F_LAST_TRANSIT] = transit;
      st[o + F_HAS_TRANSIT] = 1;
    }
  }

  /** Stats for one flow, or undefined if nothing arrived from it. */
  flow(srcIp: number, srcPort: number): UdpFlowStats | undefined {
    const o = this.slots.get((srcIp >>> 0) * 65536 + srcPort);
    return o === undefined ? undefined : this.publicStats(o);
  }

  /** Received bytes per interval for one flow (empty when nothing arrived). */
  series(srcIp: number, srcPort: number): UdpRxSeries {
    let o = this.slots.get((srcIp >>> 0) * 65536 + srcPort);
    if (o === undefined) for (const [, slot] of this.slots) if (this.stats[slot + F_SRC_PORT] === srcPort) { o = slot; break; }
    return { interval_ns: UDP_SERIES_INTERVAL_NS, bytes: o === undefined ? [] : [...this.bins[o / STRIDE]!] };
  }

  totals(): UdpSinkTotals {
    const flows = [...this.slots.values()].map((o) => this.publicStats(o)).sort((a, b) => a.src_ip - b.src_ip || a.src_port - b.src_port);
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

  private publicStats(o: number): UdpFlowStats {
    const st = this.stats;
    const n = st[o + F_LAT_N]!;
    return {
      src_ip: st[o + F_SRC_IP]!, src_port: st[o + F_SRC_PORT]!, received_packets: st[o + F_PACKETS]!,
      received_bytes: st[o + F_BYTES]!, lost: st[o + F_LOST]!, out_of_order: st[o + F_OOO]!,
      first_ns: st[o + F_FIRST]!, last_ns: st[o + F_LAST]!,
      latency_min_ns: n > 0 ? st[o + F_LAT_MIN]! : null,
      latency_avg_ns: n > 0 ? Math.round(st[o + F_LAT_SUM]! / n) : null,
      latency_max_ns: n > 0 ? st[o + F_LAT_MAX]! : null,
      jitter_ns: Math.round(st[o + F_JITTER]!),
    };
  }
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
