/**
 * TCP connection tracking as OVS's userspace conntrack does it (lib/conntrack-tcp.c, itself
 * pf's sequence tracking after Guido van Rooij's "Real Stateful TCP Packet Filtering"): each
 * direction ("peer") has a state, the highest sequence sent (seqlo), the highest it may send
 * (seqhi, from the other side's window), its largest window and window scale. A segment outside
 * the windows, or with an impossible flag combination, is invalid (`+inv`).
 *
 * All sequence arithmetic is modulo 2^32 (int32 ops: `(a - b) | 0`).
 */

/** CT_DPIF_TCPS_* (lib/ct-dpif.h), in order. */
export const TCPS_CLOSED = 0;
export const TCPS_SYN_SENT = 2;
export const TCPS_ESTABLISHED = 4;
export const TCPS_CLOSING = 7;
export const TCPS_FIN_WAIT_2 = 9;
export const TCPS_TIME_WAIT = 10;

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const URG = 0x20;

const WSCALE_FLAG = 0x80;
const WSCALE_UNKNOWN = 0x40;
const WSCALE_MASK = 0xf;
const MAX_WSCALE = 14;
const MAXACKWINDOW = 0xffff + 1500;

/** conntrack-private.h `enum ct_update_res`. */
export const UPDATE_INVALID = 0;
export const UPDATE_VALID = 1;
export const UPDATE_NEW = 2;
export const UPDATE_VALID_NEW = 3;

/** Timeout classes (conntrack-tp.c: seconds for the netdev datapath's default policy). */
export const TM_TCP_FIRST_PACKET = 30;
export const TM_TCP_OPENING = 30;
export const TM_TCP_ESTABLISHED = 24 * 60 * 60;
export const TM_TCP_CLOSING = 15 * 60;
export const TM_TCP_FIN_WAIT = 45;
export const TM_TCP_CLOSED = 30;

export interface TcpPeer {
  state: number;
  seqlo: number;
  seqhi: number;
  maxWin: number;
  wscale: number;
}

/** The TCP header fields tracking reads (from the frame). */
export interface TcpSeg {
  flags: number;
  seq: number;
  ack: number;
  win: number;
  /** Payload bytes. */
  len: number;
  /** Window-scale option (CT_WSCALE_FLAG | shift) or 0 when absent. */
  wscale: number;
}

const geq = (a: number, b: number): boolean => ((a - b) | 0) >= 0;
const gt = (a: number, b: number): boolean => ((a - b) | 0) > 0;

/** `tcp_invalid_flags`. */
export function tcpInvalidFlags(f: number): boolean {
  if (f & SYN) {
    if (f & (RST | FIN)) return true;
  } else if (!(f & (ACK | RST))) return true;
  if (!(f & ACK) && f & (FIN | PSH | URG)) return true;
  return false;
}

/** `tcp_valid_new`: a SYN, or a segment of a connection picked up mid-stream; never a SYN-ACK. */
export function tcpValidNew(f: number): boolean {
  return !tcpInvalidFlags(f) && !(f & SYN && f & ACK);
}

/** Reads the window-scale option of a TCP header at `o` (`tcp_get_wscale`). */
export function tcpWscale(frame: Uint8Array, o: number, hdrLen: number): number {
  let len = hdrLen - 20;
  let i = o + 20;
  let ws = 0;
  while (len >= 3 && i + 2 < frame.length) {
    const kind = frame[i]!;
    if (kind === 0) return ws;
    if (kind === 1) {
      i++;
      len--;
      continue;
    }
    if (kind === 3) ws = Math.min(frame[i + 2]!, MAX_WSCALE) | WSCALE_FLAG;
    const ol = Math.max(2, frame[i + 1]!);
    len -= ol;
    i += ol;
  }
  return ws;
}

/** `tcp_new_conn`: the two peers for a connection started by `s`. Returns the timeout class. */
export function tcpNewConn(s: TcpSeg): [TcpPeer, TcpPeer] {
  const src: TcpPeer = { state: TCPS_SYN_SENT, seqlo: s.seq, seqhi: (s.seq + s.len + 1) | 0, maxWin: Math.max(s.win, 1), wscale: 0 };
  const dst: TcpPeer = { state: TCPS_CLOSED, seqlo: 0, seqhi: 1, maxWin: 1, wscale: 0 };
  if (s.flags & SYN) {
    src.seqhi = (src.seqhi + 1) | 0;
    src.wscale = s.wscale;
  } else {
    src.wscale = WSCALE_UNKNOWN;
    dst.wscale = WSCALE_UNKNOWN;
  }
  if (src.wscale & WSCALE_MASK) src.maxWin = Math.ceil(src.maxWin / (1 << (src.wscale & WSCALE_MASK)));
  if (s.flags & FIN) src.seqhi = (src.seqhi + 1) | 0;
  return [src, dst];
}

/** tcpUpdate's second result (no tuple allocated per tracked segment): the timeout class in seconds, or 0 to keep the current expiry. */
export const tcpResult = { timeout: 0 };

function ret(res: number, tm: number): number {
  tcpResult.timeout = tm;
  return res;
}

/**
 * `tcp_conn_update`: updates the peers for segment `s` (from peer[1] when `reply`). Returns
 * UPDATE_*; `tcpResult.timeout` is then the timeout class in seconds, or 0 to keep the current expiry.
 */
