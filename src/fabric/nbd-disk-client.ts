/**
 * QEMU's NBD client for one VM disk inside a run (`nbd-disks.ts` builds it): the requests of the
 * disk's fio jobs, the connection's states, and what happens when the connection is lost.
 *
 * States, as block/nbd.c (QEMU 7.2 .. 9.x) names them:
 *
 * - `connecting` (nbd_open): the first connection and handshake; I/Os wait. If it fails the disk
 *   never opened: every I/O fails with EIO (QEMU would fail to start the VM). Retrying is only
 *   enabled once this succeeded (`nbd_client_connection_enable_retry` in nbd_open).
 * - CONNECTED: at most MAX_NBD_REQUESTS = 16 requests in flight; more wait (`free_sema`).
 * - CONNECTING_WAIT: `nbd_channel_error_locked` with -EIO (a reply could not be read: the
 *   transport died, ETIMEDOUT/ECONNRESET/EOF) moves a CONNECTED client here when
 *   `reconnect-delay` > 0. Requests that were in flight are retried (`nbd_co_request`:
 *   `while (ret < 0 && nbd_client_will_reconnect(s))`) and wait with the new ones while the first
 *   of them blocks in `nbd_reconnect_attempt`, which arms `reconnect_delay_timer` (now +
 *   reconnect-delay) and waits for the connect thread.
 * - CONNECTING_NOWAIT: the same error with reconnect-delay 0, or the timer fired
 *   (`reconnect_delay_timer_cb`, which also cancels the blocked attempt). Requests in flight fail
 *   with EIO, and every new request makes a non-blocking attempt: it takes a connection the thread
 *   has already made, else fails with EIO at once.
 * - QUIT: any other channel error (a protocol violation, -EINVAL): everything fails.
 *
 * The connect thread (nbd/client-connection.c `connect_thread_func`) connects and does the whole
 * handshake again (a new TCP connection, a new NBD_OPT_GO); after a failed attempt it sleeps 1 s,
 * doubling up to 16 s, and tries again until it succeeds. A TCP connect to a host that does not
 * answer gives up after the SYN retries (tcp_syn_retries 6, ~127 s): a path that comes back is
 * noticed at the next SYN retransmission. The thread keeps running when the timer gives up
 * waiting for it; a connection it makes later serves the next request.
 *
 * Invariants: deterministic (sim events only); bounded: `waiting` holds at most the disk's jobs'
 * depth, the failure and connection-event lists the first 16.
 */
import type { NbdClient, NbdReply } from '../nbd/client.js';
import { nbdClientOnTcp } from '../nbd/tcp.js';
import type { QosEngine, IoTarget } from '../qos/engine.js';
import type { Io } from '../qos/io.js';
import type { TcpConnection } from '../tcp/connection.js';
import type { BuildContext } from './context.js';

/** block/nbd.c MAX_NBD_REQUESTS. */
export const MAX_NBD_REQUESTS = 16;
/** fio's errno for a failed I/O (EIO). */
const EIO = 5;
const MAX_LISTED = 16;
const NS = 1_000_000_000;
/** nbd/client-connection.c connect_thread_func: first sleep 1 s, doubled up to 16 s. */
const RETRY_FIRST_S = 1;
const RETRY_MAX_S = 16;

export interface NbdFailure {
  at_ns: number;
  op: 'read' | 'write';
  offset: number;
  length: number;
  error: string;
}

/** One lost connection and what became of it. */
export interface NbdConnectionEvent {
  lost_ns: number;
  reason: string;
  /** When a new connection took over (its handshake done), or null. */
  reconnected_ns: number | null;
  /** When reconnect-delay ran out with I/Os waiting (they failed then), or null. */
  expired_ns: number | null;
  /** I/Os re-sent on the new connection. */
  retried_ios: number;
}

type State = 'connecting' | 'connected' | 'wait' | 'nowait' | 'quit';

