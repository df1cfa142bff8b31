/**
 * `rpc`: request/response over TCP, the measure of what a tenant's service feels (think
 * memcached or an HTTP API behind the fabric).
 *
 * The server (started at the guest owning the destination) answers every `request` bytes it
 * reads with `response` bytes. The client issues requests either
 * - open loop at `rate` per second (fixed spacing; a request waits for an idle connection from a
 *   pool of at most `concurrency`, default 64, so queueing shows in the latency), or
 * - closed loop with `concurrency` connections each keeping one request outstanding;
 * over persistent connections, or one new connection per request (`perRequest`: connect, send,
 * read the response, close: the handshake is part of the latency, as for HTTP/1.0 clients).
 *
 * Latency = time from the request's issue (its scheduled time in open loop) to the last response
 * byte. Reported as p50/p90/p99/p99.9/max (nearest-rank percentiles over all completed requests;
 * at most 1,000,000 samples are kept, later ones only counted) plus per-interval completions and
 * p99 for the time series.
 */
import { UserError } from '../errors.js';
import type { EventId } from '../sim/queue.js';
import type { TcpConnection, TcpError } from '../tcp/index.js';
import { formatIpv4, parseIpv4 } from '../wire/ip.js';
import { findStacksByIpv4, type GuestStack } from './stack.js';

export interface RpcOptions {
  dst: string;
  port?: number;
  /** Request bytes (default 200). */
  request?: number;
  /** Response bytes (default 64 KiB). */
  response?: number;
  /** Open loop: requests per second. */
  rate?: number;
  /** Closed loop: outstanding requests (default 8 without `rate`; the pool size with `rate`, default 64). */
  concurrency?: number;
  perRequest?: boolean;
  durationNs: number;
  intervalNs?: number;
  startNs?: number;
  /** Start the server at the guest owning `dst` (default true); false connects to whatever listens there. */
  server?: boolean;
  nodelay?: boolean;
}

export interface RpcInterval {
  start_ns: number;
  end_ns: number;
  completed: number;
  p99_ns: number | null;
}

export interface RpcResult {
  app: 'rpc';
  src: string;
  dst: string;
  port: number;
  mode: 'open' | 'closed';
  issued: number;
  completed: number;
  failed: number;
  errors: string[];
  requests_per_s: number;
  latency_ns: { min: number | null; mean: number | null; p50: number | null; p90: number | null; p99: number | null; p99_9: number | null; max: number | null };
  intervals: RpcInterval[];
}

export interface RpcApp {
  result(): RpcResult;
  /** Latencies (ns) of requests completed in simulation time [fromNs, toNs). */
  latencies(fromNs: number, toNs: number): number[];
  stop(): void;
}

const MAX_SAMPLES = 1_000_000;

interface Conn {
  c: TcpConnection;
  ready: boolean;
  busy: boolean;
  /** Issue time of the outstanding request, bytes of response still expected. */
  issuedAt: number;
  want: number;
}

