/**
 * The state one TCP connection carries, shared by the modules that act on it.
 *
 * Design
 * - A connection is one object whose behaviour is split by concern along a class chain, each
 *   link in its own file: `ConnectionBase` (this file: fields, constructor, sequence-space
 *   helpers, option negotiation) → `ConnectionTimers` (timers.ts) → `ConnectionSend` (send.ts:
 *   building segments, tcp_write_xmit) → `ConnectionRecovery` (recovery.ts: ACK processing,
 *   SACK scoreboard, loss recovery, RTO expiry, path MTU) → `ConnectionReceive` (receive.ts:
 *   in-order delivery, receive window, delayed ACK) → `TcpConnection` (connection.ts: socket
 *   API and the RFC 9293 state machine on input). Calls that go "down" the chain are declared
 *   abstract here. Every instance has the same final class, so property access stays
 *   monomorphic and the split costs nothing at run time.
 * - Sequence space is kept as stream offsets (SYN = 0, data byte i = 1 + i, FIN after the data);
 *   wire numbers are `(iss + offset) mod 2^32` and are converted back relative to the current
 *   edge, so wrap-around never reaches the logic (RFC 9293 §3.4 comparisons in one place).
 *
 * Invariants: in-flight = packets_out − sacked_out − lost_out + retrans_out (Linux
 * `tcp_packets_in_flight`); the segments in `segs[segHead..]` are exactly those counted.
 */
import type { Simulation } from '../sim/simulation.js';
import type { EventId } from '../sim/queue.js';
import { makeCc, type CcState, type CongestionControl } from './cc.js';
import { Reassembly, SendBuffer } from './buffers.js';
import type { ParsedOptions } from './options.js';
import type { TcpConfig, TcpError, TcpIpLayer, TcpState, TcpInfo } from './types.js';
import type { TcpConnection } from './connection.js';

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const ECE = 0x40;
export const CWR = 0x80;

/** What a stack gives each connection. */
export interface ConnectionHost {
  readonly sim: Simulation;
  readonly ip: TcpIpLayer;
  /** Called once when the connection is fully closed (remove from the demux table). */
  release(c: TcpConnection): void;
  /** Called when a passive connection reaches ESTABLISHED. */
  accepted(c: TcpConnection): void;
}

/** One segment in flight (the scoreboard entry). */
export interface Seg {
  start: number;
  end: number;
  sentAt: number;
  retrans: boolean;
  sacked: boolean;
  lost: boolean;
  /** Ever retransmitted (Karn: no RTT sample). */
  everRetrans: boolean;
}

/** Parsed fields of one incoming segment (filled by the stack). */
export interface InSeg {
  seq: number;
  ack: number;
  flags: number;
  wnd: number;
  buf: Uint8Array;
  dataOff: number;
  dataLen: number;
  optStart: number;
  optEnd: number;
  ce: boolean;
}

export abstract class ConnectionBase {
  state: TcpState = 'CLOSED';
  readonly cfg: TcpConfig;
  protected readonly host: ConnectionHost;
  protected readonly sim: Simulation;
  readonly localIp: number;
  readonly localPort: number;
  readonly remoteIp: number;
  readonly remotePort: number;

  // --- callbacks (the socket API) ---
  /** The handshake completed (active open). */
  onConnect: (() => void) | null = null;
  /** In-order bytes arrived. With a handler set (and not paused) data is consumed as it arrives. */
  onData: ((chunk: Uint8Array) => void) | null = null;
  /** Data is waiting in the receive queue (paused or no `onData`): call `read()`. */
  onReadable: (() => void) | null = null;
  /** Send-buffer space became available after `write` accepted less than asked. */
  onDrain: (() => void) | null = null;
  /** The peer sent FIN (no more data will arrive). */
  onEnd: (() => void) | null = null;
  /** The connection is gone: `null` for an orderly close, else why. Called once. */
  onClose: ((err: TcpError | null) => void) | null = null;

