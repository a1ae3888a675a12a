// The transmission phase of one connection: requests parsed straight from socket chunks, run concurrently,
// answered as each completes (out of order), with replies coalesced into one writev per tick.
import type { Socket } from 'node:net';
import { AssertionError, assert, assertNever } from '../base/assert.ts';
import { limits } from '../base/limits.ts';
import type { Logger } from '../base/log.ts';
import { StoreError } from '../storage/block-store.ts';
import { isOutOfSpace } from '../base/out-of-space.ts';
import type { BlockStore } from '../storage/block-store.ts';
import type { Negotiated } from './handshake.ts';
import type { PayloadBuffers } from './payload-buffers.ts';
import { adoptWithReadBuffer } from './read-buffer-socket.ts';
import {
  AllocationFlag,
  BASE_ALLOCATION_ID,
  CmdFlag,
  NbdErrno,
  REPLY_FLAG_DONE,
  REQUEST_HEADER_BYTES,
  REQUEST_MAGIC,
  ReplyType,
  SIMPLE_REPLY_BYTES,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_REPLY_BYTES,
  STRUCTURED_REPLY_MAGIC,
  commandKind,
} from './protocol.ts';
import type { NbdError, NbdRequest } from './protocol.ts';

const KNOWN_COMMAND_FLAGS = CmdFlag.FUA | CmdFlag.NO_HOLE | CmdFlag.DF | CmdFlag.REQ_ONE | CmdFlag.FAST_ZERO;
const FUA = { fua: true } as const;
const TWO_TO_32 = 2 ** 32;
// Each socket read fills at most this much of the connection's reused buffer (the kernel's own limit is near).
const READ_BUFFER_BYTES = 256 * 1024;
// How long a stopped connection waits for the peer to hang up before the socket is destroyed.
const LINGER_MS = 5_000;

/** A request rejected before it runs: answered with `errno` once its payload (if any) is skipped. */
interface Rejection {
  readonly request: NbdRequest;
  readonly errno: NbdError;
  readonly message: string;
}

