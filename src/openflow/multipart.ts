/**
 * MULTIPART request and reply bodies (§7.3.5): DESC, FLOW, AGGREGATE, TABLE, PORT_STATS,
 * PORT_DESC, GROUP, GROUP_DESC, GROUP_FEATURES, METER, METER_CONFIG, METER_FEATURES. Other
 * types (QUEUE, TABLE_FEATURES, EXPERIMENTER) are carried raw; a switch answers them with
 * OFPBRC_BAD_MULTIPART.
 *
 * A reply larger than one message is split into several with OFPMPF_REPLY_MORE on all but the
 * last (`splitMultipartReply`); list bodies split between items, never inside one.
 */
import { readInstructions, writeInstructions, type Instruction } from './actions.js';
import type { Reader, Writer } from './buf.js';
import { readBands, readBuckets, writeBands, writeBuckets } from './buckets.js';
import { DESC_STR_LEN, OFPBRC, OFPET, OFPMP, SERIAL_NUM_LEN } from './constants.js';
import type { Bucket, MeterBand, OfpPort } from './messages.js';
import { readMatch, writeMatch, type Match, type OfpErr } from './oxm.js';
import { readPort, writePort } from './port.js';

export type MultipartRequestBody =
  | { mp: 'desc' | 'table' | 'port_desc' | 'group_desc' | 'group_features' | 'meter_features' }
  | { mp: 'flow' | 'aggregate'; tableId: number; outPort: number; outGroup: number; cookie: bigint; cookieMask: bigint; match: Match }
  | { mp: 'port_stats'; portNo: number }
  | { mp: 'group'; groupId: number }
  | { mp: 'meter' | 'meter_config'; meterId: number }
  | { mp: 'raw'; mpType: number; data: Uint8Array };

/** One `struct ofp_table_features` (§7.3.5.5); properties kept as TLVs (type, body bytes). */
export interface TableFeatures {
  tableId: number;
  name: string;
  metadataMatch: bigint;
  metadataWrite: bigint;
  config: number;
  maxEntries: number;
  properties: { type: number; data: Uint8Array }[];
}

export interface FlowStats {
  tableId: number;
  durationSec: number;
  durationNsec: number;
  priority: number;
  idleTimeout: number;
  hardTimeout: number;
  flags: number;
  cookie: bigint;
  packetCount: bigint;
  byteCount: bigint;
  match: Match;
  instructions: Instruction[];
}
export interface TableStats {
  tableId: number;
  activeCount: number;
  lookupCount: bigint;
  matchedCount: bigint;
}
/** The twelve u64 counters of `struct ofp_port_stats`, in wire order. */
export const PORT_COUNTERS = [
  'rxPackets', 'txPackets', 'rxBytes', 'txBytes', 'rxDropped', 'txDropped', 'rxErrors', 'txErrors',
  'rxFrameErr', 'rxOverErr', 'rxCrcErr', 'collisions',
] as const;
export type PortStats = { portNo: number; durationSec: number; durationNsec: number } & Record<(typeof PORT_COUNTERS)[number], bigint>;
export interface GroupStats {
  groupId: number;
  refCount: number;
  packetCount: bigint;
  byteCount: bigint;
  durationSec: number;
  durationNsec: number;
  bucketStats: { packetCount: bigint; byteCount: bigint }[];
}
export interface GroupDesc {
  groupType: number;
  groupId: number;
  buckets: Bucket[];
}
export interface MeterStats {
  meterId: number;
  flowCount: number;
  packetInCount: bigint;
  byteInCount: bigint;
  durationSec: number;
  durationNsec: number;
  bandStats: { packetBandCount: bigint; byteBandCount: bigint }[];
}
export interface MeterConfig {
  flags: number;
  meterId: number;
  bands: MeterBand[];
}

