/**
 * TCP options as Linux writes and reads them (`net/ipv4/tcp_output.c: tcp_options_write`,
 * `tcp_input.c: tcp_parse_options`).
 *
 * Linux's SYN/SYN-ACK order, which the Linux oracle test checks byte for byte:
 *   MSS(4) · [SACK_PERM(2) TS(10)] or [NOP NOP TS(10)] · [NOP WSCALE(3)] · [NOP NOP SACK_PERM] (no TS)
 * so a default Linux SYN is `02 04 05b4 04 02 08 0a <val> <ecr> 01 03 03 07` (20 bytes).
 * Data and ACK segments carry `NOP NOP TS` (12 bytes) and, when there are out-of-order blocks,
 * `NOP NOP SACK(2 + 8n)` after it (n <= 3 with timestamps, 4 without).
 *
 * The parser fills one reused record (no allocation per segment); SACK blocks are kept as wire
 * sequence numbers. Malformed options (length < 2 or running past the header) end parsing, as
 * Linux does, keeping what was read before.
 */

export const OPT_EOL = 0;
export const OPT_NOP = 1;
export const OPT_MSS = 2;
export const OPT_WSCALE = 3;
export const OPT_SACK_PERM = 4;
export const OPT_SACK = 5;
export const OPT_TS = 8;

export interface ParsedOptions {
  mss: number;
  /** -1 when absent. */
  wscale: number;
  sackPerm: boolean;
  hasTs: boolean;
  tsVal: number;
  tsEcr: number;
  /** Number of SACK blocks in `sack` (pairs of left, right wire sequence numbers). */
  sackCount: number;
  sack: number[];
}

export function newParsedOptions(): ParsedOptions {
  return { mss: 0, wscale: -1, sackPerm: false, hasTs: false, tsVal: 0, tsEcr: 0, sackCount: 0, sack: [0, 0, 0, 0, 0, 0, 0, 0] };
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Parses options in `b[start, end)` into `out` (reset first). `syn` enables SYN-only options. */
export function parseOptions(b: Uint8Array, start: number, end: number, syn: boolean, out: ParsedOptions): ParsedOptions {
  out.mss = 0;
  out.wscale = -1;
  out.sackPerm = false;
  out.hasTs = false;
  out.sackCount = 0;
  let i = start;
  while (i < end) {
    const kind = b[i]!;
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) break;
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) break;
    switch (kind) {
      case OPT_MSS:
        if (len === 4 && syn) out.mss = (b[i + 2]! << 8) | b[i + 3]!;
        break;
      case OPT_WSCALE:
        // RFC 7323 §2.3: a shift above 14 is used as 14 (Linux logs and clamps).
        if (len === 3 && syn) out.wscale = Math.min(b[i + 2]!, 14);
        break;
      case OPT_SACK_PERM:
        if (len === 2 && syn) out.sackPerm = true;
        break;
      case OPT_TS:
        if (len === 10) {
          out.hasTs = true;
          out.tsVal = u32(b, i + 2);
          out.tsEcr = u32(b, i + 6);
        }
        break;
      case OPT_SACK:
        if (!syn && len >= 10 && (len - 2) % 8 === 0) {
          const n = Math.min((len - 2) / 8, 4);
          for (let k = 0; k < n; k++) {
            out.sack[2 * k] = u32(b, i + 2 + 8 * k);
            out.sack[2 * k + 1] = u32(b, i + 6 + 8 * k);
          }
          out.sackCount = n;
        }
        break;
      default:
        break;
    }
    i += len;
  }
  return out;
}

export interface SynOptions {
  mss: number;
  sackPerm: boolean;
  /** Null: no timestamps. */
  ts: { val: number; ecr: number } | null;
  /** Null: no window scale option. */
  wscale: number | null;
}

/** Length in bytes of the SYN options (a multiple of 4). */
export function synOptionsLen(o: SynOptions): number {
  let n = 4;
  if (o.ts) n += 12;
  if (o.wscale !== null) n += 4;
  if (o.sackPerm && !o.ts) n += 4;
  return n;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Writes SYN options at `b[o]` in Linux's order; returns the length written. */
export function writeSynOptions(b: Uint8Array, o: number, opt: SynOptions): number {
  const s = o;
  b[o++] = OPT_MSS;
  b[o++] = 4;
  b[o++] = opt.mss >>> 8;
  b[o++] = opt.mss & 0xff;
  if (opt.ts) {
    if (opt.sackPerm) {
      b[o++] = OPT_SACK_PERM;
      b[o++] = 2;
    } else {
      b[o++] = OPT_NOP;
      b[o++] = OPT_NOP;
    }
    b[o++] = OPT_TS;
    b[o++] = 10;
    put32(b, o, opt.ts.val);
    put32(b, o + 4, opt.ts.ecr);
    o += 8;
  }
  if (opt.wscale !== null) {
    b[o++] = OPT_NOP;
    b[o++] = OPT_WSCALE;
    b[o++] = 3;
    b[o++] = opt.wscale;
  }
  if (opt.sackPerm && !opt.ts) {
    b[o++] = OPT_NOP;
    b[o++] = OPT_NOP;
    b[o++] = OPT_SACK_PERM;
    b[o++] = 2;
  }
  return o - s;
}

/** Length of the options on a non-SYN segment: timestamps and `sackBlocks` SACK blocks. */
export function segOptionsLen(ts: boolean, sackBlocks: number): number {
  return (ts ? 12 : 0) + (sackBlocks > 0 ? 4 + 8 * sackBlocks : 0);
}

/** Writes `NOP NOP TS` and `NOP NOP SACK` (blocks as wire sequence pairs). Returns the length. */
export function writeSegOptions(b: Uint8Array, o: number, ts: boolean, tsVal: number, tsEcr: number, sack: readonly number[], sackBlocks: number): number {
  const s = o;
  if (ts) {
    b[o++] = OPT_NOP;
    b[o++] = OPT_NOP;
    b[o++] = OPT_TS;
    b[o++] = 10;
    put32(b, o, tsVal);
    put32(b, o + 4, tsEcr);
    o += 8;
  }
  if (sackBlocks > 0) {
    b[o++] = OPT_NOP;
    b[o++] = OPT_NOP;
    b[o++] = OPT_SACK;
    b[o++] = 2 + 8 * sackBlocks;
    for (let k = 0; k < sackBlocks; k++) {
      put32(b, o, sack[2 * k]! >>> 0);
      put32(b, o + 4, sack[2 * k + 1]! >>> 0);
      o += 8;
    }
  }
  return o - s;
}
