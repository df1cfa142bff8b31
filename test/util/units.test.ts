import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatSize, parseDuration, parseRate, parseSize, UnitError } from '../../src/util/units.js';

describe('units', () => {
  it('parses durations into integer nanoseconds', () => {
    expect(parseDuration('20us')).toBe(20_000);
    expect(parseDuration('1.5ms')).toBe(1_500_000);
    expect(parseDuration('10s')).toBe(10_000_000_000);
    expect(parseDuration('2m')).toBe(120_000_000_000);
    expect(parseDuration('500ns')).toBe(500);
  });

  it('requires a unit on durations and rates', () => {
    expect(() => parseDuration(20)).toThrow(UnitError);
    expect(() => parseDuration('20')).toThrow(/not a duration/);
    expect(() => parseRate(100)).toThrow(/needs a unit/);
  });

  it('parses bit rates with decimal prefixes', () => {
    expect(parseRate('10Gbit')).toBe(10e9);
    expect(parseRate('100Mbit')).toBe(100e6);
    expect(parseRate('1.5kbit')).toBe(1500);
    expect(() => parseRate('10Gbt')).toThrow(/not a bit rate/);
  });

  it('parses sizes like qemu-img (binary k/M/G) and explicit SI/IEC units', () => {
    expect(parseSize('64k')).toBe(65536);
    expect(parseSize('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseSize('1G')).toBe(1024 ** 3);
    expect(parseSize('1GB')).toBe(1e9);
    expect(parseSize(4096)).toBe(4096);
    expect(() => parseSize('1.5')).toThrow(/whole number/);
    expect(() => parseSize('12 parsecs')).toThrow(/not a size/);
  });

  it('never throws anything but UnitError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        for (const f of [parseDuration, parseRate, parseSize]) {
          try {
            const v = f(s);
            expect(Number.isFinite(v)).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(UnitError);
          }
        }
      }),
    );
  });

  it('formats sizes for humans', () => {
    expect(formatSize(512)).toBe('512 B');
    expect(formatSize(65536)).toBe('64 KiB');
    expect(formatSize(1.5 * 1024 ** 3)).toBe('1.5 GiB');
  });
});
