/**
 * A TCP endpoint: the demultiplexer, listeners, ephemeral ports and the replies to segments no
 * socket wants (RST, RFC 9293 §3.10.7.1 "If the state is CLOSED").
 *
 * One `TcpStack` sits on one `TcpIpLayer` (a guest stack, or a hypervisor host's management
 * interface) and knows nothing about NICs, bridges or links. Connections are found by
 * (local port, remote address, remote port); a SYN for a listening port creates a connection in
 * SYN_RECEIVED (Linux keeps a request sock; the wire behaviour is the same) and the listener's
 * `onAccept` runs when the handshake completes. The number of half-open and not yet accepted
 * connections per listener is bounded (`backlog`, Linux somaxconn 4096); beyond it SYNs are
 * dropped, as Linux does without syncookies.
 *
 * Randomness (initial sequence numbers, timestamp offsets, the first ephemeral port) comes from
 * the stack's own PRNG stream, so the same seed gives the same bytes.
 */
import { UserError } from '../errors.js';
import type { Prng } from '../sim/prng.js';
import type { Simulation } from '../sim/simulation.js';
import { finish, pseudoHeaderV4, sumBytes } from '../wire/checksum.js';
import { ACK, FIN, RST, SYN, TcpConnection, type ConnectionHost, type InSeg } from './connection.js';
import { newParsedOptions, parseOptions } from './options.js';
import { isIntact } from './payload.js';
import { DEFAULT_TCP_CONFIG, MAX_SOCKET_BUFFER, type TcpConfig, type TcpIpLayer } from './types.js';

export interface TcpListener {
  readonly port: number;
  /** Called with each connection that completed its handshake. */
  onAccept: (c: TcpConnection) => void;
  close(): void;
}

export interface TcpStackCounters {
  segs_in: number;
  bad_checksum: number;
  bad_header: number;
  /** Segments for no socket (each answered with RST unless it was one). */
  no_socket: number;
  rst_sent: number;
  syn_dropped_backlog: number;
  active_opens: number;
  passive_opens: number;
}

interface ListenerState extends TcpListener {
  cfg: TcpConfig;
  backlog: number;
  pending: number;
  closed: boolean;
}

const EMPTY = new Uint8Array(0);

function newInSeg(): InSeg {
  return { seq: 0, ack: 0, flags: 0, wnd: 0, buf: EMPTY, dataOff: 0, dataLen: 0, optStart: 0, optEnd: 0, ce: false };
}

const EPHEMERAL_LO = 32768;
const EPHEMERAL_HI = 60999;

/** Checks a (partial) config from a user: buffer sizes and RTO bounds. `where` names the field's parent. */
export function resolveTcpConfig(base: TcpConfig, over: Partial<TcpConfig> | undefined, where: string): TcpConfig {
  const cfg: TcpConfig = { ...base, ...(over ?? {}) };
  for (const k of ['rcvBuf', 'sndBuf'] as const) {
    const v = cfg[k];
    if (!Number.isInteger(v) || v < 4096 || v > MAX_SOCKET_BUFFER) {
      throw new UserError('TCP_BUFFER', `${k === 'rcvBuf' ? 'receive' : 'send'} buffer ${v} bytes is outside 4096..${MAX_SOCKET_BUFFER} (1 GiB)`, { where });
    }
  }
  if (cfg.mss !== undefined && (!Number.isInteger(cfg.mss) || cfg.mss < 88 || cfg.mss > 65495)) {
    throw new UserError('TCP_MSS', `MSS ${cfg.mss} is outside 88..65495`, { where });
  }
  if (!(cfg.initCwnd >= 1 && cfg.initCwnd <= 1000)) throw new UserError('TCP_CWND', `initial cwnd ${cfg.initCwnd} is outside 1..1000`, { where });
  return cfg;
}