/** A live migration's move of the connection to the destination host (the record's `nbd_disks`). */
export interface NbdMove {
  from_via: string;
  to_via: string;
  to_src_ip: string;
  /** The destination's handshake done (ns), or null. */
  dest_connected_ns: number | null;
  /** Requests in the client (in flight or waiting for a slot) when the VM paused: they drained on the source. */
  drained_ios: number;
  /** I/Os the paused guest issued: sent from the destination after the switchover. */
  held_ios: number;
  /** Source drained and flushed (NBD_CMD_FLUSH), ns, or null. */
  drained_ns: number | null;
  switched_ns: number | null;
  status: 'opening' | 'open' | 'draining' | 'switched' | 'cancelled' | 'failed';
  error: string | null;
}

interface Incoming {
  client: NbdClient;
  open: () => TcpConnection;
  move: NbdMove;
  events: { ready(): void; fail(reason: string): void };
}

export interface NbdDiskClientOptions {
  disk: string;
  exportRef: string;
  exportName: string;
  /** The hypervisor's interface name (`via:`), the same on every host the VM runs on. */
  viaIf: string;
  /** Its port path (`hv1.storage`) and address. */
  via: string;
  src: string;
  dst: string;
  /** reconnect-delay in ns (whole seconds in QEMU); 0 = fail at once. */
  reconnectDelayNs: number;
  /** A new TCP connection from the hypervisor to the storage host (port 10809). */
  open(): TcpConnection;
}

/** The network disk of one VM disk: QEMU's NBD client in front of the engine's I/Os. */
export class NbdDiskTarget implements IoTarget {
  engine: QosEngine | undefined;
  client: NbdClient | undefined;
  private state: State = 'connecting';
  private readonly waiting: Io[] = [];
  private retrying: Io[] = [];
  private inFlight = 0;
  /** The connect thread: running, its next sleep, the attempt in progress, a connection made while nobody waited. */
  private threadRunning = false;
  private threadSleepS = RETRY_FIRST_S;
  private attempt: NbdClient | undefined;
  private made: NbdClient | undefined;
  private timerArmed = false;
  private timerGen = 0;
  private current: NbdConnectionEvent | undefined;
  connectedNs = -1;
  lostNs = -1;
  lostReason = '';
  requests = 0;
  failedIos = 0;
  retriedIos = 0;
  reconnects = 0;
  expiredIos = 0;
  readonly failures: NbdFailure[] = [];
  readonly events: NbdConnectionEvent[] = [];
  private payload = new Uint8Array(0);
  /** Where the connection leaves from now (a live migration moves it). */
  via: string;
  src: string;
  private openFn: () => TcpConnection;
  /** Live migration: the destination's connection, I/Os the paused guest issued, the drain's callback. */
  private incoming: Incoming | undefined;
  private held: Io[] | null = null;
  private onIdle: (() => void) | undefined;
  readonly moves: NbdMove[] = [];

  constructor(
    private readonly ctx: BuildContext,
    readonly o: NbdDiskClientOptions,
  ) {
    this.via = o.via;
    this.src = o.src;
    this.openFn = () => o.open();
  }

  get disk(): string {
    return this.o.disk;
  }
  get exportRef(): string {
    return this.o.exportRef;
  }
  get dst(): string {
    return this.o.dst;
  }

  get unanswered(): number {
    return this.inFlight + this.waiting.length;
  }

  /** Opens the first connection (nbd_open). */
  start(): void {
    this.client = this.openClient();
  }

  submit(io: Io): void {
    if (this.held) {
      // the guest is paused for stop-and-copy: this I/O goes out after the switchover
      this.held.push(io);
      return;
    }
    switch (this.state) {
      case 'connecting':
        this.waiting.push(io);
        return;
      case 'connected':
        if (this.inFlight >= MAX_NBD_REQUESTS) this.waiting.push(io);
        else this.send(this.client!, io);
        return;
      case 'wait':
        this.waiting.push(io);
        this.armTimer();
        this.startThread();
        return;
      case 'nowait':
        // a non-blocking nbd_reconnect_attempt: a connection the thread made serves this request
        if (this.made && !this.made.closed) {
          this.adopt(this.made);
          this.waiting.push(io);
          this.pump();
          return;
        }
        this.startThread();
        this.failLater(io, `NBD connection lost (${this.lostReason})`);
        return;
      case 'quit':
        this.failLater(io, `NBD connection lost (${this.lostReason})`);
    }
  }

