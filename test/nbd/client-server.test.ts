/**
 * vfab's NBD client and server talking to each other over an in-memory pipe: every handshake
 * path (GO, INFO, LIST, EXPORT_NAME, ABORT, no structured replies), every command, the error
 * replies, and replies out of request order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createImage, openImage } from '../../src/block/api.js';
import { MemoryProvider } from '../../src/block/chain.js';
import {
  BASE_ALLOCATION,
  chainImage,
  NBD_CMD_FLAG_DF,
  NBD_CMD_FLAG_REQ_ONE,
  NBD_EINVAL,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_DF,
  NBD_REP_ERR_UNKNOWN,
  NBD_STATE_HOLE,
  NBD_STATE_ZERO,
  NbdRefusedError,
  type NbdExport,
  type NbdReply,
  type NbdRequest,
} from '../../src/nbd/index.js';
import { pipePair } from './helpers.js';

const MiB = 1 << 20;

function exportsOf(readOnly = false): NbdExport[] {
  const p = new MemoryProvider();
  createImage('vol1', { size: 4 * MiB }, p);
  createImage('vol2', { size: MiB }, p);
  return [
    { name: 'vol1', description: 'first', image: chainImage(openImage('vol1', { readOnly }, p)) },
    { name: 'vol2', image: chainImage(openImage('vol2', {}, p)) },
  ];
}

describe('handshake', () => {
  it('GO with structured replies and base:allocation, after LIST and INFO', () => {
    const { state, errors } = pipePair(exportsOf(), { exportName: 'vol1', list: true, info: true, metaContexts: [BASE_ALLOCATION] });
    expect(errors).toEqual([]);
    expect(state.info).toMatchObject({
      size: 4 * MiB,
      structured: true,
      contexts: [{ id: 0, name: BASE_ALLOCATION }],
      exports: [
        { name: 'vol1', description: 'first' },
        { name: 'vol2', description: '' },
      ],
      blockSize: { minimum: 1, preferred: 4096, maximum: 32 * MiB },
    });
    expect(state.info!.flags & NBD_FLAG_SEND_DF).toBe(NBD_FLAG_SEND_DF);
  });

  it('NBD_OPT_EXPORT_NAME without structured replies (no DF flag, simple replies carry read data)', async () => {
    const { state, pc } = pipePair(exportsOf(), { exportName: 'vol2', exportNameOnly: true });
    expect(state.info).toMatchObject({ size: MiB, structured: false });
    expect(state.info!.flags & NBD_FLAG_SEND_DF).toBe(0);
    await pc.write(512, new Uint8Array(512).fill(7));
    expect((await pc.read(512, 512)).data).toEqual(new Uint8Array(512).fill(7));
  });

  it('an unknown export is refused with NBD_REP_ERR_UNKNOWN on GO, and hangs up on EXPORT_NAME', () => {
    const a = pipePair(exportsOf(), { exportName: 'nope' });
    expect(a.errors[0]).toBeInstanceOf(NbdRefusedError);
    expect((a.errors[0] as NbdRefusedError).reply).toBe(NBD_REP_ERR_UNKNOWN);
    expect(a.errors[0]!.message).toContain("export 'nope' not present");
    const b = pipePair(exportsOf(), { exportName: 'nope', exportNameOnly: true });
    expect(b.state.closedByServer).toBe(true);
    expect(b.state.info).toBeUndefined();
  });

  it('NBD_OPT_ABORT after LIST ends the session with the listing', () => {
    const { state } = pipePair(exportsOf(), { exportName: '', list: true, abortAfterOptions: true });
    expect(state.info?.exports?.map((e) => e.name)).toEqual(['vol1', 'vol2']);
    expect(state.closedByServer).toBe(true);
  });
});

describe('transmission', () => {
  it('read, write, trim, write zeroes, flush and block status act on the image', async () => {
    const { pc } = pipePair(exportsOf(), { exportName: 'vol1', metaContexts: [BASE_ALLOCATION] });
    expect((await pc.write(0, new Uint8Array(65536).fill(0x5a))).error).toBe(0);
    expect((await pc.write(MiB, new Uint8Array(65536).fill(0x33))).error).toBe(0);
    const r = await pc.read(0, 128 * 1024);
    expect(r.data!.subarray(0, 65536)).toEqual(new Uint8Array(65536).fill(0x5a));
    expect(r.data!.subarray(65536)).toEqual(new Uint8Array(65536));
    expect((await pc.read(0, 4096, NBD_CMD_FLAG_DF)).data).toEqual(new Uint8Array(4096).fill(0x5a));
    expect((await pc.trim(0, 65536)).error).toBe(0);
    expect((await pc.read(0, 4096)).data).toEqual(new Uint8Array(4096));
    expect((await pc.writeZeroes(MiB, 65536)).error).toBe(0);
    expect((await pc.flush()).error).toBe(0);
    await pc.write(2 * MiB, new Uint8Array(4096).fill(1));
    const bs = await pc.blockStatus(0, 4 * MiB);
    expect(bs.extents!.get(0)).toEqual([
      { length: 2 * MiB, flags: NBD_STATE_HOLE | NBD_STATE_ZERO },
      { length: 65536, flags: 0 },
      { length: 2 * MiB - 65536, flags: NBD_STATE_HOLE | NBD_STATE_ZERO },
    ]);
    const one = await pc.blockStatus(0, 4 * MiB, NBD_CMD_FLAG_REQ_ONE);
    expect(one.extents!.get(0)).toHaveLength(1);
  });

  it('a read into a caller buffer gets the bytes a read into fresh memory gets (sparse chunks, DF, errors), and the buffer is the reply data', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(255), n: fc.integer({ min: 1, max: 40 }), v: fc.integer({ min: 1, max: 255 }) }), { maxLength: 12 }),
        fc.array(fc.record({ at: fc.nat(1030), n: fc.integer({ min: 0, max: 24 }), df: fc.boolean() }), { minLength: 1, maxLength: 30, size: 'max' }),
        (writes, reads) => {
          const { client } = pipePair(exportsOf(), { exportName: 'vol1' });
          // Data in some 4 KiB blocks of the first MiB, holes elsewhere: sparse reads mix chunks.
          for (const w of writes) client.write(w.at * 4096, new Uint8Array(w.n * 4096).fill(w.v), () => {});
          for (const r of reads) {
            const flags = r.df ? NBD_CMD_FLAG_DF : 0;
            let plain: NbdReply | undefined;
            let into: NbdReply | undefined;
            client.read(r.at * 4096 + 512, r.n * 4096, (x) => (plain = x), flags);
            const buf = new Uint8Array(r.n * 4096).fill(0xee);
            client.read(r.at * 4096 + 512, r.n * 4096, (x) => (into = x), flags, buf);
            expect(into!.error).toBe(plain!.error);
            if (plain!.error !== 0) continue;
            expect(into!.data).toBe(buf);
            expect(Buffer.from(buf).equals(Buffer.from(plain!.data!))).toBe(true);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('errors: past the end, bad flags, unknown command, read-only export, block status without a context', async () => {
    const { pc } = pipePair(exportsOf(), { exportName: 'vol2' });
    expect((await pc.read(MiB, 1)).error).toBe(NBD_EINVAL);
    expect((await pc.request(0, 0, 512, 0x40)).error).toBe(NBD_EINVAL);
    expect((await pc.request(99, 0, 512)).error).toBe(NBD_EINVAL);
    expect((await pc.blockStatus(0, 512)).error).toBe(NBD_EINVAL);
    const ro = pipePair(exportsOf(true), { exportName: 'vol1' });
    expect(ro.state.info!.flags & NBD_FLAG_READ_ONLY).toBe(NBD_FLAG_READ_ONLY);
    const w = await ro.pc.write(0, new Uint8Array(512));
    expect(w).toEqual({ error: NBD_EINVAL, message: 'Export is read-only' });
  });

  it('replies may come out of order; each completes its own request', () => {
    const queued: (() => void)[] = [];
    const { client } = pipePair(exportsOf(), { exportName: 'vol1' }, { schedule: (_r: NbdRequest, run) => queued.push(run) });
    const done: string[] = [];
    const rec = (name: string) => (r: NbdReply) => done.push(`${name}:${r.error}:${r.data ? r.data[0] : '-'}`);
    client.write(0, new Uint8Array(512).fill(9), rec('w'));
    client.read(4096, 512, rec('r1'));
    client.read(0, 512, rec('r0'));
    expect(client.inFlight).toBe(3);
    // The server runs them last-first: the read of sector 0 sees no data yet.
    queued.pop()!();
    queued.pop()!();
    queued.pop()!();
    expect(done).toEqual(['r0:0:0', 'r1:0:0', 'w:0:-']);
  });

  it('NBD_CMD_DISC: the server finishes in-flight work, then hangs up; the client fails nothing already answered', () => {
    const queued: (() => void)[] = [];
    const { client, state } = pipePair(exportsOf(), { exportName: 'vol1' }, { schedule: (_r, run) => queued.push(run) });
    client.write(0, new Uint8Array(512), () => undefined);
    client.disconnect();
    expect(state.closedByServer).toBe(false);
    queued.shift()!();
    expect(state.closedByServer).toBe(true);
  });

  it('a server that hangs up fails every request in flight with EIO', () => {
    const queued: (() => void)[] = [];
    const { client, server } = pipePair(exportsOf(), { exportName: 'vol1' }, { schedule: (_r, run) => queued.push(run) });
    const got: NbdReply[] = [];
    client.read(0, 512, (r) => got.push(r));
    client.transportClosed('link down');
    expect(got).toEqual([{ error: 5, message: 'link down' }]);
    server.transportClosed();
    queued.shift()!();
  });
});
