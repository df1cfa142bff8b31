/**
 * Block mirror (QEMU drive-mirror) over NBD to the real qemu-nbd: allocated data travels as
 * writes, zero ranges as write-zeroes, guest writes during the copy are re-sent, and after
 * switch-over the target equals the source (`qemu-img compare`) and passes `qemu-img check`.
 * Also over the in-memory pipe with a server that reorders: the newer copy of a re-dirtied chunk
 * always lands last.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImage, openImage } from '../../src/block/api.js';
import { MemoryProvider } from '../../src/block/chain.js';
import { chainImage, MirrorJob } from '../../src/nbd/index.js';
import { describeWithTools } from '../helpers/tools.js';
import { connectClient, pipePair } from './helpers.js';

const MiB = 1 << 20;
const fill = (n: number, b: number) => new Uint8Array(n).fill(b);

describeWithTools(['qemu-nbd', 'qemu-img'], 'drive-mirror over NBD to qemu-nbd', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfab-mirror-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('copies only allocated data, re-sends guest writes, and the target equals the source', async () => {
    const src = join(dir, 'src.qcow2');
    createImage(src, { size: 64 * MiB });
    const chain = openImage(src);
    chain.write(0, fill(256 * 1024, 0x11));
    chain.write(10 * MiB, fill(64 * 1024, 0x22));
    chain.write(40 * MiB + 512, fill(4096, 0x33));
    chain.writeZeroes(20 * MiB, MiB);
    const dst = join(dir, 'dst.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', dst, '64M'], { stdio: 'ignore' });
    const sock = join(dir, 'dst.sock');
    const q: ChildProcess = spawn('qemu-nbd', ['-f', 'qcow2', '-x', 'dst', '-k', sock, dst], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    try {
      const { client, socket } = await connectClient({ path: sock }, { exportName: 'dst' });
      let ready = false;
      const job = new MirrorJob(chain, client.c, { maxInFlight: 4, bufSize: 256 * 1024, onReady: () => (ready = true) });
      job.start();
      // The guest keeps writing while the job runs: behind the cursor, and ahead of it.
      chain.write(4096, fill(4096, 0x44));
      job.guestWrote(4096, 4096);
      chain.write(50 * MiB, fill(8192, 0x55));
      job.guestWrote(50 * MiB, 8192);
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (ready) {
            clearInterval(t);
            resolve();
          }
        }, 5);
      });
      // After ready, one more write, then switch-over.
      chain.write(0, fill(512, 0x66));
      job.guestWrote(0, 512);
      const r = await new Promise<{ error: number }>((resolve) => job.complete(resolve));
      expect(r.error).toBe(0);
      // Data actually sent: the allocated clusters (64 KiB each) plus re-sends, never the 64 MiB.
      expect(job.stats.dataBytes).toBeLessThan(2 * MiB);
      expect(job.stats.dataBytes).toBeGreaterThanOrEqual(256 * 1024 + 64 * 1024 + 4096 + 8192);
      expect(job.stats.zeroBytes + job.stats.dataBytes).toBeGreaterThanOrEqual(64 * MiB);
      expect(job.stats.recopiedChunks).toBeGreaterThanOrEqual(1);
      socket.end();
      await new Promise((res) => socket.once('close', res));
    } finally {
      await new Promise<void>((resolve) => {
        if (q.exitCode !== null) return resolve();
        q.once('exit', () => resolve());
        q.kill('SIGTERM');
      });
      chain.close();
    }
    execFileSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', src, dst], { stdio: 'ignore' });
    execFileSync('qemu-img', ['check', dst], { stdio: 'ignore' });
  });
});

describe('mirror ordering', () => {
  it('a chunk re-dirtied while its copy is in flight is re-sent only after that copy finished', () => {
    const p = new MemoryProvider();
    createImage('s', { size: 4 * MiB }, p);
    const source = openImage('s', {}, p);
    source.write(0, fill(65536, 1));
    createImage('t', { size: 4 * MiB }, p);
    const target = openImage('t', {}, p);
    const queued: (() => void)[] = [];
    // The server runs commands last-first when released: the worst reordering.
    const { client } = pipePair([{ name: 't', image: chainImage(target) }], { exportName: 't' }, { schedule: (_r, run) => queued.push(run) });
    const job = new MirrorJob(source, client, { maxInFlight: 8 });
    job.start();
    source.write(0, fill(65536, 2));
    job.guestWrote(0, 65536);
    let done = false;
    job.complete(() => (done = true));
    for (let i = 0; i < 1000 && !done; i++) queued.pop()?.();
    expect(done).toBe(true);
    const got = new Uint8Array(65536);
    target.read(0, got);
    expect(got).toEqual(fill(65536, 2));
  });
});

describe('mirror bookkeeping (property)', () => {
  it('with random guest writes and a reordering server, the target ends equal to the source and only allocated ranges travel as data', () => {
    fc.assert(
      fc.property(
        // allocated extents before the job, guest writes interleaved with server steps, a seed for the order
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 63 }), len: fc.integer({ min: 1, max: 3 }) }), { maxLength: 6 }),
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 255 }), len: fc.integer({ min: 1, max: 96 }), steps: fc.integer({ min: 0, max: 5 }) }), { maxLength: 12 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
        (pre, writes, order) => {
          const p = new MemoryProvider();
          // 4 MiB source, 64 KiB clusters (64 of them); guest writes in 16 KiB units
          createImage('s', { size: 4 * MiB }, p);
          const source = openImage('s', {}, p);
          let allocated = 0;
          const seen = new Set<number>();
          for (const e of pre) {
            for (let c = e.at; c < Math.min(64, e.at + e.len); c++) {
              if (!seen.has(c)) allocated += 65536;
              seen.add(c);
            }
            source.write(e.at * 65536, fill(Math.min(64 - e.at, e.len) * 65536, (e.at % 250) + 1));
          }
          createImage('t', { size: 4 * MiB }, p);
          const target = openImage('t', {}, p);
          const queued: (() => void)[] = [];
          const { client } = pipePair([{ name: 't', image: chainImage(target) }], { exportName: 't' }, { schedule: (_r, run) => queued.push(run) });
          const job = new MirrorJob(source, client, { maxInFlight: 4, bufSize: 256 * 1024 });
          job.start();
          let k = 0;
          // runs one queued server command, picked by the seed sequence (any order the server may use)
          const step = (): void => {
            if (queued.length === 0) return;
            const i = order[k++ % order.length]! % queued.length;
            queued.splice(i, 1)[0]!();
          };
          let touched = 0;
          for (const w of writes) {
            for (let i = 0; i < w.steps; i++) step();
            const off = w.at * 16384;
            const len = Math.min(4 * MiB - off, w.len * 4096);
            touched += Math.floor((off + len - 1) / 65536) - Math.floor(off / 65536) + 1;
            source.write(off, fill(len, (w.at % 200) + 7));
            job.guestWrote(off, len);
          }
          let done: { error: number } | null = null;
          job.complete((r) => (done = r));
          for (let i = 0; i < 100_000 && done === null; i++) step();
          expect(done).toEqual({ error: 0 });
          const a = new Uint8Array(4 * MiB);
          const b = new Uint8Array(4 * MiB);
          source.read(0, a);
          target.read(0, b);
          expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
          // before any guest write, only the allocated clusters were data; re-sends add whole chunks
          if (writes.length === 0) expect(job.stats.dataBytes).toBe(allocated);
          expect(job.stats.dataBytes).toBeLessThanOrEqual(allocated + touched * 65536);
        },
      ),
      { numRuns: 20, seed: 1306 },
    );
  });
});
