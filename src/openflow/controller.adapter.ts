/**
 * Socket I/O for OpenFlow connections and the synchronisation of virtual time with real
 * controllers (the only OpenFlow file that reads the wall clock; docs/openflow.md).
 *
 * Settle protocol. When a bridge's message reaches the controller in virtual time (channel.ts),
 * the run stops at the end of that virtual instant and `settle()` runs, connection by connection
 * in a fixed order (bridge order, then connection order):
 *   1. write the pending bytes to the socket;
 *   2. wait until the controller has been silent for `quietMs` of wall time;
 *   3. send an ECHO_REQUEST probe and wait for its ECHO_REPLY: a controller answers in order on a
 *      connection, so everything it sent before the reply was caused by what we sent before the
 *      probe (the "barrier" round trip after its last message);
 *   4. if it sent anything else meanwhile, repeat from 2; else hand the messages to the channel,
 *      which handles them `latency` later in virtual time.
 * Only then does virtual time move on. A controller that does not answer the probe within
 * `probeTimeoutMs` is reported (`controller_unresponsive`) and the run continues.
 *
 * Keep-alives: ECHO_REQUESTs from the controller are answered here at once (wall clock) and, like
 * the probes, are not part of the simulation or its trace.
 */
import { createServer, Socket, type Server } from 'node:net';
import type { Simulation } from '../sim/simulation.js';
import type { OfChannel } from './channel.js';
import { encode } from './codec.js';
import { OFPT } from './constants.js';
import { Framer } from './stream.js';

export interface HubOptions {
  sim: Simulation;
  /** Wall-clock silence taken as "the controller is done" before the echo probe (default 10 ms). */
  quietMs?: number;
  /** How long a probe may take before the controller is reported unresponsive (default 5000 ms). */
  probeTimeoutMs?: number;
  /** Connect timeout for `tcp:` targets (default 3000 ms). */
  connectTimeoutMs?: number;
  report: (e: { type: string; [k: string]: unknown }) => void;
}

const PROBE_XID_BASE = 0x7ff00000;

/** A controller target as the topology gives it (`tcp:IP:PORT` / `ptcp:PORT[:IP]`). */
export interface ControllerTarget {
  kind: 'tcp' | 'ptcp';
  host: string;
  port: number;
  text: string;
}

/** What the hub needs of a bridge driven over OpenFlow (fabric/openflow.ts builds it). */
export interface HubBridge {
  cfg: { targets: ControllerTarget[] };
  open(target: ControllerTarget, active: boolean, hooks: { wantSettle: () => void; onClose: (why: string) => void }): OfChannel;
  unreachable(target: ControllerTarget, why: string): void;
}

class Conn {
  readonly framer = new Framer();
  inbox: Uint8Array[] = [];
  lastRxMs = 0;
  probeXid = -1;
  probeDone: (() => void) | null = null;
  garbage: { raw: Uint8Array; why: string } | null = null;
  closed = false;
  /** Our side ended the connection (after flushing what was queued). */
  ended = false;
  /** Accepted on a ptcp: port (ovs-ofctl, a service controller): never probed, see `settle`. */
  passive = false;
  channel!: OfChannel;

