import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Framer,
  OFPBAC,
  OFPBIC,
  OFPBMC,
  OFPBRC,
  OFPET,
  OFPMPF_REPLY_MORE,
  decode,
  encode,
  errorFor,
  errorName,
  joinMultipartReplies,
  splitMultipartReply,
  type MessageOf,
  type OfpMessage,
} from '../../src/openflow/index.js';
import { messageArb } from './arbitraries.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function ok(bytes: Uint8Array): OfpMessage {
  const r = decode(bytes);
  if (!r.ok) throw new Error(`decode failed: ${errorName(r.err.type, r.err.code)} ${r.err.why ?? ''}`);
  return r.msg;
}

describe('openflow codec: golden bytes from os-ken', () => {
  const golden = JSON.parse(readFileSync(new URL('../fixtures/openflow/osken-golden.json', import.meta.url), 'utf8')) as {
    messages: { name: string; hex: string }[];
  };
  for (const g of golden.messages) {
    it(`decodes os-ken's ${g.name} and re-encodes the same bytes`, () => {
      const bytes = unhex(g.hex);
      expect(hex(encode(ok(bytes)))).toBe(g.hex);
    });
  }

  it('reads the fields of os-ken flow_mod_add as os-ken wrote them', () => {
    const m = ok(unhex(golden.messages.find((g) => g.name === 'flow_mod_add')!.hex)) as MessageOf<'flow_mod'>;
    expect(m.cookie).toBe(0x1234n);
    expect(m.priority).toBe(100);
    expect(m.idleTimeout).toBe(10);
    expect(m.hardTimeout).toBe(30);
    expect(m.match).toEqual([
      { field: 'in_port', value: 1 },
      { field: 'eth_dst', value: 2 },
      // os-ken masks the value itself: 00:..:01 under ff:ff:ff:00:00:00 is 0.
      { field: 'eth_src', value: 0, mask: 0xffffff000000 },
    ]);
    expect(m.instructions).toEqual([
      { type: 'apply_actions', actions: [{ type: 'output', port: 2, maxLen: 0 }, { type: 'output', port: 0xfffffffd, maxLen: 0xffff }] },
    ]);
  });
});

describe('openflow codec: hand-checked layouts (spec 1.3.5 §7)', () => {
  it('encodes a HELLO with a version bitmap for 1.0 and 1.3 as 16 bytes (§7.5.1)', () => {
    // header(8) + element type 1, length 8, bitmap 0x12 (bits 1 and 4).
    expect(hex(encode({ type: 'hello', xid: 1, versions: [1, 4] }))).toBe('04000010000000010001000800000012');
  });

  it('encodes a table-miss PACKET_IN with NO_BUFFER and an in_port OXM (§7.4.1)', () => {
    const b = encode({ type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: 60, reason: 0, tableId: 0, cookie: 0n, match: [{ field: 'in_port', value: 3 }], data: new Uint8Array(2) });
    // 32 fixed (incl. 8-byte header) + match(4+8 → 16) − 8 (match header counted in the 32) + 2 pad + data.
    expect(hex(b)).toBe('040a002c00000000' + 'ffffffff003c0000' + '0000000000000000' + '0001000c80000004' + '0000000300000000' + '0000' + '0000');
  });
});

