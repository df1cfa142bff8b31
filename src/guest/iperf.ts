/**
 * `iperf`: bulk TCP streams with iperf3's vocabulary and report shape (`iperf3 -c DST -t T -P N
 * [-R] [-n BYTES] [-C cc] [-i INTERVAL] --json`).
 *
 * The server side is started at the guest owning the destination address (as a harness would run
 * `iperf3 -s`); there is no control connection: the client and server find each other through
 * the app. Each stream writes 128 KiB chunks (iperf3's default TCP block) as fast as the socket
 * takes them, for `durationNs` from the moment the first stream connects, or until `bytes` have
 * been written, then closes (FIN).
 *
 * Report: `intervals[]` every `intervalNs` from the start (each with per-stream `bytes`,
 * `bits_per_second`, `retransmits`, `snd_cwnd`, `rtt`/`rttvar` in µs as iperf3 prints them, and a
 * `sum`), `end.sum_sent` (bytes acknowledged to the sender and retransmissions) and
 * `end.sum_received` (bytes the receiver read). Interval `bytes` are the sender's acknowledged
 * bytes (iperf3 counts bytes written into the socket buffer, which runs ahead by up to the send
 * buffer; acknowledged bytes are what the network delivered).
 */
import { UserError } from '../errors.js';
import type { EventId } from '../sim/queue.js';
import { immutablePayload, type CcName, type TcpConnection, type TcpError, type TcpInfo } from '../tcp/index.js';
import { formatIpv4, parseIpv4 } from '../wire/ip.js';
import { findStacksByIpv4, type GuestStack } from './stack.js';

export interface IperfOptions {
  dst: string;
  port?: number;
  /** Test length (default 10 s unless `bytes` is given). */
  durationNs?: number;
  /** Bytes to send per stream instead of a duration (iperf3 -n is a total; here per stream). */
  bytes?: number;
  parallel?: number;
  /** Server sends, client receives (iperf3 -R). */
  reverse?: boolean;
  cc?: CcName;
  /** Report interval (default 1 s). */
  intervalNs?: number;
  startNs?: number;
  /** Start the server at the guest owning `dst` (default true); false connects to whatever listens there. */
  server?: boolean;
  /** Socket buffers (bytes), both ends. */
  windowBytes?: number;
  /** CUBIC's HyStart (Linux tcp_cubic.c `hystart`), both ends' sockets; default off. */
  hystart?: boolean;
  /** TCP_MAXSEG (iperf3 -M): the MSS both ends advertise, so neither sends larger segments. */
  mss?: number;
}

export interface IperfStreamInterval {
  socket: number;
  bytes: number;
  bits_per_second: number;
  retransmits: number;
  snd_cwnd: number;
  rtt: number;
  rttvar: number;
}

export interface IperfInterval {
  /** Relative to the test start (first connection), as iperf3 reports. */
  start_ns: number;
  end_ns: number;
  /** The same interval in simulation time (what `expect: … over [a, b]` windows use). */
  sim_start_ns: number;
  sim_end_ns: number;
  streams: IperfStreamInterval[];
  sum: { bytes: number; bits_per_second: number; retransmits: number };
}

export interface IperfResult {
  app: 'iperf';
  src: string;
  dst: string;
  port: number;
  cc: CcName;
  parallel: number;
  reverse: boolean;
  connected: number;
  /** Why streams failed (errno names), empty when none did. */
  errors: string[];
  intervals: IperfInterval[];
  end: {
    streams: Array<{ socket: number; sender: TcpInfo | null; bytes_sent: number; bytes_received: number; retransmits: number; error: string | null }>;
    sum_sent: { start_ns: number; end_ns: number; bytes: number; bits_per_second: number; retransmits: number };
    sum_received: { start_ns: number; end_ns: number; bytes: number; bits_per_second: number };
  };
  /** Receiver goodput over the test (= end.sum_received.bits_per_second). */
  throughput_bps: number;
  retransmits: number;
}

export interface IperfApp {
  result(): IperfResult;
  stop(): void;
}

let BLOCK_: Uint8Array | undefined;
/** iperf's pattern block, built on the first iperf run (not when the module loads). */
function block(): Uint8Array {
  if (BLOCK_ === undefined) {
    BLOCK_ = new Uint8Array(131072);
    for (let i = 0; i < BLOCK_.length; i++) BLOCK_[i] = i & 0xff;
    immutablePayload(BLOCK_); // never written again: TCP sums it once, not per segment
  }
  return BLOCK_;
}

interface Stream {
  socket: number;
  client: TcpConnection;
  sender: TcpConnection | null;
  receiver: TcpConnection | null;
  received: number;
  written: number;
  error: TcpError | null;
  lastAcked: number;
  lastRetrans: number;
  done: boolean;
}

