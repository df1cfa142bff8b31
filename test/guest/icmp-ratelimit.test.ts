import { describe, expect, it } from 'vitest';
import { ICMP_RATELIMIT_NS, IcmpRateLimit } from '../../src/guest/icmp-ratelimit.js';

describe('ICMP error rate limit (Linux inet_peer_xrlim_allow)', () => {
  it('lets a new peer send a burst of 6, then one per icmp_ratelimit', () => {
    const l = new IcmpRateLimit();
    const t0 = 5_000_000_000;
    const burst = Array.from({ length: 10 }, () => l.allow(1, 3, t0));
    expect(burst.filter(Boolean)).toHaveLength(6);
    expect(l.allow(1, 3, t0 + ICMP_RATELIMIT_NS / 2)).toBe(false);
    expect(l.allow(1, 3, t0 + ICMP_RATELIMIT_NS)).toBe(true);
    expect(l.allow(1, 3, t0 + ICMP_RATELIMIT_NS)).toBe(false);
    // Another destination has its own bucket.
    expect(l.allow(2, 11, t0)).toBe(true);
  });

  it('does not limit types outside icmp_ratemask 0x1818 (echo reply)', () => {
    const l = new IcmpRateLimit();
    expect(Array.from({ length: 20 }, () => l.allow(1, 0, 0)).every(Boolean)).toBe(true);
  });
});
