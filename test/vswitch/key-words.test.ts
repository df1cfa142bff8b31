/**
 * key-words.ts writes the flow key's packet words straight from the bytes; it must equal the
 * reference path (wire `extractFlowKey` → `keyWordsFromFlowKey` → `keyWordsFromFrame`) word for
 * word, with the same L3/L4 offsets, and count the VLAN tags as rewrite.ts `readTags` does, on
 * well-formed frames and on truncated, bit-flipped and random ones.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KEY_WORDS, PACKET_WORDS, keyWordsFromFlowKey, keyWordsFromFrame } from '../../src/vswitch/fields.js';
import { emptyKeyLayout, extractKeyWords } from '../../src/vswitch/key-words.js';
import { readTags } from '../../src/vswitch/rewrite.js';
import {
  buildArpReply, buildArpRequest, buildIcmpEcho, buildNeighborAdvertisement, buildNeighborSolicitation, buildRarp, buildTcp, buildUdp,
  emptyFlowKey, extractFlowKey, type Ipv6Words,
} from '../../src/wire/index.js';

const mac = fc.integer({ min: 0, max: 2 ** 48 - 1 });
const ip4 = fc.integer({ min: 0, max: 0xffffffff });
const port = fc.integer({ min: 0, max: 0xffff });
const word = fc.integer({ min: 0, max: 0xffffffff });
const ip6 = fc.tuple(word, word, word, word) as fc.Arbitrary<Ipv6Words>;
const payload = fc.uint8Array({ maxLength: 64 });

/** An IPv6 packet with a chain of extension headers (hop-by-hop, routing, fragment, AH, dest opts). */
const ipv6WithExt = fc
  .record({
    exts: fc.array(fc.record({ nh: fc.constantFrom(0, 43, 44, 51, 60), len: fc.integer({ min: 0, max: 2 }), fragWord: port }), { maxLength: 3 }),
    last: fc.constantFrom(6, 17, 58, 132, 1, 99),
    body: fc.uint8Array({ minLength: 0, maxLength: 48 }),
    tc: fc.integer({ min: 0, max: 255 }),
    label: fc.integer({ min: 0, max: 0xfffff }),
  })
  .map(({ exts, last, body, tc, label }) => {
    const parts: number[] = [];
    for (let i = 0; i < exts.length; i++) {
      const e = exts[i]!;
      const next = i + 1 < exts.length ? exts[i + 1]!.nh : last;
      if (e.nh === 44) parts.push(next, 0, e.fragWord >> 8, e.fragWord & 0xff, 0, 0, 0, 1);
      else {
        const bytes = e.nh === 51 ? (e.len + 2) * 4 : (e.len + 1) * 8;
        const h = new Array<number>(bytes).fill(0);
        h[0] = next;
        h[1] = e.len;
        parts.push(...h);
      }
    }
    parts.push(...body);
    const f = new Uint8Array(14 + 40 + parts.length);
    f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd]);
    f[14] = 0x60 | (tc >> 4);
    f[15] = ((tc & 15) << 4) | (label >> 16);
    f[16] = (label >> 8) & 0xff;
    f[17] = label & 0xff;
    f[18] = parts.length >> 8;
    f[19] = parts.length & 0xff;
    f[20] = exts.length > 0 ? exts[0]!.nh : last;
    f[21] = 64;
    for (let i = 22; i < 54; i++) f[i] = (i * 37) & 0xff;
    f.set(parts, 54);
    return f;
  });

