/**
 * OpenFlow 1.3 numbers: message types, error types and codes, reserved ports, flags.
 *
 * Source: OpenFlow Switch Specification 1.3.5 (ONF TS-023), `openflow.h` as shipped with it;
 * cross-checked against os-ken's `ofproto/ofproto_v1_3.py` and OVS's `include/openflow/openflow-1.3.h`.
 */

export const OFP_VERSION = 0x04;
export const OFP_HEADER_LEN = 8;
/** `ofp_header.length` is 16 bits: no message can be longer. */
export const OFP_MAX_MSG_LEN = 0xffff;
/** IANA port for OpenFlow (spec 6.3.1). */
export const OFP_TCP_PORT = 6653;

/** enum ofp_type */
export const OFPT = {
  HELLO: 0,
  ERROR: 1,
  ECHO_REQUEST: 2,
  ECHO_REPLY: 3,
  EXPERIMENTER: 4,
  FEATURES_REQUEST: 5,
  FEATURES_REPLY: 6,
  GET_CONFIG_REQUEST: 7,
  GET_CONFIG_REPLY: 8,
  SET_CONFIG: 9,
  PACKET_IN: 10,
  FLOW_REMOVED: 11,
  PORT_STATUS: 12,
  PACKET_OUT: 13,
  FLOW_MOD: 14,
  GROUP_MOD: 15,
  PORT_MOD: 16,
  TABLE_MOD: 17,
  MULTIPART_REQUEST: 18,
  MULTIPART_REPLY: 19,
  BARRIER_REQUEST: 20,
  BARRIER_REPLY: 21,
  QUEUE_GET_CONFIG_REQUEST: 22,
  QUEUE_GET_CONFIG_REPLY: 23,
  ROLE_REQUEST: 24,
  ROLE_REPLY: 25,
  GET_ASYNC_REQUEST: 26,
  GET_ASYNC_REPLY: 27,
  SET_ASYNC: 28,
  METER_MOD: 29,
} as const;

/** enum ofp_hello_elem_type */
export const OFPHET_VERSIONBITMAP = 1;

/** enum ofp_error_type */
export const OFPET = {
  HELLO_FAILED: 0,
  BAD_REQUEST: 1,
  BAD_ACTION: 2,
  BAD_INSTRUCTION: 3,
  BAD_MATCH: 4,
  FLOW_MOD_FAILED: 5,
  GROUP_MOD_FAILED: 6,
  PORT_MOD_FAILED: 7,
  TABLE_MOD_FAILED: 8,
  QUEUE_OP_FAILED: 9,
  SWITCH_CONFIG_FAILED: 10,
  ROLE_REQUEST_FAILED: 11,
  METER_MOD_FAILED: 12,
  TABLE_FEATURES_FAILED: 13,
  EXPERIMENTER: 0xffff,
} as const;

