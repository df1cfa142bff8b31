/**
 * HyStart, the slow-start exit of Linux's CUBIC (`net/ipv4/tcp_cubic.c`, the classic algorithm of
 * Ha and Rhee, "Taming the Elephants: New TCP Slow Start", 2011, in its Linux 5.8+ microsecond
 * form; not RFC 9406 HyStart++, which Linux does not ship). Slow start ends (ssthresh = cwnd)
 * once cwnd ≥ 16 (`hystart_low_window`) and either
 *
 * - ACK train: ACKs arriving no more than 2 ms apart (`hystart_ack_delta_us`) have kept coming
 *   for longer than (delay_min + ack_delay) / 2 since the round began (`threshold >>= 1`
 *   without pacing; `hystart_ack_delay` = min(1 ms, 4 × gso_max_size / pacing rate), with
 *   Linux's 64 KiB gso_max_size and slow-start pacing rate 2 × cwnd × mss / srtt); or
 * - delay increase: the smallest of the first 8 RTT samples of a round (`HYSTART_MIN_SAMPLES`)
 *   exceeds delay_min + clamp(delay_min / 8, 4 ms, 16 ms) (`HYSTART_DELAY_THRESH`).
 *
 * A round starts when an ACK passes the snd_nxt recorded at the previous round start
 * (`bictcp_hystart_reset`). `delay_min` is CUBIC's own minimum RTT, reset with the rest of its
 * state when an RTO enters Loss (`bictcp_reset`).
 */
import type { CcState } from './cc.js';

/** What one ACK tells the congestion control (Linux `struct ack_sample` plus the socket fields hystart reads). */
export interface AckSample {
  /** RTT of the most recently sent segment this ACK acknowledged, ns (Linux ca_rtt_us). */
  rttNs: number;
  /** snd_una after this ACK and snd_nxt, as stream offsets. */
  sndUna: number;
  sndNxt: number;
  srttNs: number;
  mss: number;
}

const LOW_WINDOW = 16;
const ACK_DELTA_NS = 2_000_000;
const MIN_SAMPLES = 8;
const DELAY_MIN_NS = 4_000_000;
const DELAY_MAX_NS = 16_000_000;
const GSO_MAX_SIZE = 65536;

export class HyStart {
  /** Slow start was ended by HyStart (Linux ca->found). */
  found = false;
  /** How it ended: 'train' | 'delay' (diagnostics and tests). */
  reason: 'train' | 'delay' | null = null;
  delayMinNs = 0;
  private roundStart = 0;
  private lastAck = 0;
  private endSeq = 0;
  private currRtt = Number.POSITIVE_INFINITY;
  private sampleCnt = 0;
  private started = false;

  private reset(now: number, sndNxt: number): void {
    this.roundStart = now;
    this.lastAck = now;
    this.endSeq = sndNxt;
    this.currRtt = Number.POSITIVE_INFINITY;
    this.sampleCnt = 0;
  }

  /** bictcp_reset + bictcp_hystart_reset on an RTO. */
  lossReset(s: CcState): void {
    this.found = false;
    this.reason = null;
    this.delayMinNs = 0;
    this.started = false;
    this.reset(s.now, 0);
  }

  /** bictcp_acked's HyStart part. */
  acked(s: CcState, a: AckSample): void {
    if (!this.started) {
      // cubictcp_init: the first round starts with the connection (end_seq = snd_nxt then).
      this.started = true;
      this.reset(s.now, 0);
    }
    const delay = a.rttNs > 0 ? a.rttNs : 1;
    if (this.delayMinNs === 0 || this.delayMinNs > delay) this.delayMinNs = delay;
    if (this.found || s.cwnd >= s.ssthresh) return;
    this.update(s, a, delay);
  }

  private update(s: CcState, a: AckSample, delay: number): void {
    if (a.sndUna > this.endSeq) this.reset(s.now, a.sndNxt);
    if (s.cwnd < LOW_WINDOW) return;
    const now = s.now;
    if (now - this.lastAck <= ACK_DELTA_NS) {
      this.lastAck = now;
      const threshold = (this.delayMinNs + ackDelay(s.cwnd, a)) / 2;
      if (now - this.roundStart > threshold) return this.exit(s, 'train');
    }
    if (this.currRtt > delay) this.currRtt = delay;
    if (this.sampleCnt < MIN_SAMPLES) this.sampleCnt++;
    else {
      const thresh = Math.min(Math.max(this.delayMinNs / 8, DELAY_MIN_NS), DELAY_MAX_NS);
      if (this.currRtt > this.delayMinNs + thresh) this.exit(s, 'delay');
    }
  }

  private exit(s: CcState, why: 'train' | 'delay'): void {
    this.found = true;
    this.reason = why;
    s.ssthresh = s.cwnd;
  }
}

/** hystart_ack_delay: min(1 ms, 4 × gso_max_size / sk_pacing_rate), pacing at 200% in slow start (tcp_update_pacing_rate). */
function ackDelay(cwnd: number, a: AckSample): number {
  if (a.srttNs <= 0) return 0;
  const rateBps = (2 * cwnd * a.mss * 1e9) / a.srttNs;
  return Math.min(1_000_000, (GSO_MAX_SIZE * 4 * 1e9) / rateBps);
}