export type MultipartReplyBody =
  | { mp: 'desc'; mfrDesc: string; hwDesc: string; swDesc: string; serialNum: string; dpDesc: string }
  | { mp: 'flow'; stats: FlowStats[] }
  | { mp: 'aggregate'; packetCount: bigint; byteCount: bigint; flowCount: number }
  | { mp: 'table'; stats: TableStats[] }
  | { mp: 'port_stats'; stats: PortStats[] }
  | { mp: 'port_desc'; ports: OfpPort[] }
  | { mp: 'group'; stats: GroupStats[] }
  | { mp: 'group_desc'; groups: GroupDesc[] }
  | { mp: 'group_features'; types: number; capabilities: number; maxGroups: number[]; actions: number[] }
  | { mp: 'meter'; stats: MeterStats[] }
  | { mp: 'meter_config'; configs: MeterConfig[] }
  | { mp: 'meter_features'; maxMeter: number; bandTypes: number; capabilities: number; maxBands: number; maxColor: number }
  | { mp: 'table_features'; tables: TableFeatures[] }
  | { mp: 'raw'; mpType: number; data: Uint8Array };

const MP_CODE: Record<string, number> = {
  desc: OFPMP.DESC,
  flow: OFPMP.FLOW,
  aggregate: OFPMP.AGGREGATE,
  table: OFPMP.TABLE,
  port_stats: OFPMP.PORT_STATS,
  group: OFPMP.GROUP,
  group_desc: OFPMP.GROUP_DESC,
  group_features: OFPMP.GROUP_FEATURES,
  meter: OFPMP.METER,
  meter_config: OFPMP.METER_CONFIG,
  meter_features: OFPMP.METER_FEATURES,
  port_desc: OFPMP.PORT_DESC,
};
/** Reply-only names (TABLE_FEATURES requests stay raw: a body of properties sets tables). */
const MP_REPLY_CODE: Record<string, number> = { ...MP_CODE, table_features: OFPMP.TABLE_FEATURES };
const MP_REPLY_NAME = new Map<number, string>(Object.entries(MP_REPLY_CODE).map(([k, v]) => [v, k]));
const MP_NAME = new Map<number, string>(Object.entries(MP_CODE).map(([k, v]) => [v, k]));

export function multipartCode(b: MultipartRequestBody | MultipartReplyBody): number {
  return b.mp === 'raw' ? b.mpType : MP_REPLY_CODE[b.mp]!;
}

function badLen(at: number, why: string): OfpErr {
  return { type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_LEN, at, why };
}

export function writeRequestBody(w: Writer, b: MultipartRequestBody): void {
  switch (b.mp) {
    case 'flow':
    case 'aggregate':
      w.u8(b.tableId);
      w.pad(3);
      w.u32(b.outPort);
      w.u32(b.outGroup);
      w.pad(4);
      w.u64(b.cookie);
      w.u64(b.cookieMask);
      writeMatch(w, b.match);
      return;
    case 'port_stats':
      w.u32(b.portNo);
      w.pad(4);
      return;
    case 'group':
      w.u32(b.groupId);
      w.pad(4);
      return;
    case 'meter':
    case 'meter_config':
      w.u32(b.meterId);
      w.pad(4);
      return;
    case 'raw':
      w.bytes(b.data);
      return;
    default:
      return;
  }
}