export class TcpStack implements ConnectionHost {
  readonly sim: Simulation;
  readonly ip: TcpIpLayer;
  readonly name: string;
  readonly config: TcpConfig;
  readonly counters: TcpStackCounters = {
    segs_in: 0, bad_checksum: 0, bad_header: 0, no_socket: 0, rst_sent: 0, syn_dropped_backlog: 0, active_opens: 0, passive_opens: 0,
  };
  private readonly prng: Prng;
  /** local port -> (remote ip * 65536 + remote port) -> connection */
  private readonly conns = new Map<number, Map<number, TcpConnection>>();
  private readonly listeners = new Map<number, ListenerState>();
  private readonly origin = new WeakMap<TcpConnection, ListenerState>();
  private nextPort: number;
  private readonly opts = newParsedOptions();
  private connCount = 0;
  private readonly segPool: InSeg[] = [];
  private inputDepth = 0;
  /** The connection the last segment went to (always one in `conns`; cleared on release). */
  private lastConn: TcpConnection | null = null;

  constructor(opts: { sim: Simulation; ip: TcpIpLayer; name: string; prng: Prng; config?: Partial<TcpConfig> }) {
    this.sim = opts.sim;
    this.ip = opts.ip;
    this.name = opts.name;
    this.prng = opts.prng;
    this.config = resolveTcpConfig(DEFAULT_TCP_CONFIG, opts.config, `${opts.name}.tcp`);
    this.nextPort = EPHEMERAL_LO + this.prng.int(EPHEMERAL_HI - EPHEMERAL_LO + 1);
  }

  /** Open connections (all states but CLOSED, TIME_WAIT included). */
  get connections(): number {
    return this.connCount;
  }

  /** Starts listening on `port`. Throws EADDRINUSE (a UserError) when something already listens. */
  listen(port: number, onAccept: (c: TcpConnection) => void, opts: { config?: Partial<TcpConfig>; backlog?: number } = {}): TcpListener {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError('TCP_PORT', `port ${port} is outside 1..65535`, { where: `${this.name}.tcp` });
    if (this.listeners.has(port)) throw new UserError('TCP_EADDRINUSE', `port ${port} is already listening`, { where: `${this.name}.tcp` });
    const l: ListenerState = {
      port,
      onAccept,
      cfg: resolveTcpConfig(this.config, opts.config, `${this.name}.tcp`),
      backlog: opts.backlog ?? 4096,
      pending: 0,
      closed: false,
      close: () => {
        l.closed = true;
        if (this.listeners.get(port) === l) this.listeners.delete(port);
      },
    };
    this.listeners.set(port, l);
    return l;
  }

  isListening(port: number): boolean {
    return this.listeners.has(port);
  }

  /**
   * Active open to `dst:port`. The connection is returned at once; `onConnect` or `onClose(err)`
   * tells how it went (no route: ENETUNREACH on the next event; an RST: ECONNREFUSED; silence:
   * ETIMEDOUT after the SYN retries; ARP failure: EHOSTUNREACH).
   */
  connect(dst: number, port: number, opts: { srcPort?: number; config?: Partial<TcpConfig> } = {}): TcpConnection {
    const cfg = resolveTcpConfig(this.config, opts.config, `${this.name}.tcp`);
    const route = this.ip.route(dst);
    const srcPort = opts.srcPort ?? this.ephemeral(dst, port);
    const c = new TcpConnection(this, cfg, { ip: route?.src ?? 0, port: srcPort }, { ip: dst, port }, this.prng.nextU32(), this.prng.nextU32());
    if (route === null) {
      this.sim.schedule(0, () => c.finish('ENETUNREACH'));
      return c;
    }
    const key = dst * 65536 + port;
    let m = this.conns.get(srcPort);
    if (m === undefined) this.conns.set(srcPort, (m = new Map<number, TcpConnection>()));
    if (m.has(key)) {
      this.sim.schedule(0, () => c.finish('EADDRINUSE'));
      return c;
    }
    m.set(key, c);
    this.connCount++;
    this.counters.active_opens++;
    // Start on the next event so the caller can attach callbacks first.
    this.sim.schedule(0, () => {
      if (c.state === 'CLOSED') c.connect();
    });
    return c;
  }

