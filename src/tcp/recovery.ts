/**
 * ACK processing and loss recovery: the SACK scoreboard (RFC 2018), RFC 6675 SACK recovery and
 * RFC 6582 NewReno partial ACKs, RACK (RFC 8985) during recovery, PRR (RFC 6937), RTT sampling
 * and RTO (RFC 6298), RTO expiry (Linux tcp_enter_loss), ECN's CWR state (RFC 3168) and path MTU
 * reduction (RFC 1191).
 *
 * Design: recovery is entered on three duplicate ACKs or when SACK shows three segments above a
 * hole; cwnd is set to ssthresh on entry (RFC 6675 §5) and PRR paces what is sent until the
 * recovery point is acknowledged. On RTO expiry everything un-SACKed is lost and cwnd = 1.
 *
 * Costs: O(1) per in-order ACK (segments acknowledged are popped from the head); SACK processing
 * and loss detection walk the scoreboard (O(segments in flight)) only while SACK blocks arrive.
 */
import type { ParsedOptions } from './options.js';
import { ACK, ECE, FIN, SYN, type InSeg, type Seg } from './connection-base.js';
import { ConnectionSend } from './send.js';
import type { AckSample } from './hystart.js';

/** The sample handed to the congestion control per ACK (read during the call, never kept). */
const ackSample: AckSample = { rttNs: 0, sndUna: 0, sndNxt: 0, srttNs: 0, mss: 0 };
/** Tests turn the SACK cache off to check that it changes nothing (cache on == cache off). */
export const sackCacheSwitch = { on: true };
/** The valid SACK blocks of the ACK being processed (copied into `sackCache` at the end). */
const sackSeen: number[] = [0, 0, 0, 0, 0, 0, 0, 0];

