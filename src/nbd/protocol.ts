// NBD wire constants (NetworkBlockDevice/nbd doc/proto.md), named once, and the tagged command type.

/** "NBDMAGIC": first 8 bytes the server sends. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** "IHAVEOPT": newstyle negotiation magic, also prefixes every client option. */
export const IHAVEOPT = 0x49484156454f5054n;
/** Magic of every option reply. */
export const OPTION_REPLY_MAGIC = 0x0003e889045565a9n;
/** Magic of a transmission request. */
export const REQUEST_MAGIC = 0x25609513;
/** Magic of a simple reply. */
export const SIMPLE_REPLY_MAGIC = 0x67446698;
/** Magic of a structured reply chunk. */
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Bytes of a request header (magic, flags, type, cookie, offset, length). */
export const REQUEST_HEADER_BYTES = 28;
/** Bytes of a simple reply header. */
export const SIMPLE_REPLY_BYTES = 16;
/** Bytes of a structured reply chunk header. */
export const STRUCTURED_REPLY_BYTES = 20;
/** Zero padding after NBD_OPT_EXPORT_NAME's reply unless NO_ZEROES was agreed. */
export const EXPORT_NAME_PADDING_BYTES = 124;

/** Handshake flags (server) and client flags share these bit positions. */
export const HandshakeFlag = { FIXED_NEWSTYLE: 1 << 0, NO_ZEROES: 1 << 1 } as const;

/** Client options. */
export const Opt = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  PEEK_EXPORT: 4,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
  EXTENDED_HEADERS: 11,
} as const;

const REP_ERROR_BIT = 0x80000000;
/** Option reply types; errors have the top bit set. */
export const Rep = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: REP_ERROR_BIT + 1,
  ERR_POLICY: REP_ERROR_BIT + 2,
  ERR_INVALID: REP_ERROR_BIT + 3,
  ERR_PLATFORM: REP_ERROR_BIT + 4,
  ERR_TLS_REQD: REP_ERROR_BIT + 5,
  ERR_UNKNOWN: REP_ERROR_BIT + 6,
  ERR_SHUTDOWN: REP_ERROR_BIT + 7,
  ERR_BLOCK_SIZE_REQD: REP_ERROR_BIT + 8,
  ERR_TOO_BIG: REP_ERROR_BIT + 9,
} as const;

/** NBD_INFO_* items of NBD_REP_INFO. */
export const Info = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

/** Transmission flags (per export). */
export const TransmissionFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

/** Command type numbers on the wire. */
export const Cmd = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
} as const;

/** Command flags. */
export const CmdFlag = {
  FUA: 1 << 0,
  NO_HOLE: 1 << 1,
  DF: 1 << 2,
  REQ_ONE: 1 << 3,
  FAST_ZERO: 1 << 4,
} as const;

/** Structured reply chunk types. */
export const ReplyType = {
  NONE: 0,
  OFFSET_DATA: 1,
  OFFSET_HOLE: 2,
  BLOCK_STATUS: 5,
  ERROR: (1 << 15) + 1,
  ERROR_OFFSET: (1 << 15) + 2,
} as const;

/** Structured reply chunk flag: last chunk of this cookie. */
export const REPLY_FLAG_DONE = 1;

/** NBD error numbers (not the host's errno values, though they match Linux). */
export const NbdErrno = {
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ESHUTDOWN: 108,
} as const;

/** One of the NBD error numbers. */
export type NbdError = (typeof NbdErrno)[keyof typeof NbdErrno];

/** The one metadata context we serve. */
export const BASE_ALLOCATION = 'base:allocation';
/** Its context id on the wire (any nonzero constant will do, as we serve one context). */
export const BASE_ALLOCATION_ID = 1;
/** base:allocation flags of a block status descriptor. */
export const AllocationFlag = { HOLE: 1 << 0, ZERO: 1 << 1 } as const;

/** What a request asks for; the tag every command switch is exhaustive over. */
export type CommandKind =
  'read' | 'write' | 'disc' | 'flush' | 'trim' | 'cache' | 'write-zeroes' | 'block-status' | 'unknown';

/**
 * A parsed transmission request. The cookie stays as two 32-bit halves so a request costs no BigInt;
 * `offset` may exceed 2^53 only for garbage requests, which then fail the bounds check.
 */
export interface NbdRequest {
  readonly kind: CommandKind;
  readonly type: number;
  readonly flags: number;
  readonly cookieHigh: number;
  readonly cookieLow: number;
  readonly offset: number;
  readonly length: number;
  /** WRITE's data; null for every other command. */
  readonly payload: Buffer | null;
}

const KINDS: readonly CommandKind[] = [
  'read',
  'write',
  'disc',
  'flush',
  'trim',
  'cache',
  'write-zeroes',
  'block-status',
];

/** The kind of a wire command type, or 'unknown'. */
export function commandKind(type: number): CommandKind {
  return KINDS[type] ?? 'unknown';
}
