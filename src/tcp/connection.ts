/**
 * One TCP connection (RFC 9293) with Linux's default behaviour: the socket a guest app or a host
 * endpoint (migration stream, NBD) uses.
 *
 * Design
 * - Sequence space is kept as stream offsets (SYN = 0, data byte i = 1 + i, FIN after the data);
 *   wire numbers are `(iss + offset) mod 2^32` and are converted back relative to the current
 *   edge, so wrap-around never reaches the logic (RFC 9293 §3.4 comparisons in one place).
 * - Sender: a scoreboard of segments in flight (one MSS each) with Linux's counters
 *   (`packets_out`, `sacked_out`, `lost_out`, `retrans_out`; in-flight = out − sacked − lost +
 *   retrans, `tcp_packets_in_flight`). Loss recovery is RFC 6675 (SACK) or RFC 6582 (NewReno
 *   partial ACKs) entered on three duplicate ACKs or when SACK shows three segments above a hole;
 *   cwnd is set to ssthresh on entry (RFC 6675 §5; Linux spreads this with PRR, RFC 6937, which
 *   is not modelled). RTO per RFC 6298 with Linux's floor: RTO = SRTT + max(4·RTTVAR, 200 ms),
 *   1 s initially, doubled per back-off, at most 120 s; on expiry everything un-SACKed is lost
 *   and cwnd = 1 (Linux `tcp_enter_loss`).
 * - Receiver: delayed ACKs as Linux `__tcp_ack_snd_check` (ACK when more than one full segment
 *   arrived since the last ACK, else a 40 ms timer; 16 quick ACKs at the start; immediate ACK
 *   for out-of-order data, duplicates and FIN), SACK blocks, timestamps (RFC 7323 PAWS and
 *   TS.Recent), window scale 7 for a 6 MiB buffer; the window starts at 64 KiB rounded to the
 *   MSS and grows by 2 MSS per in-order segment up to half the buffer (Linux `tcp_grow_window`
 *   and `tcp_adv_win_scale = 1`, without the truesize accounting); the right edge never moves
 *   left (RFC 9293 §3.8.6.2.2).
 * - Timers are lazy: one event per timer kind is pending at most; moving a deadline later costs
 *   nothing, the event re-arms itself when it fires early.
 *
 * Costs: O(1) per in-order segment; SACK processing walks the scoreboard (O(segments in flight)).
 */
import type { Simulation } from '../sim/simulation.js';
import type { EventId } from '../sim/queue.js';
import { finish, pseudoHeaderV4, sumBytes } from '../wire/checksum.js';
import { makeCc, type CcState, type CongestionControl } from './cc.js';
import { Reassembly, SendBuffer } from './buffers.js';
import { markIntact } from './payload.js';
import { newParsedOptions, parseOptions, segOptionsLen, synOptionsLen, writeSegOptions, writeSynOptions, type ParsedOptions } from './options.js';
import type { TcpConfig, TcpError, TcpInfo, TcpIpLayer, TcpState } from './types.js';

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

interface Seg {
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

const scratchOpts: ParsedOptions = newParsedOptions();
const sackScratch: number[] = [0, 0, 0, 0, 0, 0, 0, 0];

export class TcpConnection {
  state: TcpState = 'CLOSED';
  readonly cfg: TcpConfig;
  private readonly host: ConnectionHost;
  private readonly sim: Simulation;
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
  private iss: number;
  private sndUna = 0;
  private sndNxt = 0;
  private sndMax = 0;
  private sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private readonly sbuf = new SendBuffer(1);
  private finQueued = false;
  private finOff = -1;
  private wantDrain = false;
  private sndBufSize: number;
  private readonly segs: Seg[] = [];
  private segHead = 0;
  private packetsOut = 0;
  private sackedOut = 0;
  private lostOut = 0;
  private retransOut = 0;
  private dupAcks = 0;
  private caState: TcpInfo['ca_state'] = 'open';
  private recoverPoint = 0;
  private highSacked = 0;
  private cwndLimited = false;
  /** End of the last sub-MSS segment sent (Linux snd_sml). */
  private sndSml = 0;
  /** RFC 6937 PRR state (Linux tcp_cwnd_reduction). */
  private prrDelivered = 0;
  private prrOut = 0;
  private recoverFs = 0;
  /** RFC 8985 RACK: send time and RTT of the most recently sent segment known delivered. */
  private rackXmit = -1;
  private rackRtt = 0;
  /** Segments newly SACKed by the ACK being processed. */
  private newlySacked = 0;
  private readonly cc: CongestionControl;
  private readonly ccs: CcState;
  private srtt = 0;
  private rttvar = 0;
  private rto: number;
  private backoff = 0;
  private retries = 0;
  sndMss = 536;
  private mssOpt = 0;
  /** The path MTU the send MSS is sized for (Linux icsk_pmtu_cookie). */
  private pmtu = 1500;
  /** The peer's MSS option (Linux rx_opt.mss_clamp). */
  private peerMss = 536;

  // --- receive side ---
  private irs = 0;
  private rcvNxt = 0;
  private rcvWup = 0;
  private rcvAdvRight = 0;
  private rcvSsthresh = 0;
  private rcvWndClamp = 0;
  private readonly reasm = new Reassembly();
  private rcvQueue: Uint8Array[] = [];
  private rcvQueued = 0;
  private paused = false;
  private rcvMss = 536;
  private quickAcks = 0;
  private ackPending = false;
  private finReceived = false;
  private appClosed = false;

  // --- options negotiated ---
  private sackOk = false;
  private tsOk = false;
  private tsRecent = 0;
  private tsOffset: number;
  private sndWscale = 0;
  private rcvWscale = 0;
  private ecnOk = false;
  private eceToSend = false;
  private cwrToSend = false;
  private cwrPoint = 0;
  private synOpts: { mss: number; sack: boolean; ts: boolean; wscale: boolean; ecn: boolean } | null = null;

  // --- timers ---
  private rtoDeadline = 0;
  private rtoEvent: EventId | null = null;
  private delackDeadline = 0;
  private delackEvent: EventId | null = null;
  private twEvent: EventId | null = null;

  // --- counters ---
  private stats = { total_retrans: 0, timeouts: 0, recoveries: 0, bytes_sent: 0, bytes_acked: 0, bytes_received: 0, segs_out: 0, segs_in: 0 };
  private closedNotified = false;

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

  // ===============================================================================================
  // Socket API

  /** Active open: sends the SYN. */
  connect(): void {
    this.state = 'SYN_SENT';
    this.synOpts = { mss: this.mssOpt, sack: this.cfg.sack, ts: this.cfg.timestamps, wscale: this.cfg.windowScaling, ecn: this.cfg.ecn };
    this.sndNxt = 1;
    this.sndMax = 1;
    this.sendSyn(false);
    this.armRto();
  }

