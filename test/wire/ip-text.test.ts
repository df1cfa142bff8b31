/**
 * The hand-written address text parsers in src/wire/ip.ts (written so the CLI need not load
 * ip-num at start) give ip-num's verdicts and values: ip-num is the oracle here.
 */
import fc from 'fast-check';
import { IPv4, IPv6, Validator } from 'ip-num';
import { describe, expect, it } from 'vitest';
import { formatIpv6, parseIpv4, parseIpv6 } from '../../src/wire/ip.js';

function ours<T>(f: () => T): T | 'invalid' {
  try {
    return f();
  } catch {
    return 'invalid';
  }
}

function ipnum6(t: string): number[] | 'invalid' {
  let ok = false;
  try {
    [ok] = Validator.isValidIPv6String(t);
  } catch {
    ok = false;
  }
  if (!ok) return 'invalid';
  const v = IPv6.fromString(t).value;
  const M = 0xffff_ffffn;
  return [Number((v >> 96n) & M), Number((v >> 64n) & M), Number((v >> 32n) & M), Number(v & M)];
}

function ipnum4(t: string): number | 'invalid' {
  const [ok] = Validator.isValidIPv4String(t);
  // vfab also insists on plain dotted-quad digits (ip-num accepts some other spellings).
  if (!ok || !/^\d{1,3}(\.\d{1,3}){3}$/.test(t)) return 'invalid';
  return Number(IPv4.fromDecimalDottedString(t).value);
}

const hexGroup = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
/** Strings that look like addresses: groups, colons, dots, digits, with random damage. */
const ipv6ish = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { minLength: 4, maxLength: 4 }).map((w) => formatIpv6(w)),
  fc.array(hexGroup, { minLength: 8, maxLength: 8 }).map((g) => g.join(':')),
  fc.tuple(fc.array(hexGroup, { maxLength: 8 }), fc.array(hexGroup, { maxLength: 8 })).map(([a, b]) => `${a.join(':')}::${b.join(':')}`),
  fc.tuple(fc.array(hexGroup, { maxLength: 6 }), fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 4, maxLength: 4 })).map(([a, q]) => `${a.join(':')}::${q.join('.')}`),
  fc.stringMatching(/^[0-9a-fA-Fg:.]{0,20}$/),
);
const ipv4ish = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 4, maxLength: 4 }).map((q) => q.join('.')),
  fc.stringMatching(/^[0-9.]{0,16}$/),
);

describe('address text parsing agrees with ip-num', () => {
  it('IPv6: same verdict and same 128-bit value', () => {
    fc.assert(fc.property(ipv6ish, (t) => {
      expect(ours(() => parseIpv6(t))).toEqual(ipnum6(t));
    }), { numRuns: 3000 });
  });
  it('IPv4: octets with a leading zero are refused (found by the property: "0.0.0.00")', () => {
    for (const t of ['0.0.0.00', '01.2.3.4', '1.2.3.010']) expect(ours(() => parseIpv4(t))).toBe('invalid');
    expect(ours(() => parseIpv4('10.0.0.0'))).toBe(0x0a00_0000);
  });
  it('IPv6: the RFC 4291 §2.2 examples', () => {
    for (const t of ['2001:DB8:0:0:8:800:200C:417A', 'FF01::101', '::1', '::', '::13.1.68.3', '::FFFF:129.144.52.38', '1::', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8']) {
      expect(ours(() => parseIpv6(t))).toEqual(ipnum6(t));
    }
    for (const t of ['1:2:3:4:5:6:7:8:9', '1::2::3', ':1:2:3:4:5:6:7', '12345::', 'g::', '1:2:3:4:5:6:7:8::', '']) {
      expect(ours(() => parseIpv6(t))).toBe('invalid');
    }
  });
  it('IPv4: same verdict and same value', () => {
    fc.assert(fc.property(ipv4ish, (t) => {
      expect(ours(() => parseIpv4(t))).toEqual(ipnum4(t));
    }), { numRuns: 3000 });
  });
});
