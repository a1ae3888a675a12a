// Verified chunk reads for lazy devices: concurrent readers of one chunk share one fetch, and the last few
// chunks stay cached, so 4 KiB reads of an unfetched snapshot chunk do not each fetch 512 KiB.
import { limits } from '../../base/limits.ts';

/** Reads a chunk by hash and length; must return only verified bytes (restorer.readChunk). */
export type ReadVerifiedChunk = (hash: string, lengthBytes: number) => Promise<Buffer>;

/** Shared, cached chunk fetches. Returned buffers are shared: callers copy out of them, never into them. */
export class ChunkFetcher {
  readonly #read: ReadVerifiedChunk;
  readonly #capacity: number;
  readonly #inFlight = new Map<string, Promise<Buffer>>();
  // Insertion order is recency order: a hit moves the chunk to the end, eviction takes the first.
  readonly #cache = new Map<string, Buffer>();

  constructor(read: ReadVerifiedChunk, capacity = limits.lazyChunkCacheChunks) {
    this.#read = read;
    this.#capacity = capacity;
  }

  /** The verified bytes of chunk `hash`. */
  get(hash: string, lengthBytes: number): Promise<Buffer> {
    const cached = this.#cache.get(hash);
    if (cached !== undefined) {
      this.#cache.delete(hash);
      this.#cache.set(hash, cached);
      return Promise.resolve(cached);
    }
    const running = this.#inFlight.get(hash);
    if (running !== undefined) return running;
    const fetch = this.#read(hash, lengthBytes).then((data) => {
      this.#cache.set(hash, data);
      if (this.#cache.size > this.#capacity) this.#cache.delete(this.#cache.keys().next().value!);
      return data;
    });
    const tracked = fetch.finally(() => this.#inFlight.delete(hash));
    this.#inFlight.set(hash, tracked);
    return tracked;
  }
}
