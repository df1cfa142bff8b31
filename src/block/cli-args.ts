/** Helpers shared by the `vfab disk` commands: size parsing with qemu-img suffixes, -o lists. */
import { UserError, errorMessage } from '../errors.js';
import { parseSize } from '../util/units.js';

export function sizeArg(text: string, where: string): number {
  try {
    return parseSize(/^[0-9.]+[kKmMgGtT]$/.test(text) ? text.toUpperCase().replace(/^(.*)K$/, '$1k') : text);
  } catch (e) {
    throw new UserError('CLI_BAD_SIZE', `Invalid size '${text}': ${errorMessage(e)}`, { where });
  }
}

/** `-o cluster_size=64k,refcount_bits=16` (may be repeated). */
export function parseOptions(list: string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of list ?? []) {
    for (const kv of item.split(',')) {
      if (kv === '') continue;
      const i = kv.indexOf('=');
      if (i <= 0) throw new UserError('CLI_BAD_OPTION', `Invalid option '${kv}' (expected name=value)`, { where: '-o' });
      out.set(kv.slice(0, i), kv.slice(i + 1));
    }
  }
  return out;
}

export function humanSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${v} B`;
  return `${Number(v.toPrecision(3))} ${units[i]}`;
}

export function formatArg(f: string | undefined, where: string): 'qcow2' | 'raw' | undefined {
  if (f === undefined) return undefined;
  if (f !== 'qcow2' && f !== 'raw') throw new UserError('CLI_BAD_FORMAT', `Unknown file format '${f}' (vfab knows qcow2 and raw)`, { where });
  return f;
}

/**
 * A number option as QEMU reads it (util/qemu-option.c parse_option_number → cutils.c
 * qemu_strtou64, base 0): leading white space, an optional sign, decimal, 0x hex or 0 octal, and
 * nothing after it; a minus wraps around 2^64 as strtoull does. Anything else is
 * "Parameter 'NAME' expects a number"; past 2^64 - 1, "Value 'TEXT' is too large for parameter 'NAME'".
 */
export function qemuNumberOption(name: string, text: string): bigint {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) throw new UserError('CLI_BAD_OPTION', `Parameter '${name}' expects a number`, { where: `-o ${name}` });
  const digits = m[2]!;
  const v = /^0[0-7]+$/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  if (v >= 1n << 64n) throw new UserError('CLI_BAD_OPTION', `Value '${text}' is too large for parameter '${name}'`, { where: `-o ${name}` });
  return m[1] === '-' && v !== 0n ? (1n << 64n) - v : v;
}
