/**
 * A subset of `qemu-io -c` commands over a BlockImage (qemu-io-cmds.c): pattern I/O that
 * verifies what it reads.
 *
 *   read  [-P PATTERN] [-v] [-q] OFFSET LENGTH   verify every byte equals PATTERN when -P is given
 *   write [-P PATTERN] [-z [-u]] [-q] OFFSET LENGTH   pattern defaults to 0xcd, -z writes zeroes
 *   readv [-P PATTERN] [-v] [-q] OFFSET LENGTH [LENGTH …]   one request of the summed lengths
 *   writev [-P PATTERN] [-q] OFFSET LENGTH [LENGTH …]
 *   aio_read, aio_write, aio_flush       as read/write/flush (vfab completes them at once; an
 *                                        aio_read pattern mismatch is printed, not an error, as
 *                                        qemu-io's callback does)
 *   discard OFFSET LENGTH                (alias: aio_discard)
 *   alloc OFFSET [LENGTH]                bytes allocated in the top image
 *   map                                  allocated / not allocated runs of the top image
 *   length, info                         the virtual size; format, cluster size, vm state offset
 *   flush
 *
 * Numbers take qemu-io's forms: decimal, 0x hex, and k/M/G/T suffixes (binary). Output lines
 * match qemu-io's first line of each command; the timing line is left out so output is
 * deterministic. A failed pattern check prints qemu-io's message and makes the run fail (exit 1).
 */
import { UserError } from '../errors.js';
import type { Chain } from './chain.js';
import { ST_UNALLOC, type BlockImage } from './image.js';
import { Qcow2Image } from './qcow2/image.js';
import { COMPAT_LAZY_REFCOUNTS, INCOMPAT_CORRUPT } from './qcow2/header.js';

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
  return i === 0 ? `${v} bytes` : `${Number.isInteger(v) ? v : fixed3(v)} ${units[i]}`;
}

/** printf("%.3f"): glibc rounds an exact tie to even (1.0625 -> 1.062), toFixed rounds it up. */
function fixed3(v: number): string {
  const scaled = v * 1000;
  const floor = Math.floor(scaled);
  if (scaled - floor === 0.5) return ((floor % 2 === 0 ? floor : floor + 1) / 1000).toFixed(3);
  return v.toFixed(3);
}

interface Parsed {
  name: string;
  flags: Map<string, string | true>;
  args: string[];
}

