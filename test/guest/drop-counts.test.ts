import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropCounts } from '../../src/guest/drop-counts.js';
import { errorAllowed, errorAllowedAt } from '../../src/wire/icmp-error.js';

describe('DropCounts', () => {
  it('equals a string-keyed record over long drop sequences, keys in first-drop order', () => {
    const reason = fc.constantFrom('udp-no-port', 'icmp-ratelimited', 'bad-arp', 'not-for-us', 'mtu', 'x');
    fc.assert(
      fc.property(fc.array(fc.tuple(reason, fc.integer({ min: 0, max: 3 })), { size: 'max', maxLength: 3000 }), (drops) => {
        const dc = new DropCounts(['udp-no-port', 'icmp-ratelimited']);
        const ref: Record<string, number> = {};
        for (const [r, n] of drops) {
          dc.add(dc.slot(r), n);
          ref[r] = (ref[r] ?? 0) + n;
        }
        expect(Object.entries(dc.record())).toEqual(Object.entries(ref));
      }),
      { numRuns: 300 },
    );
  });
});

describe('errorAllowedAt', () => {
  it('answers as errorAllowed on the same bytes cut out', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(), fc.nat(), (b, s, e) => {
        const start = b.length === 0 ? 0 : s % (b.length + 1);
        const end = start + (e % (b.length - start + 1));
        expect(errorAllowedAt(b, start, end)).toBe(errorAllowed(b.slice(start, end)));
      }),
      { numRuns: 3000 },
    );
  });
});