/** Every code of every error type (spec 7.4.4), by type. Names are the enum names without prefix. */
export const ERROR_CODES: Record<number, readonly string[]> = {
  [OFPET.HELLO_FAILED]: ['INCOMPATIBLE', 'EPERM'],
  [OFPET.BAD_REQUEST]: [
    'BAD_VERSION', 'BAD_TYPE', 'BAD_MULTIPART', 'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'EPERM', 'BAD_LEN',
    'BUFFER_EMPTY', 'BUFFER_UNKNOWN', 'BAD_TABLE_ID', 'IS_SLAVE', 'BAD_PORT', 'BAD_PACKET',
    'MULTIPART_BUFFER_OVERFLOW',
  ],
  [OFPET.BAD_ACTION]: [
    'BAD_TYPE', 'BAD_LEN', 'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'BAD_OUT_PORT', 'BAD_ARGUMENT', 'EPERM',
    'TOO_MANY', 'BAD_QUEUE', 'BAD_OUT_GROUP', 'MATCH_INCONSISTENT', 'UNSUPPORTED_ORDER', 'BAD_TAG',
    'BAD_SET_TYPE', 'BAD_SET_LEN', 'BAD_SET_ARGUMENT',
  ],
  [OFPET.BAD_INSTRUCTION]: [
    'UNKNOWN_INST', 'UNSUP_INST', 'BAD_TABLE_ID', 'UNSUP_METADATA', 'UNSUP_METADATA_MASK',
    'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'BAD_LEN', 'EPERM',
  ],
  [OFPET.BAD_MATCH]: [
    'BAD_TYPE', 'BAD_LEN', 'BAD_TAG', 'BAD_DL_ADDR_MASK', 'BAD_NW_ADDR_MASK', 'BAD_WILDCARDS', 'BAD_FIELD',
    'BAD_VALUE', 'BAD_MASK', 'BAD_PREREQ', 'DUP_FIELD', 'EPERM',
  ],
  [OFPET.FLOW_MOD_FAILED]: ['UNKNOWN', 'TABLE_FULL', 'BAD_TABLE_ID', 'OVERLAP', 'EPERM', 'BAD_TIMEOUT', 'BAD_COMMAND', 'BAD_FLAGS'],
  [OFPET.GROUP_MOD_FAILED]: [
    'GROUP_EXISTS', 'INVALID_GROUP', 'WEIGHT_UNSUPPORTED', 'OUT_OF_GROUPS', 'OUT_OF_BUCKETS',
    'CHAINING_UNSUPPORTED', 'WATCH_UNSUPPORTED', 'LOOP', 'UNKNOWN_GROUP', 'CHAINED_GROUP', 'BAD_TYPE',
    'BAD_COMMAND', 'BAD_BUCKET', 'BAD_WATCH', 'EPERM',
  ],
  [OFPET.PORT_MOD_FAILED]: ['BAD_PORT', 'BAD_HW_ADDR', 'BAD_CONFIG', 'BAD_ADVERTISE', 'EPERM'],
  [OFPET.TABLE_MOD_FAILED]: ['BAD_TABLE', 'BAD_CONFIG', 'EPERM'],
  [OFPET.QUEUE_OP_FAILED]: ['BAD_PORT', 'BAD_QUEUE', 'EPERM'],
  [OFPET.SWITCH_CONFIG_FAILED]: ['BAD_FLAGS', 'BAD_LEN', 'EPERM'],
  [OFPET.ROLE_REQUEST_FAILED]: ['STALE', 'UNSUP', 'BAD_ROLE'],
  [OFPET.METER_MOD_FAILED]: [
    'UNKNOWN', 'METER_EXISTS', 'INVALID_METER', 'UNKNOWN_METER', 'BAD_COMMAND', 'BAD_FLAGS', 'BAD_RATE',
    'BAD_BURST', 'BAD_BAND', 'BAD_BAND_VALUE', 'OUT_OF_METERS', 'OUT_OF_BANDS',
  ],
  [OFPET.TABLE_FEATURES_FAILED]: ['BAD_TABLE', 'BAD_METADATA', 'BAD_TYPE', 'BAD_LEN', 'BAD_ARGUMENT', 'EPERM'],
};

