import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatBitRate, formatBytesBinary, formatDuration, niceByteTicks, niceTicks } from '../../src/util/axis.js';

/** True when `step` is 1, 2 or 5 times a power of ten (within float noise). */
function is125(step: number): boolean {
  const p = 10 ** Math.floor(Math.log10(step) + 1e-9);
  const m = Math.round((step / p) * 1e6) / 1e6;
  return m === 1 || m === 2 || m === 5 || m === 10;
}

describe('axis ticks', () => {
  it('steps by 1, 2 or 5 × 10ⁿ and covers the range with a handful of ticks', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true, noDefaultInfinity: true }), fc.double({ min: 1e-3, max: 1e9, noNaN: true }), (lo, span) => {
        const hi = lo + span;
        fc.pre(hi > lo && span >= Math.abs(lo) * 1e-6); // (an axis shows its span to ~6 digits)
        const t = niceTicks(lo, hi, 5);
        expect(is125(t.step)).toBe(true);
        expect(t.lo).toBeLessThanOrEqual(lo + t.step * 1e-6);
        expect(t.hi).toBeGreaterThanOrEqual(hi - t.step * 1e-6);
        expect(t.ticks.length).toBeGreaterThanOrEqual(2);
        expect(t.ticks.length).toBeLessThanOrEqual(12);
        for (const v of t.ticks) expect(Math.abs(v / t.step - Math.round(v / t.step))).toBeLessThan(1e-6);
      }),
    );
  });

  it('gives 0, 20 … 100 for a percent axis and 0, 1k … 4k for 3,300 IOPS', () => {
    expect(niceTicks(0, 100, 5).ticks).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 3300, 5).ticks).toEqual([0, 1000, 2000, 3000, 4000]);
  });

  it('takes byte ticks in the binary unit of the axis top', () => {
    const t = niceByteTicks(0, 300 * 2 ** 20, 5);
    expect(t.ticks.map(formatBytesBinary)).toEqual(['0 B', '100 MiB', '200 MiB', '300 MiB']);
  });
});

describe('unit labels', () => {
  it('writes bytes with IEC binary prefixes', () => {
    expect(formatBytesBinary(300 * 1024 * 1024)).toBe('300 MiB');
    expect(formatBytesBinary(1.5 * 2 ** 30)).toBe('1.5 GiB');
    expect(formatBytesBinary(512)).toBe('512 B');
    expect(formatBytesBinary(4096)).toBe('4 KiB');
  });
  it('writes rates and durations with SI prefixes', () => {
    expect(formatBitRate(10e9)).toBe('10 Gbit/s');
    expect(formatBitRate(2.5e6)).toBe('2.5 Mbit/s');
    expect(formatDuration(20_000)).toBe('20 µs');
    expect(formatDuration(151_115_728)).toBe('151 ms');
  });
});
