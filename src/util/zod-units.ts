/**
 * zod types for unit-bearing fields. They accept the string forms of `units.ts` and output plain
 * numbers (ns, bits/s, bytes); a malformed value becomes a zod issue, so it is reported at the
 * field's `file:line:col` like any other schema error. The JSON Schema export sees their input
 * form (a string with a pattern), which is what an editor should autocomplete.
 */
import { z } from 'zod';
import { parseDuration, parseRate, parseSize, unitMessage } from './units.js';

function unitType(parse: (v: string | number) => number, pattern: string, description: string) {
  return z
    .union([z.string().regex(new RegExp(pattern), { error: description }), z.number()])
    .transform((v, ctx) => {
      try {
        return parse(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: unitMessage(e) });
        return z.NEVER;
      }
    })
    .describe(description);
}

const NUM = '^\\s*[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?\\s*';
/** Duration such as `20us`, `1.5ms`, `10s` → integer nanoseconds. */
export const zDuration = () => unitType(parseDuration, `${NUM}(ns|us|µs|ms|s|m|h)\\s*$`, 'a duration with a unit: ns, us, ms, s, m, h (e.g. "20us")');
/** Bit rate such as `10Gbit` → bits per second. */
export const zRate = () => unitType(parseRate, `${NUM}([kKmMgGtT]?(bit|bps))\\s*$`, 'a bit rate with a unit: bit, kbit, Mbit, Gbit (e.g. "10Gbit")');
/** Size such as `2GiB`, `64k`, or a number of bytes → bytes. */
export const zSize = () => unitType(parseSize, `${NUM}(B|k|K|M|G|T|P|KiB|kiB|MiB|GiB|TiB|PiB|KB|kB|MB|GB|TB|PB)?\\s*$`, 'a size: bytes, or a number with k/M/G/T (binary) or KiB/MiB/GiB, KB/MB/GB (e.g. "2GiB")');
