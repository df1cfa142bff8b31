import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseVxlan, vxlanInner, vxlanInnerAt, vxlanVni, vxlanVniAt } from '../../src/wire/vxlan.js';

/** Random datagrams, often shaped like IPv4/UDP/VXLAN (protocol 17, consistent lengths, I flag). */
const datagram = fc
  .tuple(fc.uint8Array({ minLength: 0, maxLength: 120 }), fc.boolean(), fc.integer({ min: -4, max: 4 }), fc.boolean())
  .map(([b, shaped, skew, flag]) => {
    if (!shaped || b.length < 36) return b;
    const ip = b.slice();
    ip[0] = 0x45;
    ip[9] = 17;
    ip[2] = ip.length >> 8;
    ip[3] = ip.length & 0xff;
    const udpLen = Math.max(0, ip.length - 20 + skew);
    ip[24] = udpLen >> 8;
    ip[25] = udpLen & 0xff;
    if (flag) ip[28]! |= 0x08;
    return ip;
  });

describe('VXLAN receive fast path', () => {
  it('vxlanVni accepts and rejects exactly what parseVxlan does, with the same VNI or reason', () => {
    fc.assert(
      fc.property(datagram, (ip) => {
        const v = parseVxlan(ip);
        expect(vxlanVni(ip)).toEqual(typeof v === 'string' ? v : v.vni);
      }),
      { numRuns: 2000 },
    );
  });

  it('vxlanInner is parseVxlan\'s inner frame, as a view into the packet (no copy)', () => {
    fc.assert(
      fc.property(datagram, (ip) => {
        const v = parseVxlan(ip);
        if (typeof v === 'string') return;
        const inner = vxlanInner(ip);
        expect(inner).toEqual(v.inner);
        expect(inner.buffer).toBe(ip.buffer);
        expect(inner.byteOffset).toBe(v.inner.byteOffset);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('VXLAN receive in place (offsets into the received frame)', () => {
  it('vxlanVniAt / vxlanInnerAt on a frame equal vxlanVni / vxlanInner on the datagram view', () => {
    fc.assert(
      fc.property(datagram, fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), (ip, head, tail) => {
        const f = new Uint8Array(head + ip.length + tail).fill(0xa5);
        f.set(ip, head);
        const want = vxlanVni(ip);
        expect(vxlanVniAt(f, head, head + ip.length)).toEqual(want);
        if (typeof want === 'string') return;
        const inner = vxlanInnerAt(f, head);
        expect(inner).toEqual(vxlanInner(ip));
        expect(inner.buffer).toBe(f.buffer);
      }),
      { numRuns: 2000 },
    );
  });
});
