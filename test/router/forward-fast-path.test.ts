import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Router } from '../../src/router/index.js';
import { Simulation } from '../../src/sim/simulation.js';
import { fold, sumBytes } from '../../src/wire/checksum.js';
import { parseIpv4 } from '../../src/wire/ip.js';
import { buildIpv4Datagram, writeMac } from '../../src/wire/ipv4-frame.js';

const IN_MAC = 0x020000000001;
const OUT_MAC = 0x020000000002;
const HOP_MAC = 0x02000000aa01;

/** A router `in` 10.0.0.1/24, `out` 10.1.0.1/30 with 10.1.0.2 resolved; returns what `out` sends. */
function router(): { r: Router; sent: Uint8Array[] } {
  const sim = new Simulation(1);
  const r = new Router({
    name: 'r', sim,
    interfaces: [
      { name: 'in', mac: IN_MAC, ipv4: parseIpv4('10.0.0.1'), prefixLength: 24, mtu: 1500 },
      { name: 'out', mac: OUT_MAC, ipv4: parseIpv4('10.1.0.1'), prefixLength: 30, mtu: 1500 },
    ],
    routes: [{ network: 0, prefixLength: 0, via: [parseIpv4('10.1.0.2')] }],
  });
  const sent: Uint8Array[] = [];
  r.interfaces[1]!.port.peer = { receive: (f) => void sent.push(f) };
  r.interfaces[1]!.neighbors.learn(parseIpv4('10.1.0.2'), HOP_MAC, true, true);
  return { r, sent };
}

describe('router forwarding fast path', () => {
  it('sends the datagram with new MACs, TTL - 1, a verifying checksum and zero padding, whatever the input padding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 60 }), fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.integer({ min: 2, max: 255 }), fc.nat(0xffff), fc.boolean(), (l4, padding, ttl, ident, df) => {
        const { r, sent } = router();
        const ip = buildIpv4Datagram({ src: parseIpv4('10.0.0.5'), dst: parseIpv4('192.0.2.7'), protocol: 253, tos: 0, ttl, ident, dontFrag: df }, l4);
        const frame = new Uint8Array(14 + ip.length + padding.length);
        writeMac(frame, 0, IN_MAC);
        writeMac(frame, 6, 0x02000000bb01);
        frame[12] = 0x08;
        frame.set(ip, 14);
        frame.set(padding, 14 + ip.length);
        const before = frame.slice();
        r.interfaces[0]!.port.receive(frame, { hops: 0 });
        expect(sent.length).toBe(1);
        const out = sent[0]!;
        expect(out.length).toBe(Math.max(60, 14 + ip.length));
        const want = new Uint8Array(out.length);
        writeMac(want, 0, HOP_MAC);
        writeMac(want, 6, OUT_MAC);
        want[12] = 0x08;
        want.set(ip, 14);
        want[14 + 8] = ttl - 1;
        want[14 + 10] = out[14 + 10]!;
        want[14 + 11] = out[14 + 11]!;
        expect(out).toEqual(want);
        expect(fold(sumBytes(out, 14, 34))).toBe(0xffff);
        // the received frame is never edited in place
        expect(frame).toEqual(before);
      }),
      { numRuns: 200 },
    );
  });
});
