/**
 * Traffic apps that run on a `GuestStack`: `ping` (iputils semantics) and a UDP constant-bit-rate
 * sender (iperf2 `-u -b` semantics).
 *
 * ping: `count` echo requests `intervalNs` apart, starting at `startNs` (absolute simulation time,
 * default now), ICMP sequence numbers from 1 as iputils does, `size` bytes of ICMP data (default 56,
 * so 84-byte IP packets). RTT is measured from the send time the app remembers per sequence number;
 * a late reply still counts, a duplicate does not. `result()` may be read at any time.
 *
 * UDP CBR: `rateBps` counts UDP payload bits (like iperf2's `-b`); datagram k leaves at
 * `startNs + floor(k · size · 8 · 1e9 / rateBps)` while that is before `startNs + durationNs`, so a
 * run sends exactly ceil(duration · rate / (size · 8)) datagrams with no drift. The payload carries a
 * 32-bit sequence number and the 64-bit send time (when `size` allows) for the receiver's loss and
 * latency accounting. When no `sink` is given, the app starts a receiver on `port` at the guest that
 * owns `dst` in the same simulation (as a test harness would start `iperf -s -u`).
 */
import { UserError } from '../errors.js';
import type { EventId } from '../sim/queue.js';
import { formatIpv4, parseIpv4 } from '../wire/ip.js';
import { findStacksByIpv4, type GuestStack } from './stack.js';
import type { UdpFlowStats, UdpRxSeries, UdpSink } from './udp-sink.js';

export interface PingOptions {
  dst: string;
  count: number;
  intervalNs: number;
  /** ICMP data bytes (default 56). */
  size?: number;
  /** Absolute start time (default: now). */
  startNs?: number;
}

export interface PingReply {
  seq: number;
  time_ns: number;
  rtt_ns: number;
}

export interface PingResult {
  app: 'ping';
  src: string;
  dst: string;
  sent: number;
  received: number;
  duplicates: number;
  loss_pct: number;
  rtt_min_ns: number | null;
  rtt_avg_ns: number | null;
  rtt_max_ns: number | null;
  replies: PingReply[];
}

export interface PingApp {
  readonly id: number;
  result(): PingResult;
  stop(): void;
}

export function startPing(stack: GuestStack, opts: PingOptions): PingApp {
  const dst = parseAddress(opts.dst, `${stack.name}.ping.to`);
  const size = opts.size ?? 56;
  checkInt(opts.count, 1, 1e9, `${stack.name}.ping.count`);
  checkInt(size, 0, 65507, `${stack.name}.ping.size`);
  if (!(opts.intervalNs > 0)) throw new UserError('GUEST_PING_INTERVAL', `ping interval must be positive`, { where: `${stack.name}.ping.interval` });
  const sim = stack.sim;
  const sentAt = new Map<number, number>();
  const replies: PingReply[] = [];
  const answered = new Set<number>();
  let sent = 0;
  let duplicates = 0;
  const id = stack.registerEchoHandler((r) => {
    if (r.srcIp !== dst) return;
    const t0 = sentAt.get(r.seq);
    if (t0 === undefined) return;
    if (answered.has(r.seq)) {
      duplicates++;
      return;
    }
    answered.add(r.seq);
    replies.push({ seq: r.seq, time_ns: r.timeNs, rtt_ns: r.timeNs - t0 });
  });
  const start = Math.max(opts.startNs ?? sim.now, sim.now);
  let timer: EventId | null = null;
  const fire = (k: number): void => {
    const seq = (k + 1) & 0xffff;
    sentAt.set(seq, sim.now);
    sent++;
    stack.sendEchoRequest(dst, id, seq, size);
    if (k + 1 < opts.count) timer = sim.scheduleAt(start + Math.round((k + 1) * opts.intervalNs), () => fire(k + 1));
  };
  timer = sim.scheduleAt(start, () => fire(0));
  return {
    id,
    stop: () => timer?.cancel(),
    result: (): PingResult => {
      const rtts = replies.map((r) => r.rtt_ns);
      const received = replies.length;
      return {
        app: 'ping',
        src: stack.name,
        dst: formatIpv4(dst),
        sent,
        received,
        duplicates,
        loss_pct: sent === 0 ? 0 : Math.round(((sent - received) * 100000) / sent) / 1000,
        rtt_min_ns: received ? Math.min(...rtts) : null,
        rtt_avg_ns: received ? Math.round(rtts.reduce((a, b) => a + b, 0) / received) : null,
        rtt_max_ns: received ? Math.max(...rtts) : null,
        replies: [...replies].sort((a, b) => a.seq - b.seq),
      };
    },
  };
}

export interface UdpCbrOptions {
  dst: string;
  port: number;
  srcPort?: number;
  /** UDP payload bits per second. */
  rateBps: number;
  /** UDP payload bytes per datagram. */
  size: number;
  durationNs: number;
  startNs?: number;
  /** Receiver to read `received_packets` from (default: found/started at the guest owning `dst`). */
  sink?: UdpSink;
}

