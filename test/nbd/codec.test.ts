/**
 * The NBD codec: golden bytes from a capture of QEMU 7.2 (`qemu-io -f raw nbd://…` against
 * `qemu-nbd -f qcow2 -x vol1`, tshark 4.0 on lo), encode/decode round trips over any chunking,
 * and hostile input: truncated or garbage bytes never raise anything but a located
 * `NbdProtocolError`, and never crash the client or server state machines.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ClientStreamDecoder,
  encodeChunkBody,
  encodeClientMessage,
  encodeInfo,
  encodeInfoRequest,
  encodeMetaContextRequest,
  encodeServerMessage,
  NBD_CMD_WRITE,
  NBD_INFO_BLOCK_SIZE,
  NbdClient,
  NbdProtocolError,
  NbdServer,
  parseChunkBody,
  parseInfo,
  parseInfoRequest,
  parseMetaContextRequest,
  ServerStreamDecoder,
  type ChunkBody,
  type ClientMessage,
  type ServerMessage,
} from '../../src/nbd/index.js';
import { createImage, openImage } from '../../src/block/api.js';
import { MemoryProvider } from '../../src/block/chain.js';
import { chainImage } from '../../src/nbd/index.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));

describe('golden bytes from a qemu-io <-> qemu-nbd 7.2 capture', () => {
  it('encodes NBD_OPT_GO for "vol1" asking NBD_INFO_BLOCK_SIZE as qemu-io does', () => {
    expect(encodeClientMessage({ kind: 'option', option: 7, data: encodeInfoRequest({ name: 'vol1', requests: [NBD_INFO_BLOCK_SIZE] }) })).toEqual(
      hex('49484156454f5054 00000007 0000000c 00000004 766f6c31 0001 0003'),
    );
  });
  it('encodes NBD_OPT_SET_META_CONTEXT base:allocation as qemu-io does', () => {
    expect(encodeClientMessage({ kind: 'option', option: 10, data: encodeMetaContextRequest({ name: 'vol1', queries: ['base:allocation'] }) })).toEqual(
      hex('49484156454f5054 0000000a 0000001f 00000004 766f6c31 00000001 0000000f 626173653a616c6c6f636174696f6e'),
    );
  });
  it("decodes qemu-nbd's NBD_REP_INFO replies (block size 1/4096/32M, export 16 MiB flags 0x0ced)", () => {
    const d = new ServerStreamDecoder({ readLength: () => 0 });
    const msgs = d.push(
      hex(`4e42444d41474943 49484156454f5054 0003
           0003e889045565a9 00000007 00000003 0000000e 0003 00000001 00001000 02000000
           0003e889045565a9 00000007 00000003 0000000c 0000 0000000001000000 0ced
           0003e889045565a9 00000007 00000001 00000000`),
    );
    expect(msgs.map((m) => m.at)).toEqual([0, 18, 52, 84]);
    expect(msgs[0]!.msg).toEqual({ kind: 'greeting', flags: 3 });
    const [bs, ex] = [msgs[1]!.msg, msgs[2]!.msg] as Extract<ServerMessage, { kind: 'option-reply' }>[];
    expect(parseInfo(bs!.data)).toEqual({ info: 'block-size', minimum: 1, preferred: 4096, maximum: 32 * 1024 * 1024 });
    expect(parseInfo(ex!.data)).toEqual({ info: 'export', size: 16 * 1024 * 1024, flags: 0x0ced });
    expect(encodeInfo({ info: 'export', size: 16 * 1024 * 1024, flags: 0x0ced })).toEqual(ex!.data);
    expect(d.inTransmission).toBe(true);
  });
  it("decodes qemu-io's NBD_CMD_WRITE with FUA (cookie, offset, length, payload)", () => {
    const data = new Uint8Array(16).fill(0x5a);
    const bytes = new Uint8Array([...hex('25609513 0001 0001 0000557902d2a020 0000000000000000 00000010'), ...data]);
    const d = new ClientStreamDecoder('c', {}, { flagsSent: true });
    const [m] = d.push(bytes);
    expect(m!.msg).toEqual({ kind: 'request', flags: 1, type: NBD_CMD_WRITE, cookie: 0x0000557902d2a020n, offset: 0, length: 16, data });
    expect(encodeClientMessage(m!.msg)).toEqual(bytes);
  });
});

// --- arbitraries ---------------------------------------------------------------------------

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const offset = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const bytes = (max = 64): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });

const requestArb: fc.Arbitrary<ClientMessage> = fc.oneof(
  fc.record({ kind: fc.constant('request' as const), flags: u16, type: u16.filter((t) => t !== NBD_CMD_WRITE), cookie: u64, offset, length: u32 }),
  fc.record({ flags: u16, cookie: u64, offset, data: bytes(300) }).map((r) => ({ kind: 'request' as const, type: NBD_CMD_WRITE, length: r.data.length, ...r })),
);
const optionArb: fc.Arbitrary<ClientMessage> = fc.record({ kind: fc.constant('option' as const), option: u32, data: bytes(200) });
const clientStreamArb = fc.tuple(u32, fc.array(fc.oneof(optionArb, requestArb), { maxLength: 20 })).map(([flags, rest]) => [{ kind: 'client-flags' as const, flags }, ...rest]);

/** Splits `b` at the given cut points. */
function chunks(b: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, b.length]) {
    out.push(b.subarray(prev, c));
    prev = c;
  }
  return out;
}
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const chunkBodyArb: fc.Arbitrary<ChunkBody> = fc.oneof(
  fc.constant({ type: 'none' as const }),
  fc.record({ type: fc.constant('offset-data' as const), offset, data: fc.uint8Array({ minLength: 1, maxLength: 100 }) }),
  fc.record({ type: fc.constant('offset-hole' as const), offset, length: fc.integer({ min: 1, max: 0xffffffff }) }),
  fc.record({ type: fc.constant('block-status' as const), contextId: u32, extents: fc.array(fc.record({ length: u32, flags: u32 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ type: fc.constant('error' as const), chunkType: fc.constant(0x8001), error: fc.integer({ min: 1, max: 0xffffffff }), message: fc.string({ maxLength: 40 }) }),
  fc.record({ type: fc.constant('error' as const), chunkType: fc.constant(0x8002), error: fc.integer({ min: 1, max: 0xffffffff }), message: fc.string({ maxLength: 40 }), offset }),
);

function expectLocated(e: unknown): void {
  if (!(e instanceof NbdProtocolError)) throw e;
  expect(e.code).toBe('NBD_PROTOCOL');
  expect(e.where).toMatch(/ byte \d+$/);
}

describe('round trips', () => {
  it('client streams decode to what was encoded, however TCP cuts them', () => {
    fc.assert(
      fc.property(clientStreamArb, fc.array(fc.nat(), { maxLength: 10 }), (msgs, cuts) => {
        const wire = concat(msgs.map(encodeClientMessage));
        const d = new ClientStreamDecoder('c', { maxOptionData: 1 << 20 });
        const got = chunks(wire, cuts).flatMap((c) => d.push(c));
        d.end();
        expect(got.map((g) => g.msg)).toEqual(msgs);
        let at = 0;
        got.forEach((g, i) => {
          expect(g.at).toBe(at);
          at += encodeClientMessage(msgs[i]!).length;
        });
      }),
      { numRuns: 500 },
    );
  });

  it('server streams decode to what was encoded (handshake, then simple replies with read data and chunks)', () => {
    const reply = fc.oneof(
      fc.record({ kind: fc.constant('simple-reply' as const), error: u32, cookie: u64 }),
      fc.record({ kind: fc.constant('simple-reply' as const), error: fc.constant(0), cookie: u64, data: fc.uint8Array({ minLength: 1, maxLength: 200 }) }),
      fc.record({ flags: u16, cookie: u64, body: chunkBodyArb }).map(({ flags, cookie, body }) => ({ kind: 'chunk' as const, flags, cookie, ...encodeChunkBody(body) })),
    );
    const optReply = fc.record({ kind: fc.constant('option-reply' as const), option: u32.filter((o) => o !== 7), type: u32, data: bytes(100) });
    fc.assert(
      fc.property(u16, fc.array(optReply, { maxLength: 5 }), fc.array(reply, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (gflags, opts, replies, cuts) => {
        // Every simple reply's cookie is unique here, so the read length is known per cookie.
        const lens = new Map<bigint, number>();
        const uniq = replies.filter((r) => r.kind === 'chunk' || !lens.has(r.cookie) && (lens.set(r.cookie, 'data' in r && r.data ? r.data.length : 0), true));
        const msgs: ServerMessage[] = [
          { kind: 'greeting', flags: gflags },
          ...opts,
          { kind: 'option-reply', option: 7, type: 1, data: new Uint8Array(0) },
          ...uniq.map((r) => (r.kind === 'chunk' ? { kind: 'chunk' as const, flags: r.flags, type: r.type, cookie: r.cookie, payload: r.payload } : r)),
        ];
        const wire = concat(msgs.map(encodeServerMessage));
        const d = new ServerStreamDecoder({ readLength: (c) => lens.get(c) ?? 0 });
        const got = chunks(wire, cuts).flatMap((c) => d.push(c));
        d.end();
        expect(got.map((g) => g.msg)).toEqual(msgs);
      }),
      { numRuns: 500 },
    );
  });

  it('OFFSET_DATA placed straight into buffers (placeData) decodes as the whole chunk does, however TCP cuts it', () => {
    const chunk = fc.record({ flags: u16, cookie: u64, body: chunkBodyArb }).map(({ flags, cookie, body }) => ({ kind: 'chunk' as const, flags, cookie, ...encodeChunkBody(body) }));
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 30 }), fc.array(fc.boolean(), { maxLength: 40 }), (replies, cuts, take) => {
        const msgs: ServerMessage[] = [
          { kind: 'greeting', flags: 3 },
          { kind: 'option-reply', option: 7, type: 1, data: new Uint8Array(0) },
          ...replies.map((r) => ({ kind: 'chunk' as const, flags: r.flags, type: r.type, cookie: r.cookie, payload: r.payload })),
        ];
        const wire = concat(msgs.map(encodeServerMessage));
        const plain = new ServerStreamDecoder({ readLength: () => 0 });
        const want = chunks(wire, cuts).flatMap((c) => plain.push(c));
        // Every n-th offer is taken (or refused, and the chunk then arrives whole); a taken
        // buffer starts as garbage, so only placed bytes can make it equal.
        let n = 0;
        const placed: Uint8Array[] = [];
        const d = new ServerStreamDecoder({
          readLength: () => 0,
          placeData: (_c, _f, _o, len) => {
            if (!(take[n++ % Math.max(1, take.length)] ?? true)) return null;
            const b = new Uint8Array(len).fill(0xa5);
            placed.push(b);
            return b;
          },
        });
        const got = chunks(wire, cuts).flatMap((c) => d.push(c));
        d.end();
        expect(d.pending).toBe(0);
        expect(got.map((g) => g.at)).toEqual(want.map((g) => g.at));
        let k = 0;
        got.forEach((g, i) => {
          const w = want[i]!.msg;
          if (g.msg.kind !== 'chunk-placed') return expect(g.msg).toEqual(w);
          const body = parseChunkBody(w.kind === 'chunk' ? w.type : -1, (w as Extract<ServerMessage, { kind: 'chunk' }>).payload);
          expect(body).toMatchObject({ type: 'offset-data', offset: g.msg.offset });
          expect(placed[k++]).toEqual((body as Extract<ChunkBody, { type: 'offset-data' }>).data);
          expect({ flags: g.msg.flags, cookie: g.msg.cookie }).toEqual({ flags: (w as { flags: number }).flags, cookie: (w as { cookie: bigint }).cookie });
        });
        expect(k).toBe(placed.length);
      }),
      { numRuns: 500 },
    );
  });

  it('a stream that ends inside placed chunk data is an error at the chunk', () => {
    const wire = concat([
      encodeServerMessage({ kind: 'greeting', flags: 3 }),
      encodeServerMessage({ kind: 'option-reply', option: 7, type: 1, data: new Uint8Array(0) }),
      encodeServerMessage({ kind: 'chunk', flags: 1, cookie: 5n, ...encodeChunkBody({ type: 'offset-data', offset: 4096, data: new Uint8Array(100).fill(9) }) }),
    ]);
    const d = new ServerStreamDecoder({ readLength: () => 0, placeData: (_c, _f, _o, len) => new Uint8Array(len) });
    expect(d.push(wire.subarray(0, wire.length - 1)).map((m) => m.msg.kind)).toEqual(['greeting', 'option-reply']);
    expect(d.pending).toBe(20 + 8 + 99);
    expect(() => d.end()).toThrow(/stream ends inside a message \(127 bytes/);
  });

  it('chunk payloads, INFO/GO and meta context data round-trip', () => {
    fc.assert(
      fc.property(chunkBodyArb, (b) => {
        const { type, payload } = encodeChunkBody(b);
        const back = parseChunkBody(type, payload);
        expect(back).toEqual(b.type === 'offset-data' ? { ...b, data: b.data } : b);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), fc.array(u16, { maxLength: 10 }), (name, requests) => {
        expect(parseInfoRequest(encodeInfoRequest({ name, requests }))).toEqual({ name, requests });
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), fc.array(fc.string({ maxLength: 30 }), { maxLength: 5 }), (name, queries) => {
        expect(parseMetaContextRequest(encodeMetaContextRequest({ name, queries }))).toEqual({ name, queries });
      }),
    );
  });
});

describe('hostile input', () => {
  it('garbage and truncated streams raise only located protocol errors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (junk, cuts, flagsSent) => {
        for (const d of [new ClientStreamDecoder('c', {}, { flagsSent }), new ServerStreamDecoder({ readLength: () => 64 })]) {
          try {
            for (const c of chunks(junk, cuts)) d.push(c);
            d.end();
          } catch (e) {
            expectLocated(e);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a valid client stream with bytes flipped or cut short never throws anything else', () => {
    fc.assert(
      fc.property(clientStreamArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), (msgs, flips, cut) => {
        const wire = concat(msgs.map(encodeClientMessage));
        for (const [i, v] of flips) if (wire.length > 0) wire[i % wire.length] = v;
        const d = new ClientStreamDecoder();
        try {
          d.push(wire.subarray(0, cut % (wire.length + 1)));
          d.end();
        } catch (e) {
          expectLocated(e);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a huge declared write or option is refused as announced, not buffered', () => {
    const d = new ClientStreamDecoder('c', {}, { flagsSent: true });
    const hdr = hex('25609513 0000 0001 0000000000000001 0000000000000000 7fffffff');
    expect(() => d.push(hdr)).toThrow(/exceeds the maximum payload/);
    const o = new ClientStreamDecoder('c', {}, { flagsSent: true });
    expect(() => o.push(hex('49484156454f5054 00000007 ffffffff'))).toThrow(NbdProtocolError);
  });

  it('the server and client state machines survive any bytes (they hang up, never throw)', () => {
    const provider = new MemoryProvider();
    createImage('m', { size: 1 << 20 }, provider);
    const image = chainImage(openImage('m', {}, provider));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (junk, prefix) => {
        let closed = false;
        const s = new NbdServer({ exports: [{ name: 'a', image }], send: () => undefined, close: () => (closed = true) });
        s.start();
        // Optionally a valid start (client flags + structured reply + GO), then junk.
        if (prefix) {
          s.receive(hex('00000003'));
          s.receive(encodeClientMessage({ kind: 'option', option: 8, data: new Uint8Array(0) }));
          s.receive(encodeClientMessage({ kind: 'option', option: 7, data: encodeInfoRequest({ name: 'a', requests: [] }) }));
        }
        s.receive(junk);
        expect(typeof closed).toBe('boolean');
        const c = new NbdClient({ exportName: 'a', send: () => undefined, close: () => undefined, onError: () => undefined });
        c.receive(hex('4e42444d41474943 49484156454f5054 0003'));
        c.receive(junk);
      }),
      { numRuns: 500 },
    );
  });
});
