/** fast-check generators of valid OpenFlow 1.3 messages of every type the codec speaks. */
import fc from 'fast-check';
import type { OfpAction, OfpInstruction, OfpMessage, Oxm } from '../../src/openflow/index.js';
import { OXM_FIELDS } from '../../src/openflow/index.js';
import type { MultipartReplyBody, MultipartRequestBody } from '../../src/openflow/multipart.js';
import type { Bucket, MeterBand, OfpPort } from '../../src/openflow/messages.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const bytes = (max = 64): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
const bytes8 = fc.integer({ min: 0, max: 4 }).chain((n) => fc.uint8Array({ minLength: n * 8, maxLength: n * 8 }));
const name = (w: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[a-zA-Z0-9 ._-]{0,${w - 1}}$`));

function valueArb(len: number, max?: number): fc.Arbitrary<number | bigint> {
  if (len === 8) return u64;
  if (len === 16) return fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
  const top = max ?? 2 ** (8 * len) - 1;
  return fc.integer({ min: 0, max: top });
}

/** One valid OXM TLV (value bits inside the mask). */
export const oxmArb: fc.Arbitrary<Oxm> = fc.constantFrom(...OXM_FIELDS).chain((d) => {
  const v = valueArb(d.len, d.max);
  if (!d.maskable) return v.map((value) => ({ field: d.name, value }));
  return fc.tuple(v, fc.option(valueArb(d.len, d.max), { nil: undefined })).map(([value, mask]) => {
    if (mask === undefined) return { field: d.name, value };
    if (typeof value === 'bigint') return { field: d.name, value: value & (mask as bigint), mask };
    const m = mask as number;
    const hi = Math.floor(value / 2 ** 32) & Math.floor(m / 2 ** 32);
    const lo = ((value >>> 0) & (m >>> 0)) >>> 0;
    return { field: d.name, value: hi * 2 ** 32 + lo, mask };
  });
});

const rawOxm: fc.Arbitrary<Oxm> = fc
  .record({ oxmClass: fc.constantFrom(0x0000, 0x0001, 0xffff), oxmField: fc.integer({ min: 0, max: 127 }), hasMask: fc.boolean(), payload: fc.uint8Array({ maxLength: 12 }) })
  .map((r) => ({ field: 'raw', ...r }));

/** A match with no duplicate OPENFLOW_BASIC fields. */
export const matchArb: fc.Arbitrary<Oxm[]> = fc
  .array(fc.oneof({ weight: 9, arbitrary: oxmArb }, { weight: 1, arbitrary: rawOxm }), { maxLength: 8 })
  .map((xs) => {
    const seen = new Set<string>();
    return xs.filter((o) => o.field === 'raw' || (!seen.has(o.field) && (seen.add(o.field), true)));
  });

const setFieldOxm = oxmArb.map((o) => ({ field: (o as { field: string }).field, value: (o as { value: number | bigint }).value }) as Oxm);

export const actionArb: fc.Arbitrary<OfpAction> = fc.oneof(
  fc.record({ type: fc.constant('output' as const), port: u32, maxLen: u16 }),
  fc.record({ type: fc.constantFrom('copy_ttl_out', 'copy_ttl_in', 'dec_mpls_ttl', 'pop_vlan', 'dec_nw_ttl', 'pop_pbb') }) as fc.Arbitrary<OfpAction>,
  fc.record({ type: fc.constantFrom('set_mpls_ttl' as const, 'set_nw_ttl' as const), ttl: u8 }),
  fc.record({ type: fc.constantFrom('push_vlan' as const, 'push_mpls' as const, 'push_pbb' as const, 'pop_mpls' as const), ethertype: u16 }),
  fc.record({ type: fc.constant('set_queue' as const), queueId: u32 }),
  fc.record({ type: fc.constant('group' as const), groupId: u32 }),
  fc.record({ type: fc.constant('set_field' as const), oxm: setFieldOxm }),
  fc.record({ type: fc.constant('experimenter' as const), experimenter: u32, data: bytes8 }),
);
const actionsArb = fc.array(actionArb, { maxLength: 5 });

export const instructionArb: fc.Arbitrary<OfpInstruction> = fc.oneof(
  fc.record({ type: fc.constant('goto_table' as const), tableId: u8 }),
  fc.record({ type: fc.constant('write_metadata' as const), metadata: u64, metadataMask: u64 }),
  fc.record({ type: fc.constantFrom('write_actions' as const, 'apply_actions' as const), actions: actionsArb }),
  fc.record({ type: fc.constant('clear_actions' as const) }),
  fc.record({ type: fc.constant('meter' as const), meterId: u32 }),
  fc.record({ type: fc.constant('experimenter' as const), experimenter: u32, data: bytes8 }),
);

const portArb: fc.Arbitrary<OfpPort> = fc.record({
  portNo: u32, hwAddr: fc.integer({ min: 0, max: 2 ** 48 - 1 }), name: name(16), config: u32, state: u32, curr: u32,
  advertised: u32, supported: u32, peer: u32, currSpeed: u32, maxSpeed: u32,
});
const bucketArb: fc.Arbitrary<Bucket> = fc.record({ weight: u16, watchPort: u32, watchGroup: u32, actions: actionsArb });
const bandArb: fc.Arbitrary<MeterBand> = fc.oneof(
  fc.record({ type: fc.constant(1), rate: u32, burstSize: u32 }),
  fc.record({ type: fc.constant(2), rate: u32, burstSize: u32, precLevel: u8 }),
  fc.record({ type: fc.constant(0xffff), rate: u32, burstSize: u32, experimenter: u32 }),
);

const mpRequestArb: fc.Arbitrary<MultipartRequestBody> = fc.oneof(
  fc.record({ mp: fc.constantFrom('desc', 'table', 'port_desc', 'group_desc', 'group_features', 'meter_features') }) as fc.Arbitrary<MultipartRequestBody>,
  fc.record({ mp: fc.constantFrom('flow' as const, 'aggregate' as const), tableId: u8, outPort: u32, outGroup: u32, cookie: u64, cookieMask: u64, match: matchArb }),
  fc.record({ mp: fc.constant('port_stats' as const), portNo: u32 }),
  fc.record({ mp: fc.constant('group' as const), groupId: u32 }),
  fc.record({ mp: fc.constantFrom('meter' as const, 'meter_config' as const), meterId: u32 }),
  fc.record({ mp: fc.constant('raw' as const), mpType: fc.constantFrom(5, 12, 0xffff), data: bytes() }),
);

const flowStatsArb = fc.record({
  tableId: u8, durationSec: u32, durationNsec: u32, priority: u16, idleTimeout: u16, hardTimeout: u16, flags: u16,
  cookie: u64, packetCount: u64, byteCount: u64, match: matchArb, instructions: fc.array(instructionArb, { maxLength: 3 }),
});
const portStatsArb = fc.record({
  portNo: u32, durationSec: u32, durationNsec: u32, rxPackets: u64, txPackets: u64, rxBytes: u64, txBytes: u64, rxDropped: u64,
  txDropped: u64, rxErrors: u64, txErrors: u64, rxFrameErr: u64, rxOverErr: u64, rxCrcErr: u64, collisions: u64,
});
const mpReplyArb: fc.Arbitrary<MultipartReplyBody> = fc.oneof(
  fc.record({ mp: fc.constant('desc' as const), mfrDesc: name(256), hwDesc: name(256), swDesc: name(256), serialNum: name(32), dpDesc: name(256) }),
  fc.record({ mp: fc.constant('flow' as const), stats: fc.array(flowStatsArb, { maxLength: 4 }) }),
  fc.record({ mp: fc.constant('aggregate' as const), packetCount: u64, byteCount: u64, flowCount: u32 }),
  fc.record({ mp: fc.constant('table' as const), stats: fc.array(fc.record({ tableId: u8, activeCount: u32, lookupCount: u64, matchedCount: u64 }), { maxLength: 4 }) }),
  fc.record({ mp: fc.constant('port_stats' as const), stats: fc.array(portStatsArb, { maxLength: 3 }) }),
  fc.record({ mp: fc.constant('port_desc' as const), ports: fc.array(portArb, { maxLength: 3 }) }),
  fc.record({
    mp: fc.constant('group' as const),
    stats: fc.array(
      fc.record({ groupId: u32, refCount: u32, packetCount: u64, byteCount: u64, durationSec: u32, durationNsec: u32, bucketStats: fc.array(fc.record({ packetCount: u64, byteCount: u64 }), { maxLength: 3 }) }),
      { maxLength: 3 },
    ),
  }),
  fc.record({ mp: fc.constant('group_desc' as const), groups: fc.array(fc.record({ groupType: u8, groupId: u32, buckets: fc.array(bucketArb, { maxLength: 3 }) }), { maxLength: 3 }) }),
  fc.record({ mp: fc.constant('group_features' as const), types: u32, capabilities: u32, maxGroups: fc.array(u32, { minLength: 4, maxLength: 4 }), actions: fc.array(u32, { minLength: 4, maxLength: 4 }) }),
  fc.record({
    mp: fc.constant('meter' as const),
    stats: fc.array(
      fc.record({ meterId: u32, flowCount: u32, packetInCount: u64, byteInCount: u64, durationSec: u32, durationNsec: u32, bandStats: fc.array(fc.record({ packetBandCount: u64, byteBandCount: u64 }), { maxLength: 3 }) }),
      { maxLength: 3 },
    ),
  }),
  fc.record({ mp: fc.constant('meter_config' as const), configs: fc.array(fc.record({ flags: u16, meterId: u32, bands: fc.array(bandArb, { maxLength: 3 }) }), { maxLength: 3 }) }),
  fc.record({ mp: fc.constant('meter_features' as const), maxMeter: u32, bandTypes: u32, capabilities: u32, maxBands: u8, maxColor: u8 }),
  fc.record({
    mp: fc.constant('table_features' as const),
    tables: fc.array(
      fc.record({
        tableId: u8, name: name(32), metadataMatch: u64, metadataWrite: u64, config: u32, maxEntries: u32,
        properties: fc.array(fc.record({ type: u16, data: fc.integer({ min: 0, max: 3 }).chain((n) => fc.uint8Array({ minLength: 4 + 8 * n, maxLength: 4 + 8 * n })) }), { maxLength: 3 }),
      }),
      { maxLength: 3 },
    ),
  }),
  fc.record({ mp: fc.constant('raw' as const), mpType: fc.constantFrom(5, 0xffff), data: bytes() }),
);

const xid = u32;
const versionsArb = fc.option(fc.uniqueArray(fc.integer({ min: 1, max: 70 }), { maxLength: 5 }).map((v) => v.sort((a, b) => a - b)), { nil: null });
const pair = fc.tuple(u32, u32);

/** Every message type, valid. */
export const messageArb: fc.Arbitrary<OfpMessage> = fc.oneof(
  fc.record({ type: fc.constant('hello' as const), xid, versions: versionsArb }),
  fc.record({ type: fc.constant('error' as const), xid, errType: fc.integer({ min: 0, max: 13 }), code: u16, data: bytes() }),
  fc.record({ type: fc.constant('error' as const), xid, errType: fc.constant(0xffff), code: u16, experimenter: u32, data: bytes() }),
  fc.record({ type: fc.constantFrom('echo_request' as const, 'echo_reply' as const), xid, data: bytes() }),
  fc.record({ type: fc.constant('experimenter' as const), xid, experimenter: u32, expType: u32, data: bytes() }),
  fc.record({ type: fc.constantFrom('features_request', 'get_config_request', 'barrier_request', 'barrier_reply', 'get_async_request'), xid }) as fc.Arbitrary<OfpMessage>,
  fc.record({ type: fc.constant('features_reply' as const), xid, datapathId: u64, nBuffers: u32, nTables: u8, auxiliaryId: u8, capabilities: u32 }),
  fc.record({ type: fc.constantFrom('get_config_reply' as const, 'set_config' as const), xid, flags: u16, missSendLen: u16 }),
  fc.record({ type: fc.constant('packet_in' as const), xid, bufferId: u32, totalLen: u16, reason: u8, tableId: u8, cookie: u64, match: matchArb, data: bytes(200) }),
  fc.record({
    type: fc.constant('flow_removed' as const), xid, cookie: u64, priority: u16, reason: u8, tableId: u8, durationSec: u32, durationNsec: u32,
    idleTimeout: u16, hardTimeout: u16, packetCount: u64, byteCount: u64, match: matchArb,
  }),
  fc.record({ type: fc.constant('port_status' as const), xid, reason: u8, desc: portArb }),
  fc.record({ type: fc.constant('packet_out' as const), xid, bufferId: u32, inPort: u32, actions: actionsArb, data: bytes(200) }),
  fc.record({
    type: fc.constant('flow_mod' as const), xid, cookie: u64, cookieMask: u64, tableId: u8, command: fc.integer({ min: 0, max: 4 }), idleTimeout: u16,
    hardTimeout: u16, priority: u16, bufferId: u32, outPort: u32, outGroup: u32, flags: u16, match: matchArb, instructions: fc.array(instructionArb, { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant('group_mod' as const), xid, command: u16, groupType: u8, groupId: u32, buckets: fc.array(bucketArb, { maxLength: 3 }) }),
  fc.record({ type: fc.constant('port_mod' as const), xid, portNo: u32, hwAddr: fc.integer({ min: 0, max: 2 ** 48 - 1 }), config: u32, mask: u32, advertise: u32 }),
  fc.record({ type: fc.constant('table_mod' as const), xid, tableId: u8, config: u32 }),
  fc.record({ type: fc.constant('multipart_request' as const), xid, flags: u16, body: mpRequestArb }),
  fc.record({ type: fc.constant('multipart_reply' as const), xid, flags: u16, body: mpReplyArb }),
  fc.record({ type: fc.constantFrom('role_request' as const, 'role_reply' as const), xid, role: u32, generationId: u64 }),
  fc.record({ type: fc.constantFrom('get_async_reply' as const, 'set_async' as const), xid, packetInMask: pair, portStatusMask: pair, flowRemovedMask: pair }),
  fc.record({ type: fc.constant('meter_mod' as const), xid, command: u16, flags: u16, meterId: u32, bands: fc.array(bandArb, { maxLength: 3 }) }),
);
