/**
 * OpenFlow 1.3 meters: `ovs-ofctl add-meter(s)` syntax (lib/ofp-meter.c
 * `parse_ofp_meter_mod_str__`), `dump-meters` text (`ofputil_format_meter_config`), and the rate
 * limiter of OVS's userspace datapath (lib/dpif-netdev.c `dpif_netdev_meter_set`,
 * `dp_netdev_run_meter`), run in virtual time.
 *
 * The datapath model, kept exactly:
 * - each band is a token bucket of `burst_size × 1000` units (bits for kbps, 1/1000 packets for
 *   pktps), full when the meter is created; `burst_size` 0 means `rate`;
 * - time advances in whole milliseconds (`now/1000 - used/1000` on microsecond clocks), capped so
 *   a bucket never overflows; each band then gains `Δms × rate` units;
 * - a packet takes `bytes × 8` (kbps) or 1000 (pktps) units from every band that has them; a band
 *   without enough tokens is exceeded and keeps its tokens; the packet is dropped when any band is
 *   exceeded, and counted on the exceeded band with the highest rate;
 * - only `drop` bands are executable: a `dscp_remark` band is refused when the meter is added, as
 *   the userspace datapath does (ENODEV → OFPMMFC_BAD_BAND).
 */
import { UserError } from '../errors.js';
import { Ctx, type ParseOptions } from './flow-syntax.js';
import { preprocessedLines, strToUintBase10 } from './ovs-lex.js';

export const OFPM13_MAX = 0xffff0000;
/** Most meters per bridge (dpif-netdev's MAX_METERS is 262144; vfab keeps a smaller bound). */
export const MAX_METERS = 65_536;
/** Bands per meter (dpif-netdev MAX_BANDS). */
export const MAX_BANDS = 8;

export interface MeterBand {
  type: 'drop' | 'dscp_remark';
  rate: number;
  burstSize: number;
  precLevel: number;
}

export interface ParsedMeterMod {
  command: 'add' | 'modify' | 'delete';
  id: number;
  kbps: boolean;
  pktps: boolean;
  burst: boolean;
  stats: boolean;
  bands: MeterBand[];
  location: { file: string; line: number; col: number };
}

/** Parses an `ovs-ofctl add-meters` file (one meter per line). */
export function parseMeters(text: string, opts: ParseOptions = {}): ParsedMeterMod[] {
  const out: ParsedMeterMod[] = [];
  for (const [n, line] of preprocessedLines(text)) {
    const ctx = new Ctx(opts.file ?? '<meters>', (opts.line ?? 1) + n - 1, (opts.col ?? 1) - 1);
    if (out.length >= MAX_METERS) throw ctx.err('METER_TOO_MANY', 0, `more than ${MAX_METERS} meters (vfab's limit per bridge)`);
    out.push(parseMeterLine('add', line, ctx));
  }
  return out;
}

export function parseMeterMod(command: 'add' | 'modify' | 'delete', text: string, opts: ParseOptions = {}): ParsedMeterMod {
  return parseMeterLine(command, text, new Ctx(opts.file ?? '<meter_mod>', opts.line ?? 1, (opts.col ?? 1) - 1));
}

/** C `strtok_r` over `s` from `from`: the next token and where it starts, or null. */
function strtok(s: string, pos: { i: number }, delims: string): { tok: string; at: number } | null {
  while (pos.i < s.length && delims.includes(s[pos.i]!)) pos.i++;
  if (pos.i >= s.length) return null;
  const at = pos.i;
  while (pos.i < s.length && !delims.includes(s[pos.i]!)) pos.i++;
  const tok = s.slice(at, pos.i);
  if (pos.i < s.length) pos.i++; // strtok_r consumes the one delimiter that ended the token
  return { tok, at };
}

