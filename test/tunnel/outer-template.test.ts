/**
 * The precomputed outer-header template (src/tunnel/outer-template.ts) builds the same bytes as
 * the reference encoders `encapVxlan` / `encapGeneve` (property test over every variable field).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OuterTemplate } from '../../src/tunnel/outer-template.js';
import { encapGeneve } from '../../src/wire/geneve.js';
import { encapVxlan } from '../../src/wire/vxlan.js';

describe('OuterTemplate', () => {
  it('equals encapVxlan / encapGeneve byte for byte (property)', () => {
    const mac = fc.integer({ min: 0, max: 2 ** 48 - 1 });
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const u16 = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(mac, mac, u32, u32, u16, u16, u16, fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), fc.boolean(), fc.boolean(), fc.uint8Array({ minLength: 14, maxLength: 200 }),
        (srcMac, dstMac, srcIp, dstIp, ident, srcPort, dstPort, vni, tos, ttl, dontFrag, csum, geneve, inner) => {
          const t = new OuterTemplate({ srcMac, srcIp, dstPort, tos, ttl, dontFrag, csum }, geneve);
          const o = { srcMac, dstMac, srcIp, dstIp, srcPort, dstPort, tos, ttl, ident, dontFrag, csum };
          const want = geneve ? encapGeneve(o, vni, inner) : encapVxlan(o, vni, inner);
          expect([...t.build(dstMac, dstIp, ident, srcPort, vni, inner)]).toEqual([...want]);
        }),
      { numRuns: 500 },
    );
  });
});