  /** Passive open from a listener: the SYN in `seg` was accepted; sends the SYN-ACK. */
  acceptSyn(seg: InSeg, o: ParsedOptions): void {
    this.state = 'SYN_RECEIVED';
    this.irs = seg.seq;
    this.rcvNxt = 1;
    this.rcvWup = 1;
    this.negotiate(o, true);
    // RFC 3168 §6.1.1: ECE|CWR on the SYN asks for ECN; Linux's default tcp_ecn = 2 accepts it.
    this.ecnOk = (seg.flags & (ECE | CWR)) === (ECE | CWR);
    this.synOpts = { mss: this.mssOpt, sack: this.sackOk, ts: this.tsOk, wscale: o.wscale >= 0 && this.cfg.windowScaling, ecn: this.ecnOk };
    if (o.hasTs) this.tsRecent = o.tsVal;
    this.sndWnd = seg.wnd; // SYN windows are never scaled
    this.sndWl1 = seg.seq;
    this.sndWl2 = this.iss;
    this.sndNxt = 1;
    this.sndMax = 1;
    this.initRcvWindow(true);
    this.sendSyn(true);
    this.armRto();
  }

  /** Bytes `write` would accept now. */
  get writable(): number {
    if (this.finQueued || !this.canSend()) return 0;
    return Math.max(0, this.sndBufSize - this.sbuf.bytes);
  }

