// Deletes archived snapshots: the manifest goes first, then a mark-and-sweep removes chunks that no manifest
// references and that are older than the grace period (so an archive in flight never loses a chunk).
import { assert } from '../base/assert.ts';
import { limits } from '../base/limits.ts';
import { chunkHashOfKey, chunkKey, chunkPrefix, manifestKey, manifestPrefix } from './archive-format.ts';
import { readManifestAt } from './restorer.ts';
import { forEachBounded } from './retry.ts';
import { RetryingStore } from './retrying-store.ts';
import { listAll, type SnapshotStore } from './snapshot-store.ts';

/** What a sweep did. `chunksYoung`: unreferenced but within the grace, left for a later sweep. */
export interface SweepReport {
  readonly manifests: number;
  readonly chunksReferenced: number;
  readonly chunksDeleted: number;
  readonly chunksYoung: number;
}

/** Options of a sweep; `sweepGraceMs` defaults to `limits.archiveSweepGraceMs`. */
export interface SweepOptions {
  readonly target: SnapshotStore;
  readonly sweepGraceMs?: number;
  readonly concurrency?: number;
  readonly retryDeadlineMs?: number;
}

/** The target, retrying each operation until the per-operation deadline. */
function retrying(options: SweepOptions): RetryingStore {
  return new RetryingStore(options.target, {
    deadlineMs: options.retryDeadlineMs ?? limits.archiveRetryDeadlineMs,
  });
}

/**
 * Removes unreferenced chunks older than the grace. Manifests are listed BEFORE chunks: a manifest written
 * later belongs to an archive that refreshed its chunks within half the grace, so none of them is old enough.
 */
export async function sweepArchive(options: SweepOptions): Promise<SweepReport> {
  const target = retrying(options);
  const graceMs = options.sweepGraceMs ?? limits.archiveSweepGraceMs;
  assert(graceMs >= 0, 'sweep grace must be non-negative');
  const startedMs = Date.now();
  const referenced = new Set<string>();
  let manifests = 0;
  for await (const object of listAll(target, manifestPrefix)) {
    // A manifest that cannot be read stops the sweep: its chunks are unknown, so nothing may go.
    for (const [, hash] of (await readManifestAt(target, object.key)).chunks) referenced.add(hash);
    manifests++;
  }
  const doomed: string[] = [];
  let chunksYoung = 0;
  for await (const object of listAll(target, chunkPrefix)) {
    const hash = chunkHashOfKey(object.key);
    if (hash === undefined || referenced.has(hash)) continue;
    if (object.modifiedMs <= startedMs - graceMs) doomed.push(hash);
    else chunksYoung++;
  }
  await forEachBounded(doomed, options.concurrency ?? limits.archiveChunksInFlight, async (hash) => {
    await target.delete(chunkKey(hash));
  });
  return { manifests, chunksReferenced: referenced.size, chunksDeleted: doomed.length, chunksYoung };
}

/** Deletes an archived snapshot: its manifest, then every chunk no other snapshot shares (past the grace). */
export async function deleteArchivedSnapshot(
  options: SweepOptions & { readonly snapshotId: string },
): Promise<SweepReport> {
  // Manifest first: a crash after it leaves only unreferenced chunks, which any later sweep removes.
  await retrying(options).delete(manifestKey(options.snapshotId));
  const report = await sweepArchive(options);
  assert(report.chunksDeleted >= 0, 'sweep reports a count');
  return report;
}
