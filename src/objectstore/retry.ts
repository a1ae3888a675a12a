// Retries with exponential backoff until a deadline, then fails with the last reason (the StateMessage).
import { assert } from '../base/assert.ts';
import { ArchiveError } from './snapshot-store.ts';

/** How retries are paced. */
export interface RetryPolicy {
  /** Give up this long after the first attempt. */
  readonly deadlineMs: number;
  /** First backoff; doubles per attempt up to `delayMsMax`, with jitter. */
  readonly delayMsInitial?: number;
  readonly delayMsMax?: number;
  /** Called before each retry, e.g. to count them. */
  readonly onRetry?: (error: unknown, attempt: number) => void;
}

/** Errors no retry can fix: the caller's mistake, or a bug. */
function isPermanent(error: unknown): boolean {
  if (error instanceof ArchiveError)
    return error.code === 'EINVAL' || error.code === 'ENOENT' || error.code === 'ECANCELED';
  return !(error instanceof Error) || error.name === 'AssertionError';
}

/** Runs `operation` until it succeeds, a permanent error occurs, or `deadlineMs` passes (ETIMEDOUT). */
export async function withRetry<T>(
  what: string,
  policy: RetryPolicy,
  operation: () => Promise<T>,
): Promise<T> {
  assert(policy.deadlineMs >= 0, 'retry deadline must be non-negative');
  const started = Date.now();
  let delayMs = policy.delayMsInitial ?? 50;
  const delayMsMax = policy.delayMsMax ?? 5000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (isPermanent(error)) throw error;
      const elapsedMs = Date.now() - started;
      if (elapsedMs + delayMs > policy.deadlineMs) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new ArchiveError(
          'ETIMEDOUT',
          `${what} failed after ${attempt} attempts in ${elapsedMs} ms: ${reason}`,
        );
      }
      policy.onRetry?.(error, attempt);
      await new Promise((resolve) => setTimeout(resolve, delayMs * (0.5 + Math.random() / 2)));
      delayMs = Math.min(delayMs * 2, delayMsMax);
    }
  }
}

/** Runs `work` on every item with at most `concurrency` in flight; the first failure stops new work and is thrown. */
export async function forEachBounded<T>(
  items: Iterable<T>,
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  assert(Number.isSafeInteger(concurrency) && concurrency > 0, 'concurrency must be a positive integer');
  const iterator = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    for (let next = iterator.next(); !next.done && failure === undefined; next = iterator.next()) {
      try {
        await work(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failure !== undefined) throw failure.error;
}
