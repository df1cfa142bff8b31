/**
 * NBD over vfab's simulated TCP: a byte pipe over a `TcpConnection` (writes beyond the socket's
 * send buffer wait for `onDrain`, like a blocking send), and helpers that run an `NbdClient` or
 * `NbdServer` on a connection. Nothing here knows about hosts or links: the fabric decides who
 * connects where (port 10809, `NBD_PORT`).
 *
 * Bounded: bytes waiting for the send buffer are capped (`maxQueuedBytes`, default 64 MiB, two
 * maximal NBD payloads); more means the peer stopped reading for that long, and the pipe aborts
 * the connection (the NBD state machines then fail what is in flight).
 *
 * Buffers for what the server sends (`alloc`) come from a `SendRing` and are reused once TCP
 * acknowledged them (`recycle: false` gives fresh memory every time; the bytes are the same).
 */
import type { TcpConnection } from '../tcp/connection.js';
import { NbdClient, type NbdClientOptions } from './client.js';
import { SendRing } from './send-ring.js';
import { NbdServer, type NbdServerOptions } from './server.js';
import { carve } from './slab.js';

export interface TcpPipeOptions {
  /** Bytes waiting for the send buffer before the pipe aborts (default 64 MiB). */
  maxQueuedBytes?: number;
  /** Reuse acknowledged send buffers (default true). */
  recycle?: boolean;
}

export class TcpPipe {
  private queue: Uint8Array[] = [];
  private queued = 0;
  private head = 0;
  /** Bytes given to `send`, and bytes TCP accepted (a prefix of them: the pipe keeps order). */
  private streamPos = 0;
  private accepted = 0;
  private readonly ring: SendRing | null;
  private readonly maxQueuedBytes: number;

  constructor(
    readonly conn: TcpConnection,
    opts: TcpPipeOptions = {},
  ) {
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 64 * 1024 * 1024;
    this.ring = opts.recycle === false ? null : new SendRing();
    conn.onDrain = () => this.flush();
  }

  /**
   * A zeroed buffer of `n` bytes for the next `send` (send it before the next `alloc`, or drop
   * it): a recycled one when the ring has room, else fresh memory. `zero` false: the caller
   * writes every byte (a recycled buffer then keeps its old bytes until overwritten).
   */
  alloc(n: number, zero = true): Uint8Array {
    const r = this.ring;
    if (r !== null) {
      const b = r.alloc(n, this.accepted - this.conn.sendQueued, zero);
      if (b !== null) return b;
    }
    return carve(n);
  }

  /** Bytes waiting for room in the socket. */
  get pending(): number {
    return this.queued;
  }

  send(b: Uint8Array): void {
    this.streamPos += b.length;
    if (this.ring !== null && this.ring.isPending(b)) this.ring.sent(this.streamPos);
    if (this.queued === 0) {
      const n = this.conn.write(b);
      this.accepted += n;
      if (n === b.length) return;
      b = b.subarray(n);
    }
    this.queue.push(b);
    this.queued += b.length;
    if (this.queued > this.maxQueuedBytes) {
      this.queue = [];
      this.queued = 0;
      this.conn.abort();
    }
  }

  private flush(): void {
    while (this.head < this.queue.length) {
      const b = this.queue[this.head]!;
      const n = this.conn.write(b);
      this.accepted += n;
      this.queued -= n;
      if (n < b.length) {
        this.queue[this.head] = b.subarray(n);
        return;
      }
      this.head++;
    }
    this.queue = [];
    this.head = 0;
  }

  /** Closes after what is queued has been handed to TCP. */
  end(): void {
    if (this.queued === 0) this.conn.end();
    else {
      const prev = this.conn.onDrain;
      this.conn.onDrain = () => {
        prev?.();
        if (this.queued === 0) this.conn.end();
      };
    }
  }
}

/** An NBD client on a connection (call before it connects: the greeting comes first). */
export function nbdClientOnTcp(conn: TcpConnection, opts: Omit<NbdClientOptions, 'send' | 'close'>): NbdClient {
  const pipe = new TcpPipe(conn);
  const client = new NbdClient({ ...opts, send: (b) => pipe.send(b), close: () => pipe.end() });
  conn.onData = (d) => client.receive(d);
  conn.onClose = (err) => client.transportClosed(err ? `connection ${err}` : 'connection closed');
  conn.onEnd = () => client.transportClosed('server closed the connection');
  return client;
}

/** An NBD server on an accepted connection; sends the greeting at once. */
export function nbdServerOnTcp(conn: TcpConnection, opts: Omit<NbdServerOptions, 'send' | 'close' | 'alloc'>, pipeOpts: TcpPipeOptions = {}): NbdServer {
  const pipe = new TcpPipe(conn, pipeOpts);
  const server = new NbdServer({ ...opts, send: (b) => pipe.send(b), close: () => pipe.end(), alloc: (n, zero) => pipe.alloc(n, zero) });
  conn.onData = (d) => server.receive(d);
  conn.onClose = () => server.transportClosed();
  conn.onEnd = () => {
    server.transportClosed();
    pipe.end();
  };
  server.start();
  return server;
}
