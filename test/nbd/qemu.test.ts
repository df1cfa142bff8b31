/**
 * vfab's NBD codec against the real thing (QEMU 7.2's qemu-nbd and qemu-io):
 * - vfab's client over a unix socket to `qemu-nbd` serving a qcow2 image: handshake, read,
 *   write, flush, trim, write zeroes, block status, error replies; what vfab wrote reads back with
 *   `qemu-io` and the image passes `qemu-img check`;
 * - the real `qemu-io nbd://127.0.0.1:PORT/vol1` against vfab's server serving the block layer;
 * - the same bad requests sent to both servers get the same errors.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createImage, openImage } from '../../src/block/api.js';
import type { Chain } from '../../src/block/chain.js';
import {
  BASE_ALLOCATION,
  chainImage,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_READ,
  NBD_CMD_WRITE_ZEROES,
  NBD_EINVAL,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_FLUSH,
  NBD_FLAG_SEND_TRIM,
  NBD_REP_ERR_UNKNOWN,
  NBD_STATE_HOLE,
  NBD_STATE_ZERO,
  NbdRefusedError,
} from '../../src/nbd/index.js';
import { describeWithTools } from '../helpers/tools.js';
import { connectClient, serve } from './helpers.js';

const MiB = 1024 * 1024;

function pattern(n: number, byte: number): Uint8Array {
  return new Uint8Array(n).fill(byte);
}

async function startQemuNbd(args: string[], sock: string): Promise<ChildProcess> {
  const p = spawn('qemu-nbd', [...args, '-k', sock], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(sock)) throw new Error(`qemu-nbd did not create ${sock}`);
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

function qemuIo(args: string[]): string {
  return execFileSync('qemu-io', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describeWithTools(['qemu-nbd', 'qemu-io', 'qemu-img'], 'NBD codec against QEMU', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfab-nbd-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("vfab's client completes the handshake with qemu-nbd and reads back what it wrote", async () => {
    const img = join(dir, 'a.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', img, '16M'], { stdio: 'ignore' });
    const sock = join(dir, 'a.sock');
    const q = await startQemuNbd(['-f', 'qcow2', '-x', 'vol1', '--description', 'tenant disk', img], sock);
    try {
      const { client, info, socket } = await connectClient({ path: sock }, { exportName: 'vol1', metaContexts: [BASE_ALLOCATION], list: true, info: true });
      expect(info.size).toBe(16 * MiB);
      expect(info.structured).toBe(true);
      expect(info.flags & (NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_TRIM)).toBe(NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_TRIM);
      expect(info.contexts).toEqual([{ id: expect.any(Number) as number, name: BASE_ALLOCATION }]);
      expect(info.exports).toEqual([{ name: 'vol1', description: 'tenant disk' }]);
      expect(info.blockSize?.maximum).toBe(32 * MiB);

      expect((await client.write(0, pattern(65536, 0x5a), NBD_CMD_FLAG_FUA)).error).toBe(0);
      expect((await client.write(MiB, pattern(4096, 0xa5))).error).toBe(0);
      const r = await client.read(0, 65536);
      expect(r.error).toBe(0);
      expect(r.data).toEqual(pattern(65536, 0x5a));
      // A read that spans data and an unallocated hole: qemu-nbd answers it in chunks.
      const mixed = await client.read(MiB - 4096, 8192);
      expect(mixed.data).toEqual(new Uint8Array([...pattern(4096, 0), ...pattern(4096, 0xa5)]));
      expect((await client.flush()).error).toBe(0);
      expect((await client.trim(2 * MiB, 65536)).error).toBe(0);
      expect((await client.write(4 * MiB, pattern(65536, 0x33))).error).toBe(0);
      expect((await client.writeZeroes(4 * MiB, 65536)).error).toBe(0);
      const bs = await client.blockStatus(0, 8 * MiB);
      expect(bs.error).toBe(0);
      const ext = [...bs.extents!.values()][0]!;
      expect(ext[0]).toEqual({ length: 65536, flags: 0 });
      expect(ext.reduce((s, e) => s + e.length, 0)).toBeGreaterThanOrEqual(8 * MiB);
      expect(ext.some((e) => e.flags === (NBD_STATE_HOLE | NBD_STATE_ZERO))).toBe(true);

      // Error replies from the real server.
      const past = await client.read(16 * MiB, 4096);
      expect(past.error).toBe(NBD_EINVAL);
      const badFlags = await client.request(NBD_CMD_READ, 0, 512, 0x80);
      expect(badFlags.error).toBe(NBD_EINVAL);
      socket.end();
      await new Promise((r) => socket.once('close', r));
    } finally {
      await stop(q);
    }
    // The bytes landed in the image: the real qemu-io verifies them, qemu-img checks the image.
    const out = qemuIo(['-f', 'qcow2', '-c', 'read -P 0x5a 0 64k', '-c', `read -P 0xa5 ${MiB} 4k`, '-c', `read -P 0 ${4 * MiB} 64k`, img]);
    expect(out).not.toMatch(/Pattern verification failed/);
    expect(out).toMatch(/read 65536\/65536 bytes at offset 0/);
    execFileSync('qemu-img', ['check', img], { stdio: 'ignore' });
  });

  it('qemu-nbd refuses an unknown export and a write to a read-only export; vfab\'s client reports both', async () => {
    const img = join(dir, 'ro.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', img, '1M'], { stdio: 'ignore' });
    const sock = join(dir, 'ro.sock');
    const q = await startQemuNbd(['-f', 'qcow2', '-x', 'vol1', '-r', '-t', img], sock);
    try {
      await expect(connectClient({ path: sock }, { exportName: 'nope' })).rejects.toSatisfy((e: unknown) => e instanceof NbdRefusedError && e.reply === NBD_REP_ERR_UNKNOWN);
      const { client, info, socket } = await connectClient({ path: sock }, { exportName: 'vol1' });
      expect(info.flags & NBD_FLAG_READ_ONLY).toBe(NBD_FLAG_READ_ONLY);
      // QEMU 7.2 answers EINVAL ("Export is read-only"), not the EPERM proto.md suggests.
      const w = await client.write(0, pattern(512, 1));
      expect(w.error).toBe(NBD_EINVAL);
      expect(w.message).toBeTruthy();
      socket.end();
      await new Promise((r) => socket.once('close', r));
    } finally {
      await stop(q);
    }
  });

  /** Runs qemu-io (asynchronously: a vfab server may be running in this process) and returns its output without timings. */
  function runQemuIo(args: string[]): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const p = spawn('qemu-io', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let s = '';
      p.stdout.on('data', (d: Buffer) => (s += d.toString()));
      p.stderr.on('data', (d: Buffer) => (s += d.toString()));
      p.on('exit', (code) => (code === 0 ? resolve(s.replace(/^.* ops; .*$\n/gm, '')) : reject(new Error(`qemu-io exit ${code}: ${s}`))));
    });
  }
  const SCRIPT = [
    'write -P 0x5a 0 64k', 'read -P 0x5a 0 64k', `read -P 0 ${MiB} 4k`, 'flush', `write -P 0x77 ${2 * MiB} 64k`, `discard ${2 * MiB} 64k`,
    `read -P 0 ${2 * MiB} 64k`, `write -z ${3 * MiB} 64k`, `read -P 0 ${3 * MiB} 64k`, 'write -P 0x11 8M 4k', 'read -P 0 9M 4k', 'map',
  ].flatMap((c) => ['-c', c]);

  it("the real qemu-io reads and writes through vfab's server exactly as through qemu-nbd; the block layer holds the bytes", async () => {
    const ref = join(dir, 'ref.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', ref, '16M'], { stdio: 'ignore' });
    const sock = join(dir, 'ref.sock');
    // --discard=unmap: vfab's exports pass discards to the image (qemu-nbd ignores them by default).
    const q = await startQemuNbd(['-f', 'qcow2', '-x', 'vol1', '--discard=unmap', ref], sock);
    let expected: string;
    try {
      expected = await runQemuIo(['-f', 'raw', ...SCRIPT, `nbd+unix:///vol1?socket=${sock}`]);
    } finally {
      await stop(q);
    }
    expect(expected).toMatch(/wrote 65536\/65536 bytes at offset 0/);

    const img = join(dir, 'served.qcow2');
    createImage(img, { size: 16 * MiB });
    const chain: Chain = openImage(img);
    const srv = await serve([{ name: 'vol1', image: chainImage(chain) }]);
    try {
      const out = await runQemuIo(['-f', 'raw', ...SCRIPT, `nbd://127.0.0.1:${srv.port}/vol1`]);
      expect(out).toBe(expected);
      expect(out).not.toMatch(/Pattern verification failed/);
      const back = new Uint8Array(65536);
      chain.read(0, back);
      expect(back).toEqual(pattern(65536, 0x5a));
      expect(srv.servers[0]!.stats.errors).toBe(0);
    } finally {
      await srv.close();
      chain.close();
    }
    execFileSync('qemu-img', ['check', img], { stdio: 'ignore' });
    const out = qemuIo(['-f', 'qcow2', '-c', 'read -P 0x5a 0 64k', '-c', `read -P 0 ${2 * MiB} 64k`, '-c', 'read -P 0x11 8M 4k', img]);
    expect(out).not.toMatch(/Pattern verification failed/);
    // Same guest-visible bytes as the image qemu-nbd wrote.
    execFileSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', ref, img], { stdio: 'ignore' });
  });

  it('vfab and qemu-nbd answer the same bad requests with the same errors', async () => {
    const img = join(dir, 'cmp.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', img, '1M'], { stdio: 'ignore' });
    const sock = join(dir, 'cmp.sock');
    const q = await startQemuNbd(['-f', 'qcow2', '-x', 'vol1', '-t', img], sock);
    const mine = join(dir, 'mine.qcow2');
    createImage(mine, { size: MiB });
    const chain = openImage(mine);
    const srv = await serve([{ name: 'vol1', image: chainImage(chain) }]);
    const bad: [string, number, number, number, number][] = [
      ['read past the end', NBD_CMD_READ, MiB, 4096, 0],
      ['read straddling the end', NBD_CMD_READ, MiB - 512, 4096, 0],
      ['read with an unknown flag', NBD_CMD_READ, 0, 512, 0x80],
      ['write zeroes past the end', NBD_CMD_WRITE_ZEROES, MiB, 512, 0],
      ['unknown command 42', 42, 0, 512, 0],
      ['read over the maximum payload', NBD_CMD_READ, 0, 33 * MiB, 0],
    ];
    try {
      for (const structured of [true, false]) {
        const a = await connectClient({ path: sock }, { exportName: 'vol1', structuredReplies: structured });
        const b = await connectClient({ port: srv.port }, { exportName: 'vol1', structuredReplies: structured });
        for (const [what, type, off, len, flags] of bad) {
          const ra = await a.client.request(type, off, len, flags);
          const rb = await b.client.request(type, off, len, flags);
          expect({ what, structured, error: rb.error, hasMessage: rb.message !== undefined }).toEqual({ what, structured, error: ra.error, hasMessage: ra.message !== undefined });
          expect(ra.error).not.toBe(0);
        }
        a.socket.end();
        b.socket.end();
      }
    } finally {
      await stop(q);
      await srv.close();
      chain.close();
    }
  });
});