function parseMeterLine(command: 'add' | 'modify' | 'delete', line: string, ctx: Ctx): ParsedMeterMod {
  const withBands = command !== 'delete';
  const mm: ParsedMeterMod = { command, id: 0, kbps: false, pktps: false, burst: false, stats: false, bands: [], location: ctx.loc(line.length - line.trimStart().length) };
  let head = line;
  let bandStr: string | null = null;
  let bandAt = 0;
  if (withBands) {
    // strstr(string, "band"): the first "band" anywhere, then everything after its next '='.
    const b = line.indexOf('band');
    if (b < 0) throw ctx.err('METER_SYNTAX', 0, 'must specify bands');
    const eq = line.indexOf('=', b + 1);
    if (eq < 0) throw ctx.err('METER_SYNTAX', b, 'must specify bands');
    head = line.slice(0, b);
    bandStr = line.slice(eq + 1);
    bandAt = eq + 1;
  }
  const pos = { i: 0 };
  for (let t = strtok(head, pos, '=, \t\r\n'); t; t = strtok(head, pos, '=, \t\r\n')) {
    const name = t.tok;
    if (withBands && name === 'kbps') mm.kbps = true;
    else if (withBands && name === 'pktps') mm.pktps = true;
    else if (withBands && name === 'burst') mm.burst = true;
    else if (withBands && name === 'stats') mm.stats = true;
    else {
      const v = strtok(head, pos, ', \t\r\n');
      if (!v) throw ctx.err('METER_SYNTAX', t.at, `field ${name} missing value`);
      if (name !== 'meter') throw ctx.err('METER_SYNTAX', t.at, `unknown keyword ${name}`);
      if (v.tok === 'all' || v.tok === 'controller' || v.tok === 'slowpath') {
        throw ctx.err('METER_UNSUPPORTED', v.at, `meter=${v.tok}: vfab models numbered meters only`);
      }
      const id = strToUintBase10(v.tok);
      if (id === null) throw ctx.err('METER_BAD_VALUE', v.at, `invalid numeric format ${v.tok}`);
      if (id > OFPM13_MAX || id === 0) throw ctx.err('METER_BAD_VALUE', v.at, `invalid value for ${name}`);
      mm.id = id;
    }
  }
  if (mm.id === 0) throw ctx.err('METER_SYNTAX', 0, "must specify 'meter'");
  if (!withBands || bandStr === null) return mm;
  if (!mm.kbps && !mm.pktps) throw ctx.err('METER_SYNTAX', 0, "meter must specify either 'kbps' or 'pktps'");
  const bpos = { i: 0 };
  let band: MeterBand | null = null;
  for (let t = strtok(bandStr, bpos, '=, \t\r\n'); t; t = strtok(bandStr, bpos, '=, \t\r\n')) {
    const v = strtok(bandStr, bpos, ', \t\r\n');
    if (!v) throw ctx.err('METER_SYNTAX', bandAt + t.at, `field ${t.tok} missing value`);
    const num = (max: number): number => {
      const x = strToUintBase10(v.tok);
      if (x === null || x > max) throw ctx.err('METER_BAD_VALUE', bandAt + v.at, `invalid numeric format ${v.tok}`);
      return x;
    };
    if (t.tok === 'type') {
      if (v.tok !== 'drop' && v.tok !== 'dscp_remark') throw ctx.err('METER_BAD_VALUE', bandAt + v.at, `field ${t.tok} unknown value ${v.tok}`);
      band = { type: v.tok, rate: 0, burstSize: 0, precLevel: 0 };
      mm.bands.push(band);
    } else if (band === null) throw ctx.err('METER_SYNTAX', bandAt + t.at, "band must start with the 'type' keyword");
    else if (t.tok === 'rate') band.rate = num(0xffffffff);
    else if (t.tok === 'burst_size') band.burstSize = num(0xffffffff);
    else if (t.tok === 'prec_level') band.precLevel = num(255);
    else throw ctx.err('METER_SYNTAX', bandAt + t.at, `unknown keyword ${t.tok}`);
  }
  if (mm.bands.length === 0) throw ctx.err('METER_SYNTAX', bandAt, 'meter must have bands');
  for (const b of mm.bands) {
    if (b.type === 'dscp_remark' && b.precLevel === 0) throw ctx.err('METER_SYNTAX', bandAt, "'dscp_remark' band must have 'prec_level'");
    if (b.type !== 'dscp_remark' && b.precLevel !== 0) throw ctx.err('METER_SYNTAX', bandAt, "Only 'dscp_remark' band may have 'prec_level'");
    if (b.rate === 0) throw ctx.err('METER_SYNTAX', bandAt, "band must have 'rate'");
    if (mm.burst && b.burstSize === 0) throw ctx.err('METER_SYNTAX', bandAt, "band must have 'burst_size' when 'burst' flag is set");
    if (!mm.burst && b.burstSize !== 0) throw ctx.err('METER_SYNTAX', bandAt, "band may have 'burst_size' only when 'burst' flag is set");
  }
  // What the switch (ofproto + dpif-netdev) refuses when the meter is added.
  if (mm.kbps && mm.pktps) throw ctx.err('METER_BAD_FLAGS', 0, 'kbps and pktps together: OFPMMFC_BAD_FLAGS');
  if (mm.bands.length > MAX_BANDS) throw ctx.err('METER_BAD_BAND', bandAt, `more than ${MAX_BANDS} bands: OFPMMFC_OUT_OF_BANDS`);
  if (mm.bands.some((b) => b.type !== 'drop')) throw ctx.err('METER_BAD_BAND', bandAt, "only 'drop' bands are supported by OVS's userspace datapath (OFPMMFC_BAD_BAND)");
  return mm;
}