export const OFPHFC = { INCOMPATIBLE: 0, EPERM: 1 } as const;
export const OFPBRC = {
  BAD_VERSION: 0, BAD_TYPE: 1, BAD_MULTIPART: 2, BAD_EXPERIMENTER: 3, BAD_EXP_TYPE: 4, EPERM: 5, BAD_LEN: 6,
  BUFFER_EMPTY: 7, BUFFER_UNKNOWN: 8, BAD_TABLE_ID: 9, IS_SLAVE: 10, BAD_PORT: 11, BAD_PACKET: 12,
  MULTIPART_BUFFER_OVERFLOW: 13,
} as const;
export const OFPBAC = {
  BAD_TYPE: 0, BAD_LEN: 1, BAD_EXPERIMENTER: 2, BAD_EXP_TYPE: 3, BAD_OUT_PORT: 4, BAD_ARGUMENT: 5, EPERM: 6,
  TOO_MANY: 7, BAD_QUEUE: 8, BAD_OUT_GROUP: 9, MATCH_INCONSISTENT: 10, UNSUPPORTED_ORDER: 11, BAD_TAG: 12,
  BAD_SET_TYPE: 13, BAD_SET_LEN: 14, BAD_SET_ARGUMENT: 15,
} as const;
export const OFPBIC = {
  UNKNOWN_INST: 0, UNSUP_INST: 1, BAD_TABLE_ID: 2, UNSUP_METADATA: 3, UNSUP_METADATA_MASK: 4,
  BAD_EXPERIMENTER: 5, BAD_EXP_TYPE: 6, BAD_LEN: 7, EPERM: 8,
} as const;
export const OFPBMC = {
  BAD_TYPE: 0, BAD_LEN: 1, BAD_TAG: 2, BAD_DL_ADDR_MASK: 3, BAD_NW_ADDR_MASK: 4, BAD_WILDCARDS: 5,
  BAD_FIELD: 6, BAD_VALUE: 7, BAD_MASK: 8, BAD_PREREQ: 9, DUP_FIELD: 10, EPERM: 11,
} as const;
export const OFPFMFC = {
  UNKNOWN: 0, TABLE_FULL: 1, BAD_TABLE_ID: 2, OVERLAP: 3, EPERM: 4, BAD_TIMEOUT: 5, BAD_COMMAND: 6, BAD_FLAGS: 7,
} as const;
export const OFPGMFC = {
  GROUP_EXISTS: 0, INVALID_GROUP: 1, WEIGHT_UNSUPPORTED: 2, OUT_OF_GROUPS: 3, OUT_OF_BUCKETS: 4,
  CHAINING_UNSUPPORTED: 5, WATCH_UNSUPPORTED: 6, LOOP: 7, UNKNOWN_GROUP: 8, CHAINED_GROUP: 9, BAD_TYPE: 10,
  BAD_COMMAND: 11, BAD_BUCKET: 12, BAD_WATCH: 13, EPERM: 14,
} as const;
export const OFPPMFC = { BAD_PORT: 0, BAD_HW_ADDR: 1, BAD_CONFIG: 2, BAD_ADVERTISE: 3, EPERM: 4 } as const;
export const OFPTMFC = { BAD_TABLE: 0, BAD_CONFIG: 1, EPERM: 2 } as const;
export const OFPSCFC = { BAD_FLAGS: 0, BAD_LEN: 1, EPERM: 2 } as const;
export const OFPRRFC = { STALE: 0, UNSUP: 1, BAD_ROLE: 2 } as const;
export const OFPMMFC = {
  UNKNOWN: 0, METER_EXISTS: 1, INVALID_METER: 2, UNKNOWN_METER: 3, BAD_COMMAND: 4, BAD_FLAGS: 5, BAD_RATE: 6,
  BAD_BURST: 7, BAD_BAND: 8, BAD_BAND_VALUE: 9, OUT_OF_METERS: 10, OUT_OF_BANDS: 11,
} as const;

/** `"OFPET_BAD_REQUEST/OFPBRC_BAD_LEN"`-style text for reports. */
export function errorName(type: number, code: number): string {
  const t = Object.entries(OFPET).find(([, v]) => v === type)?.[0];
  const c = ERROR_CODES[type]?.[code];
  return `${t ? `OFPET_${t}` : `type ${type}`}/${c ?? `code ${code}`}`;
}

/** enum ofp_port_no (32-bit in OpenFlow 1.1+). */
export const OFPP = {
  MAX: 0xffffff00,
  IN_PORT: 0xfffffff8,
  TABLE: 0xfffffff9,
  NORMAL: 0xfffffffa,
  FLOOD: 0xfffffffb,
  ALL: 0xfffffffc,
  CONTROLLER: 0xfffffffd,
  LOCAL: 0xfffffffe,
  ANY: 0xffffffff,
} as const;

export const OFP_NO_BUFFER = 0xffffffff;
/** enum ofp_controller_max_len */
export const OFPCML_MAX = 0xffe5;
export const OFPCML_NO_BUFFER = 0xffff;
/** Default `miss_send_len` (spec 7.3.2: OFP_DEFAULT_MISS_SEND_LEN). */
export const OFP_DEFAULT_MISS_SEND_LEN = 128;
export const OFP_DEFAULT_PRIORITY = 0x8000;

/** enum ofp_table */
export const OFPTT_MAX = 0xfe;
export const OFPTT_ALL = 0xff;

/** enum ofp_group */
export const OFPG_MAX = 0xffffff00;
export const OFPG_ALL = 0xfffffffc;
export const OFPG_ANY = 0xffffffff;

/** enum ofp_meter */
export const OFPM_MAX = 0xffff0000;
export const OFPM_SLOWPATH = 0xfffffffd;
export const OFPM_CONTROLLER = 0xfffffffe;
export const OFPM_ALL = 0xffffffff;