  // --- send side (stream offsets) ---
  protected iss: number;
  protected sndUna = 0;
  protected sndNxt = 0;
  protected sndMax = 0;
  protected sndWnd = 0;
  protected sndWl1 = 0;
  protected sndWl2 = 0;
  protected readonly sbuf = new SendBuffer(1);
  protected finQueued = false;
  protected finOff = -1;
  protected wantDrain = false;
  protected sndBufSize: number;
  protected readonly segs: Seg[] = [];
  protected segHead = 0;
  /**
   * Stream offset below which every segment in the scoreboard is SACKed, lost or retransmitted
   * (so the RFC 6675 IsLost walk need not go lower). Flags only ever move a segment into that
   * set (SACK clears `lost` but sets `sacked`; RTO sets `lost` on all un-SACKed ones).
   */
  protected lossScanFloor = 0;
  /** Records of acknowledged segments, reused by the next sends (bounded). */
  protected readonly segFree: Seg[] = [];
  protected packetsOut = 0;
  protected sackedOut = 0;
  protected lostOut = 0;
  protected retransOut = 0;
  protected dupAcks = 0;
  protected caState: TcpInfo['ca_state'] = 'open';
  protected recoverPoint = 0;
  protected highSacked = 0;
  protected cwndLimited = false;
  /** End of the last sub-MSS segment sent (Linux snd_sml). */
  protected sndSml = 0;
  /** RFC 6937 PRR state (Linux tcp_cwnd_reduction). */
  protected prrDelivered = 0;
  protected prrOut = 0;
  protected recoverFs = 0;
  /** RFC 8985 RACK: send time and RTT of the most recently sent segment known delivered. */
  protected rackXmit = -1;
  protected rackRtt = 0;
  /** Segments newly SACKed by the ACK being processed. */
  protected newlySacked = 0;
  /**
   * The valid SACK blocks of the last ACK that carried any, as [start, end) stream offsets (Linux
   * recv_sack_cache): every scoreboard segment lying wholly inside one of them is SACKed, so the
   * next ACK's walk skips those ranges (a block that grows by one segment per ACK costs O(1), not
   * O(block)). Cleared when segments change shape (fragment, partial ACK of an unSACKed head,
   * path MTU split), since a reshaped segment may newly lie inside a cached block.
   */
  protected readonly sackCache: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
  protected sackCacheN = 0;
  protected readonly cc: CongestionControl;
  protected readonly ccs: CcState;
  protected srtt = 0;
  protected rttvar = 0;
  protected rto: number;
  protected backoff = 0;
  protected retries = 0;
  sndMss = 536;
  protected mssOpt = 0;
  /** The path MTU the send MSS is sized for (Linux icsk_pmtu_cookie). */
  protected pmtu = 1500;
  /** The peer's MSS option (Linux rx_opt.mss_clamp). */
  protected peerMss = 536;

  // --- receive side ---
  protected irs = 0;
  protected rcvNxt = 0;
  protected rcvWup = 0;
  protected rcvAdvRight = 0;
  protected rcvSsthresh = 0;
  protected rcvWndClamp = 0;
  protected readonly reasm = new Reassembly();
  protected rcvQueue: Uint8Array[] = [];
  protected rcvQueued = 0;
  protected paused = false;
  protected rcvMss = 536;
  protected quickAcks = 0;
  protected ackPending = false;
  protected finReceived = false;
  protected appClosed = false;

  // --- options negotiated ---
  protected sackOk = false;
  protected tsOk = false;
  protected tsRecent = 0;
  protected tsOffset: number;
  protected sndWscale = 0;
  protected rcvWscale = 0;
  protected ecnOk = false;
  protected eceToSend = false;
  protected cwrToSend = false;
  protected cwrPoint = 0;
  protected synOpts: { mss: number; sack: boolean; ts: boolean; wscale: boolean; ecn: boolean } | null = null;

  // --- timers ---
  protected rtoDeadline = 0;
  protected rtoEvent: EventId | null = null;
  protected delackDeadline = 0;
  protected delackEvent: EventId | null = null;
  protected twEvent: EventId | null = null;

  // --- counters ---
  protected stats = { total_retrans: 0, timeouts: 0, recoveries: 0, bytes_sent: 0, bytes_acked: 0, bytes_received: 0, segs_out: 0, segs_in: 0 };
  protected closedNotified = false;

  // --- per-ACK scratch and handshake bookkeeping ---
  protected lastAcked = 0;
  protected inAck = false;
  protected pendingFinOff = -1;
  protected synSentAt = 0;


  constructor(host: ConnectionHost, cfg: TcpConfig, local: { ip: number; port: number }, remote: { ip: number; port: number }, isn: number, tsOffset: number) {
    this.host = host;
    this.sim = host.sim;
    this.cfg = cfg;
    this.localIp = local.ip;
    this.localPort = local.port;
    this.remoteIp = remote.ip;
    this.remotePort = remote.port;
    this.iss = isn >>> 0;
    this.tsOffset = tsOffset >>> 0;
    this.sndBufSize = cfg.sndBuf;
    this.rto = cfg.initRtoNs;
    this.cc = makeCc(cfg.cc, { hystart: cfg.hystart });
    this.ccs = { cwnd: cfg.initCwnd, ssthresh: 0x7fffffff, cwndCnt: 0, minRttNs: 0, now: 0 };
    const route = host.ip.route(remote.ip);
    const mtu = route?.mtu ?? 1500;
    this.pmtu = mtu;
    this.mssOpt = Math.min(cfg.mss ?? mtu - 40, mtu - 40);
    // tcp_select_initial_window: wscale so the largest window fits 16 bits.
    this.rcvWscale = cfg.windowScaling ? Math.min(14, Math.max(0, Math.floor(Math.log2(cfg.rcvBuf)) - 15)) : 0;
    this.rcvWndClamp = cfg.windowScaling ? Math.max(cfg.rcvBuf >> 1, 2 * this.mssOpt) : Math.min(65535, cfg.rcvBuf >> 1);
  }

