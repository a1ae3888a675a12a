// Recycled WRITE payload buffers. Without them, 1 GiB written through NBD allocates 1 GiB of short-lived
// external memory, and V8 answers external-memory pressure with a mark-compact every few MiB: measured as a
// third of the event loop's time on sequential writes.
import { assert } from '../base/assert.ts';

/** A free list of buffers by exact length, holding at most `maxBytes`. */
export class PayloadBuffers {
  readonly #free = new Map<number, Buffer[]>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** A buffer of exactly `length` bytes with stale contents: the caller overwrites all of it. */
  take(length: number): Buffer {
    const buffer = this.#free.get(length)?.pop();
    if (buffer === undefined) return Buffer.allocUnsafeSlow(length);
    this.#bytes -= length;
    return buffer;
  }

  /** Returns a buffer from `take` once nothing refers to it any more; dropped when the list is full. */
  give(buffer: Buffer): void {
    assert(buffer.byteOffset === 0 && buffer.buffer.byteLength === buffer.length, 'give: not from take');
    if (this.#bytes + buffer.length > this.#maxBytes) return;
    let list = this.#free.get(buffer.length);
    if (list === undefined) this.#free.set(buffer.length, (list = []));
    list.push(buffer);
    this.#bytes += buffer.length;
  }

  /** Bytes held for reuse. */
  get heldBytes(): number {
    return this.#bytes;
  }
}
