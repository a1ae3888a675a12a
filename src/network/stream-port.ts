// One switch port: a unix stream socket QEMU connects with `-netdev stream`, carrying Ethernet frames each
// behind a 4-byte big-endian length (QEMU's net/stream.c framing, the same as `-netdev socket`).
import type { Socket } from 'node:net';
import { assert } from '../base/assert.ts';
import { limits } from '../base/limits.ts';
import { ETHERNET_HEADER_BYTES } from './frames.ts';

const LENGTH_BYTES = 4;

/** Frames in and out of one QEMU stream netdev. A length out of bounds closes the port (a bug or a stranger). */
export class StreamPort {
  readonly #socket: Socket;
  #pending: Buffer = Buffer.alloc(0);
  #closed = false;
  /** Frames received; the buffer is the frame's own and may be kept or rewritten. */
  onFrame: (frame: Buffer) => void = () => {};
  /** Called once when the port closes, for whatever reason. */
  onClose: () => void = () => {};

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('close', () => this.#close());
    socket.on('error', () => this.#close());
  }

  /** Queues one frame to QEMU; frames to a closed port are dropped, as a cable pulled out would. */
  send(frame: Buffer): void {
    assert(frame.length >= ETHERNET_HEADER_BYTES, 'StreamPort.send: runt frame');
    assert(frame.length <= limits.networkFrameBytesMax, 'StreamPort.send: frame too large');
    if (this.#closed) return;
    const length = Buffer.allocUnsafe(LENGTH_BYTES);
    length.writeUInt32BE(frame.length, 0);
    this.#socket.write(length);
    this.#socket.write(frame);
  }

  /** Closes the port and its socket. */
  close(): void {
    this.#socket.destroy();
    this.#close();
  }

  #receive(chunk: Buffer): void {
    let data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (data.length >= LENGTH_BYTES) {
      const length = data.readUInt32BE(0);
      if (length < ETHERNET_HEADER_BYTES || length > limits.networkFrameBytesMax) {
        this.close();
        return;
      }
      if (data.length < LENGTH_BYTES + length) break;
      // A copy, so the frame outlives the socket's chunk and can be rewritten in place.
      const frame = Buffer.from(data.subarray(LENGTH_BYTES, LENGTH_BYTES + length));
      data = data.subarray(LENGTH_BYTES + length);
      this.onFrame(frame);
      if (this.#closed) return;
    }
    this.#pending = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = Buffer.alloc(0);
    this.onClose();
  }
}
