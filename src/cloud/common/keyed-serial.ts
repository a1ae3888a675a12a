// Per-key exclusion with a bound on the keys it remembers: work on one key runs in order, work on different
// keys runs at once. A key is remembered only while it has work queued or running, so the bound caps the
// keys busy at one time; the caller says what a request beyond it gets (RequestLimitExceeded, an error
// state). Used by the work queue (per resource id) and by ClientToken idempotency (per token).
import { assert } from '../../base/assert.ts';

/** Runs work one at a time per key, remembering at most `keysMax` busy keys. */
export class KeyedSerial {
  /** Per busy key: the tail of its work, which settles (never rejects) when the last queued run ends. */
  readonly #tails = new Map<string, Promise<void>>();
  readonly #keysMax: number;

  constructor(keysMax: number) {
    assert(
      Number.isSafeInteger(keysMax) && keysMax > 0,
      `keyed serial bound ${keysMax} is a positive integer`,
    );
    this.#keysMax = keysMax;
  }

  /** Keys with work queued or running. */
  get size(): number {
    return this.#tails.size;
  }

  /**
   * Runs `fn` after every earlier run of `key` and resolves or rejects as it does. Returns undefined (and runs
   * nothing) when `key` is idle and `keysMax` keys are busy already.
   */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> | undefined {
    const previous = this.#tails.get(key);
    if (previous === undefined && this.#tails.size >= this.#keysMax) return undefined;
    const result = (previous ?? Promise.resolve()).then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.finally(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    assert(this.#tails.size <= this.#keysMax, 'keyed serial keys stay bounded');
    return result;
  }
}
