// The snapshot archive service (`--snapshot-store`): archives pool snapshots into a SnapshotStore in the
// background, deletes, verifies, evicts and restores them. Rules (docs/archive.md, "Daemon"):
// - a snapshot stays `pending` until its manifest is durable; Progress is the archiver's true fraction;
// - the incremental parent is the newest completed archived snapshot of the same volume still in the pool
//   (never a restored one: it is a new lineage, and the pool can only diff within one);
// - a store failure past the retry deadline makes the snapshot `error` with the failure as StateMessage;
// - shutdown cancels archives (ECANCELED); the row stays `pending` and `recover()` re-runs them;
// - a snapshot whose pool copy is gone comes back at once, reading through to the archive (lazy restore,
//   objectstore/lazy-restore/); every path that reads a snapshot calls `ensureInPool` first;
// - the archived copy of a deleted snapshot stays while devices read through to it (`hasReaders`); the
//   snapshot service finishes the deletion when `onReleased` says the last one is gone.
import type { Kysely } from 'kysely';
import { units } from '../../base/limits.ts';
import type { Logger } from '../../base/log.ts';
import type { Database } from '../../db/schema.ts';
import { StoreError, type BlockStore } from '../../storage/block-store.ts';
import {
  Archive,
  type LazyRestoreStore,
  type SweepReport,
  type VerifyReport,
} from '../../objectstore/objectstore.ts';
import { ArchiveError, type SnapshotStore } from '../../objectstore/snapshot-store.ts';
import { unknownVolumeId } from './lookups.ts';
import { markSnapshotRestored, recordSnapshotProgress, transitionSnapshot } from './snapshot-states.ts';

/** Tuning of the archive service; tests shorten the deadlines. */
export interface SnapshotArchiveSettings {
  /** Per-operation retry deadline before a snapshot becomes `error`; default limits.archiveRetryDeadlineMs. */
  readonly retryDeadlineMs?: number;
  /** GC grace of deletions; default limits.archiveSweepGraceMs (24 h). */
  readonly sweepGraceMs?: number;
  /** Chunks in flight per archive; default limits.archiveChunksInFlight. */
  readonly concurrency?: number;
  /** `--hydration-rate`: background hydration of a lazily restored volume; default limits.hydrationBytesPerSecond. */
  readonly hydrationBytesPerSecond?: number;
  /** `--fast-restore`: a volume from an archived snapshot turns `available` only once fully hydrated. */
  readonly fastRestore?: boolean;
}

/** What the service is built from. */
export interface SnapshotArchiveDeps {
  readonly db: Kysely<Database>;
  readonly store: BlockStore;
  readonly logger: Logger;
  readonly target: SnapshotStore;
  /** The pool as the daemon wraps it, which brings snapshots back lazily; absent in offline CLI verbs. */
  readonly lazy?: LazyRestoreStore;
  readonly settings?: SnapshotArchiveSettings;
}

/** The archive's operations on snapshots the database knows. */
export class SnapshotArchive {
  readonly #deps: SnapshotArchiveDeps;
  readonly #archive: Archive;
  readonly #restores = new Map<string, Promise<void>>();

  constructor(deps: SnapshotArchiveDeps) {
    this.#deps = deps;
    this.#archive = new Archive(deps.target, deps.settings);
  }

  /** Where snapshots are archived, for messages. */
  get description(): string {
    return this.#archive.description;
  }

  /** Stops every running archive (ECANCELED); the owner closes the underlying store. */
  cancel(): void {
    this.#archive.cancel();
  }

