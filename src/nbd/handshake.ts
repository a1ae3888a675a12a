// The fixed-newstyle handshake: option haggling until NBD_OPT_GO / NBD_OPT_EXPORT_NAME picks an export.
// On a listener that requires TLS, every option but STARTTLS and ABORT gets NBD_REP_ERR_TLS_REQD until the
// client has upgraded, and from then on it sees only the exports its TLS identity may open.
import type { Socket } from 'node:net';
import { assert } from '../base/assert.ts';
import { limits } from '../base/limits.ts';
import { ByteReader } from './byte-reader.ts';
import type { ExportRegistry, ResolvedExport, ResolveFailure } from './exports.ts';
import { TlsUpgradeError } from './nbd-tls.ts';
import type { NbdTls } from './nbd-tls.ts';
import type { NbdAuthorizer } from './nbd-server.ts';
import {
  BASE_ALLOCATION,
  BASE_ALLOCATION_ID,
  EXPORT_NAME_PADDING_BYTES,
  HandshakeFlag,
  IHAVEOPT,
  Info,
  NBD_MAGIC,
  OPTION_REPLY_MAGIC,
  Opt,
  Rep,
  TransmissionFlag,
} from './protocol.ts';

/** What the handshake agreed on; transmission starts from here. */
export interface Negotiated {
  readonly export: ResolvedExport;
  readonly structuredReplies: boolean;
  /** Whether base:allocation was selected for this export (BLOCK_STATUS allowed). */
  readonly allocationContext: boolean;
  readonly transmissionFlags: number;
}

/** The socket and reader of one handshake; STARTTLS swaps both for their encrypted counterparts. */
export interface HandshakeChannel {
  socket: Socket;
  reader: ByteReader;
}

/**
 * Who a listener trusts: `trusted` (the 0600 unix socket, or plain TCP on loopback) sees every export;
 * `tls` requires STARTTLS first and shows each client only what `authorize` grants its identity.
 */
export type ListenerAccess =
  | { readonly kind: 'trusted' }
  | { readonly kind: 'tls'; readonly tls: NbdTls; readonly authorize: NbdAuthorizer };

/** Why a handshake ended without an export. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
}

const PREFERRED_BLOCK_BYTES = 4096;
const KNOWN_CLIENT_FLAGS = HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES;

interface State {
  readonly channel: HandshakeChannel;
  readonly registry: ExportRegistry;
  readonly access: ListenerAccess;
  /** The TLS identity once STARTTLS succeeded; null before (and always on a trusted listener). */
  identity: string | null;
  fixedNewstyle: boolean;
  noZeroes: boolean;
  structuredReplies: boolean;
  /** Export name base:allocation was selected for by the last SET_META_CONTEXT, or null. */
  allocationFor: string | null;
}

/**
 * Runs the handshake on `channel` (whose socket and reader STARTTLS replaces); resolves with the export
 * chosen, or rejects with HandshakeError / PeerGoneError.
 */
export async function negotiate(
  channel: HandshakeChannel,
  registry: ExportRegistry,
  access: ListenerAccess,
): Promise<Negotiated> {
  const { socket, reader } = channel;
  const greeting = Buffer.alloc(18);
  greeting.writeBigUInt64BE(NBD_MAGIC, 0);
  greeting.writeBigUInt64BE(IHAVEOPT, 8);
  greeting.writeUInt16BE(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES, 16);
  socket.write(greeting);
  const clientFlags = (await reader.read(4)).readUInt32BE(0);
  if ((clientFlags & ~KNOWN_CLIENT_FLAGS) !== 0)
    throw new HandshakeError(`unknown client flags 0x${clientFlags.toString(16)}`);
  const state: State = {
    channel,
    registry,
    access,
    identity: null,
    fixedNewstyle: (clientFlags & HandshakeFlag.FIXED_NEWSTYLE) !== 0,
    noZeroes: (clientFlags & HandshakeFlag.NO_ZEROES) !== 0,
    structuredReplies: false,
    allocationFor: null,
  };
  for (let count = 0; count < limits.nbdOptionsMax; count++) {
    const header = await channel.reader.read(16);
    if (header.readBigUInt64BE(0) !== IHAVEOPT) throw new HandshakeError('option without IHAVEOPT magic');
    const option = header.readUInt32BE(8);
    const length = header.readUInt32BE(12);
    if (length > limits.nbdOptionBytesMax) {
      await discard(channel.reader, length);
      reply(
        state,
        option,
        Rep.ERR_TOO_BIG,
        text(`option data of ${length} bytes is over ${limits.nbdOptionBytesMax}`),
      );
      continue;
    }
    const data = await channel.reader.read(length);
    const chosen = awaitingTls(state)
      ? await beforeTls(state, option, data)
      : await handleOption(state, option, data);
    if (chosen) return chosen;
  }
  throw new HandshakeError(`more than ${limits.nbdOptionsMax} options`);
}

