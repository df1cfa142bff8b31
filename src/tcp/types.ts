/**
 * What the TCP layer needs from the layer below (`TcpIpLayer`), its tunables (`TcpConfig`, Linux
 * defaults) and what a socket reports (`TcpInfo`, named after Linux `struct tcp_info` / `ss -ti`).
 */
import type { CcName } from './cc.js';

/**
 * The IP layer under a TCP stack: a guest's stack (`guest/stack.ts`) or a hypervisor host's
 * management interface. TCP writes its header and payload at `headroom` in a buffer from
 * `allocate`, fills the checksum (it knows the pseudo-header), and hands it to `output`.
 */
export interface TcpIpLayer {
  /** Bytes before the TCP header in an allocated buffer (link + IPv4 headers). */
  readonly headroom: number;
  /** The source address and MTU used to reach `dst` (the interface's, or less once a smaller path MTU is known), or null without a route. */
  route(dst: number): { src: number; mtu: number } | null;
  /** A zeroed buffer for a TCP segment of `l4Len` bytes (plus headroom, padded as the link needs). */
  allocate(l4Len: number): Uint8Array;
  /** Writes the lower headers in front of the segment and sends it. `ecn` = IP ECN codepoint (0..3). */
  output(buf: Uint8Array, src: number, dst: number, l4Len: number, ecn: number): void;
}

export interface TcpConfig {
  /** Congestion control (Linux default `cubic`). */
  cc: CcName;
  /** MSS to advertise; default from the route MTU (MTU − 40). */
  mss?: number;
  /** RFC 2018 SACK (net.ipv4.tcp_sack = 1). */
  sack: boolean;
  /** RFC 7323 timestamps (net.ipv4.tcp_timestamps = 1). */
  timestamps: boolean;
  /** RFC 7323 window scaling (net.ipv4.tcp_window_scaling = 1). */
  windowScaling: boolean;
  /** Nagle's algorithm (on unless TCP_NODELAY). */
  nagle: boolean;
  /** Delayed ACKs (Linux: every second full segment or after the delayed-ACK timer). */
  delayedAck: boolean;
  /** Delayed-ACK timeout (Linux TCP_DELACK_MIN 40 ms). */
  delAckNs: number;
  /** Immediate ACKs at the start of a connection (Linux TCP_MAX_QUICKACKS 16). */
  quickAcks: number;
  /** ECN negotiation (net.ipv4.tcp_ecn = 2: off for connections we open). */
  ecn: boolean;
  /** Initial congestion window in segments (RFC 6928, Linux TCP_INIT_CWND 10). */
  initCwnd: number;
  /** Receive buffer bound in bytes (tcp_rmem max 6291456). */
  rcvBuf: number;
  /** Send buffer bound in bytes (tcp_wmem max 4194304). */
  sndBuf: number;
  /** RTO bounds (Linux TCP_RTO_MIN 200 ms, TCP_TIMEOUT_INIT 1 s, TCP_RTO_MAX 120 s). */
  minRtoNs: number;
  initRtoNs: number;
  maxRtoNs: number;
  /** SYN retransmissions before giving up (tcp_syn_retries 6). */
  synRetries: number;
  /** Data retransmissions before giving up (tcp_retries2 15). */
  retries: number;
  /** TIME_WAIT length (Linux TCP_TIMEWAIT_LEN 60 s). */
  timeWaitNs: number;
  /**
   * Path MTU discovery (Linux IP_MTU_DISCOVER, ip(7)): `want` (the default for TCP sockets) sends
   * DF and lowers the MSS on ICMP fragmentation needed (RFC 1191, `tcp_v4_mtu_reduced`); `probe`
   * (IP_PMTUDISC_PROBE) sends DF but ignores the path MTU, so a smaller hop black-holes it.
   */
  pmtuDisc: 'want' | 'probe';
  /** CUBIC slow-start exit (tcp_cubic.c `hystart`; off by default here, see docs/tcp.md). */
  hystart: boolean;
}

export const DEFAULT_TCP_CONFIG: Readonly<TcpConfig> = Object.freeze({
  cc: 'cubic',
  sack: true,
  timestamps: true,
  windowScaling: true,
  nagle: true,
  delayedAck: true,
  delAckNs: 40_000_000,
  quickAcks: 16,
  ecn: false,
  initCwnd: 10,
  rcvBuf: 6_291_456,
  sndBuf: 4_194_304,
  minRtoNs: 200_000_000,
  initRtoNs: 1_000_000_000,
  maxRtoNs: 120_000_000_000,
  synRetries: 6,
  retries: 15,
  timeWaitNs: 60_000_000_000,
  pmtuDisc: 'want',
  hystart: false,
});

/** Largest buffer a socket may ask for (Linux caps SO_RCVBUF/SO_SNDBUF at 2 × net.core.*mem_max; we allow 1 GiB). */
export const MAX_SOCKET_BUFFER = 1 << 30;

export type TcpState =
  | 'CLOSED' | 'SYN_SENT' | 'SYN_RECEIVED' | 'ESTABLISHED' | 'FIN_WAIT_1' | 'FIN_WAIT_2'
  | 'CLOSE_WAIT' | 'CLOSING' | 'LAST_ACK' | 'TIME_WAIT';

/** Why a connection ended, in errno terms. */
export type TcpError = 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | 'ENETUNREACH' | 'EHOSTUNREACH' | 'EADDRINUSE';

/** A snapshot of one connection (Linux `struct tcp_info` names where one exists). */
export interface TcpInfo {
  state: TcpState;
  /** Congestion window, segments and bytes. */
  snd_cwnd: number;
  snd_cwnd_bytes: number;
  snd_ssthresh: number;
  /** Smoothed RTT and variance (ns; 0 before the first sample). */
  srtt_ns: number;
  rttvar_ns: number;
  rto_ns: number;
  snd_mss: number;
  rcv_mss: number;
  /** Segments retransmitted (fast retransmit and timeouts). */
  total_retrans: number;
  /** Retransmission timeouts. */
  timeouts: number;
  /** Fast-recovery episodes. */
  recoveries: number;
  bytes_sent: number;
  bytes_acked: number;
  bytes_received: number;
  segs_out: number;
  segs_in: number;
  /** Peer window in bytes (scaled). */
  snd_wnd: number;
  /** Our advertised window in bytes. */
  rcv_wnd: number;
  /** Bytes written but not yet acknowledged. */
  unacked_bytes: number;
  ca_state: 'open' | 'disorder' | 'cwr' | 'recovery' | 'loss';
  cc: CcName;
  sack: boolean;
  timestamps: boolean;
  wscale_snd: number;
  wscale_rcv: number;
  ecn: boolean;
}