  finish(): void {}

  /** Deferred one event: the engine is inside its issue loop. */
  private failLater(io: Io, why: string): void {
    this.ctx.sim.schedule(0, () => this.fail(io, why));
  }

  private send(c: NbdClient, io: Io): void {
    this.inFlight++;
    this.requests++;
    const cb = (r: NbdReply): void => this.reply(c, io, r);
    if (io.dir === 0) c.read(io.offset, io.bytes, cb);
    else {
      if (this.payload.length < io.bytes) this.payload = new Uint8Array(io.bytes).fill(0x5a);
      c.write(io.offset, this.payload.subarray(0, io.bytes), cb);
    }
  }

  private reply(c: NbdClient, io: Io, r: NbdReply): void {
    this.inFlight--;
    if (r.error === 0) io.onComplete();
    else if (c.closed && this.state === 'wait') {
      // the connection died under it: nbd_co_request retries it on the next connection
      this.retrying.push(io);
      return;
    } else this.fail(io, r.message ?? `NBD error ${r.error}`);
    this.pump();
  }

  private pump(): void {
    const c = this.client;
    if (this.state === 'connected' && c?.ready) while (this.inFlight < MAX_NBD_REQUESTS && this.waiting.length > 0) this.send(c, this.waiting.shift()!);
    if (this.onIdle) this.checkIdle();
  }

  private fail(io: Io, why: string): void {
    this.failedIos++;
    if (this.failures.length < MAX_LISTED) this.failures.push({ at_ns: this.ctx.sim.now, op: io.dir === 0 ? 'read' : 'write', offset: io.offset, length: io.bytes, error: `EIO: ${why}` });
    this.engine?.ioFailed(io, EIO);
  }

  private failWaiting(why: string): number {
    const all = this.waiting.splice(0);
    for (const io of all) this.fail(io, why);
    if (this.onIdle) this.checkIdle();
    return all.length;
  }

  // --- connections -------------------------------------------------------------------------------

  private openClient(): NbdClient {
    return this.clientOn(this.openFn());
  }

  private clientOn(conn: TcpConnection): NbdClient {
    const client: NbdClient = nbdClientOnTcp(conn, {
      exportName: this.o.exportName,
      stream: `${this.o.disk} -> ${this.o.exportRef}`,
      maxInFlight: MAX_NBD_REQUESTS,
      onReady: () => this.ready(client),
      // a handshake refusal or a protocol error (not -EIO): QUIT
      onError: (e) => {
        this.broken(client, e.message, false);
        this.afterLoss(client);
      },
    });
    // the transport's own reasons (ETIMEDOUT, ECONNRESET …) are taken before the client fails what is in flight
    const onClose = conn.onClose;
    conn.onClose = (err) => {
      this.broken(client, err ? `connection ${err}` : 'connection closed', true);
      onClose?.(err);
      this.afterLoss(client);
    };
    const onEnd = conn.onEnd;
    conn.onEnd = () => {
      this.broken(client, 'server closed the connection', true);
      onEnd?.();
      this.afterLoss(client);
    };
    return client;
  }

  private ready(c: NbdClient): void {
    if (c === this.incoming?.client) {
      this.incoming.move.dest_connected_ns = this.ctx.sim.now;
      if (this.incoming.move.status === 'opening') this.incoming.move.status = 'open';
      this.incoming.events.ready();
      return;
    }
    if (c === this.client && this.state === 'connecting') {
      this.state = 'connected';
      this.connectedNs = this.ctx.sim.now;
      this.pump();
      return;
    }
    if (c !== this.attempt) return;
    // the connect thread succeeded
    this.attempt = undefined;
    this.threadRunning = false;
    this.threadSleepS = RETRY_FIRST_S;
    if (this.state === 'wait') {
      this.adopt(c);
      this.pump();
    } else this.made = c;
  }