export abstract class ConnectionRecovery extends ConnectionSend {
  /** Returns false when the segment must be dropped. */
  protected processAck(seg: InSeg, o: ParsedOptions): boolean {
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

  protected processAckInner(seg: InSeg, o: ParsedOptions): boolean {
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
          if (s.start < ackOff) {
            s.start = ackOff; // partial ACK of a segment
            if (!s.sacked) this.sackCacheN = 0; // it may now lie inside a cached SACK block
          }
          break;
        }
        if (!s.everRetrans && firstSent < 0) firstSent = s.sentAt;
        if (!s.everRetrans && !s.sacked) lastSent = s.sentAt;
        if (!s.sacked) this.rackUpdate(s);
        this.dropSeg(s);
        if (this.segFree.length < 4096) this.segFree.push(s);
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
      if (lastSent >= 0 && this.cc.acked) {
        const a = ackSample;
        a.rttNs = now - lastSent;
        a.sndUna = ackOff;
        a.sndNxt = this.sndNxt;
        a.srttNs = this.srtt;
        a.mss = this.sndMss;
        this.cc.acked(this.ccs, a);
      }
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
  protected prrUpdate(): void {
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

  /** RACK: remember the latest send time among delivered segments (RFC 8985 §6.2 step 2). */
  protected rackUpdate(s: Seg): void {
    const rtt = this.sim.now - s.sentAt;
    // An ACK for an earlier transmission of a retransmitted segment is ambiguous: skip it when
    // it came back faster than any RTT seen (RFC 8985 §6.2 step 1).
    if (s.everRetrans && rtt < this.ccs.minRttNs) return;
    if (s.sentAt > this.rackXmit) {
      this.rackXmit = s.sentAt;
      this.rackRtt = rtt;
    }
  }

  protected dropSeg(s: Seg): void {
    this.packetsOut--;
    if (s.sacked) this.sackedOut--;
    if (s.lost) this.lostOut--;
    if (s.retrans) this.retransOut--;
  }

  protected processSack(o: ParsedOptions): void {
    const cache = this.sackCache;
    const cacheN = sackCacheSwitch.on ? this.sackCacheN : 0;
    let n = 0;
    for (let k = 0; k < o.sackCount; k++) {
      const l = this.sndOff(o.sack[2 * k]!);
      const r = this.sndOff(o.sack[2 * k + 1]!);
      if (r <= l || r > this.sndMax || r <= this.sndUna) continue; // D-SACK or bogus
      // The part of [l, r) a cached block already covers (the largest overlap; empty at r if none).
      let cl = r;
      let cr = r;
      for (let j = 0; j < cacheN; j++) {
        const a = Math.max(cache[2 * j]!, l);
        const b = Math.min(cache[2 * j + 1]!, r);
        if (b - a > cr - cl) {
          cl = a;
          cr = b;
        }
      }
      sackSeen[2 * n] = l;
      sackSeen[2 * n + 1] = r;
      n++;
      this.sackRange(l, r, cl, cr);
    }
    for (let j = 0; j < 2 * n; j++) cache[j] = sackSeen[j]!;
    this.sackCacheN = n;
  }

  /**
   * Tags the segments lying wholly inside [l, r), in order, skipping those wholly inside
   * [cl, cr) ⊆ [l, r) (already SACKed: `sackCache`). Linux tcp_sacktag_walk / tcp_sacktag_skip.
   */
  private sackRange(l: number, r: number, cl: number, cr: number): void {
    const segs = this.segs;
    // Segments starting below l cannot lie inside the block: start at the first one that can.
    let i = this.segIndexFrom(l);
    for (; i < segs.length; i++) {
      const s = segs[i]!;
      if (s.start >= r) return;
      if (s.start >= cl) break;
      this.sackTag(s, l, r);
    }
    if (i >= segs.length) return;
    // Resume after the covered range: at the first segment starting at or after cr, or at the one
    // that straddles cr when it starts inside [cl, cr) (one starting below cl was tagged above).
    i = this.segIndexFrom(cr);
    if (i > this.segHead) {
      const p = segs[i - 1]!;
      if (p.start >= cl && p.end > cr) i--;
    }
    for (; i < segs.length; i++) {
      const s = segs[i]!;
      if (s.start >= r) return;
      this.sackTag(s, l, r);
    }
  }

  private sackTag(s: Seg, l: number, r: number): void {
    if (s.sacked || s.start < l || s.end > r) return;
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

  /** Marks segments lost (RFC 6675 IsLost: three SACKed segments above) and enters recovery. */
  protected lossDetect(): void {
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
      // Walk down from the highest SACKed segment (none above it is SACKed, so none above it can
      // have three SACKed segments above) to the floor below which every segment is already
      // SACKed, lost or retransmitted (nothing left to mark there): the same marks as a walk over
      // the whole scoreboard, in time proportional to what changed since the last walk.
      let above = 0;
      const floor = this.segIndexFrom(this.lossScanFloor);
      let top = this.segIndexFrom(this.highSacked) - 1;
      if (top >= this.segs.length) top = this.segs.length - 1;
      for (let i = top; i >= floor; i--) {
        const s = this.segs[i]!;
        if (s.sacked) {
          // Everything below the third SACKed segment from the top is processed by this walk.
          if (++above === 3 && s.start > this.lossScanFloor) this.lossScanFloor = s.start;
        } else if (above >= 3 && !s.lost && !s.retrans) {
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

  protected enterRecovery(): void {
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

  protected enterCwr(): void {
    this.ccs.ssthresh = this.cc.ssthresh(this.ccs);
    this.ccs.cwnd = Math.max(this.ccs.ssthresh, 1);
    this.ccs.cwndCnt = 0;
    this.caState = 'cwr';
    this.cwrToSend = true;
    this.cwrPoint = this.sndMax;
  }

  protected onNewAck(ackOff: number, acked: number): void {
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

  protected rttSample(r: number): void {
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

  protected onTimeout(): void {
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
    this.sackCacheN = 0;
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
}