export function tcpUpdate(peers: [TcpPeer, TcpPeer], s: TcpSeg, reply: boolean): number {
  const src = peers[reply ? 1 : 0];
  const dst = peers[reply ? 0 : 1];
  const f = s.flags;
  let win = s.win;
  let sws = 0;
  let dws = 0;
  if (tcpInvalidFlags(f)) return ret(UPDATE_INVALID, 0);
  if ((f & (SYN | ACK)) === SYN) {
    if (dst.state >= TCPS_FIN_WAIT_2 && src.state >= TCPS_FIN_WAIT_2) {
      src.state = dst.state = TCPS_CLOSED;
      return ret(UPDATE_NEW, 0);
    } else if (src.state <= TCPS_SYN_SENT) {
      src.state = TCPS_SYN_SENT;
      return ret(UPDATE_VALID_NEW, TM_TCP_FIRST_PACKET);
    }
  }
  if (src.wscale & WSCALE_FLAG && dst.wscale & WSCALE_FLAG && !(f & SYN)) {
    sws = src.wscale & WSCALE_MASK;
    dws = dst.wscale & WSCALE_MASK;
  } else if (src.wscale & WSCALE_UNKNOWN && dst.wscale & WSCALE_UNKNOWN && !(f & SYN)) {
    sws = MAX_WSCALE;
    dws = MAX_WSCALE;
  }
  const origSeq = s.seq;
  let seq = s.seq;
  let ack = s.ack;
  let end: number;
  let checkAckskew = true;
  if (src.state < TCPS_SYN_SENT) {
    // First segment from this end.
    end = (seq + s.len) | 0;
    if (f & SYN) {
      end = (end + 1) | 0;
      if (dst.wscale & WSCALE_FLAG) {
        src.wscale = s.wscale;
        if (src.wscale & WSCALE_FLAG) {
          sws = src.wscale & WSCALE_MASK;
          win = Math.ceil(win / (1 << sws));
          dws = dst.wscale & WSCALE_MASK;
        } else {
          dst.maxWin = dst.maxWin * (1 << (dst.wscale & WSCALE_MASK));
          dst.wscale = 0;
        }
      }
    }
    if (f & FIN) end = (end + 1) | 0;
    src.seqlo = seq;
    src.state = TCPS_SYN_SENT;
    const reach = (end + Math.max(1, dst.maxWin * (1 << dws))) | 0;
    if (src.seqhi === 1 || geq(reach, src.seqhi)) {
      src.seqhi = reach;
      checkAckskew = false;
    }
    if (win > src.maxWin) src.maxWin = win;
  } else {
    end = (seq + s.len) | 0;
    if (f & SYN) end = (end + 1) | 0;
    if (f & FIN) end = (end + 1) | 0;
  }
  if ((f & ACK) === 0) ack = dst.seqlo;
  else if (ack === 0 && (f & (ACK | RST)) === (ACK | RST)) ack = dst.seqlo;
  if (seq === end) {
    seq = src.seqlo;
    end = seq;
  }
  const ackskew = checkAckskew ? (dst.seqlo - ack) | 0 : 0;
  const dstWin = dst.maxWin * (1 << dws);
  const inWindow =
    geq(src.seqhi, end) &&
    geq(seq, (src.seqlo - dstWin) | 0) &&
    ackskew >= -MAXACKWINDOW &&
    ackskew <= MAXACKWINDOW * (1 << sws) &&
    ((f & RST) === 0 || origSeq === src.seqlo || origSeq === ((src.seqlo + 1) | 0) || ((origSeq + 1) | 0) === src.seqlo);
  if (inWindow) {
    if (src.maxWin < win) src.maxWin = win;
    if (gt(end, src.seqlo)) src.seqlo = end;
    const w = win * (1 << sws);
    if (geq((ack + w) | 0, dst.seqhi)) dst.seqhi = (ack + Math.max(w, 1)) | 0;
    if (f & SYN && src.state < TCPS_SYN_SENT) src.state = TCPS_SYN_SENT;
    if (f & FIN && src.state < TCPS_CLOSING) src.state = TCPS_CLOSING;
    if (f & ACK) {
      if (dst.state === TCPS_SYN_SENT) dst.state = TCPS_ESTABLISHED;
      else if (dst.state === TCPS_CLOSING) dst.state = TCPS_FIN_WAIT_2;
    }
    if (f & RST) src.state = dst.state = TCPS_TIME_WAIT;
    let tm: number;
    if (src.state >= TCPS_FIN_WAIT_2 && dst.state >= TCPS_FIN_WAIT_2) tm = TM_TCP_CLOSED;
    else if (src.state >= TCPS_CLOSING && dst.state >= TCPS_CLOSING) tm = TM_TCP_FIN_WAIT;
    else if (src.state < TCPS_ESTABLISHED || dst.state < TCPS_ESTABLISHED) tm = TM_TCP_OPENING;
    else if (src.state >= TCPS_CLOSING || dst.state >= TCPS_CLOSING) tm = TM_TCP_CLOSING;
    else tm = TM_TCP_ESTABLISHED;
    return ret(UPDATE_VALID, tm);
  }
  if (
    (dst.state < TCPS_SYN_SENT || dst.state >= TCPS_FIN_WAIT_2 || src.state >= TCPS_FIN_WAIT_2) &&
    geq((src.seqhi + MAXACKWINDOW) | 0, end) &&
    geq(seq, (src.seqlo - MAXACKWINDOW) | 0)
  ) {
    // Shotgunned SYNs, a stream picked up after a flush, or stray segments right after a close:
    // accepted without refreshing the timeout (pf's "loose" path).
    if (src.maxWin < win) src.maxWin = win;
    if (gt(end, src.seqlo)) src.seqlo = end;
    const w = win * (1 << sws);
    if (geq((ack + w) | 0, dst.seqhi)) dst.seqhi = (ack + Math.max(w, 1)) | 0;
    if (f & FIN && src.state < TCPS_CLOSING) src.state = TCPS_CLOSING;
    if (f & RST) src.state = dst.state = TCPS_TIME_WAIT;
    return ret(UPDATE_VALID, 0);
  }
  return ret(UPDATE_INVALID, 0);
}