/** Reads a request body of multipart type `code` from `r.pos` to `r.end`. */
export function readRequestBody(r: Reader, code: number): MultipartRequestBody | OfpErr {
  const at = r.pos;
  const name = MP_NAME.get(code);
  const exact = (n: number): OfpErr | null => (r.left === n ? null : badLen(at, `multipart ${name} request body ${r.left} bytes, expected ${n}`));
  switch (name) {
    case 'desc':
    case 'table':
    case 'port_desc':
    case 'group_desc':
    case 'group_features':
    case 'meter_features': {
      const e = exact(0);
      return e ?? { mp: name };
    }
    case 'flow':
    case 'aggregate': {
      if (r.left < 40) return badLen(at, `multipart ${name} request body ${r.left} bytes, need at least 40`);
      const tableId = r.u8();
      r.skip(3);
      const outPort = r.u32();
      const outGroup = r.u32();
      r.skip(4);
      const cookie = r.u64();
      const cookieMask = r.u64();
      const match = readMatch(r);
      if (!Array.isArray(match)) return match;
      if (r.pos !== r.end) return badLen(r.pos, 'bytes after the match');
      return { mp: name, tableId, outPort, outGroup, cookie, cookieMask, match };
    }
    case 'port_stats':
    case 'group':
    case 'meter':
    case 'meter_config': {
      const e = exact(8);
      if (e) return e;
      const id = r.u32();
      r.skip(4);
      if (name === 'port_stats') return { mp: name, portNo: id };
      if (name === 'group') return { mp: name, groupId: id };
      return { mp: name, meterId: id };
    }
    default:
      return { mp: 'raw', mpType: code, data: r.bytes(r.left) };
  }
}

function writeFlowStats(w: Writer, s: FlowStats): void {
  const start = w.pos;
  w.u16(0);
  w.u8(s.tableId);
  w.pad(1);
  w.u32(s.durationSec);
  w.u32(s.durationNsec);
  w.u16(s.priority);
  w.u16(s.idleTimeout);
  w.u16(s.hardTimeout);
  w.u16(s.flags);
  w.pad(4);
  w.u64(s.cookie);
  w.u64(s.packetCount);
  w.u64(s.byteCount);
  writeMatch(w, s.match);
  writeInstructions(w, s.instructions);
  w.patch16(start, w.pos - start);
}

function writeReplyItem(w: Writer, b: MultipartReplyBody, i: number): void {
  switch (b.mp) {
    case 'flow':
      writeFlowStats(w, b.stats[i]!);
      return;
    case 'table': {
      const s = b.stats[i]!;
      w.u8(s.tableId);
      w.pad(3);
      w.u32(s.activeCount);
      w.u64(s.lookupCount);
      w.u64(s.matchedCount);
      return;
    }
    case 'port_stats': {
      const s = b.stats[i]!;
      w.u32(s.portNo);
      w.pad(4);
      for (const k of PORT_COUNTERS) w.u64(s[k]);
      w.u32(s.durationSec);
      w.u32(s.durationNsec);
      return;
    }
    case 'port_desc':
      writePort(w, b.ports[i]!);
      return;
    case 'group': {
      const s = b.stats[i]!;
      w.u16(40 + 16 * s.bucketStats.length);
      w.pad(2);
      w.u32(s.groupId);
      w.u32(s.refCount);
      w.pad(4);
      w.u64(s.packetCount);
      w.u64(s.byteCount);
      w.u32(s.durationSec);
      w.u32(s.durationNsec);
      for (const c of s.bucketStats) {
        w.u64(c.packetCount);
        w.u64(c.byteCount);
      }
      return;
    }
    case 'group_desc': {
      const g = b.groups[i]!;
      const start = w.pos;
      w.u16(0);
      w.u8(g.groupType);
      w.pad(1);
      w.u32(g.groupId);
      writeBuckets(w, g.buckets);
      w.patch16(start, w.pos - start);
      return;
    }
    case 'meter': {
      const s = b.stats[i]!;
      w.u32(s.meterId);
      w.u16(40 + 16 * s.bandStats.length);
      w.pad(6);
      w.u32(s.flowCount);
      w.u64(s.packetInCount);
      w.u64(s.byteInCount);
      w.u32(s.durationSec);
      w.u32(s.durationNsec);
      for (const c of s.bandStats) {
        w.u64(c.packetBandCount);
        w.u64(c.byteBandCount);
      }
      return;
    }
    case 'table_features': {
      const t = b.tables[i]!;
      const start = w.pos;
      w.u16(0);
      w.u8(t.tableId);
      w.pad(5);
      w.str(t.name, 32);
      w.u64(t.metadataMatch);
      w.u64(t.metadataWrite);
      w.u32(t.config);
      w.u32(t.maxEntries);
      for (const p of t.properties) {
        const ps = w.pos;
        w.u16(p.type);
        w.u16(4 + p.data.length);
        w.bytes(p.data);
        w.align8(ps);
      }
      w.patch16(start, w.pos - start);
      return;
    }
    case 'meter_config': {
      const c = b.configs[i]!;
      w.u16(8 + 16 * c.bands.length);
      w.u16(c.flags);
      w.u32(c.meterId);
      writeBands(w, c.bands);
      return;
    }
    default:
      return;
  }
}