interface BandState extends MeterBand {
  /** Tokens, in 1/1000 of the band's unit. */
  bucket: number;
  nPackets: number;
  nBytes: number;
}

/** One meter's datapath state. */
export class Meter {
  readonly id: number;
  readonly config: ParsedMeterMod;
  readonly bands: BandState[];
  private usedUs: number;
  private readonly maxDeltaMs: number;
  nPackets = 0;
  nBytes = 0;
  readonly createdNs: number;

  constructor(config: ParsedMeterMod, nowNs: number) {
    this.id = config.id;
    this.config = config;
    this.createdNs = nowNs;
    this.usedUs = Math.floor(nowNs / 1000);
    let maxDelta = 0;
    this.bands = config.bands.map((b) => {
      const burst = b.burstSize === 0 ? b.rate : b.burstSize;
      const bucket = burst * 1000;
      maxDelta = Math.max(maxDelta, Math.floor(bucket / b.rate));
      return { ...b, burstSize: burst, bucket, nPackets: 0, nBytes: 0 };
    });
    this.maxDeltaMs = maxDelta;
  }

  /** Runs one packet of `bytes` through the meter at `nowNs`; true = it passes. */
  admit(bytes: number, nowNs: number): boolean {
    const nowUs = Math.floor(nowNs / 1000);
    let delta = Math.floor(nowUs / 1000) - Math.floor(this.usedUs / 1000);
    if (delta < 0) delta = 0;
    if (delta > this.maxDeltaMs) delta = this.maxDeltaMs;
    this.usedUs = nowUs;
    this.nPackets++;
    this.nBytes += bytes;
    const volume = this.config.pktps ? 1000 : bytes * 8;
    let exceeded: BandState | null = null;
    for (const b of this.bands) {
      const max = b.burstSize * 1000;
      b.bucket = Math.min(max, b.bucket + delta * b.rate);
      if (b.bucket >= volume) b.bucket -= volume;
      else {
        if (this.config.pktps) b.bucket %= 1000;
        if (exceeded === null || b.rate > exceeded.rate) exceeded = b;
      }
    }
    if (exceeded === null) return true;
    exceeded.nPackets++;
    exceeded.nBytes += bytes;
    return false;
  }
}

/** `dump-meters` text of one meter (`ofputil_format_meter_config`), without the trailing blank line. */
export function formatMeter(m: ParsedMeterMod): string {
  const flags = [m.kbps ? 'kbps ' : '', m.pktps ? 'pktps ' : '', m.burst ? 'burst ' : '', m.stats ? 'stats ' : ''].join('');
  const bands = m.bands.map((b) => `\ntype=${b.type} rate=${b.rate}${m.burst ? ` burst_size=${b.burstSize}` : ''}${b.type === 'dscp_remark' ? ` prec_level=${b.precLevel}` : ''}`);
  return `meter=${m.id} ${flags}bands=${bands.join('')}`;
}

/** The OpenFlow 1.3 `dump-meters` reply header. */
export function meterDumpHeader(version: number): string {
  return `OFPST_METER_CONFIG reply (OF1.${Math.max(version, 13) - 10}) (xid=0x2):`;
}

export function meterError(code: string, message: string, where: string): UserError {
  return new UserError(code, message, { where });
}
