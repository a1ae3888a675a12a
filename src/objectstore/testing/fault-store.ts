// A SnapshotStore wrapper for tests that injects errors, delays, short reads, corruption and crashes,
// driven by a seeded PRNG so a failing run can be replayed.
import { assert } from '../../base/assert.ts';
import {
  ArchiveError,
  type ListOptions,
  type ObjectInfo,
  type ObjectPage,
  type PutOptions,
  type SnapshotStore,
} from '../snapshot-store.ts';

/** Which faults to inject; rates are probabilities per operation. */
export interface FaultPlan {
  readonly seed?: number;
  /** Transient EIO on any operation. */
  readonly errorRate?: number;
  /** Added latency per operation. */
  readonly delayMs?: number;
  /** A get returns a truncated copy (the stored object is intact). */
  readonly shortReadRate?: number;
  /** Gets of keys matching this return a copy with one bit flipped, every time (damage at rest). */
  readonly corruptKeys?: (key: string) => boolean;
  /** After this many successful puts, every operation fails: a crashed archiver. */
  readonly crashAfterPuts?: number;
}

/** Counts of what went through the wrapper. */
export interface FaultCounts {
  puts: number;
  putsWritten: number;
  gets: number;
  injectedErrors: number;
  shortReads: number;
}

/** A seeded xorshift PRNG in [0, 1). */
function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** Wraps `inner` with the faults in `plan`; `counts` shows what happened. */
export class FaultStore implements SnapshotStore {
  readonly description: string;
  readonly counts: FaultCounts = { puts: 0, putsWritten: 0, gets: 0, injectedErrors: 0, shortReads: 0 };
  /** While true, every operation fails with EIO: the store is down (a test flips it). */
  down = false;
  readonly #inner: SnapshotStore;
  readonly #plan: FaultPlan;
  readonly #random: () => number;

  constructor(inner: SnapshotStore, plan: FaultPlan) {
    this.#inner = inner;
    this.#plan = plan;
    this.#random = prng(plan.seed ?? 1);
    this.description = `faulty ${inner.description}`;
  }

  async #before(operation: string, key: string): Promise<void> {
    if (this.#plan.delayMs !== undefined)
      await new Promise((resolve) => setTimeout(resolve, this.#plan.delayMs));
    const crashed =
      this.#plan.crashAfterPuts !== undefined && this.counts.putsWritten >= this.#plan.crashAfterPuts;
    if (this.down || crashed || this.#random() < (this.#plan.errorRate ?? 0)) {
      this.counts.injectedErrors++;
      const why = this.down ? ' (down)' : crashed ? ' (crashed)' : '';
      throw new ArchiveError('EIO', `injected fault: ${operation} ${key}${why}`);
    }
  }

  async put(key: string, body: Buffer, options?: PutOptions): Promise<'written' | 'exists'> {
    this.counts.puts++;
    await this.#before('put', key);
    const outcome = await this.#inner.put(key, body, options);
    if (outcome === 'written') this.counts.putsWritten++;
    return outcome;
  }

  async get(key: string): Promise<Buffer> {
    this.counts.gets++;
    await this.#before('get', key);
    const data = await this.#inner.get(key);
    if (this.#plan.corruptKeys?.(key) === true && data.length > 0) {
      const copy = Buffer.from(data);
      copy[copy.length >> 1] = (copy[copy.length >> 1] ?? 0) ^ 0x10;
      return copy;
    }
    if (data.length > 1 && this.#random() < (this.#plan.shortReadRate ?? 0)) {
      this.counts.shortReads++;
      return data.subarray(0, data.length >> 1);
    }
    assert(data.length >= 0, 'inner get returned bytes');
    return data;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    await this.#before('head', key);
    return this.#inner.head(key);
  }

  async delete(key: string): Promise<void> {
    await this.#before('delete', key);
    return this.#inner.delete(key);
  }

  async list(prefix: string, options?: ListOptions): Promise<ObjectPage> {
    await this.#before('list', prefix);
    return this.#inner.list(prefix, options);
  }

  async close(): Promise<void> {
    await this.#inner.close();
  }
}
