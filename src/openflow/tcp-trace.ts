/**
 * Synthesised TCP framing of an OpenFlow connection, so the control channel shows up in the
 * pcapng as a well-formed TCP stream on port 6653 (Wireshark's `openflow_v4` dissector picks it
 * up by port, `epan/dissectors/packet-openflow.c`, and reassembles messages across segments).
 *
 * The trace models the protocol, not the host's loopback: the controller side is always port
 * 6653 whatever real port the controller listens on, sequence numbers start at fixed ISNs and
 * advance by exactly the bytes traced (so they are the same every run), and segments carry at
 * most MSS bytes. Keep-alive echoes and synchronisation probes (docs/openflow.md) follow the wall
 * clock and are not part of the trace.
 */
import { TcpFlags } from '../wire/tcp.js';
import { buildTcp } from '../wire/build.js';
import type { Port } from '../port/port.js';

export const TRACE_MSS = 1460;
const SWITCH_ISN = 0x1000;
const CONTROLLER_ISN = 0x8000;

export interface TcpEnd {
  ip: number;
  port: number;
}

export class TcpTrace {
  private sndNxt = SWITCH_ISN;
  private rcvNxt = CONTROLLER_ISN;

  /**
   * @param port the capture port: `send` = switch → controller (outbound), `receive` = inbound.
   */
  constructor(
    private readonly port: Port,
    private readonly sw: TcpEnd,
    private readonly ctl: TcpEnd,
  ) {}

  private frame(fromSwitch: boolean, flags: number, payload: Uint8Array): Uint8Array {
    const [s, d] = fromSwitch ? [this.sw, this.ctl] : [this.ctl, this.sw];
    return buildTcp({
      srcMac: 0,
      dstMac: 0,
      srcIp: s.ip,
      dstIp: d.ip,
      srcPort: s.port,
      dstPort: d.port,
      seq: fromSwitch ? this.sndNxt : this.rcvNxt,
      ack: flags & TcpFlags.ACK ? (fromSwitch ? this.rcvNxt : this.sndNxt) : 0,
      flags,
      payload,
    });
  }

  private out(f: Uint8Array): void {
    this.port.send(f, { hops: 0 });
  }
  private in(f: Uint8Array): void {
    this.port.receive(f, { hops: 0 });
  }

  /** The switch opened the connection (`controller: tcp:…`): SYN. */
  syn(): void {
    this.out(this.frame(true, TcpFlags.SYN, new Uint8Array(0)));
    this.sndNxt = (this.sndNxt + 1) >>> 0;
  }
  /** The controller's SYN-ACK, then the switch's ACK. */
  synAck(): void {
    this.in(this.frame(false, TcpFlags.SYN | TcpFlags.ACK, new Uint8Array(0)));
    this.rcvNxt = (this.rcvNxt + 1) >>> 0;
    this.out(this.frame(true, TcpFlags.ACK, new Uint8Array(0)));
  }
  /** A controller connected to the switch (`ptcp:`): SYN in, SYN-ACK out, ACK in. */
  accepted(): void {
    this.in(this.frame(false, TcpFlags.SYN, new Uint8Array(0)));
    this.rcvNxt = (this.rcvNxt + 1) >>> 0;
    this.out(this.frame(true, TcpFlags.SYN | TcpFlags.ACK, new Uint8Array(0)));
    this.sndNxt = (this.sndNxt + 1) >>> 0;
    this.in(this.frame(false, TcpFlags.ACK, new Uint8Array(0)));
  }

  private data(fromSwitch: boolean, bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; at += TRACE_MSS) {
      const seg = bytes.subarray(at, Math.min(bytes.length, at + TRACE_MSS));
      const f = this.frame(fromSwitch, TcpFlags.PSH | TcpFlags.ACK, seg);
      if (fromSwitch) {
        this.sndNxt = (this.sndNxt + seg.length) >>> 0;
        this.out(f);
      } else {
        this.rcvNxt = (this.rcvNxt + seg.length) >>> 0;
        this.in(f);
      }
    }
  }
  /** Bytes the switch sent. */
  tx(bytes: Uint8Array): void {
    this.data(true, bytes);
  }
  /** Bytes the switch received. */
  rx(bytes: Uint8Array): void {
    this.data(false, bytes);
  }
  /** The switch resets the connection. */
  rst(): void {
    this.out(this.frame(true, TcpFlags.RST | TcpFlags.ACK, new Uint8Array(0)));
  }
}