  private ephemeral(dst: number, port: number): number {
    const key = dst * 65536 + port;
    for (let i = 0; i <= EPHEMERAL_HI - EPHEMERAL_LO; i++) {
      const p = this.nextPort;
      this.nextPort = p >= EPHEMERAL_HI ? EPHEMERAL_LO : p + 1;
      if (this.listeners.has(p)) continue;
      if (this.conns.get(p)?.has(key)) continue;
      return p;
    }
    throw new UserError('TCP_EADDRNOTAVAIL', `no free ephemeral port towards this destination`, { where: `${this.name}.tcp` });
  }

  // ConnectionHost
  release(c: TcpConnection): void {
    if (this.lastConn === c) this.lastConn = null;
    const m = this.conns.get(c.localPort);
    const key = c.remoteIp * 65536 + c.remotePort;
    if (m?.get(key) === c) {
      m.delete(key);
      this.connCount--;
      if (m.size === 0) this.conns.delete(c.localPort);
    }
    const l = this.origin.get(c);
    if (l !== undefined) {
      l.pending = Math.max(0, l.pending - 1);
      this.origin.delete(c);
    }
  }

  accepted(c: TcpConnection): void {
    const l = this.origin.get(c);
    if (l === undefined) return;
    l.pending = Math.max(0, l.pending - 1);
    this.origin.delete(c);
    this.counters.passive_opens++;
    if (l.closed) {
      c.abort();
      return;
    }
    l.onAccept(c);
  }

  /**
   * The IP layer could not resolve `ip` (ARP failed; Linux turns this into a local ICMP host
   * unreachable): connections still in SYN_SENT towards it fail with EHOSTUNREACH (tcp_v4_err);
   * established ones treat it as a soft error and keep retransmitting. `gateway` = every
   * off-link destination was behind it.
   */
  unreachable(ip: number, gateway: (remote: number) => boolean): void {
    const victims: TcpConnection[] = [];
    for (const m of this.conns.values()) for (const c of m.values()) if (c.state === 'SYN_SENT' && (c.remoteIp === ip || gateway(c.remoteIp))) victims.push(c);
    for (const c of victims) c.finish('EHOSTUNREACH');
  }

  /**
   * ICMP fragmentation needed quoting one of our segments (Linux `tcp_v4_err`): `quote` is the
   * IPv4 header and at least 8 bytes of the TCP header we sent. The quoted sequence number must
   * lie in [snd_una, snd_nxt] (else the ICMP is out of window and ignored, LINUX_MIB_OUTOFWINDOWICMPS);
   * listeners ignore it. Returns whether a connection took the new MTU.
   */
  fragNeeded(quote: Uint8Array, mtu: number): boolean {
    const ihl = (quote[0]! & 0x0f) * 4;
    if (quote.length < ihl + 8 || quote[9] !== 6) return false;
    const rd = (o: number): number => ((quote[o]! << 24) | (quote[o + 1]! << 16) | (quote[o + 2]! << 8) | quote[o + 3]!) >>> 0;
    const dst = rd(16);
    const sport = (quote[ihl]! << 8) | quote[ihl + 1]!;
    const dport = (quote[ihl + 2]! << 8) | quote[ihl + 3]!;
    const c = this.conns.get(sport)?.get(dst * 65536 + dport);
    if (c === undefined || !c.seqInFlight(rd(ihl + 4))) return false;
    return c.mtuReduced(mtu);
  }