  /** Archives a `pending` snapshot present in the pool, then marks it `completed`; throws ArchiveError. */
  async archive(snapshotId: string): Promise<void> {
    const { db, store, logger } = this.#deps;
    const row = await db.selectFrom('snapshots').selectAll().where('id', '=', snapshotId).executeTakeFirst();
    if (row === undefined) return;
    const parentSnapshotId = await this.#parentOf(row);
    let percent = row.progress;
    let writes = Promise.resolve();
    const result = await this.#archive.archive(store, snapshotId, {
      ...(parentSnapshotId !== undefined ? { parentSnapshotId } : {}),
      onProgress: ({ doneBytes, totalBytes }) => {
        // 100% only once the manifest is durable; the row is written once per whole percent.
        const next = totalBytes === 0 ? 99 : Math.min(99, Math.floor((100 * doneBytes) / totalBytes));
        if (next <= percent) return;
        percent = next;
        writes = writes.then(async () => {
          await recordSnapshotProgress(db, snapshotId, next);
        });
      },
    });
    await writes;
    // A snapshot of a lazily restored volume now reads through to its own archived copy.
    await this.#deps.lazy?.rebase(snapshotId);
    await transitionSnapshot(db, snapshotId, ['pending'], 'completed', {
      progress: 100,
      archived: 1,
      state_message: null,
    });
    const { alreadyArchived, chunksExamined, chunksUploaded, bytesUploaded, retries } = result;
    logger.info(
      {
        snapshotId,
        parentSnapshotId,
        alreadyArchived,
        chunksExamined,
        chunksUploaded,
        bytesUploaded,
        retries,
      },
      'snapshot archived',
    );
  }

  async #parentOf(row: {
    id: string;
    volume_id: string;
    source_snapshot_id: string | null;
  }): Promise<string | undefined> {
    if (row.volume_id === unknownVolumeId) return undefined;
    const candidates = await this.#deps.db
      .selectFrom('snapshots')
      .select(['id'])
      .where('volume_id', '=', row.volume_id)
      .where('id', '!=', row.id)
      .where('state', '=', 'completed')
      .where('archived', '=', 1)
      .where('restored', '=', 0)
      .orderBy('start_time', 'desc')
      .execute();
    // A copy's own source is the best parent: the pool diff between them is empty.
    const ids = candidates.map((c) => c.id);
    if (row.source_snapshot_id !== null && ids.includes(row.source_snapshot_id))
      ids.unshift(row.source_snapshot_id);
    return ids.find((id) => this.#deps.store.device(id)?.kind === 'snapshot');
  }

  /** Deletes the archived copy: its manifest, then (mark and sweep) chunks nothing else uses. */
  async remove(snapshotId: string): Promise<SweepReport> {
    return this.#archive.delete(snapshotId);
  }

  /** True while a device reads through to the archived copy of `snapshotId` (it must not be removed yet). */
  hasReaders(snapshotId: string): boolean {
    return (this.#deps.lazy?.readersOf(snapshotId).length ?? 0) > 0;
  }

  /** Calls `listener` when the last device reading through to an archived snapshot is hydrated or deleted. */
  onReleased(listener: (snapshotId: string) => void): void {
    this.#deps.lazy?.onReleased(listener);
  }

  /** Re-reads every chunk of the archived copy and checks it. */
  async verify(snapshotId: string): Promise<VerifyReport> {
    return this.#archive.verify(snapshotId);
  }

  /**
   * Puts an archived snapshot back into the pool when its pool copy is gone (evicted, or a new pool).
   * Bound, so services take `archive?.ensureInPool` as their EnsureSnapshotInPool.
   */
  readonly ensureInPool = async (snapshotId: string): Promise<void> => {
    if (this.#deps.store.device(snapshotId) !== undefined) return;
    const running = this.#restores.get(snapshotId);
    if (running !== undefined) return running;
    const restore = this.#restore(snapshotId).finally(() => this.#restores.delete(snapshotId));
    this.#restores.set(snapshotId, restore);
    return restore;
  };

  async #restore(snapshotId: string): Promise<void> {
    const { db, logger, lazy } = this.#deps;
    if (lazy === undefined) throw new Error(`bug: no lazy-restore store to bring back ${snapshotId}`);
    const row = await db
      .selectFrom('snapshots')
      .select(['archived'])
      .where('id', '=', snapshotId)
      .executeTakeFirst();
    if (row?.archived !== 1)
      throw new ArchiveError('ENOENT', `snapshot ${snapshotId} is neither in the pool nor archived`);
    const started = Date.now();
    await lazy.adoptArchived(snapshotId);
    await markSnapshotRestored(db, snapshotId);
    logger.info(
      { snapshotId, ms: Date.now() - started },
      'snapshot back in the pool, reading through to the archive',
    );
  }

  /**
   * What CreateVolume waits for before `available`: with `--fast-restore`, or when fast snapshot restore is
   * enabled for its snapshot in its zone (EnableFastSnapshotRestores), the full hydration of a volume made
   * from an archived snapshot, at full speed (nothing reads it yet); otherwise nothing (the volume fetches on
   * demand and hydrates behind, rate-limited).
   */
  async volumeReady(volumeId: string): Promise<void> {
    if (this.#deps.settings?.fastRestore === true || (await this.#fastRestoreEnabled(volumeId)))
      await this.#deps.lazy?.hydrated(volumeId, { unthrottled: true });
  }

  async #fastRestoreEnabled(volumeId: string): Promise<boolean> {
    const row = await this.#deps.db
      .selectFrom('volumes')
      .innerJoin('fast_snapshot_restores as f', (join) =>
        join
          .onRef('f.snapshot_id', '=', 'volumes.snapshot_id')
          .onRef('f.availability_zone', '=', 'volumes.availability_zone'),
      )
      .select('f.state')
      .where('volumes.id', '=', volumeId)
      .executeTakeFirst();
    return row?.state === 'enabled';
  }

  /** Drops the pool copy of a completed archived snapshot after checking its manifest is readable. */
  async evict(snapshotId: string): Promise<void> {
    const { db, store } = this.#deps;
    const row = await db.selectFrom('snapshots').selectAll().where('id', '=', snapshotId).executeTakeFirst();
    if (row === undefined) throw new ArchiveError('ENOENT', `no snapshot ${snapshotId}`);
    if (row.state !== 'completed' || row.archived !== 1)
      throw new ArchiveError(
        'EINVAL',
        `snapshot ${snapshotId} is ${row.state} and not archived: not evicting`,
      );
    await this.#archive.manifest(snapshotId);
    await store.deleteSnapshot(snapshotId).catch(ignoreMissing);
    await store.flush();
  }

  /** Registers an archived snapshot (e.g. from another host's pool) for `accountId`; no data moves yet. */
  async importArchived(accountId: string, snapshotId: string): Promise<void> {
    const { db } = this.#deps;
    const manifest = await this.#archive.manifest(snapshotId);
    const existing = await db
      .selectFrom('snapshots')
      .select(['id'])
      .where('id', '=', snapshotId)
      .executeTakeFirst();
    if (existing !== undefined)
      throw new ArchiveError('EINVAL', `snapshot ${snapshotId} already exists here`);
    await db
      .insertInto('snapshots')
      .values({
        id: snapshotId,
        account_id: accountId,
        volume_id: unknownVolumeId,
        volume_size_gib: Math.ceil(manifest.sizeBytes / units.GiB),
        description: `imported from ${this.description}`,
        state: 'completed',
        progress: 100,
        encrypted: 0,
        kms_key_id: null,
        source_snapshot_id: null,
        start_time: manifest.createdAt,
        archived: 1,
        state_message: null,
        restored: 0,
      })
      .execute();
  }
}

function ignoreMissing(error: unknown): void {
  if (!(error instanceof StoreError && error.code === 'ENOENT')) throw error;
}