describe('openflow codec: properties', () => {
  it('decode(encode(x)) = x for random valid messages of every type', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const r = decode(encode(m));
        if (!r.ok) throw new Error(`${m.type}: ${errorName(r.err.type, r.err.code)} ${r.err.why ?? ''}`);
        expect(r.msg).toEqual(m);
      }),
      { numRuns: 3000 },
    );
  });

  it('random bytes never throw out of the decoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 29 }), (b, type) => {
        const bytes = new Uint8Array(Math.max(8, b.length));
        bytes.set(b);
        bytes[0] = 4;
        bytes[1] = type;
        bytes[2] = bytes.length >> 8;
        bytes[3] = bytes.length & 0xff;
        const r = decode(bytes);
        if (!r.ok) expect(errorFor(r.err, r.xid, bytes).type).toBe('error');
      }),
      { numRuns: 5000 },
    );
  });

  it('mutated valid messages never throw and answer with a known error type', () => {
    fc.assert(
      fc.property(messageArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (m, muts, cut) => {
        const b = encode(m);
        for (const [i, v] of muts) b[i % b.length] = v;
        for (const bytes of [b, b.slice(0, Math.max(0, b.length - (cut % 16)))]) {
          const r = decode(bytes);
          if (!r.ok) expect(Object.values(OFPET)).toContain(r.err.type);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('openflow codec: encoded bytes are never reused', () => {
  it('bytes stay as encoded across later encodes, slab turnover and messages larger than a slab', () => {
    const kept: [OfpMessage, Uint8Array, string][] = [];
    fc.assert(
      fc.property(messageArb, fc.integer({ min: 0, max: 70_000 }), (m, big) => {
        const b = encode(m);
        kept.push([m, b, hex(b)]);
        // Now and then a packet-out far larger than the slab's reserve (up to 65535 bytes).
        if (big > 60_000) encode({ type: 'packet_out', xid: 1, bufferId: 0xffffffff, inPort: 1, actions: [], data: new Uint8Array(Math.min(big, 65_000) - 24).fill(0xee) });
      }),
      { numRuns: 2000 },
    );
    for (const [m, b, h] of kept) {
      expect(hex(b)).toBe(h);
      expect((decode(b) as { msg: unknown }).msg).toEqual(m);
    }
  });
});

describe('openflow codec: malformed input gets the spec error', () => {
  const fm = encode({
    type: 'flow_mod', xid: 9, cookie: 0n, cookieMask: 0n, tableId: 0, command: 0, idleTimeout: 0, hardTimeout: 0, priority: 1,
    bufferId: 0xffffffff, outPort: 0xffffffff, outGroup: 0xffffffff, flags: 0, match: [{ field: 'in_port', value: 1 }],
    instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: 2, maxLen: 0 }] }],
  });
  const expectErr = (bytes: Uint8Array, type: number, code: number): void => {
    const r = decode(bytes);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(errorName(r.err.type, r.err.code)).toBe(errorName(type, code));
  };

  it('a header length that disagrees with the message is OFPBRC_BAD_LEN', () => {
    const b = fm.slice();
    b[3] = (b[3]! + 8) & 0xff;
    expectErr(b, OFPET.BAD_REQUEST, OFPBRC.BAD_LEN);
  });
  it('a 12-byte BARRIER_REQUEST is OFPBRC_BAD_LEN', () => expectErr(unhex('0414000c000000010000 0000'), OFPET.BAD_REQUEST, OFPBRC.BAD_LEN));
  it('an OpenFlow 1.0 FLOW_MOD is OFPBRC_BAD_VERSION', () => {
    const b = fm.slice();
    b[0] = 1;
    expectErr(b, OFPET.BAD_REQUEST, OFPBRC.BAD_VERSION);
  });
  it('message type 99 is OFPBRC_BAD_TYPE', () => expectErr(unhex('0463000800000001'), OFPET.BAD_REQUEST, OFPBRC.BAD_TYPE));
  it('a masked in_port is OFPBMC_BAD_MASK', () => {
    const m = (decode(fm) as { msg: MessageOf<'flow_mod'> }).msg;
    const raw = { field: 'raw' as const, oxmClass: 0x8000, oxmField: 0, hasMask: true, payload: new Uint8Array([0, 0, 0, 1, 0, 0, 0, 1]) };
    expectErr(encode({ ...m, match: [raw] }), OFPET.BAD_MATCH, OFPBMC.BAD_MASK);
  });
  it('a duplicated OXM field is OFPBMC_DUP_FIELD', () => {
    const m = (decode(fm) as { msg: MessageOf<'flow_mod'> }).msg;
    const b = encode({ ...m, match: [{ field: 'eth_type', value: 0x800 }, { field: 'ip_proto', value: 6 }, { field: 'raw', oxmClass: 0x8000, oxmField: 5, hasMask: false, payload: new Uint8Array([8, 0]) }] });
    expectErr(b, OFPET.BAD_MATCH, OFPBMC.DUP_FIELD);
  });
  it('a value bit outside its mask is OFPBMC_BAD_WILDCARDS (§7.2.3.5)', () => {
    const m = (decode(fm) as { msg: MessageOf<'flow_mod'> }).msg;
    expectErr(encode({ ...m, match: [{ field: 'eth_type', value: 0x800 }, { field: 'ipv4_src', value: 0x0a000001, mask: 0xff000000 }] }), OFPET.BAD_MATCH, OFPBMC.BAD_WILDCARDS);
  });
  it('an action of length 12 is OFPBAC_BAD_LEN; type 99 is OFPBAC_BAD_TYPE', () => {
    const b = fm.slice();
    const at = b.length - 16; // the output action
    b[at + 3] = 12;
    expectErr(b, OFPET.BAD_ACTION, OFPBAC.BAD_LEN);
    const c = fm.slice();
    c[at + 1] = 99;
    expectErr(c, OFPET.BAD_ACTION, OFPBAC.BAD_TYPE);
  });
  it('instruction type 7 is OFPBIC_UNKNOWN_INST', () => {
    const b = fm.slice();
    b[b.length - 24 + 1] = 7;
    expectErr(b, OFPET.BAD_INSTRUCTION, OFPBIC.UNKNOWN_INST);
  });
  it('the ERROR answer carries the xid and the first 64 bytes of the request', () => {
    const b = fm.slice();
    b[0] = 2;
    const r = decode(b);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const e = errorFor(r.err, r.xid, b) as MessageOf<'error'>;
    expect(e.xid).toBe(9);
    expect(hex(e.data)).toBe(hex(b.slice(0, 64)));
    expect(decode(encode(e)).ok).toBe(true);
  });
});

describe('openflow stream', () => {
  it('frames messages split across arbitrary chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 20 }), (msgs, cuts) => {
        const all = msgs.map(encode);
        const stream = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
        let p = 0;
        for (const b of all) {
          stream.set(b, p);
          p += b.length;
        }
        const f = new Framer();
        const got: Uint8Array[] = [];
        let at = 0;
        for (const c of cuts) {
          got.push(...f.push(stream.subarray(at, Math.min(stream.length, at + c))));
          at = Math.min(stream.length, at + c);
        }
        got.push(...f.push(stream.subarray(at)));
        expect(got.map(hex)).toEqual(all.map(hex));
        expect(f.pending).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('a header length under 8 breaks the stream for good', () => {
    const f = new Framer();
    expect(f.push(unhex('0400000400000000'))).toEqual([]);
    expect(f.broken).toMatch(/length 4/);
    expect(f.push(encode({ type: 'barrier_request', xid: 1 }))).toEqual([]);
  });

  it('splits a large FLOW reply with OFPMPF_REPLY_MORE on all but the last and joins it back', () => {
    const stats = Array.from({ length: 2000 }, (_, i) => ({
      tableId: 0, durationSec: i, durationNsec: 0, priority: i, idleTimeout: 0, hardTimeout: 0, flags: 0, cookie: BigInt(i),
      packetCount: 0n, byteCount: 0n, match: [{ field: 'in_port' as const, value: i }], instructions: [],
    }));
    const m: MessageOf<'multipart_reply'> = { type: 'multipart_reply', xid: 5, flags: 0, body: { mp: 'flow', stats } };
    const parts = splitMultipartReply(m);
    expect(parts.length).toBeGreaterThan(1);
    for (const [i, p] of parts.entries()) {
      const b = encode(p);
      expect(b.length).toBeLessThanOrEqual(65535);
      expect(p.flags & OFPMPF_REPLY_MORE).toBe(i < parts.length - 1 ? 1 : 0);
      expect(p.xid).toBe(5);
    }
    expect(joinMultipartReplies(parts.map((p) => ok(encode(p)) as MessageOf<'multipart_reply'>))).toEqual(m);
  });
});