  /** A new connection takes over (nbd_co_do_establish_connection: state CONNECTED). */
  private adopt(c: NbdClient): void {
    this.client = c;
    this.made = undefined;
    this.state = 'connected';
    this.timerArmed = false;
    this.timerGen++;
    this.reconnects++;
    if (this.current) {
      this.current.reconnected_ns = this.ctx.sim.now;
      this.current.retried_ios = this.retriedPending;
      this.retriedIos += this.retriedPending;
    }
    this.retriedPending = 0;
  }

  private retriedPending = 0;

  /** The channel of `c` failed; `eio` = the transport (reconnectable), else a protocol error. */
  private broken(c: NbdClient, reason: string, eio: boolean): void {
    if (c === this.incoming?.client) {
      if (this.incoming.move.error === null) {
        this.incoming.move.error = reason;
        this.incoming.events.fail(reason);
      }
      return;
    }
    if (c === this.attempt) {
      // the connect thread's attempt failed: sleep, then try again
      this.attempt = undefined;
      const sleep = this.threadSleepS;
      if (this.threadSleepS < RETRY_MAX_S) this.threadSleepS *= 2;
      this.ctx.sim.schedule(sleep * NS, () => this.tryConnect());
      return;
    }
    if (c !== this.client) return;
    if (this.state === 'connecting') {
      // the disk never opened
      this.state = 'quit';
      this.noteLoss(reason);
      return;
    }
    if (this.state !== 'connected') return;
    this.noteLoss(reason);
    this.state = !eio ? 'quit' : this.o.reconnectDelayNs > 0 ? 'wait' : 'nowait';
  }

  private afterLoss(c: NbdClient): void {
    if (c !== this.client) return;
    if (this.retrying.length > 0) {
      this.retriedPending += this.retrying.length;
      this.waiting.unshift(...this.retrying);
      this.retrying = [];
    }
    if (this.state === 'wait') {
      if (this.waiting.length > 0) {
        this.armTimer();
        this.startThread();
      }
    } else if (this.state === 'nowait' || this.state === 'quit') {
      // requests that waited for a free slot each make a (failing) non-blocking attempt
      if (this.waiting.length > 0 && this.state === 'nowait') this.startThread();
      this.failWaiting(`NBD connection lost (${this.lostReason})`);
    }
  }

  private noteLoss(reason: string): void {
    if (this.lostNs < 0) {
      this.lostNs = this.ctx.sim.now;
      this.lostReason = reason;
    } else this.lostReason = reason;
    this.current = { lost_ns: this.ctx.sim.now, reason, reconnected_ns: null, expired_ns: null, retried_ios: 0 };
    if (this.events.length < MAX_LISTED) this.events.push(this.current);
  }

  /** reconnect_delay_timer: armed by the first request that waits for the reconnection. */
  private armTimer(): void {
    if (this.timerArmed) return;
    this.timerArmed = true;
    const gen = ++this.timerGen;
    this.ctx.sim.schedule(this.o.reconnectDelayNs, () => {
      if (gen !== this.timerGen || this.state !== 'wait') return;
      // reconnect_delay_timer_cb: CONNECTING_NOWAIT; the blocked attempt gives up, the thread runs on
      this.state = 'nowait';
      this.timerArmed = false;
      if (this.current) this.current.expired_ns = this.ctx.sim.now;
      this.retriedPending = 0;
      this.expiredIos += this.failWaiting(`NBD connection lost (${this.lostReason}) and not back within reconnect-delay ${this.o.reconnectDelayNs / NS}s`);
    });
  }

