/**
 * One OpenFlow connection of one bridge, in virtual time (the deterministic core; sockets live in
 * controller.adapter.ts).
 *
 * Timing model (docs/openflow.md "Virtual time and a real controller"):
 * - A message the switch sends at virtual time T is traced at T and reaches the controller at
 *   T + latency. At that instant the channel asks the driver to *settle*: virtual time stops
 *   until the real controller has answered everything it is going to answer.
 * - Whatever the controller sent during the settle arrives at T + 2·latency, in the order it was
 *   sent, and is handled there (traced, decoded, answered).
 * So the controller's answers land at the same virtual instants every run, however slow the
 * machine or the controller.
 *
 * Invariants: no wall clock, no I/O; bytes for the socket wait in `outgoing` for the driver.
 * Garbage that breaks the framing gets an ERROR and resets the connection; a message that frames
 * but does not decode gets the spec's ERROR and the connection lives on.
 */
import type { Simulation } from '../sim/simulation.js';
import { decode, encode, errorFor } from './codec.js';
import { OFPBRC, OFPET, OFPHFC, OFP_VERSION, errorName } from './constants.js';
import type { OfpMessage } from './messages.js';
import type { OfpErr } from './oxm.js';
import { Framer } from './stream.js';
import type { SwitchAgent } from './switch-agent.js';
import type { TcpTrace } from './tcp-trace.js';

export type ChannelState = 'connecting' | 'hello' | 'up' | 'closed';

export interface ChannelEvent {
  type: string;
  [k: string]: unknown;
}

export interface ChannelOptions {
  sim: Simulation;
  agent: SwitchAgent;
  trace: TcpTrace;
  /** One-way virtual latency between switch and controller (ns). */
  latencyNs: number;
  /** Called when bytes wait in `outgoing` (the driver stops virtual time at the end of this instant). */
  wantSettle: () => void;
  report: (e: ChannelEvent) => void;
  /** Called once when the connection closes (reset, incompatible version, peer gone). */
  onClose: (why: string) => void;
  /** A name for reports: `hv1.br0 → tcp:127.0.0.1:6653`. */
  name: string;
}

/** Errors reported per channel in detail; past this only counted. */
const MAX_REPORTED_ERRORS = 20;

export class OfChannel {
  state: ChannelState = 'connecting';
  /** Bytes for the socket, in order. */
  readonly outgoing: Uint8Array[] = [];
  readonly framer = new Framer();
  messagesIn = 0;
  messagesOut = 0;
  errorsSent = 0;
  errorsReceived = 0;
  /** Messages sent in virtual time that have not reached `outgoing` yet. */
  inFlight = 0;

  constructor(readonly o: ChannelOptions) {}

  /** The switch connected (`active`) or accepted a connection; HELLO goes out once TCP is up. */
  start(active: boolean): void {
    const { sim, trace, latencyNs } = this.o;
    if (active) {
      trace.syn();
      sim.schedule(2 * latencyNs, () => {
        trace.synAck();
        this.state = 'hello';
        this.send({ type: 'hello', xid: 1, versions: [OFP_VERSION] });
      });
    } else {
      trace.accepted();
      this.state = 'hello';
      this.send({ type: 'hello', xid: 1, versions: [OFP_VERSION] });
    }
  }

  /** Sends `m` now (virtual): traced now, on the socket at now + latency. */
  send(m: OfpMessage): void {
    if (this.state === 'closed') return;
    const bytes = encode(m);
    this.messagesOut++;
    this.o.trace.tx(bytes);
    this.inFlight++;
    this.o.sim.schedule(this.o.latencyNs, () => {
      this.inFlight--;
      // Sent before a close: still goes out (the ERROR before a reset must reach the controller).
      this.outgoing.push(bytes);
      this.o.wantSettle();
    });
  }

