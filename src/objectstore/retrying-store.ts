// A SnapshotStore decorator that retries every operation with backoff until the policy's deadline, so the
// archiver, restorer and GC call the store plainly and one place decides what is worth retrying.
import { withRetry, type RetryPolicy } from './retry.ts';
import type { ListOptions, ObjectInfo, ObjectPage, PutOptions, SnapshotStore } from './snapshot-store.ts';

/** Forwards to `inner`, retrying transient failures (see retry.ts); closing it does not close `inner`. */
export class RetryingStore implements SnapshotStore {
  readonly #inner: SnapshotStore;
  readonly #policy: RetryPolicy;

  constructor(inner: SnapshotStore, policy: RetryPolicy) {
    this.#inner = inner;
    this.#policy = policy;
  }

  /** The inner store's description. */
  get description(): string {
    return this.#inner.description;
  }

  /** A put, retried; puts are idempotent (a key names its content, or the object is replaced whole). */
  put(key: string, body: Buffer, options?: PutOptions): Promise<'written' | 'exists'> {
    return withRetry(`put ${key}`, this.#policy, () => this.#inner.put(key, body, options));
  }

  /** A get, retried; ENOENT is permanent and thrown at once. */
  get(key: string): Promise<Buffer> {
    return withRetry(`read ${key}`, this.#policy, () => this.#inner.get(key));
  }

  /** A head, retried. */
  head(key: string): Promise<ObjectInfo | undefined> {
    return withRetry(`head ${key}`, this.#policy, () => this.#inner.head(key));
  }

  /** A delete, retried; deleting a missing object succeeds, so a retry after a lost reply is harmless. */
  delete(key: string): Promise<void> {
    return withRetry(`delete ${key}`, this.#policy, () => this.#inner.delete(key));
  }

  /** A listing page, retried. */
  list(prefix: string, options?: ListOptions): Promise<ObjectPage> {
    return withRetry(`list ${prefix}`, this.#policy, () => this.#inner.list(prefix, options));
  }

  /** Nothing to release; the owner of `inner` closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
