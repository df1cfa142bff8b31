/**
 * NBD on the wire, judged by captures: the real `qemu-io` runs the same script against the real
 * `qemu-nbd` and against vfab's server while tshark 4.0 captures both on `lo`. An independent
 * decoder (written here from proto.md, sharing no code with src/nbd) splits each TCP stream into
 * NBD messages; the two sessions must be the same message sequence (options, option replies,
 * commands, flags, cookies by order of use, reply forms and chunk types, offsets and lengths).
 * Every NBD message tshark's own dissector recognises must agree with the independent decoder.
 *
 * Needs root (capture on lo); CI runs as root.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createImage, openImage } from '../../src/block/api.js';
import { chainImage } from '../../src/nbd/index.js';
import { describeWithTools, inCI } from '../helpers/tools.js';
import { serve } from './helpers.js';
import { bytesOf, segments, session, tsharkNbd } from './capture-decode.js';
import { freePort } from '../helpers/free-port.js';

const MiB = 1 << 20;
const isRoot = process.getuid?.() === 0;
if (!isRoot && !inCI) process.stdout.write('skipping "NBD captures": capturing on lo needs root (CI runs as root)\n');

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let s = '';
    p.stdout.on('data', (d: Buffer) => (s += d.toString()));
    p.stderr.on('data', (d: Buffer) => (s += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`${cmd} exit ${code}: ${s}`))));
  });
}

async function startTshark(pcap: string, filter: string): Promise<ChildProcess> {
  const p = spawn('tshark', ['-i', 'lo', '-f', filter, '-w', pcap], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let s = '';
    p.stderr.on('data', (d: Buffer) => {
      s += d.toString();
      if (s.includes('Capturing on')) resolve();
    });
    p.on('exit', (code) => reject(new Error(`tshark exited ${code}: ${s}`)));
  });
  return p;
}

async function captureLive(pcap: string, port: number): Promise<void> {
  const size = (): number => (existsSync(pcap) ? statSync(pcap).size : 0);
  const before = size();
  for (let i = 0; i < 100 && size() <= before; i++) {
    await new Promise<void>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.on('error', () => resolve());
      c.on('connect', () => {
        c.destroy();
        resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(p: ChildProcess, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.kill(sig);
  });
}

const SCRIPT = [
  'write -P 0x5a 0 64k', 'read -P 0x5a 0 64k', `read ${MiB} 4k`, 'flush', `write -P 0x77 ${2 * MiB} 64k`, `discard ${2 * MiB} 64k`,
  `read -P 0 ${2 * MiB} 64k`, `write -z ${3 * MiB} 64k`, `read 0 ${4 * MiB}`, 'map',
].flatMap((c) => ['-c', c]);

describeWithTools(['tshark', 'qemu-nbd', 'qemu-io', 'qemu-img'], 'NBD captures: vfab vs qemu-nbd, serving the real qemu-io', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfab-nbd-cap-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(!isRoot && !inCI)('same NBD message sequence, and tshark agrees with every message it recognises', async () => {
    const ref = join(dir, 'ref.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', ref, '16M'], { stdio: 'ignore' });
    const mine = join(dir, 'mine.qcow2');
    createImage(mine, { size: 16 * MiB });
    const chain = openImage(mine);
    const srv = await serve([{ name: 'vol1', image: chainImage(chain) }]);
    const qport = await freePort();
    const pcap = join(dir, 'nbd.pcapng');
    const ts = await startTshark(pcap, `tcp port ${qport} or tcp port ${srv.port}`);
    // "Capturing on" can come before packets really are captured: on a busy machine the first
    // segment of the handshake was lost. Knock on qport (nothing listens yet: a refused SYN, no
    // payload, so no NBD stream) until the capture file grows.
    await captureLive(pcap, qport);
    try {
      // --fork returns once qemu-nbd listens; the pid file names the server to stop afterwards.
      const pidFile = join(dir, 'qemu-nbd.pid');
      await run('qemu-nbd', ['--fork', '--pid-file', pidFile, '-f', 'qcow2', '-x', 'vol1', '--discard=unmap', '-b', '127.0.0.1', '-p', String(qport), ref]);
      const qpid = Number(readFileSync(pidFile, 'utf8').trim());
      try {
        await run('qemu-io', ['-f', 'raw', ...SCRIPT, `nbd://127.0.0.1:${qport}/vol1`]);
      } finally {
        try {
          process.kill(qpid, 'SIGTERM');
        } catch {
          // already gone: qemu-nbd exits when its only client leaves
        }
      }
      await run('qemu-io', ['-f', 'raw', ...SCRIPT, `nbd://127.0.0.1:${srv.port}/vol1`]);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await stop(ts, 'SIGINT');
      await srv.close();
      chain.close();
    }

    const segs = segments(pcap);
    const streams = [...new Set(segs.map((s) => s.stream))];
    const sessions = new Map<number, { server: number; client: number; stream: number }>();
    for (const st of streams) {
      const ports = [...new Set(segs.filter((s) => s.stream === st).map((s) => s.src))];
      const server = ports.find((p) => p === qport || p === srv.port)!;
      sessions.set(st, { server, client: ports.find((p) => p !== server)!, stream: st });
    }
    const qStreams = [...sessions.values()].filter((s) => s.server === qport);
    const vStreams = [...sessions.values()].filter((s) => s.server === srv.port);
    expect(vStreams).toHaveLength(1);
    const decode = (s: { server: number; client: number; stream: number }) => session(bytesOf(segs, s.stream, s.client), bytesOf(segs, s.stream, s.server));
    expect(qStreams).toHaveLength(1);
    const real = decode(qStreams[0]!);
    const ours = decode(vStreams[0]!);
    expect(real.normalised.length).toBeGreaterThan(20);
    expect(ours.normalised).toEqual(real.normalised);

    // tshark 4.0 recognises only some messages (no newstyle handshake, no structured replies);
    // each one it does must be a message the independent decoder found at that place.
    const seen = tsharkNbd(pcap);
    // Both sessions: tshark sees the same few messages in each (reads without flags, DISC, ...).
    expect(seen.length).toBeGreaterThanOrEqual(4);
    for (const t of seen) {
      const s = [...sessions.values()].find((x) => x.stream === t.stream)!;
      const dec = decode(s);
      const msgs = t.src === s.client ? dec.client : dec.server;
      // tshark reports a message in the frame where it ends (TCP reassembly), so it starts
      // before the end of that frame's payload: the latest such message with this magic and
      // handle (QEMU reuses cookies once their replies are in).
      const end = t.seq - 1 + t.len;
      const m = msgs.filter((x) => x.at < end && x.magic === t.magic && x.cookie === t.handle).pop();
      expect(m, `tshark's ${t.magic.toString(16)} handle ${t.handle} in stream ${t.stream} before ${end}`).toBeDefined();
      if (t.magic === 0x25609513) {
        // tshark reads the 16-bit flags and 16-bit type as one 32-bit type.
        expect({ type: t.type, from: t.from, len: t.length }).toEqual({ type: ((m!.desc['flags'] as number) << 16) | (m!.desc['type'] as number), from: m!.desc['offset'], len: m!.desc['length'] });
      } else {
        expect(t.error).toBe(m!.desc['error']);
      }
    }
  });
});
