// Background state transitions (creating → available, pending → completed, modifying → optimizing …).
// Work on one resource runs in order through a queue keyed by its id; `idle()` lets tests and shutdown wait
// for everything in flight. A failed job is logged and handed to its `onError` (which records the error
// state), never thrown into the request that queued it.
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import type { Logger } from '../../base/log.ts';
import { CloudError } from '../errors.ts';
import { KeyedSerial } from './keyed-serial.ts';

/** Serialises jobs per key and tracks everything in flight. */
export class WorkQueue {
  readonly #serial = new KeyedSerial(limits.workKeysBusyMax);
  readonly #inFlight = new Set<Promise<void>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Runs `job` after every earlier job of `key`; on failure logs and calls `onError`. With
   * `limits.workKeysBusyMax` other keys busy, the job does not run and `onError` gets RequestLimitExceeded.
   */
  enqueue(key: string, job: () => Promise<void>, onError: (error: unknown) => Promise<void>): void {
    assert(key.length > 0, 'work key must not be empty');
    const run = async () => {
      try {
        await job();
      } catch (error) {
        await this.#failed(key, error, onError);
      }
    };
    const next =
      this.#serial.run(key, run) ?? this.#failed(key, new CloudError('RequestLimitExceeded'), onError);
    this.#inFlight.add(next);
    void next.finally(() => this.#inFlight.delete(next));
  }

  async #failed(key: string, error: unknown, onError: (error: unknown) => Promise<void>): Promise<void> {
    this.#logger.error({ err: error, key }, 'background transition failed');
    await onError(error).catch((nested: unknown) =>
      this.#logger.error({ err: nested, key }, 'recording failure failed'),
    );
  }

  /**
   * Runs `fn` in `key`'s queue and resolves with its result (for request-time work that must serialise);
   * RequestLimitExceeded when `limits.workKeysBusyMax` other keys are busy.
   */
  async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const result = this.#serial.run(key, fn);
    if (result === undefined) throw new CloudError('RequestLimitExceeded');
    return result;
  }

  /** Resolves when no job is queued or running (jobs queued meanwhile are waited for too). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }
}
