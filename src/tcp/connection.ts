/**
 * One TCP connection (RFC 9293) with Linux's default behaviour: the socket a guest app or a host
 * endpoint (migration stream, NBD) uses. This file holds the socket API and the state machine on
 * input (tcp_rcv_state_process / tcp_rcv_established); the rest of the connection lives in the
 * modules it extends, one concern each:
 *
 * - connection-base.ts: the fields, sequence-space offsets (SYN = 0, data byte i = 1 + i, FIN
 *   after the data; wire numbers are `(iss + offset) mod 2^32`), option negotiation;
 * - timers.ts: lazy RTO / persist, delayed-ACK and TIME_WAIT timers;
 * - send.ts: building segments and tcp_write_xmit (cwnd, peer window, Nagle);
 * - recovery.ts: ACKs, the SACK scoreboard, RFC 6675/6582 recovery with PRR and RACK, RTT and
 *   RTO (RFC 6298 with Linux's 200 ms floor, 1 s initially, at most 120 s), RTO expiry, PMTU;
 * - receive.ts: in-order delivery, out-of-order queue, receive window, delayed ACKs.
 *
 * Options as Linux by default: SACK, timestamps (RFC 7323 PAWS and TS.Recent), window scale 7
 * for a 6 MiB buffer, ECN off unless configured.
 *
 * Costs: O(1) per in-order segment; SACK processing walks the scoreboard (O(segments in flight)).
 */
import { newParsedOptions, parseOptions, type ParsedOptions } from './options.js';
import { ACK, CWR, ECE, FIN, RST, SYN, type InSeg } from './connection-base.js';
import { ConnectionReceive } from './receive.js';
import type { TcpError, TcpInfo, TcpState } from './types.js';

export { ACK, CWR, ECE, FIN, PSH, RST, SYN, type ConnectionHost, type InSeg } from './connection-base.js';

const scratchOpts: ParsedOptions = newParsedOptions();

export class TcpConnection extends ConnectionReceive {
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
   * Bytes written and still held by the send buffer, i.e. not yet acknowledged (Linux SIOCOUTQ).
   * A writer that counts what `write` accepted knows every byte before `accepted - sendQueued` is
   * acknowledged: TCP never reads those chunks again, so the writer may recycle them.
   */
  get sendQueued(): number {
    return this.sbuf.bytes;
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

  protected ackedFinCheck(ackOff: number): void {
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

