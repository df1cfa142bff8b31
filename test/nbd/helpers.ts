/**
 * Test glue: vfab's NBD state machines over in-memory pipes and over real sockets (node:net),
 * with promise wrappers. src/nbd is transport-free; this is the thin socket adapter.
 */
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import { NbdClient, NbdServer, type NbdClientOptions, type NbdExport, type NbdExportInfo, type NbdReply, type NbdServerOptions } from '../../src/nbd/index.js';
import type { UserError } from '../../src/errors.js';

/** A client plus promise-returning verbs. */
export class PromiseClient {
  constructor(readonly c: NbdClient) {}
  private wrap(f: (cb: (r: NbdReply) => void) => unknown): Promise<NbdReply> {
    return new Promise((resolve) => f(resolve));
  }
  read(offset: number, length: number, flags = 0): Promise<NbdReply> {
    return this.wrap((cb) => this.c.read(offset, length, cb, flags));
  }
  write(offset: number, data: Uint8Array, flags = 0): Promise<NbdReply> {
    return this.wrap((cb) => this.c.write(offset, data, cb, flags));
  }
  flush(): Promise<NbdReply> {
    return this.wrap((cb) => this.c.flush(cb));
  }
  trim(offset: number, length: number): Promise<NbdReply> {
    return this.wrap((cb) => this.c.trim(offset, length, cb));
  }
  writeZeroes(offset: number, length: number, flags = 0): Promise<NbdReply> {
    return this.wrap((cb) => this.c.writeZeroes(offset, length, cb, flags));
  }
  blockStatus(offset: number, length: number, flags = 0): Promise<NbdReply> {
    return this.wrap((cb) => this.c.blockStatus(offset, length, cb, flags));
  }
  request(type: number, offset: number, length: number, flags = 0): Promise<NbdReply> {
    return this.wrap((cb) => this.c.request(type, offset, length, cb, { flags }));
  }
}

export type ClientOpts = Omit<NbdClientOptions, 'send' | 'close' | 'onReady' | 'onError'>;

/** Connects vfab's client to a socket (`{ path }` or `{ port }` on 127.0.0.1). */
export function connectClient(to: { path: string } | { port: number }, opts: ClientOpts): Promise<{ client: PromiseClient; info: NbdExportInfo; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = 'path' in to ? connect(to.path) : connect(to.port, '127.0.0.1');
    const client: NbdClient = new NbdClient({
      ...opts,
      send: (b) => socket.write(b),
      close: () => socket.end(),
      onReady: (info) => resolve({ client: new PromiseClient(client), info, socket }),
      onError: (e: UserError) => reject(e),
    });
    socket.on('data', (d) => client.receive(d));
    socket.on('error', (e) => reject(e));
    socket.on('close', () => client.transportClosed());
  });
}

/** Serves `exports` with vfab's server on 127.0.0.1 (an ephemeral port). */
export async function serve(exports: NbdExport[], extra: Partial<NbdServerOptions> = {}): Promise<{ port: number; server: Server; servers: NbdServer[]; close(): Promise<void> }> {
  const servers: NbdServer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const s = new NbdServer({ ...extra, exports, send: (b) => socket.write(b), close: () => socket.end() });
    servers.push(s);
    socket.on('data', (d) => s.receive(d));
    socket.on('error', () => s.transportClosed());
    socket.on('close', () => s.transportClosed());
    s.start();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    server,
    servers,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A client and a server joined by an in-memory pipe (delivery is synchronous, in order). */
export function pipePair(exports: NbdExport[], clientOpts: ClientOpts, serverExtra: Partial<NbdServerOptions> = {}) {
  const link: { server?: NbdServer } = {};
  const errors: UserError[] = [];
  const state: { info?: NbdExportInfo; closedByServer: boolean; closedByClient: boolean } = { closedByServer: false, closedByClient: false };
  const client: NbdClient = new NbdClient({
    ...clientOpts,
    send: (b) => link.server!.receive(b.slice()),
    close: () => {
      state.closedByClient = true;
    },
    onReady: (i) => {
      state.info = i;
    },
    onError: (e) => errors.push(e),
  });
  const server = new NbdServer({
    ...serverExtra,
    exports,
    send: (b) => client.receive(b.slice()),
    close: () => {
      state.closedByServer = true;
      client.transportClosed('server hung up');
    },
  });
  link.server = server;
  server.start();
  return { client, pc: new PromiseClient(client), server, errors, state };
}