  constructor(
    readonly socket: Socket,
    private readonly onClosed: (c: Conn) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.probeDone?.();
      this.onClosed(this);
    });
  }

  private onData(chunk: Uint8Array): void {
    this.lastRxMs = Date.now();
    if (this.garbage) {
      this.probeDone?.();
      return;
    }
    for (const raw of this.framer.push(chunk)) {
      const type = raw[1];
      if (raw[0] === 4 && type === OFPT.ECHO_REQUEST) {
        // Keep-alive: answer now, outside virtual time (same xid and data, §7.5.2).
        const reply = raw.slice();
        reply[1] = OFPT.ECHO_REPLY;
        this.socket.write(reply);
        continue;
      }
      if (raw[0] === 4 && type === OFPT.ECHO_REPLY && raw.length >= 8) {
        const xid = new DataView(raw.buffer, raw.byteOffset).getUint32(4);
        if (xid === this.probeXid) {
          this.probeDone?.();
          continue;
        }
      }
      this.inbox.push(raw);
    }
    if (this.framer.broken !== null) {
      this.garbage = { raw: chunk.slice(0, 64), why: this.framer.broken };
      this.probeDone?.();
    }
  }

  /** Closed or broken (a method, so checks after an `await` are not narrowed away). */
  gone(): boolean {
    return this.closed || this.garbage !== null;
  }

  write(bytes: Uint8Array): void {
    if (!this.closed) this.socket.write(bytes);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ControllerHub {
  private readonly conns: Conn[] = [];
  private readonly servers: Server[] = [];
  private settleScheduled = false;
  private pending = false;
  private probeSeq = 0;
  readonly quietMs: number;
  readonly probeTimeoutMs: number;
  /** Packet-in round trips settled (a figure for the bench). */
  settles = 0;

  constructor(private readonly o: HubOptions) {
    this.quietMs = o.quietMs ?? 10;
    this.probeTimeoutMs = o.probeTimeoutMs ?? 5000;
  }

  /** Whether virtual time is stopped waiting for a settle. */
  get wantsSettle(): boolean {
    return this.pending;
  }

  private wantSettle = (): void => {
    this.pending = true;
    if (this.settleScheduled) return;
    this.settleScheduled = true;
    // Stop at the end of this instant, so every bridge's sends of the instant settle together.
    this.o.sim.schedule(0, () => {
      this.settleScheduled = false;
      this.o.sim.stop();
    });
  };

  private attach(ofb: HubBridge, target: ControllerTarget, socket: Socket, active: boolean): void {
    const conn = new Conn(socket, (c) => {
      if (c.channel.state === 'closed') return;
      // The peer went away: close in virtual time at the next settle point.
      this.wantSettle();
    });
    conn.passive = !active;
    this.conns.push(conn);
    conn.channel = ofb.open(target, active, {
      wantSettle: this.wantSettle,
      onClose: () => {
        // Flushed and ended at the next settle, after the bytes queued before the close.
        this.wantSettle();
      },
    });
  }

  /** Connects every `tcp:` target and listens on every `ptcp:` one (before virtual time starts). */
  async start(bridges: HubBridge[]): Promise<void> {
    for (const ofb of bridges) {
      for (const t of ofb.cfg.targets) {
        if (t.kind === 'ptcp') {
          const server = createServer((s) => this.attach(ofb, t, s, false));
          await new Promise<void>((resolve) => {
            server.once('error', (e) => {
              ofb.unreachable(t, `cannot listen: ${(e).message}`);
              resolve();
            });
            server.listen(t.port, t.host, () => resolve());
          });
          this.servers.push(server);
          continue;
        }
        const err = await new Promise<string | null>((resolve) => {
          const s = new Socket();
          const timer = setTimeout(() => {
            s.destroy();
            resolve(`no answer within ${this.o.connectTimeoutMs ?? 3000} ms`);
          }, this.o.connectTimeoutMs ?? 3000);
          s.once('error', (e) => {
            clearTimeout(timer);
            resolve((e as NodeJS.ErrnoException).code ?? (e).message);
          });
          s.connect(t.port, t.host, () => {
            clearTimeout(timer);
            s.removeAllListeners('error');
            this.attach(ofb, t, s, true);
            resolve(null);
          });
        });
        if (err !== null) {
          ofb.unreachable(t, `connection to ${t.host}:${t.port} failed: ${err}`);
          continue;
        }
        // Controllers greet each connection at once (HELLO). Wait for that greeting before the
        // next connection exists, so a controller with process-wide counters (ovs-testcontroller's
        // xids) numbers the connections in the same order every run.
        const c = this.conns[this.conns.length - 1]!;
        const t0 = Date.now();
        while (c.inbox.length === 0 && !c.gone() && Date.now() - t0 < (this.o.connectTimeoutMs ?? 3000)) await sleep(1);
      }
    }
  }

  private async quiesce(c: Conn): Promise<void> {
    for (;;) {
      // 2. silence
      const since = Date.now();
      for (;;) {
        if (c.gone()) return;
        const quietFor = Date.now() - Math.max(c.lastRxMs, since);
        if (quietFor >= this.quietMs) break;
        await sleep(Math.max(1, this.quietMs - quietFor));
      }
      // 3. probe
      const before = c.inbox.length;
      c.probeXid = PROBE_XID_BASE + (this.probeSeq++ % 0xfffff);
      const done = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), this.probeTimeoutMs);
        c.probeDone = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      c.write(encode({ type: 'echo_request', xid: c.probeXid, data: new Uint8Array(0) }));
      const answered = await done;
      c.probeDone = null;
      c.probeXid = -1;
      if (c.gone()) return;
      if (!answered) {
        this.o.report({ type: 'controller_unresponsive', channel: c.channel.o.name, waited_ms: this.probeTimeoutMs });
        return;
      }
      if (c.inbox.length === before) return;
    }
  }

  /** Delivers what each connection's controller sent; waits for answers to what was sent. */
  async settle(): Promise<void> {
    this.pending = false;
    this.settles++;
    for (const c of this.conns) {
      const ch = c.channel;
      const out = ch.outgoing.splice(0);
      for (const b of out) c.write(b);
      if (ch.state === 'closed') {
        this.end(c);
        continue;
      }
      // Clients on a ptcp: port (ovs-ofctl) block on their own request and answer no echo meanwhile:
      // their requests are served as they come, without the quiet/probe wait.
      if (out.length > 0 && !c.closed && !c.passive) await this.quiesce(c);
      const msgs = c.inbox.splice(0);
      ch.deliver(msgs);
      if (c.garbage) {
        ch.garbage(c.garbage.raw, c.garbage.why);
        c.garbage = null;
      } else if (c.closed) {
        if (msgs.length === 0) ch.close('the controller closed the connection', false);
        else this.wantSettle(); // handle its last words first, close at the next settle
      }
    }
  }

  private end(c: Conn): void {
    if (c.ended || c.channel.inFlight > 0) return;
    c.ended = true;
    c.socket.end();
  }

  /** Serve mode: delivers whatever arrived since the last call (no waiting). */
  poll(): void {
    for (const c of this.conns) {
      const ch = c.channel;
      for (const b of ch.outgoing.splice(0)) c.write(b);
      if (ch.state === 'closed') {
        this.end(c);
        continue;
      }
      ch.deliver(c.inbox.splice(0));
      if (c.garbage) {
        ch.garbage(c.garbage.raw, c.garbage.why);
        c.garbage = null;
      } else if (c.closed) ch.close('the controller closed the connection', false);
    }
    this.pending = false;
  }

  /** Closes every socket and listener. */
  async close(): Promise<void> {
    for (const c of this.conns) {
      for (const b of c.channel.outgoing.splice(0)) c.write(b);
      c.socket.end();
      c.socket.destroy();
    }
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