/** Neighbour discovery with random options (duplicate, zero-length, overrunning, zero MACs). */
const ndWithOptions = fc
  .record({
    type: fc.constantFrom(135, 136, 133),
    code: fc.constantFrom(0, 0, 1),
    opts: fc.array(fc.record({ t: fc.constantFrom(1, 2, 3), len: fc.constantFrom(0, 1, 1, 1, 2), zero: fc.boolean(), b: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
  })
  .map(({ type, code, opts }) => {
    const body: number[] = [type, code, 0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 16; i++) body.push((i * 11) & 0xff);
    for (const o of opts) {
      const n = Math.max(o.len, 1) * 8;
      const h = new Array<number>(n).fill(o.zero ? 0 : o.b);
      h[0] = o.t;
      h[1] = o.len;
      body.push(...h);
    }
    const f = new Uint8Array(54 + body.length);
    f.set([0x33, 0x33, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60]);
    f[18] = body.length >> 8;
    f[19] = body.length & 0xff;
    f[20] = 58;
    f[21] = 255;
    f.set(body, 54);
    return f;
  });

/** An IPv4 packet with options and fragment bits, any protocol. */
const ipv4Raw = fc
  .record({ ihl: fc.integer({ min: 4, max: 7 }), frag: fc.constantFrom(0, 0x2000, 0x0010, 0x4000, 0x2001), proto: fc.constantFrom(1, 6, 17, 132, 47), body: fc.uint8Array({ maxLength: 40 }), src: ip4, dst: ip4 })
  .map(({ ihl, frag, proto, body, src, dst }) => {
    const hl = ihl * 4;
    const f = new Uint8Array(14 + Math.max(hl, 20) + body.length);
    f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
    f[14] = 0x40 | ihl;
    f[15] = 0xb8;
    const tl = Math.max(hl, 20) + body.length;
    f[16] = tl >> 8;
    f[17] = tl & 0xff;
    f[20] = frag >> 8;
    f[21] = frag & 0xff;
    f[22] = 17;
    f[23] = proto;
    new DataView(f.buffer).setUint32(26, src);
    new DataView(f.buffer).setUint32(30, dst);
    f.set(body, 14 + Math.max(hl, 20));
    return f;
  });

/** 802.3 length frames, with and without an LLC/SNAP header carrying an ethertype. */
const llc = fc.record({ snap: fc.boolean(), type: fc.constantFrom(0x0800, 0x0806, 0x0100, 0x86dd), rest: fc.uint8Array({ maxLength: 60 }) }).map(({ snap, type, rest }) => {
  const f = new Uint8Array(14 + 8 + rest.length);
  f.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x00, 0x40]);
  if (snap) f.set([0xaa, 0xaa, 0x03, 0, 0, 0, type >> 8, type & 0xff], 14);
  f.set(rest, 22);
  return f;
});

const base: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.record({ srcMac: mac, srcIp: ip4, dstIp: ip4 }).map(buildArpRequest),
  fc.record({ srcMac: mac, srcIp: ip4, dstMac: mac, dstIp: ip4 }).map(buildArpReply),
  mac.map(buildRarp),
  fc.record({ srcMac: mac, dstMac: mac, srcIp: ip4, dstIp: ip4, id: port, seq: port, payloadLen: fc.nat(40) }).map((a) => buildIcmpEcho({ ...a, type: 'request' })),
  fc.record({ srcMac: mac, dstMac: mac, srcIp: ip4, dstIp: ip4, srcPort: port, dstPort: port, payload }).map((a) => buildUdp(a)),
  fc.record({ srcMac: mac, dstMac: mac, srcIp: ip4, dstIp: ip4, srcPort: port, dstPort: port, payload }).map((a) => buildTcp(a)),
  fc.record({ srcMac: mac, srcIp6: ip6, targetIp6: ip6, unsolicited: fc.boolean() }).map(buildNeighborAdvertisement),
  fc.record({ srcMac: mac, srcIp6: ip6, targetIp6: ip6 }).map(buildNeighborSolicitation),
  ipv6WithExt,
  ndWithOptions,
  ipv4Raw,
  llc,
  fc.uint8Array({ minLength: 14, maxLength: 120 }),
);

/** Up to three tags of either TPID, in any order (the extractors read two). */
const frameArb = fc
  .tuple(base, fc.array(fc.tuple(fc.constantFrom(0x8100, 0x88a8), port), { maxLength: 3 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.option(fc.nat(), { nil: undefined }))
  .map(([f, tags, edits, cut]) => {
    let out = f;
    for (const [tpid, tci] of tags) {
      const t = new Uint8Array(out.length + 4);
      t.set(out.subarray(0, 12));
      t.set([tpid >> 8, tpid & 0xff, tci >> 8, tci & 0xff], 12);
      t.set(out.subarray(12), 16);
      out = t;
    }
    // Bit flips biased to the headers, then an optional truncation (at least 14 bytes remain).
    for (const [at, v] of edits) out[at % Math.min(out.length, 90)] = v;
    if (cut !== undefined) out = out.subarray(0, 14 + (cut % (out.length - 13)));
    return out;
  });

function reference(frame: Uint8Array): { words: Int32Array; l3: number; l4: number; tags: number; tpid0: number } {
  const fk = emptyFlowKey();
  extractFlowKey(frame, fk);
  const words = keyWordsFromFlowKey(fk, new Int32Array(KEY_WORDS));
  keyWordsFromFrame(frame, fk, words);
  const t = readTags(frame);
  return { words, l3: fk.l3Offset, l4: fk.l4Offset, tags: t.n, tpid0: t.n > 0 ? t.tpid0 : 0 };
}

describe('extractKeyWords ≡ extractFlowKey + keyWordsFromFlowKey + keyWordsFromFrame', () => {
  it('on random well-formed, tagged, truncated and mutated frames', () => {
    // One reused output, dirty from the previous frame, as the bridge uses it.
    const w = new Int32Array(KEY_WORDS).fill(-1);
    const lay = emptyKeyLayout();
    fc.assert(
      fc.property(frameArb, (frame) => {
        const ref = reference(frame);
        extractKeyWords(frame, w, lay);
        expect(Array.from(w.subarray(1, PACKET_WORDS))).toEqual(Array.from(ref.words.subarray(1, PACKET_WORDS)));
        expect({ l3: lay.l3, l4: lay.l4, tags: lay.tags, tpid0: lay.tpid0 }).toEqual({ l3: ref.l3, l4: ref.l4, tags: ref.tags, tpid0: ref.tpid0 });
      }),
      { numRuns: 20000 },
    );
  });

  it('leaves in_port and the metadata words alone', () => {
    const w = new Int32Array(KEY_WORDS).fill(7);
    extractKeyWords(buildUdp({ srcMac: 1, dstMac: 2, srcIp: 3, dstIp: 4, srcPort: 5, dstPort: 6, payloadLen: 8 }), w, emptyKeyLayout());
    expect(w[0]).toBe(7);
    expect(Array.from(w.subarray(PACKET_WORDS)).every((x) => x === 7)).toBe(true);
  });
});
