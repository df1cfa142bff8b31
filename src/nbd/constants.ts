/**
 * NBD protocol numbers, as NetworkBlockDevice/nbd doc/proto.md names them (section "Values").
 *
 * Every field on the wire is big-endian ("network byte order"). Only the fixed-newstyle
 * handshake is spoken (the oldstyle handshake is obsolete and not served on port 10809; proto.md
 * "Newstyle negotiation"); extended headers (an experimental extension) are not.
 */

/** IANA port for newstyle NBD (proto.md "Newstyle negotiation"). */
export const NBD_PORT = 10809;

/** 'NBDMAGIC': first 8 bytes the server sends. */
export const NBD_INIT_MAGIC = 0x4e42444d41474943n;
/** 'IHAVEOPT': newstyle magic, repeated before every client option. */
export const NBD_OPTS_MAGIC = 0x49484156454f5054n;
/** Magic in front of every option reply (fixed newstyle). */
export const NBD_REP_MAGIC = 0x0003e889045565a9n;
export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;

// Handshake flags (server, 16 bits) and client flags (32 bits).
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

// Transmission flags (16 bits).
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_FUA = 1 << 3;
export const NBD_FLAG_ROTATIONAL = 1 << 4;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const NBD_FLAG_SEND_DF = 1 << 7;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;
export const NBD_FLAG_SEND_CACHE = 1 << 10;
export const NBD_FLAG_SEND_FAST_ZERO = 1 << 11;

// Options.
export const NBD_OPT_EXPORT_NAME = 1;
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_LIST = 3;
export const NBD_OPT_STARTTLS = 5;
export const NBD_OPT_INFO = 6;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;
export const NBD_OPT_LIST_META_CONTEXT = 9;
export const NBD_OPT_SET_META_CONTEXT = 10;

// Option reply types; errors have bit 31 set.
export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
export const NBD_REP_META_CONTEXT = 4;
export const NBD_REP_FLAG_ERROR = 0x80000000;
export const NBD_REP_ERR_UNSUP = 0x80000001;
export const NBD_REP_ERR_POLICY = 0x80000002;
export const NBD_REP_ERR_INVALID = 0x80000003;
export const NBD_REP_ERR_PLATFORM = 0x80000004;
export const NBD_REP_ERR_TLS_REQD = 0x80000005;
export const NBD_REP_ERR_UNKNOWN = 0x80000006;
export const NBD_REP_ERR_SHUTDOWN = 0x80000007;
export const NBD_REP_ERR_BLOCK_SIZE_REQD = 0x80000008;
export const NBD_REP_ERR_TOO_BIG = 0x80000009;

// NBD_REP_INFO information types.
export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_DESCRIPTION = 2;
export const NBD_INFO_BLOCK_SIZE = 3;

// Commands.
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_CACHE = 5;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_BLOCK_STATUS = 7;

// Command flags.
export const NBD_CMD_FLAG_FUA = 1 << 0;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;
export const NBD_CMD_FLAG_DF = 1 << 2;
export const NBD_CMD_FLAG_REQ_ONE = 1 << 3;
export const NBD_CMD_FLAG_FAST_ZERO = 1 << 4;

// Structured replies.
export const NBD_REPLY_FLAG_DONE = 1 << 0;
export const NBD_REPLY_TYPE_NONE = 0;
export const NBD_REPLY_TYPE_OFFSET_DATA = 1;
export const NBD_REPLY_TYPE_OFFSET_HOLE = 2;
export const NBD_REPLY_TYPE_BLOCK_STATUS = 5;
/** Error chunk types have bit 15 set (proto.md "Structured reply types"). */
export const NBD_REPLY_TYPE_ERROR_BIT = 1 << 15;
export const NBD_REPLY_TYPE_ERROR = NBD_REPLY_TYPE_ERROR_BIT + 1;
export const NBD_REPLY_TYPE_ERROR_OFFSET = NBD_REPLY_TYPE_ERROR_BIT + 2;

// base:allocation status flags (proto.md "base:allocation metadata context").
export const NBD_STATE_HOLE = 1 << 0;
export const NBD_STATE_ZERO = 1 << 1;
export const BASE_ALLOCATION = 'base:allocation';

// Error values (errno numbers as Linux spells them; proto.md "Error values").
export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_ENOMEM = 12;
export const NBD_EINVAL = 22;
export const NBD_ENOSPC = 28;
export const NBD_EOVERFLOW = 75;
export const NBD_ENOTSUP = 95;
export const NBD_ESHUTDOWN = 108;