export function startIperf(stack: GuestStack, opts: IperfOptions): IperfApp {
  const where = `${stack.name}.iperf`;
  const dst = parseIp(opts.dst, `${where}.to`);
  const port = opts.port ?? 5201;
  const parallel = opts.parallel ?? 1;
  const reverse = opts.reverse ?? false;
  const intervalNs = opts.intervalNs ?? 1_000_000_000;
  const cc: CcName = opts.cc ?? stack.tcp.config.cc;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 128) throw new UserError('IPERF_PARALLEL', `parallel ${parallel} is outside 1..128 (iperf3's limit)`, { where: `${where}.parallel` });
  if (opts.durationNs !== undefined && !(opts.durationNs > 0)) throw new UserError('IPERF_DURATION', `duration must be positive`, { where: `${where}.duration` });
  if (opts.bytes !== undefined && !(Number.isInteger(opts.bytes) && opts.bytes > 0)) throw new UserError('IPERF_BYTES', `bytes must be a positive integer`, { where: `${where}.bytes` });
  if (!(intervalNs > 0)) throw new UserError('IPERF_INTERVAL', `interval must be positive`, { where: `${where}.interval` });
  const durationNs = opts.bytes !== undefined ? opts.durationNs : (opts.durationNs ?? 10_000_000_000);
  const config = {
    cc,
    ...(opts.windowBytes !== undefined ? { rcvBuf: opts.windowBytes, sndBuf: opts.windowBytes } : {}),
    ...(opts.hystart !== undefined ? { hystart: opts.hystart } : {}),
    ...(opts.mss !== undefined ? { mss: opts.mss } : {}),
  };
  const sim = stack.sim;
  const streams: Stream[] = [];
  const server = opts.server === false ? undefined : findStacksByIpv4(sim, dst)[0];
  const start = Math.max(opts.startNs ?? sim.now, sim.now);
  let testStart = -1;
  let endAt = Number.POSITIVE_INFINITY;
  const timers: EventId[] = [];
  const intervals: IperfInterval[] = [];
  let lastTick = start;
  /** When the last byte arrived at a receiver: the received sum is averaged up to it (iperf3's server clock). */
  let lastRecvAt = -1;

  const pump = (s: Stream): void => {
    const c = s.sender!;
    for (;;) {
      if (sim.now >= endAt || s.done) break;
      const BLOCK = block();
      let chunk = BLOCK;
      if (opts.bytes !== undefined) {
        const left = opts.bytes - s.written;
        if (left <= 0) break;
        if (left < chunk.length) chunk = BLOCK.subarray(0, left);
      }
      const n = c.write(chunk);
      s.written += n;
      if (n < chunk.length) return; // onDrain resumes
    }
    if (!s.done) {
      s.done = true;
      c.end();
    }
  };
  const beginSending = (s: Stream): void => {
    const c = s.sender!;
    c.onDrain = () => pump(s);
    pump(s);
  };
  const markStart = (): void => {
    if (testStart >= 0) return;
    testStart = sim.now;
    if (durationNs !== undefined) {
      endAt = testStart + durationNs;
      timers.push(sim.scheduleAt(endAt, () => {
        for (const s of streams) {
          if (s.sender && !s.done) {
            s.done = true;
            s.sender.end();
          }
        }
      }));
    }
  };

  if (server !== undefined && !server.tcp.isListening(port)) {
    // One listener per server port, shared by every iperf app aimed at it (iperf3 -s): each
    // accepted connection is handed to the stream that opened it, found by the client's address.
    const reg = registry(server);
    server.tcp.listen(port, (conn) => {
      const key = `${conn.remoteIp}:${conn.remotePort}`;
      const h = reg.get(key);
      reg.delete(key);
      if (h !== undefined) return h(conn);
      conn.onData = () => {};
      conn.onEnd = () => conn.close();
    }, { config });
  }
  const serverSide = (s: Stream) => (conn: TcpConnection): void => {
    if (reverse) {
      s.sender = conn;
      conn.onEnd = () => conn.close();
      beginSending(s);
    } else {
      s.receiver = conn;
      conn.onData = (d) => {
        s.received += d.length;
        lastRecvAt = sim.now;
      };
      conn.onEnd = () => conn.close();
    }
  };

  const open = (k: number): void => {
    const c = stack.tcp.connect(dst, port, { config });
    const s: Stream = { socket: k + 5, client: c, sender: null, receiver: null, received: 0, written: 0, error: null, lastAcked: 0, lastRetrans: 0, done: false };
    streams.push(s);
    if (server !== undefined) registry(server).set(`${c.localIp}:${c.localPort}`, serverSide(s));
    c.onConnect = () => {
      markStart();
      if (reverse) {
        s.receiver = c;
        c.onData = (d) => {
          s.received += d.length;
          lastRecvAt = sim.now;
        };
        c.onEnd = () => c.close();
      } else {
        s.sender = c;
        c.onEnd = () => c.close();
        beginSending(s);
      }
    };
    c.onClose = (e) => {
      if (e !== null && s.error === null) s.error = e;
    };
  };

  const tick = (): void => {
    const now = sim.now;
    const span = now - lastTick;
    const iv: IperfInterval = { start_ns: lastTick - (testStart >= 0 ? testStart : start), end_ns: now - (testStart >= 0 ? testStart : start), sim_start_ns: lastTick, sim_end_ns: now, streams: [], sum: { bytes: 0, bits_per_second: 0, retransmits: 0 } };
    for (const s of streams) {
      const info = s.sender?.info() ?? null;
      const acked = info?.bytes_acked ?? 0;
      const retr = info?.total_retrans ?? 0;
      const bytes = acked - s.lastAcked;
      const rtx = retr - s.lastRetrans;
      s.lastAcked = acked;
      s.lastRetrans = retr;
      const bps = span > 0 ? (bytes * 8 * 1e9) / span : 0;
      iv.streams.push({ socket: s.socket, bytes, bits_per_second: Math.round(bps), retransmits: rtx, snd_cwnd: info?.snd_cwnd_bytes ?? 0, rtt: Math.round((info?.srtt_ns ?? 0) / 1000), rttvar: Math.round((info?.rttvar_ns ?? 0) / 1000) });
      iv.sum.bytes += bytes;
      iv.sum.retransmits += rtx;
    }
    iv.sum.bits_per_second = span > 0 ? Math.round((iv.sum.bytes * 8 * 1e9) / span) : 0;
    if (span > 0 && intervals.length < 100_000) intervals.push(iv);
    lastTick = now;
    const active = streams.some((s) => s.sender === null ? s.error === null && s.client.state !== 'CLOSED' : s.sender.state !== 'CLOSED' && s.sender.state !== 'TIME_WAIT' && s.sender.info().unacked_bytes > 0) || (testStart >= 0 && now < endAt);
    if (active || testStart < 0) timers.push(sim.scheduleAt(now + intervalNs, tick));
    else if (streams.every((s) => s.error !== null)) return;
  };

  timers.push(sim.scheduleAt(start, () => {
    for (let k = 0; k < parallel; k++) open(k);
    lastTick = sim.now;
    timers.push(sim.scheduleAt(sim.now + intervalNs, tick));
  }));

  return {
    stop: () => {
      for (const t of timers) t.cancel();
    },
    result: (): IperfResult => {
      const t0 = testStart >= 0 ? testStart : start;
      const now = sim.now;
      const endSend = Math.min(now, durationNs !== undefined ? t0 + durationNs : now);
      let sent = 0;
      let rtx = 0;
      let recv = 0;
      const out: IperfResult['end']['streams'] = [];
      for (const s of streams) {
        const info = s.sender?.info() ?? null;
        sent += info?.bytes_acked ?? 0;
        rtx += info?.total_retrans ?? 0;
        recv += s.received;
        out.push({ socket: s.socket, sender: info, bytes_sent: info?.bytes_acked ?? 0, bytes_received: s.received, retransmits: info?.total_retrans ?? 0, error: s.error });
      }
      // Data still in the send buffer at the deadline keeps flowing (as with iperf3): both sums
      // are averaged over the time until the last byte arrived.
      const recvEnd = Math.max(endSend, lastRecvAt);
      const secs = Math.max(1, recvEnd - t0);
      const recvBps = Math.round((recv * 8 * 1e9) / secs);
      return {
        app: 'iperf',
        src: stack.name,
        dst: formatIpv4(dst),
        port,
        cc,
        parallel,
        reverse,
        connected: streams.filter((s) => s.sender !== null || s.receiver !== null).length,
        errors: [...new Set(streams.map((s) => s.error).filter((e): e is TcpError => e !== null))],
        intervals,
        end: {
          streams: out,
          sum_sent: { start_ns: 0, end_ns: recvEnd - t0, bytes: sent, bits_per_second: Math.round((sent * 8 * 1e9) / secs), retransmits: rtx },
          sum_received: { start_ns: 0, end_ns: recvEnd - t0, bytes: recv, bits_per_second: recvBps },
        },
        throughput_bps: recvBps,
        retransmits: rtx,
      };
    },
  };
}

const registries = new WeakMap<GuestStack, Map<string, (c: TcpConnection) => void>>();
function registry(server: GuestStack): Map<string, (c: TcpConnection) => void> {
  const key = server;
  let m = registries.get(key);
  if (m === undefined) registries.set(key, (m = new Map<string, (c: TcpConnection) => void>()));
  return m;
}

function parseIp(s: string, where: string): number {
  try {
    return parseIpv4(s);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(e.code, e.message, { where });
    throw e;
  }
}