function awaitingTls(state: State): boolean {
  return state.access.kind === 'tls' && state.identity === null;
}

// Before TLS on a listener that requires it: only STARTTLS and ABORT; EXPORT_NAME has no error reply.
async function beforeTls(state: State, option: number, data: Buffer): Promise<null> {
  assert(state.access.kind === 'tls', 'beforeTls on a trusted listener');
  switch (option) {
    case Opt.STARTTLS:
      if (data.length !== 0) return invalid(state, option, 'STARTTLS takes no data');
      await startTls(state, state.access.tls);
      return null;
    case Opt.ABORT:
      reply(state, option, Rep.ACK);
      throw new HandshakeError('client aborted');
    case Opt.EXPORT_NAME:
      throw new HandshakeError('NBD_OPT_EXPORT_NAME before STARTTLS on a listener that requires TLS');
    default:
      if (!state.fixedNewstyle) throw new HandshakeError('a non-fixed-newstyle client cannot do TLS');
      reply(state, option, Rep.ERR_TLS_REQD, text('this listener requires TLS: send NBD_OPT_STARTTLS first'));
      return null;
  }
}

// Acknowledges STARTTLS, then runs the TLS handshake on the bare socket and swaps the channel to it.
async function startTls(state: State, tls: NbdTls): Promise<void> {
  const { channel } = state;
  // The client may send nothing between STARTTLS and our reply: whatever it did is not TLS.
  const early = channel.reader.detach();
  if (early.length > 0) throw new HandshakeError('data after NBD_OPT_STARTTLS before its reply');
  reply(state, Opt.STARTTLS, Rep.ACK);
  try {
    const upgraded = await tls.upgrade(channel.socket);
    channel.socket = upgraded.socket;
    channel.reader = new ByteReader(upgraded.socket);
    state.identity = upgraded.identity;
  } catch (error) {
    if (error instanceof TlsUpgradeError) throw new HandshakeError(error.message);
    throw error;
  }
  assert(state.identity !== null, 'startTls: no identity after the upgrade');
}

// The devices this client may see: all on a trusted listener, else what its identity is granted.
async function allowedDevices(state: State): Promise<ReadonlySet<string> | undefined> {
  if (state.access.kind === 'trusted') return undefined;
  const identity = state.identity;
  assert(identity !== null, 'allowedDevices before TLS');
  // A failed lookup (the database away) ends this handshake, never the server.
  return state.access.authorize(identity).catch((error: unknown) => {
    const why = error instanceof Error ? error.message : String(error);
    throw new HandshakeError(`could not look up what ${identity} may open: ${why}`);
  });
}

// Returns the negotiated export when the option ends the handshake, else null to keep haggling.
async function handleOption(state: State, option: number, data: Buffer): Promise<Negotiated | null> {
  switch (option) {
    case Opt.EXPORT_NAME:
      return exportName(state, data.toString('utf8'), await allowedDevices(state));
    case Opt.GO:
    case Opt.INFO:
      return info(state, option, data, await allowedDevices(state));
    case Opt.ABORT:
      reply(state, option, Rep.ACK);
      throw new HandshakeError('client aborted');
    case Opt.LIST:
      list(state, data, await allowedDevices(state));
      return null;
    case Opt.STARTTLS:
      if (data.length !== 0) return invalid(state, option, 'STARTTLS takes no data');
      if (state.identity !== null) return invalid(state, option, 'TLS is already on');
      reply(state, option, Rep.ERR_UNSUP, text('this listener does not offer TLS'));
      return null;
    case Opt.STRUCTURED_REPLY:
      if (data.length !== 0) return invalid(state, option, 'STRUCTURED_REPLY takes no data');
      state.structuredReplies = true;
      reply(state, option, Rep.ACK);
      return null;
    case Opt.LIST_META_CONTEXT:
    case Opt.SET_META_CONTEXT:
      metaContext(state, option, data, await allowedDevices(state));
      return null;
    default:
      if (!state.fixedNewstyle)
        throw new HandshakeError(`unknown option ${option} from a non-fixed-newstyle client`);
      reply(state, option, Rep.ERR_UNSUP, text(`option ${option} is not supported`));
      return null;
  }
}

