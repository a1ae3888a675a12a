// Background state transitions (creating → available, pending → completed, modifying → optimizing …).
// Work on one resource runs in order through a queue keyed by its id; `idle()` lets tests and shutdown wait
// for everything in flight. A failed job is logged and handed to its `onError` (which records the error
// state), never thrown into the request that queued it.
import { assert } from '../../base/assert.ts';
import type { Logger } from '../../base/log.ts';

/** Serialises jobs per key and tracks everything in flight. */
export class WorkQueue {
  readonly #tails = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Runs `job` after every earlier job of `key`; on failure logs and calls `onError`. */
  enqueue(key: string, job: () => Promise<void>, onError: (error: unknown) => Promise<void>): void {
    assert(key.length > 0, 'work key must not be empty');
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(job).catch(async (error: unknown) => {
      this.#logger.error({ err: error, key }, 'background transition failed');
      await onError(error).catch((nested: unknown) =>
        this.#logger.error({ err: nested, key }, 'recording failure failed'),
      );
    });
    this.#tails.set(key, next);
    this.#inFlight.add(next);
    void next.finally(() => {
      this.#inFlight.delete(next);
      if (this.#tails.get(key) === next) this.#tails.delete(key);
    });
  }

  /** Runs `fn` in `key`'s queue and resolves with its result (for request-time work that must serialise). */
  async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.finally(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Resolves when no job is queued or running (jobs queued meanwhile are waited for too). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }
}
