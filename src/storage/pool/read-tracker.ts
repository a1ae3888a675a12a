// Tracks reads in flight by epoch, so freed extents are reused only after every read that began before the
// free has finished (a late read must never return another volume's new data). O(1) per read.
import { assert } from '../../base/assert.ts';

/** Counts reads per epoch; `drained()` resolves once every read begun before the call has ended. */
export class ReadTracker {
  #epoch = 0;
  readonly #inFlight = new Map<number, number>();
  #waiters: { epoch: number; resolve: () => void }[] = [];

  /** Marks a read as begun; pass the result to `end`. */
  begin(): number {
    const epoch = this.#epoch;
    this.#inFlight.set(epoch, (this.#inFlight.get(epoch) ?? 0) + 1);
    return epoch;
  }

  /** Marks a read as ended. */
  end(epoch: number): void {
    const count = this.#inFlight.get(epoch);
    assert(count !== undefined && count > 0, `read tracker: epoch ${epoch} has no reads`);
    if (count > 1) {
      this.#inFlight.set(epoch, count - 1);
      return;
    }
    this.#inFlight.delete(epoch);
    if (this.#waiters.length > 0) this.#wake();
  }

  /** Resolves when every read begun before this call has ended. */
  drained(): Promise<void> {
    const epoch = this.#epoch++;
    if (!this.#busyUpTo(epoch)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ epoch, resolve }));
  }

  #busyUpTo(epoch: number): boolean {
    for (const key of this.#inFlight.keys()) if (key <= epoch) return true;
    return false;
  }

  #wake(): void {
    const waiting: { epoch: number; resolve: () => void }[] = [];
    for (const waiter of this.#waiters) {
      if (this.#busyUpTo(waiter.epoch)) waiting.push(waiter);
      else waiter.resolve();
    }
    this.#waiters = waiting;
  }
}