export function startRpc(stack: GuestStack, opts: RpcOptions): RpcApp {
  const where = `${stack.name}.rpc`;
  const dst = parseIp(opts.dst, `${where}.to`);
  const port = opts.port ?? 7000;
  const reqBytes = opts.request ?? 200;
  const respBytes = opts.response ?? 65536;
  const open = opts.rate !== undefined;
  const conc = opts.concurrency ?? (open ? 64 : 8);
  const intervalNs = opts.intervalNs ?? 1_000_000_000;
  checkInt(reqBytes, 1, 1 << 30, `${where}.request`);
  checkInt(respBytes, 1, 1 << 30, `${where}.response`);
  checkInt(conc, 1, 100_000, `${where}.concurrency`);
  if (open && !(opts.rate! > 0 && opts.rate! <= 10_000_000)) throw new UserError('RPC_RATE', `rate ${opts.rate} is outside (0, 10000000] requests/s`, { where: `${where}.rate` });
  if (!(opts.durationNs > 0)) throw new UserError('RPC_DURATION', `duration must be positive`, { where: `${where}.duration` });
  const sim = stack.sim;
  const server = opts.server === false ? undefined : findStacksByIpv4(sim, dst)[0];
  const reqBuf = new Uint8Array(reqBytes).fill(0x51);
  const respBuf = new Uint8Array(Math.min(respBytes, 1 << 20)).fill(0x52);
  const cfg = opts.nodelay ? { nagle: false } : {};
  if (server !== undefined && !server.tcp.isListening(port)) {
    server.tcp.listen(port, (c) => serve(c, reqBytes, respBytes, respBuf), { config: cfg });
  }
  const start = Math.max(opts.startNs ?? sim.now, sim.now);
  const end = start + opts.durationNs;
  const latencies: number[] = [];
  const doneAt: number[] = [];
  let completed = 0;
  let issued = 0;
  let failed = 0;
  const errors = new Set<string>();
  const pool: Conn[] = [];
  const waiting: number[] = [];
  const timers: EventId[] = [];
  const intervals: RpcInterval[] = [];
  let ivLat: number[] = [];
  let ivStart = start;

  const done = (issuedAt: number): void => {
    const lat = sim.now - issuedAt;
    completed++;
    if (latencies.length < MAX_SAMPLES) {
      latencies.push(lat);
      doneAt.push(sim.now);
    }
    ivLat.push(lat);
  };
  const fail = (e: TcpError | null): void => {
    failed++;
    if (e) errors.add(e);
  };

  /** A connection that reads responses and reports completions. */
  const newConn = (): Conn => {
    const c = stack.tcp.connect(dst, port, { config: cfg });
    const k: Conn = { c, ready: false, busy: false, issuedAt: 0, want: 0 };
    c.onConnect = () => {
      k.ready = true;
      if (k.busy) c.write(reqBuf);
      else next(k);
    };
    c.onData = (d) => {
      k.want -= d.length;
      if (k.want <= 0 && k.busy) {
        k.busy = false;
        done(k.issuedAt);
        if (opts.perRequest) c.close();
        else next(k);
      }
    };
    c.onClose = (e) => {
      if (k.busy) fail(e ?? 'ECONNRESET');
      k.busy = false;
      const i = pool.indexOf(k);
      if (i >= 0) pool.splice(i, 1);
      if (!opts.perRequest && !open && sim.now < end && e === null) pool.push(newConn());
    };
    return k;
  };
  const send = (k: Conn, issuedAt: number): void => {
    k.busy = true;
    k.issuedAt = issuedAt;
    k.want = respBytes;
    issued++;
    if (k.ready) k.c.write(reqBuf);
  };
  /** An idle connection takes the next request: queued ones first, then (closed loop) a new one. */
  const next = (k: Conn): void => {
    if (k.busy) return;
    if (waiting.length > 0) return send(k, waiting.shift()!);
    if (!open && sim.now < end) send(k, sim.now);
  };

  const issue = (): void => {
    if (opts.perRequest) {
      const k = newConn();
      send(k, sim.now);
      return;
    }
    const idle = pool.find((p) => !p.busy);
    if (idle !== undefined) return send(idle, sim.now);
    if (pool.length < conc) {
      const k = newConn();
      pool.push(k);
      return send(k, sim.now);
    }
    if (waiting.length < 1_000_000) waiting.push(sim.now);
    else fail(null);
  };

  timers.push(sim.scheduleAt(start, () => {
    if (open) {
      const gap = 1e9 / opts.rate!;
      const fire = (k: number): void => {
        issue();
        const t = start + Math.round((k + 1) * gap);
        if (t < end) timers.push(sim.scheduleAt(t, () => fire(k + 1)));
      };
      fire(0);
    } else if (opts.perRequest) {
      const loop = (): void => {
        if (sim.now >= end) return;
        const k = newConn();
        const prevClose = k.c.onClose;
        k.c.onClose = (e) => {
          prevClose?.(e);
          if (sim.now < end) loop();
        };
        send(k, sim.now);
      };
      for (let i = 0; i < conc; i++) loop();
    } else {
      for (let i = 0; i < conc; i++) pool.push(newConn());
    }
    const tick = (): void => {
      ivLat.sort((a, b) => a - b);
      intervals.push({ start_ns: ivStart - start, end_ns: sim.now - start, completed: ivLat.length, p99_ns: pct(ivLat, 99) });
      ivLat = [];
      ivStart = sim.now;
      if (sim.now < end && intervals.length < 100_000) timers.push(sim.scheduleAt(Math.min(end, sim.now + intervalNs), tick));
      else if (sim.now >= end) {
        // Stop: persistent connections close once idle.
        for (const k of pool) if (!k.busy) k.c.close();
      }
    };
    timers.push(sim.scheduleAt(Math.min(end, start + intervalNs), tick));
  }));

  return {
    latencies: (fromNs, toNs) => latencies.filter((_, i) => doneAt[i]! >= fromNs && doneAt[i]! < toNs),
    stop: () => {
      for (const t of timers) t.cancel();
    },
    result: (): RpcResult => {
      const sorted = [...latencies].sort((a, b) => a - b);
      const n = sorted.length;
      return {
        app: 'rpc',
        src: stack.name,
        dst: formatIpv4(dst),
        port,
        mode: open ? 'open' : 'closed',
        issued,
        completed,
        failed,
        errors: [...errors].sort(),
        requests_per_s: Math.round((completed * 1e9) / opts.durationNs),
        latency_ns: {
          min: n ? sorted[0]! : null,
          mean: n ? Math.round(sorted.reduce((a, b) => a + b, 0) / n) : null,
          p50: pct(sorted, 50),
          p90: pct(sorted, 90),
          p99: pct(sorted, 99),
          p99_9: pct(sorted, 99.9),
          max: n ? sorted[n - 1]! : null,
        },
        intervals,
      };
    },
  };
}

/** The server side: read `reqBytes`, answer `respBytes`, repeat; close when the client does. */
function serve(c: TcpConnection, reqBytes: number, respBytes: number, respBuf: Uint8Array): void {
  let have = 0;
  let owed = 0;
  const pump = (): void => {
    while (owed > 0) {
      const n = c.write(respBuf.subarray(0, Math.min(owed, respBuf.length)));
      owed -= n;
      if (n === 0) return;
    }
  };
  c.onDrain = pump;
  c.onData = (d) => {
    have += d.length;
    while (have >= reqBytes) {
      have -= reqBytes;
      owed += respBytes;
    }
    pump();
  };
  c.onEnd = () => c.close();
}

/** Nearest-rank percentile of an ascending array. */
export function pct(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

function parseIp(s: string, where: string): number {
  try {
    return parseIpv4(s);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(e.code, e.message, { where });
    throw e;
  }
}

function checkInt(v: number, min: number, max: number, where: string): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new UserError('GUEST_APP_RANGE', `${v} is not an integer in [${min}, ${max}]`, { where });
}
