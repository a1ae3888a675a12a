// The background hydrator of one lazy volume: fills every archived chunk not yet present, in order, a few at
// a time, at most `bytesPerSecond` (a token bucket). On-demand fills (reads, writes) go around it, and a
// chunk they filled is skipped. A failed fill (the archive's own retries exhausted) stops it: the volume
// stays lazy and serves reads on demand, and its store starts a new hydrator later (lazy-store.ts).
import { limits } from '../../base/limits.ts';
import type { Logger } from '../../base/log.ts';
import type { Semaphore } from '../../base/semaphore.ts';
import { ArchiveError } from '../snapshot-store.ts';

/** What a hydrator works on. */
export interface HydratorOptions {
  /** Chunk indices that hold archived data, ascending. */
  readonly chunks: readonly number[];
  readonly chunkBytes: number;
  readonly bytesPerSecond: number;
  readonly isPresent: (index: number) => boolean;
  readonly fill: (index: number) => Promise<void>;
  /** Runs once every chunk is present. */
  readonly finish: () => Promise<void>;
  readonly logger: Logger;
  readonly concurrency?: number;
  /** Shared by every hydrator of a store: bounds fills in flight across volumes (and their buffers). */
  readonly fills?: Semaphore;
}

export class Hydrator {
  /** Resolves when the volume is hydrated and `finish` ran; rejects when a fill failed or it was stopped. */
  readonly done: Promise<void>;
  readonly #options: HydratorOptions;
  #stopped = false;
  #unthrottled = false;
  // One per worker waiting for tokens: stop() wakes them all.
  readonly #waiting = new Set<() => void>();
  // Token bucket: bytes that may be filled now; refilled at bytesPerSecond, capped at one second's worth.
  #tokens = 0;
  #refilledAt = Date.now();

  constructor(options: HydratorOptions) {
    this.#options = options;
    this.done = this.#run();
    // Callers may never wait; a failure is logged in #run.
    this.done.catch(() => undefined);
  }

  /** Lifts the rate limit (a volume nothing reads yet: `--fast-restore`). */
  unthrottle(): void {
    this.#unthrottled = true;
    for (const wake of this.#waiting) wake();
  }

  /** Stops after the fills in flight; `done` rejects with ECANCELED. */
  stop(): void {
    this.#stopped = true;
    for (const wake of this.#waiting) wake();
  }

  async #run(): Promise<void> {
    const { chunks, logger } = this.#options;
    let next = 0;
    let settled = 0;
    let decile = 0;
    // Progress in the log, every tenth of the chunks settled (EBS has no field for it).
    const settle = (): void => {
      const reached = Math.floor((10 * ++settled) / chunks.length);
      if (reached <= decile || reached >= 10) return;
      decile = reached;
      logger.info({ percent: 10 * reached }, 'hydrating');
    };
    const worker = async (): Promise<void> => {
      while (!this.#stopped && next < chunks.length) {
        const index = chunks[next++]!;
        if (this.#options.isPresent(index)) {
          settle();
          continue;
        }
        await this.#take(this.#options.chunkBytes);
        // The shared permit only around the fill: a hydrator waiting for tokens holds none.
        const release = await this.#options.fills?.acquire();
        try {
          if (this.#stopped) break;
          await this.#options.fill(index);
          settle();
        } finally {
          release?.();
        }
      }
    };
    const started = Date.now();
    try {
      const workers = Array.from(
        { length: this.#options.concurrency ?? limits.hydrationChunksInFlight },
        worker,
      );
      await Promise.all(workers);
    } catch (error) {
      this.#stopped = true;
      logger.warn(
        { err: error },
        'hydration stopped: a chunk could not be fetched; reads still fetch on demand',
      );
      throw error;
    }
    if (this.#stopped) throw new ArchiveError('ECANCELED', 'hydration stopped');
    await this.#options.finish();
    logger.debug({ ms: Date.now() - started, chunks: chunks.length }, 'hydration finished');
  }

  async #take(bytes: number): Promise<void> {
    const rate = this.#options.bytesPerSecond;
    for (;;) {
      if (this.#unthrottled) return;
      const now = Date.now();
      // The bucket holds a second's worth, and never less than one request (a rate below a chunk per second).
      this.#tokens = Math.min(Math.max(rate, bytes), this.#tokens + ((now - this.#refilledAt) * rate) / 1000);
      this.#refilledAt = now;
      if (this.#tokens >= bytes || this.#stopped) {
        this.#tokens -= bytes;
        return;
      }
      const waitMs = Math.ceil(((bytes - this.#tokens) * 1000) / rate);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#waiting.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, waitMs);
        this.#waiting.add(wake);
      });
    }
  }
}