function exportName(state: State, name: string, allowed: ReadonlySet<string> | undefined): Negotiated {
  const resolved = state.registry.resolve(name, allowed);
  // NBD_OPT_EXPORT_NAME has no error reply: the spec's only answer to a bad name is to hang up.
  if ('reason' in resolved) throw new HandshakeError(`NBD_OPT_EXPORT_NAME refused: ${resolved.message}`);
  const negotiated = finish(state, resolved);
  const body = Buffer.alloc(10 + (state.noZeroes ? 0 : EXPORT_NAME_PADDING_BYTES));
  body.writeBigUInt64BE(BigInt(resolved.device.sizeBytes), 0);
  body.writeUInt16BE(negotiated.transmissionFlags, 8);
  state.channel.socket.write(body);
  return negotiated;
}

function info(
  state: State,
  option: number,
  data: Buffer,
  allowed: ReadonlySet<string> | undefined,
): Negotiated | null {
  const parsed = parseNameAndRequests(data);
  if (!parsed) return invalid(state, option, 'malformed NBD_OPT_INFO/GO data');
  const resolved = state.registry.resolve(parsed.name, allowed);
  if ('reason' in resolved) return refuse(state, option, resolved);
  const negotiated = finish(state, resolved);
  const exportInfo = Buffer.alloc(12);
  exportInfo.writeUInt16BE(Info.EXPORT, 0);
  exportInfo.writeBigUInt64BE(BigInt(resolved.device.sizeBytes), 2);
  exportInfo.writeUInt16BE(negotiated.transmissionFlags, 10);
  reply(state, option, Rep.INFO, exportInfo);
  for (const request of new Set(parsed.requests)) {
    if (request === Info.NAME) reply(state, option, Rep.INFO, infoString(Info.NAME, resolved.device.id));
    if (request === Info.DESCRIPTION)
      reply(state, option, Rep.INFO, infoString(Info.DESCRIPTION, resolved.description));
    if (request === Info.BLOCK_SIZE) reply(state, option, Rep.INFO, blockSizeInfo());
  }
  reply(state, option, Rep.ACK);
  return option === Opt.GO ? negotiated : null;
}

function finish(state: State, resolved: ResolvedExport): Negotiated {
  const F = TransmissionFlag;
  let flags = F.HAS_FLAGS | F.SEND_FLUSH | F.SEND_CACHE | F.CAN_MULTI_CONN;
  if (state.structuredReplies) flags |= F.SEND_DF;
  if (resolved.readOnly) flags |= F.READ_ONLY;
  else flags |= F.SEND_FUA | F.SEND_TRIM | F.SEND_WRITE_ZEROES | F.SEND_FAST_ZERO;
  const allocationContext = state.structuredReplies && state.allocationFor === resolved.exportName;
  return {
    export: resolved,
    structuredReplies: state.structuredReplies,
    allocationContext,
    transmissionFlags: flags,
  };
}

function list(state: State, data: Buffer, allowed: ReadonlySet<string> | undefined): void {
  if (data.length !== 0) {
    invalid(state, Opt.LIST, 'NBD_OPT_LIST takes no data');
    return;
  }
  for (const entry of state.registry.list(allowed)) {
    const name = Buffer.from(entry.name, 'utf8');
    const description = Buffer.from(entry.description, 'utf8');
    const body = Buffer.alloc(4 + name.length + description.length);
    body.writeUInt32BE(name.length, 0);
    name.copy(body, 4);
    description.copy(body, 4 + name.length);
    reply(state, Opt.LIST, Rep.SERVER, body);
  }
  reply(state, Opt.LIST, Rep.ACK);
}

