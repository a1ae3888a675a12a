// A counting semaphore: bounds concurrent QEMU boots (limits.qemuBootsConcurrentMax) and archive fetches
// of lazy-restore hydrators (limits.hydrationChunksInFlightTotal).
import { assert } from './assert.ts';

/** Grants at most `permits` holders at once, first come first served. */
export class Semaphore {
  readonly #waiters: (() => void)[] = [];
  #available: number;

  constructor(permits: number) {
    assert(Number.isInteger(permits) && permits > 0, 'a semaphore needs at least one permit');
    this.#available = permits;
  }

  /** Waits for a permit; the returned function gives it back (call it exactly once). */
  async acquire(): Promise<() => void> {
    if (this.#available > 0) this.#available--;
    else await new Promise<void>((resolve) => this.#waiters.push(resolve));
    let released = false;
    return () => {
      assert(!released, 'semaphore permit released twice');
      released = true;
      const next = this.#waiters.shift();
      if (next === undefined) this.#available++;
      else next();
    };
  }
}
