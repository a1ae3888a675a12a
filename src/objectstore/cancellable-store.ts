// A SnapshotStore wrapper the daemon cancels on shutdown: every later operation fails with ECANCELED (which
// no retry waits out), so background archives stop promptly and resume on the next start.
import {
  ArchiveError,
  type ListOptions,
  type ObjectInfo,
  type ObjectPage,
  type PutOptions,
  type SnapshotStore,
} from './snapshot-store.ts';

/** Forwards to `inner` until `cancel()`; closing it does not close `inner`. */
export class CancellableStore implements SnapshotStore {
  readonly #inner: SnapshotStore;
  #cancelled = false;

  constructor(inner: SnapshotStore) {
    this.#inner = inner;
  }

  /** The inner store's description. */
  get description(): string {
    return this.#inner.description;
  }

  /** Fails every operation from now on. */
  cancel(): void {
    this.#cancelled = true;
  }

  #check(): void {
    if (this.#cancelled) throw new ArchiveError('ECANCELED', 'the daemon is stopping');
  }

  /** Forwards a put. */
  async put(key: string, body: Buffer, options?: PutOptions): Promise<'written' | 'exists'> {
    this.#check();
    return this.#inner.put(key, body, options);
  }

  /** Forwards a get. */
  async get(key: string): Promise<Buffer> {
    this.#check();
    return this.#inner.get(key);
  }

  /** Forwards a head. */
  async head(key: string): Promise<ObjectInfo | undefined> {
    this.#check();
    return this.#inner.head(key);
  }

  /** Forwards a delete. */
  async delete(key: string): Promise<void> {
    this.#check();
    return this.#inner.delete(key);
  }

  /** Forwards a listing page. */
  async list(prefix: string, options?: ListOptions): Promise<ObjectPage> {
    this.#check();
    return this.#inner.list(prefix, options);
  }

  /** Cancels; the owner of `inner` closes it. */
  close(): Promise<void> {
    this.cancel();
    return Promise.resolve();
  }
}
