// The snapshot archive's face: what cloud/, cli/ and the daemon may use of objectstore/, bound to one store
// and its tuning. Behind it: archiver.ts, restorer.ts, deletion.ts, lazy-restore/, and the two decorators
// every operation goes through (CancellableStore for shutdown, RetryingStore per operation).
import type { Logger } from '../base/log.ts';
import type { BlockStore } from '../storage/block-store.ts';
import type { Manifest } from './archive-format.ts';
import { archiveSnapshot, type ArchiveProgress, type ArchiveResult } from './archiver.ts';
import { CancellableStore } from './cancellable-store.ts';
import { deleteArchivedSnapshot, type SweepReport } from './deletion.ts';
import { openLazyRestoreStore, type LazyRestoreStore } from './lazy-restore/lazy-store.ts';
import {
  listArchivedSnapshots,
  readManifest,
  restoreSnapshot,
  verifySnapshot,
  type VerifyReport,
} from './restorer.ts';
import type { SnapshotStore } from './snapshot-store.ts';

export type { ArchiveProgress, ArchiveResult, LazyRestoreStore, Manifest, SweepReport, VerifyReport };

/** Tuning of every operation; tests shorten the deadlines. Defaults are in base/limits.ts. */
export interface ArchiveTuning {
  /** Per-operation retry deadline; default limits.archiveRetryDeadlineMs. */
  readonly retryDeadlineMs?: number;
  /** GC grace of deletions (and the bound on one archive's run time); default limits.archiveSweepGraceMs. */
  readonly sweepGraceMs?: number;
  /** Chunks in flight per operation; default limits.archiveChunksInFlight. */
  readonly concurrency?: number;
}

/** Options of one archive. */
export interface ArchiveOneOptions {
  /** An archived snapshot of the same volume still in the pool: only chunks changed since it are sent. */
  readonly parentSnapshotId?: string;
  readonly onProgress?: (progress: ArchiveProgress) => void;
}

/** How to open the lazy-restore wrapper over the pool. */
export interface OpenLazyOptions {
  /** The records file (`<data-dir>/lazy-restore.json`). */
  readonly recordsPath: string;
  readonly logger: Logger;
  /** Background hydration rate per volume; default limits.hydrationBytesPerSecond. */
  readonly hydrationBytesPerSecond?: number;
}

/** Archived snapshots in one SnapshotStore. Cancelling stops every operation in flight (ECANCELED). */
export class Archive {
  readonly #inner: SnapshotStore;
  readonly #target: CancellableStore;
  readonly #tuning: ArchiveTuning;

  /** Does not own `target`: its owner closes it after cancelling this. */
  constructor(target: SnapshotStore, tuning: ArchiveTuning = {}) {
    this.#inner = target;
    this.#target = new CancellableStore(target);
    // Only the three knobs: callers pass wider settings objects, which must not leak into the calls below
    // (undefined members are fine: every default is applied with `??`).
    const { retryDeadlineMs, sweepGraceMs, concurrency } = tuning;
    this.#tuning = { retryDeadlineMs, sweepGraceMs, concurrency };
  }

  /** Where snapshots are archived, for messages. */
  get description(): string {
    return this.#target.description;
  }

  /** Stops every running operation (ECANCELED, which no retry waits out); later ones fail at once. */
  cancel(): void {
    this.#target.cancel();
  }

  /** Archives a pool snapshot: changed chunks, then the manifest. Idempotent and resumable. */
  archive(store: BlockStore, snapshotId: string, options: ArchiveOneOptions = {}): Promise<ArchiveResult> {
    return archiveSnapshot({ ...this.#tuning, ...options, store, snapshotId, target: this.#target });
  }

  /** Restores an archived snapshot into a new volume `volumeId` of `store`, verifying every chunk. */
  restore(
    store: BlockStore,
    snapshotId: string,
    volumeId: string,
    onProgress?: (progress: { doneBytes: number; totalBytes: number }) => void,
  ): Promise<Manifest> {
    return restoreSnapshot({
      ...this.#tuning,
      ...(onProgress !== undefined ? { onProgress } : {}),
      source: this.#target,
      snapshotId,
      store,
      volumeId,
    });
  }

  /** Deletes an archived snapshot: its manifest, then (mark and sweep) the chunks nothing else uses. */
  delete(snapshotId: string): Promise<SweepReport> {
    return deleteArchivedSnapshot({ ...this.#tuning, target: this.#target, snapshotId });
  }

  /** Re-reads every chunk of an archived snapshot and checks its hash. */
  verify(snapshotId: string): Promise<VerifyReport> {
    return verifySnapshot({ ...this.#tuning, source: this.#target, snapshotId });
  }

  /** The checked manifest of an archived snapshot; ArchiveError ENOENT when it is not (completely) archived. */
  manifest(snapshotId: string): Promise<Manifest> {
    return readManifest(this.#target, snapshotId, this.#tuning.retryDeadlineMs);
  }

  /** Every archived snapshot id, sorted. */
  snapshotIds(): Promise<string[]> {
    return listArchivedSnapshots(this.#target);
  }

  /**
   * Wraps the pool so that snapshots brought back from the archive read through to it (lazy restore). The
   * wrapper has its own cancellation, at its close: reads keep working until the pool closes.
   */
  openLazy(inner: BlockStore, options: OpenLazyOptions): Promise<LazyRestoreStore> {
    const { retryDeadlineMs } = this.#tuning;
    return openLazyRestoreStore({ ...options, retryDeadlineMs, inner, source: this.#inner });
  }
}
