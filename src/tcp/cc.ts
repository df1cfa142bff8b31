/**
 * Congestion control modules, in the shape of Linux's `struct tcp_congestion_ops`: the connection
 * owns `cwnd` (in segments, as Linux counts) and `ssthresh`, and calls the module at the same
 * points Linux does (`ssthresh` on a loss event, `congAvoid` per ACK that advances `snd_una` while
 * not in recovery, `onRto` when the retransmission timer fires).
 *
 * - NewReno (RFC 5681 + RFC 3465 ABC as in Linux `tcp_reno_cong_avoid`): slow start adds one
 *   segment per segment acked up to ssthresh; congestion avoidance adds one segment per cwnd
 *   segments acked (`tcp_cong_avoid_ai`); a loss halves: ssthresh = max(cwnd/2, 2).
 * - CUBIC (RFC 9438, after Linux `tcp_cubic.c`): W(t) = C(t-K)^3 + W_max with C = 0.4, beta =
 *   0.7 (Linux 717/1024), fast convergence, the Reno-friendly estimate (§4.3) and Linux's details:
 *   t includes the minimum RTT (`delay_min`), the growth step is at least every 2 ACKed segments,
 *   and before the first loss growth is capped at cnt 20. HyStart (`hystart.ts`) is off by default
 *   here, as the issue asks (Linux turns it on); `hystart: true` enables Linux's classic HyStart.
 */
import { HyStart, type AckSample } from './hystart.js';

export interface CcState {
  cwnd: number;
  ssthresh: number;
  /** Linux `snd_cwnd_cnt`: segments acked towards the next +1. */
  cwndCnt: number;
  /** Minimum RTT seen, ns (0 until measured). */
  minRttNs: number;
  now: number;
}

export interface CongestionControl {
  readonly name: 'newreno' | 'cubic';
  /** ssthresh after a loss event (fast retransmit, RTO or ECE). */
  ssthresh(s: CcState): number;
  /** Growth for `acked` newly acknowledged segments outside recovery. */
  congAvoid(s: CcState, acked: number): void;
  /** The retransmission timer fired (CUBIC resets its epoch). */
  onRto(s: CcState): void;
  /** Per ACK that acknowledged new data, with the RTT of the newest segment it acked (Linux `pkts_acked`). */
  acked?(s: CcState, sample: AckSample): void;
}

/** Linux `tcp_slow_start`: returns the acked segments left over after reaching ssthresh. */
export function slowStart(s: CcState, acked: number): number {
  const cwnd = Math.min(s.cwnd + acked, s.ssthresh);
  acked -= cwnd - s.cwnd;
  s.cwnd = cwnd;
  return acked;
}

/** Linux `tcp_cong_avoid_ai`: +1 segment per `w` segments acked. */
export function congAvoidAi(s: CcState, w: number, acked: number): void {
  if (s.cwndCnt >= w) {
    s.cwndCnt = 0;
    s.cwnd++;
  }
  s.cwndCnt += acked;
  if (s.cwndCnt >= w) {
    const delta = Math.floor(s.cwndCnt / w);
    s.cwndCnt -= delta * w;
    s.cwnd += delta;
  }
}

export class NewReno implements CongestionControl {
  readonly name = 'newreno' as const;
  ssthresh(s: CcState): number {
    return Math.max(s.cwnd >> 1, 2);
  }
  congAvoid(s: CcState, acked: number): void {
    if (s.cwnd < s.ssthresh) {
      acked = slowStart(s, acked);
      if (acked === 0) return;
    }
    congAvoidAi(s, s.cwnd, acked);
  }
  onRto(): void {}
}

const CUBIC_C = 0.4;
const CUBIC_BETA = 717 / 1024;

export class Cubic implements CongestionControl {
  readonly name = 'cubic' as const;
  private lastMaxCwnd = 0;
  private epochStart = 0;
  private originPoint = 0;
  private k = 0;
  /** Reno-friendly window estimate (segments, fractional). */
  private wEst = 0;
  private cnt = 0;
  private fastConvergence = true;
  private readonly hystart: HyStart | null;

  constructor(opts: { hystart?: boolean } = {}) {
    this.hystart = opts.hystart === true ? new HyStart() : null;
  }

  /** Linux bictcp_acked → hystart_update (only in slow start, until HyStart found its exit). */
  acked(s: CcState, sample: AckSample): void {
    // "Discard delay samples right after fast recovery": within 1 s of a new epoch.
    if (this.epochStart !== 0 && s.now - this.epochStart < 1e9) return;
    this.hystart?.acked(s, sample);
  }

  ssthresh(s: CcState): number {
    this.epochStart = 0;
    // RFC 9438 §4.7 fast convergence (Linux bictcp_recalc_ssthresh).
    if (s.cwnd < this.lastMaxCwnd && this.fastConvergence) this.lastMaxCwnd = (s.cwnd * (1 + CUBIC_BETA)) / 2;
    else this.lastMaxCwnd = s.cwnd;
    return Math.max(Math.floor(s.cwnd * CUBIC_BETA), 2);
  }

  onRto(s: CcState): void {
    // Linux bictcp_state(TCP_CA_Loss) -> bictcp_reset, bictcp_hystart_reset.
    this.lastMaxCwnd = 0;
    this.epochStart = 0;
    this.hystart?.lossReset(s);
  }

  congAvoid(s: CcState, acked: number): void {
    if (s.cwnd < s.ssthresh) {
      acked = slowStart(s, acked);
      if (acked === 0) return;
    }
    this.update(s, acked);
    congAvoidAi(s, this.cnt, acked);
  }

  /** Linux `bictcp_update` in floating point (RFC 9438 §4.2, §4.3). */
  private update(s: CcState, acked: number): void {
    const cwnd = s.cwnd;
    if (this.epochStart === 0) {
      this.epochStart = s.now;
      this.wEst = cwnd;
      if (this.lastMaxCwnd <= cwnd) {
        this.k = 0;
        this.originPoint = cwnd;
      } else {
        this.k = Math.cbrt((this.lastMaxCwnd - cwnd) / CUBIC_C);
        this.originPoint = this.lastMaxCwnd;
      }
    }
    const t = (s.now - this.epochStart + s.minRttNs) / 1e9;
    const target = this.originPoint + CUBIC_C * (t - this.k) ** 3;
    let cnt = target > cwnd ? cwnd / (target - cwnd) : 100 * cwnd;
    if (this.lastMaxCwnd === 0 && cnt > 20) cnt = 20;
    // Reno-friendly region: alpha = 3(1-beta)/(1+beta) segments per RTT.
    const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
    this.wEst += (alpha * acked) / cwnd;
    if (this.wEst > cwnd) cnt = Math.min(cnt, cwnd / (this.wEst - cwnd));
    this.cnt = Math.max(cnt, 2);
  }
}

export type CcName = 'newreno' | 'cubic';

export function makeCc(name: CcName, opts: { hystart?: boolean } = {}): CongestionControl {
  return name === 'newreno' ? new NewReno() : new Cubic(opts);
}