/** Items of a list body (0 for the single-record bodies). */
export function replyItems(b: MultipartReplyBody): number {
  switch (b.mp) {
    case 'flow':
    case 'table':
    case 'port_stats':
    case 'group':
    case 'meter':
      return b.stats.length;
    case 'port_desc':
      return b.ports.length;
    case 'group_desc':
      return b.groups.length;
    case 'meter_config':
      return b.configs.length;
    case 'table_features':
      return b.tables.length;
    default:
      return 0;
  }
}

/** Writes items [from, to) of a list body, or the whole single-record body. */
export function writeReplyBody(w: Writer, b: MultipartReplyBody, from = 0, to = replyItems(b)): void {
  switch (b.mp) {
    case 'desc':
      w.str(b.mfrDesc, DESC_STR_LEN);
      w.str(b.hwDesc, DESC_STR_LEN);
      w.str(b.swDesc, DESC_STR_LEN);
      w.str(b.serialNum, SERIAL_NUM_LEN);
      w.str(b.dpDesc, DESC_STR_LEN);
      return;
    case 'aggregate':
      w.u64(b.packetCount);
      w.u64(b.byteCount);
      w.u32(b.flowCount);
      w.pad(4);
      return;
    case 'group_features':
      w.u32(b.types);
      w.u32(b.capabilities);
      for (let i = 0; i < 4; i++) w.u32(b.maxGroups[i] ?? 0);
      for (let i = 0; i < 4; i++) w.u32(b.actions[i] ?? 0);
      return;
    case 'meter_features':
      w.u32(b.maxMeter);
      w.u32(b.bandTypes);
      w.u32(b.capabilities);
      w.u8(b.maxBands);
      w.u8(b.maxColor);
      w.pad(2);
      return;
    case 'raw':
      w.bytes(b.data);
      return;
    default:
      for (let i = from; i < to; i++) writeReplyItem(w, b, i);
  }
}

/** Reads one list item whose first u16 is its length, bounding `r` to it. */
function withLen<T>(r: Reader, min: number, lenAt: number, read: (end: number) => T | OfpErr): T | OfpErr {
  const at = r.pos;
  if (r.left < min) return badLen(at, 'multipart item truncated');
  const len = r.view.getUint16(r.base + at + lenAt);
  if (len < min || len > r.end - at) return badLen(at, `multipart item length ${len}`);
  const outer = r.end;
  r.end = at + len;
  const v = read(at + len);
  r.end = outer;
  if (isErr(v)) return v;
  if (r.bad) return badLen(at, 'multipart item truncated');
  r.pos = at + len;
  return v;
}

function isErr(v: unknown): v is OfpErr {
  return typeof v === 'object' && v !== null && 'code' in v && 'type' in v && typeof (v as OfpErr).code === 'number';
}