  // --- implemented further down the chain (timers → send → recovery → receive → connection) ---
  abstract output(): void;
  abstract finish(err: TcpError | null): void;
  abstract end(): void;
  protected abstract armRto(): void;
  protected abstract stopRto(): void;
  protected abstract currentRto(): number;
  protected abstract scheduleDelack(): void;
  protected abstract startTimeWait(): void;
  protected abstract onTimeout(): void;
  protected abstract sendSyn(synAck: boolean): void;
  protected abstract sendControl(flags: number, seqOff: number): void;
  protected abstract sendRstFor(ack: number): void;
  protected abstract retransmit(s: Seg): void;
  protected abstract windowField(): number;
  protected abstract rcvWindow(): number;
  protected abstract processData(seqOff: number, buf: Uint8Array, dataOff: number, len: number, fin: boolean): void;
  protected abstract maybeWindowUpdate(): void;
  protected abstract deliverQueued(): void;
  protected abstract ackedFinCheck(ackOff: number): void;

  // ===============================================================================================
  // Shared helpers: state tests, sequence-space conversions, option negotiation

  /** Index of the first scoreboard segment (at or after `segHead`) starting at or after stream offset `off`. */
  protected segIndexFrom(off: number): number {
    const segs = this.segs;
    let lo = this.segHead;
    let hi = segs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (segs[mid]!.start < off) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  protected canSend(): boolean {
    const s = this.state;
    return s === 'SYN_SENT' || s === 'SYN_RECEIVED' || s === 'ESTABLISHED' || s === 'CLOSE_WAIT';
  }

  protected wireSnd(off: number): number {
    return (this.iss + off) >>> 0;
  }
  protected wireRcv(off: number): number {
    return (this.irs + off) >>> 0;
  }
  /** Incoming sequence number as a receive offset, near rcv_nxt. */
  protected rcvOff(seq: number): number {
    return this.rcvNxt + ((seq - this.wireRcv(this.rcvNxt)) | 0);
  }
  /** Incoming acknowledgment number as a send offset, near snd_una. */
  protected sndOff(ack: number): number {
    return this.sndUna + ((ack - this.wireSnd(this.sndUna)) | 0);
  }
  protected tsNow(): number {
    // Linux TSval: a millisecond clock plus a per-connection random offset (tcp_timestamps = 1).
    return (Math.floor(this.sim.now / 1e6) + this.tsOffset) >>> 0;
  }

  protected negotiate(o: ParsedOptions, _passive: boolean): void {
    const cfg = this.cfg;
    this.sackOk = cfg.sack && o.sackPerm;
    this.tsOk = cfg.timestamps && o.hasTs;
    // RFC 7323 §2.2: scaling applies only when both SYNs carried the option.
    if (cfg.windowScaling && o.wscale >= 0) this.sndWscale = o.wscale;
    else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
    const peerMss = o.mss > 0 ? o.mss : 536;
    this.peerMss = peerMss;
    const tsLen = this.tsOk ? 12 : 0;
    this.sndMss = Math.max(64, Math.min(peerMss, this.mssOpt, this.pmtu - 40) - tsLen);
    this.rcvMss = Math.max(64, this.mssOpt - tsLen);
    if (this.rcvWscale === 0) this.rcvWndClamp = Math.min(this.rcvWndClamp, 65535);
    this.quickAcks = this.cfg.delayedAck ? this.cfg.quickAcks : 0;
  }

  /** tcp_select_initial_window: 64 KiB rounded down to the MSS the SYN is sized for. */
  protected initRcvWindow(passive: boolean): void {
    const m = passive ? this.rcvMss : this.mssOpt;
    this.rcvSsthresh = Math.min(Math.floor(65535 / m) * m, this.rcvWndClamp);
    this.rcvAdvRight = this.rcvNxt + this.rcvSsthresh;
  }

  protected inFlight(): number {
    return this.packetsOut - this.sackedOut - this.lostOut + this.retransOut;
  }
}
