/**
 * OpenFlow 1.3 messages as typed records (one per `ofp_type` vfab speaks).
 *
 * Every record has `type` (a lower-case `OFPT_` name) and `xid`. u64 fields (cookies, datapath
 * ids, counters, metadata) are bigints; everything else is a number. Fixed padding is not
 * represented; variable tails (error data, echo data, packet bytes) are `Uint8Array`s.
 */
import type { Action, Instruction } from './actions.js';
import type { MultipartReplyBody, MultipartRequestBody } from './multipart.js';
import type { Match } from './oxm.js';

/** struct ofp_port (64 bytes). */
export interface OfpPort {
  portNo: number;
  hwAddr: number;
  name: string;
  config: number;
  state: number;
  curr: number;
  advertised: number;
  supported: number;
  peer: number;
  currSpeed: number;
  maxSpeed: number;
}

export interface Bucket {
  weight: number;
  watchPort: number;
  watchGroup: number;
  actions: Action[];
}

export interface MeterBand {
  /** OFPMBT_DROP 1, OFPMBT_DSCP_REMARK 2, OFPMBT_EXPERIMENTER 0xffff. */
  type: number;
  rate: number;
  burstSize: number;
  /** DSCP_REMARK only. */
  precLevel?: number;
  /** EXPERIMENTER only. */
  experimenter?: number;
}

export interface Hdr {
  xid: number;
}

export type OfpMessage =
  | (Hdr & { type: 'hello'; /** Versions of a version-bitmap element; null = no element. */ versions: number[] | null })
  | (Hdr & { type: 'error'; errType: number; code: number; data: Uint8Array; experimenter?: number })
  | (Hdr & { type: 'echo_request' | 'echo_reply'; data: Uint8Array })
  | (Hdr & { type: 'experimenter'; experimenter: number; expType: number; data: Uint8Array })
  | (Hdr & { type: 'features_request' | 'get_config_request' | 'barrier_request' | 'barrier_reply' | 'get_async_request' })
  | (Hdr & { type: 'features_reply'; datapathId: bigint; nBuffers: number; nTables: number; auxiliaryId: number; capabilities: number })
  | (Hdr & { type: 'get_config_reply' | 'set_config'; flags: number; missSendLen: number })
  | (Hdr & {
      type: 'packet_in';
      bufferId: number;
      totalLen: number;
      reason: number;
      tableId: number;
      cookie: bigint;
      match: Match;
      data: Uint8Array;
    })
  | (Hdr & {
      type: 'flow_removed';
      cookie: bigint;
      priority: number;
      reason: number;
      tableId: number;
      durationSec: number;
      durationNsec: number;
      idleTimeout: number;
      hardTimeout: number;
      packetCount: bigint;
      byteCount: bigint;
      match: Match;
    })
  | (Hdr & { type: 'port_status'; reason: number; desc: OfpPort })
  | (Hdr & { type: 'packet_out'; bufferId: number; inPort: number; actions: Action[]; data: Uint8Array })
  | (Hdr & {
      type: 'flow_mod';
      cookie: bigint;
      cookieMask: bigint;
      tableId: number;
      command: number;
      idleTimeout: number;
      hardTimeout: number;
      priority: number;
      bufferId: number;
      outPort: number;
      outGroup: number;
      flags: number;
      match: Match;
      instructions: Instruction[];
    })
  | (Hdr & { type: 'group_mod'; command: number; groupType: number; groupId: number; buckets: Bucket[] })
  | (Hdr & { type: 'port_mod'; portNo: number; hwAddr: number; config: number; mask: number; advertise: number })
  | (Hdr & { type: 'table_mod'; tableId: number; config: number })
  | (Hdr & { type: 'multipart_request'; flags: number; body: MultipartRequestBody })
  | (Hdr & { type: 'multipart_reply'; flags: number; body: MultipartReplyBody })
  | (Hdr & { type: 'role_request' | 'role_reply'; role: number; generationId: bigint })
  | (Hdr & {
      type: 'get_async_reply' | 'set_async';
      /** [master/equal, slave] masks for packet-in, port-status, flow-removed. */
      packetInMask: [number, number];
      portStatusMask: [number, number];
      flowRemovedMask: [number, number];
    })
  | (Hdr & { type: 'meter_mod'; command: number; flags: number; meterId: number; bands: MeterBand[] });

export type OfpMessageType = OfpMessage['type'];
export type MessageOf<T extends OfpMessageType> = Extract<OfpMessage, { type: T }>;