  private startThread(): void {
    if (this.made?.closed) this.made = undefined;
    if (this.threadRunning || this.made) return;
    this.threadRunning = true;
    this.threadSleepS = RETRY_FIRST_S;
    this.tryConnect();
  }

  private tryConnect(): void {
    this.attempt = this.openClient();
  }

  // --- live migration (nbd-migration.ts) ---------------------------------------------------------

  /** The destination host's QEMU opens the disk: a new connection from `via` there, a new handshake. */
  openOnDestination(open: () => TcpConnection, via: string, src: string, events: { ready(): void; fail(reason: string): void }): NbdMove {
    const move: NbdMove = { from_via: this.via, to_via: via, to_src_ip: src, dest_connected_ns: null, drained_ios: 0, held_ios: 0, drained_ns: null, switched_ns: null, status: 'opening', error: null };
    if (this.moves.length < MAX_LISTED) this.moves.push(move);
    const conn = open();
    // registered before any event of the connection can run (they start on the next event)
    this.incoming = { client: this.clientOn(conn), open, move, events };
    return move;
  }

  /** The VM paused: new I/Os are held; `done` once every request on the source completed and was flushed. */
  drain(done: () => void): void {
    if (this.incoming) {
      this.incoming.move.status = 'draining';
      this.incoming.move.drained_ios = this.unanswered;
    }
    this.held = [];
    this.onIdle = done;
    this.checkIdle();
  }

  /** True once the destination's handshake is done. */
  get destinationReady(): boolean {
    return this.incoming?.client.ready === true;
  }

  /** Switchover: the destination's connection carries the disk's I/O; the source disconnects. */
  switchOver(): void {
    const inc = this.incoming;
    if (!inc) return;
    this.incoming = undefined;
    this.onIdle = undefined;
    const old = this.client;
    // the source's reconnect thread (if any) belongs to the source QEMU and ends with it
    this.attempt = undefined;
    this.made?.disconnect();
    this.made = undefined;
    this.threadRunning = false;
    this.timerArmed = false;
    this.timerGen++;
    this.client = inc.client;
    this.openFn = inc.open;
    this.via = inc.move.to_via;
    this.src = inc.move.to_src_ip;
    inc.move.switched_ns = this.ctx.sim.now;
    inc.move.status = 'switched';
    // the source QEMU closes its drives: NBD_CMD_DISC, then the socket
    old?.disconnect();
    if (inc.client.ready) this.state = 'connected';
    else {
      // the destination's connection died before the switchover: its client reacts as to any loss
      this.noteLoss(inc.move.error ?? 'connection closed');
      this.state = this.o.reconnectDelayNs > 0 ? 'wait' : 'nowait';
    }
    this.release(inc.move);
  }

  /** The migration failed: the destination's connection goes away, held I/Os go out from the source. */
  cancelMove(): void {
    const inc = this.incoming;
    this.incoming = undefined;
    this.onIdle = undefined;
    if (inc) {
      inc.move.status = inc.move.error === null ? 'cancelled' : 'failed';
      if (inc.client.ready) inc.client.disconnect();
    }
    this.release(inc?.move);
  }

  /** Drain for a migration: nothing in flight or waiting on the source; then flush (bdrv_flush_all). */
  private checkIdle(): void {
    const cb = this.onIdle;
    if (!cb || this.inFlight > 0 || this.waiting.length > 0) return;
    this.onIdle = undefined;
    const finish = (): void => {
      if (this.incoming) this.incoming.move.drained_ns = this.ctx.sim.now;
      cb();
    };
    const c = this.client;
    if (this.state === 'connected' && c?.ready) c.flush(() => finish());
    else finish();
  }

  /** The guest runs again (on the destination after a switchover, else on the source): held I/Os go out. */
  private release(move: NbdMove | undefined): void {
    const held = this.held ?? [];
    this.held = null;
    if (move) move.held_ios = held.length;
    for (const io of held) this.submit(io);
  }
}