export const OFPFC = { ADD: 0, MODIFY: 1, MODIFY_STRICT: 2, DELETE: 3, DELETE_STRICT: 4 } as const;
export const OFPFF = { SEND_FLOW_REM: 1, CHECK_OVERLAP: 2, RESET_COUNTS: 4, NO_PKT_COUNTS: 8, NO_BYT_COUNTS: 16 } as const;
export const OFPGC = { ADD: 0, MODIFY: 1, DELETE: 2 } as const;
export const OFPGT = { ALL: 0, SELECT: 1, INDIRECT: 2, FF: 3 } as const;
export const OFPMC = { ADD: 0, MODIFY: 1, DELETE: 2 } as const;
export const OFPMF = { KBPS: 1, PKTPS: 2, BURST: 4, STATS: 8 } as const;
export const OFPMBT = { DROP: 1, DSCP_REMARK: 2, EXPERIMENTER: 0xffff } as const;

/** enum ofp_packet_in_reason */
export const OFPR = { NO_MATCH: 0, ACTION: 1, INVALID_TTL: 2 } as const;
/** enum ofp_flow_removed_reason */
export const OFPRR = { IDLE_TIMEOUT: 0, HARD_TIMEOUT: 1, DELETE: 2, GROUP_DELETE: 3 } as const;
/** enum ofp_port_reason */
export const OFPPR = { ADD: 0, DELETE: 1, MODIFY: 2 } as const;
/** enum ofp_controller_role */
export const OFPCR_ROLE = { NOCHANGE: 0, EQUAL: 1, MASTER: 2, SLAVE: 3 } as const;
/** enum ofp_capabilities */
export const OFPC = { FLOW_STATS: 1, TABLE_STATS: 2, PORT_STATS: 4, GROUP_STATS: 8, IP_REASM: 32, QUEUE_STATS: 64, PORT_BLOCKED: 256 } as const;
/** enum ofp_config_flags */
export const OFPC_FRAG_MASK = 3;
/** enum ofp_port_config / ofp_port_state */
export const OFPPC = { PORT_DOWN: 1, NO_RECV: 4, NO_FWD: 32, NO_PACKET_IN: 64 } as const;
export const OFPPS = { LINK_DOWN: 1, BLOCKED: 2, LIVE: 4 } as const;
/** enum ofp_port_features (subset used in port descriptions). */
export const OFPPF_10GB_FD = 1 << 6;
export const OFPPF_COPPER = 1 << 11;

/** enum ofp_multipart_types */
export const OFPMP = {
  DESC: 0,
  FLOW: 1,
  AGGREGATE: 2,
  TABLE: 3,
  PORT_STATS: 4,
  QUEUE: 5,
  GROUP: 6,
  GROUP_DESC: 7,
  GROUP_FEATURES: 8,
  METER: 9,
  METER_CONFIG: 10,
  METER_FEATURES: 11,
  TABLE_FEATURES: 12,
  PORT_DESC: 13,
  EXPERIMENTER: 0xffff,
} as const;
export const OFPMPF_REQ_MORE = 1;
export const OFPMPF_REPLY_MORE = 1;

/** enum ofp_instruction_type */
export const OFPIT = { GOTO_TABLE: 1, WRITE_METADATA: 2, WRITE_ACTIONS: 3, APPLY_ACTIONS: 4, CLEAR_ACTIONS: 5, METER: 6, EXPERIMENTER: 0xffff } as const;

/** enum ofp_action_type */
export const OFPAT = {
  OUTPUT: 0,
  COPY_TTL_OUT: 11,
  COPY_TTL_IN: 12,
  SET_MPLS_TTL: 15,
  DEC_MPLS_TTL: 16,
  PUSH_VLAN: 17,
  POP_VLAN: 18,
  PUSH_MPLS: 19,
  POP_MPLS: 20,
  SET_QUEUE: 21,
  GROUP: 22,
  SET_NW_TTL: 23,
  DEC_NW_TTL: 24,
  SET_FIELD: 25,
  PUSH_PBB: 26,
  POP_PBB: 27,
  EXPERIMENTER: 0xffff,
} as const;

/** enum ofp_match_type / ofp_oxm_class */
export const OFPMT_OXM = 1;
export const OFPXMC_OPENFLOW_BASIC = 0x8000;
export const OFPVID_PRESENT = 0x1000;

/** Description strings are fixed-width, NUL-padded (struct ofp_desc). */
export const DESC_STR_LEN = 256;
export const SERIAL_NUM_LEN = 32;
export const OFP_MAX_PORT_NAME_LEN = 16;