/** Strings (export names, messages) may be at most 4096 bytes (proto.md "Conventions"). */
export const NBD_MAX_STRING = 4096;
/** Default maximum payload a client may rely on: 2^25 bytes (proto.md "Size constraints"). */
export const NBD_MAX_PAYLOAD = 32 * 1024 * 1024;
/** Preferred block size a server advertises by default (proto.md "Size constraints"). */
export const NBD_PREFERRED_BLOCK = 4096;
/**
 * Largest option data vfab accepts. proto.md leaves the limit to the server; QEMU's server
 * refuses options over NBD_MAX_BUFFER_SIZE (32 MiB) - vfab takes a tighter bound, since no
 * option it understands carries more than a few names of 4096 bytes.
 */
export const NBD_MAX_OPTION_DATA = 64 * 1024;
/** Size of the request and simple/structured reply headers. */
export const NBD_REQUEST_LEN = 28;
export const NBD_SIMPLE_REPLY_LEN = 16;
export const NBD_CHUNK_HEADER_LEN = 20;
export const NBD_OPTION_HEADER_LEN = 16;
export const NBD_OPTION_REPLY_HEADER_LEN = 20;

const NAMES: Record<string, Record<number, string>> = {
  option: {
    1: 'NBD_OPT_EXPORT_NAME', 2: 'NBD_OPT_ABORT', 3: 'NBD_OPT_LIST', 4: 'NBD_OPT_PEEK_EXPORT', 5: 'NBD_OPT_STARTTLS',
    6: 'NBD_OPT_INFO', 7: 'NBD_OPT_GO', 8: 'NBD_OPT_STRUCTURED_REPLY', 9: 'NBD_OPT_LIST_META_CONTEXT', 10: 'NBD_OPT_SET_META_CONTEXT',
    11: 'NBD_OPT_EXTENDED_HEADERS',
  },
  rep: {
    1: 'NBD_REP_ACK', 2: 'NBD_REP_SERVER', 3: 'NBD_REP_INFO', 4: 'NBD_REP_META_CONTEXT',
    [NBD_REP_ERR_UNSUP]: 'NBD_REP_ERR_UNSUP', [NBD_REP_ERR_POLICY]: 'NBD_REP_ERR_POLICY', [NBD_REP_ERR_INVALID]: 'NBD_REP_ERR_INVALID',
    [NBD_REP_ERR_PLATFORM]: 'NBD_REP_ERR_PLATFORM', [NBD_REP_ERR_TLS_REQD]: 'NBD_REP_ERR_TLS_REQD', [NBD_REP_ERR_UNKNOWN]: 'NBD_REP_ERR_UNKNOWN',
    [NBD_REP_ERR_SHUTDOWN]: 'NBD_REP_ERR_SHUTDOWN', [NBD_REP_ERR_BLOCK_SIZE_REQD]: 'NBD_REP_ERR_BLOCK_SIZE_REQD', [NBD_REP_ERR_TOO_BIG]: 'NBD_REP_ERR_TOO_BIG',
  },
  cmd: {
    0: 'NBD_CMD_READ', 1: 'NBD_CMD_WRITE', 2: 'NBD_CMD_DISC', 3: 'NBD_CMD_FLUSH', 4: 'NBD_CMD_TRIM', 5: 'NBD_CMD_CACHE',
    6: 'NBD_CMD_WRITE_ZEROES', 7: 'NBD_CMD_BLOCK_STATUS',
  },
  chunk: {
    0: 'NBD_REPLY_TYPE_NONE', 1: 'NBD_REPLY_TYPE_OFFSET_DATA', 2: 'NBD_REPLY_TYPE_OFFSET_HOLE', 5: 'NBD_REPLY_TYPE_BLOCK_STATUS',
    [NBD_REPLY_TYPE_ERROR]: 'NBD_REPLY_TYPE_ERROR', [NBD_REPLY_TYPE_ERROR_OFFSET]: 'NBD_REPLY_TYPE_ERROR_OFFSET',
  },
  errno: { 1: 'EPERM', 5: 'EIO', 12: 'ENOMEM', 22: 'EINVAL', 28: 'ENOSPC', 75: 'EOVERFLOW', 95: 'ENOTSUP', 108: 'ESHUTDOWN' },
};

/** Spec name of a number (`NBD_CMD_READ`), or the number in hex when the spec has none. */
export function nbdName(kind: 'option' | 'rep' | 'cmd' | 'chunk' | 'errno', value: number): string {
  return NAMES[kind]?.[value] ?? `0x${value.toString(16)}`;
}

/** True for an option reply type that reports an error (bit 31). */
export function isRepError(type: number): boolean {
  return type >= NBD_REP_FLAG_ERROR;
}
