/**
 * A subset of `qemu-io -c` commands over a BlockImage (qemu-io-cmds.c): pattern I/O that
 * verifies what it reads.
 *
 *   read  [-P PATTERN] OFFSET LENGTH     verify every byte equals PATTERN when -P is given
 *   write [-P PATTERN] [-z [-u]] OFFSET LENGTH   pattern defaults to 0xcd, -z writes zeroes
 *   discard OFFSET LENGTH                (alias: aio_discard)
 *   alloc OFFSET [LENGTH]                bytes allocated in the top image
 *   flush
 *
 * Numbers take qemu-io's forms: decimal, 0x hex, and k/M/G/T suffixes (binary). Output lines
 * match qemu-io's first line of each command; the timing line is left out so output is
 * deterministic. A failed pattern check prints qemu-io's message and makes the run fail (exit 1).
 */
import { UserError } from '../errors.js';
import type { Chain } from './chain.js';
import { ST_UNALLOC, type BlockImage } from './image.js';

export interface IoResult {
  failed: boolean;
  lines: string[];
}

const SUFFIX: Record<string, number> = { '': 1, b: 1, k: 1024, K: 1024, m: 1024 ** 2, M: 1024 ** 2, g: 1024 ** 3, G: 1024 ** 3, t: 1024 ** 4, T: 1024 ** 4 };

/** qemu-io cvtnum: `4096`, `0x1000`, `4k`, `1.5M`. */
export function parseIoNumber(text: string, what: string): number {
  const m = /^(0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?)([bkKmMgGtT]?)$/.exec(text);
  if (!m) throw new UserError('QEMU_IO_BAD_NUMBER', `invalid ${what} '${text}'`, { where: what });
  const base = m[1]!.startsWith('0x') ? Number.parseInt(m[1]!, 16) : Number(m[1]);
  const v = base * SUFFIX[m[2] ?? '']!;
  if (!Number.isSafeInteger(v)) throw new UserError('QEMU_IO_BAD_NUMBER', `invalid ${what} '${text}'`, { where: what });
  return v;
}

function parsePattern(text: string): number {
  const v = text.startsWith('0x') ? Number.parseInt(text.slice(2), 16) : Number.parseInt(text, 10);
  if (!Number.isInteger(v) || v < 0 || v > 255 || !/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(text)) {
    throw new UserError('QEMU_IO_BAD_PATTERN', `invalid pattern '${text}' (a byte: 0..255 or 0x00..0xff)`, { where: '-P' });
  }
  return v;
}

function human(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} bytes` : `${Number.isInteger(v) ? v : v.toFixed(3)} ${units[i]}`;
}

interface Parsed {
  name: string;
  flags: Map<string, string | true>;
  args: string[];
}

function tokenize(cmd: string): Parsed {
  const words = cmd.trim().split(/\s+/).filter((w) => w.length > 0);
  const name = words.shift() ?? '';
  const flags = new Map<string, string | true>();
  const args: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-P') {
      const v = words[++i];
      if (v === undefined) throw new UserError('QEMU_IO_BAD_COMMAND', `${name}: -P needs a pattern`, { where: cmd });
      flags.set('P', v);
    } else if (/^-[a-zA-Z]+$/.test(w)) {
      for (const ch of w.slice(1)) flags.set(ch, true);
    } else args.push(w);
  }
  return { name, flags, args };
}

function need(p: Parsed, n: number, usage: string): void {
  if (p.args.length < n || p.args.length > n + (p.name === 'alloc' ? 1 : 0)) {
    throw new UserError('QEMU_IO_BAD_COMMAND', `${p.name}: wrong number of arguments; usage: ${usage}`, { where: p.name });
  }
}

function checkFlags(p: Parsed, allowed: string): void {
  for (const f of p.flags.keys()) {
    if (!allowed.includes(f)) throw new UserError('QEMU_IO_BAD_COMMAND', `${p.name}: invalid option -- '${f}'`, { where: p.name });
  }
}

function range(image: BlockImage, offset: number, length: number, name: string): void {
  if (offset + length > image.virtualSize) {
    throw new UserError('QEMU_IO_OUT_OF_RANGE', `${name}: request [${offset}, ${offset + length}) is past the end of the ${image.virtualSize}-byte image`, { where: name });
  }
}

/** Runs qemu-io commands in order. User mistakes in a command throw UserError (exit 2). */
export function runIoCommands(image: BlockImage, commands: string[]): IoResult {
  const lines: string[] = [];
  let failed = false;
  for (const cmd of commands) {
    const p = tokenize(cmd);
    switch (p.name) {
      case 'read': {
        checkFlags(p, 'Pqv');
        need(p, 2, 'read [-P pattern] off len');
        const off = parseIoNumber(p.args[0]!, 'offset');
        const len = parseIoNumber(p.args[1]!, 'length');
        range(image, off, len, 'read');
        const buf = new Uint8Array(len);
        image.read(off, buf);
        const pat = p.flags.get('P');
        if (typeof pat === 'string') {
          const v = parsePattern(pat);
          if (buf.some((b) => b !== v)) {
            lines.push(`Pattern verification failed at offset ${off}, ${len} bytes`);
            failed = true;
          }
        }
        lines.push(`read ${len}/${len} bytes at offset ${off}`, `${human(len)}, 1 ops`);
        break;
      }
      case 'write': {
        checkFlags(p, 'Pzuq');
        need(p, 2, 'write [-P pattern] [-z [-u]] off len');
        const off = parseIoNumber(p.args[0]!, 'offset');
        const len = parseIoNumber(p.args[1]!, 'length');
        range(image, off, len, 'write');
        if (p.flags.has('z')) {
          if (p.flags.has('P')) throw new UserError('QEMU_IO_BAD_COMMAND', 'write: -P and -z cannot be specified at the same time', { where: 'write' });
          image.writeZeroes(off, len);
        } else {
          const pat = p.flags.get('P');
          image.write(off, new Uint8Array(len).fill(typeof pat === 'string' ? parsePattern(pat) : 0xcd));
        }
        lines.push(`wrote ${len}/${len} bytes at offset ${off}`, `${human(len)}, 1 ops`);
        break;
      }
      case 'discard':
      case 'aio_discard': {
        checkFlags(p, 'q');
        need(p, 2, 'discard off len');
        const off = parseIoNumber(p.args[0]!, 'offset');
        const len = parseIoNumber(p.args[1]!, 'length');
        range(image, off, len, 'discard');
        image.discard(off, len);
        lines.push(`discard ${len}/${len} bytes at offset ${off}`, `${human(len)}, 1 ops`);
        break;
      }
      case 'alloc': {
        checkFlags(p, '');
        need(p, 1, 'alloc off [len]');
        const off = parseIoNumber(p.args[0]!, 'offset');
        const len = p.args[1] !== undefined ? parseIoNumber(p.args[1], 'length') : 512;
        range(image, off, len, 'alloc');
        let allocated = 0;
        const chain = image as Partial<Chain>;
        if (chain.top) {
          let q = off;
          while (q < off + len) {
            const st = chain.top.status(q);
            const n = Math.max(1, Math.min(st.length, off + len - q));
            if (st.kind !== ST_UNALLOC) allocated += n;
            q += n;
          }
        } else allocated = len;
        lines.push(`${allocated}/${len} bytes allocated at offset ${human(off)}`);
        break;
      }
      case 'flush':
        image.flush();
        break;
      case '':
        break;
      default:
        throw new UserError('QEMU_IO_BAD_COMMAND', `command "${p.name}" not found (vfab disk io knows read, write, discard, alloc, flush)`, { where: cmd });
    }
  }
  return { failed, lines };
}
