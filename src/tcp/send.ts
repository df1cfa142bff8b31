/**
 * The send path: building segments (header, options, payload, checksum) and deciding what may
 * go out now (Linux tcp_write_xmit: cwnd, the peer's window, Nagle/Minshall, the send buffer).
 *
 * Design
 * - A segment is written straight into a frame from the IP layer (`allocate`, with headroom for
 *   Ethernet and IPv4), so there is one buffer per segment and no copy after this point.
 * - Payloads declared immutable (iperf's pattern, a zero block) come with precomputed sums:
 *   only the header and options are summed (payload.ts).
 * - Every segment sent once is recorded in the scoreboard (`segs`, one MSS each) for recovery.
 *
 * Costs: O(1) per segment besides the payload copy; retransmissions walk the scoreboard.
 */
import { finish, pseudoHeaderV4, sumBytes } from '../wire/checksum.js';
import { markIntact } from './payload.js';
import { segOptionsLen, synOptionsLen, writeSegOptions, writeSynOptions } from './options.js';
import { ACK, CWR, ECE, FIN, PSH, RST, SYN, type Seg } from './connection-base.js';
import { ConnectionTimers } from './timers.js';

const sackScratch: number[] = [0, 0, 0, 0, 0, 0, 0, 0];

export abstract class ConnectionSend extends ConnectionTimers {
  protected writeHeader(buf: Uint8Array, at: number, seq: number, ack: number, hdrLen: number, flags: number, wnd: number): void {
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
  protected transmit(buf: Uint8Array, at: number, sumLen: number, ect: boolean, extraSum = 0, l4 = sumLen): void {
    const sum = sumBytes(buf, at, at + sumLen, pseudoHeaderV4(this.localIp, this.remoteIp, 6, l4) + extraSum);
    const c = finish(sum);
    buf[at + 16] = c >>> 8;
    buf[at + 17] = c & 0xff;
    markIntact(buf, c);
    this.stats.segs_out++;
    this.host.ip.output(buf, this.localIp, this.remoteIp, l4, ect ? 2 : 0);
  }

  protected sendSyn(synAck: boolean): void {
    const so = this.synOpts!;
    const ts = so.ts ? { val: this.tsNow(), ecr: synAck ? this.tsRecent : 0 } : null;
    const o = { mss: so.mss, sackPerm: so.sack, ts, wscale: so.wscale ? this.rcvWscale : null };
    const optLen = synOptionsLen(o);
    const l4 = 20 + optLen;
    const buf = this.host.ip.allocate(l4);
    const at = this.host.ip.headroom;
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
  protected sendControl(flags: number, seqOff: number): void {
    const ts = this.tsOk && (flags & RST) === 0;
    const sackN = (flags & RST) === 0 && this.sackOk && !this.reasm.empty ? this.reasm.sackBlocks(ts ? 3 : 4, sackScratch) : 0;
    const optLen = segOptionsLen(ts, sackN);
    const l4 = 20 + optLen;
    const buf = this.host.ip.allocate(l4);
    const at = this.host.ip.headroom;
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
  protected sendData(start: number, end: number, retrans: boolean): void {
    const ts = this.tsOk;
    const sackN = this.sackOk && !this.reasm.empty ? this.reasm.sackBlocks(ts ? 3 : 4, sackScratch) : 0;
    const optLen = segOptionsLen(ts, sackN);
    const len = end - start;
    const l4 = 20 + optLen + len;
    const buf = this.host.ip.allocate(l4);
    const at = this.host.ip.headroom;
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

  protected ackSent(): void {
    this.ackPending = false;
    this.rcvWup = this.rcvNxt;
    if (this.quickAcks > 0) this.quickAcks--;
    this.delackDeadline = 0;
  }

  protected sendRstFor(ack: number): void {
    const l4 = 20;
    const buf = this.host.ip.allocate(l4);
    const at = this.host.ip.headroom;
    this.writeHeader(buf, at, ack, 0, 20, RST, 0);
    this.transmit(buf, at, l4, false);
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
    const mss = this.currentMss();
    let sent = false;
    while (this.sndNxt < dataEnd) {
      if (this.inFlight() >= cwnd) {
        this.cwndLimited = true;
        break;
      }
      const len = Math.min(mss, dataEnd - this.sndNxt);
      // Linux tcp_snd_wnd_test: the whole segment must fit the peer's window (else wait or probe).
      if (this.sndNxt + len > wndRight) break;
      // Nagle (RFC 9293 §3.7.4) with Minshall's variant as Linux (tcp_nagle_check,
      // tcp_minshall_check): a short segment waits only while an earlier short one is unacknowledged.
      if (len < mss && this.cfg.nagle && this.sndSml > this.sndUna && !(this.finQueued && this.sndNxt + len === this.finOff)) break;
      if (len < mss) this.sndSml = this.sndNxt + len;
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

  protected finSent(): void {
    if (this.state === 'ESTABLISHED') this.state = 'FIN_WAIT_1';
    else if (this.state === 'CLOSE_WAIT') this.state = 'LAST_ACK';
  }

  /** Splits scoreboard segment `s` at stream offset `at` (Linux tcp_fragment, tcp_adjust_pcount). */
  protected fragment(s: Seg, at: number): void {
    const tail: Seg = { start: at, end: s.end, sentAt: s.sentAt, retrans: false, sacked: false, lost: s.lost, everRetrans: s.everRetrans };
    s.end = at;
    this.sackCacheN = 0; // the tail may lie inside a cached SACK block
    this.segs.splice(this.segIndexFrom(s.start) + 1, 0, tail);
    this.packetsOut++;
    if (tail.lost) this.lostOut++;
  }

  protected pushSeg(start: number, end: number): void {
    // Records of acknowledged segments are recycled (recovery.ts): no allocation per segment.
    const s = this.segFree.pop();
    if (s === undefined) {
      this.segs.push({ start, end, sentAt: this.sim.now, retrans: false, sacked: false, lost: false, everRetrans: false });
    } else {
      s.start = start;
      s.end = end;
      s.sentAt = this.sim.now;
      s.retrans = false;
      s.sacked = false;
      s.lost = false;
      s.everRetrans = false;
      this.segs.push(s);
    }
    this.packetsOut++;
  }

  /**
   * The payload a data segment sent now may carry (Linux tcp_current_mss): the MSS less the
   * options beyond those it was sized for. SACK blocks (present while our receive side holds
   * out-of-order data) take 4 + 8·n bytes of option space (tcp_established_options), and Linux
   * shrinks the payload by as much so the segment still fits the path MTU. Without this a
   * full-MSS segment sent while SACKing is 1500 + 12..28 bytes long and the IP layer drops it
   * (an MTU drop on every retransmission of it: the connection never recovers).
   */
  protected currentMss(): number {
    if (!this.sackOk || this.reasm.empty) return this.sndMss;
    const n = Math.min(this.reasm.count, this.tsOk ? 3 : 4);
    return Math.max(1, this.sndMss - segOptionsLen(false, n));
  }

  protected retransmit(s: Seg): void {
    // Linux __tcp_retransmit_skb: a segment longer than the current MSS (SACK blocks now take
    // room it had) is split first (tcp_fragment); the tail keeps the head's marks (lost) and is
    // a segment of its own in the scoreboard, retransmitted when cwnd allows.
    const mss = this.currentMss();
    const hasFin = this.finQueued && s.end === this.finOff + 1;
    if ((hasFin ? s.end - 1 : s.end) - s.start > mss) this.fragment(s, s.start + mss);
    const dataEnd = this.finQueued && s.end === this.finOff + 1 ? s.end - 1 : s.end;
    if (dataEnd > s.start) this.sendData(s.start, dataEnd, true);
    else this.sendControl(FIN | ACK, s.start);
    s.retrans = true;
    s.everRetrans = true;
    s.sentAt = this.sim.now;
    this.retransOut++;
    this.stats.total_retrans++;
  }
}