  /** The bridge sends a packet to the controller (no-op until the handshake is done). */
  packetIn(inPort: number, frame: Uint8Array, rule: Parameters<SwitchAgent['packetIn']>[2]): void {
    if (this.state !== 'up') return;
    this.send(this.o.agent.packetIn(inPort, frame, rule));
  }

  /** An asynchronous message of the bridge (FLOW_REMOVED, PORT_STATUS): sent once the handshake is done. */
  sendAsync(m: OfpMessage): void {
    if (this.state === 'up') this.send(m);
  }

  /**
   * Messages the controller sent (whole messages, in order) arrive `latencyNs` from now. Called by
   * the driver at a settle point.
   */
  deliver(msgs: Uint8Array[]): void {
    if (msgs.length === 0) return;
    this.o.sim.schedule(this.o.latencyNs, () => {
      for (const raw of msgs) {
        if (this.state === 'closed') return;
        this.o.trace.rx(raw);
        this.handleRaw(raw);
      }
    });
  }

  /** The controller's byte stream broke (a header length under 8): ERROR, then reset. */
  garbage(raw: Uint8Array, why: string): void {
    this.o.sim.schedule(this.o.latencyNs, () => {
      if (this.state === 'closed') return;
      this.o.trace.rx(raw);
      this.sendError({ type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_LEN, why }, 0, raw);
      this.close(`garbage from the controller: ${why}`, true);
    });
  }

  /** The connection ended (by us or by the peer). */
  close(why: string, reset: boolean): void {
    if (this.state === 'closed') return;
    if (reset) this.o.trace.rst();
    this.state = 'closed';
    this.o.report({ type: 'openflow_disconnected', channel: this.o.name, reason: why });
    this.o.onClose(why);
  }

  private sendError(err: OfpErr, xid: number, raw: Uint8Array): void {
    this.errorsSent++;
    if (this.errorsSent <= MAX_REPORTED_ERRORS) {
      this.o.report({ type: 'openflow_error_sent', channel: this.o.name, error: errorName(err.type, err.code), why: err.why ?? '', xid });
    }
    this.send(errorFor(err, xid, raw));
  }

  private handleRaw(raw: Uint8Array): void {
    this.messagesIn++;
    const r = decode(raw);
    if (!r.ok) {
      // A HELLO of another version decodes; anything else undecodable gets its ERROR (§7.4.4).
      this.sendError(r.err, r.xid, raw);
      return;
    }
    const m = r.msg;
    if (m.type === 'hello') {
      // §6.3.1 version negotiation: with a bitmap, the highest common bit; without, min(versions).
      const ok = m.versions !== null ? m.versions.includes(OFP_VERSION) : raw[0]! >= OFP_VERSION;
      if (!ok) {
        this.sendError({ type: OFPET.HELLO_FAILED, code: OFPHFC.INCOMPATIBLE, why: `controller offers version ${m.versions?.join(',') ?? raw[0]}, this switch speaks 0x04` }, m.xid, raw);
        this.close('no common OpenFlow version', true);
        return;
      }
      if (this.state === 'hello') {
        this.state = 'up';
        this.o.report({ type: 'openflow_connected', channel: this.o.name });
      }
      return;
    }
    if (this.state !== 'up') {
      // §6.3.1: nothing but HELLO before the versions are agreed.
      this.sendError({ type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_TYPE, why: `${m.type} before HELLO` }, m.xid, raw);
      return;
    }
    if (m.type === 'error') {
      this.errorsReceived++;
      if (this.errorsReceived <= MAX_REPORTED_ERRORS) {
        this.o.report({ type: 'openflow_error_received', channel: this.o.name, error: errorName(m.errType, m.code), xid: m.xid });
      }
      return;
    }
    const agent = this.o.agent;
    agent.requester = this;
    let res;
    try {
      res = agent.handle(m);
    } finally {
      agent.requester = null;
    }
    if (Array.isArray(res)) for (const x of res) this.send(x);
    else this.sendError(res, m.xid, raw);
  }
}