/** One client in transmission phase, serving one device. */
export class NbdConnection {
  /** The device this connection serves. */
  readonly deviceId: string;
  /** The export name it opened (a plain id or an attachment secret). */
  readonly exportName: string;
  readonly #socket: Socket;
  readonly #store: BlockStore;
  readonly #logger: Logger;
  readonly #payloads: PayloadBuffers;
  // Payloads taken from #payloads (not views of socket chunks), given back when their WRITE settles.
  readonly #owned = new WeakSet<Buffer>();
  readonly #sizeBytes: number;
  readonly #readOnly: boolean;
  readonly #structured: boolean;
  readonly #allocationContext: boolean;
  readonly #header = Buffer.alloc(REQUEST_HEADER_BYTES);
  #headerFill = 0;
  // A WRITE whose payload is still arriving, and how much of it has.
  #partial: { request: NbdRequest; payload: Buffer } | null = null;
  #partialFill = 0;
  // Bytes of a rejected WRITE's payload still to skip, and the rejection to send after.
  #skipBytes = 0;
  #skipping: Rejection | null = null;
  #stash: Buffer | null = null;
  #inFlight = 0;
  #stopping = false;
  #closed = false;
  #corked = false;
  readonly #closedPromise: Promise<void>;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  constructor(options: {
    socket: Socket;
    store: BlockStore;
    negotiated: Negotiated;
    logger: Logger;
    leftover: Buffer;
    payloads: PayloadBuffers;
  }) {
    const { negotiated } = options;
    // Reads land in one reused buffer when the socket can be adopted (see read-buffer-socket.ts).
    const adopted = adoptWithReadBuffer(options.socket, Buffer.allocUnsafeSlow(READ_BUFFER_BYTES), (chunk) =>
      this.#consume(chunk, true),
    );
    const socket = adopted ?? options.socket;
    this.#socket = socket;
    this.readsIntoReusedBuffer = adopted !== null;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#payloads = options.payloads;
    this.deviceId = negotiated.export.device.id;
    this.exportName = negotiated.export.exportName;
    this.#sizeBytes = negotiated.export.device.sizeBytes;
    this.#readOnly = negotiated.export.readOnly;
    this.#structured = negotiated.structuredReplies;
    this.#allocationContext = negotiated.allocationContext;
    this.#closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => {
      this.#closed = true;
      this.#stopping = true;
    });
    socket.on('end', () => this.stop());
    if (adopted) {
      // The old socket's error listener stayed with it; peers vanishing mid-write are not server errors.
      adopted.on('error', (error) => this.#logger.debug({ err: error }, 'nbd: socket error'));
      adopted.setNoDelay(true);
    } else {
      socket.on('data', (chunk: Buffer) => this.#consume(chunk, false));
    }
    if (options.leftover.length > 0) this.#consume(options.leftover, false);
    socket.resume();
  }

  /** True when reads go into one reused buffer rather than a new Buffer per read (the fast path). */
  readonly readsIntoReusedBuffer: boolean;

  /** Resolves when the connection's socket has closed. */
  get closed(): Promise<void> {
    return this.#closedPromise;
  }

  /** Stops taking requests, lets in-flight ones answer, then closes; resolves when the socket closed. */
  stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#stash = null;
      this.#socket.pause();
    }
    this.#maybeEnd();
    return this.#closedPromise;
  }

  /** Closes at once, abandoning replies (used when a graceful stop takes too long). */
  destroy(): void {
    this.#stopping = true;
    this.#socket.destroy();
  }

  /** Requests running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  #maybeEnd(): void {
    if (!this.#stopping || this.#inFlight > 0 || this.#closed || this.#socket.writableEnded) return;
    // Read on (and drop) until the peer's FIN, so the socket can close; a peer that never sends one is cut off.
    this.#socket.resume();
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), LINGER_MS).unref();
  }

  // Parses as many requests as the chunk holds, stashing the rest when the queue is full. A `borrowed` chunk
  // is the reused read buffer: valid only until this returns, so whatever outlives the call is copied.
  #consume(chunk: Buffer, borrowed: boolean): void {
    if (this.#stash) {
      // A chunk that was already on its way when we paused: queue it behind the stash, in order.
      this.#stash = Buffer.concat([this.#stash, chunk]);
      return;
    }
    let at = 0;
    while (at < chunk.length && !this.#stopping) {
      if (this.#inFlight >= limits.nbdQueueDepthMax) {
        this.#stash = borrowed ? Buffer.from(chunk.subarray(at)) : chunk.subarray(at);
        this.#socket.pause();
        return;
      }
      if (this.#skipBytes > 0) at = this.#skip(chunk, at);
      else if (this.#partial) at = this.#fillPayload(chunk, at);
      else if (this.#headerFill === 0 && chunk.length - at >= REQUEST_HEADER_BYTES) {
        at = this.#onHeader(chunk, at, chunk, at + REQUEST_HEADER_BYTES, borrowed);
      } else {
        const take = Math.min(REQUEST_HEADER_BYTES - this.#headerFill, chunk.length - at);
        chunk.copy(this.#header, this.#headerFill, at, at + take);
        this.#headerFill += take;
        at += take;
        if (this.#headerFill === REQUEST_HEADER_BYTES) {
          this.#headerFill = 0;
          at = this.#onHeader(this.#header, 0, chunk, at, borrowed);
        }
      }
    }
  }

  // Decodes one header; returns where parsing of `chunk` continues.
  #onHeader(header: Buffer, h: number, chunk: Buffer, at: number, borrowed: boolean): number {
    if (header.readUInt32BE(h) !== REQUEST_MAGIC) {
      this.#logger.warn({ device: this.deviceId }, 'nbd: bad request magic; closing the connection');
      this.stop();
      return chunk.length;
    }
    const type = header.readUInt16BE(h + 6);
    const length = header.readUInt32BE(h + 24);
    const request: NbdRequest = {
      kind: commandKind(type),
      type,
      flags: header.readUInt16BE(h + 4),
      cookieHigh: header.readUInt32BE(h + 8),
      cookieLow: header.readUInt32BE(h + 12),
      offset: header.readUInt32BE(h + 16) * TWO_TO_32 + header.readUInt32BE(h + 20),
      length,
      payload: null,
    };
    if (request.kind === 'disc') {
      this.stop();
      return chunk.length;
    }
    if (request.kind !== 'write') {
      this.#dispatch(request);
      return at;
    }
    const rejection = this.#checkWrite(request);
    if (rejection) {
      this.#skipBytes = length;
      this.#skipping = rejection;
      if (length === 0) this.#skip(chunk, at);
      return at;
    }
    if (length === 0 || (!borrowed && chunk.length - at >= length)) {
      this.#dispatch({ ...request, payload: chunk.subarray(at, at + length) });
      return at + length;
    }
    const payload = this.#payloads.take(length);
    this.#owned.add(payload);
    this.#partial = { request, payload };
    this.#partialFill = 0;
    return at;
  }

  #fillPayload(chunk: Buffer, at: number): number {
    const partial = this.#partial;
    assert(partial !== null, 'fillPayload without a partial write');
    const take = Math.min(partial.payload.length - this.#partialFill, chunk.length - at);
    chunk.copy(partial.payload, this.#partialFill, at, at + take);
    this.#partialFill += take;
    if (this.#partialFill === partial.payload.length) {
      this.#partial = null;
      this.#dispatch({ ...partial.request, payload: partial.payload });
    }
    return at + take;
  }

  #skip(chunk: Buffer, at: number): number {
    const take = Math.min(this.#skipBytes, chunk.length - at);
    this.#skipBytes -= take;
    if (this.#skipBytes === 0 && this.#skipping) {
      const { request, errno, message } = this.#skipping;
      this.#skipping = null;
      this.#replyError(request, errno, message);
    }
    return at + take;
  }

  #checkWrite(request: NbdRequest): Rejection | null {
    if (request.length > limits.nbdPayloadBytesMax) {
      return {
        request,
        errno: NbdErrno.EINVAL,
        message: `write of ${request.length} bytes is over the maximum`,
      };
    }
    return this.#checkCommon(request);
  }

  // Checks shared by every command: flags, read-only, bounds. Null when the request may run.
  #checkCommon(request: NbdRequest): Rejection | null {
    if (request.kind === 'read' && request.length > limits.nbdPayloadBytesMax) {
      return {
        request,
        errno: NbdErrno.EINVAL,
        message: `read of ${request.length} bytes is over the maximum`,
      };
    }
    if ((request.flags & ~KNOWN_COMMAND_FLAGS) !== 0) {
      return {
        request,
        errno: NbdErrno.EINVAL,
        message: `unknown command flags 0x${request.flags.toString(16)}`,
      };
    }
    const writes = request.kind === 'write' || request.kind === 'trim' || request.kind === 'write-zeroes';
    if (writes && this.#readOnly) return { request, errno: NbdErrno.EPERM, message: 'export is read-only' };
    if (request.offset + request.length > this.#sizeBytes) {
      const errno =
        request.kind === 'write' || request.kind === 'write-zeroes' ? NbdErrno.ENOSPC : NbdErrno.EINVAL;
      return {
        request,
        errno,
        message: `range ${request.offset}+${request.length} is past the end (${this.#sizeBytes})`,
      };
    }
    return null;
  }

  #dispatch(request: NbdRequest): void {
    this.#inFlight++;
    this.#run(request).then(this.#onDone, this.#onCrash);
  }

  readonly #onDone = (): void => {
    this.#inFlight--;
    const stash = this.#stash;
    if (stash && this.#inFlight < limits.nbdQueueDepthMax) {
      this.#stash = null;
      this.#socket.resume();
      this.#consume(stash, false);
    }
    this.#maybeEnd();
  };

  readonly #onCrash = (error: unknown): void => {
    // Only assertion failures reach here; they are bugs, so crash rather than serve on in a bad state.
    process.nextTick(() => {
      throw error;
    });
  };

  async #run(request: NbdRequest): Promise<void> {
    const rejection = request.kind === 'flush' ? null : this.#checkCommon(request);
    if (rejection) {
      this.#replyError(request, rejection.errno, rejection.message);
      return;
    }
    try {
      await this.#execute(request);
    } catch (error) {
      if (error instanceof AssertionError) throw error;
      const errno = errnoOf(error);
      if (errno === NbdErrno.EIO)
        this.#logger.error({ err: error, device: this.deviceId }, 'nbd: request failed');
      this.#replyError(request, errno, error instanceof Error ? error.message : String(error));
    }
  }

  async #execute(request: NbdRequest): Promise<void> {
    const store = this.#store;
    const fua = (request.flags & CmdFlag.FUA) !== 0 ? FUA : undefined;
    switch (request.kind) {
      case 'read':
        return this.#read(request);
      case 'write':
        assert(
          request.payload !== null && request.payload.length === request.length,
          'write without its payload',
        );
        try {
          if (request.length > 0) await store.write(this.deviceId, request.offset, request.payload, fua);
        } finally {
          if (this.#owned.delete(request.payload)) this.#payloads.give(request.payload);
        }
        return this.#replyOk(request);
      case 'flush':
        await store.flush();
        return this.#replyOk(request);
      case 'trim':
        if (request.length > 0) await store.trim(this.deviceId, request.offset, request.length, fua);
        return this.#replyOk(request);
      case 'write-zeroes':
        return this.#writeZeroes(request);
      case 'cache':
        return this.#replyOk(request);
      case 'block-status':
        return this.#blockStatus(request);
      case 'disc':
        return;
      case 'unknown':
        return this.#replyError(request, NbdErrno.EINVAL, `unknown command ${request.type}`);
      default:
        return assertNever(request.kind, 'NBD command');
    }
  }

  async #writeZeroes(request: NbdRequest): Promise<void> {
    const noHole = (request.flags & CmdFlag.NO_HOLE) !== 0;
    // Punching is a metadata update; real zeros cost a full write, which FAST_ZERO asks us to refuse.
    if (noHole && (request.flags & CmdFlag.FAST_ZERO) !== 0) {
      return this.#replyError(request, NbdErrno.ENOTSUP, 'zeroing without holes is not fast');
    }
    const fua = (request.flags & CmdFlag.FUA) !== 0;
    if (request.length > 0) {
      await this.#store.writeZeroes(this.deviceId, request.offset, request.length, { fua, noHole });
    }
    this.#replyOk(request);
  }

  async #read(request: NbdRequest): Promise<void> {
    if (request.length === 0) {
      if (this.#structured) return this.#sendChunk(request, ReplyType.NONE, REPLY_FLAG_DONE, 0);
      return this.#send(simpleHeader(request, 0));
    }
    // A recycled buffer, like WRITE payloads: fresh external memory per read drives V8 into mark-compacts.
    const data = this.#payloads.take(request.length);
    try {
      await this.#store.readInto(this.deviceId, request.offset, data);
    } catch (error) {
      this.#payloads.give(data);
      throw error;
    }
    // Given back once the socket has taken the reply's last piece (writes complete in order).
    const release = (error?: Error | null): void => {
      if (error === undefined || error === null) this.#payloads.give(data);
    };
    if (!this.#structured) {
      this.#send(simpleHeader(request, 0));
      return this.#send(data, release);
    }
    if ((request.flags & CmdFlag.DF) !== 0)
      return this.#sendData(request, request.offset, data, REPLY_FLAG_DONE, release);
    this.#sendZeroAware(request, data, release);
  }

  // Zero runs go out as OFFSET_HOLE chunks ("reads as zeroes", which every unallocated range does). Scanning
  // the data we read anyway costs a memcmp; asking the pool's map per read halved 4K random-read IOPS.
  #sendZeroAware(request: NbdRequest, data: Buffer, sent: WriteDone): void {
    const end = request.offset + request.length;
    let runStart = request.offset;
    let runZero = isZero(data, 0, Math.min(end, nextPiece(request.offset)) - request.offset);
    for (let piece = nextPiece(request.offset); piece < end; piece = nextPiece(piece)) {
      const zero = isZero(data, piece - request.offset, Math.min(end, nextPiece(piece)) - request.offset);
      if (zero === runZero) continue;
      this.#sendRun(request, data, runStart, piece, runZero, 0);
      runStart = piece;
      runZero = zero;
    }
    this.#sendRun(request, data, runStart, end, runZero, REPLY_FLAG_DONE, sent);
  }

  #sendRun(
    request: NbdRequest,
    data: Buffer,
    from: number,
    to: number,
    zero: boolean,
    flags: number,
    sent?: WriteDone,
  ): void {
    assert(from < to && from >= request.offset && to <= request.offset + request.length, 'bad read run');
    if (zero) return this.#sendHole(request, from, to - from, flags, sent);
    this.#sendData(request, from, data.subarray(from - request.offset, to - request.offset), flags, sent);
  }

  #blockStatus(request: NbdRequest): void {
    if (!this.#allocationContext) {
      return this.#replyError(request, NbdErrno.EINVAL, 'no metadata context was negotiated');
    }
    if (request.length === 0) return this.#replyError(request, NbdErrno.EINVAL, 'block status of zero bytes');
    const ranges = this.#store.mapRange(this.deviceId, request.offset, request.length);
    assert(ranges.length > 0, 'mapRange returned nothing');
    const count = (request.flags & CmdFlag.REQ_ONE) !== 0 ? 1 : ranges.length;
    const body = Buffer.allocUnsafe(4 + 8 * count);
    body.writeUInt32BE(BASE_ALLOCATION_ID, 0);
    for (let i = 0; i < count; i++) {
      const range = ranges[i]!;
      body.writeUInt32BE(range.length, 4 + 8 * i);
      body.writeUInt32BE(range.allocated ? 0 : AllocationFlag.HOLE | AllocationFlag.ZERO, 8 + 8 * i);
    }
    this.#sendChunk(request, ReplyType.BLOCK_STATUS, REPLY_FLAG_DONE, body.length);
    this.#send(body);
  }

  #replyOk(request: NbdRequest): void {
    this.#send(simpleHeader(request, 0));
  }

  #replyError(request: NbdRequest, errno: NbdError, message: string): void {
    const usesChunks = this.#structured && (request.kind === 'read' || request.kind === 'block-status');
    if (!usesChunks) return this.#send(simpleHeader(request, errno));
    const text = Buffer.from(message.slice(0, 200), 'utf8');
    const body = Buffer.allocUnsafe(6 + text.length);
    body.writeUInt32BE(errno, 0);
    body.writeUInt16BE(text.length, 4);
    text.copy(body, 6);
    this.#sendChunk(request, ReplyType.ERROR, REPLY_FLAG_DONE, body.length);
    this.#send(body);
  }

  #sendData(request: NbdRequest, offset: number, data: Buffer, flags: number, sent?: WriteDone): void {
    const header = chunkHeader(request, ReplyType.OFFSET_DATA, flags, 8 + data.length, 8);
    writeOffset(header, STRUCTURED_REPLY_BYTES, offset);
    this.#send(header);
    this.#send(data, sent);
  }

  #sendHole(request: NbdRequest, offset: number, length: number, flags: number, sent?: WriteDone): void {
    const header = chunkHeader(request, ReplyType.OFFSET_HOLE, flags, 12, 12);
    writeOffset(header, STRUCTURED_REPLY_BYTES, offset);
    header.writeUInt32BE(length, STRUCTURED_REPLY_BYTES + 8);
    this.#send(header, sent);
  }

  #sendChunk(request: NbdRequest, type: number, flags: number, length: number): void {
    this.#send(chunkHeader(request, type, flags, length, 0));
  }

  // `sent` runs once the socket has taken `buffer` (never, if the connection is closed: the buffer is dropped).
  #send(buffer: Buffer, sent?: WriteDone): void {
    if (this.#closed) return;
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      // nextTick: replies finished in this callback's microtasks leave together; setImmediate batched more
      // but measured no better at QD32 (27-30k either way) and adds latency.
      process.nextTick(this.#uncork);
    }
    this.#socket.write(buffer, sent);
  }
}

/** A socket write callback. */
type WriteDone = (error?: Error | null) => void;

