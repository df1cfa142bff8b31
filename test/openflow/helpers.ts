/** Helpers for OpenFlow tests: free loopback ports, real controller processes, a scripted fake controller. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { Framer, decode, encode, type OfpMessage } from '../../src/openflow/index.js';

import { freePort } from '../helpers/free-port.js';

export { freePort };

/**
 * Waits until something listens on 127.0.0.1:`port`, without connecting to it: a probe
 * connection would be an OpenFlow peer to the controller and could shift its xid counter.
 */
async function waitListening(port: number, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const busy = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (busy) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Controller {
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a real controller process on a fresh port and waits until it listens. */
export async function startController(kind: 'ovs-testcontroller' | 'os-ken', dir: string): Promise<Controller> {
  const port = await freePort();
  const proc =
    kind === 'ovs-testcontroller'
      ? spawn('ovs-testcontroller', ['-O', 'OpenFlow13', `--unixctl=${dir}/tc-${port}.ctl`, `ptcp:${port}:127.0.0.1`], { stdio: 'ignore' })
      : spawn('osken-manager', [new URL('./apps/learning_switch_13.py', import.meta.url).pathname, '--ofp-tcp-listen-port', String(port), '--ofp-listen-host', '127.0.0.1'], { stdio: 'ignore' });
  await waitListening(port);
  return {
    port,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** The example topology with its controller port replaced. */
export function sdnTopology(port: number, patch: (yaml: string) => string = (y) => y): { text: string; file: string } {
  const file = new URL('../../topologies/sdn-controller.yaml', import.meta.url).pathname;
  return { text: patch(readFileSync(file, 'utf8').replaceAll('tcp:127.0.0.1:6653', `tcp:127.0.0.1:${port}`)), file };
}

/**
 * A scripted controller (for bad-input tests): answers HELLO and echo, runs `script` once the
 * switch's HELLO arrived, records every message the switch sent.
 */
export class FakeController {
  readonly received: OfpMessage[] = [];
  private server: Server | null = null;
  port = 0;

  constructor(private readonly script: (send: (m: OfpMessage | Uint8Array) => void) => void) {}

  async start(): Promise<number> {
    this.port = await freePort();
    this.server = createServer((s) => {
      const f = new Framer();
      const send = (m: OfpMessage | Uint8Array): void => {
        s.write(m instanceof Uint8Array ? m : encode(m));
      };
      s.on('error', () => undefined);
      s.on('data', (chunk) => {
        if (process.env['OFDEBUG']) console.log('fake got', chunk.length, Buffer.from(chunk).toString('hex').slice(0, 40));
        for (const raw of f.push(new Uint8Array(chunk))) {
          const r = decode(raw);
          if (!r.ok) continue;
          const m = r.msg;
          if (m.type === 'echo_request') {
            send({ type: 'echo_reply', xid: m.xid, data: m.data });
            continue;
          }
          this.received.push(m);
          if (m.type === 'hello') {
            send({ type: 'hello', xid: 1, versions: [4] });
            this.script(send);
          }
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', () => r()));
    return this.port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}