/** Reads a reply body of type `code` from `r.pos` to `r.end`. */
export function readReplyBody(r: Reader, code: number): MultipartReplyBody | OfpErr {
  const at = r.pos;
  const name = MP_REPLY_NAME.get(code);
  const fixed = (n: number): OfpErr | null => (r.left === n ? null : badLen(at, `multipart ${name} reply body ${r.left} bytes, expected ${n}`));
  const list = <T>(size: number | null, readOne: () => T | OfpErr): T[] | OfpErr => {
    const out: T[] = [];
    while (r.pos < r.end) {
      if (size !== null && r.left < size) return badLen(r.pos, `multipart ${name} item truncated`);
      const v = readOne();
      if (isErr(v)) return v;
      out.push(v);
    }
    return out;
  };
  switch (name) {
    case 'desc':
      return fixed(1056) ?? { mp: 'desc', mfrDesc: r.str(DESC_STR_LEN), hwDesc: r.str(DESC_STR_LEN), swDesc: r.str(DESC_STR_LEN), serialNum: r.str(SERIAL_NUM_LEN), dpDesc: r.str(DESC_STR_LEN) };
    case 'aggregate': {
      const e = fixed(24);
      if (e) return e;
      const v = { mp: 'aggregate' as const, packetCount: r.u64(), byteCount: r.u64(), flowCount: r.u32() };
      r.skip(4);
      return v;
    }
    case 'group_features': {
      const e = fixed(40);
      if (e) return e;
      const types = r.u32();
      const capabilities = r.u32();
      const maxGroups = [r.u32(), r.u32(), r.u32(), r.u32()];
      return { mp: 'group_features', types, capabilities, maxGroups, actions: [r.u32(), r.u32(), r.u32(), r.u32()] };
    }
    case 'meter_features': {
      const e = fixed(16);
      if (e) return e;
      const v = { mp: 'meter_features' as const, maxMeter: r.u32(), bandTypes: r.u32(), capabilities: r.u32(), maxBands: r.u8(), maxColor: r.u8() };
      r.skip(2);
      return v;
    }
    case 'flow': {
      const stats = list(56, () =>
        withLen<FlowStats>(r, 56, 0, () => {
          r.skip(2);
          const tableId = r.u8();
          r.skip(1);
          const durationSec = r.u32();
          const durationNsec = r.u32();
          const priority = r.u16();
          const idleTimeout = r.u16();
          const hardTimeout = r.u16();
          const flags = r.u16();
          r.skip(4);
          const cookie = r.u64();
          const packetCount = r.u64();
          const byteCount = r.u64();
          const match = readMatch(r);
          if (!Array.isArray(match)) return match;
          const instructions = readInstructions(r);
          if (!Array.isArray(instructions)) return instructions;
          return { tableId, durationSec, durationNsec, priority, idleTimeout, hardTimeout, flags, cookie, packetCount, byteCount, match, instructions };
        }),
      );
      return Array.isArray(stats) ? { mp: 'flow', stats } : stats;
    }
    case 'table': {
      const stats = list<TableStats>(24, () => {
        const tableId = r.u8();
        r.skip(3);
        return { tableId, activeCount: r.u32(), lookupCount: r.u64(), matchedCount: r.u64() };
      });
      return Array.isArray(stats) ? { mp: 'table', stats } : stats;
    }
    case 'port_stats': {
      const stats = list<PortStats>(112, () => {
        const portNo = r.u32();
        r.skip(4);
        const s = { portNo } as PortStats;
        for (const k of PORT_COUNTERS) s[k] = r.u64();
        s.durationSec = r.u32();
        s.durationNsec = r.u32();
        return s;
      });
      return Array.isArray(stats) ? { mp: 'port_stats', stats } : stats;
    }
    case 'port_desc': {
      const ports = list<OfpPort>(64, () => readPort(r));
      return Array.isArray(ports) ? { mp: 'port_desc', ports } : ports;
    }
    case 'group': {
      const stats = list(40, () =>
        withLen<GroupStats>(r, 40, 0, (end) => {
          r.skip(4);
          const groupId = r.u32();
          const refCount = r.u32();
          r.skip(4);
          const packetCount = r.u64();
          const byteCount = r.u64();
          const durationSec = r.u32();
          const durationNsec = r.u32();
          if ((end - r.pos) % 16 !== 0) return badLen(r.pos, 'group stats bucket counters');
          const bucketStats: GroupStats['bucketStats'] = [];
          while (r.pos < end) bucketStats.push({ packetCount: r.u64(), byteCount: r.u64() });
          return { groupId, refCount, packetCount, byteCount, durationSec, durationNsec, bucketStats };
        }),
      );
      return Array.isArray(stats) ? { mp: 'group', stats } : stats;
    }
    case 'group_desc': {
      const groups = list(8, () =>
        withLen<GroupDesc>(r, 8, 0, () => {
          r.skip(2);
          const groupType = r.u8();
          r.skip(1);
          const groupId = r.u32();
          const buckets = readBuckets(r);
          if (!Array.isArray(buckets)) return buckets;
          return { groupType, groupId, buckets };
        }),
      );
      return Array.isArray(groups) ? { mp: 'group_desc', groups } : groups;
    }
    case 'meter': {
      const stats = list(40, () =>
        withLen<MeterStats>(r, 40, 4, (end) => {
          const meterId = r.u32();
          r.skip(8);
          const flowCount = r.u32();
          const packetInCount = r.u64();
          const byteInCount = r.u64();
          const durationSec = r.u32();
          const durationNsec = r.u32();
          if ((end - r.pos) % 16 !== 0) return badLen(r.pos, 'meter band stats');
          const bandStats: MeterStats['bandStats'] = [];
          while (r.pos < end) bandStats.push({ packetBandCount: r.u64(), byteBandCount: r.u64() });
          return { meterId, flowCount, packetInCount, byteInCount, durationSec, durationNsec, bandStats };
        }),
      );
      return Array.isArray(stats) ? { mp: 'meter', stats } : stats;
    }
    case 'meter_config': {
      const configs = list(8, () =>
        withLen<MeterConfig>(r, 8, 0, () => {
          r.skip(2);
          const flags = r.u16();
          const meterId = r.u32();
          const bands = readBands(r);
          if (!Array.isArray(bands)) return bands;
          return { flags, meterId, bands };
        }),
      );
      return Array.isArray(configs) ? { mp: 'meter_config', configs } : configs;
    }
    case 'table_features': {
      const tables = list(64, () =>
        withLen<TableFeatures>(r, 64, 0, (end) => {
          r.skip(2);
          const tableId = r.u8();
          r.skip(5);
          const name = r.str(32);
          const metadataMatch = r.u64();
          const metadataWrite = r.u64();
          const config = r.u32();
          const maxEntries = r.u32();
          const properties: TableFeatures['properties'] = [];
          while (r.pos < end) {
            const ps = r.pos;
            if (end - ps < 4) return badLen(ps, 'table feature property truncated');
            const type = r.u16();
            const len = r.u16();
            const padded = (len + 7) & ~7;
            if (len < 4 || ps + padded > end) return badLen(ps, `table feature property length ${len}`);
            properties.push({ type, data: r.bytes(len - 4) });
            r.pos = ps + padded;
          }
          return { tableId, name, metadataMatch, metadataWrite, config, maxEntries, properties };
        }),
      );
      return Array.isArray(tables) ? { mp: 'table_features', tables } : tables;
    }
    default:
      return { mp: 'raw', mpType: code, data: r.bytes(r.left) };
  }
}

/** A copy of a list body holding items [from, to). */
export function sliceReplyBody(b: MultipartReplyBody, from: number, to: number): MultipartReplyBody {
  switch (b.mp) {
    case 'flow':
    case 'table':
    case 'port_stats':
    case 'group':
    case 'meter':
      return { ...b, stats: b.stats.slice(from, to) } as MultipartReplyBody;
    case 'port_desc':
      return { ...b, ports: b.ports.slice(from, to) };
    case 'group_desc':
      return { ...b, groups: b.groups.slice(from, to) };
    case 'meter_config':
      return { ...b, configs: b.configs.slice(from, to) };
    case 'table_features':
      return { ...b, tables: b.tables.slice(from, to) };
    default:
      return b;
  }
}