// Zero runs in reads are found per aligned piece of this size (a pool extent by default).
const ZERO_SCAN_PIECE_BYTES = 64 * 1024;
const ZEROES = Buffer.alloc(ZERO_SCAN_PIECE_BYTES);

function nextPiece(offset: number): number {
  return (Math.floor(offset / ZERO_SCAN_PIECE_BYTES) + 1) * ZERO_SCAN_PIECE_BYTES;
}

function isZero(data: Buffer, from: number, to: number): boolean {
  return data.subarray(from, to).equals(ZEROES.subarray(0, to - from));
}

function simpleHeader(request: NbdRequest, errno: number): Buffer {
  const header = Buffer.allocUnsafe(SIMPLE_REPLY_BYTES);
  header.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  header.writeUInt32BE(errno, 4);
  header.writeUInt32BE(request.cookieHigh, 8);
  header.writeUInt32BE(request.cookieLow, 12);
  return header;
}

// A structured chunk header with `extra` bytes of room after it for the chunk's fixed fields.
function chunkHeader(
  request: NbdRequest,
  type: number,
  flags: number,
  length: number,
  extra: number,
): Buffer {
  const header = Buffer.allocUnsafe(STRUCTURED_REPLY_BYTES + extra);
  header.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  header.writeUInt16BE(flags, 4);
  header.writeUInt16BE(type, 6);
  header.writeUInt32BE(request.cookieHigh, 8);
  header.writeUInt32BE(request.cookieLow, 12);
  header.writeUInt32BE(length, 16);
  return header;
}

function writeOffset(buffer: Buffer, at: number, offset: number): void {
  buffer.writeUInt32BE(Math.floor(offset / TWO_TO_32), at);
  buffer.writeUInt32BE(offset % TWO_TO_32, at + 4);
}

/** Maps a store error to the NBD error a client sees; anything unexpected is EIO. */
export function errnoOf(error: unknown): NbdError {
  if (!(error instanceof StoreError)) return isOutOfSpace(error) ? NbdErrno.ENOSPC : NbdErrno.EIO;
  switch (error.code) {
    case 'ENOSPC':
      return NbdErrno.ENOSPC;
    case 'EROFS':
      return NbdErrno.EPERM;
    case 'EINVAL':
      return NbdErrno.EINVAL;
    case 'ENOENT':
      return NbdErrno.ESHUTDOWN;
    case 'EEXIST':
    case 'EBUSY':
      return NbdErrno.EIO;
    default:
      return assertNever(error.code, 'store error code');
  }
}