/** qemu-io-cmds.c dump_buffer (-v): 16 bytes a line, alphanumerics shown, the rest as dots. */
function dump(buf: Uint8Array, offset: number, lines: string[]): void {
  for (let i = 0; i < buf.length; i += 16) {
    const row = buf.subarray(i, Math.min(i + 16, buf.length));
    const hex = Array.from(row, (b) => `${b.toString(16).padStart(2, '0')} `).join('');
    const text = Array.from(row, (b) => (/^[0-9A-Za-z]$/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${(offset + i).toString(16).padStart(8, '0')}:  ${hex} ${text}`);
  }
}

/** qcow2_vm_state_offset: the VM state lives past the last L1 entry's reach. */
function vmStateOffset(top: Qcow2Image): number {
  return top.header.l1Size > 0 ? Math.ceil(top.virtualSize / (top.cs * top.l2Entries)) * top.cs * top.l2Entries : 0;
}

/** qemu-io info_f: bdrv_get_info and the format-specific lines (block/qapi.c dump, no bitmaps). */
function infoLines(image: BlockImage): string[] {
  const top = (image as Partial<Chain>).top;
  if (!(top instanceof Qcow2Image)) return [`format name: ${image.format}`, 'cluster size: 0 bytes', 'vm state offset: 0 bytes'];
  const h = top.header;
  return [
    'format name: qcow2',
    `cluster size: ${human(top.cs)}`,
    `vm state offset: ${human(vmStateOffset(top))}`,
    'Format specific information:',
    `    compat: ${h.version === 3 ? '1.1' : '0.10'}`,
    `    compression type: ${h.compressionType === 1 ? 'zstd' : 'zlib'}`,
    `    lazy refcounts: ${(h.compatibleFeatures & COMPAT_LAZY_REFCOUNTS) !== 0}`,
    `    refcount bits: ${2 ** h.refcountOrder}`,
    ...(h.dataFile !== undefined ? [`    data file: ${h.dataFile}`] : []),
    ...(top.hasDataFile ? [`    data file raw: ${top.dataRaw}`] : []),
    `    corrupt: ${(h.incompatibleFeatures & INCOMPAT_CORRUPT) !== 0}`,
    `    extended l2: ${top.extL2}`,
  ];
}

/** qemu-io map_f: runs of the top image that are allocated (data or zero) or not, merged. */
function mapLines(image: BlockImage): string[] {
  const top = (image as Partial<Chain>).top;
  const size = image.virtualSize;
  const out: string[] = [];
  let start = 0;
  let cur: boolean | undefined;
  const emit = (end: number): void => {
    if (cur === undefined || end <= start) return;
    out.push(`${human(end - start)} (0x${(end - start).toString(16)}) bytes ${cur ? '    allocated' : 'not allocated'} at offset ${human(start)} (0x${start.toString(16)})`);
  };
  let q = 0;
  while (q < size) {
    const st = top ? top.status(q) : { kind: 2, length: size - q };
    const n = Math.max(1, Math.min(st.length, size - q));
    const alloc = st.kind !== ST_UNALLOC;
    if (alloc !== cur) {
      emit(q);
      start = q;
      cur = alloc;
    }
    q += n;
  }
  emit(size);
  return out;
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
  const vector = p.name === 'readv' || p.name === 'writev';
  if (p.args.length < n || (!vector && p.args.length > n + (p.name === 'alloc' ? 1 : 0))) {
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
      case 'read':
      case 'aio_read':
      case 'readv': {
        checkFlags(p, 'Pqv');
        const vector = p.name === 'readv';
        need(p, 2, `${p.name} [-P pattern] [-v] [-q] off len${vector ? ' [len...]' : ''}`);
        const off = parseIoNumber(p.args[0]!, 'offset');
        const len = p.args.slice(1).reduce((a, t) => a + parseIoNumber(t, 'length'), 0);
        range(image, off, len, p.name);
        const buf = new Uint8Array(len);
        image.read(off, buf);
        const out: string[] = [];
        const pat = p.flags.get('P');
        if (typeof pat === 'string') {
          const v = parsePattern(pat);
          if (buf.some((b) => b !== v)) {
            out.push(`Pattern verification failed at offset ${off}, ${len} bytes`);
            // aio_read checks in its completion callback: printed, the command still succeeds.
            if (p.name !== 'aio_read') failed = true;
          }
        }
        // qemu-io-cmds.c read_f: -q skips the dump and the report, not the pattern message.
        if (!p.flags.has('q')) {
          if (p.flags.has('v')) dump(buf, off, out);
          out.push(`read ${len}/${len} bytes at offset ${off}`, `${human(len)}, 1 ops`);
        }
        lines.push(...out);
        break;
      }
      case 'write':
      case 'aio_write':
      case 'writev': {
        const vector = p.name === 'writev';
        checkFlags(p, vector ? 'Pq' : 'Pzuq');
        need(p, 2, `${p.name} [-P pattern]${vector ? '' : ' [-z [-u]]'} off len${vector ? ' [len...]' : ''}`);
        const off = parseIoNumber(p.args[0]!, 'offset');
        const len = p.args.slice(1).reduce((a, t) => a + parseIoNumber(t, 'length'), 0);
        range(image, off, len, p.name);
        if (p.flags.has('z')) {
          if (p.flags.has('P')) throw new UserError('QEMU_IO_BAD_COMMAND', `${p.name}: -P and -z cannot be specified at the same time`, { where: p.name });
          // qemu-io-cmds.c write_f: -u adds BDRV_REQ_MAY_UNMAP; without it clusters stay allocated.
          image.writeZeroes(off, len, { unmap: p.flags.has('u') });
        } else {
          const pat = p.flags.get('P');
          image.write(off, new Uint8Array(len).fill(typeof pat === 'string' ? parsePattern(pat) : 0xcd));
        }
        if (!p.flags.has('q')) lines.push(`wrote ${len}/${len} bytes at offset ${off}`, `${human(len)}, 1 ops`);
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
      case 'aio_flush':
        image.flush();
        break;
      case 'length':
        checkFlags(p, '');
        lines.push(human(image.virtualSize));
        break;
      case 'info':
        checkFlags(p, '');
        lines.push(...infoLines(image));
        break;
      case 'map':
        checkFlags(p, '');
        lines.push(...mapLines(image));
        break;
      case '':
        break;
      default:
        throw new UserError('QEMU_IO_BAD_COMMAND', `command "${p.name}" not found (vfab disk io knows read, write, readv, writev, aio_read, aio_write, aio_flush, discard, alloc, map, length, info, flush)`, { where: cmd });
    }
  }
  return { failed, lines };
}
