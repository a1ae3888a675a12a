// Group commit (docs/storage.md, "Durability argument"): a write's metadata joins the open batch only once its
// data I/O completed; a commit fdatasyncs the data file, then applies the batch in one SQLite transaction; and
// freed extents are punched out and become reusable only once their free is durable and no read still sees them.
import { isOutOfSpace } from '../../base/out-of-space.ts';
import type { Logger } from '../../base/log.ts';
import { StoreError } from '../block-store.ts';
import type { Allocator } from './allocator.ts';
import type { DataFile } from './data-file.ts';
import type { Row } from './lineage.ts';
import { Batch, type MetaDb } from './meta-db.ts';
import type { ReadTracker } from './read-tracker.ts';
import type { SpaceGuard } from './space-guard.ts';

/** Metadata changes of one write, recorded only once its data I/O completed (so a commit never runs ahead). */
export interface Changes {
  readonly rows: [lineage: number, block: number, birth: number, extent: number | null][];
  readonly taken: number[];
  readonly freed: number[];
  /** Each block's chain as it was before the write changed it: put back if the data I/O fails. */
  readonly undo: [block: number, chain: Row[]][];
}

/** An empty change set. */
export function noChanges(): Changes {
  return { rows: [], taken: [], freed: [], undo: [] };
}

/** What a group commit works on; all owned by the pool. */
export interface GroupCommitDeps {
  readonly meta: MetaDb;
  readonly data: DataFile;
  readonly space: SpaceGuard;
  readonly reads: ReadTracker;
  readonly allocator: Allocator;
  readonly log: Logger;
  readonly extentBytes: number;
  /** Called when the reserve was used, so the pool logs its fullness. */
  readonly reportFullness: () => void;
}

/** The open commit group and the commits that persist it, one at a time. */
export class GroupCommit {
  /** The open batch: metadata changes waiting for the next commit. */
  batch = new Batch();
  /** Extents freed in the open batch; reusable once it is durable. */
  pendingFree: number[] = [];
  /** Freed extents committed but not released yet (reads in flight, punching). */
  releasing = 0;
  /** Settles once every free committed so far is released. */
  releaseChain: Promise<void> = Promise.resolve();
  /** Whether data was written since the last fdatasync. */
  dataDirty = false;
  /** Set when a commit failed: memory is then ahead of disk, so the pool stops (fail-stop) until reopened. */
  failure: Error | null = null;
  /** Set when the pool closes (or is abandoned): nothing is punched or released any more. */
  closed = false;
  #running: Promise<void> = Promise.resolve();
  #queued: Promise<void> | null = null;
  readonly #deps: GroupCommitDeps;

  constructor(deps: GroupCommitDeps) {
    this.#deps = deps;
  }

  /** Whether a commit would persist anything. */
  hasPending(): boolean {
    return !this.batch.isEmpty() || this.pendingFree.length > 0;
  }

  /** Settles when the commit in progress (if any) has. */
  idle(): Promise<void> {
    return this.#running;
  }

  /** Adds a completed write's metadata to the open commit group. */
  record(changes: Changes): void {
    const batch = this.batch;
    for (const [lineage, block, birth, extent] of changes.rows)
      batch.setMapping(lineage, block, birth, extent);
    for (const extent of changes.taken) batch.free.set(extent, false);
    for (const extent of changes.freed) {
      batch.free.set(extent, true);
      this.pendingFree.push(extent);
    }
  }

  /** Group commit: fdatasync the data file, then commit the metadata batch in one SQLite transaction. */
  commit(): Promise<void> {
    if (this.#queued !== null) return this.#queued;
    const next = this.#running.then(() => {
      this.#queued = null;
      if (this.failure !== null) throw this.failure;
      return this.#commitOnce().catch((error: unknown) => {
        // A full file system is an error to the caller, not a stop: the batch waits for the next commit.
        if (error instanceof StoreError && error.code === 'ENOSPC') throw error;
        const message = error instanceof Error ? error.message : String(error);
        this.failure = new Error(`block store failed to commit (reopen the pool): ${message}`);
        this.#deps.log.error({ err: error }, 'storage: commit failed; the pool is stopped');
        throw this.failure;
      });
    });
    this.#queued = next;
    this.#running = next.catch(() => undefined);
    return next;
  }

  async #commitOnce(): Promise<void> {
    const batch = this.batch;
    const freed = this.pendingFree;
    const dataDirty = this.dataDirty;
    this.batch = new Batch();
    this.pendingFree = [];
    this.dataDirty = false;
    if (dataDirty) await this.#deps.data.sync();
    if (!batch.isEmpty() && !(await this.#applyMeta(batch))) {
      // Nothing of it reached disk: it goes back in front of what arrived meanwhile, frees unreleased.
      this.batch.takeOlder(batch);
      this.pendingFree = freed.concat(this.pendingFree);
      throw new StoreError('ENOSPC', "pool metadata commit failed: the pool's file system is full");
    }
    if (freed.length === 0) return;
    // Reuse only after the free is durable and no read that began before it can still see the old bytes.
    this.releasing += freed.length;
    const reads = this.#deps.reads.drained();
    this.releaseChain = Promise.all([this.releaseChain, reads]).then(async () => {
      // Durably free and unread: the space goes back to the file system before the extent can be reused.
      if (!this.closed) await this.#punch(freed);
      this.releasing -= freed.length;
      if (!this.closed) this.#deps.allocator.release(freed);
    });
  }

  /** Applies a batch; when SQLite finds the disk full, releases the reserve and tries once more. */
  async #applyMeta(batch: Batch): Promise<boolean> {
    try {
      this.#deps.meta.apply(batch);
      return true;
    } catch (error) {
      if (!isOutOfSpace(error)) throw error;
    }
    const released = await this.#deps.space.releaseReserve();
    this.#deps.log.warn({ released }, 'storage: the metadata commit found the disk full; using the reserve');
    this.#deps.reportFullness();
    if (!released) return false;
    try {
      this.#deps.meta.apply(batch);
      return true;
    } catch (error) {
      if (!isOutOfSpace(error)) throw error;
      return false;
    }
  }

  /** Punches freed extents out of the data file, one hole per contiguous run. A failure only costs space. */
  async #punch(extents: readonly number[]): Promise<void> {
    const sorted = [...extents].sort((a, b) => a - b);
    const extentBytes = this.#deps.extentBytes;
    try {
      for (let index = 0; index < sorted.length;) {
        let end = index + 1;
        while (end < sorted.length && sorted[end] === sorted[end - 1]! + 1) end++;
        await this.#deps.data.punch(sorted[index]! * extentBytes, (end - index) * extentBytes);
        index = end;
      }
    } catch (error) {
      this.#deps.log.warn(
        { err: error },
        'storage: could not punch freed extents; their space stays allocated',
      );
    }
  }
}