  /** One TCP segment from the IP layer: `buf[off, off + len)` is the whole segment. `ecn` = IP ECN bits. */
  input(src: number, dst: number, buf: Uint8Array, off: number, len: number, ecn: number): void {
    this.counters.segs_in++;
    if (len < 20) {
      this.counters.bad_header++;
      return;
    }
    if (!isIntact(buf, (buf[off + 16]! << 8) | buf[off + 17]!) && finish(sumBytes(buf, off, off + len, pseudoHeaderV4(src, dst, 6, len))) !== 0) {
      this.counters.bad_checksum++;
      return;
    }
    const hl = (buf[off + 12]! >>> 4) * 4;
    if (hl < 20 || hl > len) {
      this.counters.bad_header++;
      return;
    }
    const sport = (buf[off]! << 8) | buf[off + 1]!;
    const dport = (buf[off + 2]! << 8) | buf[off + 3]!;
    if (sport === 0 || dport === 0) {
      this.counters.bad_header++;
      return;
    }
    // One reused record per nesting level (a reply can come back synchronously over a
    // zero-delay port pair while this segment is still being processed).
    const depth = this.inputDepth;
    const seg = this.segPool[depth] ?? (this.segPool[depth] = newInSeg());
    seg.seq = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
    seg.ack = ((buf[off + 8]! << 24) | (buf[off + 9]! << 16) | (buf[off + 10]! << 8) | buf[off + 11]!) >>> 0;
    seg.flags = buf[off + 13]!;
    seg.wnd = (buf[off + 14]! << 8) | buf[off + 15]!;
    seg.buf = buf;
    seg.dataOff = off + hl;
    seg.dataLen = len - hl;
    seg.optStart = off + 20;
    seg.optEnd = off + hl;
    seg.ce = ecn === 3;
    this.inputDepth = depth + 1;
    try {
      this.dispatch(src, dst, sport, dport, seg, len - hl);
    } finally {
      this.inputDepth = depth;
      seg.buf = EMPTY; // do not keep the frame alive
    }
  }

  private dispatch(src: number, dst: number, sport: number, dport: number, seg: InSeg, dataLen: number): void {
    const buf = seg.buf;
    // The connection of the previous segment first (a bulk flow hits it every time).
    let c: TcpConnection | undefined = this.lastConn ?? undefined;
    if (c === undefined || c.localPort !== dport || c.remotePort !== sport || c.remoteIp !== src) {
      c = this.conns.get(dport)?.get(src * 65536 + sport);
      if (c !== undefined) this.lastConn = c;
    }
    if (c !== undefined) {
      c.input(seg);
      return;
    }
    const f = seg.flags;
    const l = this.listeners.get(dport);
    if (l !== undefined && (f & (SYN | ACK | RST)) === SYN) {
      if (l.pending >= l.backlog) {
        this.counters.syn_dropped_backlog++;
        return;
      }
      const o = parseOptions(buf, seg.optStart, seg.optEnd, true, this.opts);
      const nc = new TcpConnection(this, l.cfg, { ip: dst, port: dport }, { ip: src, port: sport }, this.prng.nextU32(), this.prng.nextU32());
      let m = this.conns.get(dport);
      if (m === undefined) this.conns.set(dport, (m = new Map<number, TcpConnection>()));
      m.set(src * 65536 + sport, nc);
      this.connCount++;
      l.pending++;
      this.origin.set(nc, l);
      nc.acceptSyn(seg, o);
      return;
    }
    this.counters.no_socket++;
    if (f & RST) return;
    this.sendReset(src, dst, sport, dport, seg, dataLen);
  }

  /** RFC 9293 §3.10.7.1: RST for a segment no connection owns. */
  private sendReset(src: number, dst: number, sport: number, dport: number, seg: InSeg, dataLen: number): void {
    const l4 = 20;
    const buf = this.ip.allocate(l4);
    const at = this.ip.headroom;
    let seq = 0;
    let ack = 0;
    let flags = RST;
    if (seg.flags & ACK) seq = seg.ack;
    else {
      ack = (seg.seq + dataLen + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0)) >>> 0;
      flags |= ACK;
    }
    const w = (o: number, v: number, n: number): void => {
      for (let i = n - 1; i >= 0; i--) {
        buf[at + o + i] = v & 0xff;
        v = Math.floor(v / 256);
      }
    };
    w(0, dport, 2);
    w(2, sport, 2);
    w(4, seq, 4);
    w(8, ack, 4);
    buf[at + 12] = 5 << 4;
    buf[at + 13] = flags;
    const c = finish(sumBytes(buf, at, at + l4, pseudoHeaderV4(dst, src, 6, l4)));
    buf[at + 16] = c >>> 8;
    buf[at + 17] = c & 0xff;
    this.counters.rst_sent++;
    this.ip.output(buf, dst, src, l4, 0);
  }
}