  /**
   * Queues bytes to send; returns how many were accepted (bounded by the send buffer). When fewer
   * than `data.length` were taken, `onDrain` fires once space frees. The chunk is kept by
   * reference until acknowledged: do not modify it afterwards.
   */
  write(data: Uint8Array): number {
    if (this.finQueued || !this.canSend()) return 0;
    const room = Math.max(0, this.sndBufSize - this.sbuf.bytes);
    const n = Math.min(room, data.length);
    if (n < data.length) this.wantDrain = true;
    if (n === 0) return 0;
    this.sbuf.push(n === data.length ? data : data.subarray(0, n));
    if (this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT') this.output();
    return n;
  }

  /** Half-close: FIN after the queued data (shutdown(SHUT_WR)). */
  end(): void {
    if (this.finQueued) return;
    if (this.state === 'CLOSED' || this.state === 'TIME_WAIT') return;
    if (this.state === 'SYN_SENT') {
      this.finish(null);
      return;
    }
    this.finQueued = true;
    this.finOff = this.sbuf.end;
    if (this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT') this.output();
  }

  /** close(): FIN after queued data, and incoming data is discarded; unread data means RST (RFC 2525 §2.17, Linux tcp_close). */
  close(): void {
    this.appClosed = true;
    this.onData = null;
    if (this.rcvQueued > 0) {
      this.abort();
      return;
    }
    this.end();
  }

  /** Sends RST and forgets the connection (SO_LINGER 0). */
  abort(): void {
    if (this.state === 'CLOSED') return;
    if (this.state !== 'SYN_SENT' && this.state !== 'TIME_WAIT') this.sendControl(RST | ACK, this.sndNxt);
    this.finish(null);
  }

  /** Stops delivering data to `onData`; the window closes as the receive buffer fills. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.deliverQueued();
  }

  /** Takes up to `max` queued bytes (for readers without `onData`). */
  read(max = Number.MAX_SAFE_INTEGER): Uint8Array | null {
    if (this.rcvQueued === 0) return null;
    let want = Math.min(max, this.rcvQueued);
    const parts: Uint8Array[] = [];
    while (want > 0) {
      const c = this.rcvQueue[0]!;
      if (c.length <= want) {
        parts.push(c);
        this.rcvQueue.shift();
        want -= c.length;
      } else {
        parts.push(c.subarray(0, want));
        this.rcvQueue[0] = c.subarray(want);
        want = 0;
      }
    }
    const out = parts.length === 1 ? parts[0]! : concat(parts);
    this.rcvQueued -= out.length;
    this.maybeWindowUpdate();
    return out;
  }

  /** Bytes waiting in the receive queue. */
  get readable(): number {
    return this.rcvQueued;
  }

  setNoDelay(on: boolean): void {
    this.cfg.nagle = !on;
    this.output();
  }

  info(): TcpInfo {
    return {
      state: this.state,
      snd_cwnd: this.ccs.cwnd,
      snd_cwnd_bytes: this.ccs.cwnd * this.sndMss,
      snd_ssthresh: this.ccs.ssthresh,
      srtt_ns: Math.round(this.srtt),
      rttvar_ns: Math.round(this.rttvar),
      rto_ns: this.currentRto(),
      snd_mss: this.sndMss,
      rcv_mss: this.rcvMss,
      ...this.stats,
      snd_wnd: this.sndWnd,
      rcv_wnd: Math.max(0, this.rcvAdvRight - this.rcvNxt),
      unacked_bytes: Math.max(0, this.sbuf.end - this.sndUna),
      ca_state: this.caState,
      cc: this.cc.name,
      sack: this.sackOk,
      timestamps: this.tsOk,
      wscale_snd: this.sndWscale,
      wscale_rcv: this.rcvWscale,
      ecn: this.ecnOk,
    };
  }

  private canSend(): boolean {
    const s = this.state;
    return s === 'SYN_SENT' || s === 'SYN_RECEIVED' || s === 'ESTABLISHED' || s === 'CLOSE_WAIT';
  }

  // ===============================================================================================
  // Wire helpers

  private wireSnd(off: number): number {
    return (this.iss + off) >>> 0;
  }
  private wireRcv(off: number): number {
    return (this.irs + off) >>> 0;
  }
  /** Incoming sequence number as a receive offset, near rcv_nxt. */
  private rcvOff(seq: number): number {
    return this.rcvNxt + ((seq - this.wireRcv(this.rcvNxt)) | 0);
  }
  /** Incoming acknowledgment number as a send offset, near snd_una. */
  private sndOff(ack: number): number {
    return this.sndUna + ((ack - this.wireSnd(this.sndUna)) | 0);
  }
  private tsNow(): number {
    // Linux TSval: a millisecond clock plus a per-connection random offset (tcp_timestamps = 1).
    return (Math.floor(this.sim.now / 1e6) + this.tsOffset) >>> 0;
  }

  private negotiate(o: ParsedOptions, _passive: boolean): void {
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
  private initRcvWindow(passive: boolean): void {
    const m = passive ? this.rcvMss : this.mssOpt;
    this.rcvSsthresh = Math.min(Math.floor(65535 / m) * m, this.rcvWndClamp);
    this.rcvAdvRight = this.rcvNxt + this.rcvSsthresh;
  }

  /** The window to advertise now, in bytes (before scaling). */
  private rcvWindow(): number {
    const free = Math.max(0, (this.cfg.rcvBuf >> 1) - this.rcvQueued - this.reasm.bytes);
    let w = Math.min(this.rcvSsthresh, free, this.rcvWndClamp);
    // Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): do not offer less than one MSS.
    if (w < this.rcvMss && w < (this.cfg.rcvBuf >> 2)) w = 0;
    const gran = 1 << this.rcvWscale;
    w = Math.floor(w / gran) * gran;
    // Never shrink the right edge.
    const old = this.rcvAdvRight - this.rcvNxt;
    if (w < old) w = old;
    return Math.min(w, 65535 * gran);
  }

  private allocSeg(optLen: number, payloadLen: number): { buf: Uint8Array; at: number; l4: number } {
    const l4 = 20 + optLen + payloadLen;
    const buf = this.host.ip.allocate(l4);
    return { buf, at: this.host.ip.headroom, l4 };
  }

  private writeHeader(buf: Uint8Array, at: number, seq: number, ack: number, hdrLen: number, flags: number, wnd: number): void {
    buf[at] = this.localPort >>> 8;
    buf[at + 1] = this.localPort & 0xff;
    buf[at + 2] = this.remotePort >>> 8;
    buf[at + 3] = this.remotePort & 0xff;
    buf[at + 4] = seq >>> 24;
    buf[at + 5] = (seq >>> 16) & 0xff;
    buf[at + 6] = (seq >>> 8) & 0xff;
    buf[at + 7] = seq & 0xff;
    buf[at + 8] = ack >>> 24;
    buf[at + 9] = (ack >>> 16) & 0xff;
    buf[at + 10] = (ack >>> 8) & 0xff;
    buf[at + 11] = ack & 0xff;
    buf[at + 12] = (hdrLen >>> 2) << 4;
    buf[at + 13] = flags;
    buf[at + 14] = wnd >>> 8;
    buf[at + 15] = wnd & 0xff;
  }

  /** Checksums `buf[at, at + sumLen)` plus `extraSum` (bytes already summed) and sends `l4` bytes. */
  private transmit(buf: Uint8Array, at: number, sumLen: number, ect: boolean, extraSum = 0, l4 = sumLen): void {
    const sum = sumBytes(buf, at, at + sumLen, pseudoHeaderV4(this.localIp, this.remoteIp, 6, l4) + extraSum);
    const c = finish(sum);
    buf[at + 16] = c >>> 8;
    buf[at + 17] = c & 0xff;
    markIntact(buf, c);
    this.stats.segs_out++;
    this.host.ip.output(buf, this.localIp, this.remoteIp, l4, ect ? 2 : 0);
  }

  /** The window field for a non-SYN segment, and book-keeping of what was advertised. */
  private windowField(): number {
    const w = this.rcvWindow();
    this.rcvAdvRight = this.rcvNxt + w;
    return w >>> this.rcvWscale;
  }

  private sendSyn(synAck: boolean): void {
    const so = this.synOpts!;
    const ts = so.ts ? { val: this.tsNow(), ecr: synAck ? this.tsRecent : 0 } : null;
    const o = { mss: so.mss, sackPerm: so.sack, ts, wscale: so.wscale ? this.rcvWscale : null };
    const optLen = synOptionsLen(o);
    const { buf, at, l4 } = this.allocSeg(optLen, 0);
    let flags = SYN;
    if (synAck) flags |= ACK;
    if (so.ecn) flags |= synAck ? ECE : ECE | CWR;
    if (!synAck) this.initRcvWindow(false);
    this.synSentAt = this.sim.now;
    const wnd = Math.min(65535, this.rcvAdvRight - this.rcvNxt); // RFC 7323 §2.2: SYN windows unscaled
    this.writeHeader(buf, at, this.wireSnd(0), synAck ? this.wireRcv(this.rcvNxt) : 0, 20 + optLen, flags, wnd);
    writeSynOptions(buf, at + 20, o);
    this.transmit(buf, at, l4, false);
  }

  /** A segment without data: ACK, FIN, RST. */
  private sendControl(flags: number, seqOff: number): void {
    const ts = this.tsOk && (flags & RST) === 0;
    const sackN = (flags & RST) === 0 && this.sackOk && !this.reasm.empty ? this.reasm.sackBlocks(ts ? 3 : 4, sackScratch) : 0;
    const optLen = segOptionsLen(ts, sackN);
    const { buf, at, l4 } = this.allocSeg(optLen, 0);
    if (this.eceToSend && (flags & ACK)) flags |= ECE;
    const wnd = (flags & RST) !== 0 ? 0 : this.windowField();
    this.writeHeader(buf, at, this.wireSnd(seqOff), (flags & ACK) ? this.wireRcv(this.rcvNxt) : 0, 20 + optLen, flags, wnd);
    if (optLen > 0) {
      for (let k = 0; k < sackN; k++) {
        sackScratch[2 * k] = this.wireRcv(sackScratch[2 * k]!);
        sackScratch[2 * k + 1] = this.wireRcv(sackScratch[2 * k + 1]!);
      }
      writeSegOptions(buf, at + 20, ts, this.tsNow(), this.tsRecent, sackScratch, sackN);
    }
    if (flags & ACK) this.ackSent();
    this.transmit(buf, at, l4, false);
  }

  /** A data segment [start, end) (FIN added when it ends at the FIN offset and FIN is queued). */
  private sendData(start: number, end: number, retrans: boolean): void {
    const ts = this.tsOk;
    const sackN = this.sackOk && !this.reasm.empty ? this.reasm.sackBlocks(ts ? 3 : 4, sackScratch) : 0;
    const optLen = segOptionsLen(ts, sackN);
    const len = end - start;
    const { buf, at, l4 } = this.allocSeg(optLen, len);
    let flags = ACK;
    if (len > 0 && end === this.sbuf.end) flags |= PSH; // Linux tcp_mark_push: last skb of a write
    const withFin = this.finQueued && end === this.finOff;
    if (withFin) flags |= FIN;
    if (this.eceToSend) flags |= ECE;
    if (this.cwrToSend && len > 0 && !retrans) {
      flags |= CWR;
      this.cwrToSend = false;
    }
    this.writeHeader(buf, at, this.wireSnd(start), this.wireRcv(this.rcvNxt), 20 + optLen, flags, this.windowField());
    if (optLen > 0) {
      for (let k = 0; k < sackN; k++) {
        sackScratch[2 * k] = this.wireRcv(sackScratch[2 * k]!);
        sackScratch[2 * k + 1] = this.wireRcv(sackScratch[2 * k + 1]!);
      }
      writeSegOptions(buf, at + 20, ts, this.tsNow(), this.tsRecent, sackScratch, sackN);
    }
    const paySum = len > 0 ? this.sbuf.copyOut(start, len, buf, at + 20 + optLen) : 0;
    this.ackSent();
    if (this.caState === 'recovery') this.prrOut++;
    this.stats.bytes_sent += len;
    // Immutable payloads come with their sum: only the header and options are summed here.
    this.transmit(buf, at, paySum >= 0 ? 20 + optLen : l4, this.ecnOk && len > 0 && !retrans, paySum >= 0 ? paySum : 0, l4);
  }

  private ackSent(): void {
    this.ackPending = false;
    this.rcvWup = this.rcvNxt;
    if (this.quickAcks > 0) this.quickAcks--;
    this.delackDeadline = 0;
  }

  // ===============================================================================================
  // Output (tcp_write_xmit)

  private inFlight(): number {
    return this.packetsOut - this.sackedOut - this.lostOut + this.retransOut;
  }

  /** Sends what cwnd, the peer window, Nagle and the send buffer allow. */
  output(): void {
    if (this.inAck) return; // processAck sends once, after cwnd is final for this ACK
    const st = this.state;
    if (st !== 'ESTABLISHED' && st !== 'CLOSE_WAIT' && st !== 'FIN_WAIT_1' && st !== 'CLOSING' && st !== 'LAST_ACK') return;
    const cwnd = this.ccs.cwnd;
    // Retransmissions first (RFC 6675 NextSeg rule 1).
    if (this.lostOut > this.retransOut) {
      for (let i = this.segHead; i < this.segs.length && this.inFlight() < cwnd; i++) {
        const s = this.segs[i]!;
        if (!s.lost || s.retrans || s.sacked) continue;
        this.retransmit(s);
      }
    }
    const dataEnd = this.sbuf.end;
    const wndRight = this.sndUna + this.sndWnd;
    let sent = false;
    while (this.sndNxt < dataEnd) {
      if (this.inFlight() >= cwnd) {
        this.cwndLimited = true;
        break;
      }
      const len = Math.min(this.sndMss, dataEnd - this.sndNxt);
      // Linux tcp_snd_wnd_test: the whole segment must fit the peer's window (else wait or probe).
      if (this.sndNxt + len > wndRight) break;
      // Nagle (RFC 9293 §3.7.4) with Minshall's variant as Linux (tcp_nagle_check,
      // tcp_minshall_check): a short segment waits only while an earlier short one is unacknowledged.
      if (len < this.sndMss && this.cfg.nagle && this.sndSml > this.sndUna && !(this.finQueued && this.sndNxt + len === this.finOff)) break;
      if (len < this.sndMss) this.sndSml = this.sndNxt + len;
      const start = this.sndNxt;
      const end = start + len;
      const withFin = this.finQueued && end === this.finOff;
      this.sendData(start, end, false);
      this.pushSeg(start, withFin ? end + 1 : end);
      this.sndNxt = withFin ? end + 1 : end;
      if (this.sndNxt > this.sndMax) this.sndMax = this.sndNxt;
      sent = true;
      if (withFin) this.finSent();
    }
    // A bare FIN when all data is out.
    if (this.finQueued && this.sndNxt === this.finOff && this.sndNxt === this.sbuf.end) {
      this.sendControl(FIN | ACK, this.sndNxt);
      this.pushSeg(this.sndNxt, this.sndNxt + 1);
      this.sndNxt++;
      if (this.sndNxt > this.sndMax) this.sndMax = this.sndNxt;
      sent = true;
      this.finSent();
    }
    if (sent) {
      if (this.rtoDeadline === 0) this.armRto();
    } else if (this.sndNxt < dataEnd && this.packetsOut === 0 && this.rtoDeadline === 0) {
      // Zero (or too small) window: the persist timer probes (armed on the RTO machinery).
      this.armRto();
    }
  }

  private finSent(): void {
    if (this.state === 'ESTABLISHED') this.state = 'FIN_WAIT_1';
    else if (this.state === 'CLOSE_WAIT') this.state = 'LAST_ACK';
  }

  private pushSeg(start: number, end: number): void {
    this.segs.push({ start, end, sentAt: this.sim.now, retrans: false, sacked: false, lost: false, everRetrans: false });
    this.packetsOut++;
  }

  private retransmit(s: Seg): void {
    const dataEnd = this.finQueued && s.end === this.finOff + 1 ? s.end - 1 : s.end;
    if (dataEnd > s.start) this.sendData(s.start, dataEnd, true);
    else this.sendControl(FIN | ACK, s.start);
    s.retrans = true;
    s.everRetrans = true;
    s.sentAt = this.sim.now;
    this.retransOut++;
    this.stats.total_retrans++;
  }

  // ===============================================================================================
  // Path MTU (RFC 1191; Linux tcp_v4_mtu_reduced, tcp_sync_mss, tcp_simple_retransmit)

  /**
   * ICMP fragmentation needed said the path to the peer carries at most `mtu` bytes. As Linux
   * `tcp_v4_mtu_reduced`: only a drop below the MTU the MSS is sized for counts (icsk_pmtu_cookie),
   * and not with IP_PMTUDISC_PROBE; the MSS shrinks (`tcp_sync_mss`: MTU − 40 − options, at least
   * tcp_min_snd_mss 48), and `tcp_simple_retransmit` marks every unSACKed segment in flight that
   * no longer fits as lost (split here into segments of the new MSS, as the retransmit path's
   * `tcp_fragment` does) and enters Loss without touching cwnd ("we do not increase amount of
   * data in network, but units changed"): ssthresh = tcp_current_ssthresh, recovery ends at snd_nxt.
   * Returns whether the MSS changed.
   */
  /** Whether wire sequence number `seq` lies in [snd_una, snd_nxt] (tcp_v4_err's `between`). */
  seqInFlight(seq: number): boolean {
    const off = this.sndOff(seq);
    return off >= this.sndUna && off <= this.sndNxt;
  }

  mtuReduced(mtu: number): boolean {
    if (this.cfg.pmtuDisc === 'probe') return false;
    const st = this.state;
    if (st === 'CLOSED' || st === 'TIME_WAIT' || mtu >= this.pmtu) return false;
    this.pmtu = mtu;
    if (st === 'SYN_SENT' || st === 'SYN_RECEIVED') return true; // negotiate() sizes the MSS
    const mss = Math.max(48, Math.min(mtu - 40, this.peerMss) - (this.tsOk ? 12 : 0));
    if (mss >= this.sndMss) return false;
    this.sndMss = mss;
    const out: Seg[] = [];
    let marked = 0;
    for (let i = this.segHead; i < this.segs.length; i++) {
      const s = this.segs[i]!;
      const hasFin = this.finQueued && s.end === this.finOff + 1;
      const dataEnd = hasFin ? s.end - 1 : s.end;
      if (s.sacked || dataEnd - s.start <= mss) {
        out.push(s);
        continue;
      }
      for (let p = s.start; p < dataEnd; p += mss) {
        const e = Math.min(p + mss, dataEnd);
        out.push({ start: p, end: e === dataEnd ? s.end : e, sentAt: s.sentAt, retrans: false, sacked: false, lost: true, everRetrans: true });
        marked++;
      }
    }
    if (marked === 0) return true;
    this.segs.length = 0;
    for (const s of out) this.segs.push(s);
    this.segHead = 0;
    this.packetsOut = this.segs.length;
    this.sackedOut = 0;
    this.lostOut = 0;
    this.retransOut = 0;
    for (const s of this.segs) {
      if (s.sacked) this.sackedOut++;
      if (s.lost) this.lostOut++;
      if (s.retrans) this.retransOut++;
    }
    if (this.caState !== 'loss') {
      // tcp_current_ssthresh: keep ssthresh during a reduction, else max(ssthresh, 3/4 cwnd).
      const c = this.ccs.cwnd;
      if (this.caState !== 'recovery' && this.caState !== 'cwr') this.ccs.ssthresh = Math.max(this.ccs.ssthresh, (c >> 1) + (c >> 2));
      this.caState = 'loss';
      this.recoverPoint = this.sndNxt;
    }
    this.output();
    return true;
  }

  // ===============================================================================================
  // Timers

  private currentRto(): number {
    return Math.min(this.rto * 2 ** this.backoff, this.cfg.maxRtoNs);
  }

  private armRto(): void {
    this.rtoDeadline = this.sim.now + this.currentRto();
    if (this.rtoEvent === null) this.rtoEvent = this.sim.scheduleAt(this.rtoDeadline, () => this.rtoFire());
  }

  private stopRto(): void {
    this.rtoDeadline = 0;
  }

  private rtoFire(): void {
    this.rtoEvent = null;
    if (this.rtoDeadline === 0 || this.state === 'CLOSED') return;
    if (this.sim.now < this.rtoDeadline) {
      this.rtoEvent = this.sim.scheduleAt(this.rtoDeadline, () => this.rtoFire());
      return;
    }
    this.rtoDeadline = 0;
    this.onTimeout();
  }

  private onTimeout(): void {
    const st = this.state;
    if (st === 'SYN_SENT' || st === 'SYN_RECEIVED') {
      if (this.retries >= this.cfg.synRetries) return this.finish('ETIMEDOUT');
      this.retries++;
      this.backoff++;
      this.stats.total_retrans++;
      this.stats.timeouts++;
      this.sendSyn(st === 'SYN_RECEIVED');
      this.armRto();
      return;
    }
    if (this.packetsOut === 0) {
      // Persist timer: Linux tcp_send_probe0 sends a window probe at snd_una − 1 (no data).
      if (this.sndNxt < this.sbuf.end) {
        this.sendControl(ACK, this.sndUna - 1);
        this.backoff = Math.min(this.backoff + 1, 15);
        this.armRto();
      }
      return;
    }
    if (this.retries >= this.cfg.retries) return this.finish('ETIMEDOUT');
    this.retries++;
    this.stats.timeouts++;
    // tcp_enter_loss: new ssthresh unless already in loss, cwnd = 1, all un-SACKed segments lost.
    if (this.caState !== 'loss') {
      this.ccs.now = this.sim.now;
      this.ccs.ssthresh = this.caState === 'recovery' || this.caState === 'cwr' ? this.ccs.ssthresh : this.cc.ssthresh(this.ccs);
    }
    this.cc.onRto(this.ccs);
    this.ccs.cwnd = 1;
    this.ccs.cwndCnt = 0;
    this.caState = 'loss';
    this.recoverPoint = this.sndMax;
    this.dupAcks = 0;
    this.lostOut = 0;
    this.retransOut = 0;
    for (let i = this.segHead; i < this.segs.length; i++) {
      const s = this.segs[i]!;
      s.retrans = false;
      s.lost = !s.sacked;
      if (s.lost) this.lostOut++;
    }
    this.backoff = Math.min(this.backoff + 1, 15);
    this.output();
    this.armRto();
  }

  private scheduleDelack(): void {
    const when = this.sim.now + this.cfg.delAckNs;
    if (this.delackDeadline !== 0 && this.delackDeadline <= when) return;
    this.delackDeadline = when;
    if (this.delackEvent === null) this.delackEvent = this.sim.scheduleAt(when, () => this.delackFire());
  }

  private delackFire(): void {
    this.delackEvent = null;
    if (this.delackDeadline === 0 || this.state === 'CLOSED') return;
    if (this.sim.now < this.delackDeadline) {
      this.delackEvent = this.sim.scheduleAt(this.delackDeadline, () => this.delackFire());
      return;
    }
    this.delackDeadline = 0;
    if (this.ackPending) this.sendControl(ACK, this.sndNxt);
  }

  // ===============================================================================================
  // Input (tcp_rcv_state_process / tcp_rcv_established)

  input(seg: InSeg): void {
    this.stats.segs_in++;
    const o = parseOptions(seg.buf, seg.optStart, seg.optEnd, (seg.flags & SYN) !== 0, scratchOpts);
    switch (this.state) {
      case 'CLOSED':
        return;
      case 'SYN_SENT':
        return this.inputSynSent(seg, o);
      case 'TIME_WAIT':
        return this.inputTimeWait(seg);
      default:
        return this.inputSynchronized(seg, o);
    }
  }

  private inputSynSent(seg: InSeg, o: ParsedOptions): void {
    const f = seg.flags;
    if (f & ACK) {
      if (this.sndOff(seg.ack) !== 1) {
        if (!(f & RST)) this.sendRstFor(seg.ack);
        return;
      }
    }
    if (f & RST) {
      if (f & ACK) this.finish('ECONNREFUSED');
      return;
    }
    if (!(f & SYN)) return;
    this.irs = seg.seq;
    this.rcvNxt = 1;
    this.negotiate(o, false);
    if (o.hasTs) this.tsRecent = o.tsVal;
    this.ecnOk = this.cfg.ecn && (f & (ECE | CWR)) === ECE;
    this.sndWnd = seg.wnd; // unscaled in a SYN
    if (f & ACK) {
      this.sndUna = 1;
      if (this.retries === 0) this.rttSample(this.sim.now - this.synSentAt);
      this.backoff = 0;
      this.retries = 0;
      this.stopRto();
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.state = 'ESTABLISHED';
      this.rcvSsthresh = Math.min(this.rcvSsthresh, this.rcvWndClamp);
      this.rcvAdvRight = this.rcvNxt + this.rcvSsthresh;
      this.sendControl(ACK, this.sndNxt);
      this.onConnect?.();
      this.output();
      return;
    }
    // Simultaneous open (RFC 9293 §3.5 figure 7).
    this.state = 'SYN_RECEIVED';
    this.initRcvWindow(true);
    this.sendSyn(true);
  }

  private inputTimeWait(seg: InSeg): void {
    if (seg.flags & RST) return this.finish(null);
    // A retransmitted FIN: ACK it again and restart the 2MSL timer (RFC 9293 §3.10.7.4).
    if (seg.flags & FIN) {
      this.sendControl(ACK, this.sndNxt);
      this.startTimeWait();
    }
  }

  private inputSynchronized(seg: InSeg, o: ParsedOptions): void {
    const f = seg.flags;
    let seqOff = this.rcvOff(seg.seq);
    let len = seg.dataLen;
    let dataOff = seg.dataOff;
    // RFC 7323 §5.3 PAWS.
    if (this.tsOk && o.hasTs && !(f & RST) && ((o.tsVal - this.tsRecent) | 0) < 0) {
      this.sendControl(ACK, this.sndNxt);
      return;
    }
    const segLen = len + (f & SYN ? 1 : 0) + (f & FIN ? 1 : 0);
    const wnd = Math.max(0, this.rcvAdvRight - this.rcvNxt);
    const acceptable =
      segLen === 0
        ? wnd === 0
          ? seqOff === this.rcvNxt
          : seqOff >= this.rcvNxt && seqOff < this.rcvNxt + wnd
        : wnd > 0 && ((seqOff >= this.rcvNxt && seqOff < this.rcvNxt + wnd) || (seqOff + segLen - 1 >= this.rcvNxt && seqOff + segLen - 1 < this.rcvNxt + wnd));
    if (!acceptable) {
      if (f & RST) return;
      // Old duplicate (or beyond the window): immediate duplicate ACK (Linux tcp_send_dupack).
      if (this.state === 'SYN_RECEIVED' && (f & SYN) && seqOff === 0) {
        this.sendSyn(true);
        return;
      }
      this.sendControl(ACK, this.sndNxt);
      return;
    }
    if (f & RST) {
      // RFC 5961 §3.2: exact match resets, otherwise a challenge ACK.
      if (seqOff === this.rcvNxt) this.finish(this.state === 'SYN_RECEIVED' ? 'ECONNREFUSED' : 'ECONNRESET');
      else this.sendControl(ACK, this.sndNxt);
      return;
    }
    if (f & SYN) {
      // RFC 5961 §4.2: SYN in a synchronized state gets a challenge ACK.
      this.sendControl(ACK, this.sndNxt);
      return;
    }
    if (!(f & ACK)) return;
    // Trim data before rcv_nxt.
    if (seqOff < this.rcvNxt && len > 0) {
      const cut = Math.min(len, this.rcvNxt - seqOff);
      len -= cut;
      dataOff += cut;
      seqOff += cut;
    }
    // TS.Recent update (RFC 7323 §4.3): segment covers the last ACK we sent.
    if (this.tsOk && o.hasTs && this.rcvOff(seg.seq) <= this.rcvWup) this.tsRecent = o.tsVal;
    if (this.state === 'SYN_RECEIVED') {
      const a = this.sndOff(seg.ack);
      if (a !== 1) {
        this.sendRstFor(seg.ack);
        return;
      }
      this.sndUna = 1;
      if (this.retries === 0) this.rttSample(this.sim.now - this.synSentAt);
      this.backoff = 0;
      this.retries = 0;
      this.stopRto();
      this.state = 'ESTABLISHED';
      this.sndWnd = seg.wnd << this.sndWscale;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.host.accepted(this);
      // The app may have closed or aborted the connection in its accept callback.
      if ((this.state as TcpState) !== 'ESTABLISHED') return;
    }
    if (!this.processAck(seg, o)) return;
    if (this.state === 'CLOSED') return;
    if (seg.ce && this.ecnOk) this.eceToSend = true;
    if (f & CWR) this.eceToSend = false;
    const fin = (f & FIN) !== 0;
    if (len > 0 || fin) this.processData(seqOff, seg.buf, dataOff, len, fin);
    this.output();
  }

  private sendRstFor(ack: number): void {
    const { buf, at, l4 } = this.allocSeg(0, 0);
    this.writeHeader(buf, at, ack, 0, 20, RST, 0);
    this.transmit(buf, at, l4, false);
  }

  /** Returns false when the segment must be dropped. */
  private processAck(seg: InSeg, o: ParsedOptions): boolean {
    this.inAck = true;
    try {
      return this.processAckInner(seg, o);
    } finally {
      this.inAck = false;
      if (this.caState === 'recovery') this.prrUpdate();
      this.lastAcked = 0;
      this.newlySacked = 0;
    }
  }

  private processAckInner(seg: InSeg, o: ParsedOptions): boolean {
    const ackOff = this.sndOff(seg.ack);
    if (ackOff > this.sndMax) {
      this.sendControl(ACK, this.sndNxt);
      return false;
    }
    const now = this.sim.now;
    const seqOff = this.rcvOff(seg.seq);
    const newWnd = seg.wnd << this.sndWscale;
    let wndChanged = false;
    // RFC 9293 §3.10.7.4 window update (SND.WL1/WL2), in offsets.
    const wl1 = this.rcvOff(this.sndWl1);
    if (ackOff >= this.sndUna && (wl1 < seqOff || (wl1 === seqOff && this.sndOff(this.sndWl2) <= ackOff))) {
      wndChanged = newWnd !== this.sndWnd;
      this.sndWnd = newWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
    }
    this.newlySacked = 0;
    if (this.sackOk && o.sackCount > 0) this.processSack(o);
    if (ackOff > this.sndUna) {
      let acked = 0;
      let firstSent = -1;
      let lastSent = -1;
      while (this.segHead < this.segs.length) {
        const s = this.segs[this.segHead]!;
        if (s.end > ackOff) {
          if (s.start < ackOff) s.start = ackOff; // partial ACK of a segment
          break;
        }
        if (!s.everRetrans && firstSent < 0) firstSent = s.sentAt;
        if (!s.everRetrans && !s.sacked) lastSent = s.sentAt;
        if (!s.sacked) this.rackUpdate(s);
        this.dropSeg(s);
        this.segHead++;
        acked++;
      }
      if (this.segHead > 1024 && this.segHead * 2 > this.segs.length) {
        this.segs.splice(0, this.segHead);
        this.segHead = 0;
      }
      const bytes = ackOff - this.sndUna;
      this.stats.bytes_acked += bytes;
      this.sndUna = ackOff;
      this.sbuf.release(Math.min(ackOff, this.sbuf.end));
      if (firstSent >= 0) this.rttSample(now - firstSent);
      this.backoff = 0;
      this.retries = 0;
      this.dupAcks = 0;
      this.ccs.now = now;
      this.lastAcked = acked;
      // Linux tcp_clean_rtx_queue → pkts_acked with ca_rtt_us (newest segment acked), before cong_control.
      if (lastSent >= 0 && this.cc.acked) this.cc.acked(this.ccs, { rttNs: now - lastSent, sndUna: ackOff, sndNxt: this.sndNxt, srttNs: this.srtt, mss: this.sndMss });
      this.onNewAck(ackOff, acked);
      if (this.packetsOut > 0) this.armRto();
      else this.stopRto();
      if (this.ecnOk && (seg.flags & ECE) && this.caState === 'open' && ackOff > this.cwrPoint) this.enterCwr();
      this.ackedFinCheck(ackOff);
      if (this.wantDrain && this.sbuf.bytes < this.sndBufSize) {
        this.wantDrain = false;
        this.output();
        this.onDrain?.();
      }
    } else if (ackOff === this.sndUna && seg.dataLen === 0 && !wndChanged && this.packetsOut > 0 && !(seg.flags & (FIN | SYN))) {
      // RFC 5681 §2 duplicate ACK.
      this.dupAcks++;
      this.lossDetect();
    } else if (this.caState === 'recovery' || this.sackOk) {
      this.lossDetect();
    }
    return true;
  }

  /**
   * RFC 6937 proportional rate reduction (Linux tcp_cwnd_reduction): during recovery, send about
   * ssthresh/RecoverFS segments per segment delivered, and slow-start back up to ssthresh once
   * the pipe has drained below it, so a recovery never bursts.
   */
  private prrUpdate(): void {
    const delivered = this.lastAcked + this.newlySacked;
    if (delivered <= 0) return;
    this.prrDelivered += delivered;
    const pipe = this.inFlight();
    const ssthresh = this.ccs.ssthresh;
    let sndcnt: number;
    if (pipe > ssthresh) sndcnt = Math.ceil((this.prrDelivered * ssthresh) / this.recoverFs) - this.prrOut;
    else sndcnt = Math.min(ssthresh - pipe, Math.max(this.prrDelivered - this.prrOut, delivered) + 1);
    sndcnt = Math.max(sndcnt, this.prrOut === 0 ? 1 : 0);
    this.ccs.cwnd = Math.max(1, pipe + sndcnt);
  }

  private lastAcked = 0;
  private inAck = false;

  /** RACK: remember the latest send time among delivered segments (RFC 8985 §6.2 step 2). */
  private rackUpdate(s: Seg): void {
    const rtt = this.sim.now - s.sentAt;
    // An ACK for an earlier transmission of a retransmitted segment is ambiguous: skip it when
    // it came back faster than any RTT seen (RFC 8985 §6.2 step 1).
    if (s.everRetrans && rtt < this.ccs.minRttNs) return;
    if (s.sentAt > this.rackXmit) {
      this.rackXmit = s.sentAt;
      this.rackRtt = rtt;
    }
  }

  private dropSeg(s: Seg): void {
    this.packetsOut--;
    if (s.sacked) this.sackedOut--;
    if (s.lost) this.lostOut--;
    if (s.retrans) this.retransOut--;
  }

  private processSack(o: ParsedOptions): void {
    for (let k = 0; k < o.sackCount; k++) {
      const l = this.sndOff(o.sack[2 * k]!);
      const r = this.sndOff(o.sack[2 * k + 1]!);
      if (r <= l || r > this.sndMax || r <= this.sndUna) continue; // D-SACK or bogus
      for (let i = this.segHead; i < this.segs.length; i++) {
        const s = this.segs[i]!;
        if (s.start >= r) break;
        if (s.sacked || s.start < l || s.end > r) continue;
        s.sacked = true;
        this.sackedOut++;
        this.newlySacked++;
        this.rackUpdate(s);
        if (s.lost) {
          s.lost = false;
          this.lostOut--;
        }
        if (s.retrans) {
          s.retrans = false;
          this.retransOut--;
        }
        if (s.end > this.highSacked) this.highSacked = s.end;
      }
    }
  }

  /** Marks segments lost (RFC 6675 IsLost: three SACKed segments above) and enters recovery. */
  private lossDetect(): void {
    if (this.caState === 'loss') return;
    let lostNow = false;
    if (this.caState === 'recovery' && this.rackXmit >= 0) {
      // RACK (RFC 8985 §6.2 step 5): a segment sent before one that was delivered, and older than
      // the RTT plus a reordering window, is lost; this also catches lost retransmissions.
      const reo = this.ccs.minRttNs / 4;
      const now = this.sim.now;
      for (let i = this.segHead; i < this.segs.length; i++) {
        const s = this.segs[i]!;
        if (s.sentAt >= this.rackXmit) break;
        if (s.sacked || (s.lost && !s.retrans)) continue;
        if (now - s.sentAt < this.rackRtt + reo) continue;
        if (s.retrans) {
          s.retrans = false;
          this.retransOut--;
        } else {
          s.lost = true;
          this.lostOut++;
        }
        lostNow = true;
      }
    }
    if (this.sackOk && this.sackedOut > 0) {
      let above = 0;
      for (let i = this.segs.length - 1; i >= this.segHead; i--) {
        const s = this.segs[i]!;
        if (s.sacked) above++;
        else if (above >= 3 && !s.lost && !s.retrans) {
          s.lost = true;
          this.lostOut++;
          lostNow = true;
        }
      }
    }
    if (this.caState === 'open' || this.caState === 'disorder' || this.caState === 'cwr') {
      // RFC 6582 §3.2 / RFC 6675 §5: no new reduction until the ACK passes the last RecoveryPoint.
      if ((this.dupAcks >= 3 || lostNow) && (this.stats.recoveries + this.stats.timeouts === 0 || this.sndUna > this.recoverPoint)) {
        this.enterRecovery();
        // Fast retransmit (RFC 5681 §3.2 step 2): the first hole goes out now, whatever cwnd says.
        const head = this.segs[this.segHead];
        if (head && head.lost && !head.retrans) this.retransmit(head);
      } else if (this.dupAcks > 0 || this.sackedOut > 0) this.caState = 'disorder';
    }
    if (this.caState === 'recovery') this.output();
  }

  private enterRecovery(): void {
    this.ccs.now = this.sim.now;
    this.ccs.ssthresh = this.cc.ssthresh(this.ccs);
    this.ccs.cwnd = Math.max(this.ccs.ssthresh, 1);
    this.ccs.cwndCnt = 0;
    this.caState = 'recovery';
    this.recoverPoint = this.sndMax;
    this.stats.recoveries++;
    this.prrDelivered = 0;
    this.prrOut = 0;
    this.recoverFs = Math.max(1, this.inFlight());
    this.cwrToSend = this.ecnOk;
    this.cwrPoint = this.sndMax;
    const head = this.segs[this.segHead];
    if (head && !head.sacked && !head.lost) {
      head.lost = true;
      this.lostOut++;
    }
  }

  private enterCwr(): void {
    this.ccs.ssthresh = this.cc.ssthresh(this.ccs);
    this.ccs.cwnd = Math.max(this.ccs.ssthresh, 1);
    this.ccs.cwndCnt = 0;
    this.caState = 'cwr';
    this.cwrToSend = true;
    this.cwrPoint = this.sndMax;
  }

  private onNewAck(ackOff: number, acked: number): void {
    const st = this.caState;
    if (st === 'recovery') {
      if (ackOff >= this.recoverPoint) {
        this.caState = 'open';
        this.ccs.cwnd = Math.max(this.ccs.ssthresh, 1);
      } else {
        // RFC 6582 partial ACK: the next hole is lost too (without SACK we cannot know better).
        const head = this.segs[this.segHead];
        if (head && !head.sacked && !head.lost && !this.sackOk) {
          head.lost = true;
          this.lostOut++;
        }
        this.lossDetect();
      }
      return;
    }
    if (st === 'cwr' && ackOff >= this.cwrPoint) this.caState = 'open';
    if (st === 'loss' && ackOff >= this.recoverPoint) this.caState = 'open';
    if (st === 'disorder' && this.sackedOut === 0) this.caState = 'open';
    if (this.caState === 'cwr') return;
    // tcp_is_cwnd_limited: grow only when the window was the limit.
    const limited = this.cwndLimited || (this.ccs.cwnd < this.ccs.ssthresh && this.ccs.cwnd < 2 * (this.packetsOut + acked));
    this.cwndLimited = false;
    if (limited && acked > 0) this.cc.congAvoid(this.ccs, acked);
    if (this.caState === 'disorder' || this.sackedOut > 0) this.lossDetect();
  }

  private rttSample(r: number): void {
    if (!(r > 0)) r = 1000;
    if (this.ccs.minRttNs === 0 || r < this.ccs.minRttNs) this.ccs.minRttNs = r;
    if (this.srtt === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    // Linux __tcp_set_rto: srtt + max(4·rttvar, rto_min), whole microseconds.
    this.rto = Math.min(Math.ceil((this.srtt + Math.max(4 * this.rttvar, this.cfg.minRtoNs)) / 1000) * 1000, this.cfg.maxRtoNs);
  }

  private ackedFinCheck(ackOff: number): void {
    if (this.finOff < 0 || ackOff < this.finOff + 1) return;
    switch (this.state) {
      case 'FIN_WAIT_1':
        this.state = 'FIN_WAIT_2';
        break;
      case 'CLOSING':
        this.startTimeWait();
        break;
      case 'LAST_ACK':
        this.finish(null);
        break;
      default:
        break;
    }
  }

  // ===============================================================================================
  // Receive data

  private processData(seqOff: number, buf: Uint8Array, dataOff: number, len: number, fin: boolean): void {
    const st = this.state;
    const acceptsData = st === 'ESTABLISHED' || st === 'FIN_WAIT_1' || st === 'FIN_WAIT_2';
    if (!acceptsData) {
      // CLOSE_WAIT/CLOSING/LAST_ACK: data after the peer's FIN is a duplicate.
      if (len > 0 || fin) this.sendControl(ACK, this.sndNxt);
      return;
    }
    const finOffset = seqOff + len;
    if (len > 0) {
      if (seqOff === this.rcvNxt) {
        this.rcvNxt += len;
        this.stats.bytes_received += len;
        this.deliver(buf.subarray(dataOff, dataOff + len));
        this.growWindow();
        if (!this.reasm.empty) {
          for (const p of this.reasm.take(this.rcvNxt)) {
            this.rcvNxt += p.length;
            this.stats.bytes_received += p.length;
            this.deliver(p);
          }
          // Filling a hole: ACK at once (Linux tcp_data_queue: ooo queue changed).
          this.quickAcks = Math.max(this.quickAcks, 1);
        }
      } else if (seqOff > this.rcvNxt) {
        if (this.reasm.bytes + this.rcvQueued + len <= this.cfg.rcvBuf) this.reasm.insert(seqOff, buf.slice(dataOff, dataOff + len));
        this.ackNow();
        if (fin) this.pendingFinOff = finOffset;
        return;
      } else {
        this.ackNow();
        return;
      }
    }
    if (fin && finOffset === this.rcvNxt) return this.receiveFin();
    if (fin) this.pendingFinOff = finOffset;
    else if (this.pendingFinOff >= 0 && this.pendingFinOff === this.rcvNxt) return this.receiveFin();
    if (this.state === 'CLOSED') return;
    this.ackCheck(true);
  }

  private pendingFinOff = -1;
  private synSentAt = 0;

  private receiveFin(): void {
    if (this.finReceived) return;
    this.finReceived = true;
    this.pendingFinOff = -1;
    this.rcvNxt++;
    switch (this.state) {
      case 'ESTABLISHED':
        this.state = 'CLOSE_WAIT';
        break;
      case 'FIN_WAIT_1':
        // Our FIN not yet acknowledged: simultaneous close.
        this.state = this.finOff >= 0 && this.sndUna > this.finOff ? 'TIME_WAIT' : 'CLOSING';
        break;
      case 'FIN_WAIT_2':
        this.state = 'TIME_WAIT';
        break;
      default:
        break;
    }
    this.ackNow();
    if (this.state === 'TIME_WAIT') this.startTimeWait();
    this.onEnd?.();
    if (this.appClosed && this.state === 'CLOSE_WAIT') this.end();
  }

  private deliver(chunk: Uint8Array): void {
    if (this.appClosed) return;
    if (this.onData !== null && !this.paused && this.rcvQueued === 0) {
      this.onData(chunk);
      return;
    }
    this.rcvQueue.push(chunk);
    this.rcvQueued += chunk.length;
    if (this.onData !== null && !this.paused) this.deliverQueued();
    else this.onReadable?.();
  }

  private deliverQueued(): void {
    while (this.rcvQueued > 0 && this.onData !== null && !this.paused) {
      const c = this.rcvQueue.shift()!;
      this.rcvQueued -= c.length;
      this.onData(c);
    }
    this.maybeWindowUpdate();
  }

  /** Linux tcp_grow_window (simplified): 2 MSS per in-order segment up to the clamp. */
  private growWindow(): void {
    if (this.rcvSsthresh < this.rcvWndClamp) this.rcvSsthresh = Math.min(this.rcvSsthresh + 2 * this.rcvMss, this.rcvWndClamp);
  }

  /** After the app read: Linux tcp_cleanup_rbuf sends a window update when the window doubled. */
  private maybeWindowUpdate(): void {
    if (this.state !== 'ESTABLISHED' && this.state !== 'FIN_WAIT_1' && this.state !== 'FIN_WAIT_2') return;
    const cur = Math.max(0, this.rcvAdvRight - this.rcvNxt);
    const next = this.rcvWindow();
    if (next >= 2 * cur && next - cur >= this.rcvMss) this.sendControl(ACK, this.sndNxt);
  }

  /** __tcp_ack_snd_check. */
  private ackCheck(newData: boolean): void {
    if (this.rcvNxt === this.rcvWup) return; // already acknowledged (a reply carried it)
    this.ackPending = true;
    if (newData && this.rcvNxt - this.rcvWup > this.rcvMss) return this.ackNow();
    if (!this.cfg.delayedAck || this.quickAcks > 0 || !this.reasm.empty) return this.ackNow();
    this.scheduleDelack();
  }

  private ackNow(): void {
    this.sendControl(ACK, this.sndNxt);
  }

  private startTimeWait(): void {
    this.state = 'TIME_WAIT';
    this.stopRto();
    this.delackDeadline = 0;
    this.twEvent?.cancel();
    this.twEvent = this.sim.schedule(this.cfg.timeWaitNs, () => this.finish(null));
  }

  /** Final state: timers off, the stack forgets us, the app hears why. */
  finish(err: TcpError | null): void {
    if (this.state === 'CLOSED' && this.closedNotified) return;
    this.state = 'CLOSED';
    this.rtoDeadline = 0;
    this.delackDeadline = 0;
    this.twEvent?.cancel();
    this.host.release(this);
    if (!this.closedNotified) {
      this.closedNotified = true;
      this.onClose?.(err);
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