export interface UdpResult {
  app: 'udp';
  src: string;
  dst: string;
  port: number;
  src_port: number;
  sent_packets: number;
  sent_bytes: number;
  /** Datagrams the stack could not send (no route, too big). */
  send_errors: number;
  received_packets: number | null;
  received_bytes: number | null;
  /** sent − received (null when no receiver is known). */
  lost: number | null;
  loss_pct: number | null;
  out_of_order: number | null;
  latency_min_ns: number | null;
  latency_avg_ns: number | null;
  latency_max_ns: number | null;
  jitter_ns: number | null;
  /** Received bytes per interval at the receiver (for throughput over time); absent without a known receiver. */
  rx_series?: UdpRxSeries;
}

export interface UdpApp {
  result(): UdpResult;
  stop(): void;
}

export function startUdpCbr(stack: GuestStack, opts: UdpCbrOptions): UdpApp {
  const where = `${stack.name}.udp`;
  const dst = parseAddress(opts.dst, `${where}.to`);
  checkInt(opts.port, 1, 65535, `${where}.port`);
  checkInt(opts.size, 0, 65507, `${where}.size`);
  if (!(opts.rateBps > 0)) throw new UserError('GUEST_UDP_RATE', `UDP rate must be positive`, { where: `${where}.rate` });
  if (!(opts.durationNs > 0)) throw new UserError('GUEST_UDP_DURATION', `UDP duration must be positive`, { where: `${where}.duration` });
  const sim = stack.sim;
  const srcPort = opts.srcPort ?? stack.allocatePort();
  let sink: UdpSink | undefined = opts.sink;
  if (sink === undefined) {
    const owner = findStacksByIpv4(sim, dst)[0];
    sink = owner?.udpListen(opts.port);
  }
  const start = Math.max(opts.startNs ?? sim.now, sim.now);
  const end = start + opts.durationNs;
  const bitsPerPacket = opts.size * 8;
  const size = opts.size;
  let sentPackets = 0;
  let sentBytes = 0;
  let errors = 0;
  let timer: EventId | null = null;
  const sendTime = (k: number): number => start + Math.floor((k * bitsPerPacket * 1e9) / opts.rateBps);
  // One handler for every datagram (the sequence number lives here, not in a closure per event).
  let k = 0;
  const fire = (): void => {
    // Sequence number and send time written big-endian into the frame (no BigInt: now < 2^53).
    if (stack.sendUdpStamped(dst, srcPort, opts.port, size, k, sim.now)) {
      sentPackets++;
      sentBytes += size;
    } else errors++;
    k++;
    const next = sendTime(k);
    if (next < end && bitsPerPacket > 0) timer = sim.scheduleAt(next, fire);
  };
  timer = sim.scheduleAt(start, fire);
  return {
    stop: () => timer?.cancel(),
    result: (): UdpResult => {
      const f: UdpFlowStats | undefined = sink?.flow(stack.interfaces.find((i) => i.ipv4 !== null)?.ipv4 ?? 0, srcPort) ?? flowFromAny(sink, srcPort);
      const known = sink !== undefined;
      const rp = known ? (f?.received_packets ?? 0) : null;
      return {
        app: 'udp',
        src: stack.name,
        dst: formatIpv4(dst),
        port: opts.port,
        src_port: srcPort,
        sent_packets: sentPackets,
        sent_bytes: sentBytes,
        send_errors: errors,
        received_packets: rp,
        received_bytes: known ? (f?.received_bytes ?? 0) : null,
        lost: rp === null ? null : sentPackets - rp,
        loss_pct: rp === null || sentPackets === 0 ? null : Math.round(((sentPackets - rp) * 100000) / sentPackets) / 1000,
        out_of_order: known ? (f?.out_of_order ?? 0) : null,
        latency_min_ns: f?.latency_min_ns ?? null,
        latency_avg_ns: f?.latency_avg_ns ?? null,
        latency_max_ns: f?.latency_max_ns ?? null,
        jitter_ns: f ? f.jitter_ns : null,
        ...(sink ? { rx_series: sink.series(stack.interfaces.find((i) => i.ipv4 !== null)?.ipv4 ?? 0, srcPort) } : {}),
      };
    },
  };
}

/** The sender's flow when its source address is not the first interface's (multi-homed guests). */
function flowFromAny(sink: UdpSink | undefined, srcPort: number): UdpFlowStats | undefined {
  return sink?.totals().flows.find((f) => f.src_port === srcPort);
}

function parseAddress(s: string, where: string): number {
  try {
    return parseIpv4(s);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(e.code, e.message, { where });
    throw e;
  }
}

function checkInt(v: number, min: number, max: number, where: string): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UserError('GUEST_APP_RANGE', `${v} is not an integer in [${min}, ${max}]`, { where });
  }
}