function metaContext(
  state: State,
  option: number,
  data: Buffer,
  allowed: ReadonlySet<string> | undefined,
): void {
  const parsed = parseMetaContextQuery(data);
  if (!parsed) {
    invalid(state, option, 'malformed meta context request');
    return;
  }
  const isSet = option === Opt.SET_META_CONTEXT;
  if (isSet && !state.structuredReplies) {
    invalid(state, option, 'NBD_OPT_SET_META_CONTEXT needs NBD_OPT_STRUCTURED_REPLY first');
    return;
  }
  const resolved = state.registry.resolve(parsed.name, allowed);
  if ('reason' in resolved) {
    refuse(state, option, resolved);
    return;
  }
  const wanted =
    parsed.queries.length === 0 ? !isSet : parsed.queries.some((q) => matchesAllocation(q, isSet));
  if (isSet) state.allocationFor = wanted ? parsed.name : null;
  if (wanted) {
    const name = Buffer.from(BASE_ALLOCATION);
    const body = Buffer.alloc(4 + name.length);
    body.writeUInt32BE(isSet ? BASE_ALLOCATION_ID : 0, 0);
    name.copy(body, 4);
    reply(state, option, Rep.META_CONTEXT, body);
  }
  reply(state, option, Rep.ACK);
}

// LIST may use the namespace wildcard "base:"; SET must name the context exactly.
function matchesAllocation(query: string, isSet: boolean): boolean {
  return query === BASE_ALLOCATION || (!isSet && query === 'base:');
}

/** Parses NBD_OPT_INFO/GO data: u32 name length, name, u16 count, u16 info types. Null if malformed. */
export function parseNameAndRequests(data: Buffer): { name: string; requests: number[] } | null {
  if (data.length < 6) return null;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 6) return null;
  const countAt = 4 + nameLength;
  const count = data.readUInt16BE(countAt);
  if (data.length !== countAt + 2 + 2 * count) return null;
  const requests: number[] = [];
  for (let i = 0; i < count; i++) requests.push(data.readUInt16BE(countAt + 2 + 2 * i));
  return { name: data.toString('utf8', 4, countAt), requests };
}

/** Parses meta context data: u32 name length, name, u32 query count, (u32 length, query)*. Null if malformed. */
export function parseMetaContextQuery(data: Buffer): { name: string; queries: string[] } | null {
  if (data.length < 8) return null;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 8) return null;
  let at = 4 + nameLength;
  const name = data.toString('utf8', 4, at);
  const count = data.readUInt32BE(at);
  at += 4;
  const queries: string[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) return null;
    const length = data.readUInt32BE(at);
    if (length > data.length - at - 4) return null;
    queries.push(data.toString('utf8', at + 4, at + 4 + length));
    at += 4 + length;
  }
  return at === data.length ? { name, queries } : null;
}

function refuse(state: State, option: number, failure: ResolveFailure): null {
  const type = failure.reason === 'policy' ? Rep.ERR_POLICY : Rep.ERR_UNKNOWN;
  reply(state, option, type, text(failure.message));
  return null;
}

function invalid(state: State, option: number, message: string): null {
  reply(state, option, Rep.ERR_INVALID, text(message));
  return null;
}

function reply(state: State, option: number, type: number, body: Buffer = Buffer.alloc(0)): void {
  assert(body.length <= limits.nbdOptionBytesMax, 'option reply too large');
  const header = Buffer.alloc(20);
  header.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  header.writeUInt32BE(option, 8);
  header.writeUInt32BE(type, 12);
  header.writeUInt32BE(body.length, 16);
  state.channel.socket.write(body.length === 0 ? header : Buffer.concat([header, body]));
}

function infoString(type: number, value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const body = Buffer.alloc(2 + bytes.length);
  body.writeUInt16BE(type, 0);
  bytes.copy(body, 2);
  return body;
}

function blockSizeInfo(): Buffer {
  const body = Buffer.alloc(14);
  body.writeUInt16BE(Info.BLOCK_SIZE, 0);
  body.writeUInt32BE(1, 2);
  body.writeUInt32BE(PREFERRED_BLOCK_BYTES, 6);
  body.writeUInt32BE(limits.nbdPayloadBytesMax, 10);
  return body;
}

function text(message: string): Buffer {
  return Buffer.from(message, 'utf8');
}

async function discard(reader: ByteReader, bytes: number): Promise<void> {
  for (let left = bytes; left > 0;) {
    const step = Math.min(left, limits.nbdOptionBytesMax);
    await reader.read(step);
    left -= step;
  }
}
