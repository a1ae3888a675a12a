// Exact-length reads from a socket, for the handshake (transmission parses chunks itself, for speed).
import type { Socket } from 'node:net';
import { assert } from '../base/assert.ts';
import { limits } from '../base/limits.ts';

// A client that floods the handshake is paused at this many unread bytes, so it cannot grow our buffer.
const BUFFERED_BYTES_MAX = 2 * limits.nbdOptionBytesMax;

/** Raised when the peer closed or the socket failed before the bytes arrived. */
export class PeerGoneError extends Error {
  override readonly name = 'PeerGoneError';
}

/** Buffers a socket's data and hands out exactly-sized reads, in order. */
export class ByteReader {
  readonly #socket: Socket;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  #want: { bytes: number; resolve: (data: Buffer) => void; reject: (error: Error) => void } | null = null;
  #ended: Error | null = null;
  readonly #onData = (chunk: Buffer): void => this.#push(chunk);
  readonly #onEnd = (): void => this.#fail(new PeerGoneError('peer closed the connection'));
  readonly #onError = (error: Error): void => this.#fail(new PeerGoneError(`socket error: ${error.message}`));

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
  }

  /** Resolves with exactly `bytes` bytes; rejects with PeerGoneError if the peer leaves first. */
  read(bytes: number): Promise<Buffer> {
    assert(this.#want === null, 'ByteReader: one read at a time');
    assert(Number.isSafeInteger(bytes) && bytes >= 0, 'ByteReader: bad length');
    if (this.#buffered >= bytes) return Promise.resolve(this.#take(bytes));
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise((resolve, reject) => {
      this.#want = { bytes, resolve, reject };
      this.#socket.resume();
    });
  }

  /** Stops listening and returns whatever arrived beyond the last read (the start of transmission). */
  detach(): Buffer {
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onError);
    const rest = Buffer.concat(this.#chunks);
    this.#chunks.length = 0;
    this.#buffered = 0;
    return rest;
  }

  #push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const want = this.#want;
    if (want && this.#buffered >= want.bytes) {
      this.#want = null;
      want.resolve(this.#take(want.bytes));
    } else if (!want && this.#buffered >= BUFFERED_BYTES_MAX) {
      this.#socket.pause();
    }
  }

  #fail(error: Error): void {
    if (this.#ended) return;
    this.#ended = error;
    const want = this.#want;
    this.#want = null;
    want?.reject(error);
  }

  #take(bytes: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const taken = all.subarray(0, bytes);
    this.#chunks.length = 0;
    if (all.length > bytes) this.#chunks.push(all.subarray(bytes));
    this.#buffered = all.length - bytes;
    assert(taken.length === bytes, 'ByteReader: short take');
    return taken;
  }
}
